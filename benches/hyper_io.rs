//! hyper on ringtide's io_uring backend: the shipped I/O adapter (`ringtide::hyper::Io`
//! over the streams' readiness-based poll traits) against a completion-based adapter
//! that exists only here, with HTTP/1.1 on top, in one process, interleaved.
//!
//! * `readiness`: `Io<TcpStream>` as shipped: `poll_read` is a `MSG_DONTWAIT` `recv`
//!   straight into hyper's read buffer, and after `EAGAIN` a kept `POLL_ADD`;
//!   `poll_write(_vectored)` a `MSG_DONTWAIT` `send`/`sendmsg` of hyper's buffers.
//! * `completion`: [`CompletionIo`] below: `poll_read` keeps one io_uring `RECV` into a
//!   64 KiB buffer of the adapter in flight and copies out of it (what does not fit
//!   stays for the next call); `poll_write(_vectored)` waits for the previous `SEND`,
//!   copies up to 64 KiB of hyper's buffers into the adapter's second buffer, submits
//!   the send and reports the bytes as written; `poll_flush` waits for the send.
//! * `hybrid`: [`HybridIo`]: the completion variant's reads with the shipped
//!   readiness writes (hyper's buffers sent as they are, nothing written behind).
//! * `poll_first`: [`PollFirstIo`]: a `MSG_DONTWAIT` `recv` into hyper's buffer first,
//!   and after `EAGAIN` an io_uring `RECV` into the adapter's buffer (instead of a
//!   `POLL_ADD` and a second `recv`); readiness writes.
//! * `mio`: the shipped adapter on the mio backend, for reference.
//!
//! Workloads, each on a current-thread runtime with the server connection and the
//! client on it, over loopback, one HTTP/1.1 keep-alive connection:
//!
//! * `get_small`: a block of 2,000 sequential `GET`s answered with 13 bytes (time per
//!   request).
//! * `download_64m`: one `GET` whose 64 MiB response is streamed in 64 KiB chunks.
//! * `upload_64m`: one `POST` of a 64 MiB body streamed in 64 KiB chunks, answered
//!   with its length.
//!
//! Each of `RINGTIDE_HYPER_IO_ROUNDS` rounds (default 6) runs every workload once per
//! variant, the variants' order rotating from round to round; the report gives each
//! variant's median wall time and CPU time (the process's user + system time: client
//! and server, one thread) and the medians of the per-round ratios to `readiness`.
//!
//! `cargo bench --bench hyper_io --features hyper`

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use ringtide::hyper::Io;
use ringtide::io::{AsyncReadOwned, AsyncWriteOwned, BufResult};
use ringtide::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use ringtide::net::{TcpListener, TcpStream};
use ringtide::runtime::{Backend, Runtime};
use tokio::io::AsyncWrite;

const CAPACITY: usize = 64 << 10;
const LARGE: u64 = 64 << 20;
const CHUNK: usize = 64 << 10;
const SMALL_REQUESTS: u32 = 2000;

type Body = BoxBody<Bytes, Infallible>;

// ---------------------------------------------------------------------------------------
// The experiment: hyper's traits over io_uring completions and internal buffers.
// ---------------------------------------------------------------------------------------

type ReadOp = Pin<Box<dyn Future<Output = (OwnedReadHalf, BufResult<usize, Vec<u8>>)> + Send>>;
type WriteOp = Pin<Box<dyn Future<Output = (OwnedWriteHalf, BufResult<(), Vec<u8>>)> + Send>>;

enum ReadState {
    /// `buffer[position..]` is received and not handed out yet.
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

/// A TCP stream whose hyper traits run owned-buffer io_uring operations.
struct CompletionIo {
    read: ReadState,
    write: WriteState,
    fd: RawFd,
}

impl CompletionIo {
    fn new(stream: TcpStream) -> CompletionIo {
        let fd = stream.as_raw_fd();
        let (read, write) = stream.into_split();
        CompletionIo {
            read: ReadState::Idle {
                half: read,
                buffer: Vec::with_capacity(CAPACITY),
                position: 0,
            },
            write: WriteState::Idle {
                half: write,
                buffer: Vec::with_capacity(CAPACITY),
            },
            fd,
        }
    }

