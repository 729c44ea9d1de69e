//! `read_pooled`: a stream read into a buffer of a [`BufPool`] picked when the data
//! arrives (see `io::buf_pool` for the feature, `op::recv_pooled` for the op).
//! [`impl_read_pooled!`] adds the method to a stream type with a `socket()` accessor.
//!
//! The read loop: bytes a cancelled read kept come first (as for `read_owned`); then
//! the op; when every buffer was on loan it waits for one to come back and reads
//! again; where io_uring could not register the pool it reads once into a one-off
//! buffer of the pool's size.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use super::socket::{Socket, SocketState};
use crate::io::{BufPool, BufResult, PooledBuf};
use crate::op::recv_pooled::{PooledRecv, RecvPooled, ReturnWait};
use crate::op::run::Run;

/// How many times pooled reads waited for a buffer to come back, process-wide (tests
/// read it through `__private` to prove the exhaustion path ran).
static WAITS: AtomicU64 = AtomicU64::new(0);

/// How many pooled reads fell back to a one-off buffer.
static FALLBACKS: AtomicU64 = AtomicU64::new(0);

pub(crate) fn exhausted_waits() -> u64 {
    WAITS.load(Ordering::Relaxed)
}

pub(crate) fn fallbacks() -> u64 {
    FALLBACKS.load(Ordering::Relaxed)
}

impl Socket {
    /// One pooled read (see the module doc and [`PooledRead`]).
    pub(crate) fn recv_pooled<'a>(&'a self, pool: &'a BufPool) -> PooledRead<'a> {
        PooledRead {
            socket: self,
            pool,
            step: Step::Kept,
        }
    }
}

/// The future of a pooled read: the read loop of the module doc, written out by hand
/// rather than as an `async fn`, whose layers would hold the socket, the pool and the
/// op's future a second time. An idle connection's task waits in this future (184
/// bytes; 240 as an `async fn`, 520 before `op::run` was made small).
pub(crate) struct PooledRead<'a> {
    socket: &'a Socket,
    pool: &'a BufPool,
    step: Step<'a>,
}

enum Step<'a> {
    /// Take what the stream kept (a cancelled read's bytes, the multishot receive's
    /// queue) first.
    Kept,
    /// The op, in `op::run`.
    Reading(Run<'a, RecvPooled<SocketState>>),
    /// Every buffer was on loan: wait for one to come back, then read again.
    Waiting(ReturnWait),
    /// io_uring could not register the pool here: a one-off buffer (boxed: an owned
    /// read's future is larger than this one).
    OneOff(Pin<Box<dyn Future<Output = BufResult<usize, Vec<u8>>> + Send + 'a>>),
    /// Completed (or a poll panicked midway).
    Done,
}

impl Future for PooledRead<'_> {
    type Output = io::Result<PooledBuf>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            match std::mem::replace(&mut this.step, Step::Done) {
                Step::Kept => {
                    let polled = this.socket.poll_take_read(cx, this.pool.buffer_size());
                    match polled {
                        Poll::Pending => {
                            this.step = Step::Kept;
                            return Poll::Pending;
                        }
                        Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                        Poll::Ready(Ok(Some(kept))) => {
                            return Poll::Ready(Ok(PooledBuf::from_vec(kept.data)));
                        }
                        Poll::Ready(Ok(None)) => {
                            let read =
                                RecvPooled::new(this.socket.fd.share(), this.pool.shared().clone());
                            this.step = Step::Reading(crate::op::run(this.socket.source(), read));
                        }
                    }
                }
                Step::Reading(mut reading) => {
                    let Poll::Ready(outcome) = Pin::new(&mut reading).poll(cx) else {
                        this.step = Step::Reading(reading);
                        return Poll::Pending;
                    };
                    match outcome {
                        PooledRecv::Data(buf) => return Poll::Ready(Ok(buf)),
                        PooledRecv::Failed(error) => return Poll::Ready(Err(error)),
                        PooledRecv::Exhausted(wait) => {
                            WAITS.fetch_add(1, Ordering::Relaxed);
                            this.step = Step::Waiting(wait);
                        }
                        PooledRecv::Unregistered(error) => {
                            static LOGGED: AtomicBool = AtomicBool::new(false);
                            if !LOGGED.swap(true, Ordering::Relaxed) {
                                crate::trace::event!(
                                    warn,
                                    "ringtide: io_uring could not register a buffer pool's \
                                     ring ({error}); pooled reads on this thread use one-off \
                                     buffers"
                                );
                            }
                            FALLBACKS.fetch_add(1, Ordering::Relaxed);
                            let buf = Vec::with_capacity(this.pool.buffer_size());
                            this.step = Step::OneOff(Box::pin(this.socket.recv_stream(buf, 0)));
                        }
                    }
                }
                Step::Waiting(wait) => {
                    if wait.poll_returned(cx).is_pending() {
                        this.step = Step::Waiting(wait);
                        return Poll::Pending;
                    }
                    this.step = Step::Kept;
                }
                Step::OneOff(mut one_off) => {
                    let Poll::Ready((result, buf)) = one_off.as_mut().poll(cx) else {
                        this.step = Step::OneOff(one_off);
                        return Poll::Pending;
                    };
                    return Poll::Ready(result.map(|_| PooledBuf::from_vec(buf)));
                }
                Step::Done => panic!("`read_pooled`'s future polled after it completed"),
            }
        }
    }
}

/// Adds `read_pooled` to a stream type with a `socket()` accessor.
macro_rules! impl_read_pooled {
    ($type:ty) => {
        impl $type {
            /// Reads into a buffer of `pool` that is picked only when data arrives, so
            /// that a pending read holds no buffer (see [`BufPool`](crate::io::BufPool)).
            /// Returns the bytes read, at most the pool's buffer size; an empty
            /// [`PooledBuf`](crate::io::PooledBuf) means end of stream. Dropping the
            /// buffer gives it back to the pool.
            ///
            /// When every buffer of the pool is on loan, the read waits for one to come
            /// back; it never fails for want of a buffer.
            ///
            /// Cancel safe: bytes a dropped read took from the kernel are returned by
            /// the stream's next read.
            ///
            /// # Errors
            ///
            /// The socket's errors, as for
            /// [`read_owned`](crate::io::AsyncReadOwned::read_owned).
            // Not an `async fn`: that would wrap the read's future in one more layer,
            // which a pending read (stored in its task) would carry.
            pub fn read_pooled<'a>(
                &'a self,
                pool: &'a $crate::io::BufPool,
            ) -> impl std::future::Future<Output = std::io::Result<$crate::io::PooledBuf>>
            + Send
            + 'a {
                self.socket().recv_pooled(pool)
            }
        }
    };
}

pub(crate) use impl_read_pooled;
