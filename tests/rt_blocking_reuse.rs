//! The blocking pool reuses its threads: a steady load of short `spawn_blocking` jobs,
//! never more than `CONCURRENCY` at once, must not grow the pool beyond `CONCURRENCY`
//! threads (the cap is 512 by default); and jobs that block until other jobs run still
//! all run (the pool never leaves a job queued below its cap when no thread is free).
//!
//! Found by the soak's mixed workload (`ringtide-soak`): 64 tasks each running one
//! 0–2 ms blocking job at a time grew the pool to 512 threads within a second. Two
//! causes, fixed one after the other:
//! * a thread woken for a job that another thread had already taken went back to
//!   waiting without consuming its wake-up, so the pool counted it as "notified" until
//!   its keep-alive ran out, and every later spawn started a new thread (230 threads
//!   for 16 tasks);
//! * a spawn that landed while a thread was on its way back from its job (its task's
//!   `JoinHandle` already woken), or while a woken idle thread had not run yet, started
//!   one more thread: 76-285 threads for 64 tasks (12 runs on 2 busy cores). The pool
//!   now counts those threads as coming (`blocking::pool`).
//!
//! Both backends, a multi-thread runtime of 2 workers, under a watchdog.

mod rt_common;

use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use ringtide::runtime::{Backend, Handle};

/// Jobs in flight at once (one per task).
const CONCURRENCY: usize = 64;
/// Jobs per task.
const ROUNDS: usize = 100;

fn steady_short_jobs_reuse_idle_threads(backend: Backend) {
    rt_common::with_timeout(
        &format!("steady_short_jobs_reuse_idle_threads on {backend}"),
        rt_common::TEST_TIMEOUT,
        move || {
            let rt = rt_common::backend_runtime(backend, 2);
            let metrics = rt.metrics();
            let peak = rt.block_on(async {
                let mut tasks = Vec::new();
                for task in 0..CONCURRENCY {
                    let metrics = metrics.clone();
                    tasks.push(ringtide::spawn(async move {
                        let mut peak = 0;
                        for round in 0..ROUNDS {
                            let pause =
                                Duration::from_micros(((task * 31 + round * 17) % 2000) as u64);
                            ringtide::task::spawn_blocking(move || std::thread::sleep(pause))
                                .await
                                .unwrap();
                            peak = peak.max(metrics.num_blocking_threads());
                        }
                        peak
                    }));
                }
                let mut peak = 0;
                for task in tasks {
                    peak = peak.max(task.await.unwrap());
                }
                peak
            });
            // Exact, not a margin: a thread is started only when every idle thread is
            // already woken for a job and more jobs are queued than threads are coming
            // for them (woken, starting, or back from a job), so every thread is
            // running, or coming for, one of the at most CONCURRENCY jobs. Before the
            // pool counted the coming threads: 76-285 for this load.
            eprintln!("{backend}: peak of {peak} blocking threads for {CONCURRENCY} jobs at once");
            assert!(
                peak <= CONCURRENCY,
                "{backend}: {peak} blocking threads for at most {CONCURRENCY} jobs at once"
            );
        },
    );
}

#[test]
fn steady_short_jobs_reuse_idle_threads_on_io_uring() {
    steady_short_jobs_reuse_idle_threads(Backend::IoUring);
}

#[test]
fn steady_short_jobs_reuse_idle_threads_on_mio() {
    steady_short_jobs_reuse_idle_threads(Backend::Mio);
}

/// Rounds of the stress below.
const STRESS_ROUNDS: usize = 300;
/// Tasks running short jobs back to back during each round, so that threads are
/// always on their way back from a job, or woken and not yet running, when the
/// waiting jobs are spawned.
const NOISE_TASKS: usize = 8;
/// The pool's cap for the stress: above the most jobs a round runs at once (a group of
/// 32, a chain of 8, the noise tasks' 8).
const STRESS_CAP: usize = 64;

/// A job that spawns the next job of a chain of `depth` and blocks until that one ran.
fn chain(handle: Handle, depth: usize) -> usize {
    if depth == 0 {
        return 0;
    }
    let (sender, receiver) = mpsc::channel();
    let next = handle.clone();
    drop(handle.spawn_blocking(move || sender.send(chain(next, depth - 1)).unwrap()));
    receiver.recv().expect("the next job of the chain ran") + 1
}

/// Jobs that block until other jobs run: each round, a group of up to 32 jobs waiting
/// on one barrier (all of them must run at once) and a chain of 8 jobs each waiting
/// for the one it spawned, among tasks running short jobs. A job left queued while the
/// pool counted on a thread that never came for it hangs the round (the watchdog
/// fails the test). Afterwards no job is left queued.
fn jobs_waiting_for_each_other_all_run(backend: Backend) {
    rt_common::with_timeout(
        &format!("jobs_waiting_for_each_other_all_run on {backend}"),
        rt_common::TEST_TIMEOUT,
        move || {
            let rt = rt_common::backend_builder(backend, 2)
                .max_blocking_threads(STRESS_CAP)
                .build()
                .unwrap();
            assert_eq!(rt.backend(), backend);
            let metrics = rt.metrics();
            rt.block_on(async {
                for round in 0..STRESS_ROUNDS {
                    let noise: Vec<_> = (0..NOISE_TASKS)
                        .map(|task| {
                            ringtide::spawn(async move {
                                for job in 0..20 {
                                    let value = ringtide::task::spawn_blocking(move || task + job)
                                        .await
                                        .unwrap();
                                    assert_eq!(value, task + job);
                                }
                            })
                        })
                        .collect();
                    let size = 2 + round % 31;
                    let barrier = Arc::new(Barrier::new(size));
                    let group: Vec<_> = (0..size)
                        .map(|_| {
                            let barrier = barrier.clone();
                            ringtide::task::spawn_blocking(move || {
                                barrier.wait();
                            })
                        })
                        .collect();
                    let handle = Handle::current();
                    let chained = ringtide::task::spawn_blocking(move || chain(handle, 8));
                    for job in group {
                        job.await.unwrap();
                    }
                    assert_eq!(chained.await.unwrap(), 8, "round {round}");
                    for task in noise {
                        task.await.unwrap();
                    }
                }
            });
            assert_eq!(metrics.blocking_queue_depth(), 0, "{backend}");
            let threads = metrics.num_blocking_threads();
            eprintln!("{backend}: {threads} blocking threads after {STRESS_ROUNDS} rounds");
            assert!(threads <= STRESS_CAP, "{backend}: {threads} threads");
        },
    );
}

#[test]
fn jobs_waiting_for_each_other_all_run_on_io_uring() {
    jobs_waiting_for_each_other_all_run(Backend::IoUring);
}

#[test]
fn jobs_waiting_for_each_other_all_run_on_mio() {
    jobs_waiting_for_each_other_all_run(Backend::Mio);
}