    /// Waits for the send in flight, if any, and reports its result.
    fn poll_send_done(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let WriteState::Writing(op) = &mut self.write {
            let (half, (result, buffer)) = ready!(op.as_mut().poll(cx));
            self.write = WriteState::Idle { half, buffer };
            return Poll::Ready(result);
        }
        Poll::Ready(Ok(()))
    }

    /// Copies `bufs` (up to the capacity) into the write buffer and submits its send.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_send_done(cx))?;
        let WriteState::Idle { half, mut buffer } =
            std::mem::replace(&mut self.write, WriteState::Gone)
        else {
            unreachable!("the send finished above");
        };
        buffer.clear();
        for buf in bufs {
            let room = CAPACITY - buffer.len();
            buffer.extend_from_slice(&buf[..buf.len().min(room)]);
            if buffer.len() == CAPACITY {
                break;
            }
        }
        let count = buffer.len();
        let mut op: WriteOp = Box::pin(async move {
            let mut half = half;
            let result = half.write_all_owned(buffer).await;
            (half, result)
        });
        // Polled once now, so that the send is submitted.
        match op.as_mut().poll(cx) {
            Poll::Pending => self.write = WriteState::Writing(op),
            Poll::Ready((half, (result, buffer))) => {
                self.write = WriteState::Idle { half, buffer };
                result?;
            }
        }
        Poll::Ready(Ok(count))
    }
}

impl hyper::rt::Read for CompletionIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        cursor: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read_completion(&mut self.get_mut().read, cx, cursor)
    }
}

/// `poll_read` from a kept `RECV` into the adapter's buffer (shared by both
/// completion-read variants).
fn poll_read_completion(
    state: &mut ReadState,
    cx: &mut Context<'_>,
    mut cursor: hyper::rt::ReadBufCursor<'_>,
) -> Poll<io::Result<()>> {
    loop {
        match std::mem::replace(state, ReadState::Gone) {
            ReadState::Idle {
                half,
                mut buffer,
                mut position,
            } => {
                if position < buffer.len() {
                    let count = cursor.remaining().min(buffer.len() - position);
                    cursor.put_slice(&buffer[position..position + count]);
                    position += count;
                    *state = ReadState::Idle {
                        half,
                        buffer,
                        position,
                    };
                    return Poll::Ready(Ok(()));
                }
                buffer.clear();
                *state = ReadState::Reading(Box::pin(async move {
                    let mut half = half;
                    let result = half.read_owned(buffer).await;
                    (half, result)
                }));
            }
            ReadState::Reading(mut op) => match op.as_mut().poll(cx) {
                Poll::Pending => {
                    *state = ReadState::Reading(op);
                    return Poll::Pending;
                }
                Poll::Ready((half, (result, mut buffer))) => {
                    if result.is_err() {
                        buffer.clear();
                    }
                    *state = ReadState::Idle {
                        half,
                        buffer,
                        position: 0,
                    };
                    match result {
                        // End of stream: nothing filled.
                        Ok(0) => return Poll::Ready(Ok(())),
                        Ok(_) => {}
                        Err(error) => return Poll::Ready(Err(error)),
                    }
                }
            },
            ReadState::Gone => unreachable!("a poll panicked"),
        }
    }
}

impl hyper::rt::Write for CompletionIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_send(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_send(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_send_done(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_done(cx))?;
        // SAFETY: `fd` is the socket of the halves that `this` owns, so it is open.
        let result = unsafe { libc::shutdown(this.fd, libc::SHUT_WR) };
        Poll::Ready(if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        })
    }
}

/// Completion reads (as [`CompletionIo`]) with the shipped readiness writes: a
/// `MSG_DONTWAIT` send of hyper's own buffers, no copy, no write-behind.
struct HybridIo {
    read: ReadState,
    write: OwnedWriteHalf,
}

impl HybridIo {
    fn new(stream: TcpStream) -> HybridIo {
        let (read, write) = stream.into_split();
        HybridIo {
            read: ReadState::Idle {
                half: read,
                buffer: Vec::with_capacity(CAPACITY),
                position: 0,
            },
            write,
        }
    }
}

impl hyper::rt::Read for HybridIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        cursor: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read_completion(&mut self.get_mut().read, cx, cursor)
    }
}

impl hyper::rt::Write for HybridIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().write).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().write).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().write).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().write).poll_shutdown(cx)
    }
}

