//! Runs what the command line asks for, checks every target, prints the table and
//! writes `soak.json`.
//!
//! Targets, each a row of the verdict: echo — no error (client, server, unexplained
//! reset, drain), resident memory at the end within 10 % of the value after warm-up,
//! the server's descriptors back to its baseline, the server on the backend asked for;
//! mixed — no error, no task alive, no timer or op or registration left, descriptors
//! back to the baseline (after the workload, and after the runtime is dropped), memory
//! within 10 % (judged in runs of 30 s or more, see [`RSS_JUDGED_FROM`]).

use std::io::Write;

use serde::Serialize;

use crate::Options;
use crate::echo::{self, EchoOptions, EchoReport};
use crate::mixed::{self, MixedReport};

/// Largest allowed growth of resident memory from warm-up to the end.
const RSS_GROWTH_LIMIT_PERCENT: f64 = 10.0;
/// The shortest run whose memory growth is judged: in the 5 s CI runs the server's
/// memory still grows at the end (up to 14 % seen, with no leak: the 60 s runs grow
/// 0.5–8 %), so there it is reported, not judged.
const RSS_JUDGED_FROM: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Clone, Debug, Serialize)]
struct Target {
    workload: &'static str,
    backend: String,
    target: &'static str,
    value: String,
    ok: bool,
    /// Whether a miss fails the run (the memory target does not in runs shorter than
    /// [`RSS_JUDGED_FROM`]: they end before the memory settles).
    gating: bool,
}

#[derive(Serialize)]
struct Output<'a> {
    command: &'a str,
    kernel: String,
    cpus: usize,
    load_before: String,
    load_after: String,
    echo: &'a [EchoReport],
    mixed: &'a [MixedReport],
    targets: &'a [Target],
    passed: bool,
}

pub fn run(options: &Options) -> std::io::Result<bool> {
    let fd_limit = crate::process::raise_fd_limit()?;
    let cpus = std::thread::available_parallelism().map_or(2, |cpus| cpus.get());
    let load_before = crate::process::load_average();
    let half = (cpus / 2).max(2);
    if options.connections as u64 + 64 > fd_limit {
        return Err(std::io::Error::other(format!(
            "{} connections do not fit under RLIMIT_NOFILE = {fd_limit}",
            options.connections
        )));
    }
    let mut echo_reports = Vec::new();
    let mut mixed_reports = Vec::new();
    let mut targets = Vec::new();
    for backend in &options.backends {
        if options.echo {
            eprintln!(
                "== echo soak on {backend}: {} connections, {:?} (load {})",
                options.connections,
                options.duration,
                crate::process::load_average()
            );
            let report = echo::run(&EchoOptions {
                backend: backend.clone(),
                connections: options.connections,
                duration: options.duration,
                warmup: options.duration / 2,
                server_workers: half,
                client_workers: half,
                max_pause: std::time::Duration::from_secs(1),
                max_messages: 16,
                exchange_timeout: std::time::Duration::from_secs(30),
                seed: 0x50a4,
            })?;
            echo_targets(&report, &mut targets);
            echo_reports.push(report);
        }
        if options.mixed {
            eprintln!(
                "== mixed workload on {backend}: {:?} (load {})",
                options.mixed_duration,
                crate::process::load_average()
            );
            let report = mixed::run_child(
                backend,
                options.mixed_duration,
                half,
                options.with_known_bugs,
            )?;
            mixed_targets(backend, &report, &mut targets);
            mixed_reports.push(report);
        }
    }
    let passed = targets.iter().all(|target| target.ok || !target.gating);
    print_tables(&echo_reports, &mixed_reports, &targets);
    let output = Output {
        command: &options.command_line,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
        cpus,
        load_before,
        load_after: crate::process::load_average(),
        echo: &echo_reports,
        mixed: &mixed_reports,
        targets: &targets,
        passed,
    };
    std::fs::create_dir_all(&options.out)?;
    let path = options.out.join("soak.json");
    let mut file = std::fs::File::create(&path)?;
    serde_json::to_writer_pretty(&mut file, &output).map_err(std::io::Error::other)?;
    file.write_all(b"\n")?;
    println!("\nwritten: {}", path.display());
    println!(
        "{}",
        if passed {
            "soak: every target met"
        } else {
            "soak: TARGET MISSED (see the rows marked FAIL)"
        }
    );
    Ok(passed)
}

