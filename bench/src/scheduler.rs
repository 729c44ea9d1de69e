//! The five scheduler workloads of `benches/scheduler.rs` (the ones tokio's own
//! `rt_multi_threaded` bench uses), in-process, on ringtide (io_uring and mio: the
//! backend decides how idle workers park) and tokio with the same worker count:
//!
//! - `spawn_many_local`: a task spawns 10 000 trivial tasks and waits for all of them.
//! - `spawn_many_remote_idle`: the thread outside the runtime spawns 10 000 tasks while
//!   the workers are idle, then waits for them (the injection queue).
//! - `yield_many`: 200 tasks each `yield_now().await` 1 000 times.
//! - `ping_pong`: 1 000 pairs of tasks exchange one message each way over
//!   `futures::channel::oneshot`.
//! - `chained_spawn`: a chain of 1 000 tasks, each spawning the next.
//!
//! monoio and the raw loop are not in these rows: monoio is thread-per-core with
//! `!Send` tasks and no work stealing or spawning from outside a runtime, and the raw
//! loop has no scheduler. A run builds the runtime, runs one iteration (not counted),
//! then repeats the workload for the window; the figure is tasks (yields, pairs,
//! spawns) per second, and CPU per operation is the process's.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::channel::oneshot;

use crate::cpu;
use crate::report::{Implementation, Sample};

/// Tasks spawned by the `spawn_many_*` workloads.
const NUM_SPAWN: usize = 10_000;
const NUM_YIELD_TASKS: usize = 200;
const NUM_YIELDS: usize = 1_000;
const NUM_PINGS: usize = 1_000;
const CHAIN_LEN: usize = 1_000;

/// The implementations these workloads run on.
pub const IMPLEMENTATIONS: [Implementation; 3] = [
    Implementation::RingtideUring,
    Implementation::RingtideMio,
    Implementation::Tokio,
];

/// One workload: its name, the unit of its figure, operations per iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    SpawnManyLocal,
    SpawnManyRemoteIdle,
    YieldMany,
    PingPong,
    ChainedSpawn,
}

impl Workload {
    pub const ALL: [Workload; 5] = [
        Workload::SpawnManyLocal,
        Workload::SpawnManyRemoteIdle,
        Workload::YieldMany,
        Workload::PingPong,
        Workload::ChainedSpawn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::SpawnManyLocal => "spawn_many_local",
            Workload::SpawnManyRemoteIdle => "spawn_many_remote_idle",
            Workload::YieldMany => "yield_many",
            Workload::PingPong => "ping_pong",
            Workload::ChainedSpawn => "chained_spawn",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Workload::SpawnManyLocal | Workload::SpawnManyRemoteIdle => "tasks/s",
            Workload::YieldMany => "yields/s",
            Workload::PingPong => "pairs/s",
            Workload::ChainedSpawn => "spawns/s",
        }
    }

    fn operations(self) -> usize {
        match self {
            Workload::SpawnManyLocal | Workload::SpawnManyRemoteIdle => NUM_SPAWN,
            Workload::YieldMany => NUM_YIELD_TASKS * NUM_YIELDS,
            Workload::PingPong => NUM_PINGS,
            Workload::ChainedSpawn => CHAIN_LEN,
        }
    }

    fn function<R: BenchRuntime>(self) -> fn(&R) {
        match self {
            Workload::SpawnManyLocal => spawn_many_local::<R>,
            Workload::SpawnManyRemoteIdle => spawn_many_remote_idle::<R>,
            Workload::YieldMany => yield_many::<R>,
            Workload::PingPong => ping_pong::<R>,
            Workload::ChainedSpawn => chained_spawn::<R>,
        }
    }
}

/// One run of `workload` on `implementation` with `workers` workers.
pub fn run(
    workload: Workload,
    implementation: Implementation,
    workers: usize,
    window: Duration,
) -> Result<Sample, String> {
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
                .build()
                .map_err(|error| error.to_string())?;
            Ok(repeat(
                &runtime,
                workload.function(),
                workload.operations(),
                window,
            ))
        }
        Implementation::Tokio => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            Ok(repeat(
                &runtime,
                workload.function(),
                workload.operations(),
                window,
            ))
        }
        Implementation::RingtideUringPoll
        | Implementation::RingtideUringPollMulti
        | Implementation::RingtideMioPoll => Err(format!(
            "{} is a network server only",
            implementation.name()
        )),
        Implementation::Monoio | Implementation::RawUring => Err(format!(
            "{} has no work-stealing scheduler",
            implementation.name()
        )),
    }
}

