//! Owned-buffer I/O: the buffer traits and the fd wrapper that both backends drive.
//!
//! With io_uring the kernel uses a buffer after the call that submitted an operation
//! has returned, so operations take buffers by value ([`IoBuf`], [`IoBufMut`]) and
//! give them back in a [`BufResult`], on success and on error alike. The same API runs
//! on the mio backend (there the syscall happens when the fd is ready), so code written
//! against it works on both.
//!
//! * [`AsyncFd`]: owned-buffer `read`/`write` on any file descriptor (pipes, sockets,
//!   character devices, eventfds).
//! * [`nop`]: one round trip through the driver that does nothing, for measuring the
//!   runtime's per-operation overhead.
//!
//! Cancel safety: dropping an owned-buffer future before it completes cancels the
//! operation. The buffer is freed only after the kernel is done with it; bytes the
//! kernel read before the cancellation took effect are lost with the buffer, so `read`
//! is not cancel-safe with respect to data (as a `read` syscall whose result is
//! discarded is not).

mod async_fd;
mod buf;
pub(crate) mod owned;

pub use async_fd::AsyncFd;
#[cfg(ringtide_uring)]
pub(crate) use buf::kernel_len;
pub use buf::{BufResult, IoBuf, IoBufMut};
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
    crate::driver::op::run(None, crate::op::nop::Nop).await
}
