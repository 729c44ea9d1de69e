//! The `idle` workload (issue 17, goal 2): what 10 000 idle connections cost a server in
//! memory, each with a read pending, for a pooled read (`read_pooled` with a
//! [`BufPool`](ringtide::io::BufPool): the buffer is picked when data arrives) against a
//! read that owns a 4 KiB buffer per connection.
//!
//! ```text
//! cargo run --release -p ringtide-bench -- --only idle            # 10 000 connections, 5 rounds
//! cargo run --release -p ringtide-bench -- --only idle --smoke    # 300 connections, 2 rounds (CI)
//! ```
//!
//! Variants ([`Variant`]), each the same echo loop in its own server process (this
//! binary re-executed with [`ROLE_ENV`] naming the variant, pinned to the servers'
//! CPUs with one worker per CPU, as the network workloads):
//!
//! * ringtide io_uring, pooled: `read_pooled(&pool)`, one pool of
//!   [`Idle::pool_buffers`](crate::plan::Idle) 4 KiB buffers shared by every
//!   connection (a provided-buffer ring per worker); the echo copies the bytes out and
//!   drops the buffer before writing.
//! * ringtide io_uring, pooled, boxed write: the same with the write's future boxed
//!   while it runs. A task stores the largest of its await points' futures, and
//!   `write_all_owned`'s is larger than a pending pooled read's, so this variant shows
//!   what the pending read itself costs.
//! * ringtide io_uring, 4 KiB `Vec`: `read_owned` into a per-connection
//!   `Vec::with_capacity(4096)` that stays with the connection.
//! * the same three on ringtide's mio backend (the pool is a user-space free list there).
//! * tokio: `AsyncReadExt::read` into a per-connection `vec![0; 4096]`.
//!
//! Method, per measurement (a fresh server process each time, so no run inherits another's
//! heap): wait until the server is up and idle, read its baseline memory; open the
//! connections from this process (blocking sockets, in batches of [`BATCH`]); each sends
//! one message and reads its echo (the warm-up: every buffer a connection holds has been
//! written to); wait until the server counted every echo (after which each connection's
//! task is in its next read, pending), let it settle, read its memory again; then every
//! connection sends a second message, different per connection, and the echo is checked
//! byte for byte (the benchmark fails the run otherwise): idle connections still work.
//! Connections close with `SO_LINGER` 0 (a reset, no `TIME_WAIT` left behind).
//!
//! Memory, from the server's `/proc/<pid>`: `VmRSS` (`status`), `Pss` and
//! `Private_Clean + Private_Dirty` (`smaps_rollup`). Kernel memory (socket buffers, the
//! io_uring rings' kernel side) is not in any of them and is the same for every variant;
//! the provided-buffer ring and its buffers are user mappings, so the pooled variants'
//! numbers include what their reads touched. Per connection: (RSS with the connections −
//! baseline) / connections. Variants run interleaved (rotated each round); each figure is
//! the median of the rounds, ratios to tokio taken within a round.
//!
//! Where the bytes go: the server's allocator counts its live heap blocks by size
//! ([`heap_census`](crate::heap_census)), read (`HEAP`) with the baseline and again with
//! the connections idle; each variant's note line lists what one idle connection adds
//! (block size × blocks per connection), next to the sizes of its task's future and of
//! the pending read's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cpu;
use crate::net::control::parse_listen;
use crate::net::{CPUS_ENV, THREADS_ENV};
use crate::plan;
use crate::stats::{Spread, ratios_by_round, rotation};

/// Selects the idle-server role in a re-executed child; the value is a [`Variant::key`].
pub const ROLE_ENV: &str = "RINGTIDE_BENCH_IDLE_SERVER";
/// The pool's buffer count for the pooled variants (set by the parent).
const POOL_ENV: &str = "RINGTIDE_BENCH_IDLE_POOL";
/// Every per-connection buffer, and every pool buffer.
pub const BUFFER: usize = 4096;
/// Connections opened (and warmed up) at a time.
pub const BATCH: usize = 64;
/// How long a server may take to reach a state before the run fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// One server variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Variant {
    UringPooled,
    /// `read_pooled` with the write's future boxed: the task then stores only the
    /// pending read (its size decides an idle task's), not the larger write future.
    UringPooledBoxedWrite,
    UringVec,
    MioPooled,
    MioPooledBoxedWrite,
    MioVec,
    Tokio,
}

