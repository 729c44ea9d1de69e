//! The runner: runs the chosen workloads with the method the README states (warm-up
//! excluded, implementations interleaved by rotation round after round, each figure the
//! median of the rounds), shows a progress bar, prints the machine and the table, and
//! writes the results folder.

use std::path::Path;
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{Options, Workload};
use crate::net::control::ServerProcess;
use crate::plan::Settings;
use crate::report::{CaseReport, CaseResult, Implementation, Report, Sample};
use crate::stats::rotation;
use crate::{cpu, files, idle, net, plot, report, scheduler, system, timers};

/// Said in every report: what the suite does not (yet) measure.
const NOT_YET: &str = "HTTP/1.1 (hyper on each runtime) is not in the suite yet.";

struct Suite {
    settings: Settings,
    /// The network servers to run.
    servers: Vec<Implementation>,
    split: cpu::Split,
    progress: ProgressBar,
    cases: Vec<CaseResult>,
    notes: Vec<String>,
    /// The `idle` workload's table (it reports memory, not throughput).
    idle: Option<String>,
}

/// Runs the suite for `options`.
pub fn run(options: &Options) -> Result<(), String> {
    system::install_logger();
    let allowed = cpu::allowed();
    let cpus = if allowed.is_empty() {
        std::thread::available_parallelism().map_or(1, |count| count.get())
    } else {
        allowed.len()
    };
    let split = cpu::Split::of(&allowed);
    let settings = Settings::new(options, cpus);
    let machine = system::machine(cpus, split.describe());
    let started_unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let command = std::iter::once("ringtide-bench".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let header = format!(
        "ringtide-bench, {} version: {}; median of {} runs per figure\n{}",
        options.mode.name(),
        options
            .workloads
            .iter()
            .map(|workload| workload.name())
            .collect::<Vec<_>>()
            .join(", "),
        settings.runs,
        machine.describe()
    );
    println!("{header}");

    let servers = options
        .servers
        .clone()
        .unwrap_or_else(|| Implementation::NETWORK.to_vec());
    let progress = ProgressBar::new(steps(&settings, &options.workloads, servers.len()));
    progress.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:32}] {pos}/{len} {msg}")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    let mut suite = Suite {
        settings,
        servers,
        split,
        progress,
        cases: Vec::new(),
        notes: Vec::new(),
        idle: None,
    };
    for &workload in &options.workloads {
        match workload {
            Workload::PingPong | Workload::Echo => suite.network(workload),
            Workload::Scheduler => suite.scheduler(),
            Workload::Files => suite.files()?,
            Workload::Timers => suite.timers(),
            Workload::Idle => suite.idle(&options.out)?,
        }
    }
    suite.progress.finish_and_clear();
    suite.notes.push(NOT_YET.to_owned());

    let table = report::text_table(&suite.cases);
    let notes: String = suite
        .notes
        .iter()
        .map(|note| format!("note: {note}\n"))
        .collect();
    let notes = match &suite.idle {
        Some(idle) => format!("{notes}\n{idle}"),
        None => notes,
    };
    if suite.cases.is_empty() {
        println!("\n{notes}");
    } else {
        println!("\n{table}\n{notes}");
    }
    println!(
        "throughput: the median of the runs (min–max); × tokio, × raw: the median (min–max) of \
         the per-round ratios; CPU µs/op: the server's (getrusage in the server process) for \
         pingpong/echo, the process's otherwise; server/client CPU: share of one CPU over the window"
    );

    let report = Report {
        mode: options.mode.name(),
        command: command.clone(),
        started_unix,
        machine: &machine,
        runs: suite.settings.runs,
        settings: format!("{:?}", suite.settings),
        notes: &suite.notes,
        cases: CaseReport::of(&suite.cases),
    };
    write_results(
        &options.out,
        &header,
        &command,
        &table,
        &notes,
        &report,
        &suite.cases,
    )?;
    println!("results: {}", options.out.display());
    Ok(())
}

fn write_results(
    out: &Path,
    header: &str,
    command: &str,
    table: &str,
    notes: &str,
    report: &Report<'_>,
    cases: &[CaseResult],
) -> Result<(), String> {
    let write = |name: &str, contents: &str| {
        std::fs::write(out.join(name), contents)
            .map_err(|error| format!("writing {}: {error}", out.join(name).display()))
    };
    std::fs::create_dir_all(out).map_err(|error| format!("creating {}: {error}", out.display()))?;
    let json = serde_json::to_string_pretty(report).map_err(|error| format!("JSON: {error}"))?;
    write("results.json", &(json + "\n"))?;
    write("results.csv", &report::csv(cases))?;
    write(
        "table.txt",
        &format!("$ {command}\n{header}\n\n{table}\n{notes}"),
    )?;
    write("table.md", &report::markdown_table(cases))?;
    write("summary.md", &report::summary_markdown(cases))?;
    for workload in Workload::ALL {
        let mine: Vec<CaseResult> = cases
            .iter()
            .filter(|case| case.workload == workload.name())
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        let title = format!(
            "{}: throughput / tokio's (median of {} runs; whiskers: min–max)",
            workload.name(),
            report.runs
        );
        plot::ratio_chart(&out.join(format!("{}.svg", workload.name())), &title, &mine)?;
    }
    Ok(())
}