fn growth(warm: u64, end: u64) -> f64 {
    if warm == 0 {
        0.0
    } else {
        (end as f64 - warm as f64) * 100.0 / warm as f64
    }
}

fn echo_targets(report: &EchoReport, targets: &mut Vec<Target>) {
    let judge_rss = report.duration_s >= RSS_JUDGED_FROM.as_secs_f64();
    let mut add = |target: &'static str, value: String, ok| {
        targets.push(Target {
            workload: "echo",
            backend: report.backend.clone(),
            target,
            value,
            ok,
            gating: judge_rss || !target.starts_with("RSS"),
        })
    };
    let mut errors = report.client.error_samples.clone();
    errors.extend(report.server.error_samples.iter().cloned());
    errors.extend(report.other_errors.iter().cloned());
    add(
        "errors = 0",
        if errors.is_empty() {
            report.errors.to_string()
        } else {
            format!("{} ({})", report.errors, errors.join("; "))
        },
        report.errors == 0,
    );
    add(
        "RSS growth after warm-up <= 10 %",
        format!(
            "{:.1} % ({} -> {} KiB)",
            report.rss_growth_percent, report.rss_warm_kib, report.rss_end_kib
        ),
        report.rss_growth_percent <= RSS_GROWTH_LIMIT_PERCENT,
    );
    add(
        "fds back to baseline",
        format!("{} -> {}", report.fds_baseline, report.fds_end),
        report.fds_end == report.fds_baseline,
    );
    add(
        "server runs the backend asked for",
        report.server_runtime_backend.clone(),
        report.server_runtime_backend == report.backend,
    );
}

