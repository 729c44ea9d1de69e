//! Owned-buffer I/O: the buffer traits and the fd wrapper that both backends drive.
//!
//! With io_uring the kernel uses a buffer after the call that submitted an operation
//! has returned, so operations take buffers by value ([`IoBuf`], [`IoBufMut`]) and
//! give them back in a [`BufResult`], on success and on error alike. The same API runs
//! on the mio backend (there the syscall happens when the fd is ready), so code written
//! against it works on both.
//!
//! * [`AsyncFd`] (also at tokio's path, [`unix::AsyncFd`]): any file descriptor (pipes,
//!   sockets, character devices, eventfds) with tokio's readiness guards
//!   (`readable().await?.try_io(..)`) and owned-buffer `read_owned`/`write_owned`.
//!   Unix only: on Windows mio polls sockets alone, so there is no handle-generic
//!   counterpart (as in tokio), and neither `AsyncFd` nor the `unix` module exists.
//! * [`AlignedBuf`]: an owned buffer with a guaranteed alignment, for direct I/O
//!   (`O_DIRECT` files, see [`crate::fs::OpenOptions::custom_flags`]).
//! * [`Interest`] and [`Ready`]: what the streams' readiness API (`ready`,
//!   `try_read`, `try_write`, `poll_read_ready`, ...) waits for and reports, with
//!   tokio's names and meaning.
//! * [`nop`]: one round trip through the driver that does nothing, for measuring the
//!   runtime's per-operation overhead.
//!
//! # Two stream APIs: owned-buffer traits and poll traits
//!
//! The stream types of [`crate::net`] read and write through two APIs:
//!
//! * **Owned-buffer traits**, [`AsyncReadOwned`] and [`AsyncWriteOwned`] (always
//!   available): `read_owned(buf).await` hands the buffer to the operation and gets it
//!   back in a [`BufResult`]. On io_uring that is one `RECV`/`SEND` straight into your
//!   buffer: no readiness round trip, no copy. Use them for code written for ringtide,
//!   and wherever throughput or syscall count matters.
//! * **Poll traits**, tokio's `AsyncRead`/`AsyncWrite` (feature `tokio-io`) and
//!   futures' (feature `futures-io`): `poll_read(cx, &mut buf)` with a borrowed buffer.
//!   A borrowed buffer cannot be handed to the kernel past the call, so on io_uring
//!   these are readiness-based (a non-blocking syscall, then a `POLL_ADD` to wait; see
//!   `net/poll_io.rs` for why, with measurements); on mio they are exactly what
//!   tokio does. Use them to plug ringtide streams into the ecosystem: tokio's
//!   `AsyncReadExt`/`BufReader`/`io::copy`, `tokio_util` codecs, hyper, TLS crates,
//!   futures' `AsyncReadExt`.
//!
//! **Naming rule:** a method with tokio's name has tokio's borrowed-buffer signature,
//! and its owned-buffer form is the same name plus `_owned` (`UdpSocket::recv(&mut buf)`
//! and `recv_owned(buf)`, `AsyncReadExt::read` and `read_owned`, `AsyncFd::read_owned`).
//! So tokio code compiles unchanged, and with both traits in scope the owned methods
//! never shadow (or collide with) the extension traits' `read`, `read_exact`,
//! `write_all`, ...; likewise the stream's own shutdown is `shutdown_with(how)`,
//! leaving `shutdown()` to `AsyncWriteExt`. The datagram sockets follow the same rule
//! (`send`/`send_owned`, `recv_from`/`recv_from_owned`, ...).
//!
//! Both APIs can be mixed on one stream: bytes a cancelled `read_owned` took from the
//! kernel are kept and returned first by the next read of either kind, and writes of
//! either kind go straight to the socket (the poll traits buffer nothing, so
//! `poll_flush` is immediate).
//!
//! Cancel safety of [`AsyncFd`]'s owned-buffer operations: dropping one of their
//! futures before it completes cancels the operation. The buffer is freed, and the fd
//! can be closed, only after the kernel is done with the operation (the shared fd
//! owner, `shared_fd`, keeps the fd open while any operation holds it); bytes the kernel
//! read before the cancellation took effect are lost with the buffer, so `read_owned`
//! is not cancel-safe with respect to data (as a `read` syscall whose result is
//! discarded is not). Its readiness waits (`readable`, `ready`, ...) are cancel safe.

mod aligned_buf;
#[cfg(unix)]
mod async_fd;
#[cfg(unix)]
mod async_fd_ready;
mod buf;
pub(crate) mod buf_free_list;
pub(crate) mod buf_pool;
#[cfg(unix)]
pub(crate) mod fd_poll;
#[cfg(unix)]
mod fd_readiness;
mod interest;
pub(crate) mod owned;
pub(crate) mod owned_loop;
pub(crate) mod shared_fd;
#[cfg(unix)]
pub mod unix;

pub use aligned_buf::AlignedBuf;
#[cfg(unix)]
pub use async_fd::AsyncFd;
#[cfg(ringtide_uring)]
pub(crate) use buf::kernel_len;
pub use buf::{BufResult, IoBuf, IoBufMut};
pub use buf_pool::{BufPool, MAX_POOL_BUFFERS, PooledBuf};
pub use interest::{Interest, Ready};
pub use owned::{AsyncReadOwned, AsyncWriteOwned};

/// Runs one operation that does nothing through the runtime's I/O driver: an io_uring
/// NOP on the io_uring backend, an immediate completion on mio.
///
/// Useful to measure per-operation overhead. Fails when called outside a runtime with
/// I/O enabled.
///
/// ```
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// ringtide::io::nop().await.unwrap();
/// # });
/// ```
pub async fn nop() -> std::io::Result<()> {
    crate::op::run(None, crate::op::nop::Nop).await
}
