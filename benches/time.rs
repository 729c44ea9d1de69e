//! Timer benchmarks, ringtide and tokio side by side in one run.
//!
//! * `create_drop_1m`: create 1M `sleep`s, poll each once (registering it in the wheel),
//!   drop them all; one current-thread runtime per library, reused across samples.
//! * `timeout_ready`: `timeout(1 s, ready)` awaited 1000 times (the cost of arming and
//!   disarming a timer around a future that is ready at once).
//! * `sleep_1ms_loop` (printed, not criterion): 10k tasks on a 2-worker runtime, each
//!   sleeping 1 ms in a loop for 1 s; reports wake-ups per second and the lateness
//!   (actual minus requested wake time) p50 / p99. Three variants, interleaved:
//!   ringtide with one timer wheel for the runtime (`timer_shards(1)`), ringtide with
//!   its default (one wheel per worker), and tokio; `RINGTIDE_BENCH_ROUNDS` rounds
//!   (default 3), then the median of each figure and its ratio to tokio's. Wake-ups
//!   per CPU second (the process's CPU time) are printed too: on a shared, busy
//!   machine they vary less than wake-ups per wall-clock second.
//!
//! ```text
//! cargo bench --bench time -- --noplot
//! cargo bench --bench time -- --noplot sleep_1ms_loop            # the loop only
//! RINGTIDE_BENCH_QUICK=1 cargo bench --bench time -- --noplot   # smoke run
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};

fn quick() -> bool {
    std::env::var("RINGTIDE_BENCH_QUICK").is_ok_and(|v| v == "1")
}

fn config() -> Criterion {
    let criterion = Criterion::default().sample_size(10);
    if quick() {
        criterion
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(500))
    } else {
        criterion
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
    }
}

fn ringtide_rt() -> ringtide::runtime::Runtime {
    ringtide::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Polls `future` once with a no-op waker.
fn poll_once<F: Future>(future: Pin<&mut F>) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let _ = future.poll(&mut cx);
}

fn create_drop_1m(c: &mut Criterion) {
    const COUNT: u64 = 1_000_000;
    let mut group = c.benchmark_group("create_drop_1m");
    let rt = ringtide_rt();
    group.bench_function("ringtide", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    let mut sleeps: Vec<_> = (0..COUNT)
                        .map(|i| {
                            Box::pin(ringtide::time::sleep(Duration::from_secs(10 + i % 1000)))
                        })
                        .collect();
                    for sleep in &mut sleeps {
                        poll_once(sleep.as_mut());
                    }
                    drop(sleeps);
                }
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    let mut sleeps: Vec<_> = (0..COUNT)
                        .map(|i| Box::pin(tokio::time::sleep(Duration::from_secs(10 + i % 1000))))
                        .collect();
                    for sleep in &mut sleeps {
                        poll_once(sleep.as_mut());
                    }
                    drop(sleeps);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn timeout_ready(c: &mut Criterion) {
    const COUNT: u64 = 1000;
    let mut group = c.benchmark_group("timeout_ready_x1000");
    let rt = ringtide_rt();
    group.bench_function("ringtide", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations * COUNT {
                    let value = ringtide::time::timeout(Duration::from_secs(1), async { 1 }).await;
                    std::hint::black_box(value.unwrap());
                }
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations * COUNT {
                    let value = tokio::time::timeout(Duration::from_secs(1), async { 1 }).await;
                    std::hint::black_box(value.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = create_drop_1m, timeout_ready
}

/// Lateness samples (µs) and the number of wake-ups of one `sleep_1ms_loop` run.
struct LoopResult {
    wakeups: usize,
    lateness_micros: Vec<u64>,
    elapsed: Duration,
    /// CPU time the process used meanwhile (all threads).
    cpu: Duration,
}

/// CPU time used by this process so far (every thread).
#[cfg(unix)]
fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// User + kernel CPU time of this process (all its threads) so far (Windows:
/// `GetProcessTimes`, in 100 ns units).
#[cfg(windows)]
fn process_cpu_time() -> Duration {
    use windows_sys::Win32::Foundation::FILETIME;
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetProcessTimes};
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut creation, mut exit, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: the four out-parameters are valid, writable `FILETIME`s; the
    // pseudo-handle of the current process needs no closing.
    let ok = unsafe {
        GetProcessTimes(
            GetCurrentProcess(),
            &mut creation,
            &mut exit,
            &mut kernel,
            &mut user,
        )
    };
    assert_ne!(ok, 0, "GetProcessTimes failed");
    let ticks =
        |time: FILETIME| (u64::from(time.dwHighDateTime) << 32) | u64::from(time.dwLowDateTime);
    Duration::from_nanos((ticks(kernel) + ticks(user)) * 100)
}

/// `shards`: `Some(n)` sets `timer_shards(n)`, `None` keeps the default.
fn sleep_loop_ringtide(tasks: usize, run_for: Duration, shards: Option<usize>) -> LoopResult {
    let mut builder = ringtide::runtime::Builder::new_multi_thread();
    builder.worker_threads(2).enable_all();
    if let Some(shards) = shards {
        builder.timer_shards(shards);
    }
    let rt = builder.build().unwrap();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let cpu_start = process_cpu_time();
    let start = Instant::now();
    rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let samples = samples.clone();
            handles.push(ringtide::spawn(async move {
                let mut local = Vec::new();
                while start.elapsed() < run_for {
                    let asked = Instant::now();
                    ringtide::time::sleep(Duration::from_millis(1)).await;
                    let late = asked.elapsed().saturating_sub(Duration::from_millis(1));
                    local.push(late.as_micros() as u64);
                }
                samples.lock().unwrap().extend(local);
            }));
        }
        for handle in handles {
            handle.await.unwrap();
        }
    });
    let elapsed = start.elapsed();
    let cpu = process_cpu_time() - cpu_start;
    let lateness_micros = std::mem::take(&mut *samples.lock().unwrap());
    LoopResult {
        wakeups: lateness_micros.len(),
        lateness_micros,
        elapsed,
        cpu,
    }
}

