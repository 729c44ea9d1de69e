//! Scheduler benchmarks: ringtide and tokio side by side.
//!
//! Five classic multi-thread scheduler workloads (the ones tokio's own
//! `rt_multi_threaded` bench uses), each run on both runtimes with the same number of
//! worker threads, in the same process, one after the other:
//!
//! - `spawn_many_local`: a task spawns 10 000 trivial tasks and waits for all of them
//!   (the spawns go to that worker's local queue).
//! - `spawn_many_remote_idle`: the bench thread (outside the runtime) spawns 10 000
//!   trivial tasks with `Runtime::spawn` while the workers are idle, then `block_on`s
//!   until all of them have run (the spawns go through the injection queue).
//! - `yield_many`: 200 tasks each `yield_now().await` 1 000 times.
//! - `ping_pong`: a task spawns 1 000 tasks, each of which spawns a partner and
//!   exchanges one message each way with it over `futures::channel::oneshot`.
//! - `chained_spawn`: a chain of 1 000 tasks, each spawning the next.
//!
//! Every workload signals completion the same way on both runtimes: the tasks count
//! down a shared atomic and the last one sends on a `futures::channel::oneshot` that
//! the bench awaits in `block_on`. Join handles are dropped (the tasks are detached).
//!
//! Each workload runs at 2 and 4 worker threads, as criterion groups named
//! `<workload>/<n>workers` with the functions `ringtide` then `tokio`. Each runtime is
//! built once per group and dropped before the next runtime is built.
//!
//! Run it with:
//!
//! ```text
//! cargo bench --bench scheduler -- --noplot
//! RINGTIDE_BENCH_QUICK=1 cargo bench --bench scheduler -- --noplot   # smoke run
//! cargo bench --bench scheduler -- --noplot 'yield_many/2workers'    # one group
//! RINGTIDE_BENCH_WORKERS=1,2,4,8,16 cargo bench --bench scheduler -- --noplot  # scaling
//! ```
//!
//! The default settings (20 samples, 0.5 s warm-up, 2 s measurement per function) keep
//! a full run to a few minutes; `RINGTIDE_BENCH_QUICK=1` drops to 10 samples, 0.2 s of
//! warm-up and 0.5 s of measurement. Command-line options (`--sample-size`,
//! `--measurement-time`, ...) override both.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use futures::channel::oneshot;

/// Tasks spawned by the `spawn_many_*` workloads.
const NUM_SPAWN: usize = 10_000;
/// Tasks in `yield_many`.
const NUM_YIELD_TASKS: usize = 200;
/// Yields per task in `yield_many`.
const NUM_YIELDS: usize = 1_000;
/// Pairs of tasks in `ping_pong`.
const NUM_PINGS: usize = 1_000;
/// Length of the spawn chain in `chained_spawn`.
const CHAIN_LEN: usize = 1_000;
/// Worker thread counts every workload runs at.
const WORKER_COUNTS: [usize; 2] = [2, 4];

/// The worker counts to run: `RINGTIDE_BENCH_WORKERS=1,2,4,8,16` overrides the default
/// (for scaling runs on larger machines).
fn worker_counts() -> Vec<usize> {
    match std::env::var("RINGTIDE_BENCH_WORKERS") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("RINGTIDE_BENCH_WORKERS: comma-separated counts")
            })
            .collect(),
        Err(_) => WORKER_COUNTS.to_vec(),
    }
}

/// The operations the workloads need, implemented for both runtimes so the workload
/// code is literally the same (monomorphised) for each.
trait BenchRuntime: Sized {
    /// Name of the benchmark function (`ringtide` or `tokio`).
    const NAME: &'static str;

    /// A multi-thread runtime with `workers` worker threads and every driver enabled.
    fn build(workers: usize) -> Self;

    /// Runs `future` to completion on the calling (bench) thread.
    fn block_on<F: Future>(&self, future: F) -> F::Output;

    /// Spawns a detached task from outside the runtime (`Runtime::spawn`).
    fn spawn_remote<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Spawns a detached task on the current runtime (from inside a task).
    fn spawn<F>(future: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// The runtime's `task::yield_now`.
    fn yield_now() -> impl Future<Output = ()> + Send;
}

impl BenchRuntime for ringtide::runtime::Runtime {
    const NAME: &'static str = "ringtide";

    fn build(workers: usize) -> Self {
        ringtide::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("building the ringtide runtime")
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        ringtide::runtime::Runtime::block_on(self, future)
    }

    fn spawn_remote<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(ringtide::runtime::Runtime::spawn(self, future));
    }

    fn spawn<F>(future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(ringtide::spawn(future));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        ringtide::task::yield_now()
    }
}

impl BenchRuntime for tokio::runtime::Runtime {
    const NAME: &'static str = "tokio";

    fn build(workers: usize) -> Self {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("building the tokio runtime")
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::Runtime::block_on(self, future)
    }

    fn spawn_remote<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::runtime::Runtime::spawn(self, future));
    }

    fn spawn<F>(future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::spawn(future));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
}

/// A countdown shared by the tasks of one iteration: the task that brings it to zero
/// fires the oneshot the bench thread is waiting on.
struct Countdown {
    remaining: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl Countdown {
    /// A countdown of `count` and the receiver that fires when it reaches zero.
    fn new(count: usize) -> (Arc<Countdown>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let countdown = Countdown {
            remaining: AtomicUsize::new(count),
            done: Mutex::new(Some(tx)),
        };
        (Arc::new(countdown), rx)
    }

    /// Counts one down; the last call fires the receiver.
    fn count_down(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let tx = self.done.lock().unwrap().take();
            tx.expect("countdown finished twice").send(()).unwrap();
        }
    }
}

