//! [`UnboundedReceiver`]: the receiving half of an unbounded channel, tokio's with
//! the cooperative budget applied (see `crate::sync::budget`).

use std::fmt;
use std::task::{Context, Poll};

use tokio::sync::mpsc::error::TryRecvError;

use crate::sync::budget::{Budgeted, poll_budgeted};

/// The receiving half of an unbounded channel, made by [`unbounded_channel`](super::unbounded_channel).
///
/// The same methods as tokio's `mpsc::UnboundedReceiver`; the waiting ones spend the
/// task's cooperative budget when they complete.
pub struct UnboundedReceiver<T> {
    inner: tokio::sync::mpsc::UnboundedReceiver<T>,
}

impl<T> UnboundedReceiver<T> {
    /// Receives the next value, or `None` once the channel is closed (the receiver was
    /// closed or every sender dropped) and its buffer drained.
    ///
    /// Cancel-safe: a value is taken only when the future completes, so dropping it (for
    /// example in a `select!` whose other branch won) loses nothing.
    pub async fn recv(&mut self) -> Option<T> {
        Budgeted::new(self.inner.recv()).await
    }

    /// Receives up to `limit` values into `buffer` (appended), waiting for at least one;
    /// returns how many arrived (0: the channel is closed and drained, or `limit` is 0).
    ///
    /// Cancel-safe, as [`recv`](Self::recv).
    pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        Budgeted::new(self.inner.recv_many(buffer, limit)).await
    }

    /// Takes a value if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv()
    }

    /// Blocks the thread until a value arrives, for synchronous code. Not from a task:
    /// it would block the worker thread (use [`spawn_blocking`] there).
    ///
    /// [`spawn_blocking`]: crate::task::spawn_blocking
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<T> {
        self.inner.blocking_recv()
    }

    /// Blocks the thread until values arrive, as [`recv_many`](Self::recv_many).
    #[track_caller]
    pub fn blocking_recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        self.inner.blocking_recv_many(buffer, limit)
    }

    /// Closes the channel to senders; values already sent can still be received.
    pub fn close(&mut self) {
        self.inner.close();
    }

    /// True once the channel is closed (by [`close`](Self::close) or every sender
    /// gone).
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// True when no value is buffered.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Number of buffered values.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Polls for the next value (`Ready(None)`: closed and drained), registering `cx`'s
    /// waker while none is ready. A `Ready` spends one unit of budget; with the budget
    /// spent it returns `Pending` and wakes the task at once.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        poll_budgeted(cx, |cx| self.inner.poll_recv(cx))
    }

    /// Polls for up to `limit` values, as [`recv_many`](Self::recv_many) and
    /// [`poll_recv`](Self::poll_recv).
    pub fn poll_recv_many(
        &mut self,
        cx: &mut Context<'_>,
        buffer: &mut Vec<T>,
        limit: usize,
    ) -> Poll<usize> {
        poll_budgeted(cx, |cx| self.inner.poll_recv_many(cx, buffer, limit))
    }

    /// Number of [`UnboundedSender`](super::UnboundedSender)s.
    pub fn sender_strong_count(&self) -> usize {
        self.inner.sender_strong_count()
    }

    /// Number of [`WeakUnboundedSender`](super::WeakUnboundedSender)s.
    pub fn sender_weak_count(&self) -> usize {
        self.inner.sender_weak_count()
    }
}

impl<T> From<tokio::sync::mpsc::UnboundedReceiver<T>> for UnboundedReceiver<T> {
    fn from(inner: tokio::sync::mpsc::UnboundedReceiver<T>) -> UnboundedReceiver<T> {
        UnboundedReceiver { inner }
    }
}

impl<T> From<UnboundedReceiver<T>> for tokio::sync::mpsc::UnboundedReceiver<T> {
    fn from(receiver: UnboundedReceiver<T>) -> tokio::sync::mpsc::UnboundedReceiver<T> {
        receiver.inner
    }
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
