//! Blocking the current thread on a future, outside the scheduler's cores.
//!
//! Used by `block_on` on the multi-thread runtime (tasks run on the workers, this thread
//! only polls the given future: [`block_on_with_io`], which parks in a driver of the
//! thread's own where the I/O backend offers one, else on the thread's parker) and by
//! `block_on` on a current-thread runtime whose scheduler another thread is already
//! driving (the per-thread parker, [`with_parker`]).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::driver::park::{Park, Parker, Unpark, Unparker};
use crate::driver::{self, CoreDriver, Driver};
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
    // During thread-local teardown the cached parker is gone: use a fresh one.
    let mut parker = PARKER
        .try_with(|cell| cell.borrow_mut().take())
        .ok()
        .flatten()
        .unwrap_or_else(Parker::new);
    let result = f(&mut parker);
    let _ = PARKER.try_with(|cell| *cell.borrow_mut() = Some(parker));
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

/// Polls `future` on this thread until it completes (a multi-thread runtime's
/// `block_on`). On io_uring the thread parks in a ring of its own
/// ([`driver::Handle::driver_for_block_on`]), so the ops the future submits run on this
/// thread's ring instead of being handed to a worker; the ring is detached (its ops
/// cancelled and drained) when `block_on` returns. Otherwise it parks on this thread's
/// parker.
pub(crate) fn block_on_with_io<F: Future>(io: &driver::Handle, future: F) -> F::Output {
    match io.driver_for_block_on() {
        Some(driver) => block_on_driver(driver, future),
        None => block_on(future),
    }
}

/// Polls `future` to completion, parking on `driver` (attached to this thread for the
/// duration, detached also when the future panics).
fn block_on_driver<F: Future>(driver: CoreDriver, future: F) -> F::Output {
    struct Attached(CoreDriver);
    impl Drop for Attached {
        fn drop(&mut self) {
            self.0.detach();
        }
    }

    let mut driver = Attached(driver);
    driver.0.attach();
    let waker = Driver::unpark_handle(&driver.0).into_waker();
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = coop::budget(|| future.as_mut().poll(&mut cx)) {
            return output;
        }
        Driver::park(&mut driver.0, None);
    }
}
