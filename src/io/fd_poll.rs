//! The poll path of [`AsyncFd`](super::AsyncFd): `poll_io` runs a non-blocking syscall
//! on the fd and, while it says `WouldBlock`, waits for readiness (for the poll-based
//! `AsyncRead`/`AsyncWrite` impls of types built on an `AsyncFd`, such as
//! `process::ChildStdout`).
//!
//! On mio the wait is the fd's registration (`Registration::poll_io`). On io_uring it is
//! a `POLL_ADD` per direction ([`UringPollSlots`]), kept armed between calls and polled
//! with the caller's waker: one `poll_*` caller per direction, as tokio's
//! `AsyncRead`/`AsyncWrite` assume (a second one takes the waker slot over). The fd must
//! be in non-blocking mode for the syscall not to block on io_uring.

use std::io;
use std::task::{Context, Poll};

/// The direction of a poll-based syscall.
#[derive(Clone, Copy, Debug)]
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

/// The io_uring half: one armed `POLL_ADD` per direction.
#[cfg(ringtide_uring)]
#[derive(Debug)]
pub(crate) struct UringPollSlots {
    slots: [crate::loom::Mutex<Option<UringPollAdd>>; 2],
}

#[cfg(ringtide_uring)]
type UringPollAdd = crate::driver::uring::cell::UringOp<crate::op::poll::PollAdd>;

#[cfg(ringtide_uring)]
impl Default for UringPollSlots {
    fn default() -> UringPollSlots {
        UringPollSlots {
            slots: [crate::loom::Mutex::new(None), crate::loom::Mutex::new(None)],
        }
    }
}

#[cfg(ringtide_uring)]
impl UringPollSlots {
    /// Ready once a `POLL_ADD` for `direction` on `fd` completed (arming one if none
    /// is); otherwise `cx` is woken when it does.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        fd: std::os::fd::RawFd,
        direction: PollDirection,
    ) -> Poll<io::Result<()>> {
        use std::future::Future;
        let events = match direction {
            PollDirection::Read => libc::POLLIN,
            PollDirection::Write => libc::POLLOUT,
        };
        let mut slot = crate::loom::lock(&self.slots[direction as usize]);
        let op = slot.get_or_insert_with(|| {
            crate::driver::uring::cell::UringOp::new(
                crate::op::poll::PollAdd::new(fd, events),
                crate::op::route::current_runtime_ring,
            )
        });
        let (_, result) = std::task::ready!(std::pin::Pin::new(op).poll(cx));
        *slot = None;
        // A readiness error (the fd is gone) shows up in the syscall that follows; only
        // a failure to submit at all is reported here.
        Poll::Ready(match result {
            Err(error) if error.raw_os_error().is_none() => Err(error),
            _ => Ok(()),
        })
    }
}

/// Without io_uring compiled in there is nothing to hold.
#[cfg(not(ringtide_uring))]
#[derive(Debug, Default)]
pub(crate) struct UringPollSlots {
    _nothing: (),
}

#[cfg(not(ringtide_uring))]
impl UringPollSlots {
    pub(crate) fn poll_ready(
        &self,
        _cx: &mut Context<'_>,
        _fd: std::os::fd::RawFd,
        _direction: PollDirection,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::Error::other("io_uring is not compiled in")))
    }
}