/// Readiness first, completion to wait: `poll_read` tries a `MSG_DONTWAIT` `recv`
/// straight into hyper's buffer (no copy when data is there, as in bulk transfers),
/// and only when that says `EAGAIN` submits an io_uring `RECV` into the adapter's
/// buffer instead of a `POLL_ADD`, so a wait costs one operation, not a poll and a
/// second `recv`. Writes are the shipped readiness writes.
struct PollFirstIo {
    read: ReadState,
    write: OwnedWriteHalf,
    fd: RawFd,
}

impl PollFirstIo {
    fn new(stream: TcpStream) -> PollFirstIo {
        let fd = stream.as_raw_fd();
        let (read, write) = stream.into_split();
        PollFirstIo {
            read: ReadState::Idle {
                half: read,
                buffer: Vec::with_capacity(CAPACITY),
                position: 0,
            },
            write,
            fd,
        }
    }
}

impl hyper::rt::Read for PollFirstIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut cursor: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let ReadState::Idle {
            buffer, position, ..
        } = &this.read
        {
            if *position >= buffer.len() {
                // SAFETY: `recv` writes at most `unfilled.len()` bytes into the slice, and
                // only initialised ones.
                let unfilled = unsafe { cursor.as_mut() };
                // SAFETY: `fd` is the open socket of the halves `this` owns; the pointer
                // and length describe `unfilled`.
                let received = unsafe {
                    libc::recv(
                        this.fd,
                        unfilled.as_mut_ptr().cast(),
                        unfilled.len(),
                        libc::MSG_DONTWAIT,
                    )
                };
                if received >= 0 {
                    // SAFETY: `recv` initialised `received` bytes.
                    unsafe { cursor.advance(received as usize) };
                    return Poll::Ready(Ok(()));
                }
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::WouldBlock {
                    return Poll::Ready(Err(error));
                }
            }
        }
        poll_read_completion(&mut this.read, cx, cursor)
    }
}

impl hyper::rt::Write for PollFirstIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().write).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().write).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().write).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().write).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------------------
// The workloads.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    Readiness,
    Completion,
    Hybrid,
    PollFirst,
    Mio,
}

fn streamed(len: u64) -> Body {
    let chunk = Bytes::from(vec![7u8; CHUNK]);
    let frames = futures::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        async move {
            (sent < len).then(|| {
                let size = (len - sent).min(CHUNK as u64) as usize;
                (Ok(Frame::data(chunk.slice(..size))), sent + size as u64)
            })
        }
    });
    StreamBody::new(frames).boxed()
}

async fn service(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(match request.uri().path() {
        "/stream" => Response::new(streamed(LARGE)),
        "/upload" => {
            let mut body = request.into_body();
            let mut received = 0u64;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    received += data.len() as u64;
                }
            }
            Response::new(Full::new(Bytes::from(received.to_string())).boxed())
        }
        _ => Response::new(Full::new(Bytes::from_static(b"hello, world\n")).boxed()),
    })
}

/// A served connection and a client connection to it, through `variant`'s adapter.
async fn connect(variant: Variant) -> hyper::client::conn::http1::SendRequest<Body> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(addr), listener.accept());
    let (client, server) = (client.unwrap(), accepted.unwrap().0);
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    let server_builder = hyper::server::conn::http1::Builder::new();
    let service = hyper::service::service_fn(service);
    macro_rules! wire {
        ($wrap:expr) => {{
            let serving = server_builder.serve_connection($wrap(server), service);
            ringtide::spawn(async move { serving.await.unwrap() });
            let (sender, connection) = hyper::client::conn::http1::handshake($wrap(client))
                .await
                .unwrap();
            ringtide::spawn(async move { connection.await.unwrap() });
            sender
        }};
    }
    match variant {
        Variant::Completion => wire!(CompletionIo::new),
        Variant::Hybrid => wire!(HybridIo::new),
        Variant::PollFirst => wire!(PollFirstIo::new),
        Variant::Readiness | Variant::Mio => wire!(Io::new),
    }
}

/// Microseconds per request over `SMALL_REQUESTS` sequential GETs.
async fn get_small(variant: Variant) -> f64 {
    let mut sender = connect(variant).await;
    let start = Instant::now();
    for _ in 0..SMALL_REQUESTS {
        sender.ready().await.unwrap();
        let request = Request::get("/").body(Empty::new().boxed()).unwrap();
        let response = sender.send_request(request).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.len(), 13);
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(SMALL_REQUESTS)
}

