//! The blocking pool reuses its idle threads: a steady load of short `spawn_blocking`
//! jobs, never more than `CONCURRENCY` at once, must not grow the pool toward its cap
//! (512 threads by default).
//!
//! Found by the soak's mixed workload (`ringtide-soak`): 64 tasks each running one
//! 0–2 ms blocking job at a time grew the pool to 512 threads within a second (the
//! resident memory grew with their stacks). A thread woken for a job that another
//! thread had already taken went back to waiting without consuming its wake-up, so the
//! pool counted it as "notified" until its keep-alive ran out, and every later spawn
//! started a new thread instead of waking it.
//!
//! Both backends, a multi-thread runtime of 2 workers, under a watchdog.

mod rt_common;

use std::time::Duration;

use ringtide::runtime::Backend;

/// Jobs in flight at once (one per task).
const CONCURRENCY: usize = 16;
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
            // A pool that reuses its idle threads needs about CONCURRENCY threads, plus
            // those started while finished ones were on their way back to idle (a job
            // spawned in that window starts a thread): 22-40 here on 2 busy cores. With
            // the lost wake-ups the same load started 230 (64 tasks: the cap of 512).
            eprintln!("{backend}: peak of {peak} blocking threads");
            assert!(
                peak <= 4 * CONCURRENCY,
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
