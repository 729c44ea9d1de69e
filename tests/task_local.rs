//! `task_local!` and `task::LocalKey` on every flavour: a value set for the duration of
//! a future's polls follows it across awaits and workers, is restored after each poll
//! (other tasks on the thread never see it), nests, and is not inherited by spawned
//! tasks; tokio's panics and errors outside a scope.

#[macro_use]
mod rt_common;

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ringtide::task::{self, LocalSet, yield_now};

ringtide::task_local! {
    static REQUEST: u64;
    /// A doc comment and a second key in one invocation.
    pub static USER: String;
}

rt_test! {
    /// The value is there at every step of the future, across yields, timers and (on a
    /// multi-thread runtime) moves between workers.
    fn value_follows_the_future_across_awaits(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let task = ringtide::spawn(REQUEST.scope(42, async {
                for round in 0..50u64 {
                    assert_eq!(REQUEST.get(), 42, "round {round}");
                    if round % 10 == 0 {
                        ringtide::time::sleep(Duration::from_millis(1)).await;
                    } else {
                        yield_now().await;
                    }
                }
                REQUEST.with(|value| *value + 1)
            }));
            assert_eq!(task.await.unwrap(), 43);
        });
    }
}

rt_test! {
    /// Tasks with different values (and one with none) interleave on the same threads:
    /// each sees only its own, so the slot is restored after every poll.
    fn each_task_sees_its_own_value(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let mut tasks = Vec::new();
            for value in 0..8u64 {
                tasks.push(ringtide::spawn(REQUEST.scope(value, async move {
                    for _ in 0..100 {
                        assert_eq!(REQUEST.get(), value);
                        yield_now().await;
                    }
                })));
            }
            tasks.push(ringtide::spawn(async {
                for _ in 0..100 {
                    assert!(REQUEST.try_get().is_err(), "a task outside every scope saw a value");
                    yield_now().await;
                }
            }));
            for task in tasks {
                task.await.unwrap();
            }
            // And the thread that polled the scopes (block_on's) holds nothing now.
            assert!(REQUEST.try_get().is_err());
        });
    }
}

rt_test! {
    /// An inner scope of the same key shadows the outer value across its awaits, and the
    /// outer value is back when it completes; other keys are independent.
    fn scopes_nest(flavor) {
        let rt = flavor.rt();
        rt.block_on(REQUEST.scope(1, async {
            assert_eq!(REQUEST.get(), 1);
            let inner = REQUEST
                .scope(2, async {
                    yield_now().await;
                    USER.scope("ada".to_owned(), async {
                        yield_now().await;
                        (REQUEST.get(), USER.get())
                    })
                    .await
                })
                .await;
            assert_eq!(inner, (2, "ada".to_owned()));
            assert_eq!(REQUEST.get(), 1);
            assert!(USER.try_with(|_| ()).is_err());
            REQUEST.sync_scope(3, || assert_eq!(REQUEST.get(), 3));
            assert_eq!(REQUEST.get(), 1);
        }));
    }
}

rt_test! {
    /// A task spawned inside a scope does not inherit the value (as in tokio).
    fn spawned_tasks_do_not_inherit(flavor) {
        let rt = flavor.rt();
        let inherited = rt.block_on(REQUEST.scope(9, async {
            ringtide::spawn(async { REQUEST.try_get().ok() }).await.unwrap()
        }));
        assert_eq!(inherited, None);
    }
}

rt_test! {
    /// `with` outside a scope panics with tokio's message; inside a task the panic comes
    /// back as the task's `JoinError`.
    fn with_outside_a_scope_panics(flavor) {
        let rt = flavor.rt();
        let error = rt
            .block_on(rt.spawn(async { REQUEST.with(|value| *value) }))
            .unwrap_err();
        let message = rt_common::panic_message(&*error.into_panic());
        assert_eq!(message, "cannot access a task-local storage value without setting it first");
        assert_eq!(
            REQUEST.try_get().unwrap_err().to_string(),
            "task-local value not set"
        );
    }
}

/// Records, when dropped, the value it saw for `REQUEST`.
struct ReadsOnDrop(Arc<Mutex<Option<Option<u64>>>>);

impl Drop for ReadsOnDrop {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(REQUEST.try_get().ok());
    }
}

rt_test! {
    /// A scope dropped before completing drops its future with the value set, so the
    /// future's destructors can read it; `take_value` takes it out.
    fn drop_and_take_value(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let seen = Arc::new(Mutex::new(None));
            let guard = ReadsOnDrop(seen.clone());
            let mut scope = Box::pin(REQUEST.scope(5, async move {
                let _guard = guard;
                std::future::pending::<()>().await
            }));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(scope.as_mut().poll(&mut cx).is_pending());
            drop(scope);
            assert_eq!(*seen.lock().unwrap(), Some(Some(5)));

            let mut scope = pin!(REQUEST.scope(6, async { REQUEST.try_get().ok() }));
            assert_eq!(scope.as_mut().take_value(), Some(6));
            assert_eq!(scope.await, None, "polled after take_value: the key is unset");
        });
    }
}

rt_test! {
    /// Local tasks (`!Send` values, a `LocalSet` on any flavour) have their own scopes.
    fn local_tasks_have_their_own_scopes(flavor) {
        let rt = flavor.rt();
        let local = LocalSet::new();
        let sum = local.block_on(&rt, async {
            let handles: Vec<_> = (0..4u64)
                .map(|value| {
                    let not_send = std::rc::Rc::new(value);
                    task::spawn_local(REQUEST.scope(value, async move {
                        yield_now().await;
                        assert_eq!(REQUEST.get(), *not_send);
                        REQUEST.get()
                    }))
                })
                .collect();
            let mut sum = 0;
            for handle in handles {
                sum += handle.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 6);
    }
}

#[test]
fn local_key_debug_and_poll_ready() {
    assert_eq!(format!("{REQUEST:?}"), "LocalKey { .. }");
    let mut cx = Context::from_waker(Waker::noop());
    let mut scope = pin!(REQUEST.scope(1, async { REQUEST.get() }));
    assert_eq!(format!("{scope:?}"), "TaskLocalFuture { value: 1 }");
    assert_eq!(scope.as_mut().poll(&mut cx), Poll::Ready(1));
}
