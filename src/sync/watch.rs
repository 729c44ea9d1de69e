//! A single-value channel that keeps only the latest value: tokio's `watch`, with a
//! receiver that spends ringtide's cooperative budget.
//!
//! Receivers [`borrow`](Receiver::borrow) the current value and wait for the next
//! change with [`changed`](Receiver::changed) or [`wait_for`](Receiver::wait_for);
//! intermediate values may be skipped. The types are thin wrappers with tokio's
//! methods (the sender has to be one, as [`Sender::subscribe`] makes receivers);
//! [`Ref`] and the errors are tokio's.
//!
//! ```
//! use ringtide::sync::watch;
//!
//! # ringtide::runtime::Runtime::new().unwrap().block_on(async {
//! let (tx, mut rx) = watch::channel("starting");
//! ringtide::spawn(async move { tx.send("running").unwrap() });
//! rx.changed().await.unwrap();
//! assert_eq!(*rx.borrow_and_update(), "running");
//! # });
//! ```

use std::fmt;

use tokio::sync::watch::error::{RecvError, SendError};
pub use tokio::sync::watch::{Ref, error};

use crate::sync::budget::Budgeted;

/// Creates a watch channel holding `init`, with one receiver; [`Sender::subscribe`]
/// makes more.
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let (sender, receiver) = tokio::sync::watch::channel(init);
    (Sender { inner: sender }, Receiver { inner: receiver })
}

/// The sending half of a watch channel; cloneable.
pub struct Sender<T> {
    inner: tokio::sync::watch::Sender<T>,
}

/// The receiving half of a watch channel; cloneable (a clone starts with the same
/// "seen" version).
///
/// The same methods as tokio's `watch::Receiver`; [`changed`](Self::changed) and
/// [`wait_for`](Self::wait_for) spend one unit of the task's cooperative budget when
/// they complete.
pub struct Receiver<T> {
    inner: tokio::sync::watch::Receiver<T>,
}

impl<T> Sender<T> {
    /// A sender of a new channel holding `init`, with no receiver yet.
    pub fn new(init: T) -> Sender<T> {
        Sender {
            inner: tokio::sync::watch::Sender::new(init),
        }
    }

    /// Replaces the value and notifies the receivers; fails (giving the value back)
    /// when there is no receiver.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.inner.send(value)
    }

    /// Modifies the value in place and notifies the receivers, even if there is none.
    pub fn send_modify<F: FnOnce(&mut T)>(&self, modify: F) {
        self.inner.send_modify(modify)
    }

    /// Modifies the value in place; notifies the receivers only if `modify` returns
    /// true (which this returns).
    pub fn send_if_modified<F: FnOnce(&mut T) -> bool>(&self, modify: F) -> bool {
        self.inner.send_if_modified(modify)
    }

    /// Replaces the value, notifies the receivers (even if there is none) and returns
    /// the previous value.
    pub fn send_replace(&self, value: T) -> T {
        self.inner.send_replace(value)
    }

    /// Borrows the current value (holding a read lock: keep it short, never across an
    /// `.await`).
    pub fn borrow(&self) -> Ref<'_, T> {
        self.inner.borrow()
    }

    /// True once every receiver has been dropped.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Waits until every receiver has been dropped.
    pub async fn closed(&self) {
        self.inner.closed().await
    }

    /// A new receiver, which has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver {
            inner: self.inner.subscribe(),
        }
    }

    /// Number of receivers.
    pub fn receiver_count(&self) -> usize {
        self.inner.receiver_count()
    }

    /// Number of senders.
    pub fn sender_count(&self) -> usize {
        self.inner.sender_count()
    }

    /// True when both senders belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        self.inner.same_channel(&other.inner)
    }
}

impl<T> Receiver<T> {
    /// Borrows the current value without marking it seen (holding a read lock: keep it
    /// short, never across an `.await`).
    pub fn borrow(&self) -> Ref<'_, T> {
        self.inner.borrow()
    }

    /// Borrows the current value and marks it seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        self.inner.borrow_and_update()
    }

    /// True when a value this receiver has not seen is there; an error once every
    /// sender is gone.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        self.inner.has_changed()
    }

    /// True once every sender has been dropped.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Marks the current value unseen: the next `changed` completes at once.
    pub fn mark_changed(&mut self) {
        self.inner.mark_changed()
    }

    /// Marks the current value seen.
    pub fn mark_unchanged(&mut self) {
        self.inner.mark_unchanged()
    }

    /// Waits for a value this receiver has not seen, and marks it seen; an error once
    /// every sender is gone.
    ///
    /// Cancel-safe: dropping the future leaves the value unseen, so the next `changed`
    /// returns at once.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        Budgeted::new(self.inner.changed()).await
    }

    /// Waits until the value satisfies `f` (checking the current one first), marks it
    /// seen and borrows it; an error once every sender is gone.
    ///
    /// Cancel-safe: dropping the future loses nothing (the values `f` rejected are
    /// marked seen).
    pub async fn wait_for(&mut self, f: impl FnMut(&T) -> bool) -> Result<Ref<'_, T>, RecvError> {
        Budgeted::new(self.inner.wait_for(f)).await
    }

    /// True when both receivers belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        self.inner.same_channel(&other.inner)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        Sender {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Default> Default for Sender<T> {
    fn default() -> Sender<T> {
        Sender::new(T::default())
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        Receiver {
            inner: self.inner.clone(),
        }
    }
}

impl<T> From<tokio::sync::watch::Receiver<T>> for Receiver<T> {
    fn from(inner: tokio::sync::watch::Receiver<T>) -> Receiver<T> {
        Receiver { inner }
    }
}

impl<T> From<Receiver<T>> for tokio::sync::watch::Receiver<T> {
    fn from(receiver: Receiver<T>) -> tokio::sync::watch::Receiver<T> {
        receiver.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
