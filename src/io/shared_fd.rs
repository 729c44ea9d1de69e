//! [`FdOwner`] and [`FdRef`]: the shared owner of an I/O object's fd, so the fd is
//! closed only after the last op that used it has completed.
//!
//! An io_uring op names its fd by number, and the kernel looks the number up when it
//! issues the SQE: possibly after the call that queued the SQE has returned (it waits
//! in the submission queue until the ring next enters the kernel), and possibly after
//! the op's future was dropped (the cancellation lands asynchronously, and the op may
//! complete anyway). If the I/O object closed its fd meanwhile, the number could
//! already name a new file, socket or pipe, which the stale op would then read from or
//! write to.
//!
//! So the value that closes the fd on drop (an `OwnedFd`, a `std::io::PipeReader`, a
//! user's `T: AsRawFd`) lives in one heap cell, shared by:
//!
//! * the I/O object, through its [`FdOwner`] (one per object, not `Clone`): it alone
//!   reaches the value (`get`, `take`);
//! * every op using the fd, through an [`FdRef`] (a type-erased clone of the `Arc`):
//!   it reaches only the fd number. The op holds it until the op value is freed, which
//!   on io_uring is after its final CQE.
//!
//! The value is dropped, closing the fd, when the owner and every `FdRef` are gone, on
//! whichever thread lets go last (a ring's thread, after the final CQE of the last op).
//!
//! [`FdOwner::take`] hands the value back at once even while ops still hold `FdRef`s
//! (they keep the number but never close it): the caller then owns the fd and decides
//! when to close it. I/O objects document that for their `into_inner`/`into_std`.
//!
//! Sockets (`net::socket`) follow the same rule with their own `Arc<SharedSocket>`;
//! they could hold an `FdOwner<SocketFd>` for the fd part (with `take` replacing the
//! leak in `into_owned_fd`), which is why this type knows nothing about `AsyncFd`.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

/// The cell: the fd number and the value owning it.
struct SharedFd<T> {
    raw: RawFd,
    /// `None` once [`FdOwner::take`] handed the value back.
    value: UnsafeCell<Option<T>>,
}

// SAFETY: `FdRef`s (on any thread) read only `raw`. `value` is read and written only
// through the one `FdOwner` (which needs `T: Sync` to be shared, see its `PhantomData`),
// and dropped with the cell by whoever drops the last `Arc`, after every other handle
// is gone (the `Arc`'s reference count orders those accesses); that drop may happen on
// another thread, hence `T: Send`.
unsafe impl<T: Send> Sync for SharedFd<T> {}

/// The I/O object's handle to its fd: the value and the fd number (see the module
/// docs).
pub(crate) struct FdOwner<T> {
    shared: Arc<SharedFd<T>>,
    /// `get` hands out `&T`: sharing the owner across threads shares `T`.
    _value: PhantomData<T>,
}

impl<T: AsRawFd> FdOwner<T> {
    pub(crate) fn new(value: T) -> FdOwner<T> {
        FdOwner {
            shared: Arc::new(SharedFd {
                raw: value.as_raw_fd(),
                value: UnsafeCell::new(Some(value)),
            }),
            _value: PhantomData,
        }
    }
}

impl<T> FdOwner<T> {
    /// The fd number (valid while the owner holds the value).
    pub(crate) fn raw(&self) -> RawFd {
        self.shared.raw
    }

    /// The value.
    pub(crate) fn get(&self) -> &T {
        // SAFETY: only this owner touches `value` (`FdRef`s never do), and only `take`,
        // which consumes the owner, writes it; so no `&mut` exists while this borrow of
        // `self` lives.
        let value = unsafe { &*self.shared.value.get() };
        value
            .as_ref()
            .expect("the owner holds the value until it takes it")
    }

    /// Whether ops still hold the fd (their `FdRef`s are alive: on io_uring, ops whose
    /// final completion has not arrived yet).
    pub(crate) fn in_use(&self) -> bool {
        Arc::strong_count(&self.shared) > 1
    }

    /// Gives the value back now. Ops still holding an `FdRef` keep the fd number but
    /// never close it: from here the caller does.
    pub(crate) fn take(self) -> T {
        // SAFETY: only this owner touches `value`, and `self` is consumed, so no borrow
        // from `get` is alive; `FdRef`s never touch it, and the cell's own drop happens
        // only after this owner's `Arc` is dropped below.
        let value = unsafe { (*self.shared.value.get()).take() };
        value.expect("the owner holds the value until it takes it")
    }
}

impl<T: Send + 'static> FdOwner<T> {
    /// A handle for an op: keeps the value alive (the fd open) while the op exists.
    pub(crate) fn share(&self) -> FdRef {
        FdRef {
            raw: self.shared.raw,
            _keep: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for FdOwner<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FdOwner")
            .field("fd", &self.shared.raw)
            .finish_non_exhaustive()
    }
}

/// An op's hold on its I/O object's fd: the number, kept open until this is dropped.
#[derive(Clone)]
pub(crate) struct FdRef {
    raw: RawFd,
    _keep: Arc<dyn Send + Sync>,
}

impl FdRef {
    pub(crate) fn raw(&self) -> RawFd {
        self.raw
    }
}

impl fmt::Debug for FdRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FdRef").field("fd", &self.raw).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Records its drop (the "close").
    struct Closing(RawFd, Arc<AtomicBool>);

    impl AsRawFd for Closing {
        fn as_raw_fd(&self) -> RawFd {
            self.0
        }
    }

    impl Drop for Closing {
        fn drop(&mut self) {
            self.1.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_value_outlives_the_owner_while_an_op_holds_the_fd() {
        let closed = Arc::new(AtomicBool::new(false));
        let owner = FdOwner::new(Closing(7, closed.clone()));
        assert!(!owner.in_use());
        let op = owner.share();
        assert!(owner.in_use());
        assert_eq!(op.raw(), 7);
        drop(owner);
        assert!(
            !closed.load(Ordering::SeqCst),
            "closed with an op still using it"
        );
        // The last op goes on another thread (a ring's).
        std::thread::spawn(move || drop(op)).join().unwrap();
        assert!(closed.load(Ordering::SeqCst));
    }

    #[test]
    fn take_hands_the_value_over_and_ops_never_drop_it() {
        let closed = Arc::new(AtomicBool::new(false));
        let owner = FdOwner::new(Closing(9, closed.clone()));
        let op = owner.share();
        let value = owner.take();
        assert_eq!(value.0, 9);
        drop(op);
        assert!(
            !closed.load(Ordering::SeqCst),
            "the op dropped a value it gave up"
        );
        drop(value);
        assert!(closed.load(Ordering::SeqCst));
    }
}
