//! Connecting a [`Socket`]: `connect_fd` for a new socket (it decides when the fd is
//! registered) and `connect` for one that already is.
//!
//! On mio the `connect` syscall must come *before* the fd is registered (see
//! `connect_fd`): a socket registered while it is not yet connected can record a
//! hang-up that is never cleared. On io_uring the `CONNECT` op runs on the blocking
//! socket; when it was resubmitted after its ring retired, the kernel's `EALREADY` or
//! `EINPROGRESS` means "still connecting" (wait for writability, then read
//! `SO_ERROR`) and `EISCONN` "connected".

use std::io;

use socket2::SockAddr;

use super::socket::{Kind, Socket};
use super::socket_ready::Direction;
use crate::driver::{Backend, Handle};
use crate::op;
use crate::op::connect::Connect;
use crate::sys::OwnedSocket;
use crate::sys::socket::{connect_again_state, connect_in_progress};

impl Socket {
    /// Connects a new, not yet registered socket (`fd`, of `kind`; `nonblocking` as
    /// for [`with_mode`](Socket::with_mode)) to `address`.
    ///
    /// On mio the `connect` syscall is issued *before* the fd is registered. A TCP
    /// socket that is not connected yet polls as hung up (`EPOLLHUP`, state `CLOSE`),
    /// and a worker parked in `epoll_wait` on the poll the fd is added to can record
    /// that edge as `READ_CLOSED`/`WRITE_CLOSED`, which are never cleared: every later
    /// read (or write) that finds nothing to do then spins forever in
    /// `Registration::poll_io` (`recv` keeps returning `EAGAIN` while the cell keeps
    /// saying "closed"). Registered after `connect`, the socket is in `SYN_SENT` or
    /// connected and reports no hang-up. (tokio registers after `connect` too.)
    pub(crate) async fn connect_fd(
        fd: OwnedSocket,
        kind: Kind,
        address: SockAddr,
        nonblocking: Option<bool>,
    ) -> io::Result<Socket> {
        let backend = crate::runtime::context::with_io(|handle| handle.and_then(Handle::backend));
        if backend != Some(Backend::Mio) {
            let socket = Socket::with_mode(fd, kind, nonblocking)?;
            socket.connect(address).await?;
            return Ok(socket);
        }
        if nonblocking != Some(true) {
            socket2::SockRef::from(&fd).set_nonblocking(true)?;
        }
        // The socket is not registered yet, so this call needs no `try_io`: on Windows
        // the registration's first poll reports the connection's state.
        let in_progress = match socket2::SockRef::from(&fd).connect(&address) {
            Ok(()) => false,
            Err(error) if connect_in_progress(&error) => true,
            Err(error) => return Err(error),
        };
        let socket = Socket::with_mode(fd, kind, Some(true))?;
        if in_progress {
            socket.ready(Direction::Write).await?;
            socket.take_error()?;
        }
        Ok(socket)
    }

    /// Connects to `address`.
    pub(crate) async fn connect(&self, address: SockAddr) -> io::Result<()> {
        let result = op::run(self.source(), Connect::new(self.fd.share(), address)).await;
        // A resubmitted io_uring connect (its ring was retired mid-way): the first
        // attempt goes on in the kernel (`EALREADY`, `EINPROGRESS`), or has finished
        // (`EISCONN`).
        match result.as_ref().err().and_then(connect_again_state) {
            Some(true) => {
                self.ready(Direction::Write).await?;
                self.take_error()
            }
            Some(false) => Ok(()),
            None => result,
        }
    }

    /// The pending socket error (`SO_ERROR`), as a result.
    fn take_error(&self) -> io::Result<()> {
        match self.as_sock_ref().take_error()? {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
