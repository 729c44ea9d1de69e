//! Shutdown under load, on both backends and both flavours:
//!
//! * `shutdown_timeout` with 10 000 reads pending (100 pipes, 100 readers each)
//!   returns (a 10x bound turns a hang into a failure; no timing claim), and every
//!   task is cancelled;
//! * dropping the runtime inside its own `spawn_blocking`, and on a plain thread, with
//!   a read in flight, returns (no deadlock) and cancels the task;
//! * `Handle::block_on` after the runtime shut down behaves like tokio's: a future
//!   that needs nothing of the runtime completes, a task spawned there is cancelled,
//!   and I/O or a timer reports the shutdown clearly instead of hanging;
//! * 100 build/drop cycles with I/O, timers and blocking work in flight leave no fd
//!   and no thread behind (in a child process, so that no other test's fds or
//!   threads are counted).

#![cfg(target_os = "linux")]

mod fault_common;
mod rt_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fault_common::{child_role, pipe, report, run_child};
use ringtide::runtime::{Backend, Runtime};

const CASES: [(Backend, usize); 4] = [
    (Backend::IoUring, 0),
    (Backend::IoUring, 4),
    (Backend::Mio, 0),
    (Backend::Mio, 4),
];

/// Spawns a task whose read of `reader` is pending (polled once) when this returns.
fn pending_read(
    rt: &Runtime,
    reader: Arc<ringtide::io::AsyncFd<std::io::PipeReader>>,
) -> ringtide::task::JoinHandle<()> {
    let (polled, polled_rx) = futures::channel::oneshot::channel();
    let task = rt.spawn(async move {
        let mut read = std::pin::pin!(reader.read_owned(vec![0u8; 4]));
        assert!(futures::poll!(read.as_mut()).is_pending());
        polled.send(()).unwrap();
        let (result, _) = read.await;
        panic!("nothing is written, yet the read completed: {result:?}");
    });
    rt.block_on(polled_rx).unwrap();
    task
}

fn assert_cancelled(task: ringtide::task::JoinHandle<()>, what: &str) {
    let error = futures::executor::block_on(task).expect_err(what);
    assert!(error.is_cancelled(), "{what}: {error:?}");
}

#[test]
fn shutdown_timeout_with_10k_pending_reads_returns() {
    const PIPES: usize = 100;
    const READERS: usize = 100;
    const TIMEOUT: Duration = Duration::from_millis(500);
    for (backend, workers) in CASES {
        rt_common::with_timeout("shutdown_10k", rt_common::TEST_TIMEOUT, move || {
            let rt = rt_common::backend_runtime(backend, workers);
            let pipes: Vec<_> = rt.block_on(async {
                (0..PIPES)
                    .map(|_| {
                        let (r, w) = pipe();
                        (Arc::new(r), w)
                    })
                    .collect()
            });
            let pending = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            for index in 0..PIPES * READERS {
                let reader = pipes[index % PIPES].0.clone();
                let pending = pending.clone();
                tasks.push(rt.spawn(async move {
                    let mut read = std::pin::pin!(reader.read_owned(vec![0u8; 1]));
                    assert!(futures::poll!(read.as_mut()).is_pending());
                    pending.fetch_add(1, Ordering::SeqCst);
                    let (result, _) = read.await;
                    panic!("nothing is written, yet a read completed: {result:?}");
                }));
            }
            rt.block_on(async {
                let deadline = Instant::now() + rt_common::TEST_TIMEOUT;
                while pending.load(Ordering::SeqCst) < PIPES * READERS {
                    assert!(
                        Instant::now() < deadline,
                        "the 10k reads were never all pending"
                    );
                    ringtide::time::sleep(Duration::from_millis(1)).await;
                }
            });
            // The driver may merge reads of one fd into one wait: the ops in the
            // kernel (io_uring) are reported, not asserted.
            let in_flight = rt.metrics().io().in_flight;
            println!("{backend}/{workers}: 10k reads pending, {in_flight} ops in the kernel");
            let start = Instant::now();
            rt.shutdown_timeout(TIMEOUT);
            let took = start.elapsed();
            assert!(
                took < TIMEOUT * 10,
                "{backend}/{workers}: shutdown_timeout({TIMEOUT:?}) took {took:?}"
            );
            for task in tasks {
                assert_cancelled(task, "a pending read's task");
            }
            drop(pipes);
        });
    }
}

