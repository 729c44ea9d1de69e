//! [`PollDirection`]: the direction in which an [`AsyncFd`](super::AsyncFd) waits for
//! readiness (its poll path `poll_io`, its readiness guards and `try_io`; the record
//! they share is `io::fd_readiness`).
//!
//! `AsyncFd::poll_io` runs a non-blocking syscall on the fd and, while it says
//! `WouldBlock`, clears the recorded readiness and waits for new readiness: for the
//! poll-based `AsyncRead`/`AsyncWrite` impls of types built on an `AsyncFd`, such as
//! `process::ChildStdout`. One `poll_*` caller per direction, as tokio's
//! `AsyncRead`/`AsyncWrite` assume (a second one takes the waker slot over). The fd must
//! be in non-blocking mode for the syscall not to block on io_uring.

/// The direction of a poll-based syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PollDirection {
    Read = 0,
    Write = 1,
}

impl PollDirection {
    pub(crate) fn for_mio(self) -> crate::driver::mio::Direction {
        match self {
            PollDirection::Read => crate::driver::mio::Direction::Read,
            PollDirection::Write => crate::driver::mio::Direction::Write,
        }
    }
}
