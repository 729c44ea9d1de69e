//! [`UnixDatagram`]: Unix datagram sockets.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use socket2::SockAddr;

use crate::io::{BufResult, IoBuf, IoBufMut};
use crate::net::socket::{Kind, Socket};
use crate::net::socket_ready::Direction;
use crate::net::unix::{path_addr, sock_addr, unix_addr};
use crate::runtime::Backend;
use crate::sys::socket::cloexec_type;

/// A Unix datagram socket.
///
/// As with [`UdpSocket`](crate::net::UdpSocket), buffers are owned and come back in
/// the [`BufResult`], one send is one datagram and one receive takes one datagram; a
/// datagram longer than the receive buffer's capacity is **truncated** to it (the rest
/// is discarded). Unlike UDP, delivery is reliable: a send waits while the receiver's
/// queue is full.
///
/// ```
/// use ringtide::net::UnixDatagram;
///
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (a, b) = UnixDatagram::pair()?;
/// let (sent, _) = a.send(b"ping").await;
/// assert_eq!(sent?, 4);
/// let (received, buf) = b.recv(Vec::with_capacity(64)).await;
/// assert_eq!((received?, &buf[..]), (4, &b"ping"[..]));
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct UnixDatagram {
    socket: Socket,
}

impl UnixDatagram {
    /// A socket bound to `path` (on Linux, a path that starts with a NUL byte is an
    /// abstract name: see the [module documentation](crate::net::unix)).
    ///
    /// # Errors
    ///
    /// `AddrInUse` when the path exists, `InvalidInput` for a path longer than
    /// `sun_path`, or no runtime with I/O enabled.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_sock_addr(&path_addr(path.as_ref())?)
    }

    /// A socket bound to `address` (a path or, on Linux, an abstract name).
    ///
    /// # Errors
    ///
    /// As [`bind`](UnixDatagram::bind); `InvalidInput` for an unnamed address.
    pub fn bind_addr(address: &SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_sock_addr(&sock_addr(address)?)
    }

    fn bind_sock_addr(address: &SockAddr) -> io::Result<UnixDatagram> {
        let socket = UnixDatagram::unbound()?;
        socket.socket.as_sock_ref().bind(address)?;
        Ok(socket)
    }

    /// A socket bound to no address. It can send (its datagrams arrive from an unnamed
    /// address, so nobody can answer them) and, once connected, receive from its peer.
    ///
    /// # Errors
    ///
    /// `EMFILE` and the like, or no runtime with I/O enabled.
    pub fn unbound() -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            socket: Socket::create(
                socket2::Domain::UNIX,
                cloexec_type(socket2::Type::DGRAM),
                Kind::Datagram,
            )?,
        })
    }

    /// A pair of connected, unnamed sockets (`socketpair(2)`).
    ///
    /// # Errors
    ///
    /// `EMFILE` and the like, or no runtime with I/O enabled.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = socket2::Socket::pair(
            socket2::Domain::UNIX,
            cloexec_type(socket2::Type::DGRAM),
            None,
        )?;
        Ok((
            UnixDatagram {
                socket: Socket::new(a.into(), Kind::Datagram)?,
            },
            UnixDatagram {
                socket: Socket::new(b.into(), Kind::Datagram)?,
            },
        ))
    }

    /// Sets the default destination of [`send`](UnixDatagram::send) and the only
    /// source [`recv`](UnixDatagram::recv) accepts (synchronous, like tokio's).
    ///
    /// # Errors
    ///
    /// `NotFound` / `ConnectionRefused` when no socket is bound at `path`.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.socket
            .as_sock_ref()
            .connect(&path_addr(path.as_ref())?)
    }

    /// [`connect`](UnixDatagram::connect) to `address` (a path or, on Linux, an
    /// abstract name).
    ///
    /// # Errors
    ///
    /// As [`connect`](UnixDatagram::connect); `InvalidInput` for an unnamed address.
    pub fn connect_addr(&self, address: &SocketAddr) -> io::Result<()> {
        self.socket.as_sock_ref().connect(&sock_addr(address)?)
    }

    /// Sends `buf`'s initialised bytes as one datagram to the socket bound at `path`,
    /// and returns how many were sent (all of them).
    ///
    /// Cancel safety: dropping the future may leave the datagram sent or not.
    ///
    /// # Errors
    ///
    /// `NotFound` / `ConnectionRefused` when no socket is bound there,
    /// `MessageTooLong` for a datagram over the socket's send buffer size.
    pub async fn send_to<B: IoBuf>(&self, buf: B, path: impl AsRef<Path>) -> BufResult<usize, B> {
        match path_addr(path.as_ref()) {
            Ok(target) => self.socket.send_to(buf, target).await,
            Err(error) => (Err(error), buf),
        }
    }

    /// [`send_to`](UnixDatagram::send_to) an address (a path or, on Linux, an abstract
    /// name).
    ///
    /// # Errors
    ///
    /// As [`send_to`](UnixDatagram::send_to); `InvalidInput` for an unnamed address.
    pub async fn send_to_addr<B: IoBuf>(&self, buf: B, target: &SocketAddr) -> BufResult<usize, B> {
        match sock_addr(target) {
            Ok(target) => self.socket.send_to(buf, target).await,
            Err(error) => (Err(error), buf),
        }
    }

    /// Receives one datagram into `buf` (from its start, up to its capacity; a longer
    /// datagram is truncated) and returns its length and sender (unnamed when the
    /// sender is not bound).
    ///
    /// Cancel safety: dropping the future loses no datagram; one the kernel had already
    /// handed to the cancelled receive (io_uring) is kept, cut to that receive's
    /// buffer, and returned first by the next `recv` or `recv_from`.
    ///
    /// # Errors
    ///
    /// The `recvmsg(2)` error.
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (result, buf) = self.socket.recv_from(buf).await;
        let result = result.and_then(|(count, from)| Ok((count, unix_addr(&from)?)));
        (result, buf)
    }

    /// Sends `buf`'s initialised bytes as one datagram to the connected peer.
    ///
    /// Cancel safety: as [`send_to`](UnixDatagram::send_to).
    ///
    /// # Errors
    ///
    /// `NotConnected` when the socket is not connected, `ConnectionRefused` when the
    /// peer is gone.
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.send(buf, 0).await
    }

    /// Receives one datagram into `buf` (truncated to its capacity) and returns its
    /// length.
    ///
    /// Cancel safety: as [`recv_from`](UnixDatagram::recv_from): no datagram is lost.
    ///
    /// # Errors
    ///
    /// The `recvmsg(2)` error.
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.recv(buf, 0).await
    }

    /// Waits until a datagram (or an error) is ready to be received.
    ///
    /// # Errors
    ///
    /// A failure to wait (no runtime).
    pub async fn readable(&self) -> io::Result<()> {
        self.socket.ready(Direction::Read).await
    }

    /// Waits until the socket can send.
    ///
    /// # Errors
    ///
    /// A failure to wait (no runtime).
    pub async fn writable(&self) -> io::Result<()> {
        self.socket.ready(Direction::Write).await
    }

    /// The address this socket is bound to (unnamed when it is not).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        unix_addr(&self.socket.as_sock_ref().local_addr()?)
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` when the socket is not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        unix_addr(&self.socket.as_sock_ref().peer_addr()?)
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.socket.as_sock_ref().take_error()
    }

    /// Shuts down the read side, the write side or both (`shutdown(2)`).
    ///
    /// # Errors
    ///
    /// The `shutdown(2)` error.
    pub async fn shutdown_with(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.socket.shutdown(how).await
    }

    /// Wraps a std socket for the current runtime (its blocking mode is set as the
    /// backend needs).
    ///
    /// # Errors
    ///
    /// Outside a runtime with I/O enabled.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            socket: Socket::new(OwnedFd::from(socket), Kind::Datagram)?,
        })
    }

    /// Gives the socket back as a std socket, in non-blocking mode. A datagram kept
    /// from a cancelled receive (io_uring) is dropped, and one that a cancelled receive
    /// still in the kernel takes before its cancellation lands is lost (both logged as
    /// warnings).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        Ok(self.socket.into_fd()?.into())
    }

    /// The backend this socket runs on.
    pub fn backend(&self) -> Backend {
        self.socket.backend()
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.fd()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl IntoRawFd for UnixDatagram {
    /// Hands the fd over, in the mode the backend set (blocking on io_uring,
    /// non-blocking on mio). As with `into_std`, datagrams cancelled receives took
    /// (io_uring) are lost (logged as warnings).
    fn into_raw_fd(self) -> RawFd {
        self.socket.into_owned_fd().into_raw_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.socket.fd())
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .field("backend", &self.backend())
            .finish()
    }
}
