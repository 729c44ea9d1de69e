//! Work stealing: an unbalanced load (one task spawning many CPU-ish tasks) spreads over
//! the workers of a multi-thread runtime.

#[macro_use]
mod rt_common;

use ringtide::runtime::Runtime;
use ringtide::task;

/// One task spawns `tasks` tasks, each doing some CPU work around a few `yield_now`s.
/// Returns the sum of their outputs.
fn unbalanced_round(rt: &Runtime, tasks: u64) -> u64 {
    let root = rt.spawn(async move {
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                ringtide::spawn(async move {
                    for _ in 0..3 {
                        std::hint::black_box(rt_common::spin_work(2_000));
                        task::yield_now().await;
                    }
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.expect("task failed");
        }
        sum
    });
    rt.block_on(root).expect("root task failed")
}

rt_test! {
    /// The unbalanced load completes on every flavour; on 4 workers other workers steal
    /// from the spawning worker's queue (the steal count summed over workers becomes
    /// positive and more than one worker polls tasks), and a single worker never steals.
    /// Metrics are published lazily, so rounds repeat until observed (bounded).
    fn unbalanced_load_is_stolen(flavor) {
        const TASKS: u64 = 1_000;
        const MAX_ROUNDS: usize = 30;
        let rt = flavor.rt();
        let metrics = rt.metrics();
        let mut observed = false;
        for _round in 0..MAX_ROUNDS {
            assert_eq!(unbalanced_round(&rt, TASKS), TASKS * (TASKS - 1) / 2);
            let steals = rt_common::sum_workers(&metrics, |w| metrics.worker_steal_count(w));
            let busy_workers = (0..metrics.num_workers())
                .filter(|&w| metrics.worker_poll_count(w) > 0)
                .count();
            if flavor.single_worker() {
                assert_eq!(steals, 0, "a lone worker has no one to steal from");
                observed = true;
                continue;
            }
            if steals > 0 && busy_workers > 1 {
                observed = true;
                break;
            }
        }
        let per_worker: Vec<_> = (0..metrics.num_workers())
            .map(|w| (metrics.worker_poll_count(w), metrics.worker_steal_count(w)))
            .collect();
        assert!(
            observed,
            "no work stealing observed after {MAX_ROUNDS} rounds; (polls, steals) per worker: {per_worker:?}"
        );
        assert_eq!(metrics.num_workers(), flavor.workers());
    }
}