/// One iteration of `spawn_many_local`: a task spawns `NUM_SPAWN` tasks.
fn spawn_many_local<R: BenchRuntime>(rt: &R) {
    let (countdown, done) = Countdown::new(NUM_SPAWN);
    rt.block_on(async move {
        R::spawn(async move {
            for _ in 0..NUM_SPAWN {
                let countdown = countdown.clone();
                R::spawn(async move { countdown.count_down() });
            }
        });
        done.await.unwrap();
    });
}

/// One iteration of `spawn_many_remote_idle`: the bench thread spawns `NUM_SPAWN`
/// tasks, then waits for them.
fn spawn_many_remote_idle<R: BenchRuntime>(rt: &R) {
    let (countdown, done) = Countdown::new(NUM_SPAWN);
    for _ in 0..NUM_SPAWN {
        let countdown = countdown.clone();
        rt.spawn_remote(async move { countdown.count_down() });
    }
    rt.block_on(async move { done.await.unwrap() });
}

/// One iteration of `yield_many`: `NUM_YIELD_TASKS` tasks (spawned from the bench
/// thread, as in tokio's bench) each yield `NUM_YIELDS` times.
fn yield_many<R: BenchRuntime>(rt: &R) {
    let (countdown, done) = Countdown::new(NUM_YIELD_TASKS);
    for _ in 0..NUM_YIELD_TASKS {
        let countdown = countdown.clone();
        rt.spawn_remote(async move {
            for _ in 0..NUM_YIELDS {
                R::yield_now().await;
            }
            countdown.count_down();
        });
    }
    rt.block_on(async move { done.await.unwrap() });
}

/// One iteration of `ping_pong`: `NUM_PINGS` pairs of tasks, spawned from inside a
/// task, each exchanging one message each way.
fn ping_pong<R: BenchRuntime>(rt: &R) {
    let (countdown, done) = Countdown::new(NUM_PINGS);
    rt.block_on(async move {
        R::spawn(async move {
            for _ in 0..NUM_PINGS {
                let countdown = countdown.clone();
                R::spawn(async move {
                    let (ping_tx, ping_rx) = oneshot::channel::<()>();
                    let (pong_tx, pong_rx) = oneshot::channel::<()>();
                    R::spawn(async move {
                        ping_rx.await.unwrap();
                        pong_tx.send(()).unwrap();
                    });
                    ping_tx.send(()).unwrap();
                    pong_rx.await.unwrap();
                    countdown.count_down();
                });
            }
        });
        done.await.unwrap();
    });
}

/// One link of `chained_spawn`: spawns the next link, or fires `done` at the end.
fn chain_link<R: BenchRuntime>(remaining: usize, done: oneshot::Sender<()>) {
    if remaining == 0 {
        done.send(()).unwrap();
    } else {
        R::spawn(async move { chain_link::<R>(remaining - 1, done) });
    }
}

/// One iteration of `chained_spawn`: a chain of `CHAIN_LEN` spawns.
fn chained_spawn<R: BenchRuntime>(rt: &R) {
    let (tx, done) = oneshot::channel();
    rt.block_on(async move {
        R::spawn(async move { chain_link::<R>(CHAIN_LEN, tx) });
        done.await.unwrap();
    });
}

/// Benchmarks `workload` on a fresh `R` runtime with `workers` workers, built once
/// for the whole function and dropped (shut down) afterwards.
fn bench_on<R: BenchRuntime>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    workers: usize,
    workload: fn(&R),
) {
    let rt = R::build(workers);
    // One untimed iteration so lazily started threads and first allocations are done.
    workload(&rt);
    group.bench_function(R::NAME, |b| b.iter(|| workload(&rt)));
    drop(rt);
}

/// Runs one workload as the groups `<name>/<n>workers`, ringtide then tokio in each.
fn bench_workload(
    c: &mut Criterion,
    name: &str,
    elements: usize,
    ringtide_workload: fn(&ringtide::runtime::Runtime),
    tokio_workload: fn(&tokio::runtime::Runtime),
) {
    for workers in worker_counts() {
        let mut group = c.benchmark_group(format!("{name}/{workers}workers"));
        group.throughput(Throughput::Elements(elements as u64));
        bench_on(&mut group, workers, ringtide_workload);
        bench_on(&mut group, workers, tokio_workload);
        group.finish();
    }
}

/// All five workloads.
fn scheduler(c: &mut Criterion) {
    bench_workload(
        c,
        "spawn_many_local",
        NUM_SPAWN,
        spawn_many_local,
        spawn_many_local,
    );
    bench_workload(
        c,
        "spawn_many_remote_idle",
        NUM_SPAWN,
        spawn_many_remote_idle,
        spawn_many_remote_idle,
    );
    bench_workload(
        c,
        "yield_many",
        NUM_YIELD_TASKS * NUM_YIELDS,
        yield_many,
        yield_many,
    );
    bench_workload(c, "ping_pong", NUM_PINGS, ping_pong, ping_pong);
    bench_workload(c, "chained_spawn", CHAIN_LEN, chained_spawn, chained_spawn);
}

/// Criterion settings: modest by default, smaller with `RINGTIDE_BENCH_QUICK=1`.
fn config() -> Criterion {
    let quick = std::env::var("RINGTIDE_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (samples, warm_up, measurement) = if quick {
        (10, Duration::from_millis(200), Duration::from_millis(500))
    } else {
        (20, Duration::from_millis(500), Duration::from_secs(2))
    };
    Criterion::default()
        .sample_size(samples)
        .warm_up_time(warm_up)
        .measurement_time(measurement)
}

criterion_group! {
    name = benches;
    config = config();
    targets = scheduler
}
criterion_main!(benches);
