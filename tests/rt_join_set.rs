//! `JoinSet` (tokio semantics): completion order, abort, drop, ids, blocking tasks.

#[macro_use]
mod rt_common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use ringtide::task::{self, JoinSet};
use rt_common::DropCounter;

rt_test! {
    /// `join_next` returns tasks in the order they complete (controlled with oneshots),
    /// not the order they were spawned; then `None` once empty.
    fn join_set_completion_order(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let mut set = JoinSet::new();
            assert!(set.is_empty());
            let mut senders = Vec::new();
            for i in 0..5usize {
                let (tx, rx) = oneshot::channel::<()>();
                senders.push(Some(tx));
                set.spawn(async move {
                    rx.await.unwrap();
                    i
                });
            }
            assert_eq!(set.len(), 5);
            for (remaining, &i) in [3usize, 1, 4, 0, 2].iter().enumerate().map(|(n, i)| (4 - n, i)) {
                senders[i].take().unwrap().send(()).unwrap();
                let joined = set.join_next().await.expect("set empty too early").unwrap();
                assert_eq!(joined, i, "join_next returned a task that had not completed");
                assert_eq!(set.len(), remaining);
            }
            assert!(set.join_next().await.is_none());
            assert!(set.is_empty());
        });
    }
}

rt_test! {
    /// `abort_all` cancels every task: each join reports `is_cancelled`, every future
    /// was dropped, and the set ends empty.
    fn join_set_abort_all(flavor) {
        const N: usize = 100;
        let rt = flavor.rt();
        let dropped = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let mut set = JoinSet::new();
            let mut senders = Vec::new();
            for _ in 0..N {
                let (tx, rx) = oneshot::channel::<()>();
                senders.push(tx);
                let guard = DropCounter(dropped.clone());
                set.spawn(async move {
                    let _guard = guard;
                    let _ = rx.await;
                });
            }
            task::yield_now().await;
            set.abort_all();
            let mut cancelled = 0;
            while let Some(result) = set.join_next().await {
                assert!(result.unwrap_err().is_cancelled());
                cancelled += 1;
            }
            assert_eq!(cancelled, N);
            assert_eq!(dropped.load(Ordering::SeqCst), N);
            assert!(senders.iter().all(|tx| tx.is_canceled()));
        });
    }
}

rt_test! {
    /// Dropping a `JoinSet` aborts its tasks (their futures get dropped).
    fn join_set_drop_aborts_tasks(flavor) {
        struct NotifyOnDrop(mpsc::UnboundedSender<()>);
        impl Drop for NotifyOnDrop {
            fn drop(&mut self) {
                let _ = self.0.unbounded_send(());
            }
        }
        let rt = flavor.rt();
        rt.block_on(async {
            let (tx, mut rx) = mpsc::unbounded();
            let mut set = JoinSet::new();
            let mut senders = Vec::new();
            for _ in 0..10 {
                let (never_tx, never_rx) = oneshot::channel::<()>();
                senders.push(never_tx);
                let guard = NotifyOnDrop(tx.clone());
                set.spawn(async move {
                    let _guard = guard;
                    let _ = never_rx.await;
                });
            }
            drop(tx);
            drop(set);
            let mut notified = 0;
            while rx.next().await.is_some() {
                notified += 1;
            }
            assert_eq!(notified, 10);
        });
    }
}

rt_test! {
    /// Ids (`spawn` returns the `AbortHandle`, `join_next_with_id`), panics, aborting one
    /// task through its handle, `try_join_next`.
    fn join_set_ids_panics_and_single_abort(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let mut set = JoinSet::new();
            assert!(set.try_join_next().is_none());
            let (go_tx, go_rx) = oneshot::channel::<()>();
            let ok = set.spawn(async move {
                go_rx.await.unwrap();
                task::id()
            });
            let (_never_tx, never_rx) = oneshot::channel::<()>();
            let aborted = set.spawn(async move {
                let _ = never_rx.await;
                task::id()
            });
            let panicking = set.spawn(async { panic!("join set task panics") });
            let ids: HashSet<_> = [ok.id(), aborted.id(), panicking.id()].into_iter().collect();
            assert_eq!(ids.len(), 3);

            // The panic comes first: nothing else can finish yet.
            let error = set.join_next_with_id().await.unwrap().unwrap_err();
            assert!(error.is_panic());
            assert_eq!(error.id(), panicking.id());

            aborted.abort();
            let error = set.join_next_with_id().await.unwrap().unwrap_err();
            assert!(error.is_cancelled());
            assert_eq!(error.id(), aborted.id());

            assert!(set.try_join_next().is_none(), "the remaining task cannot be finished");
            go_tx.send(()).unwrap();
            let (id, inner_id) = set.join_next_with_id().await.unwrap().unwrap();
            assert_eq!(id, ok.id());
            assert_eq!(inner_id, ok.id());
            assert!(set.join_next().await.is_none());
        });
    }
}

rt_test! {
    /// `join_all` returns every output; `spawn_blocking` tasks join like the others;
    /// `try_join_next` finds a finished task without waiting.
    fn join_set_join_all_and_blocking(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let mut set = JoinSet::new();
            for i in 0..50u64 {
                if i % 5 == 0 {
                    set.spawn_blocking(move || i);
                } else {
                    set.spawn(async move {
                        task::yield_now().await;
                        i
                    });
                }
            }
            let mut all = set.join_all().await;
            all.sort_unstable();
            assert_eq!(all, (0..50).collect::<Vec<_>>());

            let mut set = JoinSet::new();
            set.spawn(async { 5 });
            // Wait for it to finish without joining, then `try_join_next` gets it.
            let mut found = None;
            for _ in 0..1_000_000 {
                if let Some(result) = set.try_join_next() {
                    found = Some(result.unwrap());
                    break;
                }
                ringtide::spawn(task::yield_now()).await.unwrap();
            }
            assert_eq!(found, Some(5));
        });
    }
}

rt_test! {
    /// `shutdown` aborts and waits for all tasks; `detach_all` lets them run on.
    fn join_set_shutdown_and_detach(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let dropped = Arc::new(AtomicUsize::new(0));
            let mut set = JoinSet::new();
            let mut senders = Vec::new();
            for _ in 0..10 {
                let (tx, rx) = oneshot::channel::<()>();
                senders.push(tx);
                let guard = DropCounter(dropped.clone());
                set.spawn(async move {
                    let _guard = guard;
                    let _ = rx.await;
                });
            }
            set.shutdown().await;
            assert!(set.is_empty());
            assert_eq!(dropped.load(Ordering::SeqCst), 10, "shutdown returned before the tasks were dropped");

            let (done_tx, mut done_rx) = mpsc::unbounded();
            let mut gates = Vec::new();
            for i in 0..5 {
                let (gate_tx, gate_rx) = oneshot::channel::<()>();
                gates.push(gate_tx);
                let done_tx = done_tx.clone();
                set.spawn(async move {
                    gate_rx.await.unwrap();
                    done_tx.unbounded_send(i).unwrap();
                });
            }
            drop(done_tx);
            set.detach_all();
            assert!(set.is_empty());
            drop(set);
            for gate in gates {
                gate.send(()).unwrap();
            }
            let mut done = Vec::new();
            while let Some(i) = done_rx.next().await {
                done.push(i);
            }
            done.sort_unstable();
            assert_eq!(done, vec![0, 1, 2, 3, 4], "detached tasks did not run to completion");
        });
    }
}
