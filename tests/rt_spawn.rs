//! Spawning and joining tasks: many tasks, nested spawns, spawns and wake-ups from other
//! threads, message passing between tasks, task ids.

#[macro_use]
mod rt_common;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use ringtide::runtime::Handle;
use ringtide::task;

#[test]
fn current_thread_block_on_returns() {
    // The most basic current-thread operation, with a short timeout of its own: every
    // other current-thread test depends on it (see `require_working_current_thread`).
    rt_common::with_timeout(
        "current_thread_block_on_returns",
        std::time::Duration::from_secs(10),
        || {
            let rt = ringtide::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            assert_eq!(rt.block_on(async { 1 }), 1);
            assert_eq!(rt.block_on(async { 2 }), 2, "a second block_on works too");
        },
    );
}

rt_test! {
    /// 100k tasks spawned from inside `block_on`, all joined; the outputs add up.
    fn spawn_100k_and_join_all(flavor) {
        const N: u64 = 100_000;
        let rt = flavor.rt();
        let sum = rt.block_on(async {
            let handles: Vec<_> = (0..N).map(|i| ringtide::spawn(async move { i })).collect();
            let mut sum = 0;
            for handle in handles {
                sum += handle.await.expect("task failed");
            }
            sum
        });
        assert_eq!(sum, N * (N - 1) / 2);
        assert_eq!(rt.metrics().num_alive_tasks(), 0);
    }
}

rt_test! {
    /// Tasks spawned with `Runtime::spawn` from the test thread (outside `block_on`) run
    /// too, and each yields before returning.
    fn spawn_from_outside_then_block_on(flavor) {
        let rt = flavor.rt();
        let handles: Vec<_> = (0..1_000u64)
            .map(|i| {
                rt.spawn(async move {
                    task::yield_now().await;
                    i * 2
                })
            })
            .collect();
        let sum = rt.block_on(async {
            let mut sum = 0;
            for handle in handles {
                sum += handle.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 999 * 1_000);
    }
}

/// Spawns `fanout` children per level down to `depth`; returns the number of leaves.
fn tree(
    depth: u32,
    fanout: u32,
    spawned: Arc<AtomicUsize>,
) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return 1;
        }
        let children: Vec<_> = (0..fanout)
            .map(|_| {
                spawned.fetch_add(1, Ordering::Relaxed);
                ringtide::spawn(tree(depth - 1, fanout, spawned.clone()))
            })
            .collect();
        let mut leaves = 0;
        for child in children {
            leaves += child.await.expect("child task failed");
        }
        leaves
    })
}

rt_test! {
    /// Tasks spawning tasks: a tree of depth 6 and fan-out 4 (5460 tasks).
    fn nested_spawn_tree(flavor) {
        let rt = flavor.rt();
        let spawned = Arc::new(AtomicUsize::new(0));
        let leaves = rt.block_on(tree(6, 4, spawned.clone()));
        assert_eq!(leaves, 4u64.pow(6));
        assert_eq!(spawned.load(Ordering::Relaxed), (1..=6).map(|d| 4usize.pow(d)).sum::<usize>());
    }
}

fn chain(depth: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return 0;
        }
        ringtide::spawn(chain(depth - 1)).await.unwrap() + 1
    })
}

rt_test! {
    /// A chain of 500 tasks, each spawning one child and awaiting it: every task is
    /// suspended on its child's `JoinHandle` at the deepest point.
    fn nested_spawn_chain(flavor) {
        let rt = flavor.rt();
        assert_eq!(rt.block_on(chain(500)), 500);
    }
}

rt_test! {
    /// `Handle::spawn` from a plain std thread while the runtime is blocked on a future
    /// that waits for the result.
    fn spawn_from_another_thread(flavor) {
        let rt = flavor.rt();
        let handle = rt.handle().clone();
        let (tx, rx) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let join = handle.spawn(async {
                task::yield_now().await;
                "from another thread"
            });
            tx.send(join).unwrap();
        });
        let output = rt.block_on(async { rx.await.unwrap().await.unwrap() });
        assert_eq!(output, "from another thread");
        thread.join().unwrap();
    }
}

rt_test! {
    /// Tasks woken from a std thread (not a runtime thread) are rescheduled and finish.
    fn wake_from_another_thread(flavor) {
        const N: usize = 100;
        let rt = flavor.rt();
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..N).map(|_| oneshot::channel::<usize>()).unzip();
        let sum = rt.block_on(async move {
            let handles: Vec<_> = receivers
                .into_iter()
                .map(|rx| ringtide::spawn(async move { rx.await.unwrap() }))
                .collect();
            let thread = std::thread::spawn(move || {
                for (i, tx) in senders.into_iter().enumerate() {
                    tx.send(i).unwrap();
                }
            });
            let mut sum = 0;
            for handle in handles {
                sum += handle.await.unwrap();
            }
            thread.join().unwrap();
            sum
        });
        assert_eq!(sum, N * (N - 1) / 2);
    }
}

