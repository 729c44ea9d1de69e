//! Thread-local runtime context.
//!
//! Each thread remembers:
//! * the runtime handle it has *entered* (`Handle::enter`, `block_on`, worker threads),
//!   which `Handle::current()` and `ringtide::spawn` use, and how many enter guards are
//!   alive (`depth`), so a guard dropped out of order is caught (tokio panics there
//!   too);
//! * whether it is *driving* a runtime (inside `block_on` or a worker loop). Blocking on
//!   a runtime from such a thread would deadlock the tasks it drives, so `block_on`
//!   checks this and panics with an explanation, and dropping a runtime there panics
//!   as in tokio. It also says whether `block_in_place` may leave the thread (not on a
//!   current-thread runtime, not inside a `LocalSet` driven by `block_on`).
//!
//! Every access tolerates a thread whose thread-locals are being destroyed (a runtime
//! or a `LocalSet` kept in a `thread_local!` is dropped then): the context then reads
//! as "no runtime", and guards restore nothing.
//!
//! The id of the task being polled, for `task::id()`, is the task module's
//! (`task::current_id`); the deferred wake-ups of `yield_now` are `runtime::defer`'s.
//!
//! The per-worker scheduler state (run queue, LIFO slot) lives in each scheduler's own
//! thread-local, next to the code that uses it.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;

use crate::runtime::scheduler;

thread_local! {
    static CONTEXT: Context = const {
        Context {
            handle: RefCell::new(None),
            depth: Cell::new(0),
            driving: Cell::new(Driving::No),
        }
    };
}

struct Context {
    handle: RefCell<Option<scheduler::Handle>>,
    /// Number of live [`SetCurrentGuard`]s on this thread.
    depth: Cell<usize>,
    driving: Cell<Driving>,
}

/// Whether this thread drives a runtime, and whether `block_in_place` may leave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Driving {
    No,
    Yes { block_in_place: BlockInPlace },
}

/// Whether `task::block_in_place` may hand this driving thread's work to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockInPlace {
    /// A multi-thread worker, or a multi-thread runtime's `block_on`.
    Allowed,
    /// A current-thread runtime's `block_on`: no other thread could take its tasks.
    CurrentThread,
    /// A `LocalSet` polled inside a multi-thread runtime's `block_on`: its local tasks
    /// cannot move to another thread (tokio refuses this too).
    LocalSet,
}

/// Returns the handle of the runtime this thread has entered, if any.
pub(crate) fn current_handle() -> Option<scheduler::Handle> {
    CONTEXT
        .try_with(|cx| {
            cx.handle
                .try_borrow()
                .ok()
                .and_then(|handle| handle.clone())
        })
        .ok()
        .flatten()
}

/// Runs `f` with the handle of the runtime this thread has entered, without cloning it.
pub(crate) fn with_handle<R>(f: impl FnOnce(Option<&scheduler::Handle>) -> R) -> R {
    let mut f = Some(f);
    let result = CONTEXT.try_with(|cx| match cx.handle.try_borrow() {
        Ok(handle) => (f.take().expect("called once"))(handle.as_ref()),
        Err(_) => (f.take().expect("called once"))(None),
    });
    match result {
        Ok(result) => result,
        Err(_) => (f.take().expect("called once"))(None),
    }
}

/// Runs `f` with the I/O handle of the runtime this thread has entered (`None` outside a
/// runtime), for the layers above the driver that need the runtime's I/O: ops find
/// their backend and a core's ring here, I/O objects a poll to register with.
pub(crate) fn with_io<R>(f: impl FnOnce(Option<&crate::driver::Handle>) -> R) -> R {
    with_handle(|handle| f(handle.map(|handle| handle.driver().io())))
}

/// Restores the previously entered handle on drop.
#[derive(Debug)]
pub(crate) struct SetCurrentGuard {
    previous: Option<scheduler::Handle>,
    /// This guard's place in the thread's stack of guards; `None` when the thread's
    /// context was already destroyed (nothing was set, nothing to restore).
    depth: Option<usize>,
    /// The guard restores *this* thread's context: it must not move to another thread
    /// (as in tokio, it is `!Send`; a `MutexGuard` is `Sync` but not `Send`).
    _not_send: PhantomData<std::sync::MutexGuard<'static, ()>>,
}

