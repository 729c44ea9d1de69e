//! The poll-based traits (tokio's `AsyncRead`/`AsyncWrite`, feature `tokio-io`) on
//! io_uring: the shipped readiness implementation against an internal-owned-buffer
//! implementation that exists only here, in one run.
//!
//! * `readiness_io_uring`: `TcpStream`'s own impls (`src/net/poll_io.rs`): a
//!   `MSG_DONTWAIT` syscall, and after `EAGAIN` a `POLL_ADD` per direction.
//! * `owned_buffer_io_uring`: [`OwnedBufStream`] below, built on the owned-buffer API.
//!   `poll_read` keeps one io_uring `RECV` into a 64 KiB buffer owned by the stream in
//!   flight and copies out of it (what does not fit stays for the next call);
//!   `poll_write` waits for the previous `SEND` (reporting its error, if any), copies up
//!   to 64 KiB into the stream's buffer, submits the send and reports the bytes as
//!   written; `poll_flush` waits for the send; `poll_shutdown` flushes, then
//!   `shutdown(SHUT_WR)`. The ops run as boxed futures that own the split halves.
//! * `readiness_mio`: the shipped impls on the mio backend, for reference.
//! * `owned_api_io_uring`: the same workload through `read_exact_owned` /
//!   `write_all_owned` directly (no poll traits), the io_uring ceiling.
//!
//! Groups (each on a current-thread runtime, client and server tasks on it, loopback):
//!
//! * `ping_pong_1k`: one iteration is one round trip: the client writes 1 KiB
//!   (`write_all`) and reads 1 KiB back (`read_exact`); the server task echoes with the
//!   same calls. No `flush` (a no-op for readiness): the owned-buffer writes stay
//!   write-behind, their best case.
//! * `bulk_64m`: one iteration sends 64 MiB: the client `write_all`s 64 KiB chunks then
//!   shuts down; the server `read`s into a 64 KiB buffer until end of stream. Timed until
//!   the server has everything.
//!
//! `cargo bench --bench poll_io --features tokio-io -- --noplot`
//! (`RINGTIDE_BENCH_QUICK=1` for a smoke run; `RINGTIDE_POLL_IO_PAIRED=1` for the
//! interleaved A/B comparison of [`paired`] instead of criterion).

