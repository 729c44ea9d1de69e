//! Shutdown: dropping a runtime with pending tasks, `shutdown_timeout`,
//! `shutdown_background`, spawning after shutdown.

#[macro_use]
mod rt_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use futures::channel::oneshot;
use ringtide::runtime::Handle;
use ringtide::task::{self, JoinHandle};
use rt_common::{DropCounter, DropFlag};

/// Generous bound for a std thread to report back; only reached when something is
/// broken.
const REPORT_TIMEOUT: Duration = Duration::from_secs(15);

rt_test! {
    /// Dropping the runtime with 10k idle tasks (each waiting on a oneshot that never
    /// fires and holding a drop guard) plus 1k tasks that were never polled returns, and
    /// every task's destructor ran; their `JoinHandle`s report cancellation.
    fn drop_with_pending_tasks(flavor) {
        const IDLE: usize = 10_000;
        const QUEUED: usize = 1_000;
        let rt = flavor.rt();
        let dropped = Arc::new(AtomicUsize::new(0));
        let mut senders = Vec::with_capacity(IDLE + QUEUED);
        let mut handles: Vec<JoinHandle<()>> = Vec::with_capacity(IDLE + QUEUED);

        // Spawn the idle tasks from inside the runtime and wait until all have started.
        let started = Arc::new(AtomicUsize::new(0));
        let (all_started_tx, all_started_rx) = oneshot::channel::<()>();
        let all_started_tx = Arc::new(Mutex::new(Some(all_started_tx)));
        let mut receivers = Vec::with_capacity(IDLE);
        for _ in 0..IDLE {
            let (tx, rx) = oneshot::channel::<()>();
            senders.push(tx);
            receivers.push(rx);
        }
        let idle_handles = rt.block_on(async {
            let handles: Vec<_> = receivers
                .into_iter()
                .map(|rx| {
                    let guard = DropCounter(dropped.clone());
                    let started = started.clone();
                    let all_started_tx = all_started_tx.clone();
                    ringtide::spawn(async move {
                        let _guard = guard;
                        if started.fetch_add(1, Ordering::SeqCst) + 1 == IDLE {
                            let tx = all_started_tx.lock().unwrap().take().unwrap();
                            tx.send(()).unwrap();
                        }
                        let _ = rx.await;
                        unreachable!("the senders never send");
                    })
                })
                .collect();
            all_started_rx.await.unwrap();
            handles
        });
        handles.extend(idle_handles);

        // Queued from outside: never polled on a current-thread runtime.
        for _ in 0..QUEUED {
            let (tx, rx) = oneshot::channel::<()>();
            senders.push(tx);
            let guard = DropCounter(dropped.clone());
            handles.push(rt.spawn(async move {
                let _guard = guard;
                let _ = rx.await;
            }));
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 0);

        drop(rt);
        assert_eq!(dropped.load(Ordering::SeqCst), IDLE + QUEUED, "not every task destructor ran");
        assert!(senders.iter().all(|tx| tx.is_canceled()));
        futures::executor::block_on(async {
            for handle in handles {
                assert!(handle.is_finished());
                assert!(handle.await.unwrap_err().is_cancelled());
            }
        });
    }
}

rt_test! {
    /// A task that is running (looping on `yield_now`) when the runtime is dropped is
    /// cancelled; its destructor runs before the drop returns.
    fn drop_with_running_task(flavor) {
        let rt = flavor.rt();
        let (guard, dropped) = DropFlag::new();
        let (started_tx, started_rx) = oneshot::channel();
        let handle = rt.spawn(async move {
            let _guard = guard;
            let mut started_tx = Some(started_tx);
            loop {
                if let Some(tx) = started_tx.take() {
                    tx.send(()).unwrap();
                }
                task::yield_now().await;
            }
        });
        rt.block_on(started_rx).unwrap();
        drop(rt);
        assert!(dropped.load(Ordering::SeqCst));
        let error = futures::executor::block_on(handle).unwrap_err();
        assert!(error.is_cancelled());
    }
}

