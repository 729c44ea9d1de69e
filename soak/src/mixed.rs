//! The mixed workload: timers, `spawn_blocking`, `block_in_place` and task aborts with
//! I/O in flight, all in one ringtide multi-thread runtime (its own process: the soak
//! binary re-executed with `RINGTIDE_SOAK_ROLE=mixed`), then a leak check.
//!
//! The runtime serves itself: a listener in the same runtime accepts connections whose
//! first byte says what the server side does (`E`: echo with the owned API, `S`: read
//! and never answer, `D`: drain slowly). `actors` tasks loop until the deadline, each
//! round one scenario picked at random:
//!
//! * `echo`: a message (log-uniform 1 B–64 KiB) written and read back at once through
//!   tokio's traits on ringtide's stream, checked byte for byte and by checksum, under
//!   `ringtide::time::timeout`; then a half-close and the server's end of stream.
//! * `spawn_blocking`: the same echo while the blocking pool sums another buffer
//!   (sleeping up to 2 ms); the sum must equal the one computed in the task.
//! * `block_in_place`: an echo running in a spawned task while this task blocks its
//!   worker in `block_in_place` (1 ms sleep and a sum), then joins it.
//! * `abort read`: a task reading (owned API or poll traits, alternately) from a silent
//!   connection is aborted after 0–2 ms; it must end cancelled, never with data.
//! * `abort write`: a task writing 8 MiB to a slowly draining peer is aborted after
//!   1–3 ms; cancelled or finished are both fine, an error is not.
//! * `timers`: an interval ticks 3 times, a `timeout` around a read on a silent
//!   connection must elapse (the in-flight read is dropped) and the same stream must
//!   still write, and an hour-long sleeper task is aborted.
//! * `abort accept`: a task accepting on a fresh listener (sometimes with a connect
//!   racing it) is aborted after 0–1 ms.
//!
//! At the end the accept loop is aborted (an accept in flight), and the workload waits
//! up to 5 s for the runtime to settle: no task alive, no timer in the wheel, no op in
//! flight, no mio registration, and the process back to the descriptors it had before
//! the workload; after the runtime is dropped, back to those it had before the runtime.
//! io_uring instances are counted apart: a thread that drove a worker core (a pool
//! thread after `block_in_place`, the `block_on` thread) keeps its ring for reuse until
//! it exits.
//!
//! A part that an open runtime bug breaks is left out on the affected backend
//! ([`KNOWN_BUGS`], reported in `known_bugs_skipped`; [`KNOWN_BUGS_ENV`] = `1` runs it).
//! [`SCENARIOS_ENV`] narrows the run to some scenarios, to find which one fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpStream};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::client::exchange;
use crate::error_log::ErrorLog;
use crate::pattern::{Checksum, Pattern, Random};
use crate::process::{self, ProcessSample};
use crate::server::{self, is_reset};