use std::future::Future;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use ringtide::io::{AsyncReadOwned, AsyncWriteOwned, BufResult};
use ringtide::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use ringtide::net::{TcpListener, TcpStream};
use ringtide::runtime::{Backend, Runtime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

const MESSAGE: usize = 1024;
const BULK: usize = 64 << 20;
const CHUNK: usize = 64 << 10;
/// The experimental stream's buffer size, per direction.
const OWNED_CAPACITY: usize = 64 << 10;

// ---------------------------------------------------------------------------------------
// The experiment: poll traits over an internal owned buffer.
// ---------------------------------------------------------------------------------------

type ReadOp = Pin<Box<dyn Future<Output = (OwnedReadHalf, BufResult<usize, Vec<u8>>)> + Send>>;
type WriteOp = Pin<Box<dyn Future<Output = (OwnedWriteHalf, BufResult<(), Vec<u8>>)> + Send>>;

enum ReadState {
    /// `buffer[position..]` is received and not yet handed out.
    Idle {
        half: OwnedReadHalf,
        buffer: Vec<u8>,
        position: usize,
    },
    Reading(ReadOp),
    Gone,
}

enum WriteState {
    Idle {
        half: OwnedWriteHalf,
        buffer: Vec<u8>,
    },
    Writing(WriteOp),
    Gone,
}

/// A TCP stream whose tokio traits go through owned-buffer io_uring ops.
struct OwnedBufStream {
    read: ReadState,
    write: WriteState,
    fd: std::os::fd::RawFd,
}

impl OwnedBufStream {
    fn new(stream: TcpStream) -> OwnedBufStream {
        let fd = stream.as_raw_fd();
        let (read, write) = stream.into_split();
        OwnedBufStream {
            read: ReadState::Idle {
                half: read,
                buffer: Vec::with_capacity(OWNED_CAPACITY),
                position: 0,
            },
            write: WriteState::Idle {
                half: write,
                buffer: Vec::with_capacity(OWNED_CAPACITY),
            },
            fd,
        }
    }

    /// Waits for the send in flight, if any.
    fn poll_write_done(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let WriteState::Writing(op) = &mut self.write {
            let (half, (result, buffer)) = ready!(op.as_mut().poll(cx));
            self.write = WriteState::Idle { half, buffer };
            return Poll::Ready(result);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for OwnedBufStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.read, ReadState::Gone) {
                ReadState::Idle {
                    half,
                    mut buffer,
                    mut position,
                } => {
                    if position < buffer.len() {
                        let count = out.remaining().min(buffer.len() - position);
                        out.put_slice(&buffer[position..position + count]);
                        position += count;
                        this.read = ReadState::Idle {
                            half,
                            buffer,
                            position,
                        };
                        return Poll::Ready(Ok(()));
                    }
                    buffer.clear();
                    this.read = ReadState::Reading(Box::pin(async move {
                        let mut half = half;
                        let result = half.read_owned(buffer).await;
                        (half, result)
                    }));
                }
                ReadState::Reading(mut op) => match op.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.read = ReadState::Reading(op);
                        return Poll::Pending;
                    }
                    Poll::Ready((half, (result, mut buffer))) => {
                        let received = result.as_ref().map_or(0, |count| *count);
                        if result.is_err() {
                            buffer.clear();
                        }
                        this.read = ReadState::Idle {
                            half,
                            buffer,
                            position: 0,
                        };
                        match result {
                            // End of stream: nothing filled.
                            Ok(0) => return Poll::Ready(Ok(())),
                            Ok(_) => debug_assert!(received > 0),
                            Err(error) => return Poll::Ready(Err(error)),
                        }
                    }
                },
                ReadState::Gone => unreachable!("a poll panicked"),
            }
        }
    }
}

impl AsyncWrite for OwnedBufStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // An error of the previous (already reported) write surfaces here.
        ready!(this.poll_write_done(cx))?;
        let WriteState::Idle { half, mut buffer } =
            std::mem::replace(&mut this.write, WriteState::Gone)
        else {
            unreachable!("the send finished above");
        };
        let count = data.len().min(OWNED_CAPACITY);
        buffer.clear();
        buffer.extend_from_slice(&data[..count]);
        let mut op: WriteOp = Box::pin(async move {
            let mut half = half;
            let result = half.write_all_owned(buffer).await;
            (half, result)
        });
        // Poll once so that the send is submitted now.
        match op.as_mut().poll(cx) {
            Poll::Pending => this.write = WriteState::Writing(op),
            Poll::Ready((half, (result, buffer))) => {
                this.write = WriteState::Idle { half, buffer };
                result?;
            }
        }
        Poll::Ready(Ok(count))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_done(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_done(cx))?;
        // SAFETY: `fd` is the stream's socket, open while the halves in `this` live.
        let result = unsafe { libc::shutdown(this.fd, libc::SHUT_WR) };
        Poll::Ready(if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------------------
// Workloads.
// ---------------------------------------------------------------------------------------

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(address), listener.accept());
    let (client, server) = (client.unwrap(), accepted.unwrap().0);
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

/// `iters` 1 KiB round trips through the poll traits of `S`.
async fn ping_pong<S>(wrap: fn(TcpStream) -> S, iters: u64) -> Duration
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (client, server) = pair().await;
    let (mut client, mut server) = (wrap(client), wrap(server));
    let echo = ringtide::spawn(async move {
        let mut buf = [0u8; MESSAGE];
        for _ in 0..iters {
            server.read_exact(&mut buf).await.unwrap();
            server.write_all(&buf).await.unwrap();
        }
        // Write-behind: a send still in flight is cancelled if the stream is dropped.
        server.flush().await.unwrap();
    });
    let message = [7u8; MESSAGE];
    let mut buf = [0u8; MESSAGE];
    let start = Instant::now();
    for _ in 0..iters {
        client.write_all(&message).await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
    }
    let elapsed = start.elapsed();
    echo.await.unwrap();
    elapsed
}

