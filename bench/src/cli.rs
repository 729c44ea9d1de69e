//! The command line: which version of the suite to run (`--smoke`, the default short one,
//! `--full`), which workloads (`--only`), how many runs, and where the results go.
//!
//! Five flags do not need an argument-parsing crate; the parser is a plain function over
//! the arguments, so its errors (an unknown flag, a missing or bad value) are tested and
//! reach the user as one line of text, never a panic.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::report::Implementation;

/// How long and how wide a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A few seconds per workload, two runs: proves the suite works end to end (CI).
    Smoke,
    /// The default: ping-pong, scheduler and file reads on every implementation, five
    /// runs, well under three minutes on a 2-core machine.
    Short,
    /// Every workload and case, longer windows.
    Full,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Smoke => "smoke",
            Mode::Short => "short",
            Mode::Full => "full",
        }
    }
}

/// A group of figures the suite can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// TCP ping-pong: one message in flight per connection.
    PingPong,
    /// TCP echo at a fixed offered rate, with latency percentiles.
    Echo,
    /// The five scheduler workloads (in-process).
    Scheduler,
    /// 4 KiB random reads and small-file reads (in-process).
    Files,
    /// Timer wake-ups and `timeout` arm/disarm (in-process).
    Timers,
    /// Server memory with 10 000 idle connections, each with a read pending.
    Idle,
}

impl Workload {
    pub const ALL: [Workload; 6] = [
        Workload::PingPong,
        Workload::Echo,
        Workload::Scheduler,
        Workload::Files,
        Workload::Timers,
        Workload::Idle,
    ];

    /// The name used by `--only`, in file names and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Workload::PingPong => "pingpong",
            Workload::Echo => "echo",
            Workload::Scheduler => "scheduler",
            Workload::Files => "files",
            Workload::Timers => "timers",
            Workload::Idle => "idle",
        }
    }

    /// The workloads a mode runs when `--only` does not choose.
    pub fn defaults(mode: Mode) -> Vec<Workload> {
        match mode {
            Mode::Short => vec![Workload::PingPong, Workload::Scheduler, Workload::Files],
            Mode::Smoke | Mode::Full => Workload::ALL.to_vec(),
        }
    }
}

impl FromStr for Workload {
    type Err = UsageError;

    fn from_str(value: &str) -> Result<Workload, UsageError> {
        Workload::ALL
            .into_iter()
            .find(|workload| workload.name() == value.trim())
            .ok_or_else(|| {
                UsageError(format!(
                    "unknown workload {value:?}; expected one of {}",
                    Workload::ALL.map(Workload::name).join(", ")
                ))
            })
    }
}

/// What the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    /// Measured runs per figure (the median is over these); `None`: the mode's default.
    pub runs: Option<usize>,
    /// The workloads to run, in the suite's order.
    pub workloads: Vec<Workload>,
    /// Where the table (text), JSON, CSV and SVG plots are written.
    pub out: PathBuf,
    /// The servers the network workloads run (`--servers`), in table order; `None`:
    /// every one ([`Implementation::NETWORK`]).
    pub servers: Option<Vec<Implementation>>,
    /// Ping-pong's connection counts (`--connections`); `None`: the mode's.
    pub connections: Option<Vec<usize>>,
    /// Ping-pong's message sizes in bytes (`--sizes`); `None`: the mode's.
    pub sizes: Option<Vec<usize>>,
}

/// The command line could not be understood; the message says why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n\n{USAGE}", self.0)
    }
}

