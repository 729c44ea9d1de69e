//! tokio parity, tasks: `JoinSet: FromIterator + Extend`, `yield_now` deferring until
//! the driver has been polled, what a task's destructors see (a panicking task's
//! future dropped while the panic unwinds, `task::id()` inside destructors, panics in
//! destructors of outputs and of aborted tasks), and `block_in_place` inside a
//! `LocalSet`. Each test runs on both backends, current-thread and multi-thread (1 and 4
//! workers); where tokio's behaviour is the point, the same scenario also runs on tokio.

#[macro_use]
mod rt_common;
#[macro_use]
mod parity_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use parity_common::{DropProbe, Seen, seen};
use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::runtime::Backend;
use ringtide::task::{self, JoinSet, LocalSet};
use rt_common::{DropFlag, backend_builder, backend_runtime, expect_panic, panic_message};

// ---------------------------------------------------------------------------------------
// JoinSet: FromIterator, Extend

each_runtime! {
    fn join_set_collects_and_extends_futures_spawning_each(backend, workers) {
        let rt = backend_runtime(backend, workers);
        let mut outputs = rt.block_on(async {
            let mut set: JoinSet<u32> = (0..10).map(|i| async move { i }).collect();
            assert_eq!(set.len(), 10);
            set.extend((10..20).map(|i| async move {
                task::yield_now().await;
                i
            }));
            assert_eq!(set.len(), 20);
            set.join_all().await
        });
        outputs.sort();
        assert_eq!(outputs, (0..20).collect::<Vec<_>>());
    }
}

#[test]
#[should_panic(expected = "outside a runtime")]
fn join_set_collected_outside_a_runtime_panics() {
    let _set: JoinSet<()> = std::iter::once(async {}).collect();
}

// ---------------------------------------------------------------------------------------
// yield_now defers until the driver has been polled

/// Spins on `yield_now` until `done` is set; returns how many times it yielded.
async fn spin_until(done: Arc<AtomicBool>) -> u64 {
    let mut yields = 0;
    while !done.load(Ordering::SeqCst) {
        task::yield_now().await;
        yields += 1;
    }
    yields
}

/// A runtime that, if yielding tasks were simply requeued, would never poll its driver
/// while one of them spins (`event_interval` is the only other time it does).
fn spinning_runtime(backend: Backend, workers: usize) -> ringtide::runtime::Runtime {
    backend_builder(backend, workers)
        .event_interval(u32::MAX)
        .build()
        .unwrap()
}

each_runtime! {
    /// tokio's "yield defers until park": a task spinning on `yield_now` lets a loopback
    /// accept, connect, write and read, and a timer, complete, even on one worker.
    fn yield_now_lets_io_and_timers_complete_while_a_task_spins(backend, workers) {
        let rt = spinning_runtime(backend, workers);
        rt.block_on(async {
            let listener = ringtide::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();

            let read_done = Arc::new(AtomicBool::new(false));
            let spinner = ringtide::spawn(spin_until(read_done.clone()));
            let reader = ringtide::spawn({
                let read_done = read_done.clone();
                async move {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    let (result, buf) = stream.read_owned(Vec::with_capacity(8)).await;
                    assert_eq!(result.unwrap(), 5);
                    read_done.store(true, Ordering::SeqCst);
                    buf
                }
            });
            let writer = ringtide::spawn(async move {
                let mut stream = ringtide::net::TcpStream::connect(address).await.unwrap();
                let (result, _) = stream.write_all_owned(b"hello".to_vec()).await;
                result.unwrap();
                stream
            });
            let _stream = writer.await.unwrap();
            assert_eq!(reader.await.unwrap(), b"hello");
            spinner.await.unwrap();

            let timer_done = Arc::new(AtomicBool::new(false));
            let spinner = ringtide::spawn(spin_until(timer_done.clone()));
            let timer = ringtide::spawn(async move {
                ringtide::time::sleep(Duration::from_millis(2)).await;
                timer_done.store(true, Ordering::SeqCst);
            });
            spinner.await.unwrap();
            timer.await.unwrap();
        });
    }
}

each_runtime! {
    /// A task out of cooperative budget is deferred like a yield (tokio does the same):
    /// one that spins on `consume_budget` lets a timer fire, even on one worker.
    fn spent_budget_defers_like_a_yield(backend, workers) {
        let rt = spinning_runtime(backend, workers);
        rt.block_on(async {
            let fired = Arc::new(AtomicBool::new(false));
            let spinner = ringtide::spawn({
                let fired = fired.clone();
                async move {
                    while !fired.load(Ordering::SeqCst) {
                        task::consume_budget().await;
                    }
                }
            });
            ringtide::spawn(async move {
                ringtide::time::sleep(Duration::from_millis(2)).await;
                fired.store(true, Ordering::SeqCst);
            })
            .await
            .unwrap();
            spinner.await.unwrap();
        });
    }
}