/// How many measurements the progress bar counts.
/// `servers`: how many network servers run.
fn steps(settings: &Settings, workloads: &[Workload], servers: usize) -> u64 {
    let runs = settings.runs;
    let all = servers;
    workloads
        .iter()
        .map(|workload| match workload {
            Workload::PingPong => {
                settings.ping_pong.sizes.len() * settings.ping_pong.connections.len() * runs * all
            }
            Workload::Echo => settings.echo.rates.len() * runs * all,
            Workload::Scheduler => {
                scheduler::Workload::ALL.len()
                    * settings.scheduler.workers.len()
                    * runs
                    * scheduler::IMPLEMENTATIONS.len()
            }
            Workload::Files => files::Case::ALL.len() * (runs + 1) * files::IMPLEMENTATIONS.len(),
            Workload::Timers => {
                timers::Case::ALL.len() * (runs + 1) * timers::IMPLEMENTATIONS.len()
            }
            Workload::Idle => runs * idle::Variant::ALL.len(),
        } as u64)
        .sum()
}

fn size_name(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

impl Suite {
    /// Prints a line without tearing the progress bar.
    fn say(&self, line: String) {
        self.progress.suspend(|| println!("{line}"));
    }

    /// Records a failed run once per implementation and case.
    fn failed(&mut self, case: &str, implementation: Implementation, error: &str) {
        let note = format!("{case}: {} failed: {error}", implementation.name());
        self.say(format!("  {note}"));
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// Runs `case` round by round over `implementations` (rotated each round), after
    /// `warm_up` runs that are not recorded.
    fn rounds(
        &mut self,
        mut case: CaseResult,
        warm_up: bool,
        mut measure: impl FnMut(Implementation, bool) -> Result<Sample, String>,
    ) {
        let implementations = case.implementations.clone();
        if warm_up {
            for &implementation in &implementations {
                self.progress.set_message(format!(
                    "{} {}: warm-up {}",
                    case.workload,
                    case.case,
                    implementation.name()
                ));
                let _ = measure(implementation, true);
                self.progress.inc(1);
            }
        }
        for round in 0..self.settings.runs {
            let mut samples: Vec<Option<Sample>> = vec![None; implementations.len()];
            for index in rotation(round, implementations.len()) {
                let implementation = implementations[index];
                self.progress.set_message(format!(
                    "{} {}: {} (run {}/{})",
                    case.workload,
                    case.case,
                    implementation.name(),
                    round + 1,
                    self.settings.runs
                ));
                match measure(implementation, false) {
                    Ok(sample) => samples[index] = Some(sample),
                    Err(error) => self.failed(&case.case, implementation, &error),
                }
                self.progress.inc(1);
            }
            case.rounds.push(samples);
        }
        self.cases.push(case);
    }

    /// Ping-pong or fixed-rate echo: servers in their own processes, pinned apart from
    /// the load generator.
    fn network(&mut self, workload: Workload) {
        let previous = cpu::allowed();
        if !self.split.client.is_empty()
            && let Err(error) = cpu::pin(&self.split.client)
        {
            self.say(format!("could not pin the load generator: {error}"));
        }
        cpu::raise_open_file_limit();
        let runtime = match net::load::runtime(self.split.client_threads()) {
            Ok(runtime) => runtime,
            Err(error) => {
                self.notes
                    .push(format!("{}: no client runtime: {error}", workload.name()));
                return;
            }
        };
        let mut servers = Vec::new();
        for implementation in self.servers.clone() {
            match ServerProcess::spawn(
                implementation,
                self.split.server_threads(),
                &self.split.server,
            ) {
                Ok(server) => {
                    self.say(format!(
                        "{} server {}: {}",
                        workload.name(),
                        implementation.name(),
                        server.description
                    ));
                    servers.push(server);
                }
                Err(error) => {
                    let note = format!("{} server skipped: {error}", implementation.name());
                    self.say(note.clone());
                    self.notes.push(note);
                }
            }
        }
        let implementations: Vec<Implementation> =
            servers.iter().map(|server| server.implementation).collect();
        let mut measure_with =
            |implementation: Implementation,
             measure: &dyn Fn(&mut ServerProcess) -> Result<Sample, String>| {
                let server = servers
                    .iter_mut()
                    .find(|server| server.implementation == implementation)
                    .expect("a running server");
                measure(server)
            };
        let settings = self.settings.clone();
        if workload == Workload::PingPong {
            let ping = &settings.ping_pong;
            for &size in &ping.sizes {
                for &connections in &ping.connections {
                    let case = CaseResult::new(
                        "pingpong",
                        format!("{}, {connections} conns", size_name(size)),
                        "rt/s",
                        implementations.clone(),
                    );
                    self.rounds(case, false, |implementation, _| {
                        measure_with(implementation, &|server| {
                            net::load::ping_pong(
                                &runtime,
                                server,
                                size,
                                connections,
                                ping.warm_up,
                                ping.window,
                            )
                        })
                    });
                }
            }
        } else {
            let echo = &settings.echo;
            for &rate in &echo.rates {
                let case = CaseResult::new(
                    "echo",
                    format!(
                        "{}, {} conns, {} req/s offered",
                        size_name(echo.size),
                        echo.connections,
                        report::human(rate as f64)
                    ),
                    "req/s",
                    implementations.clone(),
                );
                self.rounds(case, false, |implementation, _| {
                    measure_with(implementation, &|server| {
                        net::load::fixed_rate(
                            &runtime,
                            server,
                            echo.size,
                            echo.connections,
                            rate,
                            echo.warm_up,
                            echo.window,
                        )
                    })
                });
            }
        }
        drop(servers);
        drop(runtime);
        if !previous.is_empty() {
            let _ = cpu::pin(&previous);
        }
    }

    fn scheduler(&mut self) {
        let settings = self.settings.scheduler.clone();
        for workload in scheduler::Workload::ALL {
            for &workers in &settings.workers {
                let case = CaseResult::new(
                    "scheduler",
                    format!("{}, {workers} workers", workload.name()),
                    workload.unit(),
                    scheduler::IMPLEMENTATIONS.to_vec(),
                );
                self.rounds(case, false, |implementation, _| {
                    scheduler::run(workload, implementation, workers, settings.window)
                });
            }
        }
        self.notes.push(
            "scheduler: monoio and the raw loop are not in these rows (monoio is thread-per-core \
             with !Send tasks and no work stealing; the raw loop has no scheduler)"
                .to_owned(),
        );
    }

    fn files(&mut self) -> Result<(), String> {
        let settings = self.settings.files.clone();
        self.progress.set_message("files: writing the fixture");
        let fixture = files::Fixture::create(settings.big_file_len, settings.small_files)
            .map_err(|error| format!("creating the file fixture: {error}"))?;
        for case in files::Case::ALL {
            let result = CaseResult::new(
                "files",
                case.name().to_owned(),
                case.unit(),
                files::IMPLEMENTATIONS.to_vec(),
            );
            self.rounds(result, true, |implementation, warm_up| {
                let window = if warm_up {
                    settings.window / 4
                } else {
                    settings.window
                };
                files::run(case, implementation, &fixture, window)
            });
        }
        self.notes.push(format!(
            "files: page cache hot, a {} MiB file and {} 4 KiB files; current-thread runtimes",
            settings.big_file_len >> 20,
            settings.small_files
        ));
        Ok(())
    }

    /// Server memory with idle connections: its own table (`idle.md`, `idle.json`).
    /// A wrong or lost echo fails the suite: the workload checks, not only measures.
    fn idle(&mut self, out: &Path) -> Result<(), String> {
        let settings = self.settings.idle.clone();
        let table = idle::run(
            &settings,
            self.settings.runs,
            &self.split,
            out,
            &self.progress,
        )?;
        self.idle = Some(table);
        Ok(())
    }

    fn timers(&mut self) {
        let settings = self.settings.timers.clone();
        for case in timers::Case::ALL {
            let result = CaseResult::new(
                "timers",
                case.name(settings.tasks, settings.workers),
                case.unit(),
                timers::IMPLEMENTATIONS.to_vec(),
            );
            self.rounds(result, true, |implementation, warm_up| {
                let window = if warm_up {
                    settings.window / 4
                } else {
                    settings.window
                };
                timers::run(
                    case,
                    implementation,
                    settings.tasks,
                    settings.workers,
                    window.max(Duration::from_millis(1)),
                )
            });
        }
        self.notes.push(
            "timers: the raw loop has no timers; for the sleep loop, p50/p99/p99.9 are the \
             lateness (actual minus requested wake-up)"
                .to_owned(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_named_in_bytes_or_kib() {
        assert_eq!(size_name(100), "100 B");
        assert_eq!(size_name(1024), "1 KiB");
        assert_eq!(size_name(1500), "1500 B");
    }

    #[test]
    fn steps_count_every_measurement() {
        let options = match crate::cli::parse(["--smoke".to_owned()], Path::new("r")) {
            Ok(crate::cli::Command::Run(options)) => options,
            other => panic!("{other:?}"),
        };
        let settings = Settings::new(&options, 2);
        // pingpong: 2 sizes × 4 connection counts × 2 runs × 7 servers.
        assert_eq!(steps(&settings, &[Workload::PingPong], 7), 112);
        // files: 4 cases × (2 runs + a warm-up) × 5 implementations.
        assert_eq!(steps(&settings, &[Workload::Files], 7), 60);
        assert_eq!(
            steps(&settings, &[Workload::Scheduler, Workload::Timers], 7),
            5 * 2 * 3 + 2 * 3 * 4
        );
        // idle: 2 runs × 7 variants, whatever the network servers.
        assert_eq!(steps(&settings, &[Workload::Idle], 7), 14);
    }
}
