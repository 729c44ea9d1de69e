//! `Handle`: `current`/`try_current`, `enter`, `block_on` from the right and the wrong
//! places.

#[macro_use]
mod rt_common;

use ringtide::runtime::Handle;
use ringtide::task;

const NESTED_RUNTIME: &str = "Cannot start a runtime from within a runtime";

rt_test! {
    /// `Handle::current().block_on(..)` inside a spawned task panics with tokio's
    /// message; the panic reaches the `JoinError` and the runtime stays usable.
    fn block_on_inside_task_panics(flavor) {
        let rt = flavor.rt();
        let other = rt_common::Flavor::MultiThread(1).rt();
        let other_handle = other.handle().clone();
        rt.block_on(async move {
            let error = ringtide::spawn(async { Handle::current().block_on(async { 1 }) })
                .await
                .unwrap_err();
            assert!(error.is_panic());
            let message = rt_common::panic_message(&*error.into_panic());
            assert!(message.contains(NESTED_RUNTIME), "{message}");

            // Blocking on a different runtime from a task is refused too.
            let error = ringtide::spawn(async move { other_handle.block_on(async { 1 }) })
                .await
                .unwrap_err();
            let message = rt_common::panic_message(&*error.into_panic());
            assert!(message.contains(NESTED_RUNTIME), "{message}");

            // And directly inside the `block_on` future.
            let message = rt_common::expect_panic(|| Handle::current().block_on(async { 1 }));
            assert!(message.contains(NESTED_RUNTIME), "{message}");

            assert_eq!(ringtide::spawn(async { 2 }).await.unwrap(), 2);
        });
        assert_eq!(rt.block_on(async { 3 }), 3);
        drop(other);
    }
}

timed_test! {
    /// Outside any runtime: `try_current` is an error, `current` and `spawn` panic.
    fn handle_current_outside_runtime() {
        let error = Handle::try_current().unwrap_err();
        assert!(!error.to_string().is_empty());
        let message = rt_common::expect_panic(Handle::current);
        assert!(message.contains("runtime"), "{message}");
        let message = rt_common::expect_panic(|| ringtide::spawn(async {}));
        assert!(message.contains("runtime"), "{message}");
        assert!(task::try_id().is_none());
        let message = rt_common::expect_panic(task::id);
        assert!(!message.is_empty());
    }
}

rt_test! {
    /// `Runtime::enter` / `Handle::enter` make `Handle::current` and `ringtide::spawn`
    /// work on a thread outside the runtime, until the guard drops.
    fn handle_enter(flavor) {
        let rt = flavor.rt();
        let handle = {
            let _guard = rt.enter();
            assert!(Handle::try_current().is_ok());
            ringtide::spawn(async { 5 })
        };
        assert!(Handle::try_current().is_err(), "the guard did not restore the context");
        assert_eq!(rt.block_on(handle).unwrap(), 5);

        // From another std thread, through a cloned handle.
        let rt_handle = rt.handle().clone();
        let join = std::thread::spawn(move || {
            let _guard = rt_handle.enter();
            ringtide::spawn(async { task::yield_now().await; 6 })
        })
        .join()
        .unwrap();
        assert_eq!(rt.block_on(join).unwrap(), 6);

        // Nested enters of two runtimes restore the outer one.
        let other = rt_common::Flavor::MultiThread(1).rt();
        let outer = rt.enter();
        {
            let _inner = other.enter();
            let inner_task = ringtide::spawn(async { "other" });
            assert_eq!(other.block_on(inner_task).unwrap(), "other");
        }
        let outer_task = ringtide::spawn(async { "outer" });
        drop(outer);
        assert_eq!(rt.block_on(outer_task).unwrap(), "outer");
    }
}

rt_test! {
    /// `Handle::current()` works inside tasks and blocking closures; a blocking closure may
    /// `block_on` the runtime (it is not a runtime-driving thread), including spawning
    /// from there.
    fn handle_current_inside_runtime(flavor) {
        let rt = flavor.rt();
        let value = rt.block_on(async {
            let from_task = ringtide::spawn(async {
                Handle::current().spawn(async { 10 }).await.unwrap()
            })
            .await
            .unwrap();
            let from_blocking = task::spawn_blocking(|| {
                let handle = Handle::current();
                handle.block_on(async {
                    let inner = ringtide::spawn(async {
                        task::yield_now().await;
                        20
                    });
                    inner.await.unwrap()
                })
            })
            .await
            .unwrap();
            from_task + from_blocking
        });
        assert_eq!(value, 30);
    }
}

rt_test! {
    /// `Handle::block_on` from a plain std thread while no one else drives the runtime.
    fn handle_block_on_from_std_thread(flavor) {
        let rt = flavor.rt();
        let handle = rt.handle().clone();
        let value = std::thread::spawn(move || {
            handle.block_on(async {
                let task = ringtide::spawn(async {
                    task::yield_now().await;
                    7
                });
                task.await.unwrap()
            })
        })
        .join()
        .unwrap();
        assert_eq!(value, 7);
        assert!(format!("{:?}", rt.handle()).contains("Handle"));
    }
}
