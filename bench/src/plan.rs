//! What each mode measures: the cases of every workload, the windows and the number of
//! runs. One table of numbers, so the short, full and smoke versions differ only here.

use std::time::Duration;

use crate::cli::{Mode, Options};

/// Every knob of one suite run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Measured runs per figure (rounds); the figure is their median.
    pub runs: usize,
    pub ping_pong: PingPong,
    pub echo: Echo,
    pub scheduler: Scheduler,
    pub files: Files,
    pub timers: Timers,
    pub idle: Idle,
}

#[derive(Clone, Debug)]
pub struct PingPong {
    /// Message sizes in bytes.
    pub sizes: Vec<usize>,
    pub connections: Vec<usize>,
    /// Load before the measured window of each run (not counted).
    pub warm_up: Duration,
    pub window: Duration,
}

#[derive(Clone, Debug)]
pub struct Echo {
    /// Offered rates, requests per second over all connections.
    pub rates: Vec<u64>,
    pub connections: usize,
    pub size: usize,
    pub warm_up: Duration,
    pub window: Duration,
}

#[derive(Clone, Debug)]
pub struct Scheduler {
    /// Worker counts (the same for both runtimes).
    pub workers: Vec<usize>,
    /// Iterations of a workload are repeated for this long per run.
    pub window: Duration,
}

#[derive(Clone, Debug)]
pub struct Files {
    /// The large file random reads go to.
    pub big_file_len: u64,
    /// How many 4 KiB files the small-file reads cycle through.
    pub small_files: usize,
    pub window: Duration,
}

#[derive(Clone, Debug)]
pub struct Timers {
    /// Tasks in the sleep loop.
    pub tasks: usize,
    /// Workers of the sleep loop's multi-thread runtimes.
    pub workers: usize,
    pub window: Duration,
}

#[derive(Clone, Debug)]
pub struct Idle {
    /// Idle connections held open, each with a read pending.
    pub connections: usize,
    /// Bytes of each connection's warm-up message (and of the check after the idle phase).
    pub message: usize,
    /// Buffers of the pooled variants' one `BufPool` (4 KiB each).
    pub pool_buffers: usize,
    /// Wait before each memory reading, so the server is idle when it is read.
    pub settle: Duration,
}

impl Settings {
    /// The settings for `options` on a machine with `cpus` usable CPUs.
    pub fn new(options: &Options, cpus: usize) -> Settings {
        let cpus = cpus.max(1);
        let ms = Duration::from_millis;
        let mut settings = match options.mode {
            Mode::Smoke => Settings {
                runs: 2,
                ping_pong: PingPong {
                    sizes: vec![100, 1024],
                    connections: vec![1, 16, 256, 1000],
                    warm_up: ms(20),
                    window: ms(40),
                },
                echo: Echo {
                    rates: vec![2_000],
                    connections: 16,
                    size: 100,
                    warm_up: ms(20),
                    window: ms(100),
                },
                scheduler: Scheduler {
                    workers: vec![cpus],
                    window: ms(30),
                },
                files: Files {
                    big_file_len: 16 << 20,
                    small_files: 64,
                    window: ms(30),
                },
                timers: Timers {
                    tasks: 1_000,
                    workers: cpus,
                    window: ms(60),
                },
                idle: Idle {
                    connections: 300,
                    message: 1024,
                    pool_buffers: 256,
                    settle: ms(50),
                },
            },
            Mode::Short => Settings {
                runs: 5,
                ping_pong: PingPong {
                    sizes: vec![100, 1024],
                    connections: vec![1, 16, 256],
                    warm_up: ms(50),
                    window: ms(200),
                },
                echo: Echo {
                    rates: vec![10_000],
                    connections: 16,
                    size: 100,
                    warm_up: ms(100),
                    window: ms(500),
                },
                scheduler: Scheduler {
                    workers: vec![cpus],
                    window: ms(150),
                },
                files: Files {
                    big_file_len: 64 << 20,
                    small_files: 256,
                    window: ms(150),
                },
                timers: Timers {
                    tasks: 10_000,
                    workers: cpus,
                    window: ms(300),
                },
                idle: Idle {
                    connections: 10_000,
                    message: 1024,
                    pool_buffers: 256,
                    settle: ms(300),
                },
            },
            Mode::Full => Settings {
                runs: 5,
                ping_pong: PingPong {
                    sizes: vec![100, 1024],
                    connections: vec![1, 16, 256, 1000],
                    warm_up: ms(300),
                    window: ms(1500),
                },
                echo: Echo {
                    rates: vec![5_000, 20_000],
                    connections: 16,
                    size: 100,
                    warm_up: ms(300),
                    window: ms(2000),
                },
                scheduler: Scheduler {
                    workers: vec![cpus, 2 * cpus],
                    window: ms(500),
                },
                files: Files {
                    big_file_len: 256 << 20,
                    small_files: 1000,
                    window: ms(500),
                },
                timers: Timers {
                    tasks: 10_000,
                    workers: cpus,
                    window: ms(1000),
                },
                idle: Idle {
                    connections: 10_000,
                    message: 1024,
                    pool_buffers: 256,
                    settle: ms(500),
                },
            },
        };
        if let Some(runs) = options.runs {
            settings.runs = runs;
        }
        if let Some(connections) = &options.connections {
            settings.ping_pong.connections = connections.clone();
        }
        if let Some(sizes) = &options.sizes {
            settings.ping_pong.sizes = sizes.clone();
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Command, parse};

    fn settings(args: &[&str], cpus: usize) -> Settings {
        let Ok(Command::Run(options)) = parse(
            args.iter().map(|arg| arg.to_string()),
            std::path::Path::new("r"),
        ) else {
            panic!("bad arguments {args:?}");
        };
        Settings::new(&options, cpus)
    }

    #[test]
    fn every_mode_meets_the_method() {
        for mode in [&["--smoke"][..], &[], &["--full"]] {
            let settings = settings(mode, 2);
            assert!(settings.runs >= 2, "{mode:?}: interleaving needs rounds");
            assert!(
                settings.ping_pong.warm_up > Duration::ZERO,
                "{mode:?}: warm-up"
            );
            assert_eq!(
                settings.scheduler.workers[0], 2,
                "{mode:?}: one worker per CPU"
            );
        }
        assert!(
            settings(&[], 2).runs >= 5,
            "short: median of at least 5 runs"
        );
        assert!(
            settings(&["--full"], 2).runs >= 5,
            "full: median of at least 5 runs"
        );
    }

    #[test]
    fn idle_holds_ten_thousand_connections_and_smoke_a_few_hundred() {
        for mode in [&[][..], &["--full"]] {
            let idle = settings(mode, 2).idle;
            assert_eq!(idle.connections, 10_000, "{mode:?}: issue 17's count");
            assert!(idle.message <= 4096 && idle.pool_buffers < idle.connections);
        }
        let smoke = settings(&["--smoke"], 2);
        assert!(smoke.idle.connections <= 500 && smoke.runs >= 2);
    }

    #[test]
    fn full_covers_the_issues_cases() {
        let full = settings(&["--full"], 2);
        assert_eq!(full.ping_pong.sizes, [100, 1024]);
        assert_eq!(full.ping_pong.connections, [1, 16, 256, 1000]);
        assert_eq!(full.scheduler.workers, [2, 4]);
    }

    #[test]
    fn runs_flag_overrides_the_mode_and_cpus_are_at_least_one() {
        let settings = settings(&["--full", "--runs", "9"], 0);
        assert_eq!(settings.runs, 9);
        assert_eq!(settings.scheduler.workers, [1, 2]);
    }
}
