//! Timers, in-process: ringtide (both backends), tokio and monoio (the raw loop has no
//! timers).
//!
//! * `sleep 1 ms loop`: 10 000 tasks each sleeping 1 ms in a loop for the window, on a
//!   multi-thread runtime with one worker per CPU (monoio: one runtime per thread, the
//!   tasks split evenly). Throughput: wake-ups per second; latency: lateness (actual
//!   minus requested wake time).
//! * `timeout(1 s, ready)`: arming and disarming a timer around a future that is ready
//!   at once, on a current-thread runtime; timeouts per second.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::cpu;
use crate::report::{Implementation, Percentiles, Sample};

pub const IMPLEMENTATIONS: [Implementation; 4] = [
    Implementation::RingtideUring,
    Implementation::RingtideMio,
    Implementation::Tokio,
    Implementation::Monoio,
];

const SLEEP: Duration = Duration::from_millis(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    SleepLoop,
    TimeoutReady,
}

impl Case {
    pub const ALL: [Case; 2] = [Case::SleepLoop, Case::TimeoutReady];

    pub fn name(self, tasks: usize, workers: usize) -> String {
        match self {
            Case::SleepLoop => format!("{tasks} tasks sleep 1 ms in a loop, {workers} workers"),
            Case::TimeoutReady => "timeout(1 s, ready), current-thread".to_owned(),
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Case::SleepLoop => "wake-ups/s",
            Case::TimeoutReady => "timeouts/s",
        }
    }
}

/// Lateness samples in nanoseconds, collected per task and merged at the end.
type Lateness = Arc<Mutex<Vec<u32>>>;

fn late_nanos(asked: Instant) -> u32 {
    u32::try_from(asked.elapsed().saturating_sub(SLEEP).as_nanos()).unwrap_or(u32::MAX)
}

/// One run of `case` on `implementation`.
pub fn run(
    case: Case,
    implementation: Implementation,
    tasks: usize,
    workers: usize,
    window: Duration,
) -> Result<Sample, String> {
    let cpu_start = cpu::process_time();
    let start = Instant::now();
    let (operations, lateness) = match case {
        Case::SleepLoop => {
            let lateness: Lateness = Arc::default();
            sleep_loop(implementation, tasks, workers, window, lateness.clone())
                .map_err(|error| error.to_string())?;
            let samples = std::mem::take(&mut *lateness.lock().expect("lateness lock"));
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
                .expect("valid histogram bounds");
            for nanos in &samples {
                histogram.saturating_record(u64::from(*nanos).max(1));
            }
            (samples.len() as u64, Percentiles::of_nanos(&histogram))
        }
        Case::TimeoutReady => (
            timeout_ready(implementation, window).map_err(|error| error.to_string())?,
            None,
        ),
    };
    let elapsed = start.elapsed();
    let cpu = cpu::process_time().saturating_sub(cpu_start);
    Ok(Sample {
        throughput: operations as f64 / elapsed.as_secs_f64(),
        latency_us: lateness,
        cpu_per_op_us: Some(cpu.as_secs_f64() * 1e6 / operations.max(1) as f64),
        ..Sample::default()
    })
}

