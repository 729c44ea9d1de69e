//! tokio parity, the runtime API: `Builder::name` / `Handle::name`, `Handle::id`, the
//! park/unpark and task spawn/terminate callbacks, the macros' `name` and
//! `unhandled_panic` arguments and `#[ringtide::main]` on methods, and the misuse tokio
//! rejects with a panic (enter guards dropped out of order, a runtime dropped inside a
//! runtime), plus a runtime or `LocalSet` dropped while its thread's thread-locals are
//! destroyed. Each runtime test runs on both backends, current-thread and multi-thread
//! (1 and 4 workers); where tokio's behaviour is the point, the same scenario also runs
//! on tokio.

#[macro_use]
mod rt_common;
#[macro_use]
mod parity_common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ringtide::runtime::{Builder, Handle};
use ringtide::task::{self, LocalSet};
use rt_common::{backend_builder, backend_runtime, expect_panic};
// Used only by the thread-local teardown scenario, which is Unix-only.
#[cfg(unix)]
use {
    ringtide::runtime::{Backend, Runtime},
    rt_common::DropFlag,
    std::cell::RefCell,
};

const DROP_IN_RUNTIME: &str = "Cannot drop a runtime in a context where blocking is not allowed";

// ---------------------------------------------------------------------------------------
// Builder::name, Handle::name, Handle::id

each_runtime! {
    fn runtime_name_and_id_are_the_same_everywhere_in_the_runtime(backend, workers) {
        let named = backend_builder(backend, workers)
            .name("parity-runtime")
            .build()
            .unwrap();
        let unnamed = backend_runtime(backend, workers);
        assert_eq!(named.handle().name(), Some("parity-runtime"));
        assert_eq!(unnamed.handle().name(), None);
        let id = named.handle().id();
        assert_ne!(id, unnamed.handle().id());
        assert_eq!(named.handle().clone().id(), id);
        assert!(id.to_string().parse::<u64>().is_ok(), "displays as a number: {id}");

        let seen = named.block_on(async {
            let current = || (Handle::current().id(), Handle::current().name().map(str::to_owned));
            let in_block_on = current();
            let in_task = ringtide::spawn(async move { current() }).await.unwrap();
            let on_blocking_thread = task::spawn_blocking(current).await.unwrap();
            [in_block_on, in_task, on_blocking_thread]
        });
        for (seen_id, seen_name) in seen {
            assert_eq!(seen_id, id);
            assert_eq!(seen_name.as_deref(), Some("parity-runtime"));
        }
        let _entered = unnamed.enter();
        assert_eq!(Handle::current().id(), unnamed.handle().id());
        assert_eq!(Handle::current().name(), None);
    }
}

#[test]
#[should_panic(expected = "a runtime name must not be empty")]
fn empty_runtime_name_panics() {
    Builder::new_current_thread().name(" \t");
}

// ---------------------------------------------------------------------------------------
// on_thread_park / on_thread_unpark

each_runtime! {
    /// tokio's documented example: the park callback spawns the task that `block_on` is
    /// waiting for (so it runs in the runtime's context and its work is picked up).
    /// Every park callback is matched by an unpark one, on the runtime's own threads.
    fn park_callback_may_spawn_the_work_that_block_on_waits_for(backend, workers) {
        let parks = Arc::new(AtomicUsize::new(0));
        let unparks = Arc::new(AtomicUsize::new(0));
        let threads = Arc::new(Mutex::new(HashSet::new()));
        let barrier = Arc::new(ringtide::sync::Barrier::new(2));
        let once = AtomicBool::new(true);
        let rt = {
            let parks = parks.clone();
            let unparks = unparks.clone();
            let threads = threads.clone();
            let barrier = barrier.clone();
            backend_builder(backend, workers)
                .thread_name("parity-worker")
                .on_thread_park(move || {
                    parks.fetch_add(1, Ordering::SeqCst);
                    let name = std::thread::current().name().map(str::to_owned);
                    threads.lock().unwrap().insert(name);
                    if once.swap(false, Ordering::SeqCst) {
                        let barrier = barrier.clone();
                        ringtide::spawn(async move {
                            barrier.wait().await;
                        });
                    }
                })
                .on_thread_unpark(move || {
                    unparks.fetch_add(1, Ordering::SeqCst);
                })
                .build()
                .unwrap()
        };
        rt.block_on(async {
            barrier.wait().await;
        });
        drop(rt);
        let parks = parks.load(Ordering::SeqCst);
        assert!(parks >= 1, "the park callback never ran");
        assert_eq!(parks, unparks.load(Ordering::SeqCst), "unbalanced park/unpark callbacks");
        let expected = if workers == 0 {
            // The thread that drives the current-thread runtime: this test's.
            std::thread::current().name().map(str::to_owned)
        } else {
            Some("parity-worker".to_owned())
        };
        assert_eq!(*threads.lock().unwrap(), HashSet::from([expected]));
    }
}

