//! Cooperative scheduling: the budget makes busy tasks yield, `unconstrained` turns it
//! off, `yield_now` lets every queued task run before resuming.

#[macro_use]
mod rt_common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::channel::oneshot;
use std::sync::{Arc, Mutex};

use ringtide::task;

rt_test! {
    /// Task A loops on `consume_budget()` until a flag is set; task B (queued behind A)
    /// sets it. Without the budget forcing A to yield, a single worker never runs B.
    fn consume_budget_does_not_starve(flavor) {
        let rt = flavor.rt();
        let iterations = rt.block_on(async {
            let flag = Arc::new(AtomicBool::new(false));
            let a = {
                let flag = flag.clone();
                ringtide::spawn(async move {
                    let mut iterations = 0u64;
                    while !flag.load(Ordering::SeqCst) {
                        task::consume_budget().await;
                        iterations += 1;
                    }
                    iterations
                })
            };
            let b = ringtide::spawn(async move { flag.store(true, Ordering::SeqCst) });
            b.await.unwrap();
            a.await.unwrap()
        });
        if flavor.single_worker() {
            assert!(iterations > 0, "A ran first, so it spun at least once");
        }
    }
}

rt_test! {
    /// Awaiting finished `JoinHandle`s spends budget: a task that walks through 20k of
    /// them is made to yield, so a task queued behind it runs before the walk ends
    /// (asserted on a single worker; elsewhere the walk must just complete).
    fn join_handle_spends_budget(flavor) {
        const N: usize = 20_000;
        let rt = flavor.rt();
        let (walked, total) = rt.block_on(async {
            // Wait until every task has run (the last one signals), so the walk below
            // finds finished handles (a handle that is not quite finished yet just makes
            // the walk wait, which also lets B run).
            let finished = Arc::new(AtomicUsize::new(0));
            let (all_tx, all_rx) = oneshot::channel::<()>();
            let all_tx = Arc::new(Mutex::new(Some(all_tx)));
            let handles: Vec<_> = (0..N)
                .map(|_| {
                    let finished = finished.clone();
                    let all_tx = all_tx.clone();
                    ringtide::spawn(async move {
                        if finished.fetch_add(1, Ordering::SeqCst) + 1 == N {
                            all_tx.lock().unwrap().take().unwrap().send(()).unwrap();
                        }
                    })
                })
                .collect();
            all_rx.await.unwrap();
            // B is queued first and waits until A has started walking; A releases it
            // from inside its own poll, so B is queued behind A on the same worker no
            // matter how the OS schedules the threads.
            let flag = Arc::new(AtomicBool::new(false));
            let (release_tx, release_rx) = oneshot::channel::<()>();
            let b = {
                let flag = flag.clone();
                ringtide::spawn(async move {
                    release_rx.await.unwrap();
                    flag.store(true, Ordering::SeqCst);
                })
            };
            let a = ringtide::spawn(async move {
                release_tx.send(()).unwrap();
                let mut walked = 0;
                for handle in handles {
                    if flag.load(Ordering::SeqCst) {
                        break;
                    }
                    handle.await.unwrap();
                    walked += 1;
                }
                walked
            });
            b.await.unwrap();
            (a.await.unwrap(), N)
        });
        // With several workers B may sit in another worker's queue while the OS has
        // that thread descheduled, so only a single worker gives a strict guarantee.
        if flavor.single_worker() {
            assert!(walked < total, "the walk over {total} finished handles never yielded");
        }
    }
}

rt_test! {
    /// Inside `unconstrained`, the budget never forces a yield: on a single worker, a task
    /// queued behind cannot run during 1000 `consume_budget()` calls (and on every
    /// flavour the loop completes).
    fn unconstrained_never_yields(flavor) {
        let rt = flavor.rt();
        let saw_b = rt.block_on(async {
            let flag = Arc::new(AtomicBool::new(false));
            let a = {
                let flag = flag.clone();
                ringtide::spawn(task::unconstrained(async move {
                    for _ in 0..1_000 {
                        task::consume_budget().await;
                    }
                    flag.load(Ordering::SeqCst)
                }))
            };
            let b = ringtide::spawn(async move { flag.store(true, Ordering::SeqCst) });
            let saw_b = a.await.unwrap();
            b.await.unwrap();
            saw_b
        });
        if flavor.single_worker() {
            assert!(!saw_b, "an unconstrained task was preempted by the budget");
        }
    }
}

rt_test! {
    /// `yield_now` puts the task behind every queued task: two tasks yielding in a loop
    /// alternate strictly on a single worker.
    fn yield_now_alternates(flavor) {
        let rt = flavor.rt();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        rt.block_on(rt.spawn(async move {
            let tasks: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|name| {
                    let log = log2.clone();
                    ringtide::spawn(async move {
                        for _ in 0..5 {
                            log.lock().unwrap().push(name);
                            task::yield_now().await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        }))
        .unwrap();
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 10);
        if flavor.single_worker() {
            assert!(
                log.windows(2).all(|pair| pair[0] != pair[1]),
                "yielding tasks did not alternate: {log:?}"
            );
        }
    }
}

rt_test! {
    /// A `block_on` future that waits by yielding (or spending budget) in a loop must
    /// not starve the spawned tasks it waits for. (tokio runs a batch of tasks between
    /// two polls of the `block_on` future.)
    fn block_on_yield_loop_does_not_starve_tasks(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let flag = Arc::new(AtomicBool::new(false));
            let setter = {
                let flag = flag.clone();
                ringtide::spawn(async move { flag.store(true, Ordering::SeqCst) })
            };
            while !flag.load(Ordering::SeqCst) {
                task::yield_now().await;
            }
            setter.await.unwrap();

            let flag = Arc::new(AtomicBool::new(false));
            let setter = {
                let flag = flag.clone();
                ringtide::spawn(async move { flag.store(true, Ordering::SeqCst) })
            };
            while !flag.load(Ordering::SeqCst) {
                task::consume_budget().await;
            }
            setter.await.unwrap();
        });
    }
}