/// The workload's length (milliseconds) in the child.
pub const DURATION_ENV: &str = "RINGTIDE_SOAK_DURATION_MS";
/// Concurrent actors in the child.
pub const ACTORS_ENV: &str = "RINGTIDE_SOAK_ACTORS";
/// Restricts the scenarios to a comma-separated list of their numbers (0–6, in the
/// order of the module docs), to narrow down a failure.
pub const SCENARIOS_ENV: &str = "RINGTIDE_SOAK_SCENARIOS";
/// `1`: also run what a known runtime bug breaks (see [`KNOWN_BUGS`]).
pub const KNOWN_BUGS_ENV: &str = "RINGTIDE_SOAK_KNOWN_BUGS";
/// Parts of the workload left out on a backend because of an open runtime bug, each
/// with the test that shows it; `--with-known-bugs` runs them anyway.
/// None today: the io_uring poll path's spin after `block_in_place` (a retired ring's
/// `-ECANCELED` marked the readiness closed) is fixed and covered by
/// `tests/net_poll_block_in_place.rs`.
pub const KNOWN_BUGS: &[(&str, &str)] = &[];
/// The share of the run after which the resident memory is taken as "warm".
const WARM_UP_FRACTION: f64 = 0.5;
/// The `block_in_place` scenario's number.
const BLOCK_IN_PLACE: u64 = 2;
/// How long one step may take before it counts as a hang.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the child prints as `RESULT <json>`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MixedReport {
    pub backend: String,
    pub workers: usize,
    pub actors: usize,
    pub duration_s: f64,
    pub rounds: u64,
    pub echoes: u64,
    pub bytes_verified: u64,
    pub spawn_blocking: u64,
    pub block_in_place: u64,
    pub aborted_reads: u64,
    pub aborted_writes: u64,
    /// Writes that finished before their abort landed (fine, counted apart).
    pub writes_finished_before_abort: u64,
    pub aborted_accepts: u64,
    pub accepts_finished_before_abort: u64,
    pub timeouts_elapsed: u64,
    pub interval_ticks: u64,
    pub aborted_sleepers: u64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// At the end, after the settle wait.
    pub alive_tasks_end: usize,
    pub timers_end: usize,
    pub io_in_flight_end: u64,
    pub io_registered_end: u64,
    pub settle_ms: u64,
    /// What was left out because of a known bug on this backend.
    pub known_bugs_skipped: Vec<String>,
    /// The descriptors open before the runtime and after its drop, when they differ.
    pub fds_before_runtime_list: Vec<String>,
    pub fds_after_drop_list: Vec<String>,
    pub before_runtime: ProcessSample,
    pub baseline: ProcessSample,
    pub warm: ProcessSample,
    pub end: ProcessSample,
    pub after_settle: ProcessSample,
    pub after_drop: ProcessSample,
}

#[derive(Default)]
struct Counters {
    rounds: AtomicU64,
    echoes: AtomicU64,
    bytes_verified: AtomicU64,
    spawn_blocking: AtomicU64,
    block_in_place: AtomicU64,
    aborted_reads: AtomicU64,
    aborted_writes: AtomicU64,
    writes_finished: AtomicU64,
    aborted_accepts: AtomicU64,
    accepts_finished: AtomicU64,
    timeouts_elapsed: AtomicU64,
    interval_ticks: AtomicU64,
    aborted_sleepers: AtomicU64,
    errors: ErrorLog,
}

impl Counters {
    fn error(&self, what: String) {
        self.errors.record(what);
    }
}