fn sleep_loop(
    implementation: Implementation,
    tasks: usize,
    workers: usize,
    window: Duration,
    lateness: Lateness,
) -> std::io::Result<()> {
    let deadline = Instant::now() + window;
    match implementation {
        Implementation::RingtideUring | Implementation::RingtideMio => {
            let backend = if implementation == Implementation::RingtideUring {
                ringtide::runtime::Backend::IoUring
            } else {
                ringtide::runtime::Backend::Mio
            };
            let runtime = ringtide::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .backend(backend)
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let handles: Vec<_> = (0..tasks)
                    .map(|_| {
                        let lateness = lateness.clone();
                        ringtide::spawn(async move {
                            let mut local = Vec::new();
                            while local.is_empty() || Instant::now() < deadline {
                                let asked = Instant::now();
                                ringtide::time::sleep(SLEEP).await;
                                local.push(late_nanos(asked));
                            }
                            lateness.lock().expect("lateness lock").extend(local);
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await.map_err(std::io::Error::other)?;
                }
                Ok(())
            })
        }
        Implementation::Tokio => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let handles: Vec<_> = (0..tasks)
                    .map(|_| {
                        let lateness = lateness.clone();
                        tokio::spawn(async move {
                            let mut local = Vec::new();
                            while local.is_empty() || Instant::now() < deadline {
                                let asked = Instant::now();
                                tokio::time::sleep(SLEEP).await;
                                local.push(late_nanos(asked));
                            }
                            lateness.lock().expect("lateness lock").extend(local);
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await.map_err(std::io::Error::other)?;
                }
                Ok(())
            })
        }
        #[cfg(target_os = "linux")]
        Implementation::Monoio => {
            let threads: Vec<_> = (0..workers)
                .map(|worker| {
                    let lateness = lateness.clone();
                    // The tasks split evenly, the remainder to the first workers.
                    let mine = tasks / workers + usize::from(worker < tasks % workers);
                    std::thread::spawn(move || -> std::io::Result<()> {
                        let mut runtime = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                            .enable_timer()
                            .build()?;
                        runtime.block_on(async move {
                            let handles: Vec<_> = (0..mine)
                                .map(|_| {
                                    let lateness = lateness.clone();
                                    monoio::spawn(async move {
                                        let mut local = Vec::new();
                                        while local.is_empty() || Instant::now() < deadline {
                                            let asked = Instant::now();
                                            monoio::time::sleep(SLEEP).await;
                                            local.push(late_nanos(asked));
                                        }
                                        lateness.lock().expect("lateness lock").extend(local);
                                    })
                                })
                                .collect();
                            for handle in handles {
                                handle.await;
                            }
                        });
                        Ok(())
                    })
                })
                .collect();
            for thread in threads {
                thread
                    .join()
                    .map_err(|_| std::io::Error::other("a monoio thread panicked"))??;
            }
            Ok(())
        }
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!("{} has no timers", implementation.name()),
        )),
    }
}

fn timeout_ready(implementation: Implementation, window: Duration) -> std::io::Result<u64> {
    /// Timeouts per deadline check.
    const BATCH: u64 = 1000;
    let deadline = Instant::now() + window;
    match implementation {
        Implementation::RingtideUring | Implementation::RingtideMio => {
            let backend = if implementation == Implementation::RingtideUring {
                ringtide::runtime::Backend::IoUring
            } else {
                ringtide::runtime::Backend::Mio
            };
            let runtime = ringtide::runtime::Builder::new_current_thread()
                .backend(backend)
                .enable_all()
                .build()?;
            Ok(runtime.block_on(async {
                let mut done = 0;
                while done == 0 || Instant::now() < deadline {
                    for _ in 0..BATCH {
                        let value =
                            ringtide::time::timeout(Duration::from_secs(1), async { 1 }).await;
                        std::hint::black_box(value.ok());
                    }
                    done += BATCH;
                }
                done
            }))
        }
        Implementation::Tokio => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            Ok(runtime.block_on(async {
                let mut done = 0;
                while done == 0 || Instant::now() < deadline {
                    for _ in 0..BATCH {
                        let value = tokio::time::timeout(Duration::from_secs(1), async { 1 }).await;
                        std::hint::black_box(value.ok());
                    }
                    done += BATCH;
                }
                done
            }))
        }
        #[cfg(target_os = "linux")]
        Implementation::Monoio => {
            let mut runtime = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .enable_timer()
                .build()?;
            Ok(runtime.block_on(async {
                let mut done = 0;
                while done == 0 || Instant::now() < deadline {
                    for _ in 0..BATCH {
                        let value =
                            monoio::time::timeout(Duration::from_secs(1), async { 1 }).await;
                        std::hint::black_box(value.ok());
                    }
                    done += BATCH;
                }
                done
            }))
        }
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!("{} has no timers", implementation.name()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_cases_run_on_every_implementation() {
        for case in Case::ALL {
            for implementation in IMPLEMENTATIONS {
                let sample = run(case, implementation, 20, 2, Duration::from_millis(20))
                    .unwrap_or_else(|error| panic!("{case:?} on {implementation:?}: {error}"));
                assert!(sample.throughput > 0.0, "{case:?} on {implementation:?}");
                assert_eq!(sample.latency_us.is_some(), case == Case::SleepLoop);
            }
        }
        let error = run(
            Case::TimeoutReady,
            Implementation::RawUring,
            1,
            1,
            Duration::ZERO,
        )
        .unwrap_err();
        assert!(error.contains("has no timers"), "{error}");
    }
}