/// Makes `handle` the current handle of this thread until the guard drops.
pub(crate) fn set_current(handle: &scheduler::Handle) -> SetCurrentGuard {
    let entered = CONTEXT.try_with(|cx| {
        let previous = cx.handle.borrow_mut().replace(handle.clone());
        let depth = cx.depth.get() + 1;
        cx.depth.set(depth);
        (previous, depth)
    });
    match entered {
        Ok((previous, depth)) => SetCurrentGuard {
            previous,
            depth: Some(depth),
            _not_send: PhantomData,
        },
        Err(_) => SetCurrentGuard {
            previous: None,
            depth: None,
            _not_send: PhantomData,
        },
    }
}

impl Drop for SetCurrentGuard {
    fn drop(&mut self) {
        let Some(depth) = self.depth else {
            return;
        };
        let previous = self.previous.take();
        let replaced = CONTEXT.try_with(|cx| {
            if cx.depth.get() != depth {
                if std::thread::panicking() {
                    // Unwinding through guards in any order: leave the context alone
                    // rather than panic again (which would abort).
                    return Err(previous);
                }
                panic!(
                    "`EnterGuard` values dropped out of order: the guards returned by \
                     `Handle::enter()` and `Runtime::enter()` must be dropped in the reverse \
                     order of their creation (the last one entered is dropped first)"
                );
            }
            cx.depth.set(depth - 1);
            Ok(cx.handle.replace(previous))
        });
        // The handle that was current is dropped outside the `RefCell` borrow.
        drop(replaced);
    }
}

/// Marks this thread as driving a runtime until dropped; restores the previous state.
#[derive(Debug)]
pub(crate) struct DrivingGuard {
    previous: Driving,
    _handle: SetCurrentGuard,
}

/// Enters `handle` as a driving thread.
///
/// # Panics
///
/// Panics when this thread already drives a runtime.
#[track_caller]
pub(crate) fn enter_driving(
    handle: &scheduler::Handle,
    block_in_place: BlockInPlace,
) -> DrivingGuard {
    let previous = driving();
    if previous != Driving::No {
        panic!(
            "Cannot start a runtime from within a runtime. This happens because a function \
             (like `block_on`) attempted to block the current thread while the thread is \
             being used to drive asynchronous tasks. Use `.await` instead, or move the \
             blocking call into `task::spawn_blocking` (or `task::block_in_place` on a \
             multi-thread runtime)."
        );
    }
    set_driving(Driving::Yes { block_in_place });
    DrivingGuard {
        previous,
        _handle: set_current(handle),
    }
}

impl Drop for DrivingGuard {
    fn drop(&mut self) {
        set_driving(self.previous);
    }
}

/// Whether this thread drives a runtime.
pub(crate) fn driving() -> Driving {
    CONTEXT
        .try_with(|cx| cx.driving.get())
        .unwrap_or(Driving::No)
}

fn set_driving(driving: Driving) {
    let _ = CONTEXT.try_with(|cx| cx.driving.set(driving));
}

/// Restores the previous driving state on drop.
#[derive(Debug)]
pub(crate) struct DrivingStateGuard {
    previous: Driving,
}

impl Drop for DrivingStateGuard {
    fn drop(&mut self) {
        set_driving(self.previous);
    }
}

/// Temporarily marks a driving thread as not driving (for `block_in_place`).
pub(crate) fn exit_driving() -> DrivingStateGuard {
    let previous = driving();
    set_driving(Driving::No);
    DrivingStateGuard { previous }
}

/// Forbids `block_in_place` on this thread while a `LocalSet` runs its tasks here, if
/// it was allowed (a multi-thread runtime's `block_on`; a worker keeps allowing it, as
/// its core can move).
pub(crate) fn disallow_block_in_place() -> DrivingStateGuard {
    let previous = driving();
    if previous
        == (Driving::Yes {
            block_in_place: BlockInPlace::Allowed,
        })
    {
        set_driving(Driving::Yes {
            block_in_place: BlockInPlace::LocalSet,
        });
    }
    DrivingStateGuard { previous }
}
