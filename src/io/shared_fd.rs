//! [`FdOwner`] and [`FdRef`]: the shared owner of an I/O object's fd, so the fd is
//! closed only after the last op that used it has completed, and the state the object
//! shares with its ops.
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
//! user's `T: AsRawFd`, a socket's fd with its close policy) lives in one heap cell,
//! next to the fd number and a state `S` that the object shares with its ops (`()` for
//! none; a socket keeps its backend registration and the results of cancelled ops
//! there). The cell is shared by:
//!
//! * the I/O object, through its [`FdOwner`] (one per object, not `Clone`): it alone
//!   reaches the value (`get`, `take`);
//! * every op using the fd, through an [`FdRef`] (a clone of the `Arc`, with the
//!   value's type erased): it reaches the fd number and the state, never the value.
//!   The op holds it until the op value is freed, which on io_uring is after its final
//!   CQE.
//!
//! One `Arc` clone per op, and no virtual call to reach the number or the state: the
//! erased value is the cell's last field, so `raw` and `state` sit at offsets known
//! without it.
//!
//! The number is the platform's (`sys::AsRawIo`): a file descriptor on Unix; on
//! Windows a `RawSocket` for sockets (`FdRef`'s default) or a `sys::RawFile` handle for
//! files. The names say "fd" after the Unix case.
//!
//! The cell (the state, then the value, closing the fd) is dropped when the owner and
//! every `FdRef` are gone, on whichever thread lets go last (a ring's thread, after the
//! final CQE of the last op).
//!
//! [`FdOwner::take`] hands the value back at once even while ops still hold `FdRef`s
//! (they keep the number and the state but never close the fd): the caller then owns
//! the fd and decides when to close it, and the state is dropped when the last of those
//! ops ends. I/O objects document that for their `into_inner`/`into_std`.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::sys::{AsRawIo, RawFile, RawSocket};

/// The cell: the fd number, the state shared with the ops, and the value owning the fd
/// (`Value<T>` in the owner's view, erased to `dyn Send + Sync` in an op's). The
/// value must stay the last field: only the last field of a struct can be unsized.
struct SharedFd<R, S, V: ?Sized> {
    raw: R,
    state: S,
    value: V,
}

/// The value owning the fd; `None` once [`FdOwner::take`] handed it back.
struct Value<T>(UnsafeCell<Option<T>>);

// SAFETY: `FdRef`s (on any thread) never touch the value: they erase its type and read
// only `raw` and `state`. The value is read and written only through the one `FdOwner`
// (which needs `T: Sync` to be shared, see its `PhantomData`), and dropped with the
// cell by whoever drops the last `Arc`, after every other handle is gone (the `Arc`'s
// reference count orders those accesses); that drop may happen on another thread,
// hence `T: Send`.
unsafe impl<T: Send> Sync for Value<T> {}

/// The I/O object's handle to its fd: the value, the fd number and the state shared
/// with the ops (see the module docs).
pub(crate) struct FdOwner<T: AsRawIo, S = ()> {
    shared: Arc<SharedFd<T::Raw, S, Value<T>>>,
    /// `get` hands out `&T`: sharing the owner across threads shares `T`.
    _value: PhantomData<T>,
}

impl<T: AsRawIo> FdOwner<T> {
    /// An owner of `value` with no state shared with the ops.
    pub(crate) fn new(value: T) -> FdOwner<T> {
        FdOwner::with_state(value, ())
    }
}

impl<T: AsRawIo, S> FdOwner<T, S> {
    /// An owner of `value`, sharing `state` with every op that holds the fd.
    pub(crate) fn with_state(value: T, state: S) -> FdOwner<T, S> {
        FdOwner {
            shared: Arc::new(SharedFd {
                raw: value.as_raw_io(),
                state,
                value: Value(UnsafeCell::new(Some(value))),
            }),
            _value: PhantomData,
        }
    }

    /// The fd number (valid while the owner holds the value).
    pub(crate) fn raw(&self) -> T::Raw {
        self.shared.raw
    }

    /// The state shared with the ops.
    pub(crate) fn state(&self) -> &S {
        &self.shared.state
    }

    /// The value.
    pub(crate) fn get(&self) -> &T {
        // SAFETY: only this owner touches `value` (`FdRef`s never do), and only `take`,
        // which consumes the owner, writes it; so no `&mut` exists while this borrow of
        // `self` lives.
        let value = unsafe { &*self.shared.value.0.get() };
        value
            .as_ref()
            .expect("the owner holds the value until it takes it")
    }