rt_test! {
    /// Two tasks exchange 10k messages over channels (every wake-up happens on a runtime
    /// thread, exercising the LIFO slot / local queue path).
    fn ping_pong(flavor) {
        const ROUNDS: u64 = 10_000;
        let rt = flavor.rt();
        let total = rt.block_on(async {
            let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
            let (mut pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
            let ponger = ringtide::spawn(async move {
                let mut seen = 0;
                while let Some(n) = ping_rx.next().await {
                    seen += 1;
                    pong_tx.try_send(n + 1).unwrap_or_else(|_| panic!("pong channel full"));
                }
                seen
            });
            let pinger = ringtide::spawn(async move {
                let mut ping_tx = ping_tx;
                let mut value = 0;
                for _ in 0..ROUNDS {
                    ping_tx.try_send(value).unwrap_or_else(|_| panic!("ping channel full"));
                    value = pong_rx.next().await.unwrap();
                }
                value
            });
            let value = pinger.await.unwrap();
            let seen = ponger.await.unwrap();
            assert_eq!(seen, ROUNDS);
            value
        });
        assert_eq!(total, ROUNDS);
    }
}

rt_test! {
    /// Dropping a `JoinHandle` detaches the task: it still runs to completion.
    fn dropped_join_handle_detaches(flavor) {
        let rt = flavor.rt();
        let value = rt.block_on(async {
            let (go_tx, go_rx) = oneshot::channel::<()>();
            let (done_tx, done_rx) = oneshot::channel();
            drop(ringtide::spawn(async move {
                go_rx.await.unwrap();
                done_tx.send(7).unwrap();
            }));
            go_tx.send(()).unwrap();
            done_rx.await.unwrap()
        });
        assert_eq!(value, 7);
    }
}

rt_test! {
    /// `task::id()` inside a task equals `JoinHandle::id()`; ids are unique (also
    /// across runtimes); `try_id()` is `None` outside a task.
    fn task_ids(flavor) {
        let rt = flavor.rt();
        let other = flavor.rt();
        assert!(task::try_id().is_none());
        let pairs = rt.block_on(async {
            assert!(task::try_id().is_none(), "the block_on future is not a task");
            let handles: Vec<_> = (0..1_000)
                .map(|_| {
                    ringtide::spawn(async {
                        let before = task::id();
                        task::yield_now().await;
                        assert_eq!(task::try_id(), Some(before));
                        before
                    })
                })
                .collect();
            let mut pairs = Vec::new();
            for handle in handles {
                let id = handle.id();
                pairs.push((id, handle.await.unwrap()));
            }
            pairs
        });
        let mut ids = HashSet::new();
        for (from_handle, from_task) in &pairs {
            assert_eq!(from_handle, from_task);
            assert!(ids.insert(*from_handle), "duplicate task id {from_handle}");
        }
        let other_id = other.block_on(async { ringtide::spawn(async { task::id() }).await.unwrap() });
        assert!(!ids.contains(&other_id), "task id reused across runtimes");

        // A blocking closure runs as a task too.
        let (id, inner) = rt.block_on(async {
            let handle = task::spawn_blocking(task::try_id);
            (handle.id(), handle.await.unwrap())
        });
        assert_eq!(inner, Some(id));
        assert!(!ids.contains(&id));
        // The id is cleared again after the task's poll.
        assert!(task::try_id().is_none());
    }
}

rt_test! {
    /// Scheduler metrics: worker count, alive tasks.
    fn metrics_num_workers_and_alive_tasks(flavor) {
        let rt = flavor.rt();
        let metrics = rt.metrics();
        assert_eq!(metrics.num_workers(), flavor.workers());
        assert_eq!(metrics.num_alive_tasks(), 0);
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..10).map(|_| oneshot::channel::<u32>()).unzip();
        let handles: Vec<_> = receivers
            .into_iter()
            .map(|rx| rt.spawn(async move { rx.await.unwrap() }))
            .collect();
        assert_eq!(metrics.num_alive_tasks(), 10);
        for (i, tx) in senders.into_iter().enumerate() {
            tx.send(i as u32).unwrap();
        }
        let sum = rt.block_on(async {
            let mut sum = 0;
            for handle in handles {
                sum += handle.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 45);
        assert_eq!(metrics.num_alive_tasks(), 0);
        // Worker indices beyond the count are rejected.
        let message = rt_common::expect_panic(|| metrics.worker_poll_count(flavor.workers()));
        assert!(!message.is_empty());
        // The handle's metrics are the runtime's.
        let current = rt.block_on(async { Handle::current() });
        assert_eq!(current.metrics().num_workers(), flavor.workers());
    }
}

rt_test! {
    /// Poll counts are published: after running tasks, the workers' poll counts add up to
    /// at least the number of tasks polled (values may lag, so run a few rounds).
    fn metrics_poll_count(flavor) {
        let rt = flavor.rt();
        let metrics = rt.metrics();
        let mut total = 0;
        for _round in 0..100 {
            rt.block_on(async {
                let handles: Vec<_> = (0..100).map(|_| ringtide::spawn(async {})).collect();
                for handle in handles {
                    handle.await.unwrap();
                }
            });
            total = rt_common::sum_workers(&metrics, |w| metrics.worker_poll_count(w));
            if total >= 100 {
                break;
            }
        }
        assert!(total >= 100, "worker_poll_count summed to {total} after 100 rounds of 100 tasks");
        if flavor.single_worker() {
            assert_eq!(rt_common::sum_workers(&metrics, |w| metrics.worker_steal_count(w)), 0);
        }
    }
}

rt_test! {
    /// `global_queue_depth` counts tasks spawned from outside that have not run yet
    /// (deterministic only on the current-thread runtime, whose queue nobody drains
    /// outside `block_on`).
    fn metrics_global_queue_depth(flavor) {
        let rt = flavor.rt();
        let handles: Vec<_> = (0..5).map(|i| rt.spawn(async move { i })).collect();
        if flavor.is_current_thread() {
            assert_eq!(rt.metrics().global_queue_depth(), 5);
        }
        let sum = rt.block_on(async {
            let mut sum = 0;
            for handle in handles {
                sum += handle.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 10);
        assert_eq!(rt.metrics().global_queue_depth(), 0);
    }
}