/// The `mixed` role: runs the workload, prints `RESULT <json>`.
pub fn run() -> std::io::Result<()> {
    process::raise_fd_limit()?;
    let backend = server::backend_from_env()?;
    let workers = server::workers_from_env();
    let duration = Duration::from_millis(
        std::env::var(DURATION_ENV)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(5000),
    );
    let actors: usize = std::env::var(ACTORS_ENV)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(64);
    let scenarios: Vec<u64> = std::env::var(SCENARIOS_ENV)
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|item| item.trim().parse().ok())
                .collect()
        })
        .filter(|list: &Vec<u64>| !list.is_empty())
        .unwrap_or_else(|| (0..=6).collect());
    let known_bugs = std::env::var(KNOWN_BUGS_ENV).as_deref() == Ok("1");
    let mut report = MixedReport {
        workers,
        actors,
        duration_s: duration.as_secs_f64(),
        before_runtime: process::sample(),
        ..MixedReport::default()
    };
    let fds_before_runtime = process::fd_targets();
    let runtime = ringtide::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .backend(backend)
        .enable_all()
        .build()?;
    report.backend = runtime.backend().to_string();
    let scenarios: Vec<u64> = if !known_bugs
        && KNOWN_BUGS
            .iter()
            .any(|(affected, _)| *affected == report.backend)
    {
        report.known_bugs_skipped = KNOWN_BUGS
            .iter()
            .filter(|(affected, _)| *affected == report.backend)
            .map(|(_, what)| what.to_string())
            .collect();
        scenarios
            .into_iter()
            .filter(|&scenario| scenario != BLOCK_IN_PLACE)
            .collect()
    } else {
        scenarios
    };
    if scenarios.is_empty() {
        return Err(std::io::Error::other("no scenario left to run"));
    }
    report.baseline = process::sample();
    let counters = Arc::new(Counters::default());
    let metrics = runtime.metrics();
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let accept = ringtide::spawn(serve(listener, counters.clone()));
        let started = Instant::now();
        let deadline = started + duration;
        let mut tasks = Vec::with_capacity(actors);
        for actor in 0..actors {
            let counters = counters.clone();
            let scenarios = scenarios.clone();
            tasks.push(ringtide::spawn(async move {
                let mut random = Random::new(0x5eed ^ ((actor as u64) << 32));
                while Instant::now() < deadline {
                    counters.rounds.fetch_add(1, Ordering::Relaxed);
                    let scenario = scenarios[random.range(0, scenarios.len() as u64 - 1) as usize];
                    let step = round(scenario, addr, &counters, &mut random);
                    match ringtide::time::timeout(STEP_TIMEOUT, step).await {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => counters.error(format!("scenario {scenario}: {error}")),
                        Err(_) => counters.error(format!(
                            "scenario {scenario} did not finish within {STEP_TIMEOUT:?}"
                        )),
                    }
                }
            }));
        }
        ringtide::time::sleep(duration.mul_f64(WARM_UP_FRACTION)).await;
        report.warm = process::sample();
        ringtide::time::sleep_until(deadline.into()).await;
        report.end = process::sample();
        for task in tasks {
            if let Err(error) = task.await {
                counters.error(format!("actor task: {error}"));
            }
        }
        accept.abort();
        match accept.await {
            Err(error) if error.is_cancelled() => {}
            other => counters.error(format!("the aborted accept loop ended with {other:?}")),
        }
        // Settle: connection tasks see their peers' end of stream, cancelled ops
        // complete, closes land.
        let settle = Instant::now();
        loop {
            let io = metrics.io();
            let sample = process::sample();
            let settled = metrics.num_alive_tasks() == 0
                && metrics.timers() == 0
                && io.in_flight == 0
                && io.registered == 0
                && sample.fds_without_rings() == report.baseline.fds_without_rings();
            if settled || settle.elapsed() > Duration::from_secs(5) {
                break;
            }
            ringtide::time::sleep(Duration::from_millis(10)).await;
        }
        report.settle_ms = settle.elapsed().as_millis() as u64;
        Ok::<_, std::io::Error>(())
    })?;
    // Read outside `block_on` too (its own future no longer holds anything).
    let io = metrics.io();
    report.alive_tasks_end = metrics.num_alive_tasks();
    report.timers_end = metrics.timers();
    report.io_in_flight_end = io.in_flight;
    report.io_registered_end = io.registered;
    report.after_settle = process::sample();
    drop(metrics);
    drop(runtime);
    // Pool threads left detached by the drop close their rings as they exit.
    let dropped = Instant::now();
    report.after_drop = process::sample();
    while report.after_drop.fds_without_rings() != report.before_runtime.fds_without_rings()
        && dropped.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(10));
        report.after_drop = process::sample();
    }
    if report.after_drop.fds_without_rings() != report.before_runtime.fds_without_rings() {
        report.fds_before_runtime_list = fds_before_runtime;
        report.fds_after_drop_list = process::fd_targets();
    }

    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    report.rounds = load(&counters.rounds);
    report.echoes = load(&counters.echoes);
    report.bytes_verified = load(&counters.bytes_verified);
    report.spawn_blocking = load(&counters.spawn_blocking);
    report.block_in_place = load(&counters.block_in_place);
    report.aborted_reads = load(&counters.aborted_reads);
    report.aborted_writes = load(&counters.aborted_writes);
    report.writes_finished_before_abort = load(&counters.writes_finished);
    report.aborted_accepts = load(&counters.aborted_accepts);
    report.accepts_finished_before_abort = load(&counters.accepts_finished);
    report.timeouts_elapsed = load(&counters.timeouts_elapsed);
    report.interval_ticks = load(&counters.interval_ticks);
    report.aborted_sleepers = load(&counters.aborted_sleepers);
    report.errors = counters.errors.count();
    report.error_samples = counters.errors.samples();
    println!(
        "RESULT {}",
        serde_json::to_string(&report).map_err(std::io::Error::other)?
    );
    Ok(())
}