fn sleep_loop_tokio(tasks: usize, run_for: Duration) -> LoopResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let cpu_start = process_cpu_time();
    let start = Instant::now();
    rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let samples = samples.clone();
            handles.push(tokio::spawn(async move {
                let mut local = Vec::new();
                while start.elapsed() < run_for {
                    let asked = Instant::now();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    let late = asked.elapsed().saturating_sub(Duration::from_millis(1));
                    local.push(late.as_micros() as u64);
                }
                samples.lock().unwrap().extend(local);
            }));
        }
        for handle in handles {
            handle.await.unwrap();
        }
    });
    let elapsed = start.elapsed();
    let cpu = process_cpu_time() - cpu_start;
    let lateness_micros = std::mem::take(&mut *samples.lock().unwrap());
    LoopResult {
        wakeups: lateness_micros.len(),
        lateness_micros,
        elapsed,
        cpu,
    }
}

/// One run's figures: wake-ups per second, lateness p50 and p99 (µs).
#[derive(Clone, Copy)]
struct Figures {
    rate: f64,
    p50: u64,
    p99: u64,
    /// Wake-ups per CPU second: less sensitive than `rate` to a busy machine.
    per_cpu: f64,
}

fn report(name: &str, mut result: LoopResult) -> Figures {
    result.lateness_micros.sort_unstable();
    let percentile = |p: f64| {
        let samples = &result.lateness_micros;
        if samples.is_empty() {
            return 0;
        }
        samples[((samples.len() - 1) as f64 * p) as usize]
    };
    let figures = Figures {
        rate: result.wakeups as f64 / result.elapsed.as_secs_f64(),
        p50: percentile(0.50),
        p99: percentile(0.99),
        per_cpu: result.wakeups as f64 / result.cpu.as_secs_f64(),
    };
    println!(
        "sleep_1ms_loop/{name}: {:.0} wake-ups/s, lateness p50 {} us, p99 {} us, \
         {:.0} wake-ups/CPU-s",
        figures.rate, figures.p50, figures.p99, figures.per_cpu,
    );
    figures
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn sleep_1ms_loop() {
    let tasks = 10_000;
    let run_for = if quick() {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(1)
    };
    let rounds = std::env::var("RINGTIDE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    const NAMES: [&str; 3] = ["ringtide-1-wheel", "ringtide-sharded", "tokio"];
    let mut runs: [Vec<Figures>; 3] = Default::default();
    // Interleaved: the machine's speed drifts.
    for _ in 0..rounds {
        runs[0].push(report(
            NAMES[0],
            sleep_loop_ringtide(tasks, run_for, Some(1)),
        ));
        runs[1].push(report(NAMES[1], sleep_loop_ringtide(tasks, run_for, None)));
        runs[2].push(report(NAMES[2], sleep_loop_tokio(tasks, run_for)));
    }
    let medians: Vec<[f64; 4]> = runs
        .iter()
        .map(|runs| {
            [
                median(runs.iter().map(|f| f.rate).collect()),
                median(runs.iter().map(|f| f.p50 as f64).collect()),
                median(runs.iter().map(|f| f.p99 as f64).collect()),
                median(runs.iter().map(|f| f.per_cpu).collect()),
            ]
        })
        .collect();
    let tokio = medians[2];
    for (name, [rate, p50, p99, per_cpu]) in NAMES.iter().zip(&medians) {
        // Each ratio is oriented so that <= 1.0 means at least as good as tokio.
        println!(
            "sleep_1ms_loop/{name} median of {rounds}: {rate:.0} wake-ups/s, p50 {p50:.0} us, \
             p99 {p99:.0} us, {per_cpu:.0} wake-ups/CPU-s; vs tokio: rate {:.2}, p50 {:.2}, \
             p99 {:.2}, CPU per wake-up {:.2} (<= 1.0: as good)",
            tokio[0] / rate,
            p50 / tokio[1],
            p99 / tokio[2],
            tokio[3] / per_cpu,
        );
    }
}

fn main() {
    benches();
    let filter_allows_loop = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .all(|filter| "sleep_1ms_loop".contains(&filter));
    if filter_allows_loop {
        sleep_1ms_loop();
    }
    Criterion::default().configure_from_args().final_summary();
}
