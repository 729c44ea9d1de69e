//! A multi-producer, single-consumer queue: tokio's `mpsc`, with receivers that spend
//! ringtide's cooperative budget.
//!
//! [`channel`] makes a bounded channel (a [`Sender`] waits while the buffer is full),
//! [`unbounded_channel`] an unbounded one (an [`UnboundedSender`] never waits, so it
//! can be used from synchronous code). Once every sender is gone and the buffer is
//! drained, `recv` returns `None`; once the receiver is gone, sends fail.
//!
//! The senders, permits and errors are tokio's own types. The receivers are thin
//! wrappers with tokio's methods: each completed `recv`/`poll_recv`/`recv_many` spends
//! one unit of the task's budget (see [`crate::sync`]). A receiver converts to and
//! from tokio's with `From` for crates that take tokio's type (for example
//! `tokio-stream`'s `ReceiverStream`); the converted one no longer spends ringtide's
//! budget.
//!
//! tokio's `Sender::send_timeout` needs tokio's timer and is not available; use
//! [`time::timeout`](crate::time::timeout) around [`Sender::send`] (or
//! [`Sender::reserve`], which keeps the value when it times out).
//!
//! ```
//! use ringtide::sync::mpsc;
//!
//! # ringtide::runtime::Runtime::new().unwrap().block_on(async {
//! let (tx, mut rx) = mpsc::channel(16);
//! ringtide::spawn(async move {
//!     for i in 0..10 {
//!         tx.send(i).await.unwrap();
//!     }
//! });
//! let mut sum = 0;
//! while let Some(i) = rx.recv().await {
//!     sum += i;
//! }
//! assert_eq!(sum, 45);
//! # });
//! ```

mod bounded_receiver;
mod unbounded_receiver;

pub use bounded_receiver::Receiver;
pub use tokio::sync::mpsc::error;
pub use tokio::sync::mpsc::{
    OwnedPermit, Permit, PermitIterator, Sender, UnboundedSender, WeakSender, WeakUnboundedSender,
};
pub use unbounded_receiver::UnboundedReceiver;

/// Creates a bounded channel holding at most `buffer` values.
///
/// # Panics
///
/// Panics if `buffer` is 0, or larger than
/// [`Semaphore::MAX_PERMITS`](crate::sync::Semaphore::MAX_PERMITS).
#[track_caller]
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    let (sender, receiver) = tokio::sync::mpsc::channel(buffer);
    (sender, Receiver::from(receiver))
}

/// Creates an unbounded channel: sending never waits (memory is the only limit).
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    (sender, UnboundedReceiver::from(receiver))
}
