//! ringtide's comparison suite: one command that measures ringtide on io_uring and on
//! its mio fallback against tokio, monoio and a raw io_uring loop with no runtime (the
//! machine's limit), on the same workloads, and writes a table, JSON, CSV and SVG plots.
//!
//! ```text
//! cargo run --release -p ringtide-bench             # short version (< 3 min on 2 cores)
//! cargo run --release -p ringtide-bench -- --full   # every workload and case
//! cargo run --release -p ringtide-bench -- --smoke  # seconds per workload (CI)
//! ```
//!
//! Workloads ([`cli::Workload`]; cases and windows per mode in [`plan`]):
//!
//! * `pingpong`: TCP ping-pong, 100 B and 1 KiB, 1, 16, 256 (and in `--full` 1000)
//!   connections, one message in flight per connection; round trips per second, their
//!   latency, the server's CPU per request.
//! * `echo` (`--full`): TCP echo at a fixed offered rate, latency p50 / p99 / p99.9.
//! * `scheduler`: the five scheduler workloads, ringtide and tokio in-process.
//! * `files`: 4 KiB random reads at QD1 / QD32 and 4 KiB whole-file reads.
//! * `timers` (`--full`): 10 000 tasks sleeping 1 ms in a loop; `timeout` arm/disarm.
//! * `idle` (`--full`, or `--only idle`): server RSS with 10 000 idle connections, each
//!   with a read pending: `read_pooled` against a 4 KiB buffer per connection ([`idle`]).
//!
//! HTTP/1.1 is not part of the suite yet (no hyper server here).
//!
//! Method: every server is its own process (this binary re-executes itself in a server
//! role, [`net`]) pinned to its own CPUs, with as many threads as it has CPUs; one load
//! generator for all of them on the other CPUs; every run has a warm-up that is not
//! measured; implementations run interleaved, in an order that rotates every round
//! (A B C, B C A, ...); each figure is the median of the rounds with the min–max; the
//! ratios to tokio and to the raw loop are computed within a round, then their median
//! taken ([`stats`]). No workload is tuned for one runtime: the same echo loop, buffer
//! size and socket options everywhere.
//!
//! Crates re-used, and why:
//!
//! * `hdrhistogram`: latency percentiles (p50 / p99 / p99.9) from millions of samples
//!   with bounded error, instead of sorting them.
//! * `plotters` (SVG backend only, no font features: text goes into the SVG as
//!   `<text>`, so nothing needs fontconfig or system fonts): the charts.
//! * `indicatif`: the progress bar (it hides itself when stderr is not a terminal).
//! * `serde` / `serde_json`: the machine-readable results file.
//! * `monoio` (io_uring driver only): the thread-per-core io_uring runtime compared.
//! * `io-uring`: the raw loops with no runtime (the same crate ringtide's driver uses).
//! * `tokio`: compared, and the load generator's runtime; `futures`: oneshot channels
//!   and `join_all`, the same for every runtime.
//! * `socket2`: the servers' `SO_REUSEPORT` listeners with a 1024 backlog.
//! * `log`: to catch ringtide's fallback warning, the reason auto selection picked mio.
//!
//! The five flags are parsed by hand ([`cli`]): an argument-parsing crate would add
//! more to the cold build CI pays than the parser is long.

mod cli;
mod cpu;
mod files;
mod heap_census;
mod idle;
/// Used by the build script (`#[path]`); compiled here for its tests.
#[cfg(test)]
mod lockfile;
mod net;
mod plan;
mod plot;
mod report;
mod scheduler;
mod stats;
mod suite;
mod system;
mod timers;

use std::process::ExitCode;

fn main() -> ExitCode {
    if let Ok(key) = std::env::var(idle::ROLE_ENV) {
        idle::serve(&key);
        return ExitCode::SUCCESS;
    }
    if let Ok(key) = std::env::var(net::ROLE_ENV) {
        net::control::serve(&key);
        return ExitCode::SUCCESS;
    }
    let default_out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let options = match cli::parse(std::env::args().skip(1), &default_out) {
        Ok(cli::Command::Run(options)) => options,
        Ok(cli::Command::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    match suite::run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ringtide-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
