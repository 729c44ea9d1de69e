//! `ringtide-soak`: the soak and churn suite of issue 19, run by `ci/soak.sh`.
//!
//! Per backend (io_uring, mio): an echo soak (a ringtide server process under up to
//! 10k churning connections from a tokio client, see [`echo`]) and a mixed workload
//! (timers, `spawn_blocking`, `block_in_place`, aborts with I/O in flight, see
//! [`mixed`]). Prints a table, writes `soak.json`, and exits non-zero when a target
//! fails ([`verdict`]).
//!
//! ```text
//! ringtide-soak [--ci] [--duration SECS] [--mixed-duration SECS] [--connections N]
//!               [--backends io_uring,mio] [--workloads echo,mixed] [--out DIR]
//!               [--with-known-bugs]
//! ```
//! Defaults: 60 s per backend and workload, 10 000 connections, `target/soak`.
//! `--ci`: 5 s echo and 5 s mixed per backend. `--with-known-bugs`: also run the parts
//! of the mixed workload that an open runtime bug breaks (`mixed::KNOWN_BUGS`; left
//! out by default, and the report says so).

mod client;
mod echo;
mod error_log;
mod mixed;
mod pattern;
mod process;
mod server;
mod verdict;

use std::time::Duration;

fn main() {
    match std::env::var(server::ROLE_ENV).as_deref() {
        Ok("echo-server") => exit_on_error(server::run()),
        Ok("mixed") => exit_on_error(mixed::run()),
        Ok(other) => {
            eprintln!("ringtide-soak: unknown role {other:?}");
            std::process::exit(2);
        }
        Err(_) => {}
    }
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("ringtide-soak: {message}");
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    match verdict::run(&options) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(error) => {
            eprintln!("ringtide-soak: {error}");
            std::process::exit(2);
        }
    }
}

fn exit_on_error(result: std::io::Result<()>) -> ! {
    match result {
        Ok(()) => std::process::exit(0),
        Err(error) => {
            eprintln!("ringtide-soak child: {error}");
            std::process::exit(3);
        }
    }
}

const USAGE: &str = "usage: ringtide-soak [--ci] [--duration SECS] [--mixed-duration SECS] \
[--connections N] [--backends io_uring,mio] [--workloads echo,mixed] [--out DIR] [--with-known-bugs]";

/// The command line.
#[derive(Clone, Debug)]
pub struct Options {
    pub ci: bool,
    pub duration: Duration,
    pub mixed_duration: Duration,
    pub connections: usize,
    pub backends: Vec<String>,
    pub echo: bool,
    pub mixed: bool,
    pub out: std::path::PathBuf,
    /// Also run what a known runtime bug breaks (`mixed::KNOWN_BUGS`).
    pub with_known_bugs: bool,
    pub command_line: String,
}

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
        let args: Vec<String> = args.collect();
        let mut options = Options {
            ci: false,
            duration: Duration::from_secs(60),
            mixed_duration: Duration::from_secs(60),
            connections: 10_000,
            backends: vec!["io_uring".into(), "mio".into()],
            echo: true,
            mixed: true,
            out: "target/soak".into(),
            with_known_bugs: false,
            command_line: std::iter::once("ringtide-soak".to_string())
                .chain(args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" "),
        };
        let (mut duration, mut mixed_duration) = (None, None);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "--ci" => options.ci = true,
                "--duration" => duration = Some(seconds(&value("--duration")?)?),
                "--mixed-duration" => mixed_duration = Some(seconds(&value("--mixed-duration")?)?),
                "--connections" => {
                    options.connections = value("--connections")?
                        .parse()
                        .map_err(|_| "--connections takes a number".to_string())?;
                    if options.connections == 0 {
                        return Err("--connections must be at least 1".into());
                    }
                }
                "--backends" => {
                    options.backends = value("--backends")?
                        .split(',')
                        .map(str::to_string)
                        .collect();
                    for backend in &options.backends {
                        if !matches!(backend.as_str(), "io_uring" | "mio") {
                            return Err(format!("unknown backend {backend:?} (io_uring or mio)"));
                        }
                    }
                }
                "--workloads" => {
                    let workloads = value("--workloads")?;
                    options.echo = false;
                    options.mixed = false;
                    for workload in workloads.split(',') {
                        match workload {
                            "echo" => options.echo = true,
                            "mixed" => options.mixed = true,
                            other => {
                                return Err(format!("unknown workload {other:?} (echo or mixed)"));
                            }
                        }
                    }
                }
                "--out" => options.out = value("--out")?.into(),
                "--with-known-bugs" => options.with_known_bugs = true,
                "--help" | "-h" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let (default_echo, default_mixed) = if options.ci {
            (Duration::from_secs(5), Duration::from_secs(5))
        } else {
            (Duration::from_secs(60), Duration::from_secs(60))
        };
        options.duration = duration.unwrap_or(default_echo);
        options.mixed_duration = mixed_duration.or(duration).unwrap_or(default_mixed);
        Ok(options)
    }
}

fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(value > 0.0 && value.is_finite()) {
        return Err(format!("{text:?}: the duration must be positive"));
    }
    Ok(Duration::from_secs_f64(value))
}