fn mixed_targets(backend: &str, report: &MixedReport, targets: &mut Vec<Target>) {
    let judge_rss = report.duration_s >= RSS_JUDGED_FROM.as_secs_f64();
    let mut add = |target: &'static str, value: String, ok| {
        targets.push(Target {
            workload: "mixed",
            backend: backend.to_string(),
            target,
            value,
            ok,
            gating: judge_rss || !target.starts_with("RSS"),
        })
    };
    add(
        "errors = 0",
        if report.error_samples.is_empty() {
            report.errors.to_string()
        } else {
            format!("{} ({})", report.errors, report.error_samples.join("; "))
        },
        report.errors == 0,
    );
    add(
        "tasks alive at the end = 0",
        report.alive_tasks_end.to_string(),
        report.alive_tasks_end == 0,
    );
    add(
        "timers, ops in flight, registrations left = 0",
        format!(
            "{} / {} / {}",
            report.timers_end, report.io_in_flight_end, report.io_registered_end
        ),
        report.timers_end == 0 && report.io_in_flight_end == 0 && report.io_registered_end == 0,
    );
    add(
        "fds back to baseline (rings apart: each pool thread that drove a core, and the block_on thread, keeps one for reuse)",
        format!(
            "workload {} -> {} (+{} rings); runtime dropped {} -> {} (+{} ring)",
            report.baseline.fds_without_rings(),
            report.after_settle.fds_without_rings(),
            report.after_settle.io_uring_fds,
            report.before_runtime.fds_without_rings(),
            report.after_drop.fds_without_rings(),
            report.after_drop.io_uring_fds
        ),
        report.after_settle.fds_without_rings() == report.baseline.fds_without_rings()
            && report.after_drop.fds_without_rings() == report.before_runtime.fds_without_rings()
            && report.after_drop.io_uring_fds <= 1,
    );
    let rss_growth = growth(report.warm.rss_kib, report.end.rss_kib);
    add(
        "RSS growth after warm-up <= 10 %",
        format!(
            "{rss_growth:.1} % ({} -> {} KiB)",
            report.warm.rss_kib, report.end.rss_kib
        ),
        rss_growth <= RSS_GROWTH_LIMIT_PERCENT,
    );
    add(
        "runtime on the backend asked for",
        report.backend.clone(),
        report.backend == backend,
    );
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn print_tables(echo: &[EchoReport], mixed: &[MixedReport], targets: &[Target]) {
    if !echo.is_empty() {
        println!("\n### Echo soak (ringtide server, tokio client; loopback)\n");
        println!(
            "| backend | connections held (min / mean / peak) | connects | messages | bytes verified | errors | resets caused / seen | half-closes verified | RSS MiB warm → end (growth) | fds baseline → end | p50 / p99 / max latency | load before → after |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        for report in echo {
            println!(
                "| {} | {} / {} / {} of {} | {} | {} | {} | {} | {} / {} | {} | {} → {} ({:+.1} %) | {} → {} | {:.1} / {:.1} / {:.1} ms | {} → {} |",
                report.backend,
                report.held_min,
                report.held_mean,
                report.held_peak,
                report.connections_target,
                report.client.connects,
                report.client.messages,
                report.client.bytes_verified,
                report.errors,
                report.client.resets_caused,
                report.server.resets,
                report.client.half_closes_verified,
                mib(report.rss_warm_kib),
                mib(report.rss_end_kib),
                report.rss_growth_percent,
                report.fds_baseline,
                report.fds_end,
                report.client.latency_p50_us as f64 / 1000.0,
                report.client.latency_p99_us as f64 / 1000.0,
                report.client.latency_max_us as f64 / 1000.0,
                report.load_before,
                report.load_after,
            );
        }
    }
    if !mixed.is_empty() {
        println!(
            "\n### Mixed workload (timers, spawn_blocking, block_in_place, aborts with I/O in flight)\n"
        );
        println!(
            "| backend | rounds | echoes (bytes verified) | spawn_blocking | block_in_place | aborted reads / writes / accepts / sleepers | timeouts elapsed | errors | tasks alive at end | timers / ops / registrations left | fds baseline → end, rings apart (runtime dropped) | RSS MiB warm → end |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        for report in mixed {
            println!(
                "| {} | {} | {} ({}) | {} | {} | {} / {} / {} / {} | {} | {} | {} | {} / {} / {} | {} → {} ({} → {}) | {} → {} |",
                report.backend,
                report.rounds,
                report.echoes,
                report.bytes_verified,
                report.spawn_blocking,
                report.block_in_place,
                report.aborted_reads,
                report.aborted_writes,
                report.aborted_accepts,
                report.aborted_sleepers,
                report.timeouts_elapsed,
                report.errors,
                report.alive_tasks_end,
                report.timers_end,
                report.io_in_flight_end,
                report.io_registered_end,
                report.baseline.fds_without_rings(),
                report.after_settle.fds_without_rings(),
                report.before_runtime.fds_without_rings(),
                report.after_drop.fds_without_rings(),
                mib(report.warm.rss_kib),
                mib(report.end.rss_kib),
            );
        }
    }
    for report in mixed {
        for skipped in &report.known_bugs_skipped {
            println!(
                "\nleft out on {} (known bug; --with-known-bugs runs it): {skipped}",
                report.backend
            );
        }
    }
    println!("\n### Targets\n");
    println!("| workload | backend | target | value | verdict |");
    println!("|---|---|---|---|---|");
    for target in targets {
        println!(
            "| {} | {} | {} | {} | {} |",
            target.workload,
            target.backend,
            target.target,
            target.value,
            match (target.ok, target.gating) {
                (true, _) => "ok",
                (false, true) => "FAIL",
                (false, false) => "missed (not judged: run < 30 s)",
            }
        );
    }
}
