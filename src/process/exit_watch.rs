//! [`ExitWatch`]: how a [`Child`](super::Child) learns that its process exited, with no
//! thread per child.
//!
//! * **pidfd** (Linux 5.3+): `pidfd_open(2)` gives an fd that becomes readable when the
//!   process exits. It is wrapped in an [`AsyncFd`] and waited on like any fd: a
//!   `POLL_ADD` on io_uring, the epoll registration on mio.
//! * **SIGCHLD** (fallback where `pidfd_open` fails with `ENOSYS` or `EPERM`, e.g. old
//!   kernels or seccomp filters): a [`Signal`] listener for `SIGCHLD`, created before the
//!   first `try_wait`, so an exit is never missed; each arrival means *some* child
//!   changed state, and the caller then `try_wait`s its own.
//!
//! Either way the watch only says "look again": the caller reaps with a non-blocking
//! `waitpid` on its pid (std's `Child::try_wait`). The pid cannot be reused before that
//! reap, so the non-blocking `waitpid` names the right process, as `waitid(P_PIDFD)`
//! would.

use std::io;
use std::os::fd::OwnedFd;
use std::task::{Context, Poll};

use crate::io::AsyncFd;
use crate::io::fd_poll::PollDirection;
use crate::signal::unix::{Signal, SignalKind, signal};

/// A child's exit notification (see the module documentation).
#[derive(Debug)]
pub(crate) enum ExitWatch {
    /// The child's pidfd, readable once it exited.
    Pidfd(AsyncFd<OwnedFd>),
    /// A `SIGCHLD` listener.
    Sigchld(Signal),
}

impl ExitWatch {
    /// Watches process `pid` (an unreaped child of this process), inside a runtime with
    /// I/O enabled when a pidfd is used.
    pub(crate) fn new(pid: u32) -> io::Result<ExitWatch> {
        if !force_sigchld() {
            match crate::sys::process::pidfd_open(pid) {
                Ok(pidfd) => return Ok(ExitWatch::Pidfd(AsyncFd::new(pidfd)?)),
                Err(error) if matches!(error.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(ExitWatch::Sigchld(signal(SignalKind::child())?))
    }

    /// Ready when the child may have changed state: `try_wait` it then. `Err` when the
    /// runtime or the signal dispatcher is gone.
    pub(crate) fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            ExitWatch::Pidfd(pidfd) => pidfd.poll_ready(cx, PollDirection::Read),
            ExitWatch::Sigchld(listener) => match listener.poll_recv(cx) {
                Poll::Ready(Some(())) => Poll::Ready(Ok(())),
                Poll::Ready(None) => Poll::Ready(Err(io::Error::other(
                    "the SIGCHLD listener stopped delivering",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    /// Whether this watch uses a pidfd (else `SIGCHLD`).
    pub(crate) fn is_pidfd(&self) -> bool {
        matches!(self, ExitWatch::Pidfd(_))
    }
}

/// `RINGTIDE_PROCESS_SIGCHLD=1` forces the `SIGCHLD` fallback (to test it on kernels
/// that have pidfds).
fn force_sigchld() -> bool {
    static FORCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FORCE.get_or_init(|| std::env::var_os("RINGTIDE_PROCESS_SIGCHLD").is_some_and(|v| v == "1"))
}
