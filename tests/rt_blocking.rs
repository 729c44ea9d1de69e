//! The blocking pool (`spawn_blocking`, `max_blocking_threads`, its metrics) and
//! `block_in_place`.

#[macro_use]
mod rt_common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use ringtide::runtime::Handle;
use ringtide::task;

/// Pairs of closures meet here: closure `2k` and `2k + 1` each wait (bounded) for the
/// other, so both must run at the same time.
#[derive(Default)]
struct Rendezvous {
    arrived: Mutex<HashMap<usize, usize>>,
    cond: Condvar,
}

impl Rendezvous {
    /// Returns false if the partner did not show up within `limit` (a failure the test
    /// reports, instead of hanging).
    fn meet(&self, pair: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut arrived = self.arrived.lock().unwrap();
        *arrived.entry(pair).or_default() += 1;
        self.cond.notify_all();
        while arrived[&pair] < 2 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            arrived = self.cond.wait_timeout(arrived, deadline - now).unwrap().0;
        }
        true
    }
}

rt_test! {
    /// `max_blocking_threads(2)` with 50 closures: closures meet in pairs (so two do run
    /// at once), the number running at the same time never exceeds 2, and all complete.
    fn spawn_blocking_respects_max_threads(flavor) {
        const CLOSURES: usize = 50;
        let rt = flavor.builder().max_blocking_threads(2).build().unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let max_running = Arc::new(AtomicUsize::new(0));
        let missed = Arc::new(AtomicUsize::new(0));
        let rendezvous = Arc::new(Rendezvous::default());
        let handle = rt.handle().clone();
        let sum = rt.block_on(async {
            let handles: Vec<_> = (0..CLOSURES)
                .map(|i| {
                    let running = running.clone();
                    let max_running = max_running.clone();
                    let missed = missed.clone();
                    let rendezvous = rendezvous.clone();
                    let handle = handle.clone();
                    task::spawn_blocking(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        max_running.fetch_max(now, Ordering::SeqCst);
                        assert!(handle.metrics().num_blocking_threads() <= 2);
                        if !rendezvous.meet(i / 2, Duration::from_secs(10)) {
                            missed.fetch_add(1, Ordering::SeqCst);
                        }
                        running.fetch_sub(1, Ordering::SeqCst);
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for handle in handles {
                sum += handle.await.expect("blocking closure failed");
            }
            sum
        });
        assert_eq!(sum, CLOSURES * (CLOSURES - 1) / 2);
        assert_eq!(missed.load(Ordering::SeqCst), 0, "closures of a pair did not run together");
        assert_eq!(max_running.load(Ordering::SeqCst), 2);
        assert_eq!(rt.metrics().num_blocking_threads(), 2);
    }
}

rt_test! {
    /// A panicking blocking closure gives `JoinError::is_panic` with its payload; the
    /// single pool thread survives it and runs the next closures.
    fn spawn_blocking_panic(flavor) {
        let rt = flavor.builder().max_blocking_threads(1).build().unwrap();
        let panicked_on = Arc::new(Mutex::new(None::<ThreadId>));
        rt.block_on(async {
            let error = {
                let panicked_on = panicked_on.clone();
                task::spawn_blocking(move || {
                    *panicked_on.lock().unwrap() = Some(std::thread::current().id());
                    panic!("blocking boom");
                })
            }
            .await
            .unwrap_err();
            assert!(error.is_panic());
            let payload = error.into_panic();
            assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "blocking boom");

            for _ in 0..3 {
                let thread = task::spawn_blocking(|| std::thread::current().id()).await.unwrap();
                assert_eq!(Some(thread), *panicked_on.lock().unwrap(), "the pool thread was replaced");
            }
            assert_eq!(task::spawn_blocking(|| 6 * 7).await.unwrap(), 42);
        });
    }
}

rt_test! {
    /// Aborting a queued (not started) closure cancels it: it never runs. Aborting a
    /// running closure has no effect: it completes with its output.
    fn spawn_blocking_abort(flavor) {
        let rt = flavor.builder().max_blocking_threads(1).build().unwrap();
        rt.block_on(async {
            let (started_tx, started_rx) = mpsc::channel();
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let first = task::spawn_blocking(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                "first"
            });
            let ran = Arc::new(AtomicBool::new(false));
            let second = {
                let ran = ran.clone();
                task::spawn_blocking(move || ran.store(true, Ordering::SeqCst))
            };
            // Blocking the `block_on` thread here is fine: the closure runs on the pool.
            started_rx.recv().unwrap();
            second.abort();
            first.abort();
            release_tx.send(()).unwrap();
            assert_eq!(first.await.unwrap(), "first");
            assert!(second.await.unwrap_err().is_cancelled());
            assert!(!ran.load(Ordering::SeqCst), "an aborted closure ran");
            assert_eq!(task::spawn_blocking(|| 1).await.unwrap(), 1);
        });
    }
}

/// Waits (by spinning) until `condition` holds, at most 10 s; for metrics that other
/// threads update asynchronously.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::yield_now();
    }
}