    /// The value, mutably (for `AsyncFd::get_mut`, which is Unix-only).
    #[cfg(unix)]
    pub(crate) fn get_mut(&mut self) -> &mut T {
        // SAFETY: only this owner touches `value` (`FdRef`s never do), and `&mut self`
        // rules out any other borrow from `get` or `get_mut` while this one lives.
        let value = unsafe { &mut *self.shared.value.0.get() };
        value
            .as_mut()
            .expect("the owner holds the value until it takes it")
    }

    /// Whether ops still hold the fd (their `FdRef`s are alive: on io_uring, ops whose
    /// final completion has not arrived yet).
    pub(crate) fn in_use(&self) -> bool {
        Arc::strong_count(&self.shared) > 1
    }

    /// Gives the value back now. Ops still holding an `FdRef` keep the fd number and
    /// the state but never close the fd: from here the caller does. The state is
    /// dropped with the last of them (or here, when there is none).
    pub(crate) fn take(self) -> T {
        // SAFETY: only this owner touches `value`, and `self` is consumed, so no borrow
        // from `get` is alive; `FdRef`s never touch it, and the cell's own drop happens
        // only after this owner's `Arc` is dropped below.
        let value = unsafe { (*self.shared.value.0.get()).take() };
        value.expect("the owner holds the value until it takes it")
    }
}

impl<T: AsRawIo + Send + 'static, S: Send + Sync + 'static> FdOwner<T, S> {
    /// A handle for an op: keeps the value alive (the fd open) while the op exists, and
    /// gives it the state.
    pub(crate) fn share(&self) -> FdRef<S, T::Raw> {
        FdRef {
            shared: self.shared.clone(),
        }
    }
}

impl<T: AsRawIo, S: fmt::Debug> fmt::Debug for FdOwner<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FdOwner")
            .field("fd", &self.shared.raw)
            .field("state", &self.shared.state)
            .finish_non_exhaustive()
    }
}

/// An op's hold on its I/O object's fd: the number (of type `R`: a socket's by
/// default, see the module docs), kept open until this is dropped, and the object's
/// state.
pub(crate) struct FdRef<S = (), R = RawSocket> {
    shared: Arc<SharedFd<R, S, dyn Send + Sync>>,
}

/// A file op's hold on its file (no state; the number is a file's, a handle on
/// Windows).
pub(crate) type FileRef = FdRef<(), RawFile>;

impl<S, R: Copy> FdRef<S, R> {
    pub(crate) fn raw(&self) -> R {
        self.shared.raw
    }

    /// The state the I/O object shares with its ops.
    #[cfg_attr(
        not(ringtide_uring),
        allow(
            dead_code,
            reason = "ops reach the state for results that arrive after their future is \
                      gone, which only io_uring has"
        )
    )]
    pub(crate) fn state(&self) -> &S {
        &self.shared.state
    }
}

impl<S, R> Clone for FdRef<S, R> {
    fn clone(&self) -> FdRef<S, R> {
        FdRef {
            shared: self.shared.clone(),
        }
    }
}

impl<S, R: fmt::Debug> fmt::Debug for FdRef<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FdRef")
            .field("fd", &self.shared.raw)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    /// Records its drop (the "close").
    struct Closing(RawSocket, Arc<AtomicBool>);

    // The platform's "has a socket number" trait, which gives `sys::AsRawIo`.
    #[cfg(unix)]
    impl std::os::fd::AsRawFd for Closing {
        fn as_raw_fd(&self) -> RawSocket {
            self.0
        }
    }

    #[cfg(windows)]
    impl std::os::windows::io::AsRawSocket for Closing {
        fn as_raw_socket(&self) -> RawSocket {
            self.0
        }
    }

    impl Drop for Closing {
        fn drop(&mut self) {
            self.1.store(true, Ordering::SeqCst);
        }
    }

    /// A state the ops update; records its drop.
    struct State(AtomicUsize, Arc<AtomicBool>);

    impl Drop for State {
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

    #[test]
    fn ops_share_the_state_and_the_last_one_frees_it_after_take() {
        let closed = Arc::new(AtomicBool::new(false));
        let freed = Arc::new(AtomicBool::new(false));
        let owner = FdOwner::with_state(
            Closing(11, closed.clone()),
            State(AtomicUsize::new(0), freed.clone()),
        );
        let op = owner.share();
        op.state().0.fetch_add(1, Ordering::SeqCst);
        assert_eq!(owner.state().0.load(Ordering::SeqCst), 1);
        let value = owner.take();
        assert!(!freed.load(Ordering::SeqCst), "freed with an op holding it");
        assert_eq!(op.raw(), 11);
        std::thread::spawn(move || drop(op)).join().unwrap();
        assert!(freed.load(Ordering::SeqCst), "the last op leaked the state");
        assert!(!closed.load(Ordering::SeqCst), "an op closed a taken fd");
        drop(value);
        assert!(closed.load(Ordering::SeqCst));
    }
}
