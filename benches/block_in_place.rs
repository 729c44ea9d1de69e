//! What `block_in_place` costs with I/O in flight: ringtide io_uring, ringtide mio and
//! tokio side by side in one run.
//!
//! On io_uring the worker's ring cannot follow the core to the thread that takes it
//! over (a `SINGLE_ISSUER | DEFER_TASKRUN` ring is entered by its own thread only), so
//! `block_in_place` cancels every op in flight on that ring, waits for the
//! cancellations, and the ops are resubmitted on the new thread's ring when their
//! futures are polled again. This measures that: one task keeps `inflight` reads on
//! empty pipes pending, then loops { poll every read once (submitting or resubmitting
//! it), `block_in_place(|| {})`, `yield_now` (the task moves to the thread now driving
//! the core) }. mio and tokio keep their registrations across the hand-over, so they
//! show the hand-over alone.
//!
//! Printed: microseconds per loop iteration, median of `RINGTIDE_BENCH_ROUNDS` rounds
//! (default 5), the runtimes interleaved within each round.
//!
//! ```text
//! cargo bench --bench block_in_place
//! RINGTIDE_BENCH_QUICK=1 cargo bench --bench block_in_place   # smoke run
//! ```
//!
//! Unix only (pipes through `AsyncFd`, tokio's Unix pipes); elsewhere it says so.

#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[cfg(unix)]
use ringtide::io::AsyncFd;
use ringtide::runtime::Backend;

type Read = Pin<Box<dyn Future<Output = ()> + Send>>;

fn poll_once(read: &mut Read) {
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(read.as_mut().poll(&mut cx), Poll::Pending));
}

#[cfg(unix)]
fn ringtide_round(backend: Backend, inflight: usize, iterations: usize) -> Duration {
    let rt = ringtide::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .backend(backend)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        ringtide::spawn(async move {
            let mut writers = Vec::new();
            let mut reads: Vec<Read> = Vec::new();
            for _ in 0..inflight {
                let (reader, writer) = std::io::pipe().unwrap();
                writers.push(writer);
                let reader = AsyncFd::new(reader).unwrap();
                reads.push(Box::pin(async move {
                    let _ = reader.read_owned(vec![0u8; 8]).await;
                }));
            }
            let start = Instant::now();
            for _ in 0..iterations {
                reads.iter_mut().for_each(poll_once);
                ringtide::task::block_in_place(|| {});
                ringtide::task::yield_now().await;
            }
            let elapsed = start.elapsed();
            drop(writers);
            elapsed
        })
        .await
        .unwrap()
    })
}

#[cfg(unix)]
fn tokio_round(inflight: usize, iterations: usize) -> Duration {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        tokio::spawn(async move {
            let mut writers = Vec::new();
            let mut reads: Vec<Read> = Vec::new();
            for _ in 0..inflight {
                let (writer, mut reader) = tokio::net::unix::pipe::pipe().unwrap();
                writers.push(writer);
                reads.push(Box::pin(async move {
                    let mut buf = [0u8; 8];
                    let _ = tokio::io::AsyncReadExt::read(&mut reader, &mut buf).await;
                }));
            }
            let start = Instant::now();
            for _ in 0..iterations {
                reads.iter_mut().for_each(poll_once);
                tokio::task::block_in_place(|| {});
                tokio::task::yield_now().await;
            }
            let elapsed = start.elapsed();
            drop(writers);
            elapsed
        })
        .await
        .unwrap()
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[cfg(not(unix))]
fn main() {
    println!("block_in_place: Unix only (it reads pipes through AsyncFd)");
}

#[cfg(unix)]
fn main() {
    // `cargo bench` passes `--bench`; a filter-only run (`cargo test --benches`) skips.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("block_in_place: run with `cargo bench --bench block_in_place`");
        return;
    }
    let quick = std::env::var("RINGTIDE_BENCH_QUICK").is_ok_and(|v| v == "1");
    let rounds: usize = std::env::var("RINGTIDE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 1 } else { 5 });
    let iterations = if quick { 50 } else { 500 };
    println!(
        "block_in_place with reads in flight: µs per iteration (poll reads, block_in_place, \
         yield), median of {rounds} interleaved rounds of {iterations}; 2 workers"
    );
    println!(
        "{:>9} {:>12} {:>12} {:>12} {:>14}",
        "in flight", "io_uring", "mio", "tokio", "io_uring/tokio"
    );
    for inflight in [0usize, 16, 256] {
        let (mut uring, mut mio, mut tokio) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let per = |d: Duration| d.as_secs_f64() * 1e6 / iterations as f64;
            uring.push(per(ringtide_round(Backend::IoUring, inflight, iterations)));
            mio.push(per(ringtide_round(Backend::Mio, inflight, iterations)));
            tokio.push(per(tokio_round(inflight, iterations)));
        }
        let (uring, mio, tokio) = (median(uring), median(mio), median(tokio));
        println!(
            "{inflight:>9} {uring:>12.1} {mio:>12.1} {tokio:>12.1} {:>14.2}",
            uring / tokio
        );
    }
}
