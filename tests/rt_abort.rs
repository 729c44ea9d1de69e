//! Cancelling tasks: `JoinHandle::abort`, `AbortHandle`, `is_finished`, for idle,
//! running, not-yet-started and finished tasks.

#[macro_use]
mod rt_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::channel::oneshot;
use ringtide::task::{self, AbortHandle};
use rt_common::DropFlag;

rt_test! {
    /// An idle task (waiting on a oneshot that never fires) is cancelled by `abort`: the
    /// join reports `is_cancelled`, and its future (with everything it captured) was
    /// dropped by the time the join returns.
    fn abort_idle_task(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let (guard, dropped) = DropFlag::new();
            let (started_tx, started_rx) = oneshot::channel();
            let (never_tx, never_rx) = oneshot::channel::<()>();
            let handle = ringtide::spawn(async move {
                let _guard = guard;
                started_tx.send(()).unwrap();
                let _ = never_rx.await;
                unreachable!("the sender never sends");
            });
            started_rx.await.unwrap();
            assert!(!handle.is_finished());
            assert!(!dropped.load(Ordering::SeqCst));
            handle.abort();
            let error = handle.await.unwrap_err();
            assert!(error.is_cancelled(), "{error:?}");
            assert!(!error.is_panic());
            assert!(dropped.load(Ordering::SeqCst), "the aborted task's future was not dropped");
            assert!(never_tx.is_canceled(), "the receiver inside the task was not dropped");
        });
        assert_eq!(rt.metrics().num_alive_tasks(), 0);
    }
}

rt_test! {
    /// Abort right after spawn: the task may not have started (it never has on a
    /// single-threaded scheduler, which has not run yet); either way it is cancelled and
    /// its future dropped.
    fn abort_before_first_poll(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let (guard, dropped) = DropFlag::new();
            let started = Arc::new(AtomicBool::new(false));
            let (_never_tx, never_rx) = oneshot::channel::<()>();
            let handle = {
                let started = started.clone();
                ringtide::spawn(async move {
                    let _guard = guard;
                    started.store(true, Ordering::SeqCst);
                    let _ = never_rx.await;
                })
            };
            handle.abort();
            assert!(handle.await.unwrap_err().is_cancelled());
            assert!(dropped.load(Ordering::SeqCst));
            if flavor.is_current_thread() {
                assert!(!started.load(Ordering::SeqCst), "an aborted task was polled");
            }
        });
    }
}

rt_test! {
    /// A running task (looping on `yield_now`) stops at its next yield once aborted.
    fn abort_running_task(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let (guard, dropped) = DropFlag::new();
            let iterations = Arc::new(AtomicUsize::new(0));
            let (running_tx, running_rx) = oneshot::channel();
            let handle = {
                let iterations = iterations.clone();
                ringtide::spawn(async move {
                    let _guard = guard;
                    let mut running_tx = Some(running_tx);
                    loop {
                        if iterations.fetch_add(1, Ordering::SeqCst) == 10 {
                            running_tx.take().unwrap().send(()).unwrap();
                        }
                        task::yield_now().await;
                    }
                })
            };
            running_rx.await.unwrap();
            handle.abort();
            assert!(handle.await.unwrap_err().is_cancelled());
            assert!(dropped.load(Ordering::SeqCst));
            // The loop is gone: the counter no longer moves while other tasks run.
            let frozen = iterations.load(Ordering::SeqCst);
            for _ in 0..10 {
                ringtide::spawn(task::yield_now()).await.unwrap();
            }
            assert_eq!(iterations.load(Ordering::SeqCst), frozen);
        });
    }
}

rt_test! {
    /// A task aborting itself through its own `AbortHandle` stops at its next await.
    fn abort_self(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let continued = Arc::new(AtomicBool::new(false));
            let (handle_tx, handle_rx) = oneshot::channel::<AbortHandle>();
            let handle = {
                let continued = continued.clone();
                ringtide::spawn(async move {
                    let me = handle_rx.await.unwrap();
                    assert_eq!(me.id(), task::id());
                    me.abort();
                    task::yield_now().await;
                    continued.store(true, Ordering::SeqCst);
                })
            };
            handle_tx.send(handle.abort_handle()).unwrap();
            assert!(handle.await.unwrap_err().is_cancelled());
            assert!(!continued.load(Ordering::SeqCst), "the task ran past its own abort");
        });
    }
}

