//! The server under test: a ringtide echo server on one backend, in its own process
//! (the soak binary re-executed with [`ROLE_ENV`] = `echo-server`), so that its memory
//! and descriptors are its own and it has the whole descriptor limit.
//!
//! A multi-thread runtime with the chosen backend (`Builder::backend`) accepts on one
//! loopback listener with `TcpListener::accept`. Even-numbered connections echo with
//! the owned-buffer API (`read_owned` / `write_all_owned`, 4 KiB), odd-numbered ones
//! with tokio's `AsyncReadExt` / `AsyncWriteExt` over the same stream type (the poll
//! path). At end of stream a connection shuts its write side down (the half-close the
//! client waits for) and closes.
//!
//! Control protocol (stdin / stdout, one line each): the server prints
//! `LISTEN <addr>` once bound; each `STATS` line is answered with `STATS <json>`
//! ([`ServerStats`]); end of stdin shuts the runtime down and exits.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error_log::ErrorLog;
use crate::process::{self, ProcessSample};

/// Selects the role of a re-executed soak process: `echo-server` or `mixed`.
pub const ROLE_ENV: &str = "RINGTIDE_SOAK_ROLE";
/// The backend a child builds its runtime with (`io_uring` or `mio`).
pub const BACKEND_ENV: &str = "RINGTIDE_SOAK_BACKEND";
/// Worker threads of a child's runtime.
pub const WORKERS_ENV: &str = "RINGTIDE_SOAK_WORKERS";
/// The echo buffer of each connection.
const BUFFER: usize = 4096;

/// The server's counters, as the `STATS` answer carries them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServerStats {
    pub backend: String,
    pub workers: usize,
    pub accepted: u64,
    pub accept_errors: u64,
    /// Connections whose task is running now.
    pub live: u64,
    pub peak_live: u64,
    pub owned_api_connections: u64,
    pub poll_api_connections: u64,
    /// Connections that ended with the peer's end of stream (and our half-close).
    pub clean_closes: u64,
    /// Connections that ended with `ConnectionReset` / `BrokenPipe` /
    /// `ConnectionAborted` / `NotConnected`: the client resets on purpose, so these are
    /// checked against the client's count, not counted as errors here.
    pub resets: u64,
    /// Anything else (the target is 0).
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub bytes_echoed: u64,
    pub alive_tasks: usize,
    pub io_in_flight: u64,
    pub io_registered: u64,
    pub timers: usize,
    pub process: ProcessSample,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    accept_errors: AtomicU64,
    live: AtomicU64,
    peak_live: AtomicU64,
    owned: AtomicU64,
    poll: AtomicU64,
    clean: AtomicU64,
    resets: AtomicU64,
    errors: ErrorLog,
    bytes: AtomicU64,
}

impl Counters {
    fn error(&self, what: String) {
        self.errors.record(what);
    }

    /// How a connection ended.
    fn finish(&self, end: std::io::Result<()>, api: &str) {
        match end {
            Ok(()) => {
                self.clean.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) if is_reset(&error) => {
                self.resets.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => self.error(format!("{api} connection: {error}")),
        }
    }
}

/// The errors a peer's reset shows as.
pub fn is_reset(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionReset | BrokenPipe | ConnectionAborted | NotConnected
    )
}

/// Decrements `live` however the connection task ends.
struct LiveGuard(Arc<Counters>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The backend named by [`BACKEND_ENV`].
pub fn backend_from_env() -> std::io::Result<ringtide::runtime::Backend> {
    std::env::var(BACKEND_ENV)
        .map_err(|_| std::io::Error::other(format!("{BACKEND_ENV} is not set")))?
        .parse()
}

pub fn workers_from_env() -> usize {
    std::env::var(WORKERS_ENV)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(2)
}

/// The `echo-server` role: runs until stdin closes.
pub fn run() -> std::io::Result<()> {
    process::raise_fd_limit()?;
    let backend = backend_from_env()?;
    let workers = workers_from_env();
    let runtime = ringtide::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .backend(backend)
        .enable_all()
        .build()?;
    let counters = Arc::new(Counters::default());
    let listener = runtime.block_on(async {
        let socket = ringtide::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind("127.0.0.1:0".parse().expect("a loopback address"))?;
        socket.listen(4096)
    })?;
    let addr = listener.local_addr()?;
    runtime.spawn(accept_loop(listener, counters.clone()));

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "LISTEN {addr}")?;
    stdout.flush()?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim() == "STATS" {
            let stats = stats(&runtime, &counters, workers);
            writeln!(
                stdout,
                "STATS {}",
                serde_json::to_string(&stats).map_err(std::io::Error::other)?
            )?;
            stdout.flush()?;
        }
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    Ok(())
}

