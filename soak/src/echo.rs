//! One echo soak: starts the server process for a backend, drives it with the
//! [`client`](crate::client) for the ramp-up plus `duration`, samples both sides, drains
//! every connection and collects the figures and the verdict.
//!
//! Timeline: the server's baseline (listening, no connection) → ramp-up (every slot
//! connected once) → steady state for `duration`, with the server's resident memory
//! taken after `warmup` (half the run) and again at the end → stop (each slot finishes its message and
//! closes) → wait for the server to have no connection left and its descriptors back to
//! the baseline (at most 10 s) → the server's stdin closed, its exit awaited.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::{self, ClientConfig, ClientReport, ClientShared};
use crate::server::{self, ServerStats};

#[derive(Clone, Debug)]
pub struct EchoOptions {
    pub backend: String,
    pub connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub server_workers: usize,
    pub client_workers: usize,
    pub max_pause: Duration,
    pub max_messages: u64,
    pub exchange_timeout: Duration,
    pub seed: u64,
}

/// The figures of one echo soak.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EchoReport {
    pub backend: String,
    /// What the server's `Runtime::backend()` said.
    pub server_runtime_backend: String,
    pub server_workers: usize,
    pub connections_target: usize,
    pub ramp_s: f64,
    pub duration_s: f64,
    /// Client-side connections open, sampled every 250 ms in the steady state.
    pub held_min: u64,
    pub held_mean: u64,
    pub held_peak: u64,
    pub server_peak_live: u64,
    pub client: ClientReport,
    /// The server's own counters at the end (after the drain).
    pub server: ServerStats,
    /// `resets` the server saw beyond the ones the client caused (an error if > 0).
    pub unexplained_resets: u64,
    /// Client errors + server errors + unexplained resets + drain problems.
    pub errors: u64,
    pub other_errors: Vec<String>,
    pub rss_baseline_kib: u64,
    pub rss_warm_kib: u64,
    pub rss_end_kib: u64,
    pub rss_peak_kib: u64,
    pub rss_growth_percent: f64,
    pub fds_baseline: u64,
    pub fds_peak: u64,
    pub fds_end: u64,
    pub drain_ms: u64,
    pub load_before: String,
    pub load_after: String,
}

struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ServerProcess {
    fn start(
        backend: &str,
        workers: usize,
    ) -> std::io::Result<(ServerProcess, std::net::SocketAddr)> {
        let mut child = Command::new(std::env::current_exe()?)
            .env(server::ROLE_ENV, "echo-server")
            .env(server::BACKEND_ENV, backend)
            .env(server::WORKERS_ENV, workers.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("LISTEN ")
            .and_then(|addr| addr.parse().ok())
            .ok_or_else(|| {
                std::io::Error::other(format!("the server said {line:?}, not LISTEN"))
            })?;
        Ok((
            ServerProcess {
                child,
                stdin,
                stdout,
            },
            addr,
        ))
    }

    fn stats(&mut self) -> std::io::Result<ServerStats> {
        let stdin = self.stdin.as_mut().expect("open until finish");
        stdin.write_all(b"STATS\n")?;
        stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let json = line
            .trim()
            .strip_prefix("STATS ")
            .ok_or_else(|| std::io::Error::other(format!("the server said {line:?}, not STATS")))?;
        serde_json::from_str(json).map_err(std::io::Error::other)
    }

    /// Closes stdin and waits up to 10 s for the exit; an error if it hangs or fails.
    fn finish(mut self) -> Result<(), String> {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("the server exited with {status}")),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err("the server did not exit within 10 s of its stdin closing".into());
                }
                Err(error) => return Err(format!("waiting for the server: {error}")),
            }
        }
    }
}

