//! [`Semaphore`]: an async counting semaphore, tokio's with ringtide's cooperative
//! budget applied to the `acquire` methods.
//!
//! The permits and errors are tokio's own types. `Semaphore` is `repr(transparent)`
//! over `tokio::sync::Semaphore`, so the `Arc`-based methods (`acquire_owned`, ...) hand
//! tokio the same allocation, cast; an owned permit's `OwnedSemaphorePermit::semaphore`
//! therefore returns the `Arc` as tokio's type.

use std::fmt;
use std::sync::Arc;

use tokio::sync::{AcquireError, OwnedSemaphorePermit, SemaphorePermit, TryAcquireError};

use crate::sync::budget::Budgeted;

/// An async counting semaphore: a set of permits that tasks acquire (waiting while
/// none is free) and give back by dropping them.
///
/// The same methods as tokio's `sync::Semaphore`, fair (first come, first served). A
/// completed `acquire*` spends one unit of the task's cooperative budget.
///
/// ```
/// use std::sync::Arc;
/// use ringtide::sync::Semaphore;
///
/// # ringtide::runtime::Runtime::new().unwrap().block_on(async {
/// // At most two of the ten tasks run their critical section at once.
/// let semaphore = Arc::new(Semaphore::new(2));
/// let tasks: Vec<_> = (0..10)
///     .map(|_| {
///         let semaphore = semaphore.clone();
///         ringtide::spawn(async move {
///             let _permit = semaphore.acquire_owned().await.unwrap();
///             ringtide::task::yield_now().await;
///         })
///     })
///     .collect();
/// for task in tasks {
///     task.await.unwrap();
/// }
/// assert_eq!(semaphore.available_permits(), 2);
/// # });
/// ```
#[repr(transparent)]
pub struct Semaphore {
    inner: tokio::sync::Semaphore,
}

impl Semaphore {
    /// The largest number of permits a semaphore can hold.
    pub const MAX_PERMITS: usize = tokio::sync::Semaphore::MAX_PERMITS;

    /// A new semaphore with `permits` permits.
    ///
    /// # Panics
    ///
    /// Panics if `permits` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[track_caller]
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            inner: tokio::sync::Semaphore::new(permits),
        }
    }

    /// A new semaphore in a `const` context (for a `static`).
    pub const fn const_new(permits: usize) -> Semaphore {
        Semaphore {
            inner: tokio::sync::Semaphore::const_new(permits),
        }
    }

    /// Number of free permits.
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// Adds `n` permits (waking waiters they satisfy).
    ///
    /// # Panics
    ///
    /// Panics if the total would exceed [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        self.inner.add_permits(n)
    }

    /// Removes up to `n` free permits; returns how many were removed.
    pub fn forget_permits(&self, n: usize) -> usize {
        self.inner.forget_permits(n)
    }

    /// Waits for one permit; fails once the semaphore is closed.
    ///
    /// Cancel-safe: dropping the future gives up its place in the queue (and permits
    /// already assigned to it go back).
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        Budgeted::new(self.inner.acquire()).await
    }

    /// Waits for `n` permits at once; fails once the semaphore is closed. Cancel-safe,
    /// as [`acquire`](Self::acquire).
    pub async fn acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        Budgeted::new(self.inner.acquire_many(n)).await
    }

    /// Takes one permit if one is free, without waiting.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.inner.try_acquire()
    }

    /// Takes `n` permits if they are free, without waiting.
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.inner.try_acquire_many(n)
    }

    /// Blocks the thread until a permit is free, for synchronous code. Not from a task:
    /// it would block the worker thread.
    #[track_caller]
    pub fn blocking_acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.inner.blocking_acquire()
    }

    /// Blocks the thread until `n` permits are free, for synchronous code.
    #[track_caller]
    pub fn blocking_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.inner.blocking_acquire_many(n)
    }

    /// [`acquire`](Self::acquire) with a permit that owns an `Arc` of the semaphore
    /// (`'static`, so it can move into a task).
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        Budgeted::new(self.into_tokio().acquire_owned()).await
    }

    /// [`acquire_many`](Self::acquire_many) with an owned permit.
    pub async fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        Budgeted::new(self.into_tokio().acquire_many_owned(n)).await
    }

    /// [`try_acquire`](Self::try_acquire) with an owned permit.
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.into_tokio().try_acquire_owned()
    }

    /// [`try_acquire_many`](Self::try_acquire_many) with an owned permit.
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.into_tokio().try_acquire_many_owned(n)
    }

    /// [`blocking_acquire`](Self::blocking_acquire) with an owned permit.
    #[track_caller]
    pub fn blocking_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.into_tokio().blocking_acquire_owned()
    }

    /// [`blocking_acquire_many`](Self::blocking_acquire_many) with an owned permit.
    #[track_caller]
    pub fn blocking_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.into_tokio().blocking_acquire_many_owned(n)
    }

    /// Closes the semaphore: waiting and later acquires fail; permits already held
    /// stay valid.
    pub fn close(&self) {
        self.inner.close()
    }

    /// True once [`close`](Self::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The same allocation as tokio's semaphore.
    fn into_tokio(self: Arc<Self>) -> Arc<tokio::sync::Semaphore> {
        let raw = Arc::into_raw(self) as *const tokio::sync::Semaphore;
        // SAFETY: `Semaphore` is `repr(transparent)` over `tokio::sync::Semaphore`: same
        // size and alignment, so `raw` points at a value of the target type in an `Arc`
        // allocation of the same layout, whose count we own.
        unsafe { Arc::from_raw(raw) }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