each_runtime! {
    /// The same for the `block_on` future itself, and for a local task of a `LocalSet`.
    fn yield_now_in_block_on_and_in_a_local_set_lets_timers_fire(backend, workers) {
        let rt = spinning_runtime(backend, workers);
        let fired = Arc::new(AtomicBool::new(false));
        rt.block_on(async {
            let flag = fired.clone();
            ringtide::spawn(async move {
                ringtide::time::sleep(Duration::from_millis(2)).await;
                flag.store(true, Ordering::SeqCst);
            });
            spin_until(fired.clone()).await;
        });
        let fired = Arc::new(AtomicBool::new(false));
        LocalSet::new().block_on(&rt, async {
            let flag = fired.clone();
            ringtide::spawn(async move {
                ringtide::time::sleep(Duration::from_millis(2)).await;
                flag.store(true, Ordering::SeqCst);
            });
            task::spawn_local(spin_until(fired.clone())).await.unwrap();
        });
    }
}

each_runtime! {
    /// Where no scheduler core runs on the thread (a blocking thread, `block_in_place`'s
    /// closure, outside a runtime), a yield is woken at once: an executor there is never
    /// left waiting for a park step that does not come.
    fn yield_now_without_a_core_on_the_thread_wakes_at_once(backend, workers) {
        let rt = backend_runtime(backend, workers);
        rt.block_on(async {
            let yielded = task::spawn_blocking(|| {
                futures::executor::block_on(async {
                    task::yield_now().await;
                    1
                })
            });
            assert_eq!(yielded.await.unwrap(), 1);
            if workers > 0 {
                let in_place = ringtide::spawn(async {
                    task::block_in_place(|| futures::executor::block_on(task::yield_now()));
                    task::yield_now().await;
                    2
                });
                assert_eq!(in_place.await.unwrap(), 2);
            }
        });
        futures::executor::block_on(task::yield_now());
    }
}

each_runtime! {
    /// Tasks still deferred when the runtime shuts down are cancelled like the others.
    fn yielding_tasks_are_cancelled_at_shutdown(backend, workers) {
        let rt = backend_runtime(backend, workers);
        let drops = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let guard = rt_common::DropCounter(drops.clone());
                rt.spawn(async move {
                    let _guard = guard;
                    loop {
                        task::yield_now().await;
                    }
                })
            })
            .collect();
        rt.block_on(async {
            for _ in 0..16 {
                task::yield_now().await;
            }
        });
        drop(rt);
        assert_eq!(drops.load(Ordering::SeqCst), 8);
        for handle in handles {
            assert!(futures::executor::block_on(handle).unwrap_err().is_cancelled());
        }
    }
}

// ---------------------------------------------------------------------------------------
// What a task's destructors see

/// The future of a task that panics at its first poll, holding `probe`.
async fn panics_holding<I: Send + 'static>(probe: DropProbe<I>) {
    let _probe = probe;
    panic!("task panics on purpose");
}

/// What the destructor of a panicking tokio task's future sees (the reference).
fn tokio_panicking_task_drop(multi: bool) -> Seen<bool> {
    let rt = if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread().build()
    }
    .unwrap();
    let (probe, slot) = DropProbe::new(tokio::task::try_id);
    let handle = rt.spawn(panics_holding(probe));
    let id = handle.id();
    assert!(rt.block_on(handle).unwrap_err().is_panic());
    let seen = seen(&slot);
    Seen {
        panicking: seen.panicking,
        task_id: Some(seen.task_id == Some(id)),
    }
}

each_runtime! {
    /// A task whose poll panics has its future dropped while the panic unwinds, with the
    /// task's id current, as in tokio (checked against tokio here).
    fn panicking_task_future_is_dropped_during_the_unwinding(backend, workers) {
        let rt = backend_runtime(backend, workers);
        let (probe, slot) = DropProbe::new(task::try_id);
        let handle = rt.spawn(panics_holding(probe));
        let id = handle.id();
        let error = rt.block_on(handle).unwrap_err();
        assert_eq!(panic_message(&*error.into_panic()), "task panics on purpose");
        assert_eq!(
            seen(&slot),
            Seen { panicking: true, task_id: Some(id) },
            "what the panicking task's destructor saw"
        );
        let tokio = tokio_panicking_task_drop(workers > 0);
        assert_eq!(tokio, Seen { panicking: true, task_id: Some(true) }, "tokio's reference");
    }
}

