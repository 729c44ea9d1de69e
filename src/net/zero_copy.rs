//! Zero-copy writes for the stream types: `write_zc` and `write_all_zc`, added by
//! [`impl_zero_copy_write!`] to every type with a `socket()` accessor that writes
//! (`TcpStream`, `UnixStream` and their split write halves). `UdpSocket` has its own
//! `send_zc`/`send_to_zc` (in `udp.rs`). The work is `Socket::send_zc` (`owned_io`),
//! the op is `op::send_zc`.
//!
//! Names: the owned-buffer forms of `write_owned`/`write_all_owned` (streams) and
//! `send_owned`/`send_to_owned` (datagrams), with `_zc` for "zero copy" in place of
//! `_owned` (there is no tokio method of that name to mirror).
//!
//! # When zero copy pays, and when it does not
//!
//! With io_uring's `SEND_ZC` the kernel sends from the buffer's pages instead of
//! copying them into the socket, and tells the runtime (a second completion, the
//! notification) when it no longer needs them; only then does the future complete and
//! give the buffer back. That saves the copy, and pays for pinning the pages and the
//! extra completion. It pays for large sends through a NIC. On loopback the kernel
//! copies anyway (a looped zero-copy packet is copied before it reaches the receiving
//! socket), so there it only adds cost: measured with `benches/send_zc.rs` (see the
//! README). Plain `write_owned`/`write_all_owned` never use zero copy.
//!
//! Where zero copy is unavailable, these are plain sends, with the same results: the
//! mio backend, kernels without `IORING_OP_SEND_ZC` (before 6.0), and sockets that
//! refuse it (`EOPNOTSUPP`: Unix sockets; the refusal is remembered per socket, so only
//! the first call asks).

/// Adds `write_zc` and `write_all_zc` to a stream type with a `socket()` accessor.
macro_rules! impl_zero_copy_write {
    ($type:ty) => {
        impl $type {
            /// Writes `buf`'s initialised bytes once (possibly in part) with zero copy
            /// where the kernel can, and gives `buf` back with the count; as
            /// [`write_owned`](crate::io::AsyncWriteOwned::write_owned) otherwise.
            ///
            /// On io_uring this is one `SEND_ZC` from `buf`: the kernel sends from its
            /// pages and the future completes (giving `buf` back) only once the kernel's
            /// notification says it no longer reads them. Dropping the future before
            /// then leaves `buf` to the runtime, which frees it after that notification.
            /// On mio, on kernels without `SEND_ZC`, and on sockets that refuse zero
            /// copy (Unix sockets), it is a plain send. On loopback the kernel copies
            /// anyway, so this costs more than `write_owned` there: it is for large
            /// buffers sent through a NIC (see the `net` module's README numbers).
            ///
            /// Cancel safety: as `write_owned`: the data may be sent in full, in part or
            /// not at all.
            ///
            /// # Errors
            ///
            /// As `write_owned`: `BrokenPipe`/`ConnectionReset` when the peer is gone
            /// (never a `SIGPIPE`).
            pub async fn write_zc<B: $crate::io::IoBuf>(
                &mut self,
                buf: B,
            ) -> $crate::io::BufResult<usize, B> {
                self.socket().send_zc(buf, 0).await
            }

            /// Writes all of `buf`'s initialised bytes, each send as
            /// [`write_zc`](Self::write_zc); as
            /// [`write_all_owned`](crate::io::AsyncWriteOwned::write_all_owned)
            /// otherwise.
            ///
            /// # Errors
            ///
            /// As `write_all_owned`; `WriteZero` when the socket accepts no more bytes.
            pub async fn write_all_zc<B: $crate::io::IoBuf>(
                &mut self,
                buf: B,
            ) -> $crate::io::BufResult<(), B> {
                self.socket().send_all_zc(buf).await
            }
        }
    };
}

pub(crate) use impl_zero_copy_write;