/// `iters` transfers of 64 MiB through the poll traits of `S`, each on a new pair.
async fn bulk<S>(wrap: fn(TcpStream) -> S, iters: u64) -> Duration
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let chunk = vec![7u8; CHUNK];
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let (client, server) = pair().await;
        let (mut client, mut server) = (wrap(client), wrap(server));
        let start = Instant::now();
        let receive = ringtide::spawn(async move {
            let mut buf = vec![0u8; CHUNK];
            let mut received = 0;
            loop {
                let count = server.read(&mut buf).await.unwrap();
                if count == 0 {
                    break received;
                }
                received += count;
            }
        });
        for _ in 0..BULK / CHUNK {
            client.write_all(&chunk).await.unwrap();
        }
        client.shutdown().await.unwrap();
        assert_eq!(receive.await.unwrap(), BULK);
        total += start.elapsed();
    }
    total
}

/// [`ping_pong`] through the owned-buffer API.
async fn ping_pong_owned(iters: u64) -> Duration {
    let (mut client, mut server) = pair().await;
    let echo = ringtide::spawn(async move {
        let mut buf = vec![0u8; MESSAGE];
        for _ in 0..iters {
            let (result, returned) = server.read_exact_owned(buf).await;
            result.unwrap();
            let (result, returned) = server.write_all_owned(returned).await;
            result.unwrap();
            buf = returned;
        }
    });
    let mut message = vec![7u8; MESSAGE];
    let mut buf = vec![0u8; MESSAGE];
    let start = Instant::now();
    for _ in 0..iters {
        let (result, returned) = client.write_all_owned(message).await;
        result.unwrap();
        message = returned;
        let (result, returned) = client.read_exact_owned(buf).await;
        result.unwrap();
        buf = returned;
    }
    let elapsed = start.elapsed();
    echo.await.unwrap();
    elapsed
}

/// [`bulk`] through the owned-buffer API.
async fn bulk_owned(iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut chunk = vec![7u8; CHUNK];
    for _ in 0..iters {
        let (mut client, mut server) = pair().await;
        let start = Instant::now();
        let receive = ringtide::spawn(async move {
            let mut buf = Vec::with_capacity(CHUNK);
            let mut received = 0;
            loop {
                buf.clear();
                let (result, returned) = server.read_owned(buf).await;
                buf = returned;
                match result.unwrap() {
                    0 => break received,
                    count => received += count,
                }
            }
        });
        for _ in 0..BULK / CHUNK {
            let (result, returned) = client.write_all_owned(chunk).await;
            result.unwrap();
            chunk = returned;
        }
        client
            .shutdown_with(std::net::Shutdown::Write)
            .await
            .unwrap();
        assert_eq!(receive.await.unwrap(), BULK);
        total += start.elapsed();
    }
    total
}

// ---------------------------------------------------------------------------------------
// Criterion.
// ---------------------------------------------------------------------------------------

fn runtime(backend: Backend) -> Option<Runtime> {
    match ringtide::runtime::Builder::new_current_thread()
        .backend(backend)
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(error) => {
            eprintln!("skipping the {backend} cases: {error}");
            None
        }
    }
}

fn plain(stream: TcpStream) -> TcpStream {
    stream
}

