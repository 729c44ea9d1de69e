//! A small shim that swaps std's synchronisation primitives for loom's under `--cfg loom`.
//!
//! Code whose interleavings we model-check (the parker, the idle protocol, the task
//! header, the io_uring op cell) imports `Arc`, `Mutex`, `Condvar`, atomics and
//! [`UnsafeCell`] from here, never from `std` directly, so the same source runs under
//! loom's scheduler in `loom_*` tests.

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard, atomic};

#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard, atomic};

/// Locks a mutex, ignoring poisoning: the runtime's own critical sections never panic
/// while holding a lock, and user panics are caught before they reach one.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// `std::cell::UnsafeCell` with loom's closure API: every access is bracketed by
/// [`with`](UnsafeCell::with) (shared) or [`with_mut`](UnsafeCell::with_mut)
/// (exclusive), so under `--cfg loom` (where this is loom's checked cell) a model
/// fails when two threads' accesses overlap without a happens-before edge between them.
/// Outside loom both are a plain pointer to the contents. (Only the io_uring op cell
/// uses it, so builds without io_uring leave it unused.)
#[cfg(not(loom))]
#[cfg_attr(not(ringtide_uring), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
#[cfg_attr(not(ringtide_uring), allow(dead_code))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer for reading the contents.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a pointer for writing the contents.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