each_runtime! {
    /// `task::id()` works in every destructor of a task: its future's when it completes,
    /// is aborted, or is cancelled by shutdown, and its output's when nobody joins it.
    fn task_id_works_inside_a_task_s_destructors(backend, workers) {
        let rt = backend_runtime(backend, workers);
        let (completes, completes_slot) = DropProbe::new(task::try_id);
        let (aborted, aborted_slot) = DropProbe::new(task::try_id);
        let (idle, idle_slot) = DropProbe::new(task::try_id);
        let (output, output_slot) = DropProbe::new(task::try_id);
        let (detached_output, detached_output_slot) = DropProbe::new(task::try_id);
        let (ids, idle_handle) = rt.block_on(async {
            let completed = ringtide::spawn(async move {
                let _probe = completes;
                task::yield_now().await;
            });
            let completed_id = completed.id();
            completed.await.unwrap();

            let aborted = ringtide::spawn(async move {
                let _probe = aborted;
                std::future::pending::<()>().await
            });
            let aborted_id = aborted.id();
            task::yield_now().await;
            aborted.abort();
            assert!(aborted.await.unwrap_err().is_cancelled());

            // Finished, then its handle dropped: the output is dropped there.
            let with_output = ringtide::spawn(async move { output });
            let output_id = with_output.id();
            while !with_output.is_finished() {
                task::yield_now().await;
            }
            drop(with_output);

            // Detached first: the output is dropped where the task finishes.
            let (go, wait) = futures::channel::oneshot::channel::<()>();
            let detached = ringtide::spawn(async move {
                wait.await.unwrap();
                detached_output
            });
            let detached_id = detached.id();
            drop(detached);
            go.send(()).unwrap();
            while detached_output_slot.lock().unwrap().is_none() {
                task::yield_now().await;
            }

            let idle_handle = ringtide::spawn(async move {
                let _probe = idle;
                std::future::pending::<()>().await
            });
            task::yield_now().await;
            ([completed_id, aborted_id, output_id, detached_id], idle_handle)
        });
        let idle_id = idle_handle.id();
        drop(rt);
        let [completed_id, aborted_id, output_id, detached_id] = ids;
        for (what, slot, id) in [
            ("a completed task's future", &completes_slot, completed_id),
            ("an aborted task's future", &aborted_slot, aborted_id),
            ("an unjoined output", &output_slot, output_id),
            ("a detached task's output", &detached_output_slot, detached_id),
            ("a future cancelled by shutdown", &idle_slot, idle_id),
        ] {
            assert_eq!(seen(slot).task_id, Some(id), "task::try_id() in {what}'s destructor");
        }
    }
}

/// Panics when dropped (not while already panicking).
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

each_runtime! {
    /// A panic in the destructor of a task's output never escapes: not from
    /// `drop(JoinHandle)` of a finished task, nor (it used to abort the process) where a
    /// detached task finishes; the runtime keeps working. (tokio swallows it too.)
    fn panic_in_an_output_s_destructor_does_not_escape(backend, workers) {
        let rt = backend_runtime(backend, workers);
        rt.block_on(async {
            let finished = ringtide::spawn(async { PanicOnDrop("finished output") });
            while !finished.is_finished() {
                task::yield_now().await;
            }
            drop(finished);

            let (done_guard, dropped) = DropFlag::new();
            let detached = ringtide::spawn(async move {
                task::yield_now().await;
                (done_guard, PanicOnDrop("detached output"))
            });
            drop(detached);
            while !dropped.load(Ordering::SeqCst) {
                task::yield_now().await;
            }
            assert_eq!(ringtide::spawn(async { 3 }).await.unwrap(), 3);
        });
    }
}

each_runtime! {
    /// An aborted task whose destructor panics reports `is_panic` with that payload, as
    /// in tokio (checked against tokio here); without a panic it is cancelled.
    fn aborted_task_whose_destructor_panics_reports_the_panic(backend, workers) {
        let rt = backend_runtime(backend, workers);
        let error = rt.block_on(async {
            let (started, running) = futures::channel::oneshot::channel();
            let handle = ringtide::spawn(async {
                let _guard = PanicOnDrop("destructor panics on abort");
                started.send(()).unwrap();
                std::future::pending::<()>().await
            });
            running.await.unwrap();
            handle.abort();
            handle.await.unwrap_err()
        });
        assert!(error.is_panic() && !error.is_cancelled(), "{error:?}");
        assert_eq!(panic_message(&*error.into_panic()), "destructor panics on abort");

        let tokio = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let tokio_error = tokio.block_on(async {
            let (started, running) = futures::channel::oneshot::channel();
            let handle = tokio::spawn(async {
                let _guard = PanicOnDrop("destructor panics on abort");
                started.send(()).unwrap();
                std::future::pending::<()>().await
            });
            running.await.unwrap();
            handle.abort();
            handle.await.unwrap_err()
        });
        assert!(tokio_error.is_panic(), "tokio's reference: {tokio_error:?}");
    }
}

