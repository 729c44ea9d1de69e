//! [`RwLock`]: an async reader-writer lock, tokio's with ringtide's cooperative budget
//! applied to `read` and `write`.
//!
//! The guards are tokio's own types. `RwLock<T>` is `repr(transparent)` over
//! `tokio::sync::RwLock<T>`, so the `Arc`-based methods (`read_owned`, ...) hand tokio
//! the same allocation, cast.

use std::fmt;
use std::sync::Arc;

use tokio::sync::{
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLockReadGuard, RwLockWriteGuard, TryLockError,
};

use crate::sync::budget::Budgeted;

/// An async reader-writer lock: any number of readers or one writer.
///
/// The same methods as tokio's `sync::RwLock`, fair (a waiting writer stops new readers
/// from overtaking it). A completed `read` or `write` spends one unit of the task's
/// cooperative budget.
///
/// ```
/// use ringtide::sync::RwLock;
///
/// # ringtide::runtime::Runtime::new().unwrap().block_on(async {
/// let lock = RwLock::new(5);
/// {
///     let (a, b) = (lock.read().await, lock.read().await);
///     assert_eq!(*a + *b, 10);
/// }
/// *lock.write().await += 1;
/// assert_eq!(*lock.read().await, 6);
/// # });
/// ```
#[repr(transparent)]
pub struct RwLock<T: ?Sized> {
    inner: tokio::sync::RwLock<T>,
}

impl<T: ?Sized> RwLock<T> {
    /// A new, unlocked lock holding `value`.
    pub fn new(value: T) -> RwLock<T>
    where
        T: Sized,
    {
        RwLock {
            inner: tokio::sync::RwLock::new(value),
        }
    }

    /// A new lock that admits at most `max_reads` readers at once.
    ///
    /// # Panics
    ///
    /// Panics if `max_reads` is more than `u32::MAX >> 3`.
    #[track_caller]
    pub fn with_max_readers(value: T, max_reads: u32) -> RwLock<T>
    where
        T: Sized,
    {
        RwLock {
            inner: tokio::sync::RwLock::with_max_readers(value, max_reads),
        }
    }

    /// A new, unlocked lock, in a `const` context (for a `static`).
    pub const fn const_new(value: T) -> RwLock<T>
    where
        T: Sized,
    {
        RwLock {
            inner: tokio::sync::RwLock::const_new(value),
        }
    }

    /// [`with_max_readers`](Self::with_max_readers) in a `const` context.
    pub const fn const_with_max_readers(value: T, max_reads: u32) -> RwLock<T>
    where
        T: Sized,
    {
        RwLock {
            inner: tokio::sync::RwLock::const_with_max_readers(value, max_reads),
        }
    }

    /// Waits for shared read access.
    ///
    /// Cancel-safe: dropping the future gives up its place in the queue.
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        Budgeted::new(self.inner.read()).await
    }

    /// Blocks the thread until read access is granted, for synchronous code. Not from a
    /// task: it would block the worker thread.
    #[track_caller]
    pub fn blocking_read(&self) -> RwLockReadGuard<'_, T> {
        self.inner.blocking_read()
    }

    /// [`read`](Self::read) with a guard that owns an `Arc` of the lock.
    pub async fn read_owned(self: Arc<Self>) -> OwnedRwLockReadGuard<T> {
        Budgeted::new(self.into_tokio().read_owned()).await
    }

    /// Takes read access if it is free, without waiting.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        self.inner.try_read()
    }

    /// [`try_read`](Self::try_read) with a guard that owns an `Arc` of the lock.
    pub fn try_read_owned(self: Arc<Self>) -> Result<OwnedRwLockReadGuard<T>, TryLockError> {
        self.into_tokio().try_read_owned()
    }

    /// Waits for exclusive write access.
    ///
    /// Cancel-safe: dropping the future gives up its place in the queue.
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        Budgeted::new(self.inner.write()).await
    }

    /// Blocks the thread until write access is granted, for synchronous code. Not from a
    /// task: it would block the worker thread.
    #[track_caller]
    pub fn blocking_write(&self) -> RwLockWriteGuard<'_, T> {
        self.inner.blocking_write()
    }

    /// [`write`](Self::write) with a guard that owns an `Arc` of the lock.
    pub async fn write_owned(self: Arc<Self>) -> OwnedRwLockWriteGuard<T> {
        Budgeted::new(self.into_tokio().write_owned()).await
    }

    /// Takes write access if it is free, without waiting.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        self.inner.try_write()
    }

    /// [`try_write`](Self::try_write) with a guard that owns an `Arc` of the lock.
    pub fn try_write_owned(self: Arc<Self>) -> Result<OwnedRwLockWriteGuard<T>, TryLockError> {
        self.into_tokio().try_write_owned()
    }

    /// The value, through an exclusive borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T
    where
        T: Sized,
    {
        self.inner.into_inner()
    }

    /// The same allocation as tokio's lock.
    fn into_tokio(self: Arc<Self>) -> Arc<tokio::sync::RwLock<T>> {
        let raw = Arc::into_raw(self) as *const tokio::sync::RwLock<T>;
        // SAFETY: `RwLock<T>` is `repr(transparent)` over `tokio::sync::RwLock<T>`: same
        // size, alignment and pointer metadata, so `raw` points at a value of the target
        // type in an `Arc` allocation of the same layout, whose count we own.
        unsafe { Arc::from_raw(raw) }
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> RwLock<T> {
        RwLock::new(value)
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
