//! [`Notify`]: wakes one task or all waiting tasks, tokio's with ringtide's cooperative
//! budget applied to the [`Notified`] futures.
//!
//! `Notify` is `repr(transparent)` over `tokio::sync::Notify`, so
//! [`notified_owned`](Notify::notified_owned) hands tokio the same allocation, cast.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::sync::budget::poll_budgeted;

/// Notifies tasks without passing data: [`notify_one`](Self::notify_one) wakes one
/// waiter (or stores one permit for the next [`notified`](Self::notified)),
/// [`notify_waiters`](Self::notify_waiters) wakes every task waiting now.
///
/// The same methods as tokio's `sync::Notify`. A completed [`Notified`] spends one unit
/// of the task's cooperative budget.
///
/// ```
/// use std::sync::Arc;
/// use ringtide::sync::Notify;
///
/// # ringtide::runtime::Runtime::new().unwrap().block_on(async {
/// let notify = Arc::new(Notify::new());
/// let waiter = {
///     let notify = notify.clone();
///     ringtide::spawn(async move { notify.notified().await })
/// };
/// notify.notify_one();
/// waiter.await.unwrap();
/// # });
/// ```
#[repr(transparent)]
pub struct Notify {
    inner: tokio::sync::Notify,
}

pin_project_lite::pin_project! {
    /// The future of [`Notify::notified`]: completes when notified. Fused: after
    /// completing, it stays ready.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Notified<'a> {
        #[pin]
        inner: tokio::sync::futures::Notified<'a>,
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Notify::notified_owned`]: a [`Notified`] that owns an `Arc` of
    /// the `Notify` (`'static`, so it can move into a task).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct OwnedNotified {
        #[pin]
        inner: tokio::sync::futures::OwnedNotified,
    }
}

impl Notify {
    /// A new `Notify` with no stored permit.
    pub fn new() -> Notify {
        Notify {
            inner: tokio::sync::Notify::new(),
        }
    }

    /// A new `Notify` in a `const` context (for a `static`).
    pub const fn const_new() -> Notify {
        Notify {
            inner: tokio::sync::Notify::const_new(),
        }
    }

    /// A future that completes at the next notification: a stored permit (from an
    /// earlier `notify_one`), a `notify_one` or `notify_last` that picks it, or a
    /// `notify_waiters` after the future was created (or [enabled](Notified::enable)).
    ///
    /// Cancel-safe in the sense that dropping it loses no permit: a `notify_one` that
    /// picked a dropped future passes on to the next waiter (or is stored).
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            inner: self.inner.notified(),
        }
    }

    /// [`notified`](Self::notified) with a future that owns an `Arc` of the `Notify`.
    pub fn notified_owned(self: Arc<Self>) -> OwnedNotified {
        let raw = Arc::into_raw(self) as *const tokio::sync::Notify;
        // SAFETY: `Notify` is `repr(transparent)` over `tokio::sync::Notify`: same size
        // and alignment, so `raw` points at a value of the target type in an `Arc`
        // allocation of the same layout, whose count we own.
        let inner = unsafe { Arc::from_raw(raw) };
        OwnedNotified {
            inner: inner.notified_owned(),
        }
    }

    /// Wakes the oldest waiter, or stores one permit (at most one) for the next
    /// `notified` when nobody waits.
    pub fn notify_one(&self) {
        self.inner.notify_one()
    }

    /// Like [`notify_one`](Self::notify_one), but wakes the newest waiter.
    pub fn notify_last(&self) {
        self.inner.notify_last()
    }

    /// Wakes every task waiting now (and every `Notified` created before this call);
    /// stores no permit.
    pub fn notify_waiters(&self) {
        self.inner.notify_waiters()
    }
}

impl Default for Notify {
    fn default() -> Notify {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl Notified<'_> {
    /// Registers this future as a waiter without polling it (so a later
    /// `notify_waiters` reaches it); returns true if it was already notified.
    pub fn enable(self: Pin<&mut Self>) -> bool {
        self.project().inner.enable()
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = self.project().inner;
        poll_budgeted(cx, |cx| inner.poll(cx))
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl OwnedNotified {
    /// As [`Notified::enable`].
    pub fn enable(self: Pin<&mut Self>) -> bool {
        self.project().inner.enable()
    }
}

impl Future for OwnedNotified {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = self.project().inner;
        poll_budgeted(cx, |cx| inner.poll(cx))
    }
}

impl fmt::Debug for OwnedNotified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