rt_test! {
    /// Task destructors run during shutdown can still reach the runtime: a destructor
    /// that spawns gets a `JoinHandle` that reports cancellation (no panic, no hang).
    fn destructor_spawns_during_shutdown(flavor) {
        struct SpawnOnDrop(mpsc::Sender<Option<JoinHandle<u8>>>);
        impl Drop for SpawnOnDrop {
            fn drop(&mut self) {
                let spawned = Handle::try_current().ok().map(|handle| handle.spawn(async { 1 }));
                let _ = self.0.send(spawned);
            }
        }
        let rt = flavor.rt();
        let (tx, rx) = mpsc::channel();
        let (started_tx, started_rx) = oneshot::channel();
        let (_never_tx, never_rx) = oneshot::channel::<()>();
        let guard = SpawnOnDrop(tx);
        let handle = rt.spawn(async move {
            let _guard = guard;
            started_tx.send(()).unwrap();
            let _ = never_rx.await;
        });
        rt.block_on(started_rx).unwrap();
        drop(rt);
        let spawned = rx
            .recv_timeout(REPORT_TIMEOUT)
            .expect("the task's destructor did not run")
            .expect("no runtime context in a destructor run by shutdown");
        futures::executor::block_on(async {
            assert!(spawned.await.unwrap_err().is_cancelled());
            assert!(handle.await.unwrap_err().is_cancelled());
        });
    }
}

rt_test! {
    /// Spawning through a handle of a runtime that was dropped: the task is cancelled
    /// at once (its future dropped, never polled), and so is a blocking closure.
    fn spawn_after_shutdown(flavor) {
        let rt = flavor.rt();
        let handle = rt.handle().clone();
        drop(rt);
        let (guard, dropped) = DropFlag::new();
        let polled = Arc::new(AtomicUsize::new(0));
        let join = {
            let polled = polled.clone();
            handle.spawn(async move {
                let _guard = guard;
                polled.fetch_add(1, Ordering::SeqCst);
            })
        };
        assert!(dropped.load(Ordering::SeqCst), "the refused future was not dropped");
        let ran = Arc::new(AtomicUsize::new(0));
        let blocking = {
            let ran = ran.clone();
            handle.spawn_blocking(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        };
        futures::executor::block_on(async {
            assert!(join.await.unwrap_err().is_cancelled());
            assert!(blocking.await.unwrap_err().is_cancelled());
        });
        assert_eq!(polled.load(Ordering::SeqCst), 0);
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        // Entering a shut-down runtime and spawning does not panic either.
        let _guard = handle.enter();
        let late = ringtide::spawn(async { 1 });
        assert!(futures::executor::block_on(late).unwrap_err().is_cancelled());
    }
}

rt_test! {
    /// `shutdown_timeout` returns although a blocking closure is stuck on a channel; the
    /// closure finishes once released.
    fn shutdown_timeout_with_stuck_blocking_closure(flavor) {
        let rt = flavor.rt();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (exited_tx, exited_rx) = mpsc::channel();
        let _handle = rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            let released = release_rx.recv().is_ok();
            exited_tx.send(released).unwrap();
        });
        started_rx.recv().unwrap();
        rt.shutdown_timeout(Duration::from_millis(50));
        assert!(exited_rx.try_recv().is_err(), "the closure did not wait for its channel");
        release_tx.send(()).unwrap();
        assert!(exited_rx.recv_timeout(REPORT_TIMEOUT).unwrap());
    }
}

rt_test! {
    /// `shutdown_background` returns at once although a blocking closure is stuck, and
    /// idle tasks are still cancelled.
    fn shutdown_background_with_stuck_blocking_closure(flavor) {
        let rt = flavor.rt();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (exited_tx, exited_rx) = mpsc::channel();
        let _blocking = rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv();
            exited_tx.send(()).unwrap();
        });
        let (guard, dropped) = DropFlag::new();
        let (_never_tx, never_rx) = oneshot::channel::<()>();
        let idle = rt.spawn(async move {
            let _guard = guard;
            let _ = never_rx.await;
        });
        started_rx.recv().unwrap();
        rt.shutdown_background();
        release_tx.send(()).unwrap();
        exited_rx.recv_timeout(REPORT_TIMEOUT).unwrap();
        assert!(futures::executor::block_on(idle).unwrap_err().is_cancelled());
        assert!(dropped.load(Ordering::SeqCst));
    }
}