pub fn run(options: &EchoOptions) -> std::io::Result<EchoReport> {
    let mut report = EchoReport {
        backend: options.backend.clone(),
        server_workers: options.server_workers,
        connections_target: options.connections,
        duration_s: options.duration.as_secs_f64(),
        load_before: crate::process::load_average(),
        ..EchoReport::default()
    };
    let (mut server, addr) = ServerProcess::start(&options.backend, options.server_workers)?;
    let baseline = server.stats()?;
    report.server_runtime_backend = baseline.backend.clone();
    report.rss_baseline_kib = baseline.process.rss_kib;
    report.fds_baseline = baseline.process.fds;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.client_workers)
        .enable_all()
        .build()?;
    let shared = ClientShared::new();
    let config = ClientConfig {
        server: addr,
        connections: options.connections,
        max_message: 65536,
        max_messages: options.max_messages,
        max_pause: options.max_pause,
        exchange_timeout: options.exchange_timeout,
        ramp_concurrency: 256,
        seed: options.seed,
    };
    let client = runtime.spawn(client::run(config, shared.clone()));

    let tick = Duration::from_millis(250);
    let ramp_started = Instant::now();
    let ramp_limit = Duration::from_secs(120);
    while shared.ramped.load(Ordering::Relaxed) < options.connections as u64 {
        if ramp_started.elapsed() > ramp_limit {
            report.other_errors.push(format!(
                "ramp-up: only {} of {} connections after {ramp_limit:?}",
                shared.ramped.load(Ordering::Relaxed),
                options.connections
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    report.ramp_s = ramp_started.elapsed().as_secs_f64();

    let steady = Instant::now();
    let (mut held_sum, mut samples) = (0u64, 0u64);
    report.held_min = u64::MAX;
    let mut warm_taken = false;
    while steady.elapsed() < options.duration {
        std::thread::sleep(tick.min(options.duration.saturating_sub(steady.elapsed())));
        let held = shared.held.load(Ordering::Relaxed);
        report.held_min = report.held_min.min(held);
        held_sum += held;
        samples += 1;
        let stats = server.stats()?;
        report.fds_peak = report.fds_peak.max(stats.process.fds);
        if !warm_taken && steady.elapsed() >= options.warmup {
            report.rss_warm_kib = stats.process.rss_kib;
            warm_taken = true;
        }
    }
    let at_end = server.stats()?;
    report.rss_end_kib = at_end.process.rss_kib;
    if !warm_taken {
        report.rss_warm_kib = at_end.process.rss_kib;
    }
    report.held_mean = held_sum / samples.max(1);
    if report.held_min == u64::MAX {
        report.held_min = 0;
    }

    shared.stop();
    let drain_started = Instant::now();
    let drain_limit = options.exchange_timeout + options.max_pause + Duration::from_secs(10);
    let drained = runtime.block_on(async { tokio::time::timeout(drain_limit, client).await });
    match drained {
        Ok(Ok(())) => {}
        Ok(Err(error)) => report
            .other_errors
            .push(format!("the client task: {error}")),
        Err(_) => report.other_errors.push(format!(
            "the client did not close its connections within {drain_limit:?}"
        )),
    }
    // Every client socket is closed once the runtime is gone.
    runtime.shutdown_timeout(Duration::from_secs(5));

    let settle = Instant::now();
    let mut end = server.stats()?;
    while (end.live > 0 || end.process.fds != report.fds_baseline)
        && settle.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
        end = server.stats()?;
    }
    report.drain_ms = drain_started.elapsed().as_millis() as u64;
    if end.live > 0 {
        report.other_errors.push(format!(
            "{} server connections still open 10 s after the client closed",
            end.live
        ));
    }
    report.fds_end = end.process.fds;
    report.rss_peak_kib = end.process.peak_rss_kib;
    report.server_peak_live = end.peak_live;
    report.client = shared.report();
    report.held_peak = report.client.peak_held;
    report.unexplained_resets = end.resets.saturating_sub(report.client.resets_caused);
    report.server = end;
    if let Err(error) = server.finish() {
        report.other_errors.push(error);
    }
    report.rss_growth_percent = if report.rss_warm_kib == 0 {
        0.0
    } else {
        (report.rss_end_kib as f64 - report.rss_warm_kib as f64) * 100.0
            / report.rss_warm_kib as f64
    };
    report.errors = report.client.errors
        + report.server.errors
        + report.unexplained_resets
        + report.other_errors.len() as u64;
    report.load_after = crate::process::load_average();
    Ok(report)
}