impl Variant {
    /// In table order.
    pub const ALL: [Variant; 7] = [
        Variant::UringPooled,
        Variant::UringPooledBoxedWrite,
        Variant::UringVec,
        Variant::MioPooled,
        Variant::MioPooledBoxedWrite,
        Variant::MioVec,
        Variant::Tokio,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::UringPooled => "ringtide io_uring, read_pooled",
            Variant::UringPooledBoxedWrite => "ringtide io_uring, read_pooled, boxed write",
            Variant::UringVec => "ringtide io_uring, 4 KiB Vec",
            Variant::MioPooled => "ringtide mio, read_pooled",
            Variant::MioPooledBoxedWrite => "ringtide mio, read_pooled, boxed write",
            Variant::MioVec => "ringtide mio, 4 KiB Vec",
            Variant::Tokio => "tokio, 4 KiB Vec",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Variant::UringPooled => "io_uring-pooled",
            Variant::UringPooledBoxedWrite => "io_uring-pooled-boxed-write",
            Variant::UringVec => "io_uring-vec",
            Variant::MioPooled => "mio-pooled",
            Variant::MioPooledBoxedWrite => "mio-pooled-boxed-write",
            Variant::MioVec => "mio-vec",
            Variant::Tokio => "tokio-vec",
        }
    }

    pub fn from_key(key: &str) -> Option<Variant> {
        Variant::ALL
            .into_iter()
            .find(|variant| variant.key() == key)
    }
}

// ---------------------------------------------------------------------------------------
// /proc parsing

/// A process's memory, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// `VmRSS` of `/proc/<pid>/status`.
    pub rss: u64,
    /// `Pss` of `/proc/<pid>/smaps_rollup`.
    pub pss: u64,
    /// `Private_Clean + Private_Dirty` of `smaps_rollup`.
    pub private: u64,
}

/// The value of the `key:` line of a `/proc` key-value file given in kB (`VmRSS:  1234
/// kB`), in bytes; `None` when the line is missing or does not parse.
pub fn kilobytes_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let mut words = rest.split_whitespace();
        let value: u64 = words.next()?.parse().ok()?;
        match words.next() {
            Some("kB") | Some("KB") => value.checked_mul(1024),
            _ => None,
        }
    })
}

/// Parses `/proc/<pid>/status` and `/proc/<pid>/smaps_rollup`; the error names the
/// missing field.
pub fn parse_memory(status: &str, smaps_rollup: &str) -> Result<Memory, String> {
    let field = |text: &str, file: &str, key: &str| {
        kilobytes_field(text, key).ok_or_else(|| format!("no {key} line in {file}"))
    };
    Ok(Memory {
        rss: field(status, "status", "VmRSS")?,
        pss: field(smaps_rollup, "smaps_rollup", "Pss")?,
        private: field(smaps_rollup, "smaps_rollup", "Private_Clean")?
            + field(smaps_rollup, "smaps_rollup", "Private_Dirty")?,
    })
}

/// Reads the memory of process `pid`.
pub fn memory_of(pid: u32) -> Result<Memory, String> {
    let read = |file: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{file}"))
            .map_err(|error| format!("reading /proc/{pid}/{file}: {error}"))
    };
    parse_memory(&read("status")?, &read("smaps_rollup")?)
}

// ---------------------------------------------------------------------------------------
// The server role

/// Messages echoed by this server process.
static ECHOES: AtomicU64 = AtomicU64::new(0);

/// The server role: pins itself, starts `key`'s echo server, prints `LISTEN <addr>
/// <description>` (or `ERROR <why>`), then answers `COUNT` with `COUNT <echoes>` until
/// stdin closes.
pub fn serve(key: &str) {
    let Some(variant) = Variant::from_key(key) else {
        println!("ERROR unknown idle server {key:?}");
        return;
    };
    if let Ok(cpus) = std::env::var(CPUS_ENV)
        && let Err(error) = cpu::parse_list(&cpus)
            .map_err(std::io::Error::other)
            .and_then(|cpus| cpu::pin(&cpus))
    {
        println!("ERROR could not pin to CPU {cpus}: {error}");
        return;
    }
    let threads = std::env::var(THREADS_ENV)
        .ok()
        .and_then(|threads| threads.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let pool_buffers = std::env::var(POOL_ENV)
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(256usize);
    cpu::raise_open_file_limit();
    crate::heap_census::start();
    let started = match start(variant, threads, pool_buffers) {
        Ok(started) => started,
        Err(error) => {
            println!("ERROR {error}");
            return;
        }
    };
    println!("LISTEN {} {}", started.0, started.1);
    let _ = std::io::stdout().flush();
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { break };
        let reply = match line.trim() {
            "COUNT" => format!("COUNT {}", ECHOES.load(Ordering::Acquire)),
            "HEAP" => format!("HEAP {}", crate::heap_census::snapshot()),
            "SIZES" => match FUTURE_SIZES.get() {
                Some((task, read)) => format!("SIZES {task} {read}"),
                None => "SIZES 0 0".to_owned(),
            },
            other => format!("ERROR unknown command {other:?}"),
        };
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{reply}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
    drop(started);
}

type Started = (SocketAddr, String, Box<dyn Send>);

fn listener() -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("a loopback address");
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    let listener: std::net::TcpListener = socket.into();
    listener.set_nonblocking(true)?;
    Ok(listener)
}

