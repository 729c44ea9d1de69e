//! The poll-based accept of a listening [`Socket`], behind tokio's
//! `TcpListener::poll_accept` and `UnixListener::poll_accept`: `poll_accept_raw`
//! returns a connection or stores the caller's waker, keeping no state in the caller.
//!
//! Where connections come from, per backend:
//!
//! * mio: a non-blocking `accept4` once the listener is readable; the waker goes to
//!   the read direction's one `poll_*` slot (as tokio's), so only the task of the last
//!   call is woken. (`accept()` futures wait as listed waiters instead, all woken.)
//! * io_uring, by default: a non-blocking `accept4` once the listener's epoll
//!   instance, polled by the ring, is readable (`net::listener_readiness`); the waker
//!   goes to that readiness' one `poll_*` slot, so only the task of the last call is
//!   woken. No ring request holds the listening socket.
//! * io_uring with multishot accept (asked for): the listener's armed multishot request (shared
//!   with `accept()`; every polling task is woken by the next connection).
//! * io_uring with single accepts: connections kept from cancelled accepts first, then
//!   one `ACCEPT` kept in flight in the listener's `AcceptStream` between polls (the
//!   socket is blocking on io_uring, so an `accept4` on the worker could block it).
//!   Only the task of the last poll is woken.
//!
//! Cancel safe like `accept()`: a caller that stops polling loses no connection (it
//! stays queued in the kernel, in the multishot request, or in the kept op, whose
//! result is kept for the next accept if the listener is dropped first).

use std::io;
use std::task::{Context, Poll, ready};

use socket2::{SockAddr, SockAddrStorage};

use super::socket::{Kind, Socket};
use super::socket_ready::Direction;
use crate::driver::op::IoSource;
use crate::op::accept::Accepted;
use crate::op::socket_address::sock_addr;
use crate::sys::{self, RawSocket};

impl Socket {
    /// Accepts a connection if one is ready, or stores `cx`'s waker (see the module
    /// documentation); returns the new socket and the peer's address.
    pub(crate) fn poll_accept_raw(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Socket, SockAddr)>> {
        let (accepted, nonblocking) = match &self.state().source {
            IoSource::Mio(_) => {
                let accepted = ready!(self.poll_io(cx, Direction::Read, || accept_now(self.fd())))?;
                (accepted, Some(true))
            }
            IoSource::Uring => ready!(self.poll_accept_uring(cx))?,
        };
        let socket = Socket::with_mode(accepted.fd, Kind::Stream, nonblocking)?;
        Poll::Ready(Ok((socket, accepted.peer)))
    }

    /// io_uring: a connection and whether it is known to be non-blocking (`None`:
    /// unknown, checked by `with_mode`; every one comes blocking, as io_uring wants).
    #[cfg(ringtide_uring)]
    fn poll_accept_uring(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Accepted, Option<bool>)>> {
        let Some(accept_stream) = self.accept_slot() else {
            return Poll::Ready(Err(io::Error::other(
                "accept on a socket that is not a listener",
            )));
        };
        if let Some(readiness) = accept_stream.by_readiness() {
            // `accept4` without `SOCK_NONBLOCK`.
            let accepted = ready!(readiness.poll_accept(cx, self.fd()))?;
            return Poll::Ready(Ok((accepted, Some(false))));
        }
        let accepted = if let Some(accepted) = ready!(self.poll_accept_multishot(cx)) {
            accepted
        } else if let Some(kept) = ready!(self.state().accepts().poll_take(cx)) {
            Ok(kept)
        } else {
            ready!(
                accept_stream.poll_single(cx, || crate::op::accept::Accept::new(self.fd.share()))
            )
        };
        Poll::Ready(accepted.map(|accepted| (accepted, None)))
    }

    #[cfg(not(ringtide_uring))]
    fn poll_accept_uring(
        &self,
        _cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Accepted, Option<bool>)>> {
        Poll::Ready(Err(super::socket::no_runtime()))
    }
}

/// One non-blocking accept on the (non-blocking) listener `fd`: a close-on-exec,
/// non-blocking connection and its peer's address.
fn accept_now(fd: RawSocket) -> io::Result<Accepted> {
    let mut storage = SockAddrStorage::zeroed();
    let mut length = 0;
    let fd = sys::socket::accept(fd, &mut storage, &mut length)?;
    Ok(Accepted {
        fd,
        peer: sock_addr(&storage, length),
    })
}