/// The server side: the first byte of a connection picks its behaviour.
async fn serve(listener: TcpListener, counters: Arc<Counters>) {
    loop {
        let mut stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                counters.error(format!("accept: {error}"));
                ringtide::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        let counters = counters.clone();
        ringtide::spawn(async move {
            let result = async {
                // The owned API: a poll-path read here would be in flight when a worker
                // enters `block_in_place` (see `KNOWN_BUGS`).
                let (result, command) = stream.read_exact_owned(vec![0u8; 1]).await;
                result?;
                let command = command[0];
                match command {
                    b'E' => echo(&mut stream).await,
                    b'S' => drain(&mut stream, Duration::ZERO).await,
                    b'D' => drain(&mut stream, Duration::from_millis(1)).await,
                    other => Err(std::io::Error::other(format!("unknown command {other}"))),
                }
            }
            .await;
            match result {
                Ok(()) => {}
                // A client that aborted a write mid-way, or dropped with unread data.
                Err(error) if is_reset(&error) => {}
                Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {}
                Err(error) => counters.error(format!("server connection: {error}")),
            }
        });
    }
}

async fn echo(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        let (result, read_buf) = stream.read_owned(buf).await;
        if result? == 0 {
            return stream.shutdown_with(std::net::Shutdown::Write).await;
        }
        let (result, written_buf) = stream.write_all_owned(read_buf).await;
        result?;
        buf = written_buf;
    }
}

/// Reads and drops everything, pausing `pause` between reads, until end of stream.
async fn drain(stream: &mut TcpStream, pause: Duration) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(65536);
    loop {
        buf.clear();
        let (result, read_buf) = stream.read_owned(buf).await;
        if result? == 0 {
            return Ok(());
        }
        buf = read_buf;
        if !pause.is_zero() {
            ringtide::time::sleep(pause).await;
        }
    }
}

async fn connect(addr: std::net::SocketAddr, command: u8) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (result, _) = stream.write_all_owned(vec![command]).await;
    result?;
    Ok(stream)
}

/// The 8 MiB the `abort write` scenario writes, allocated once.
fn big_block() -> &'static [u8] {
    static BLOCK: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BLOCK.get_or_init(|| vec![7u8; 8 << 20])
}

fn sum(bytes: &[u8]) -> Checksum {
    let mut checksum = Checksum::default();
    checksum.update(bytes);
    checksum
}

fn random_bytes(random: &mut Random) -> Vec<u8> {
    let mut bytes = vec![0u8; random.log_uniform(1, 65536) as usize];
    Pattern::new(random.next_u64()).fill(&mut bytes);
    bytes
}

/// An echo of a random message on a fresh `E` connection, then the half-close.
async fn echo_round(
    addr: std::net::SocketAddr,
    counters: &Counters,
    size: usize,
    seed: u64,
) -> std::io::Result<()> {
    let mut stream = connect(addr, b'E').await?;
    let (mut reader, mut writer) = stream.split();
    exchange(&mut reader, &mut writer, size, seed, false).await?;
    stream.shutdown().await?;
    let mut byte = [0u8; 1];
    if stream.read(&mut byte).await? != 0 {
        return Err(std::io::Error::other("a byte after the echo"));
    }
    counters.echoes.fetch_add(1, Ordering::Relaxed);
    counters
        .bytes_verified
        .fetch_add(size as u64, Ordering::Relaxed);
    Ok(())
}