fn poll_io(c: &mut Criterion) {
    let uring = runtime(Backend::IoUring);
    let mio = runtime(Backend::Mio);

    let mut group = c.benchmark_group("ping_pong_1k");
    group.throughput(Throughput::Elements(1));
    if let Some(rt) = &uring {
        group.bench_function("readiness_io_uring", |b| {
            b.iter_custom(|iters| rt.block_on(ping_pong(plain, iters)))
        });
        group.bench_function("owned_buffer_io_uring", |b| {
            b.iter_custom(|iters| rt.block_on(ping_pong(OwnedBufStream::new, iters)))
        });
        group.bench_function("owned_api_io_uring", |b| {
            b.iter_custom(|iters| rt.block_on(ping_pong_owned(iters)))
        });
    }
    if let Some(rt) = &mio {
        group.bench_function("readiness_mio", |b| {
            b.iter_custom(|iters| rt.block_on(ping_pong(plain, iters)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("bulk_64m");
    group.throughput(Throughput::Bytes(BULK as u64));
    group.sample_size(10);
    if let Some(rt) = &uring {
        group.bench_function("readiness_io_uring", |b| {
            b.iter_custom(|iters| rt.block_on(bulk(plain, iters)))
        });
        group.bench_function("owned_buffer_io_uring", |b| {
            b.iter_custom(|iters| rt.block_on(bulk(OwnedBufStream::new, iters)))
        });
        group.bench_function("owned_api_io_uring", |b| {
            b.iter_custom(|iters| rt.block_on(bulk_owned(iters)))
        });
    }
    if let Some(rt) = &mio {
        group.bench_function("readiness_mio", |b| {
            b.iter_custom(|iters| rt.block_on(bulk(plain, iters)))
        });
    }
    group.finish();
}

/// Criterion settings: modest by default, smaller with `RINGTIDE_BENCH_QUICK=1`.
fn config() -> Criterion {
    let quick = std::env::var("RINGTIDE_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (samples, warm_up, measurement) = if quick {
        (10, Duration::from_millis(200), Duration::from_millis(500))
    } else {
        (20, Duration::from_millis(500), Duration::from_secs(3))
    };
    Criterion::default()
        .sample_size(samples)
        .warm_up_time(warm_up)
        .measurement_time(measurement)
}

/// `RINGTIDE_POLL_IO_PAIRED=1`: instead of criterion, alternates the two io_uring
/// implementations in short blocks on one runtime and prints each one's median and the
/// median of the per-block ratios. On a shared, noisy machine the pairing cancels most
/// of the drift that separate criterion runs pick up.
fn paired() {
    fn median(values: &mut [f64]) -> f64 {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    }
    let Some(rt) = runtime(Backend::IoUring) else {
        return;
    };
    let report = |name: &str, unit: &str, readiness: &mut [f64], owned: &mut [f64]| {
        let mut ratios: Vec<f64> = owned.iter().zip(&*readiness).map(|(o, r)| o / r).collect();
        println!(
            "{name}: readiness {:.3} {unit}, owned buffer {:.3} {unit}, owned/readiness \
             median of {} paired ratios {:.3}",
            median(readiness),
            median(owned),
            ratios.len(),
            median(&mut ratios),
        );
    };
    const ROUND_TRIPS: u64 = 4000;
    let (mut readiness, mut owned) = (Vec::new(), Vec::new());
    rt.block_on(ping_pong(plain, 500));
    rt.block_on(ping_pong(OwnedBufStream::new, 500));
    // Which one goes first alternates from block to block.
    for round in 0..25 {
        let per = |time: Duration| time.as_secs_f64() * 1e6 / ROUND_TRIPS as f64;
        let run_owned = || per(rt.block_on(ping_pong(OwnedBufStream::new, ROUND_TRIPS)));
        if round % 2 == 1 {
            owned.push(run_owned());
        }
        readiness.push(per(rt.block_on(ping_pong(plain, ROUND_TRIPS))));
        if round % 2 == 0 {
            owned.push(run_owned());
        }
    }
    report("ping_pong_1k", "us/round trip", &mut readiness, &mut owned);
    let (mut readiness, mut owned) = (Vec::new(), Vec::new());
    for round in 0..15 {
        let ms = |time: Duration| time.as_secs_f64() * 1e3;
        let run_owned = || ms(rt.block_on(bulk(OwnedBufStream::new, 1)));
        if round % 2 == 1 {
            owned.push(run_owned());
        }
        readiness.push(ms(rt.block_on(bulk(plain, 1))));
        if round % 2 == 0 {
            owned.push(run_owned());
        }
    }
    report("bulk_64m", "ms", &mut readiness, &mut owned);
}

criterion_group! {
    name = benches;
    config = config();
    targets = poll_io
}

fn main() {
    if std::env::var("RINGTIDE_POLL_IO_PAIRED").is_ok_and(|v| v == "1") {
        paired();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
