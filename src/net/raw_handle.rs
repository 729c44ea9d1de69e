//! The OS-handle traits of the TCP and UDP types, one macro call per type (the macros
//! live in `sys`, which spells each platform's traits):
//!
//! * Unix: `AsFd`, `AsRawFd`, `IntoRawFd`, and `FromRawFd` for [`TcpSocket`];
//! * Windows: `AsSocket`, `AsRawSocket`, `IntoRawSocket`, and `FromRawSocket` for
//!   [`TcpSocket`].
//!
//! The other types are registered with a runtime when created, so (as in tokio) they
//! are built from a std socket (`from_std`), not from a raw number. The Unix socket
//! types (`net::unix`) implement the fd traits in their own files.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use crate::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use crate::sys;

sys::impl_as_socket!(TcpStream, |this| this.socket.as_fd());
sys::impl_into_raw_socket!(
    TcpStream,
    /// Hands the fd over, in the mode the backend set (blocking on io_uring,
    /// non-blocking on mio). This cannot fail, so unlike `into_std` it loses what
    /// cancelled reads left (io_uring): bytes kept for the next read are dropped, and
    /// a cancelled read still in the kernel may take bytes before its cancellation
    /// lands (both logged as warnings).
    |this| this.socket.into_owned_fd()
);

sys::impl_as_socket!(OwnedReadHalf, |this| this.stream.socket.as_fd());
sys::impl_as_socket!(OwnedWriteHalf, |this| this.stream.socket.as_fd());

sys::impl_as_socket!(TcpListener, |this| this.socket.lend_fd());
sys::impl_into_raw_socket!(
    TcpListener,
    /// Hands the fd over, in the mode the backend set (blocking on io_uring,
    /// non-blocking on mio). Connections the runtime accepted but no `accept` call took
    /// are dropped as described for `into_std`.
    |this| this.socket.into_owned_fd()
);

sys::impl_as_socket!(UdpSocket, |this| this.socket.as_fd());
sys::impl_into_raw_socket!(
    UdpSocket,
    /// Hands the fd over, in the mode the backend set (blocking on io_uring,
    /// non-blocking on mio). As with `into_std`, datagrams cancelled receives took
    /// (io_uring) are lost (logged as warnings).
    |this| this.socket.into_owned_fd()
);

// Lending the fd marks it as possibly duplicated (see `TcpSocket`'s `fd_lent`).
sys::impl_as_socket!(TcpSocket, |this| {
    this.fd_lent.store(true, Ordering::Relaxed);
    sys::borrow_socket(&this.inner)
});
sys::impl_into_raw_socket!(TcpSocket, |this| sys::OwnedSocket::from(this.inner));
sys::impl_from_raw_socket!(
    TcpSocket,
    /// Takes over a TCP socket that is not yet listening or connected (the socket may
    /// have duplicates, so the listener it becomes never shuts it down on drop).
    |owned| TcpSocket {
        inner: socket2::Socket::from(owned),
        fd_lent: AtomicBool::new(true),
    }
);