fn start(variant: Variant, threads: usize, pool_buffers: usize) -> std::io::Result<Started> {
    let listener = listener()?;
    let addr = listener.local_addr()?;
    match variant {
        Variant::Tokio => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()?;
            runtime.spawn(tokio_server(listener));
            Ok((
                addr,
                format!("tokio multi_thread, {threads} worker(s)"),
                Box::new(runtime),
            ))
        }
        _ => {
            let backend = match variant {
                Variant::UringPooled | Variant::UringPooledBoxedWrite | Variant::UringVec => {
                    ringtide::runtime::Backend::IoUring
                }
                _ => ringtide::runtime::Backend::Mio,
            };
            let runtime = ringtide::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .backend(backend)
                .enable_all()
                .build()?;
            if runtime.backend() != backend {
                return Err(std::io::Error::other(format!(
                    "asked for {backend:?}, the runtime runs {}",
                    runtime.backend()
                )));
            }
            let pooled = matches!(
                variant,
                Variant::UringPooled
                    | Variant::UringPooledBoxedWrite
                    | Variant::MioPooled
                    | Variant::MioPooledBoxedWrite
            );
            let boxed_write = matches!(
                variant,
                Variant::UringPooledBoxedWrite | Variant::MioPooledBoxedWrite
            );
            let description = if pooled {
                format!(
                    "Runtime::backend() = {}, {threads} worker(s), BufPool::new({pool_buffers}, {BUFFER})",
                    runtime.backend()
                )
            } else {
                format!(
                    "Runtime::backend() = {}, {threads} worker(s)",
                    runtime.backend()
                )
            };
            let pool = if pooled {
                Some(ringtide::io::BufPool::new(pool_buffers, BUFFER)?)
            } else {
                None
            };
            runtime.spawn(ringtide_server(listener, pool, boxed_write));
            Ok((addr, description, Box::new(runtime)))
        }
    }
}

/// The size of the first connection's task future and of its pending read's future,
/// said in the server's description line (what a pending read holds before the heap).
static FUTURE_SIZES: std::sync::OnceLock<(usize, usize)> = std::sync::OnceLock::new();

async fn ringtide_server(
    listener: std::net::TcpListener,
    pool: Option<ringtide::io::BufPool>,
    boxed_write: bool,
) {
    let listener = ringtide::net::TcpListener::from_std(listener).expect("from_std");
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        match pool.clone() {
            Some(pool) => {
                let read = std::mem::size_of_val(&stream.read_pooled(&pool));
                if boxed_write {
                    let task = pooled_connection_boxed_write(stream, pool);
                    FUTURE_SIZES.get_or_init(|| (std::mem::size_of_val(&task), read));
                    ringtide::spawn(task);
                } else {
                    let task = pooled_connection(stream, pool);
                    FUTURE_SIZES.get_or_init(|| (std::mem::size_of_val(&task), read));
                    ringtide::spawn(task);
                }
            }
            None => {
                let read = {
                    use ringtide::io::AsyncReadOwned;
                    std::mem::size_of_val(&stream.read_owned(Vec::<u8>::new()))
                };
                let task = vec_connection(stream);
                FUTURE_SIZES.get_or_init(|| (std::mem::size_of_val(&task), read));
                ringtide::spawn(task);
            }
        }
    }
}

/// The pooled echo loop: the pool's buffer goes back before the write.
async fn pooled_connection(mut stream: ringtide::net::TcpStream, pool: ringtide::io::BufPool) {
    use ringtide::io::AsyncWriteOwned;
    loop {
        let bytes = match stream.read_pooled(&pool).await {
            Ok(buf) if !buf.is_empty() => buf.to_vec(),
            _ => return,
        };
        if stream.write_all_owned(bytes).await.0.is_err() {
            return;
        }
        ECHOES.fetch_add(1, Ordering::Release);
    }
}

/// [`pooled_connection`] with the write's future in a box while it runs (its own
/// function: a runtime choice between the two would keep the unboxed one's room).
async fn pooled_connection_boxed_write(
    mut stream: ringtide::net::TcpStream,
    pool: ringtide::io::BufPool,
) {
    use ringtide::io::AsyncWriteOwned;
    loop {
        let bytes = match stream.read_pooled(&pool).await {
            Ok(buf) if !buf.is_empty() => buf.to_vec(),
            _ => return,
        };
        if Box::pin(stream.write_all_owned(bytes)).await.0.is_err() {
            return;
        }
        ECHOES.fetch_add(1, Ordering::Release);
    }
}

