//! Thread-local runtime context.
//!
//! Each thread remembers:
//! * the runtime handle it has *entered* (`Handle::enter`, `block_on`, worker threads),
//!   which `Handle::current()` and `ringtide::spawn` use;
//! * whether it is *driving* a runtime (inside `block_on` or a worker loop). Blocking on
//!   a runtime from such a thread would deadlock the tasks it drives, so `block_on`
//!   checks this and panics with an explanation.
//!
//! The id of the task being polled, for `task::id()`, is the task module's
//! (`task::current_id`).
//!
//! The per-worker scheduler state (run queue, LIFO slot) lives in each scheduler's own
//! thread-local, next to the code that uses it.

use std::cell::{Cell, RefCell};

use crate::runtime::scheduler;

thread_local! {
    static CONTEXT: Context = const {
        Context {
            handle: RefCell::new(None),
            driving: Cell::new(Driving::No),
        }
    };
}

struct Context {
    handle: RefCell<Option<scheduler::Handle>>,
    driving: Cell<Driving>,
}

/// Whether this thread drives a runtime, and whether `block_in_place` may leave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Driving {
    No,
    Yes { allow_block_in_place: bool },
}

/// Returns the handle of the runtime this thread has entered, if any.
pub(crate) fn current_handle() -> Option<scheduler::Handle> {
    CONTEXT
        .try_with(|cx| cx.handle.borrow().clone())
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
}

/// Makes `handle` the current handle of this thread until the guard drops.
pub(crate) fn set_current(handle: &scheduler::Handle) -> SetCurrentGuard {
    let previous = CONTEXT.with(|cx| cx.handle.borrow_mut().replace(handle.clone()));
    SetCurrentGuard { previous }
}

impl Drop for SetCurrentGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CONTEXT.try_with(|cx| *cx.handle.borrow_mut() = previous);
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
    allow_block_in_place: bool,
) -> DrivingGuard {
    let previous = CONTEXT.with(|cx| cx.driving.get());
    if previous != Driving::No {
        panic!(
            "Cannot start a runtime from within a runtime. This happens because a function \
             (like `block_on`) attempted to block the current thread while the thread is \
             being used to drive asynchronous tasks. Use `.await` instead, or move the \
             blocking call into `task::spawn_blocking` (or `task::block_in_place` on a \
             multi-thread runtime)."
        );
    }
    CONTEXT.with(|cx| {
        cx.driving.set(Driving::Yes {
            allow_block_in_place,
        })
    });
    DrivingGuard {
        previous,
        _handle: set_current(handle),
    }
}

impl Drop for DrivingGuard {
    fn drop(&mut self) {
        let previous = self.previous;
        let _ = CONTEXT.try_with(|cx| cx.driving.set(previous));
    }
}

/// Whether this thread drives a runtime.
pub(crate) fn driving() -> Driving {
    CONTEXT
        .try_with(|cx| cx.driving.get())
        .unwrap_or(Driving::No)
}

/// Temporarily marks a driving thread as not driving (for `block_in_place`).
#[derive(Debug)]
pub(crate) struct ExitDrivingGuard {
    previous: Driving,
}

pub(crate) fn exit_driving() -> ExitDrivingGuard {
    let previous = CONTEXT.with(|cx| cx.driving.replace(Driving::No));
    ExitDrivingGuard { previous }
}

impl Drop for ExitDrivingGuard {
    fn drop(&mut self) {
        let previous = self.previous;
        let _ = CONTEXT.try_with(|cx| cx.driving.set(previous));
    }
}
