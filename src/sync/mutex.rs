//! [`Mutex`]: an async mutual-exclusion lock, tokio's with ringtide's cooperative
//! budget applied to `lock`.
//!
//! The guards are tokio's own types. `Mutex<T>` is `repr(transparent)` over
//! `tokio::sync::Mutex<T>`, so the `Arc`-based methods (`lock_owned`, ...) hand tokio
//! the same allocation, cast; an owned guard's `OwnedMutexGuard::mutex` therefore
//! returns the `Arc` as tokio's type.

use std::fmt;
use std::sync::Arc;

use tokio::sync::{MutexGuard, OwnedMutexGuard, TryLockError};

use crate::sync::budget::Budgeted;

/// An async mutex: [`lock`](Self::lock) waits (without blocking the thread) until the
/// lock is free; the guard may be held across an `.await`.
///
/// The same methods as tokio's `sync::Mutex`, fair (first come, first served). A
/// completed `lock` spends one unit of the task's cooperative budget, so a task that
/// locks an uncontended mutex in a loop still yields to others.
///
/// ```
/// use std::sync::Arc;
/// use ringtide::sync::Mutex;
///
/// # ringtide::runtime::Runtime::new().unwrap().block_on(async {
/// let count = Arc::new(Mutex::new(0));
/// let tasks: Vec<_> = (0..10)
///     .map(|_| {
///         let count = count.clone();
///         ringtide::spawn(async move { *count.lock().await += 1 })
///     })
///     .collect();
/// for task in tasks {
///     task.await.unwrap();
/// }
/// assert_eq!(*count.lock().await, 10);
/// # });
/// ```
#[repr(transparent)]
pub struct Mutex<T: ?Sized> {
    inner: tokio::sync::Mutex<T>,
}

impl<T: ?Sized> Mutex<T> {
    /// A new, unlocked mutex holding `value`.
    pub fn new(value: T) -> Mutex<T>
    where
        T: Sized,
    {
        Mutex {
            inner: tokio::sync::Mutex::new(value),
        }
    }

    /// A new, unlocked mutex, in a `const` context (for a `static`).
    pub const fn const_new(value: T) -> Mutex<T>
    where
        T: Sized,
    {
        Mutex {
            inner: tokio::sync::Mutex::const_new(value),
        }
    }

    /// Waits for the lock and returns its guard.
    ///
    /// Cancel-safe: dropping the future gives up its place in the queue (and the lock,
    /// if it had just been handed over).
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        Budgeted::new(self.inner.lock()).await
    }

    /// Blocks the thread until the lock is free, for synchronous code. Not from a task:
    /// it would block the worker thread.
    #[track_caller]
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        self.inner.blocking_lock()
    }

    /// [`blocking_lock`](Self::blocking_lock) with a guard that owns an `Arc` of the
    /// mutex.
    #[track_caller]
    pub fn blocking_lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        self.into_tokio().blocking_lock_owned()
    }

    /// [`lock`](Self::lock) with a guard that owns an `Arc` of the mutex (`'static`,
    /// so it can move into a task).
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        Budgeted::new(self.into_tokio().lock_owned()).await
    }

    /// Takes the lock if it is free, without waiting.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        self.inner.try_lock()
    }

    /// [`try_lock`](Self::try_lock) with a guard that owns an `Arc` of the mutex.
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        self.into_tokio().try_lock_owned()
    }

    /// The value, through an exclusive borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T
    where
        T: Sized,
    {
        self.inner.into_inner()
    }

    /// The same allocation as tokio's mutex.
    fn into_tokio(self: Arc<Self>) -> Arc<tokio::sync::Mutex<T>> {
        let raw = Arc::into_raw(self) as *const tokio::sync::Mutex<T>;
        // SAFETY: `Mutex<T>` is `repr(transparent)` over `tokio::sync::Mutex<T>`: same
        // size, alignment and pointer metadata, so `raw` points at a value of the target
        // type in an `Arc` allocation of the same layout, whose count we own.
        unsafe { Arc::from_raw(raw) }
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