/// The owned-buffer echo loop: one 4 KiB `Vec` per connection.
async fn vec_connection(mut stream: ringtide::net::TcpStream) {
    use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
    let mut buf = Vec::with_capacity(BUFFER);
    loop {
        buf.clear();
        let (result, read_buf) = stream.read_owned(buf).await;
        match result {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (result, written_buf) = stream.write_all_owned(read_buf).await;
        if result.is_err() {
            return;
        }
        ECHOES.fetch_add(1, Ordering::Release);
        buf = written_buf;
    }
}

async fn tokio_server(listener: std::net::TcpListener) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::from_std(listener).expect("from_std");
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let task = async move {
            let _ = stream.set_nodelay(true);
            let mut buf = vec![0; BUFFER];
            loop {
                let read = match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(read) => read,
                };
                if stream.write_all(&buf[..read]).await.is_err() {
                    return;
                }
                ECHOES.fetch_add(1, Ordering::Release);
            }
        };
        FUTURE_SIZES.get_or_init(|| (std::mem::size_of_val(&task), 0));
        tokio::spawn(task);
    }
}

// ---------------------------------------------------------------------------------------
// The client side

/// One server child of a measurement.
struct IdleServer {
    child: Child,
    input: Option<ChildStdin>,
    output: BufReader<ChildStdout>,
    addr: SocketAddr,
    description: String,
}

impl IdleServer {
    fn spawn(variant: Variant, settings: &plan::Idle, split: &cpu::Split) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|error| format!("current_exe: {error}"))?;
        let mut command = Command::new(exe);
        command
            .env(ROLE_ENV, variant.key())
            .env(THREADS_ENV, split.server_threads().to_string())
            .env(POOL_ENV, settings.pool_buffers.to_string());
        if !split.server.is_empty() {
            command.env(CPUS_ENV, cpu::list(&split.server));
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| format!("spawning the server: {error}"))?;
        let input = child.stdin.take().expect("piped stdin");
        let mut output = BufReader::new(child.stdout.take().expect("piped stdout"));
        match read_line(&mut output).and_then(|line| parse_listen(&line)) {
            Ok((addr, description)) => Ok(IdleServer {
                child,
                input: Some(input),
                output,
                addr,
                description,
            }),
            Err(error) => {
                drop(input);
                let _ = child.wait();
                Err(error)
            }
        }
    }

    fn echoes(&mut self) -> Result<u64, String> {
        let input = self.input.as_mut().ok_or("the server was closed")?;
        writeln!(input, "COUNT")
            .and_then(|()| input.flush())
            .map_err(|error| format!("writing to the server: {error}"))?;
        let line = read_line(&mut self.output)?;
        parse_count(&line)
    }

    /// Waits until the server has echoed `count` messages.
    fn wait_for_echoes(&mut self, count: u64) -> Result<(), String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let echoes = self.echoes()?;
            if echoes >= count {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("the server echoed {echoes} of {count} messages"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// `SIZES`: the connection task's future and its read's future, in bytes.
    fn future_sizes(&mut self) -> Result<(u64, u64), String> {
        let input = self.input.as_mut().ok_or("the server was closed")?;
        writeln!(input, "SIZES")
            .and_then(|()| input.flush())
            .map_err(|error| format!("writing to the server: {error}"))?;
        let line = read_line(&mut self.output)?;
        parse_sizes(&line)
    }

    /// `HEAP`: the server's live heap by allocation size (`heap_census`).
    fn heap(&mut self) -> Result<Vec<(i64, i64)>, String> {
        let input = self.input.as_mut().ok_or("the server was closed")?;
        writeln!(input, "HEAP")
            .and_then(|()| input.flush())
            .map_err(|error| format!("writing to the server: {error}"))?;
        let line = read_line(&mut self.output)?;
        let census = line
            .strip_prefix("HEAP")
            .ok_or_else(|| format!("unexpected reply from the server: {line:?}"))?;
        crate::heap_census::parse(census)
    }

    fn memory(&self) -> Result<Memory, String> {
        memory_of(self.child.id())
    }
}

impl Drop for IdleServer {
    fn drop(&mut self) {
        drop(self.input.take());
        let _ = self.child.wait();
    }
}

fn read_line(output: &mut BufReader<ChildStdout>) -> Result<String, String> {
    let mut line = String::new();
    match output.read_line(&mut line) {
        Ok(0) => Err("the server exited".to_owned()),
        Ok(_) => Ok(line.trim().to_owned()),
        Err(error) => Err(format!("reading from the server: {error}")),
    }
}

/// Parses `COUNT <echoes>`.
pub fn parse_count(line: &str) -> Result<u64, String> {
    line.strip_prefix("COUNT ")
        .and_then(|count| count.parse().ok())
        .ok_or_else(|| format!("unexpected reply from the server: {line:?}"))
}

/// Parses `SIZES <task future bytes> <read future bytes>`.
pub fn parse_sizes(line: &str) -> Result<(u64, u64), String> {
    let fields: Option<Vec<u64>> = line
        .strip_prefix("SIZES ")
        .and_then(|rest| rest.split(' ').map(|field| field.parse().ok()).collect());
    match fields.as_deref() {
        Some(&[task, read]) => Ok((task, read)),
        _ => Err(format!("unexpected reply from the server: {line:?}")),
    }
}

/// The live heap an idle connection adds (`heap_census`): the total, then each
/// allocation size with its blocks per connection.
fn heap_text(before: &[(i64, i64)], after: &[(i64, i64)], connections: usize) -> String {
    let (rows, total) = crate::heap_census::per_connection(before, after, connections);
    let rows: Vec<String> = rows
        .iter()
        .map(|(size, per)| format!("{size} B × {per:.2}"))
        .collect();
    format!(
        "live heap per connection {total:.0} B (malloc blocks, headers included): {}",
        rows.join(", ")
    )
}

/// Connection `index`'s message of `round` (1: warm-up, 2: the check): different for
/// every connection and round, so a misrouted or stale echo shows.
pub fn message(index: usize, round: u8, len: usize) -> Vec<u8> {
    let seed = (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(round);
    (0..len)
        .map(|at| (seed.rotate_left((at % 64) as u32) as u8).wrapping_add(at as u8))
        .collect()
}

/// Sends message `round` on each of `streams` (the first is number `first`) and
/// checks each echo.
fn exchange(streams: &mut [TcpStream], first: usize, round: u8, len: usize) -> Result<(), String> {
    for (offset, stream) in streams.iter_mut().enumerate() {
        stream
            .write_all(&message(first + offset, round, len))
            .map_err(|error| format!("connection {}: writing: {error}", first + offset))?;
    }
    let mut echo = vec![0; len];
    for (offset, stream) in streams.iter_mut().enumerate() {
        let index = first + offset;
        stream
            .read_exact(&mut echo)
            .map_err(|error| format!("connection {index}: reading the echo: {error}"))?;
        if echo != message(index, round, len) {
            return Err(format!(
                "connection {index}: the echo differs from the message"
            ));
        }
    }
    Ok(())
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr).map_err(|error| format!("connect: {error}"))?;
    let socket = socket2::SockRef::from(&stream);
    // A reset on close: no TIME_WAIT left behind by thousands of connections per run.
    socket
        .set_linger(Some(Duration::ZERO))
        .and_then(|()| stream.set_nodelay(true))
        .and_then(|()| stream.set_read_timeout(Some(PATIENCE)))
        .map_err(|error| format!("socket options: {error}"))?;
    Ok(stream)
}

/// What one measurement gave.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct IdleSample {
    pub baseline: Memory,
    pub loaded: Memory,
    /// (loaded RSS − baseline RSS) / connections.
    pub rss_per_connection: f64,
}