/// What `--help` prints.
pub const USAGE: &str = "\
usage: ringtide-bench [--smoke | --full] [--only LIST] [--runs N] [--out DIR]
                      [--servers LIST] [--connections LIST] [--sizes LIST]

  (no flag)    the short version: ping-pong, scheduler and file reads, 5 runs each
  --full       every workload and case (ping-pong up to 1000 connections, fixed-rate
               echo with latency percentiles, timers, idle-connection memory), longer
               windows
  --smoke      a few seconds per workload, 2 runs: checks the suite end to end (CI)
  --only LIST  comma-separated workloads: pingpong, echo, scheduler, files, timers,
               idle (server RSS with 10 000 idle connections)
  --runs N     measured runs per figure (at least 1; the default is 5, smoke 2)
  --out DIR    where results.json, results.csv, table.txt, table.md, summary.md
               and the SVG plots go
               (default: bench/results/<mode>)
  --servers LIST  comma-separated network servers (pingpong, echo): ringtide-io_uring,
               ringtide-io_uring-poll, ringtide-io_uring-poll-recvmulti, ringtide-mio,
               ringtide-mio-poll, tokio, monoio, raw-io_uring (default: all)
  --connections LIST  ping-pong connection counts, e.g. 16,256 (default: the mode's)
  --sizes LIST ping-pong message sizes in bytes, e.g. 100,1024 (default: the mode's)
  --help       this text";

/// What the arguments ask for: run the suite, or print the usage.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Run(Options),
    Help,
}

/// Parses the arguments after the program name. `default_out` is the results folder
/// (`bench/results`); each mode writes to its own sub-folder of it unless `--out` says.
pub fn parse<I>(args: I, default_out: &std::path::Path) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = String>,
{
    let mut mode = None;
    let mut runs = None;
    let mut only: Option<Vec<Workload>> = None;
    let mut out = None;
    let mut servers: Option<Vec<Implementation>> = None;
    let mut connections = None;
    let mut sizes = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, UsageError> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| UsageError(format!("{name} needs a value")))
        };
        match flag.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--smoke" | "--full" => {
                let asked = if flag == "--smoke" {
                    Mode::Smoke
                } else {
                    Mode::Full
                };
                if mode.is_some_and(|mode| mode != asked) {
                    return Err(UsageError("--smoke and --full exclude each other".into()));
                }
                mode = Some(asked);
            }
            "--runs" => {
                let text = value("--runs")?;
                let count: usize = text
                    .parse()
                    .map_err(|_| UsageError(format!("--runs {text:?} is not a whole number")))?;
                if count == 0 {
                    return Err(UsageError("--runs must be at least 1".into()));
                }
                runs = Some(count);
            }
            "--only" => {
                let mut chosen = Vec::new();
                for name in value("--only")?
                    .split(',')
                    .filter(|name| !name.trim().is_empty())
                {
                    let workload: Workload = name.parse()?;
                    if !chosen.contains(&workload) {
                        chosen.push(workload);
                    }
                }
                if chosen.is_empty() {
                    return Err(UsageError("--only needs at least one workload".into()));
                }
                chosen.sort();
                only = Some(chosen);
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--servers" => {
                let mut chosen = Vec::new();
                for key in value("--servers")?
                    .split(',')
                    .map(str::trim)
                    .filter(|key| !key.is_empty())
                {
                    let server = Implementation::from_key(key).ok_or_else(|| {
                        UsageError(format!(
                            "unknown server {key:?}; expected one of {}",
                            Implementation::NETWORK.map(Implementation::key).join(", ")
                        ))
                    })?;
                    if !chosen.contains(&server) {
                        chosen.push(server);
                    }
                }
                if chosen.is_empty() {
                    return Err(UsageError("--servers needs at least one server".into()));
                }
                // Table order.
                chosen.sort_by_key(|server| {
                    Implementation::NETWORK
                        .iter()
                        .position(|known| known == server)
                });
                servers = Some(chosen);
            }
            "--connections" => {
                connections = Some(counts("--connections", &value("--connections")?)?)
            }
            "--sizes" => sizes = Some(counts("--sizes", &value("--sizes")?)?),
            other => return Err(UsageError(format!("unknown argument {other:?}"))),
        }
    }
    let mode = mode.unwrap_or(Mode::Short);
    Ok(Command::Run(Options {
        mode,
        runs,
        workloads: only.unwrap_or_else(|| Workload::defaults(mode)),
        out: out.unwrap_or_else(|| default_out.join(mode.name())),
        servers,
        connections,
        sizes,
    }))
}

