//! A small shim that swaps std's synchronisation primitives for loom's under `--cfg loom`.
//!
//! Code whose interleavings we model-check (the parker, the idle protocol, the task
//! header) imports `Arc`, `Mutex`, `Condvar` and atomics from here, never from `std`
//! directly, so the same source runs under loom's scheduler in `loom_*` tests.

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