#[test]
fn dropping_the_runtime_inside_its_own_spawn_blocking_returns() {
    for (backend, workers) in CASES {
        for shutdown in ["drop", "shutdown_timeout", "plain_thread"] {
            rt_common::with_timeout("drop_in_blocking", rt_common::TEST_TIMEOUT, move || {
                let rt = rt_common::backend_runtime(backend, workers);
                let (reader, writer) = rt.block_on(async { pipe() });
                let task = pending_read(&rt, Arc::new(reader));
                let handle = rt.handle().clone();
                let (done, done_rx) = mpsc::channel();
                let finish = move || {
                    match shutdown {
                        "shutdown_timeout" => rt.shutdown_timeout(Duration::from_secs(1)),
                        _ => drop(rt),
                    }
                    done.send(()).unwrap();
                };
                if shutdown == "plain_thread" {
                    std::thread::spawn(finish);
                } else {
                    // The closure owns the runtime whose pool runs it.
                    drop(handle.spawn_blocking(finish));
                }
                done_rx
                    .recv_timeout(rt_common::TEST_TIMEOUT / 2)
                    .unwrap_or_else(|_| panic!("{backend}/{workers}: {shutdown} deadlocked"));
                assert_cancelled(task, "the pending read's task");
                drop(writer);
            });
        }
    }
}

/// What `Handle::block_on` does after the runtime shut down.
fn after_shutdown(backend: Backend, workers: usize) {
    let rt = rt_common::backend_runtime(backend, workers);
    let handle = rt.handle().clone();
    drop(rt);
    // A future that needs nothing of the runtime completes.
    assert_eq!(handle.block_on(async { 7 }), 7);
    // A task spawned on it never runs: its handle reports the cancellation.
    let error = handle
        .block_on(handle.spawn(async { 1 }))
        .expect_err("a task spawned after shutdown");
    assert!(error.is_cancelled(), "{error:?}");
    // I/O completes or fails with a clear error; it never hangs. Mio, like tokio,
    // refuses new registrations ("... has shut down"; tokio: "A Tokio 1.x context was
    // found, but it is being shutdown."). io_uring ops run on the ring of the thread
    // that awaits them, which still works.
    let io = handle.block_on(async {
        let (reader, writer) = std::io::pipe().unwrap();
        let reader = ringtide::io::AsyncFd::new(reader)?;
        let writer = ringtide::io::AsyncFd::new(writer)?;
        let (written, _) = writer.write_owned(b"x".to_vec()).await;
        written?;
        let (read, _) = reader.read_owned(vec![0u8; 1]).await;
        read
    });
    match (backend, io) {
        (Backend::IoUring, Ok(count)) => assert_eq!(count, 1),
        (Backend::Mio, Err(error)) => assert!(shutdown_message(&error.to_string()), "{error}"),
        (backend, io) => panic!("{backend}/{workers}: I/O after shutdown gave {io:?}"),
    }
    // An I/O object made before the shutdown fails its wait instead of hanging.
    let rt = rt_common::backend_runtime(backend, workers);
    let handle = rt.handle().clone();
    let (reader, writer) = rt.block_on(async { pipe() });
    drop(rt);
    if backend == Backend::IoUring {
        // The kernel still runs reads (like any read, one waits for data: give it some).
        std::io::Write::write_all(&mut writer.get_ref(), b"y").unwrap();
    }
    let (read, _) = handle.block_on(reader.read_owned(vec![0u8; 1]));
    match (backend, read) {
        (Backend::IoUring, Ok(1)) => {}
        // Nothing would ever report readiness: the wait fails instead of hanging.
        (Backend::Mio, Err(error)) => assert!(shutdown_message(&error.to_string()), "{error}"),
        (backend, read) => panic!("{backend}/{workers}: a read after shutdown gave {read:?}"),
    }
    drop(writer);
    // A timer that has to wait panics with a message saying so, as tokio's does (it
    // used to hang on a multi-thread runtime: nothing fired it). One whose deadline
    // passed completes: it needs nobody.
    let message = rt_common::expect_panic(|| {
        handle.block_on(async { ringtide::time::sleep(Duration::from_millis(1)).await })
    });
    assert!(shutdown_message(&message), "{message}");
    handle.block_on(async { ringtide::time::sleep(Duration::ZERO).await });
}

/// A timer waiting in `Handle::block_on` on another thread when the runtime shuts down
/// is woken and panics (nothing would ever fire it), on both flavours and backends.
fn timer_waiting_across_shutdown(backend: Backend, workers: usize) {
    let rt = rt_common::backend_runtime(backend, workers);
    let handle = rt.handle().clone();
    let (report_tx, report_rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle.block_on(async { ringtide::time::sleep(Duration::from_secs(3600)).await })
        }));
        report_tx
            .send(outcome.map_err(|payload| rt_common::panic_message(&*payload)))
            .unwrap();
    });
    // Until the hour-long timer is in the wheel (bounded: the waiter may have failed).
    let metrics = rt.metrics();
    let deadline = std::time::Instant::now() + rt_common::TEST_TIMEOUT;
    while metrics.timers() != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the waiter's timer never registered"
        );
        std::thread::yield_now();
    }
    drop(rt);
    let outcome = report_rx
        .recv_timeout(rt_common::TEST_TIMEOUT)
        .expect("the timer waiting across the shutdown returned (it used to wait for ever)");
    let message = outcome.expect_err("the hour-long timer completed");
    assert!(shutdown_message(&message), "{backend}/{workers}: {message}");
    waiter.join().unwrap();
}

