//! A channel for one value: tokio's `oneshot`, with a receiver that spends ringtide's
//! cooperative budget when it completes.
//!
//! [`channel`] returns tokio's [`Sender`] and a [`Receiver`] that is a future of the
//! value (`Err(RecvError)` when the sender is dropped without sending).
//!
//! ```
//! use ringtide::sync::oneshot;
//!
//! # ringtide::runtime::Runtime::new().unwrap().block_on(async {
//! let (tx, rx) = oneshot::channel();
//! ringtide::spawn(async move { tx.send(6 * 7).unwrap() });
//! assert_eq!(rx.await, Ok(42));
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use tokio::sync::oneshot::Sender;
pub use tokio::sync::oneshot::error;
use tokio::sync::oneshot::error::{RecvError, TryRecvError};

use crate::sync::budget::poll_budgeted;

/// Creates a channel for one value.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    (sender, Receiver { inner: receiver })
}

/// The receiving half of a [`channel`]: await it for the value.
///
/// The same methods as tokio's `oneshot::Receiver`. Awaiting it is cancel-safe: the
/// value stays in the channel until the future completes, and a dropped `Receiver`
/// drops it. A completed poll spends one unit of the task's cooperative budget.
pub struct Receiver<T> {
    inner: tokio::sync::oneshot::Receiver<T>,
}

impl<T> Receiver<T> {
    /// Closes the channel: the sender's `send` fails from now on (a value already sent
    /// can still be taken with [`try_recv`](Self::try_recv)).
    pub fn close(&mut self) {
        self.inner.close();
    }

    /// True once the value has been received (or the channel found closed) through this
    /// receiver; polling it then panics.
    pub fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }

    /// True when no value is waiting in the channel.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Takes the value if it has been sent, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv()
    }

    /// Blocks the thread until the value arrives, for synchronous code. Not from a task:
    /// it would block the worker thread (use [`spawn_blocking`] there).
    ///
    /// [`spawn_blocking`]: crate::task::spawn_blocking
    #[track_caller]
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        self.inner.blocking_recv()
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.inner;
        poll_budgeted(cx, |cx| Pin::new(inner).poll(cx))
    }
}

impl<T> From<tokio::sync::oneshot::Receiver<T>> for Receiver<T> {
    fn from(inner: tokio::sync::oneshot::Receiver<T>) -> Receiver<T> {
        Receiver { inner }
    }
}

impl<T> From<Receiver<T>> for tokio::sync::oneshot::Receiver<T> {
    fn from(receiver: Receiver<T>) -> tokio::sync::oneshot::Receiver<T> {
        receiver.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
