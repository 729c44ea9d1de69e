//! A multi-producer, multi-consumer broadcast queue: tokio's `broadcast`, with a
//! receiver that spends ringtide's cooperative budget.
//!
//! Every [`Receiver`] sees every value sent after it subscribed (values are cloned per
//! receiver). The buffer holds `capacity` values: a receiver that falls further behind
//! gets `Err(RecvError::Lagged(n))` once and then continues with the oldest value still
//! held.
//!
//! The types are thin wrappers with tokio's methods (the sender has to be one, as
//! [`Sender::subscribe`] makes receivers); the errors are tokio's.
//!
//! ```
//! use ringtide::sync::broadcast;
//!
//! # ringtide::runtime::Runtime::new().unwrap().block_on(async {
//! let (tx, mut rx1) = broadcast::channel(16);
//! let mut rx2 = tx.subscribe();
//! tx.send("hello").unwrap();
//! assert_eq!(rx1.recv().await.unwrap(), "hello");
//! assert_eq!(rx2.recv().await.unwrap(), "hello");
//! # });
//! ```

use std::fmt;

pub use tokio::sync::broadcast::error;
use tokio::sync::broadcast::error::{RecvError, SendError, TryRecvError};

use crate::sync::budget::Budgeted;

/// Creates a broadcast channel holding `capacity` values (rounded up to a power of
/// two), with one receiver; [`Sender::subscribe`] makes more.
///
/// # Panics
///
/// Panics if `capacity` is 0 or larger than `usize::MAX / 2`.
#[track_caller]
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let (sender, receiver) = tokio::sync::broadcast::channel(capacity);
    (Sender { inner: sender }, Receiver { inner: receiver })
}

/// The sending half of a broadcast channel; cloneable.
pub struct Sender<T> {
    inner: tokio::sync::broadcast::Sender<T>,
}

/// A sender that does not keep the channel open; [`upgrade`](Self::upgrade) it to send.
pub struct WeakSender<T> {
    inner: tokio::sync::broadcast::WeakSender<T>,
}

/// The receiving half of a broadcast channel.
///
/// The same methods as tokio's `broadcast::Receiver`; [`recv`](Self::recv) spends one
/// unit of the task's cooperative budget when it completes.
pub struct Receiver<T> {
    inner: tokio::sync::broadcast::Receiver<T>,
}

impl<T> Sender<T> {
    /// A sender of a new channel with no receiver yet (see [`channel`] for `capacity`).
    #[track_caller]
    pub fn new(capacity: usize) -> Sender<T> {
        Sender {
            inner: tokio::sync::broadcast::Sender::new(capacity),
        }
    }

    /// Sends `value` to every receiver; returns how many there are. Fails (giving the
    /// value back) when there is none.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        self.inner.send(value)
    }

    /// A new receiver, which sees the values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver {
            inner: self.inner.subscribe(),
        }
    }

    /// A [`WeakSender`] for this channel.
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            inner: self.inner.downgrade(),
        }
    }

    /// Number of values the slowest receiver has yet to receive.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True when every receiver has received every value.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Number of receivers.
    pub fn receiver_count(&self) -> usize {
        self.inner.receiver_count()
    }

    /// True when both senders belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        self.inner.same_channel(&other.inner)
    }

    /// Waits until every receiver has been dropped.
    pub async fn closed(&self) {
        self.inner.closed().await
    }

    /// Number of senders.
    pub fn strong_count(&self) -> usize {
        self.inner.strong_count()
    }

    /// Number of weak senders.
    pub fn weak_count(&self) -> usize {
        self.inner.weak_count()
    }
}

impl<T> WeakSender<T> {
    /// A sender, if one still exists (the channel is still open to senders).
    pub fn upgrade(&self) -> Option<Sender<T>> {
        self.inner.upgrade().map(|inner| Sender { inner })
    }

    /// Number of senders.
    pub fn strong_count(&self) -> usize {
        self.inner.strong_count()
    }

    /// Number of weak senders.
    pub fn weak_count(&self) -> usize {
        self.inner.weak_count()
    }
}

impl<T> Receiver<T> {
    /// Number of values sent that this receiver has yet to receive (including values
    /// already overwritten: more than the capacity means the next `recv` lags).
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True when this receiver has received every value sent.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// True when both receivers belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        self.inner.same_channel(&other.inner)
    }

    /// Number of senders.
    pub fn sender_strong_count(&self) -> usize {
        self.inner.sender_strong_count()
    }

    /// Number of weak senders.
    pub fn sender_weak_count(&self) -> usize {
        self.inner.sender_weak_count()
    }

    /// True once every sender has been dropped.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl<T: Clone> Receiver<T> {
    /// A new receiver of the same channel, which sees the values sent from now on.
    pub fn resubscribe(&self) -> Receiver<T> {
        Receiver {
            inner: self.inner.resubscribe(),
        }
    }

    /// Receives the next value: `Err(Lagged(n))` when `n` values were overwritten before
    /// this receiver got them, `Err(Closed)` once every sender is gone and every value
    /// received.
    ///
    /// Cancel-safe: a value is taken only when the future completes.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        Budgeted::new(self.inner.recv()).await
    }

    /// Takes the next value if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv()
    }

    /// Blocks the thread until a value arrives, for synchronous code. Not from a task:
    /// it would block the worker thread (use [`spawn_blocking`] there).
    ///
    /// [`spawn_blocking`]: crate::task::spawn_blocking
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Result<T, RecvError> {
        self.inner.blocking_recv()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        Sender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> WeakSender<T> {
        WeakSender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> From<tokio::sync::broadcast::Receiver<T>> for Receiver<T> {
    fn from(inner: tokio::sync::broadcast::Receiver<T>) -> Receiver<T> {
        Receiver { inner }
    }
}

impl<T> From<Receiver<T>> for tokio::sync::broadcast::Receiver<T> {
    fn from(receiver: Receiver<T>) -> tokio::sync::broadcast::Receiver<T> {
        receiver.inner
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
