//! Timer benchmarks, ringtide and tokio side by side in one run.
//!
//! * `create_drop_1m`: create 1M `sleep`s, poll each once (registering it in the wheel),
//!   drop them all; one current-thread runtime per library, reused across samples.
//! * `timeout_ready`: `timeout(1 s, ready)` awaited 1000 times (the cost of arming and
//!   disarming a timer around a future that is ready at once).
//! * `sleep_1ms_loop` (printed, not criterion): 10k tasks on a 2-worker runtime, each
//!   sleeping 1 ms in a loop for 1 s; reports wake-ups per second and the lateness
//!   (actual minus requested wake time) p50 / p99.
//!
//! ```text
//! cargo bench --bench time -- --noplot
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
}

fn sleep_loop_ringtide(tasks: usize, run_for: Duration) -> LoopResult {
    let rt = ringtide::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let samples = Arc::new(Mutex::new(Vec::new()));
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
    let lateness_micros = std::mem::take(&mut *samples.lock().unwrap());
    LoopResult {
        wakeups: lateness_micros.len(),
        lateness_micros,
        elapsed,
    }
}

fn sleep_loop_tokio(tasks: usize, run_for: Duration) -> LoopResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let samples = Arc::new(Mutex::new(Vec::new()));
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
    let lateness_micros = std::mem::take(&mut *samples.lock().unwrap());
    LoopResult {
        wakeups: lateness_micros.len(),
        lateness_micros,
        elapsed,
    }
}

fn report(name: &str, mut result: LoopResult) {
    result.lateness_micros.sort_unstable();
    let percentile = |p: f64| {
        let samples = &result.lateness_micros;
        if samples.is_empty() {
            return 0;
        }
        samples[((samples.len() - 1) as f64 * p) as usize]
    };
    println!(
        "sleep_1ms_loop/{name}: {:.0} wake-ups/s, lateness p50 {} us, p99 {} us",
        result.wakeups as f64 / result.elapsed.as_secs_f64(),
        percentile(0.50),
        percentile(0.99),
    );
}

fn sleep_1ms_loop() {
    let tasks = 10_000;
    let run_for = if quick() {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(1)
    };
    // Interleaved, twice each: the machine's speed drifts.
    for _ in 0..2 {
        report("ringtide", sleep_loop_ringtide(tasks, run_for));
        report("tokio", sleep_loop_tokio(tasks, run_for));
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
