//! Unix-specific I/O, at tokio's paths: [`AsyncFd`] (any file descriptor driven by the
//! runtime) with its readiness guards and errors.

pub use super::async_fd::{AsyncFd, AsyncFdRegisterError, AsyncFdTryNewError};
pub use super::async_fd_ready::{AsyncFdReadyGuard, AsyncFdReadyMutGuard, TryIoError};