/// [`echo_round`] with the owned-buffer API: `write_all_owned` and `read_exact_owned`
/// at once on the stream's halves.
async fn echo_round_owned(
    addr: std::net::SocketAddr,
    counters: &Counters,
    size: usize,
    seed: u64,
) -> std::io::Result<()> {
    let mut stream = connect(addr, b'E').await?;
    let mut message = vec![0u8; size];
    Pattern::new(seed).fill(&mut message);
    let expected = sum(&message);
    let (mut reader, mut writer) = stream.split();
    let (written, read) = futures::join!(
        writer.write_all_owned(message),
        reader.read_exact_owned(vec![0u8; size])
    );
    written.0?;
    read.0?;
    let echoed = read.1;
    let mut pattern = vec![0u8; size];
    Pattern::new(seed).fill(&mut pattern);
    if echoed != pattern || sum(&echoed) != expected {
        return Err(std::io::Error::other(
            "the owned-API echo differs from what was sent",
        ));
    }
    stream.shutdown_with(std::net::Shutdown::Write).await?;
    let (result, _) = stream.read_owned(Vec::with_capacity(1)).await;
    if result? != 0 {
        return Err(std::io::Error::other("a byte after the echo"));
    }
    counters.echoes.fetch_add(1, Ordering::Relaxed);
    counters
        .bytes_verified
        .fetch_add(size as u64, Ordering::Relaxed);
    Ok(())
}

