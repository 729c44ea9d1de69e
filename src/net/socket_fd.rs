//! [`SocketFd`]: a socket's fd and its close policy. It is the value of the socket's
//! `FdOwner` (see `io::shared_fd`), so it is dropped, closing the fd, once the socket
//! and every op that used the fd are gone (each op held an `FdRef` to it), on whichever
//! thread lets go last.
//!
//! A stream's close goes through the ring when that thread drives one (a detached
//! `CLOSE`, batched with the other SQEs, so the peer sees the close when the ring next
//! submits, before the worker looks for work or parks); otherwise, and for listeners
//! and datagram sockets (which own an address that must be free once the drop
//! returns), it is a `close(2)` (`closesocket` on Windows). `into_owned` hands the fd
//! out instead (the socket's `into_owned_fd`).

use crate::sys::{self, BorrowedSocket, OwnedSocket};

/// The fd of a socket (see the module documentation).
#[derive(Debug)]
pub(crate) struct SocketFd {
    /// `None` only once handed out (`into_owned`) or while being dropped.
    fd: Option<OwnedSocket>,
    #[cfg_attr(not(ringtide_uring), allow(dead_code))]
    through_ring: bool,
}

impl SocketFd {
    /// Owns `fd`; `through_ring`: close it through the ring when the thread that drops
    /// it drives one (streams on io_uring).
    pub(super) fn new(fd: OwnedSocket, through_ring: bool) -> SocketFd {
        SocketFd {
            fd: Some(fd),
            through_ring,
        }
    }

    /// Hands the fd out: from here this value no longer closes it.
    pub(super) fn into_owned(mut self) -> OwnedSocket {
        self.fd.take().expect("a socket's fd is taken once")
    }
}

impl Drop for SocketFd {
    fn drop(&mut self) {
        let Some(fd) = self.fd.take() else {
            return;
        };
        #[cfg(ringtide_uring)]
        if self.through_ring {
            // Without a ring on this thread the op comes back and its drop closes it.
            let _ = crate::driver::uring::cell::submit_detached(crate::op::close::Close::new(fd));
            return;
        }
        drop(fd);
    }
}

impl SocketFd {
    /// Borrows the fd.
    pub(super) fn borrow(&self) -> BorrowedSocket<'_> {
        sys::borrow_socket(self.fd.as_ref().expect("a socket's fd is taken once"))
    }
}

// `AsFd`/`AsRawFd` (Windows: `AsSocket`/`AsRawSocket`), for socket2's `SockRef` and the
// fd owner's number.
sys::impl_as_socket!(SocketFd, |this| this.borrow());