// ---------------------------------------------------------------------------------------
// on_task_spawn / on_task_terminate

each_runtime! {
    /// The spawn callback sees every task spawned on the runtime (not `spawn_blocking`,
    /// not a `LocalSet`'s), the terminate callback every task of the runtime exactly
    /// once (completed, panicked, aborted, `spawn_blocking`, cancelled at shutdown), each
    /// before its `JoinHandle` sees the result.
    fn task_callbacks_see_every_task_once(backend, workers) {
        let spawned = Arc::new(Mutex::new(Vec::new()));
        let terminated = Arc::new(Mutex::new(Vec::new()));
        let rt = {
            let spawned = spawned.clone();
            let terminated = terminated.clone();
            backend_builder(backend, workers)
                .on_task_spawn(move |meta| spawned.lock().unwrap().push(meta.id()))
                .on_task_terminate(move |meta| terminated.lock().unwrap().push(meta.id()))
                .build()
                .unwrap()
        };
        let has_terminated = |id| terminated.lock().unwrap().contains(&id);
        let (spawned_ids, mut terminated_ids, idle) = rt.block_on(async {
            let completed = ringtide::spawn(async { task::id() });
            let completed_id = completed.id();
            assert!(spawned.lock().unwrap().contains(&completed_id), "reported at spawn");
            assert_eq!(completed.await.unwrap(), completed_id);
            assert!(has_terminated(completed_id));

            let panicked = ringtide::spawn(async { panic!("on purpose") });
            let panicked_id = panicked.id();
            assert!(panicked.await.unwrap_err().is_panic());
            assert!(has_terminated(panicked_id));

            let aborted = ringtide::spawn(std::future::pending::<()>());
            let aborted_id = aborted.id();
            task::yield_now().await;
            aborted.abort();
            assert!(aborted.await.unwrap_err().is_cancelled());
            assert!(has_terminated(aborted_id));

            let blocking = task::spawn_blocking(|| 2);
            let blocking_id = blocking.id();
            assert_eq!(blocking.await.unwrap(), 2);
            assert!(has_terminated(blocking_id));

            let local_id = LocalSet::new()
                .run_until(async {
                    let local = task::spawn_local(async {});
                    let id = local.id();
                    local.await.unwrap();
                    id
                })
                .await;

            let idle = ringtide::spawn(std::future::pending::<()>());
            let idle_id = idle.id();
            (
                vec![completed_id, panicked_id, aborted_id, idle_id],
                vec![completed_id, panicked_id, aborted_id, blocking_id, idle_id, local_id],
                idle,
            )
        });
        let local_id = terminated_ids.pop().unwrap();
        let idle_id = idle.id();
        assert!(!has_terminated(idle_id), "an idle task terminated early");
        drop(rt);
        assert!(futures::executor::block_on(idle).unwrap_err().is_cancelled());

        assert_eq!(*spawned.lock().unwrap(), spawned_ids, "spawn callbacks");
        let mut reported = terminated.lock().unwrap().clone();
        reported.sort();
        terminated_ids.sort();
        assert_eq!(reported, terminated_ids, "terminate callbacks, once each");
        assert!(!spawned.lock().unwrap().contains(&local_id), "LocalSet tasks are not reported");
    }
}

each_runtime! {
    /// A panic in the terminate callback is caught: tasks still complete and report.
    fn panicking_terminate_callback_is_ignored(backend, workers) {
        let rt = backend_builder(backend, workers)
            .on_task_terminate(|_| panic!("terminate callback panics on purpose"))
            .build()
            .unwrap();
        let outputs = rt.block_on(async {
            let mut outputs = Vec::new();
            for i in 0..10 {
                outputs.push(ringtide::spawn(async move { i }).await.unwrap());
            }
            outputs.push(task::spawn_blocking(|| 10).await.unwrap());
            outputs
        });
        assert_eq!(outputs, (0..=10).collect::<Vec<_>>());
    }
}

// ---------------------------------------------------------------------------------------
// EnterGuard order

const OUT_OF_ORDER: &str = "`EnterGuard` values dropped out of order";