/// Why a measurement gave no sample.
#[derive(Debug)]
pub enum Failure {
    /// The server could not start here (e.g. no io_uring): noted, the suite goes on.
    Skipped(String),
    /// The server misbehaved (a lost or wrong echo, a hang): the suite fails.
    Failed(String),
}

/// One measurement of `variant` (see the module doc).
pub fn measure(
    variant: Variant,
    settings: &plan::Idle,
    split: &cpu::Split,
) -> Result<(IdleSample, String), Failure> {
    let server = IdleServer::spawn(variant, settings, split).map_err(Failure::Skipped)?;
    measure_on(server, settings).map_err(Failure::Failed)
}

fn measure_on(
    mut server: IdleServer,
    settings: &plan::Idle,
) -> Result<(IdleSample, String), String> {
    std::thread::sleep(settings.settle);
    let baseline = server.memory()?;
    let heap_before = server.heap()?;
    let connections = settings.connections;
    let mut streams: Vec<TcpStream> = Vec::with_capacity(connections);
    while streams.len() < connections {
        let first = streams.len();
        let count = BATCH.min(connections - first);
        for _ in 0..count {
            streams.push(connect(server.addr)?);
        }
        exchange(&mut streams[first..], first, 1, settings.message)?;
    }
    server.wait_for_echoes(connections as u64)?;
    std::thread::sleep(settings.settle);
    let loaded = server.memory()?;
    let heap_loaded = server.heap()?;
    let (task, read) = server.future_sizes()?;
    for first in (0..connections).step_by(BATCH) {
        let end = (first + BATCH).min(connections);
        exchange(&mut streams[first..end], first, 2, settings.message)?;
    }
    server.wait_for_echoes(2 * connections as u64)?;
    drop(streams);
    let description = if read > 0 {
        format!(
            "{}; connection task future {task} B, its pending read's future {read} B",
            server.description
        )
    } else {
        format!("{}; connection task future {task} B", server.description)
    };
    let description = format!(
        "{description}; {}",
        heap_text(&heap_before, &heap_loaded, connections)
    );
    drop(server);
    Ok((
        IdleSample {
            baseline,
            loaded,
            rss_per_connection: (loaded.rss as f64 - baseline.rss as f64) / connections as f64,
        },
        description,
    ))
}

