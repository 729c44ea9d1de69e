//! `task::Builder` (tokio's unstable API) on every flavour: each `spawn*` method runs its
//! task and records the name, which `task::try_name` reads back inside the task (and
//! only there).

#[macro_use]
mod rt_common;

use std::sync::Arc;

use ringtide::task::{self, Builder, JoinSet, LocalSet, yield_now};

/// The current task's name, as an owned string.
fn name() -> Option<String> {
    task::try_name().map(|name| name.to_string())
}

rt_test! {
    /// `spawn` and `spawn_on`: the name is there at every poll, across awaits and
    /// workers; an unnamed builder spawns an unnamed task.
    fn spawn_and_spawn_on_record_the_name(flavor) {
        let rt = flavor.rt();
        let handle = rt.handle().clone();
        rt.block_on(async move {
            let named = Builder::new()
                .name("fetcher")
                .spawn(async {
                    let mut seen = Vec::new();
                    for _ in 0..20 {
                        seen.push(name());
                        yield_now().await;
                    }
                    seen
                })
                .unwrap();
            let on = Builder::new().name("on-handle").spawn_on(async { name() }, &handle).unwrap();
            let unnamed = Builder::new().spawn(async { name() }).unwrap();
            let seen = named.await.unwrap();
            assert!(seen.iter().all(|seen| seen.as_deref() == Some("fetcher")), "{seen:?}");
            assert_eq!(on.await.unwrap().as_deref(), Some("on-handle"));
            assert_eq!(unnamed.await.unwrap(), None);
            // Outside any task (block_on's future is not a task).
            assert_eq!(name(), None);
        });
    }
}

rt_test! {
    /// `spawn_blocking` and `spawn_blocking_on`: the closure sees the name; the handle
    /// yields its output.
    fn spawn_blocking_records_the_name(flavor) {
        let rt = flavor.rt();
        let handle = rt.handle().clone();
        rt.block_on(async move {
            let blocking = Builder::new().name("compress").spawn_blocking(name).unwrap();
            let on = Builder::new()
                .name("hash")
                .spawn_blocking_on(|| (name(), 6 * 7), &handle)
                .unwrap();
            let unnamed = Builder::new().spawn_blocking(name).unwrap();
            assert_eq!(blocking.await.unwrap().as_deref(), Some("compress"));
            assert_eq!(on.await.unwrap(), (Some("hash".to_owned()), 42));
            assert_eq!(unnamed.await.unwrap(), None);
        });
    }
}

rt_test! {
    /// `spawn_local` and `spawn_local_on` on a `LocalSet`; an unnamed local task that a
    /// named task drives (through `run_until`) does not take the driver's name.
    fn spawn_local_records_the_name(flavor) {
        let rt = flavor.rt();
        let local = LocalSet::new();
        let on = Builder::new()
            .name("local-on")
            .spawn_local_on(async { (name(), std::rc::Rc::new(1)) }, &local)
            .unwrap();
        let (inner, driver) = local.block_on(&rt, async {
            let inner = Builder::new()
                .name("local")
                .spawn_local(async { name() })
                .unwrap();
            (inner.await.unwrap(), name())
        });
        assert_eq!(inner.as_deref(), Some("local"));
        assert_eq!(driver, None);
        let (seen, _) = local.block_on(&rt, on).unwrap();
        assert_eq!(seen.as_deref(), Some("local-on"));

        // A named local task that drives a `LocalSet` of its own: the nested set's
        // (unnamed) task is polled inside the named task's poll.
        let driving = Builder::new()
            .name("driver")
            .spawn_local_on(
                async {
                    let nested = LocalSet::new();
                    let unnamed = nested
                        .run_until(async { task::spawn_local(async { name() }).await.unwrap() })
                        .await;
                    (unnamed, name())
                },
                &local,
            )
            .unwrap();
        let (unnamed, driver) = local.block_on(&rt, driving).unwrap();
        assert_eq!(unnamed, None, "a local task took the name of the task driving it");
        assert_eq!(driver.as_deref(), Some("driver"));
    }
}

rt_test! {
    /// Named tasks in a `JoinSet` via `spawn_on`, many at once across workers: each
    /// sees its own name.
    fn many_named_tasks_see_their_own_names(flavor) {
        let rt = flavor.rt();
        let handle = rt.handle().clone();
        rt.block_on(async move {
            let names: Vec<Arc<str>> = (0..32).map(|i| Arc::from(format!("task-{i}"))).collect();
            let mut set = JoinSet::new();
            for expected in &names {
                let expected = expected.clone();
                let handle = Builder::new()
                    .name(&expected.clone())
                    .spawn_on(
                        async move {
                            for _ in 0..10 {
                                assert_eq!(task::try_name().as_deref(), Some(&*expected));
                                yield_now().await;
                            }
                        },
                        &handle,
                    )
                    .unwrap();
                set.spawn(async move { handle.await.unwrap() });
            }
            while let Some(result) = set.join_next().await {
                result.unwrap();
            }
        });
    }
}

#[test]
fn spawn_outside_a_runtime_panics() {
    let message = rt_common::expect_panic(|| Builder::new().name("x").spawn(async {}));
    assert!(message.contains("outside a runtime"), "{message}");
}
