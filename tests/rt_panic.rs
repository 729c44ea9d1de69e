//! Panics: a panicking task becomes a `JoinError` with its payload, never kills a
//! worker, and the runtime stays usable afterwards.

#[macro_use]
mod rt_common;

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::channel::oneshot;
use ringtide::runtime::Runtime;
use ringtide::task;

/// Runs 1000 more tasks to completion and checks their sum.
fn still_usable(rt: &Runtime) {
    let sum = rt.block_on(async {
        let handles: Vec<_> = (0..1_000u64)
            .map(|i| {
                ringtide::spawn(async move {
                    task::yield_now().await;
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 999 * 1_000 / 2);
}

rt_test! {
    /// `JoinError::is_panic` and `into_panic` for `&str`, `String` and custom payloads.
    fn panic_becomes_join_error(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let error = ringtide::spawn(async {
                panic!("static message");
            })
            .await
            .unwrap_err();
            assert!(error.is_panic());
            assert!(!error.is_cancelled());
            let payload = error.into_panic();
            assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "static message");

            let handle = ringtide::spawn(async {
                task::yield_now().await;
                let n = std::hint::black_box(7);
                panic!("formatted {n}");
            });
            let id = handle.id();
            let error = handle.await.unwrap_err();
            assert_eq!(error.id(), id);
            assert!(error.to_string().contains("formatted 7"), "display: {error}");
            let payload = error.into_panic();
            assert_eq!(payload.downcast_ref::<String>().unwrap(), "formatted 7");

            let error = ringtide::spawn(async { std::panic::panic_any(42u32) })
                .await
                .unwrap_err();
            assert_eq!(*error.try_into_panic().unwrap().downcast::<u32>().unwrap(), 42);
        });
        still_usable(&rt);
    }
}

thread_local! {
    static EXIT_WATCH: RefCell<Option<ExitWatch>> = const { RefCell::new(None) };
}

/// Stored in a thread-local of every runtime thread: its destructor runs when the
/// thread exits, however it exits (even unwinding from a panic).
struct ExitWatch(Arc<AtomicUsize>);

impl Drop for ExitWatch {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

rt_test! {
    /// 200 panicking tasks (some panicking after a yield, so on whichever worker
    /// resumed them) kill no runtime thread: no thread exits, `num_workers` is
    /// unchanged, and 1000 more tasks complete.
    fn panic_never_kills_a_worker(flavor) {
        let exited = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let rt = {
            let exited = exited.clone();
            let started = started.clone();
            flavor
                .builder()
                .on_thread_start(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    let watch = ExitWatch(exited.clone());
                    EXIT_WATCH.with(|w| *w.borrow_mut() = Some(watch));
                })
                .build()
                .unwrap()
        };
        // Arm the watch on every worker before panicking (threads start asynchronously).
        if flavor.is_multi_thread() {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while started.load(Ordering::SeqCst) < flavor.workers() {
                assert!(std::time::Instant::now() < deadline, "worker threads never started");
                std::thread::yield_now();
            }
        }
        let panicked = rt.block_on(async {
            let handles: Vec<_> = (0..200)
                .map(|i| {
                    ringtide::spawn(async move {
                        if i % 2 == 0 {
                            task::yield_now().await;
                        }
                        panic!("task {i} panics");
                    })
                })
                .collect();
            let mut panicked = 0;
            for handle in handles {
                if handle.await.unwrap_err().is_panic() {
                    panicked += 1;
                }
            }
            panicked
        });
        assert_eq!(panicked, 200);
        assert_eq!(rt.metrics().num_workers(), flavor.workers());
        still_usable(&rt);
        assert_eq!(exited.load(Ordering::SeqCst), 0, "a runtime thread exited");
    }
}

rt_test! {
    /// A panic in the `block_on` future propagates to the caller; tasks spawned before
    /// it are still there and the runtime is usable afterwards.
    fn panic_in_block_on_future(flavor) {
        let rt = flavor.rt();
        let (tx, rx) = std::sync::mpsc::channel();
        let message = rt_common::expect_panic(|| {
            rt.block_on(async {
                let (go_tx, go_rx) = oneshot::channel::<()>();
                let handle = ringtide::spawn(async move {
                    go_rx.await.unwrap();
                    5
                });
                tx.send((handle, go_tx)).unwrap();
                panic!("block_on future panics");
            })
        });
        assert_eq!(message, "block_on future panics");
        let (handle, go_tx) = rx.recv().unwrap();
        go_tx.send(()).unwrap();
        assert_eq!(rt.block_on(handle).unwrap(), 5);
        still_usable(&rt);
    }
}

rt_test! {
    /// A panic while dropping an aborted task's future is contained: the join reports an
    /// error and the runtime keeps working.
    fn panic_in_destructor_of_aborted_task(flavor) {
        struct PanicOnDrop;
        impl Drop for PanicOnDrop {
            fn drop(&mut self) {
                panic!("destructor panics");
            }
        }
        let rt = flavor.rt();
        rt.block_on(async {
            let (started_tx, started_rx) = oneshot::channel();
            let (_never_tx, never_rx) = oneshot::channel::<()>();
            let handle = ringtide::spawn(async move {
                let _guard = PanicOnDrop;
                started_tx.send(()).unwrap();
                let _ = never_rx.await;
            });
            started_rx.await.unwrap();
            handle.abort();
            let error = handle.await.unwrap_err();
            // tokio reports the destructor's panic; cancellation is acceptable too.
            assert!(error.is_cancelled() || error.is_panic(), "{error:?}");
        });
        assert_eq!(rt.metrics().num_workers(), flavor.workers());
        still_usable(&rt);
    }
}

rt_test! {
    /// Panicked tasks are deregistered: `num_alive_tasks` drops back to zero.
    fn panicked_tasks_are_not_leaked(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let handles: Vec<_> = (0..100)
                .map(|_| ringtide::spawn(async { panic!("boom") }))
                .collect();
            for handle in handles {
                assert!(handle.await.unwrap_err().is_panic());
            }
        });
        assert_eq!(rt.metrics().num_alive_tasks(), 0);
    }
}