/// A comma-separated list of positive whole numbers (`--connections`, `--sizes`), in
/// the order given, duplicates dropped.
fn counts(flag: &str, text: &str) -> Result<Vec<usize>, UsageError> {
    let mut counts = Vec::new();
    for item in text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let count: usize = item
            .parse()
            .ok()
            .filter(|&count| count > 0)
            .ok_or_else(|| UsageError(format!("{flag} {item:?} is not a positive whole number")))?;
        if !counts.contains(&count) {
            counts.push(count);
        }
    }
    if counts.is_empty() {
        return Err(UsageError(format!("{flag} needs at least one number")));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse_args(args: &[&str]) -> Result<Command, UsageError> {
        parse(
            args.iter().map(|arg| arg.to_string()),
            Path::new("/results"),
        )
    }

    fn options(args: &[&str]) -> Options {
        match parse_args(args) {
            Ok(Command::Run(options)) => options,
            other => panic!("expected options, got {other:?}"),
        }
    }

    #[test]
    fn no_arguments_is_the_short_version() {
        let options = options(&[]);
        assert_eq!(options.mode, Mode::Short);
        assert_eq!(options.runs, None);
        assert_eq!(
            options.workloads,
            [Workload::PingPong, Workload::Scheduler, Workload::Files]
        );
        assert_eq!(options.out, Path::new("/results/short"));
    }

    #[test]
    fn full_and_smoke_run_every_workload_into_their_own_folder() {
        let full = options(&["--full"]);
        assert_eq!((full.mode, full.workloads.len()), (Mode::Full, 6));
        assert_eq!(full.out, Path::new("/results/full"));
        let smoke = options(&["--smoke"]);
        assert_eq!(smoke.mode, Mode::Smoke);
        assert_eq!(smoke.out, Path::new("/results/smoke"));
    }

    #[test]
    fn values_come_as_the_next_argument_or_after_an_equals_sign() {
        let options = options(&["--runs", "7", "--only=timers,pingpong,timers", "--out", "x"]);
        assert_eq!(options.runs, Some(7));
        // Sorted into the suite's order, duplicates dropped.
        assert_eq!(options.workloads, [Workload::PingPong, Workload::Timers]);
        assert_eq!(options.out, Path::new("x"));
    }

    #[test]
    fn servers_connections_and_sizes_narrow_the_network_cases() {
        let options = options(&[
            "--servers",
            "tokio,ringtide-io_uring-poll,raw-io_uring,tokio",
            "--connections=16,256",
            "--sizes",
            "100,1024",
        ]);
        assert_eq!(
            options.servers,
            Some(vec![
                Implementation::RingtideUringPoll,
                Implementation::Tokio,
                Implementation::RawUring
            ])
        );
        assert_eq!(options.connections, Some(vec![16, 256]));
        assert_eq!(options.sizes, Some(vec![100, 1024]));
        let defaults = self::options(&[]);
        assert_eq!(
            (defaults.servers, defaults.connections, defaults.sizes),
            (None, None, None)
        );
    }

    #[test]
    fn help_wins() {
        assert_eq!(parse_args(&["--full", "--help"]), Ok(Command::Help));
    }

    #[test]
    fn bad_input_is_an_error_that_says_why() {
        let message = |args: &[&str]| match parse_args(args) {
            Err(UsageError(message)) => message,
            other => panic!("expected an error for {args:?}, got {other:?}"),
        };
        assert_eq!(message(&["--fast"]), "unknown argument \"--fast\"");
        assert_eq!(message(&["--runs"]), "--runs needs a value");
        assert_eq!(
            message(&["--runs", "five"]),
            "--runs \"five\" is not a whole number"
        );
        assert_eq!(message(&["--runs", "0"]), "--runs must be at least 1");
        assert!(message(&["--only", "http"]).starts_with("unknown workload \"http\""));
        assert_eq!(
            message(&["--only", ","]),
            "--only needs at least one workload"
        );
        assert!(message(&["--servers", "glommio"]).starts_with("unknown server \"glommio\""));
        assert_eq!(
            message(&["--servers", ","]),
            "--servers needs at least one server"
        );
        assert_eq!(
            message(&["--connections", "16,x"]),
            "--connections \"x\" is not a positive whole number"
        );
        assert_eq!(
            message(&["--sizes", "0"]),
            "--sizes \"0\" is not a positive whole number"
        );
        assert_eq!(
            message(&["--sizes", ""]),
            "--sizes needs at least one number"
        );
        assert_eq!(
            message(&["--smoke", "--full"]),
            "--smoke and --full exclude each other"
        );
    }

    #[test]
    fn the_usage_error_shows_the_usage() {
        let text = UsageError("unknown argument \"-x\"".into()).to_string();
        assert!(text.starts_with("unknown argument \"-x\"\n\nusage: ringtide-bench"));
    }
}
