//! Blocking the current thread on a future, with a per-thread parker.
//!
//! Used by `block_on` on the multi-thread runtime (tasks run on the workers, this thread
//! only polls the given future) and by `block_on` on a current-thread runtime whose
//! scheduler another thread is already driving.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::driver::park::{Park, Parker, Unpark, Unparker};
use crate::task::coop;

thread_local! {
    static PARKER: std::cell::RefCell<Option<Parker>> = const { std::cell::RefCell::new(None) };
}

struct ThreadWaker(Unparker);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `f` with this thread's parker (created on first use).
pub(crate) fn with_parker<R>(f: impl FnOnce(&mut Parker) -> R) -> R {
    // Take the parker out so a nested call (not expected, but possible through user
    // code) gets a fresh one instead of a RefCell panic.
    let mut parker = PARKER
        .with(|cell| cell.borrow_mut().take())
        .unwrap_or_else(Parker::new);
    let result = f(&mut parker);
    PARKER.with(|cell| *cell.borrow_mut() = Some(parker));
    result
}

/// A waker that unparks `parker`'s thread.
pub(crate) fn waker_for(parker: &Parker) -> Waker {
    Waker::from(Arc::new(ThreadWaker(parker.unpark_handle())))
}

/// Polls `future` on this thread until it completes, parking in between.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    with_parker(|parker| {
        let waker = waker_for(parker);
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(output) = coop::budget(|| future.as_mut().poll(&mut cx)) {
                return output;
            }
            parker.park();
        }
    })
}
