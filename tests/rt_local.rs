//! `LocalSet` and `spawn_local` (tokio semantics): `!Send` tasks (`Rc`, `RefCell`) on the
//! thread that owns the set, on every runtime flavour.

#[macro_use]
mod rt_common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::thread;

use futures::channel::oneshot;
use ringtide::task::{self, JoinSet, LocalSet};

/// A `!Send` drop guard.
struct RcDropCounter(Rc<Cell<usize>>);

impl Drop for RcDropCounter {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

rt_test! {
    /// 100 local tasks share an `Rc<RefCell<..>>`, yield, and all run on the thread that
    /// called `LocalSet::block_on`.
    fn local_set_block_on_with_rc(flavor) {
        let rt = flavor.rt();
        let local = LocalSet::new();
        let owner = thread::current().id();
        let log = Rc::new(RefCell::new(Vec::new()));
        let log2 = log.clone();
        local.block_on(&rt, async move {
            let handles: Vec<_> = (0..100)
                .map(|i| {
                    let log = log2.clone();
                    task::spawn_local(async move {
                        assert_eq!(thread::current().id(), owner);
                        task::yield_now().await;
                        assert_eq!(thread::current().id(), owner, "a local task moved threads");
                        log.borrow_mut().push(i);
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for handle in handles {
                sum += handle.await.unwrap();
            }
            assert_eq!(sum, 4_950);
        });
        let mut log = log.borrow().clone();
        log.sort_unstable();
        assert_eq!(log, (0..100).collect::<Vec<_>>());
    }
}

rt_test! {
    /// Tasks spawned on the set before it runs; awaiting the set runs them all to
    /// completion, including tasks they spawn.
    fn local_set_await_runs_all_tasks(flavor) {
        let rt = flavor.rt();
        let local = LocalSet::new();
        let counter = Rc::new(Cell::new(0));
        for _ in 0..10 {
            let counter = counter.clone();
            local.spawn_local(async move {
                counter.set(counter.get() + 1);
                let inner = counter.clone();
                task::spawn_local(async move {
                    task::yield_now().await;
                    inner.set(inner.get() + 1);
                });
            });
        }
        assert_eq!(counter.get(), 0, "local tasks ran before the set was polled");
        rt.block_on(local);
        assert_eq!(counter.get(), 20);
    }
}

rt_test! {
    /// `run_until` inside the runtime; a local task can await `Send` tasks spawned on the
    /// runtime, and can be woken from another thread.
    fn local_set_run_until_mixes_with_runtime(flavor) {
        let rt = flavor.rt();
        let local = LocalSet::new();
        let value = rt.block_on(local.run_until(async {
            let shared = Rc::new(Cell::new(1));
            let (tx, rx) = oneshot::channel::<u32>();
            let local_task = {
                let shared = shared.clone();
                task::spawn_local(async move {
                    let from_runtime = ringtide::spawn(async { 10 }).await.unwrap();
                    let from_thread = rx.await.unwrap();
                    shared.set(shared.get() + from_runtime + from_thread);
                })
            };
            let sender = thread::spawn(move || tx.send(100).unwrap());
            local_task.await.unwrap();
            sender.join().unwrap();
            shared.get()
        }));
        assert_eq!(value, 111);
    }
}

rt_test! {
    /// Outside a `LocalSet`, `spawn_local` panics; under `LocalSet::enter` it works.
    fn spawn_local_needs_a_local_set(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let message = rt_common::expect_panic(|| task::spawn_local(async {}));
            assert!(!message.is_empty());
        });
        let local = LocalSet::new();
        let handle = {
            let _guard = local.enter();
            let rc = Rc::new(7);
            task::spawn_local(async move { *rc })
        };
        assert_eq!(local.block_on(&rt, handle).unwrap(), 7);
    }
}

rt_test! {
    /// Dropping a `LocalSet` drops its pending tasks' futures on the owning thread; their
    /// handles report cancellation.
    fn local_set_drop_cancels_tasks(flavor) {
        let rt = flavor.rt();
        let local = LocalSet::new();
        let dropped = Rc::new(Cell::new(0));
        let started = Rc::new(Cell::new(0));
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for _ in 0..10 {
            let (tx, rx) = oneshot::channel::<()>();
            senders.push(tx);
            let guard = RcDropCounter(dropped.clone());
            let started = started.clone();
            handles.push(local.spawn_local(async move {
                let _guard = guard;
                started.set(started.get() + 1);
                let _ = rx.await;
            }));
        }
        // Until every task has started and gone idle (bounded: each yield lets the
        // LocalSet run its tasks once more).
        local.block_on(&rt, async {
            for _ in 0..1000 {
                if started.get() == 10 {
                    return;
                }
                task::yield_now().await;
            }
            panic!("only {} of 10 local tasks started", started.get());
        });
        assert_eq!(dropped.get(), 0);
        drop(local);
        assert_eq!(dropped.get(), 10);
        assert!(senders.iter().all(|tx| tx.is_canceled()));
        rt.block_on(async {
            for handle in handles {
                assert!(handle.await.unwrap_err().is_cancelled());
            }
        });
    }
}

rt_test! {
    /// Abort and panic of local tasks; a `JoinSet` of local tasks.
    fn local_tasks_abort_panic_join_set(flavor) {
        let rt = flavor.rt();
        let local = LocalSet::new();
        local.block_on(&rt, async {
            let (_never_tx, never_rx) = oneshot::channel::<()>();
            let rc = Rc::new(());
            let idle = task::spawn_local(async move {
                let _rc = rc;
                let _ = never_rx.await;
            });
            task::yield_now().await;
            idle.abort();
            assert!(idle.await.unwrap_err().is_cancelled());

            let error = task::spawn_local(async { panic!("local panic") }).await.unwrap_err();
            assert!(error.is_panic());
            assert_eq!(*error.into_panic().downcast_ref::<&str>().unwrap(), "local panic");

            let mut set = JoinSet::new();
            for i in 0..10 {
                let rc = Rc::new(i);
                set.spawn_local(async move {
                    task::yield_now().await;
                    *rc
                });
            }
            let mut all = set.join_all().await;
            all.sort_unstable();
            assert_eq!(all, (0..10).collect::<Vec<_>>());
        });
    }
}