/// The summary of one variant over the rounds.
#[derive(Clone, Debug, Serialize)]
pub struct IdleSummary {
    pub variant: Variant,
    pub description: String,
    pub baseline_rss: Option<Spread>,
    pub loaded_rss: Option<Spread>,
    pub loaded_pss: Option<Spread>,
    pub loaded_private: Option<Spread>,
    pub rss_per_connection: Option<Spread>,
    /// Loaded RSS / tokio's, per round.
    pub rss_vs_tokio: Option<Spread>,
    /// Per-connection RSS / tokio's, per round.
    pub per_connection_vs_tokio: Option<Spread>,
    pub samples: Vec<Option<IdleSample>>,
}

/// Every variant's summary from `rounds[r][v]` (round `r`, [`Variant::ALL`]`[v]`).
pub fn summarise(rounds: &[Vec<Option<IdleSample>>], descriptions: &[String]) -> Vec<IdleSummary> {
    let tokio = Variant::ALL
        .iter()
        .position(|&variant| variant == Variant::Tokio)
        .expect("tokio is a variant");
    let column = |index: usize, of: &dyn Fn(&IdleSample) -> f64| -> Vec<Option<f64>> {
        rounds
            .iter()
            .map(|round| round[index].as_ref().map(of))
            .collect()
    };
    Variant::ALL
        .iter()
        .enumerate()
        .map(|(index, &variant)| {
            let spread = |of: &dyn Fn(&IdleSample) -> f64| {
                Spread::of(column(index, of).into_iter().flatten())
            };
            let rss = |sample: &IdleSample| sample.loaded.rss as f64;
            let per = |sample: &IdleSample| sample.rss_per_connection;
            IdleSummary {
                variant,
                description: descriptions.get(index).cloned().unwrap_or_default(),
                baseline_rss: spread(&|sample| sample.baseline.rss as f64),
                loaded_rss: spread(&rss),
                loaded_pss: spread(&|sample| sample.loaded.pss as f64),
                loaded_private: spread(&|sample| sample.loaded.private as f64),
                rss_per_connection: spread(&per),
                rss_vs_tokio: Spread::of(ratios_by_round(
                    &column(index, &rss),
                    &column(tokio, &rss),
                )),
                per_connection_vs_tokio: Spread::of(ratios_by_round(
                    &column(index, &per),
                    &column(tokio, &per),
                )),
                samples: rounds.iter().map(|round| round[index]).collect(),
            }
        })
        .collect()
}

fn mib(bytes: f64) -> String {
    format!("{:.1}", bytes / (1024.0 * 1024.0))
}

/// The Markdown table of `summaries` for `connections` connections.
pub fn markdown_table(summaries: &[IdleSummary], connections: usize) -> String {
    let mut table = format!(
        "| server ({connections} idle connections) | baseline RSS MiB | RSS MiB | Pss MiB | Private MiB | RSS B/conn | RSS × tokio | B/conn × tokio |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    let cell = |spread: &Option<Spread>, show: &dyn Fn(f64) -> String| match spread {
        Some(spread) => show(spread.median),
        None => "failed".to_owned(),
    };
    for summary in summaries {
        let ratio = |value: f64| format!("{value:.2}");
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            summary.variant.name(),
            cell(&summary.baseline_rss, &mib),
            cell(&summary.loaded_rss, &mib),
            cell(&summary.loaded_pss, &mib),
            cell(&summary.loaded_private, &mib),
            cell(&summary.rss_per_connection, &|value| format!("{value:.0}")),
            cell(&summary.rss_vs_tokio, &ratio),
            cell(&summary.per_connection_vs_tokio, &ratio),
        ));
    }
    table
}

/// What the results folder gets: the table and the JSON.
#[derive(Serialize)]
struct IdleReport<'a> {
    connections: usize,
    message_bytes: usize,
    pool_buffers: usize,
    runs: usize,
    load_before: &'a str,
    load_after: &'a str,
    summaries: &'a [IdleSummary],
}