timed_test! {
    fn enter_guards_restore_in_order_and_panic_out_of_order() {
        let first = Builder::new_current_thread().build().unwrap();
        let second = Builder::new_current_thread().build().unwrap();
        {
            let outer = first.enter();
            let inner = second.enter();
            assert_eq!(Handle::current().id(), second.handle().id());
            drop(inner);
            assert_eq!(Handle::current().id(), first.handle().id());
            drop(outer);
            assert!(Handle::try_current().is_err());
        }
        let outer = first.enter();
        let inner = second.enter();
        let message = expect_panic(move || drop(outer));
        assert!(message.contains(OUT_OF_ORDER), "{message}");
        drop(inner);
    }
}

timed_test! {
    fn tokio_panics_on_enter_guards_dropped_out_of_order_too() {
        let first = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let second = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let outer = first.enter();
        let inner = second.enter();
        let message = expect_panic(move || drop(outer));
        assert!(message.contains(OUT_OF_ORDER), "{message}");
        drop(inner);
    }
}

// ---------------------------------------------------------------------------------------
// Dropping a runtime inside a runtime

each_runtime! {
    /// Dropping (or shutting down with a timeout) a runtime inside a task or `block_on`
    /// panics, as in tokio, after cancelling its tasks; `shutdown_background`, a
    /// blocking thread and `block_in_place` are the ways to do it there.
    fn dropping_a_runtime_inside_a_runtime_panics(backend, workers) {
        let outer = backend_runtime(backend, workers);
        for inner_workers in [0, 2] {
            // In `block_on`.
            let inner = backend_runtime(backend, inner_workers);
            let idle = inner.spawn(std::future::pending::<()>());
            let message = expect_panic(|| outer.block_on(async move { drop(inner) }));
            assert!(message.contains(DROP_IN_RUNTIME), "{message}");
            assert!(message.contains("shutdown_background"), "{message}");
            assert!(
                futures::executor::block_on(idle).unwrap_err().is_cancelled(),
                "the dropped runtime's tasks are cancelled"
            );

            // In a task, and with a shutdown timeout.
            let inner = backend_runtime(backend, inner_workers);
            let error = outer
                .block_on(outer.spawn(async move { drop(inner) }))
                .unwrap_err();
            let message = rt_common::panic_message(&*error.into_panic());
            assert!(message.contains(DROP_IN_RUNTIME), "{message}");
            let inner = backend_runtime(backend, inner_workers);
            let message = expect_panic(|| {
                outer.block_on(async move {
                    inner.shutdown_timeout(std::time::Duration::from_secs(1));
                })
            });
            assert!(message.contains(DROP_IN_RUNTIME), "{message}");

            // The ways that work.
            let inner = backend_runtime(backend, inner_workers);
            outer.block_on(async move { inner.shutdown_background() });
            let inner = backend_runtime(backend, inner_workers);
            outer.block_on(async move {
                task::spawn_blocking(move || drop(inner)).await.unwrap();
            });
            if workers > 0 {
                let inner = backend_runtime(backend, inner_workers);
                outer.block_on(outer.spawn(async move {
                    task::block_in_place(move || drop(inner));
                }))
                .unwrap();
            }
        }
        // The outer runtime is fine, and drops normally.
        assert_eq!(outer.block_on(outer.spawn(async { 7 })).unwrap(), 7);
    }
}

timed_test! {
    fn tokio_panics_when_a_runtime_is_dropped_inside_a_runtime_too() {
        let outer = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let inner = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let message = expect_panic(|| outer.block_on(async move { drop(inner) }));
        assert!(message.contains(DROP_IN_RUNTIME), "{message}");
    }
}

// ---------------------------------------------------------------------------------------
// A runtime and a LocalSet dropped during thread-local teardown (Unix only: each order
// runs in a child process, and `rt_common::run_child_test` is Unix-only)

/// Set in the child process that runs the thread-local scenario: `early` or `late`.
#[cfg(unix)]
const TLS_CHILD_ENV: &str = "RINGTIDE_PARITY_TLS_CHILD";
/// What the child prints when the scenario succeeded.
#[cfg(unix)]
const TLS_CHILD_OK: &str = "RINGTIDE_PARITY_TLS_CHILD_OK";