rt_test! {
    /// Blocking-pool metrics while two closures run and three wait for a thread.
    fn blocking_pool_metrics(flavor) {
        let rt = flavor.builder().max_blocking_threads(2).build().unwrap();
        let metrics = rt.metrics();
        assert_eq!(metrics.num_blocking_threads(), 0);
        let (started_tx, started_rx) = mpsc::channel();
        let mut releases = Vec::new();
        let handles: Vec<_> = (0..5)
            .map(|i| {
                let (release_tx, release_rx) = mpsc::channel::<()>();
                releases.push(release_tx);
                let started_tx = started_tx.clone();
                rt.spawn_blocking(move || {
                    started_tx.send(i).unwrap();
                    release_rx.recv().unwrap();
                    i
                })
            })
            .collect();
        started_rx.recv().unwrap();
        started_rx.recv().unwrap();
        assert_eq!(metrics.num_blocking_threads(), 2);
        eventually("3 closures queued", || metrics.blocking_queue_depth() == 3);
        assert_eq!(metrics.num_idle_blocking_threads(), 0);
        assert!(started_rx.try_recv().is_err(), "a third closure started");
        for release in releases {
            release.send(()).unwrap();
        }
        let sum = rt.block_on(async {
            let mut sum = 0;
            for handle in handles {
                sum += handle.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 10);
        assert_eq!(metrics.blocking_queue_depth(), 0);
        assert_eq!(metrics.num_blocking_threads(), 2);
        eventually("both threads idle", || metrics.num_idle_blocking_threads() == 2);
    }
}

rt_test! {
    /// `Runtime::spawn_blocking` and `Handle::spawn_blocking` from outside the runtime.
    fn spawn_blocking_from_outside(flavor) {
        let rt = flavor.rt();
        let a = rt.spawn_blocking(|| 1);
        let b = rt.handle().spawn_blocking(|| 2);
        let total = rt.block_on(async { a.await.unwrap() + b.await.unwrap() });
        assert_eq!(total, 3);
        // `task::spawn_blocking` needs a runtime.
        let message = rt_common::expect_panic(|| task::spawn_blocking(|| ()));
        assert!(message.contains("runtime"), "{message}");
    }
}

rt_test! {
    /// `block_in_place` on a multi-thread runtime: while a task blocks in it on a std
    /// channel, other tasks (queued on the same worker) still run and send it the value
    /// it waits for, also with a single worker (its queue moves to a new thread). On a
    /// current-thread runtime it panics instead.
    fn block_in_place_keeps_other_tasks_running(flavor) {
        let rt = flavor.rt();
        if flavor.is_current_thread() {
            let error = rt
                .block_on(rt.spawn(async { task::block_in_place(|| 1) }))
                .unwrap_err();
            let message = rt_common::panic_message(&*error.into_panic());
            assert!(message.contains("block_in_place"), "{message}");
            let message = rt_common::expect_panic(|| rt.block_on(async { task::block_in_place(|| 1) }));
            assert!(message.contains("block_in_place"), "{message}");
            // Still usable afterwards.
            assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
            return;
        }
        let result = rt.block_on(rt.spawn(async {
            let (tx, rx) = mpsc::channel::<u64>();
            let entered = Arc::new(AtomicBool::new(false));
            let blocker = {
                let entered = entered.clone();
                ringtide::spawn(async move {
                    task::block_in_place(|| {
                        entered.store(true, Ordering::SeqCst);
                        rx.recv().unwrap()
                    })
                })
            };
            let helper = ringtide::spawn(async move {
                while !entered.load(Ordering::SeqCst) {
                    task::yield_now().await;
                }
                let handles: Vec<_> = (0..100u64).map(|i| ringtide::spawn(async move { i })).collect();
                let mut sum = 0;
                for handle in handles {
                    sum += handle.await.unwrap();
                }
                tx.send(sum).unwrap();
            });
            helper.await.unwrap();
            blocker.await.unwrap()
        }));
        assert_eq!(result.unwrap(), 4_950);
        assert_eq!(rt.metrics().num_workers(), flavor.workers());
    }
}

rt_test! {
    /// A task may call `block_in_place` several times, with awaits in between, and the
    /// runtime keeps all its workers and keeps running tasks afterwards.
    fn block_in_place_repeatedly(flavor) {
        if flavor.is_current_thread() {
            eprintln!("current-thread: skipped, block_in_place panics there (checked by block_in_place_keeps_other_tasks_running)");
            return;
        }
        let rt = flavor.rt();
        let total = rt.block_on(rt.spawn(async {
            let mut total = 0;
            for i in 0..5u64 {
                total += task::block_in_place(|| i);
                total += ringtide::spawn(async move { i }).await.unwrap();
                task::yield_now().await;
            }
            total
        }));
        assert_eq!(total.unwrap(), 20);
        assert_eq!(rt.metrics().num_workers(), flavor.workers());
        let sum = rt.block_on(async {
            let handles: Vec<_> = (0..1_000u64).map(|i| ringtide::spawn(async move { i })).collect();
            let mut sum = 0;
            for handle in handles {
                sum += handle.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 499_500);
    }
}

rt_test! {
    /// `block_in_place` just runs the closure outside a runtime, in the `block_on` future
    /// of a multi-thread runtime, and inside `spawn_blocking` (any flavour).
    fn block_in_place_where_it_simply_runs(flavor) {
        assert_eq!(task::block_in_place(|| 1), 1);
        let rt = flavor.rt();
        if flavor.is_multi_thread() {
            assert_eq!(rt.block_on(async { task::block_in_place(|| 2) }), 2);
        }
        let inside_blocking = rt.block_on(async {
            task::spawn_blocking(|| task::block_in_place(|| 3)).await.unwrap()
        });
        assert_eq!(inside_blocking, 3);
        // The handle is still reachable from the closure's thread.
        let has_handle = rt.block_on(async {
            task::spawn_blocking(|| task::block_in_place(|| Handle::try_current().is_ok()))
                .await
                .unwrap()
        });
        assert!(has_handle);
    }
}

timed_test! {
    /// `#[should_panic]` form of the current-thread check.
    #[should_panic(expected = "block_in_place")]
    fn block_in_place_panics_on_current_thread() {
        let rt = rt_common::Flavor::CurrentThread.rt();
        rt.block_on(async { task::block_in_place(|| ()) });
    }
}
