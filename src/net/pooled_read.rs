//! `read_pooled`: a stream read into a buffer of a [`BufPool`] picked when the data
//! arrives (see `io::buf_pool` for the feature, `op::recv_pooled` for the op).
//! [`impl_read_pooled!`] adds the method to a stream type with a `socket()` accessor.
//!
//! The read loop: bytes a cancelled read kept come first (as for `read_owned`); then
//! the op; when every buffer was on loan it waits for one to come back and reads
//! again; where io_uring could not register the pool it reads once into a one-off
//! buffer of the pool's size.

use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::socket::Socket;
use crate::io::{BufPool, PooledBuf};
use crate::op::recv_pooled::{PooledRecv, RecvPooled};

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
    /// One pooled read (see the module doc).
    pub(crate) async fn recv_pooled(&self, pool: &BufPool) -> io::Result<PooledBuf> {
        loop {
            if let Some(kept) = poll_fn(|cx| self.poll_take_read(cx, pool.buffer_size())).await? {
                return Ok(PooledBuf::from_vec(kept.data));
            }
            let read = RecvPooled::new(self.fd.share(), pool.shared().clone());
            let reading = crate::op::run(self.source(), read);
            match reading.await {
                PooledRecv::Data(buf) => return Ok(buf),
                PooledRecv::Failed(error) => return Err(error),
                PooledRecv::Exhausted(wait) => {
                    WAITS.fetch_add(1, Ordering::Relaxed);
                    poll_fn(|cx| wait.poll_returned(cx)).await;
                }
                PooledRecv::Unregistered(error) => {
                    static LOGGED: AtomicBool = AtomicBool::new(false);
                    if !LOGGED.swap(true, Ordering::Relaxed) {
                        crate::trace::event!(
                            warn,
                            "ringtide: io_uring could not register a buffer pool's ring \
                             ({error}); pooled reads on this thread use one-off buffers"
                        );
                    }
                    FALLBACKS.fetch_add(1, Ordering::Relaxed);
                    // Boxed: an owned read's future is large, and every pending pooled
                    // read would carry its room otherwise (see `op::recv_pooled`).
                    let one_off =
                        Box::pin(self.recv_stream(Vec::with_capacity(pool.buffer_size()), 0));
                    let (result, buf) = one_off.await;
                    result?;
                    return Ok(PooledBuf::from_vec(buf));
                }
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
