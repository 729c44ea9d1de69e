//! tokio's and futures' poll-based `AsyncRead`/`AsyncWrite` for the stream types
//! (features `tokio-io` and `futures-io`).
//!
//! `impl_poll_io!` writes the impls for any type with a
//! `socket(&self) -> &Socket` accessor: `impl_poll_io!(read: T)` gives `T` both crates'
//! `AsyncRead`, `impl_poll_io!(write: T)` both crates' `AsyncWrite`. `TcpStream` and
//! `UnixStream` take both, their `OwnedReadHalf` the read side, their `OwnedWriteHalf`
//! the write side; a new stream type is one line each.
//!
//! What the impls do:
//!
//! * `poll_read`: bytes kept from a cancelled owned read (`read_owned` dropped after the
//!   kernel took data) come first, then a non-blocking `recv` into the caller's buffer
//!   (tokio: straight into `ReadBuf`'s unfilled part, never de-initialising it).
//! * `poll_write` / `poll_write_vectored`: a non-blocking `send` / `sendmsg` (at most
//!   1024 slices) with `MSG_NOSIGNAL`; vectored writes are native.
//! * `poll_flush`: nothing to do, ready at once (no user-space buffer).
//! * `poll_shutdown` (tokio) / `poll_close` (futures): `shutdown(SHUT_WR)`, a
//!   synchronous syscall; the peer then reads end of stream. `NotConnected` (the peer
//!   reset the stream first) counts as done, as in tokio.
//!
//! On mio the syscalls run when the registration reports readiness (and retry after
//! `EWOULDBLOCK`). On io_uring they run with `MSG_DONTWAIT` on the (otherwise blocking)
//! socket and, after `EAGAIN`, wait for a `POLL_ADD` kept per socket and direction.
//!
//! # Why readiness on io_uring, not an internal owned buffer
//!
//! The alternative is completion-based: `poll_read` keeps an io_uring `RECV` into a
//! 64 KiB buffer owned by the stream in flight and copies out of it; `poll_write`
//! copies into a 64 KiB owned buffer, submits a `SEND` and reports the bytes as written
//! (write-behind; `poll_flush` waits for the send). Both were measured with
//! `benches/poll_io.rs` (the owned-buffer version lives only there) on a current-thread
//! io_uring runtime over loopback, 2-core shared VM (load average about 5):
//!
//! | workload | readiness | owned buffer | owned / readiness |
//! |---|---|---|---|
//! | 1 KiB ping-pong, paired runs (6 x 25 alternating blocks of 4000 round trips) | 6.2 - 10.5 us | 6.6 - 10.9 us | 1.02 - 1.07 (median of paired ratios, per run) |
//! | 64 MiB bulk, paired runs (6 x 15 alternating transfers) | 12.9 - 18.7 ms | 13.1 - 19.6 ms | 1.00 - 1.03 |
//! | 1 KiB ping-pong, criterion medians, 3 runs | 8.60 / 8.50 / 6.87 us | 5.73 / 10.48 / 7.28 us | 0.67 / 1.23 / 1.06 |
//! | 64 MiB bulk, criterion medians, 3 runs | 14.6 / 19.9 / 15.6 ms | 16.5 / 19.4 / 12.6 ms | 1.13 / 0.97 / 0.81 |
//!
//! Separate criterion runs drift more than the difference (the machine is shared), so
//! the paired, order-alternating runs (`RINGTIDE_POLL_IO_PAIRED=1`) decide: readiness
//! is 2-7% faster on ping-pong and level on bulk. (The owned-buffer traits themselves,
//! `read_owned`/`write_all_owned` with no poll layer, move the 64 MiB in 9 - 16 ms.)
//!
//! Readiness ships: at least as fast, no extra copy, no 128 KiB of buffers per stream,
//! and exact semantics. With write-behind, a write's error shows up on a later call,
//! dropping a stream without `flush`/`shutdown` cancels the send in flight (data
//! loss), and bytes parked in the read buffer would be skipped by a following
//! `read_owned`, so the two APIs could no longer be mixed on one stream.

#[cfg(feature = "tokio-io")]
use std::io;
#[cfg(feature = "tokio-io")]
use std::task::{Context, Poll, ready};

#[cfg(feature = "tokio-io")]
use crate::net::socket::Socket;

/// tokio's `poll_read`: reads into `buf`'s unfilled part and advances it.
#[cfg(feature = "tokio-io")]
pub(crate) fn tokio_poll_read(
    socket: &Socket,
    cx: &mut Context<'_>,
    buf: &mut tokio::io::ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: `poll_recv` only writes initialised bytes into the slice; it never
    // de-initialises any.
    let unfilled = unsafe { buf.unfilled_mut() };
    let count = ready!(socket.poll_recv(cx, unfilled))?;
    // SAFETY: `poll_recv` initialised the first `count` bytes of the unfilled part.
    unsafe { buf.assume_init(count) };
    buf.advance(count);
    Poll::Ready(Ok(()))
}

/// futures' `poll_read`: `buf` is initialised already.
#[cfg(feature = "futures-io")]
pub(crate) fn futures_poll_read(
    socket: &crate::net::socket::Socket,
    cx: &mut std::task::Context<'_>,
    buf: &mut [u8],
) -> std::task::Poll<std::io::Result<usize>> {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and `poll_recv` writes only
    // initialised bytes, so `buf` stays initialised.
    let buf = unsafe {
        std::slice::from_raw_parts_mut(
            buf.as_mut_ptr().cast::<std::mem::MaybeUninit<u8>>(),
            buf.len(),
        )
    };
    socket.poll_recv(cx, buf)
}

/// `poll_shutdown`/`poll_close`: `shutdown(SHUT_WR)`. A stream that is no longer
/// connected (the peer reset it) has nothing left to shut down: `NotConnected` is
/// `Ok(())`, as in tokio, so a shutdown racing the peer's reset does not fail.
#[cfg(any(feature = "tokio-io", feature = "futures-io"))]
pub(crate) fn shutdown_write(socket: &crate::net::socket::Socket) -> std::io::Result<()> {
    match socket.as_sock_ref().shutdown(std::net::Shutdown::Write) {
        Err(error) if error.kind() == std::io::ErrorKind::NotConnected => Ok(()),
        result => result,
    }
}

/// Implements tokio's and futures' `AsyncRead` (`read: Type`) or `AsyncWrite`
/// (`write: Type`) for a type with a `socket()` accessor, each under its feature.
macro_rules! impl_poll_io {
    (read: $type:ty) => {
        #[cfg(feature = "tokio-io")]
        impl tokio::io::AsyncRead for $type {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                $crate::net::poll_io::tokio_poll_read(self.socket(), cx, buf)
            }
        }

        #[cfg(feature = "futures-io")]
        impl futures_io::AsyncRead for $type {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::poll_io::futures_poll_read(self.socket(), cx, buf)
            }
        }
    };
    (write: $type:ty) => {
        #[cfg(feature = "tokio-io")]
        impl tokio::io::AsyncWrite for $type {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.socket().poll_send(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.socket().poll_send_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready($crate::net::poll_io::shutdown_write(self.socket()))
            }
        }

        #[cfg(feature = "futures-io")]
        impl futures_io::AsyncWrite for $type {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.socket().poll_send(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.socket().poll_send_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready($crate::net::poll_io::shutdown_write(self.socket()))
            }
        }
    };
}

pub(crate) use impl_poll_io;