each_runtime! {
    /// The same for tasks cancelled by shutdown, whether idle or still queued (never
    /// polled), and for a `LocalSet`'s tasks when the set is dropped: as in tokio
    /// (checked against tokio here for the idle one).
    fn task_cancelled_by_shutdown_whose_destructor_panics_reports_the_panic(backend, workers) {
        let rt = backend_runtime(backend, workers);
        let (started, running) = futures::channel::oneshot::channel();
        let idle = rt.spawn(async {
            let _guard = PanicOnDrop("idle at shutdown");
            started.send(()).unwrap();
            std::future::pending::<()>().await
        });
        rt.block_on(running).unwrap();
        let queued = if workers == 0 {
            // Nothing runs a current-thread runtime's tasks outside `block_on`.
            let guard = PanicOnDrop("queued at shutdown");
            Some(rt.spawn(async move {
                let _guard = guard;
            }))
        } else {
            None
        };
        let plain = rt.spawn(std::future::pending::<()>());
        drop(rt);
        for (handle, message) in [(Some(idle), "idle at shutdown"), (queued, "queued at shutdown")] {
            let Some(handle) = handle else { continue };
            let error = futures::executor::block_on(handle).unwrap_err();
            assert!(error.is_panic(), "{message}: {error:?}");
            assert_eq!(panic_message(&*error.into_panic()), message);
        }
        assert!(futures::executor::block_on(plain).unwrap_err().is_cancelled());

        let rt = backend_runtime(backend, workers);
        let local = LocalSet::new();
        let (idle, queued) = local.block_on(&rt, async {
            let idle = task::spawn_local(async {
                let _guard = PanicOnDrop("local task idle at drop");
                std::future::pending::<()>().await
            });
            task::yield_now().await;
            let guard = PanicOnDrop("local task queued at drop");
            let queued = task::spawn_local(async move {
                let _guard = guard;
            });
            (idle, queued)
        });
        drop(local);
        for (handle, message) in [(idle, "local task idle at drop"), (queued, "local task queued at drop")] {
            let error = rt.block_on(handle).unwrap_err();
            assert!(error.is_panic(), "{message}: {error:?}");
            assert_eq!(panic_message(&*error.into_panic()), message);
        }

        let tokio = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (started, running) = futures::channel::oneshot::channel();
        let tokio_idle = tokio.spawn(async {
            let _guard = PanicOnDrop("idle at shutdown");
            started.send(()).unwrap();
            std::future::pending::<()>().await
        });
        tokio.block_on(running).unwrap();
        drop(tokio);
        let tokio_error = futures::executor::block_on(tokio_idle).unwrap_err();
        assert!(tokio_error.is_panic(), "tokio's reference: {tokio_error:?}");
    }
}

// ---------------------------------------------------------------------------------------
// block_in_place inside a LocalSet

const IN_LOCAL_SET: &str = "task::block_in_place cannot be called inside a LocalSet";
const ON_CURRENT_THREAD: &str =
    "task::block_in_place can only be called from a multi-thread runtime";

each_runtime! {
    /// tokio's documented case: `block_in_place` in a local task of a `LocalSet` driven
    /// by `block_on` panics (on multi-thread; on current-thread it never works). Inside
    /// a `LocalSet` polled on a worker thread it works, as in tokio: the worker's core
    /// moves away.
    fn block_in_place_inside_a_local_set(backend, workers) {
        let rt = backend_runtime(backend, workers);
        let local = LocalSet::new();
        let error = local.block_on(&rt, async {
            task::spawn_local(async { task::block_in_place(|| 1) })
                .await
                .unwrap_err()
        });
        let message = panic_message(&*error.into_panic());
        let expected = if workers == 0 { ON_CURRENT_THREAD } else { IN_LOCAL_SET };
        assert!(message.contains(expected), "{message}");
        assert!(message.contains("spawn_blocking"), "{message}");

        // The same thread may block in place again once the set is not running.
        if workers > 0 {
            assert_eq!(rt.block_on(async { task::block_in_place(|| 2) }), 2);
            // A set polled on a worker thread (inside a task, by an executor of its own,
            // since a set is not `Send`).
            let in_worker_task = rt.block_on(rt.spawn(async {
                futures::executor::block_on(
                    LocalSet::new().run_until(async { task::block_in_place(|| 3) }),
                )
            }));
            assert_eq!(in_worker_task.unwrap(), 3);
        }
    }
}

#[test]
fn tokio_panics_on_block_in_place_inside_a_local_set_too() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let error = local.block_on(&rt, async {
        tokio::task::spawn_local(async { tokio::task::block_in_place(|| 1) })
            .await
            .unwrap_err()
    });
    assert!(error.is_panic());
    let message = expect_panic(|| std::panic::resume_unwind(error.into_panic()));
    assert!(message.contains("can call blocking only when running on the multi-threaded runtime"));
}