rt_test! {
    /// Multi-thread only: `shutdown_timeout` returns even when a task blocks its worker
    /// thread (here on a std channel); once released, the remaining tasks are cancelled.
    fn shutdown_timeout_with_blocked_worker(flavor) {
        if flavor.is_current_thread() {
            eprintln!("current-thread: skipped, its only worker is the caller's own thread");
            return;
        }
        let rt = flavor.rt();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (exited_tx, exited_rx) = mpsc::channel();
        let _stuck = rt.spawn(async move {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv();
            exited_tx.send(()).unwrap();
        });
        started_rx.recv().unwrap();
        let (guard, dropped) = DropFlag::new();
        let (_never_tx, never_rx) = oneshot::channel::<()>();
        let idle = rt.spawn(async move {
            let _guard = guard;
            let _ = never_rx.await;
        });
        rt.shutdown_timeout(Duration::from_millis(50));
        release_tx.send(()).unwrap();
        exited_rx.recv_timeout(REPORT_TIMEOUT).unwrap();
        let error = futures::executor::block_on(idle).unwrap_err();
        assert!(error.is_cancelled());
        assert!(dropped.load(Ordering::SeqCst));
    }
}

/// Counts, in its destructor, that a runtime thread's thread-locals were destroyed.
struct ThreadExitProbe(Arc<AtomicUsize>);

impl Drop for ThreadExitProbe {
    fn drop(&mut self) {
        // Widens the window between a thread counting as gone and its thread-locals
        // being destroyed, so a shutdown that does not join its threads returns before
        // this count moves (it failed every time so). With the join the count is exact
        // whatever the timing.
        std::thread::sleep(Duration::from_millis(20));
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static EXIT_PROBE: std::cell::RefCell<Option<ThreadExitProbe>> =
        const { std::cell::RefCell::new(None) };
}

rt_test! {
    /// When the runtime's drop returns, every thread it started (workers and blocking
    /// threads) has finished, thread-locals included, as with tokio: a thread-local
    /// holding a file or a connection is closed by then. Both backends.
    fn drop_returns_after_its_threads_thread_locals_are_gone(flavor) {
        for backend in [ringtide::runtime::Backend::IoUring, ringtide::runtime::Backend::Mio] {
            let started = Arc::new(AtomicUsize::new(0));
            let exited = Arc::new(AtomicUsize::new(0));
            let rt = {
                let started = started.clone();
                let exited = exited.clone();
                flavor
                    .builder()
                    .backend(backend)
                    .on_thread_start(move || {
                        started.fetch_add(1, Ordering::SeqCst);
                        EXIT_PROBE.with(|probe| {
                            *probe.borrow_mut() = Some(ThreadExitProbe(exited.clone()));
                        });
                    })
                    .build()
                    .expect("failed to build the runtime")
            };
            // Two blocking threads at once: the first job waits for the second.
            rt.block_on(async {
                let (ready_tx, ready_rx) = mpsc::channel::<()>();
                let first = task::spawn_blocking(move || {
                    ready_rx.recv_timeout(REPORT_TIMEOUT).expect("the second job ran");
                });
                let second = task::spawn_blocking(move || ready_tx.send(()).unwrap());
                second.await.unwrap();
                first.await.unwrap();
            });
            let threads = started.load(Ordering::SeqCst);
            assert!(
                threads >= 2 + flavor.workers() - usize::from(flavor.is_current_thread()),
                "{backend:?}: {threads} threads started"
            );
            drop(rt);
            assert_eq!(
                exited.load(Ordering::SeqCst),
                started.load(Ordering::SeqCst),
                "{backend:?}: the runtime's drop returned before its threads' thread-locals \
                 were destroyed"
            );
        }
    }
}