/// One untimed iteration, then iterations until `window` is over.
fn repeat<R>(runtime: &R, iteration: fn(&R), operations: usize, window: Duration) -> Sample {
    iteration(runtime);
    let cpu_start = cpu::process_time();
    let start = Instant::now();
    let mut iterations = 0u64;
    while iterations == 0 || start.elapsed() < window {
        iteration(runtime);
        iterations += 1;
    }
    let elapsed = start.elapsed();
    let cpu = cpu::process_time().saturating_sub(cpu_start);
    let operations = (iterations * operations as u64) as f64;
    Sample {
        throughput: operations / elapsed.as_secs_f64(),
        cpu_per_op_us: Some(cpu.as_secs_f64() * 1e6 / operations),
        ..Sample::default()
    }
}

/// What the workloads need from a runtime, so their code is literally the same
/// (monomorphised) for each.
trait BenchRuntime: Sized {
    fn block_on<F: Future>(&self, future: F) -> F::Output;
    /// Spawns a detached task from outside the runtime.
    fn spawn_remote<F: Future<Output = ()> + Send + 'static>(&self, future: F);
    /// Spawns a detached task on the current runtime (from inside a task).
    fn spawn<F: Future<Output = ()> + Send + 'static>(future: F);
    fn yield_now() -> impl Future<Output = ()> + Send;
}

impl BenchRuntime for ringtide::runtime::Runtime {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        ringtide::runtime::Runtime::block_on(self, future)
    }

    fn spawn_remote<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        drop(ringtide::runtime::Runtime::spawn(self, future));
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
        drop(ringtide::spawn(future));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        ringtide::task::yield_now()
    }
}

impl BenchRuntime for tokio::runtime::Runtime {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::Runtime::block_on(self, future)
    }

    fn spawn_remote<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        drop(tokio::runtime::Runtime::spawn(self, future));
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
        drop(tokio::spawn(future));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
}

/// A countdown shared by the tasks of one iteration: the task that brings it to zero
/// fires the oneshot the caller waits on.
struct Countdown {
    remaining: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl Countdown {
    fn new(count: usize) -> (Arc<Countdown>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let countdown = Countdown {
            remaining: AtomicUsize::new(count),
            done: Mutex::new(Some(tx)),
        };
        (Arc::new(countdown), rx)
    }

    fn count_down(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let tx = self.done.lock().expect("countdown lock").take();
            let _ = tx.expect("countdown finished twice").send(());
        }
    }
}

fn spawn_many_local<R: BenchRuntime>(rt: &R) {
    let (countdown, done) = Countdown::new(NUM_SPAWN);
    rt.block_on(async move {
        R::spawn(async move {
            for _ in 0..NUM_SPAWN {
                let countdown = countdown.clone();
                R::spawn(async move { countdown.count_down() });
            }
        });
        done.await.expect("countdown");
    });
}

fn spawn_many_remote_idle<R: BenchRuntime>(rt: &R) {
    let (countdown, done) = Countdown::new(NUM_SPAWN);
    for _ in 0..NUM_SPAWN {
        let countdown = countdown.clone();
        rt.spawn_remote(async move { countdown.count_down() });
    }
    rt.block_on(async move { done.await.expect("countdown") });
}

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
    rt.block_on(async move { done.await.expect("countdown") });
}

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
                        ping_rx.await.expect("ping");
                        let _ = pong_tx.send(());
                    });
                    let _ = ping_tx.send(());
                    pong_rx.await.expect("pong");
                    countdown.count_down();
                });
            }
        });
        done.await.expect("countdown");
    });
}

fn chain_link<R: BenchRuntime>(remaining: usize, done: oneshot::Sender<()>) {
    if remaining == 0 {
        let _ = done.send(());
    } else {
        R::spawn(async move { chain_link::<R>(remaining - 1, done) });
    }
}

fn chained_spawn<R: BenchRuntime>(rt: &R) {
    let (tx, done) = oneshot::channel();
    rt.block_on(async move {
        R::spawn(async move { chain_link::<R>(CHAIN_LEN, tx) });
        done.await.expect("chain");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_completes_on_both_runtimes_and_counts_its_operations() {
        for workload in Workload::ALL {
            for implementation in IMPLEMENTATIONS {
                let sample = run(workload, implementation, 2, Duration::ZERO)
                    .unwrap_or_else(|error| panic!("{workload:?} on {implementation:?}: {error}"));
                assert!(
                    sample.throughput > 0.0,
                    "{workload:?} on {implementation:?}"
                );
                assert!(sample.cpu_per_op_us.is_some());
            }
        }
    }

    #[test]
    fn monoio_and_raw_say_why_they_do_not_run() {
        let error = run(
            Workload::YieldMany,
            Implementation::Monoio,
            2,
            Duration::ZERO,
        )
        .unwrap_err();
        assert!(error.contains("no work-stealing scheduler"), "{error}");
    }
}