async fn round(
    scenario: u64,
    addr: std::net::SocketAddr,
    counters: &Arc<Counters>,
    random: &mut Random,
) -> std::io::Result<()> {
    let size = random.log_uniform(1, 65536) as usize;
    let seed = random.next_u64();
    match scenario {
        0 => echo_round(addr, counters, size, seed).await,
        1 => {
            let bytes = random_bytes(random);
            let expected = sum(&bytes);
            let pause = Duration::from_micros(random.range(0, 2000));
            let blocking = ringtide::task::spawn_blocking(move || {
                std::thread::sleep(pause);
                sum(&bytes)
            });
            let (echoed, summed) = futures::join!(echo_round(addr, counters, size, seed), blocking);
            echoed?;
            let summed = summed.map_err(std::io::Error::other)?;
            if summed != expected {
                return Err(std::io::Error::other("spawn_blocking summed other bytes"));
            }
            counters.spawn_blocking.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        2 => {
            let bytes = random_bytes(random);
            let expected = sum(&bytes);
            let task_counters = counters.clone();
            let poll_path = random.percent(50);
            let io = ringtide::spawn(async move {
                if poll_path {
                    echo_round(addr, &task_counters, size, seed).await
                } else {
                    echo_round_owned(addr, &task_counters, size, seed).await
                }
            });
            let summed = ringtide::task::block_in_place(|| {
                std::thread::sleep(Duration::from_millis(1));
                sum(&bytes)
            });
            io.await.map_err(std::io::Error::other)??;
            if summed != expected {
                return Err(std::io::Error::other("block_in_place summed other bytes"));
            }
            counters.block_in_place.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        3 => {
            let stream = connect(addr, b'S').await?;
            let owned = random.percent(50);
            let reader = ringtide::spawn(async move {
                let mut stream = stream;
                if owned {
                    let (result, _) = stream.read_owned(Vec::with_capacity(4096)).await;
                    result
                } else {
                    let mut buf = [0u8; 4096];
                    stream.read(&mut buf).await
                }
            });
            ringtide::time::sleep(Duration::from_micros(random.range(0, 2000))).await;
            reader.abort();
            match reader.await {
                Err(error) if error.is_cancelled() => {
                    counters.aborted_reads.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                other => Err(std::io::Error::other(format!(
                    "a read on a silent connection ended with {other:?} instead of being aborted"
                ))),
            }
        }
        4 => {
            let stream = connect(addr, b'D').await?;
            let owned = random.percent(50);
            let writer = ringtide::spawn(async move {
                let mut stream = stream;
                // One shared 8 MiB block (`&'static [u8]` is an owned buffer), so that
                // the writes in flight do not move the resident memory.
                let bytes: &'static [u8] = big_block();
                if owned {
                    let (result, _) = stream.write_all_owned(bytes).await;
                    result
                } else {
                    stream.write_all(bytes).await
                }
            });
            ringtide::time::sleep(Duration::from_micros(random.range(1000, 3000))).await;
            writer.abort();
            match writer.await {
                Err(error) if error.is_cancelled() => {
                    counters.aborted_writes.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                Ok(Ok(())) => {
                    counters.writes_finished.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                other => Err(std::io::Error::other(format!(
                    "an aborted write ended with {other:?}"
                ))),
            }
        }
        5 => {
            let mut interval = ringtide::time::interval(Duration::from_millis(1));
            for _ in 0..3 {
                interval.tick().await;
                counters.interval_ticks.fetch_add(1, Ordering::Relaxed);
            }
            let mut stream = connect(addr, b'S').await?;
            let wait = Duration::from_micros(random.range(500, 3000));
            let read =
                ringtide::time::timeout(wait, stream.read_owned(Vec::with_capacity(64))).await;
            if let Ok((result, _)) = read {
                return Err(std::io::Error::other(format!(
                    "a read on a silent connection returned {result:?}"
                )));
            }
            counters.timeouts_elapsed.fetch_add(1, Ordering::Relaxed);
            // The stream still works after its read was dropped in flight.
            stream.write_all(b"still here").await?;
            let sleeper = ringtide::spawn(ringtide::time::sleep(Duration::from_secs(3600)));
            ringtide::task::yield_now().await;
            sleeper.abort();
            match sleeper.await {
                Err(error) if error.is_cancelled() => {
                    counters.aborted_sleepers.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                other => Err(std::io::Error::other(format!(
                    "an hour-long sleeper ended with {other:?}"
                ))),
            }
        }
        _ => {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let local = listener.local_addr()?;
            let race = random.percent(50);
            let accepter = ringtide::spawn(async move { listener.accept().await.map(|_| ()) });
            let connector = race.then(|| ringtide::spawn(TcpStream::connect(local)));
            ringtide::time::sleep(Duration::from_micros(random.range(0, 1000))).await;
            accepter.abort();
            let result = match accepter.await {
                Err(error) if error.is_cancelled() => {
                    counters.aborted_accepts.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                Ok(Ok(())) => {
                    counters.accepts_finished.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                other => Err(std::io::Error::other(format!(
                    "an aborted accept ended with {other:?}"
                ))),
            };
            if let Some(connector) = connector {
                // Connected (the backlog took it) or refused once the listener closed.
                match connector.await.map_err(std::io::Error::other)? {
                    Ok(_) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {}
                    Err(error) if is_reset(&error) => {}
                    Err(error) => return Err(error),
                }
            }
            result
        }
    }
}

/// The parent's side: runs the `mixed` role for `backend` in a child process and reads
/// its report; a child that outlives `duration` by 30 s is killed (a hang).
pub fn run_child(
    backend: &str,
    duration: Duration,
    workers: usize,
    known_bugs: bool,
) -> std::io::Result<MixedReport> {
    use std::io::Read;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .env(server::ROLE_ENV, "mixed")
        .env(server::BACKEND_ENV, backend)
        .env(server::WORKERS_ENV, workers.to_string())
        .env(DURATION_ENV, duration.as_millis().to_string())
        .env(KNOWN_BUGS_ENV, if known_bugs { "1" } else { "0" })
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()?;
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let deadline = Instant::now() + duration + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(format!(
                "the mixed workload on {backend} did not finish within 30 s of its end (a hang)"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = reader.join().expect("the reader does not panic")?;
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "the mixed workload on {backend} exited with {status}"
        )));
    }
    let json = text
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .ok_or_else(|| std::io::Error::other("the mixed workload printed no RESULT line"))?;
    serde_json::from_str(json).map_err(std::io::Error::other)
}