#[test]
fn a_timer_waiting_across_the_shutdown_panics_instead_of_hanging() {
    for (backend, workers) in CASES {
        rt_common::with_timeout(
            "timer_waiting_across_shutdown",
            rt_common::TEST_TIMEOUT,
            move || timer_waiting_across_shutdown(backend, workers),
        );
    }
}

fn shutdown_message(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("shut down")
        || message.contains("shutdown")
        || message.contains("shutting down")
}

#[test]
fn block_on_after_shutdown_is_clear() {
    for (backend, workers) in CASES {
        rt_common::with_timeout("after_shutdown", rt_common::TEST_TIMEOUT, move || {
            after_shutdown(backend, workers)
        });
    }
}

#[test]
fn tokio_block_on_after_shutdown_behaves_the_same() {
    for multi in [false, true] {
        let rt = if multi {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .unwrap();
        let handle = rt.handle().clone();
        drop(rt);
        assert_eq!(handle.block_on(async { 7 }), 7);
        let error = handle.block_on(handle.spawn(async { 1 })).unwrap_err();
        assert!(error.is_cancelled(), "{error:?}");
        let io = handle.block_on(async { tokio::net::TcpListener::bind("127.0.0.1:0").await });
        let error = io.expect_err("tokio I/O after shutdown");
        assert!(shutdown_message(&error.to_string()), "{error}");
        let message = rt_common::expect_panic(|| {
            handle.block_on(async { tokio::time::sleep(Duration::from_millis(1)).await })
        });
        assert!(shutdown_message(&message), "{message}");
    }
}

/// One cycle: a runtime with a pending pipe read, a pending accept, a connected TCP
/// pair with a pending read, a timer and a finished blocking closure, dropped with all
/// of that in flight.
fn cycle(backend: Backend, workers: usize) {
    let rt = rt_common::backend_runtime(backend, workers);
    let (reader, writer) = rt.block_on(async { pipe() });
    let read = pending_read(&rt, Arc::new(reader));
    let (accept, connected) = rt.block_on(async {
        let listener = ringtide::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let address = listener.local_addr().unwrap();
        let other = ringtide::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let client = ringtide::net::TcpStream::connect(address).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let accept = ringtide::spawn(async move {
            let _ = other.accept().await;
        });
        let reading = ringtide::spawn(async move {
            let mut server = server;
            let _ = ringtide::io::AsyncReadOwned::read_owned(&mut server, vec![0u8; 8]).await;
        });
        let timer = ringtide::spawn(ringtide::time::sleep(Duration::from_secs(3600)));
        ringtide::task::spawn_blocking(|| 5).await.unwrap();
        ringtide::task::yield_now().await;
        ((accept, reading, timer), client)
    });
    drop(rt);
    assert_cancelled(read, "the pipe read");
    let (accept, reading, timer) = accept;
    for task in [accept, reading] {
        assert_cancelled(task, "the accept or the TCP read");
    }
    let error = futures::executor::block_on(timer).unwrap_err();
    assert!(error.is_cancelled());
    drop((writer, connected));
}

#[test]
fn a_hundred_build_drop_cycles_leak_no_fd_or_thread() {
    if let Some(role) = child_role() {
        let backend: Backend = role.parse().unwrap();
        // The first runtime sets up process-wide state (the probe, the signal pipe):
        // counted in the baseline.
        cycle(backend, 0);
        cycle(backend, 2);
        let (fds, threads) = (fault_common::open_fds(), fault_common::threads());
        for round in 0..100 {
            cycle(backend, if round % 2 == 0 { 0 } else { 2 });
        }
        assert_eq!(
            fault_common::open_fds(),
            fds,
            "{backend}: fds leaked over 100 cycles"
        );
        // Worker and blocking threads have been joined by the drops.
        let deadline = Instant::now() + Duration::from_secs(10);
        // (A thread of the warm-up cycles may still have been exiting at the baseline.)
        while fault_common::threads() > threads && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let after = fault_common::threads();
        assert!(
            after <= threads,
            "{backend}: {after} threads, {threads} before: leaked"
        );
        report(&format!(
            "{backend}: fds={fds} threads={threads}->{after} over 100 cycles"
        ));
        return;
    }
    for backend in [Backend::IoUring, Backend::Mio] {
        run_child(
            "a_hundred_build_drop_cycles_leak_no_fd_or_thread",
            backend.as_str(),
        )
        .expect("nothing to skip");
    }
}