rt_test! {
    /// Aborting a finished task does nothing: its output is still available.
    fn abort_finished_task(flavor) {
        let rt = flavor.rt();
        let result = rt.block_on(async {
            let handle = ringtide::spawn(async { 42 });
            let abort = handle.abort_handle();
            // Wait for completion from another task, without consuming the handle.
            let checker = ringtide::spawn(async move {
                let mut yields = 0u64;
                while !handle.is_finished() {
                    task::yield_now().await;
                    yields += 1;
                    assert!(yields < 10_000_000, "task never finished");
                }
                assert!(abort.is_finished());
                handle.abort();
                abort.abort();
                handle.await
            });
            checker.await.unwrap()
        });
        assert_eq!(result.unwrap(), 42);
    }
}

rt_test! {
    /// `AbortHandle`: same id as the `JoinHandle`, clones abort the same task, dropping
    /// one does not affect the task, `is_finished` follows the task.
    fn abort_handle(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let (_never_tx, never_rx) = oneshot::channel::<()>();
            let handle = ringtide::spawn(async move {
                let _ = never_rx.await;
            });
            let abort = handle.abort_handle();
            assert_eq!(abort.id(), handle.id());
            let clone = abort.clone();
            assert!(!clone.is_finished());
            clone.abort();
            assert!(handle.await.unwrap_err().is_cancelled());
            assert!(abort.is_finished());
            // Aborting again after the join is harmless.
            abort.abort();

            // Dropping an AbortHandle leaves the task alone.
            let (go_tx, go_rx) = oneshot::channel::<u8>();
            let handle = ringtide::spawn(async move { go_rx.await.unwrap() });
            drop(handle.abort_handle());
            go_tx.send(9).unwrap();
            assert_eq!(handle.await.unwrap(), 9);
        });
    }
}

rt_test! {
    /// An `AbortHandle` moved to a plain std thread cancels the task from there.
    fn abort_from_another_thread(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let (guard, dropped) = DropFlag::new();
            let (started_tx, started_rx) = oneshot::channel();
            let (_never_tx, never_rx) = oneshot::channel::<()>();
            let handle = ringtide::spawn(async move {
                let _guard = guard;
                started_tx.send(()).unwrap();
                let _ = never_rx.await;
            });
            started_rx.await.unwrap();
            let abort = handle.abort_handle();
            std::thread::spawn(move || abort.abort()).join().unwrap();
            assert!(handle.await.unwrap_err().is_cancelled());
            assert!(dropped.load(Ordering::SeqCst));
        });
    }
}

rt_test! {
    /// Aborting a task that awaits another task's `JoinHandle` detaches the inner task,
    /// which still runs to completion.
    fn abort_outer_detaches_inner(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let (go_tx, go_rx) = oneshot::channel::<()>();
            let (done_tx, done_rx) = oneshot::channel::<&str>();
            let (started_tx, started_rx) = oneshot::channel();
            let outer = ringtide::spawn(async move {
                let inner = ringtide::spawn(async move {
                    go_rx.await.unwrap();
                    done_tx.send("inner finished").unwrap();
                });
                started_tx.send(()).unwrap();
                inner.await.unwrap();
            });
            started_rx.await.unwrap();
            outer.abort();
            assert!(outer.await.unwrap_err().is_cancelled());
            go_tx.send(()).unwrap();
            assert_eq!(done_rx.await.unwrap(), "inner finished");
        });
    }
}

rt_test! {
    /// Many tasks aborted at once, idle and queued mixed: every one is cancelled and
    /// dropped, and `num_alive_tasks` returns to zero.
    fn abort_many(flavor) {
        const N: usize = 1_000;
        let rt = flavor.rt();
        let dropped = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let mut senders = Vec::new();
            let handles: Vec<_> = (0..N)
                .map(|_| {
                    let (tx, rx) = oneshot::channel::<()>();
                    senders.push(tx);
                    let guard = rt_common::DropCounter(dropped.clone());
                    ringtide::spawn(async move {
                        let _guard = guard;
                        let _ = rx.await;
                    })
                })
                .collect();
            task::yield_now().await;
            for handle in &handles {
                handle.abort();
            }
            for handle in handles {
                assert!(handle.await.unwrap_err().is_cancelled());
            }
            assert!(senders.iter().all(|tx| tx.is_canceled()));
        });
        assert_eq!(dropped.load(Ordering::SeqCst), N);
        assert_eq!(rt.metrics().num_alive_tasks(), 0);
    }
}