/// `/proc/loadavg`'s first three fields (the machine is shared: said next to the numbers).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Runs the workload: `runs` rounds over every variant, rotated, counted on `progress`.
/// Returns the Markdown (table and notes) and writes `idle.md` and `idle.json` into
/// `out`. A variant whose server cannot start here is skipped (noted); any other failed
/// measurement (a wrong or missing echo) makes it an error, after writing what was
/// measured.
pub fn run(
    settings: &plan::Idle,
    runs: usize,
    split: &cpu::Split,
    out: &std::path::Path,
    progress: &indicatif::ProgressBar,
) -> Result<String, String> {
    cpu::raise_open_file_limit();
    let load_before = load_average();
    let mut rounds: Vec<Vec<Option<IdleSample>>> = Vec::new();
    let mut descriptions = vec![String::new(); Variant::ALL.len()];
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for round in 0..runs {
        let mut samples = vec![None; Variant::ALL.len()];
        for index in rotation(round, Variant::ALL.len()) {
            let variant = Variant::ALL[index];
            progress.set_message(format!(
                "idle: {} (run {}/{runs})",
                variant.name(),
                round + 1
            ));
            let measured = measure(variant, settings, split);
            progress.inc(1);
            match measured {
                Ok((sample, description)) => {
                    samples[index] = Some(sample);
                    descriptions[index] = description;
                }
                Err(Failure::Skipped(error)) => {
                    let note = format!("idle: {} skipped: {error}", variant.name());
                    if !skipped.contains(&note) {
                        progress.suspend(|| println!("  {note}"));
                        skipped.push(note);
                    }
                }
                Err(Failure::Failed(error)) => {
                    let note = format!("idle: {} failed: {error}", variant.name());
                    progress.suspend(|| println!("  {note}"));
                    failures.push(note);
                }
            }
        }
        rounds.push(samples);
    }
    let load_after = load_average();
    let summaries = summarise(&rounds, &descriptions);
    let mut text = markdown_table(&summaries, settings.connections);
    text.push_str(&format!(
        "\nidle: median of {runs} interleaved rounds; {} B warm-up message per connection; \
         pooled: one BufPool of {} × {BUFFER} B; load average {load_before} before, {load_after} after\n",
        settings.message, settings.pool_buffers
    ));
    for summary in &summaries {
        text.push_str(&format!(
            "idle: {}: {}\n",
            summary.variant.name(),
            summary.description
        ));
    }
    for note in skipped.iter().chain(&failures) {
        text.push_str(&format!("{note}\n"));
    }
    std::fs::create_dir_all(out).map_err(|error| format!("creating {}: {error}", out.display()))?;
    let report = IdleReport {
        connections: settings.connections,
        message_bytes: settings.message,
        pool_buffers: settings.pool_buffers,
        runs,
        load_before: &load_before,
        load_after: &load_after,
        summaries: &summaries,
    };
    let json = serde_json::to_string_pretty(&report).map_err(|error| format!("JSON: {error}"))?;
    let write = |name: &str, contents: &str| {
        std::fs::write(out.join(name), contents)
            .map_err(|error| format!("writing {}: {error}", out.join(name).display()))
    };
    write("idle.json", &(json + "\n"))?;
    write("idle.md", &text)?;
    if !failures.is_empty() {
        return Err(failures.join("; "));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tringtide-bench\nVmPeak:\t  123456 kB\nVmRSS:\t    5120 kB\nRssAnon:\t    4000 kB\nThreads:\t2\n";
    const ROLLUP: &str = "55d0c0000000-7ffd00000000 ---p 00000000 00:00 0                          [rollup]\n\
        Rss:                5120 kB\nPss:                4600 kB\nPss_Anon:           4000 kB\n\
        Shared_Clean:        800 kB\nShared_Dirty:          0 kB\nPrivate_Clean:       320 kB\n\
        Private_Dirty:      4000 kB\nReferenced:         5120 kB\n";

    #[test]
    fn proc_fields_parse_into_bytes() {
        assert_eq!(
            parse_memory(STATUS, ROLLUP),
            Ok(Memory {
                rss: 5120 * 1024,
                pss: 4600 * 1024,
                private: (320 + 4000) * 1024,
            })
        );
        // `Pss:` is not `Pss_Anon:`, and `Rss` in status is not `VmRSS`.
        assert_eq!(kilobytes_field(ROLLUP, "Pss"), Some(4600 * 1024));
        assert_eq!(kilobytes_field(STATUS, "RSS"), None);
    }

    #[test]
    fn bad_proc_text_is_an_error_that_names_the_field() {
        assert_eq!(
            parse_memory("VmPeak: 1 kB\n", ROLLUP),
            Err("no VmRSS line in status".to_owned())
        );
        assert_eq!(
            parse_memory(STATUS, "Rss: 1 kB\nPss: 1 kB\nPrivate_Clean: 1 kB\n"),
            Err("no Private_Dirty line in smaps_rollup".to_owned())
        );
        // No unit, another unit, not a number, an overflow: not a value.
        for bad in [
            "VmRSS: 12",
            "VmRSS: 12 MB",
            "VmRSS: x kB",
            "VmRSS: 18446744073709551615 kB",
        ] {
            assert_eq!(kilobytes_field(bad, "VmRSS"), None, "{bad}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_memory_reads_from_proc() {
        let memory = memory_of(std::process::id()).expect("/proc/self is readable");
        assert!(
            memory.rss > 0 && memory.pss > 0 && memory.private > 0,
            "{memory:?}"
        );
        assert!(memory.pss <= memory.rss, "{memory:?}");
    }

    #[test]
    fn count_replies_parse() {
        assert_eq!(parse_count("COUNT 10000"), Ok(10_000));
        assert!(parse_count("COUNT").is_err());
        assert!(parse_count("ERROR unknown command").is_err());
        assert_eq!(parse_sizes("SIZES 512 96"), Ok((512, 96)));
        assert!(parse_sizes("SIZES 512").is_err());
        assert!(parse_sizes("COUNT 1 2").is_err());
    }

    #[test]
    fn messages_differ_per_connection_and_round() {
        assert_eq!(message(3, 1, 100), message(3, 1, 100));
        assert_ne!(message(3, 1, 100), message(4, 1, 100));
        assert_ne!(message(3, 1, 100), message(3, 2, 100));
        assert_eq!(message(0, 1, 1024).len(), 1024);
    }

    /// A loopback server that echoes every connection's bytes, flipping one byte of
    /// connection `corrupt`'s second message.
    fn echo_server(corrupt: usize) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for (index, stream) in listener.incoming().enumerate() {
                let mut stream = stream.unwrap();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 64];
                    for round in 1.. {
                        if stream.read_exact(&mut buf).is_err() {
                            return;
                        }
                        if index == corrupt && round == 2 {
                            buf[7] ^= 1;
                        }
                        if stream.write_all(&buf).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn a_wrong_echo_fails_the_check_and_right_ones_pass() {
        let addr = echo_server(1);
        let mut streams: Vec<TcpStream> = (0..3).map(|_| connect(addr).unwrap()).collect();
        exchange(&mut streams, 0, 1, 64).expect("the warm-up echoes are right");
        let error = exchange(&mut streams, 0, 2, 64).unwrap_err();
        assert_eq!(error, "connection 1: the echo differs from the message");
        // A server that closes instead of echoing is an error too, not a hang.
        drop(streams);
        let closing = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closing.local_addr().unwrap();
        let mut stream = [connect(addr).unwrap()];
        drop(closing.accept().unwrap());
        let error = exchange(&mut stream, 0, 1, 64).unwrap_err();
        assert!(error.starts_with("connection 0:"), "{error}");
    }

    #[test]
    fn variants_round_trip_through_their_keys() {
        for variant in Variant::ALL {
            assert_eq!(Variant::from_key(variant.key()), Some(variant));
        }
        assert_eq!(Variant::from_key("monoio"), None);
    }

    fn sample(baseline: u64, loaded: u64, connections: u64) -> Option<IdleSample> {
        let memory = |rss| Memory {
            rss,
            pss: rss,
            private: rss,
        };
        Some(IdleSample {
            baseline: memory(baseline),
            loaded: memory(loaded),
            rss_per_connection: (loaded - baseline) as f64 / connections as f64,
        })
    }

    #[test]
    fn summaries_take_ratios_within_a_round() {
        // Two rounds; the second is a noisy one for everyone, which cancels in the ratio.
        let round = |scale: u64| {
            let mut samples = vec![None; Variant::ALL.len()];
            samples[0] = sample(2_000 * scale, 10_000 * scale, 1_000);
            samples[6] = sample(2_000 * scale, 42_000 * scale, 1_000);
            samples
        };
        let summaries = summarise(&[round(1), round(2)], &[]);
        let pooled = &summaries[0];
        assert_eq!(pooled.variant, Variant::UringPooled);
        let ratio = pooled.per_connection_vs_tokio.unwrap();
        assert_eq!((ratio.min, ratio.max), (0.2, 0.2));
        assert!((pooled.rss_vs_tokio.unwrap().median - 10.0 / 42.0).abs() < 1e-12);
        assert_eq!(pooled.rss_per_connection.unwrap().median, 12.0);
        // A variant with no sample is "failed" in the table, not a zero.
        assert!(summaries[2].loaded_rss.is_none());
        let table = markdown_table(&summaries, 1_000);
        assert!(
            table.contains("| ringtide io_uring, 4 KiB Vec | failed |"),
            "{table}"
        );
        assert!(table.contains("| tokio, 4 KiB Vec |"), "{table}");
    }
}
