//! [`AsyncReadOwned`] and [`AsyncWriteOwned`]: the owned-buffer API of streams.

use std::future::Future;

use crate::io::{BufResult, IoBuf, IoBufMut};

/// Reads into owned buffers: what a completion-based backend needs (the buffer is the
/// kernel's until the read completes, then it comes back in the [`BufResult`]).
///
/// The method names end in `_owned` so that they never shadow tokio's or futures'
/// `AsyncReadExt::read(&mut buf)` on the same type.
///
/// Cancel safety: on the streams of this crate, dropping a read future loses no data.
/// Bytes the kernel took for a cancelled read are kept and returned by the next read
/// on the same stream, in order. (`read_exact_owned` may have placed some bytes in its
/// buffer when it is dropped; those are gone with the buffer.) A file
/// ([`crate::fs::File`]) keeps no bytes: a dropped read may still complete and move the
/// file position past what it read (see its docs).
pub trait AsyncReadOwned {
    /// Reads into `buf`, from its start up to its capacity, and returns how many bytes
    /// arrived (`Ok(0)`: end of stream, or a zero-capacity buffer) with the buffer.
    fn read_owned<B: IoBufMut>(
        &mut self,
        buf: B,
    ) -> impl Future<Output = BufResult<usize, B>> + Send;

    /// Reads until `buf` is full (to its capacity). Fails with `UnexpectedEof` when the
    /// stream ends first (the bytes that did arrive are in the buffer).
    fn read_exact_owned<B: IoBufMut>(
        &mut self,
        buf: B,
    ) -> impl Future<Output = BufResult<(), B>> + Send;

    /// Reads into several buffers in order (one `readv`), returning the total.
    fn readv_owned<B: IoBufMut>(
        &mut self,
        bufs: Vec<B>,
    ) -> impl Future<Output = BufResult<usize, Vec<B>>> + Send;
}

/// Writes owned buffers (see [`AsyncReadOwned`] for why buffers are owned).
///
/// Cancel safety: dropping a write future may leave the data partly or fully written;
/// the caller cannot know how much. Treat a dropped write as a broken stream.
pub trait AsyncWriteOwned {
    /// Writes `buf`'s initialised bytes once and returns how many were written.
    fn write_owned<B: IoBuf>(&mut self, buf: B)
    -> impl Future<Output = BufResult<usize, B>> + Send;

    /// Writes all of `buf`'s initialised bytes.
    fn write_all_owned<B: IoBuf>(
        &mut self,
        buf: B,
    ) -> impl Future<Output = BufResult<(), B>> + Send;

    /// Writes the buffers' bytes in order (one `writev`), returning the total written.
    fn writev_owned<B: IoBuf>(
        &mut self,
        bufs: Vec<B>,
    ) -> impl Future<Output = BufResult<usize, Vec<B>>> + Send;
}

/// Implements both traits for a type with a `socket()` accessor.
macro_rules! impl_owned_io {
    (read: $type:ty) => {
        impl $crate::io::AsyncReadOwned for $type {
            fn read_owned<B: $crate::io::IoBufMut>(
                &mut self,
                buf: B,
            ) -> impl std::future::Future<Output = $crate::io::BufResult<usize, B>> + Send {
                self.socket().recv_stream(buf, 0)
            }

            fn read_exact_owned<B: $crate::io::IoBufMut>(
                &mut self,
                buf: B,
            ) -> impl std::future::Future<Output = $crate::io::BufResult<(), B>> + Send {
                self.socket().recv_exact(buf)
            }

            fn readv_owned<B: $crate::io::IoBufMut>(
                &mut self,
                bufs: Vec<B>,
            ) -> impl std::future::Future<Output = $crate::io::BufResult<usize, Vec<B>>> + Send
            {
                self.socket().recv_vectored(bufs)
            }
        }
    };
    (write: $type:ty) => {
        impl $crate::io::AsyncWriteOwned for $type {
            fn write_owned<B: $crate::io::IoBuf>(
                &mut self,
                buf: B,
            ) -> impl std::future::Future<Output = $crate::io::BufResult<usize, B>> + Send {
                self.socket().send(buf, 0)
            }

            fn write_all_owned<B: $crate::io::IoBuf>(
                &mut self,
                buf: B,
            ) -> impl std::future::Future<Output = $crate::io::BufResult<(), B>> + Send {
                self.socket().send_all(buf)
            }

            fn writev_owned<B: $crate::io::IoBuf>(
                &mut self,
                bufs: Vec<B>,
            ) -> impl std::future::Future<Output = $crate::io::BufResult<usize, Vec<B>>> + Send
            {
                self.socket().send_vectored(bufs)
            }
        }
    };
}

pub(crate) use impl_owned_io;