fn stats(runtime: &ringtide::runtime::Runtime, counters: &Counters, workers: usize) -> ServerStats {
    let metrics = runtime.metrics();
    let io = metrics.io();
    ServerStats {
        backend: runtime.backend().to_string(),
        workers,
        accepted: counters.accepted.load(Ordering::Relaxed),
        accept_errors: counters.accept_errors.load(Ordering::Relaxed),
        live: counters.live.load(Ordering::Relaxed),
        peak_live: counters.peak_live.load(Ordering::Relaxed),
        owned_api_connections: counters.owned.load(Ordering::Relaxed),
        poll_api_connections: counters.poll.load(Ordering::Relaxed),
        clean_closes: counters.clean.load(Ordering::Relaxed),
        resets: counters.resets.load(Ordering::Relaxed),
        errors: counters.errors.count(),
        error_samples: counters.errors.samples(),
        bytes_echoed: counters.bytes.load(Ordering::Relaxed),
        alive_tasks: metrics.num_alive_tasks(),
        io_in_flight: io.in_flight,
        io_registered: io.registered,
        timers: metrics.timers(),
        process: process::sample(),
    }
}

async fn accept_loop(listener: ringtide::net::TcpListener, counters: Arc<Counters>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                counters.accept_errors.fetch_add(1, Ordering::Relaxed);
                counters.error(format!("accept: {error}"));
                // EMFILE and the like: give closing connections a moment.
                ringtide::time::sleep(std::time::Duration::from_millis(1)).await;
                continue;
            }
        };
        let index = counters.accepted.fetch_add(1, Ordering::Relaxed);
        let live = counters.live.fetch_add(1, Ordering::Relaxed) + 1;
        counters.peak_live.fetch_max(live, Ordering::Relaxed);
        let guard = LiveGuard(counters.clone());
        let counters = counters.clone();
        if index.is_multiple_of(2) {
            counters.owned.fetch_add(1, Ordering::Relaxed);
            ringtide::spawn(async move {
                let _guard = guard;
                let end = echo_owned(stream, &counters).await;
                counters.finish(end, "owned-API");
            });
        } else {
            counters.poll.fetch_add(1, Ordering::Relaxed);
            ringtide::spawn(async move {
                let _guard = guard;
                let end = echo_poll(stream, &counters).await;
                counters.finish(end, "AsyncRead/AsyncWrite");
            });
        }
    }
}

/// Echo with `read_owned` / `write_all_owned`; at end of stream, `shutdown_with(Write)`.
async fn echo_owned(
    mut stream: ringtide::net::TcpStream,
    counters: &Counters,
) -> std::io::Result<()> {
    use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(BUFFER);
    loop {
        buf.clear();
        let (result, read_buf) = stream.read_owned(buf).await;
        let read = result?;
        if read == 0 {
            return stream.shutdown_with(std::net::Shutdown::Write).await;
        }
        let (result, written_buf) = stream.write_all_owned(read_buf).await;
        result?;
        counters.bytes.fetch_add(read as u64, Ordering::Relaxed);
        buf = written_buf;
    }
}

/// Echo with tokio's `AsyncReadExt::read` / `AsyncWriteExt::write_all`; at end of
/// stream, `AsyncWriteExt::shutdown`.
async fn echo_poll(
    mut stream: ringtide::net::TcpStream,
    counters: &Counters,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; BUFFER];
    loop {
        let read = stream.read(&mut buf).await?;
        if read == 0 {
            return stream.shutdown().await;
        }
        stream.write_all(&buf[..read]).await?;
        counters.bytes.fetch_add(read as u64, Ordering::Relaxed);
    }
}