#[cfg(unix)]
each_runtime! {
    /// A runtime and a `LocalSet` kept in `thread_local!`s are dropped when their thread
    /// exits, with every task (and local task) destructor run, whether ringtide's own
    /// thread-locals are destroyed before them (`early`: the slots were registered
    /// first) or after (`late`). A failure here used to abort the process ("cannot
    /// access a Thread Local Storage value during or after destruction"), so each order
    /// runs in a child process.
    fn runtime_and_local_set_in_thread_local_storage(backend, workers) {
        if let Ok(order) = std::env::var(TLS_CHILD_ENV) {
            drop_in_thread_local_storage(backend, workers, order == "early");
            println!("{TLS_CHILD_OK}");
            return;
        }
        let flavor = match workers {
            0 => "current_thread".to_owned(),
            n => format!("multi_thread_{n}"),
        };
        let backend_name = match backend {
            Backend::IoUring => "io_uring",
            _ => "mio",
        };
        let test = format!("runtime_and_local_set_in_thread_local_storage::{backend_name}_{flavor}");
        for order in ["early", "late"] {
            let output =
                rt_common::run_child_test(&test, &[(TLS_CHILD_ENV, order)], rt_common::TEST_TIMEOUT);
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains(TLS_CHILD_OK),
                "child `{test}` ({order}) failed: {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

#[cfg(unix)]
fn drop_in_thread_local_storage(backend: Backend, workers: usize, register_slots_first: bool) {
    thread_local! {
        static RUNTIME: RefCell<Option<Runtime>> = const { RefCell::new(None) };
        static LOCAL_SET: RefCell<Option<LocalSet>> = const { RefCell::new(None) };
    }
    let (task_guard, task_dropped) = DropFlag::new();
    let (local_guard, local_dropped) = DropFlag::new();
    std::thread::spawn(move || {
        if register_slots_first {
            // Thread-locals are destroyed in the reverse order of their first use.
            RUNTIME.with(|_| ());
            LOCAL_SET.with(|_| ());
        }
        let rt = backend_runtime(backend, workers);
        let local = LocalSet::new();
        local.block_on(&rt, async move {
            // Idle tasks holding I/O, a timer and a drop guard.
            let listener = ringtide::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            let address = listener.local_addr().unwrap();
            let client = ringtide::net::TcpStream::connect(address).await.unwrap();
            ringtide::spawn(async move {
                let _guard = task_guard;
                let _client = client;
                let _accepted = listener.accept().await;
                ringtide::time::sleep(std::time::Duration::from_secs(3600)).await;
            });
            task::spawn_local(async move {
                let _guard = local_guard;
                std::future::pending::<()>().await
            });
            task::yield_now().await;
        });
        RUNTIME.with(|slot| *slot.borrow_mut() = Some(rt));
        LOCAL_SET.with(|slot| *slot.borrow_mut() = Some(local));
    })
    .join()
    .expect("the thread that owned the runtime panicked");
    assert!(
        task_dropped.load(Ordering::SeqCst),
        "a runtime task's destructor did not run"
    );
    assert!(
        local_dropped.load(Ordering::SeqCst),
        "a local task's destructor did not run"
    );
}

// ---------------------------------------------------------------------------------------
// Macro arguments and methods

#[ringtide::main(flavor = "current_thread", name = "parity-main")]
async fn named_main() -> Option<String> {
    Handle::current().name().map(str::to_owned)
}

#[test]
fn main_macro_names_the_runtime() {
    assert_eq!(named_main().as_deref(), Some("parity-main"));
}

#[ringtide::test(name = "parity-test", backend = "both")]
async fn test_macro_names_the_runtime() {
    assert_eq!(Handle::current().name(), Some("parity-test"));
    let name = ringtide::spawn(async { Handle::current().name().map(str::to_owned) });
    assert_eq!(name.await.unwrap().as_deref(), Some("parity-test"));
}

/// tokio code may spell out the default: a spawned task's panic is its `JoinError`.
#[ringtide::test(
    flavor = "current_thread",
    unhandled_panic = "ignore",
    backend = "both"
)]
async fn unhandled_panic_ignore_is_the_default_behaviour() {
    let error = ringtide::spawn(async { panic!("on purpose") })
        .await
        .unwrap_err();
    assert!(error.is_panic());
    assert_eq!(ringtide::spawn(async { 5 }).await.unwrap(), 5);
}

struct Server {
    base: u32,
}

impl Server {
    /// `#[ringtide::main]` on a method taking `self` (and another parameter).
    #[ringtide::main(flavor = "current_thread")]
    async fn serve(self, extra: u32) -> u32 {
        let base = self.base;
        ringtide::spawn(async move { base + extra }).await.unwrap()
    }

    /// ... and on one taking `&mut self`, on a multi-thread runtime.
    #[ringtide::main(worker_threads = 2)]
    async fn bump(&mut self) {
        self.base += ringtide::spawn(async { 1 }).await.unwrap();
    }
}

#[test]
fn main_macro_on_methods() {
    let mut server = Server { base: 40 };
    server.bump();
    assert_eq!(server.base, 41);
    assert_eq!(server.serve(1), 42);
}