/// Milliseconds for a streamed 64 MiB response.
async fn download(variant: Variant) -> f64 {
    let mut sender = connect(variant).await;
    let start = Instant::now();
    let request = Request::get("/stream").body(Empty::new().boxed()).unwrap();
    let mut body = sender.send_request(request).await.unwrap().into_body();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            received += data.len() as u64;
        }
    }
    assert_eq!(received, LARGE);
    start.elapsed().as_secs_f64() * 1e3
}

/// Milliseconds for a streamed 64 MiB request body.
async fn upload(variant: Variant) -> f64 {
    let mut sender = connect(variant).await;
    let start = Instant::now();
    let request = Request::post("/upload").body(streamed(LARGE)).unwrap();
    let response = sender.send_request(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, LARGE.to_string());
    start.elapsed().as_secs_f64() * 1e3
}

fn runtime(backend: Backend) -> Option<Runtime> {
    match ringtide::runtime::Builder::new_current_thread()
        .backend(backend)
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(error) => {
            eprintln!("no {backend} runtime: {error}");
            None
        }
    }
}

/// The process's user + system CPU time so far, in seconds.
fn process_cpu() -> f64 {
    // SAFETY: `getrusage` fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 * 1e-6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn main() {
    let rounds: usize = std::env::var("RINGTIDE_HYPER_IO_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let Some(uring) = runtime(Backend::IoUring) else {
        eprintln!("io_uring is not available here: nothing to compare");
        return;
    };
    let mio = runtime(Backend::Mio);
    let mut variants = vec![
        Variant::Readiness,
        Variant::Completion,
        Variant::Hybrid,
        Variant::PollFirst,
    ];
    if mio.is_some() {
        variants.push(Variant::Mio);
    }
    // (wall time, CPU time) of one run, in the workload's unit. The runtime is
    // current-thread, so the process's CPU time is the run's (client and server).
    let run = |variant: Variant, workload: &str| -> (f64, f64) {
        let rt = if variant == Variant::Mio {
            mio.as_ref().unwrap()
        } else {
            &uring
        };
        let cpu_before = process_cpu();
        let wall = match workload {
            "get_small" => rt.block_on(get_small(variant)),
            "download_64m" => rt.block_on(download(variant)),
            _ => rt.block_on(upload(variant)),
        };
        let cpu = process_cpu() - cpu_before;
        let cpu = if workload == "get_small" {
            cpu * 1e6 / f64::from(SMALL_REQUESTS)
        } else {
            cpu * 1e3
        };
        (wall, cpu)
    };
    for workload in ["get_small", "download_64m", "upload_64m"] {
        // Warm-up, unrecorded.
        for &variant in &variants {
            run(variant, workload);
        }
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
        for round in 0..rounds {
            for step in 0..variants.len() {
                let index = (round + step) % variants.len();
                let (wall, used) = run(variants[index], workload);
                times[index].push(wall);
                cpu[index].push(used);
            }
        }
        let unit = if workload == "get_small" {
            "us/request"
        } else {
            "ms"
        };
        let paired = |values: &[Vec<f64>], index: usize| {
            let ratios: Vec<f64> = values[index]
                .iter()
                .zip(&values[0])
                .map(|(c, r)| c / r)
                .collect();
            median(&ratios)
        };
        let line = variants
            .iter()
            .zip(&times)
            .map(|(variant, values)| {
                let (low, high) = values
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
                format!("{variant:?} {:.2} ({low:.2}-{high:.2})", median(values))
            })
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "{workload} [{unit}, median (min-max) of {rounds}]: {line}; paired ratios to readiness (median): completion {:.3}, hybrid {:.3}, poll-first {:.3}",
            paired(&times, 1),
            paired(&times, 2),
            paired(&times, 3)
        );
        let cpu_line = variants
            .iter()
            .zip(&cpu)
            .map(|(variant, values)| format!("{variant:?} {:.2}", median(values)))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "  CPU [{unit}, median]: {cpu_line}; paired ratios to readiness: completion {:.3}, hybrid {:.3}, poll-first {:.3}",
            paired(&cpu, 1),
            paired(&cpu, 2),
            paired(&cpu, 3)
        );
    }
}
