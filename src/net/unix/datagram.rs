//! [`UnixDatagram`]: Unix datagram sockets.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll, ready};

use socket2::SockAddr;
use tokio::io::ReadBuf;

use crate::io::{BufResult, Interest, IoBuf, IoBufMut, Ready};
use crate::net::socket::{Kind, Socket};
use crate::net::socket_datagram::{Datagram, Receive};
use crate::net::socket_ready::Direction;
use crate::net::unix::{path_addr, sock_addr, unix_addr};
use crate::runtime::Backend;
use crate::sys::socket::cloexec_type;

/// A Unix datagram socket.
///
/// As with [`UdpSocket`](crate::net::UdpSocket), one send is one datagram and one
/// receive takes one datagram; a datagram longer than the receive buffer is
/// **truncated** to it (the rest is discarded). Unlike UDP, delivery is reliable: a
/// send waits while the receiver's queue is full.
///
/// It has tokio's borrowed-buffer API (`send`, `recv`, `send_to`, `recv_from`, their
/// `try_*` and `poll_*` forms, `ready`) and the owned-buffer one (`send_owned`,
/// `recv_owned`, `send_to_owned`, `recv_from_owned`, ...; on io_uring one operation
/// straight from or into your buffer), which can be mixed (see [`crate::io`]).
///
/// ```
/// use ringtide::net::UnixDatagram;
///
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (a, b) = UnixDatagram::pair()?;
/// assert_eq!(a.send(b"ping").await?, 4);
/// let mut buf = [0; 64];
/// let len = b.recv(&mut buf).await?;
/// assert_eq!(&buf[..len], b"ping");
///
/// let (sent, _) = b.send_owned(b"pong".to_vec()).await;
/// assert_eq!(sent?, 4);
/// let (received, buf) = a.recv_owned(Vec::with_capacity(64)).await;
/// assert_eq!((received?, &buf[..]), (4, &b"pong"[..]));
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

    /// Sends `buf` as one datagram to the socket bound at `path` and returns how many
    /// bytes were sent (all of them). An empty `buf` sends an empty datagram.
    ///
    /// Waits while the receiver's queue (or the send buffer) is full. Cancel safe: a
    /// future dropped before it completes has sent nothing.
    ///
    /// # Errors
    ///
    /// `NotFound` / `ConnectionRefused` when no socket is bound there,
    /// `MessageTooLong` for a datagram over the socket's send buffer size.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let target = path_addr(path.as_ref())?;
        self.socket.send_datagram(buf, Some(&target)).await
    }

    /// [`send_to`](UnixDatagram::send_to) now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the datagram does not fit now (on mio also before the socket
    /// was first seen writable; the recorded readiness is then cleared, so
    /// [`writable`](UnixDatagram::writable) waits for room); otherwise as
    /// [`send_to`](UnixDatagram::send_to).
    pub fn try_send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let target = path_addr(path.as_ref())?;
        self.socket.try_send_datagram(buf, Some(&target))
    }

    /// Polls to send `buf` as one datagram to the socket bound at `path`.
    ///
    /// Only the task of the last `poll_send*`/
    /// [`poll_send_ready`](UnixDatagram::poll_send_ready) call is woken: there is one
    /// waker slot for sending.
    ///
    /// # Errors
    ///
    /// As [`send_to`](UnixDatagram::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        path: impl AsRef<Path>,
    ) -> Poll<io::Result<usize>> {
        let target = path_addr(path.as_ref())?;
        self.socket.poll_send_datagram(cx, buf, Some(&target))
    }

    /// [`send_to`](UnixDatagram::send_to) an address (a path or, on Linux, an abstract
    /// name).
    ///
    /// # Errors
    ///
    /// As [`send_to`](UnixDatagram::send_to); `InvalidInput` for an unnamed address.
    pub async fn send_to_addr(&self, buf: &[u8], target: &SocketAddr) -> io::Result<usize> {
        let target = sock_addr(target)?;
        self.socket.send_datagram(buf, Some(&target)).await
    }

    /// Sends `buf` as one datagram to the connected peer. Cancel safe, as
    /// [`send_to`](UnixDatagram::send_to).
    ///
    /// # Errors
    ///
    /// `NotConnected` when the socket is not connected, `ConnectionRefused` when the
    /// peer is gone.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.socket.send_datagram(buf, None).await
    }

    /// [`send`](UnixDatagram::send) now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` as in [`try_send_to`](UnixDatagram::try_send_to); otherwise as
    /// [`send`](UnixDatagram::send).
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.socket.try_send_datagram(buf, None)
    }

    /// Polls to send `buf` as one datagram to the connected peer (one waker slot, as
    /// [`poll_send_to`](UnixDatagram::poll_send_to)).
    ///
    /// # Errors
    ///
    /// As [`send`](UnixDatagram::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.socket.poll_send_datagram(cx, buf, None)
    }

    /// Receives one datagram into `buf` and returns its length and sender (unnamed
    /// when the sender is not bound). A datagram longer than `buf` is truncated to it;
    /// an empty datagram gives `Ok((0, sender))`, and so does any datagram received
    /// into an empty `buf`.
    ///
    /// Waits until a datagram is there. Cancel safe: a future dropped before it
    /// completes has taken no datagram.
    ///
    /// # Errors
    ///
    /// The `recvfrom(2)` error.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let datagram = self.socket.recv_datagram(buf, Receive::Take).await?;
        with_sender(datagram)
    }

    /// [`recv_from`](UnixDatagram::recv_from) now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when no datagram is queued (on mio also when none is known to be:
    /// the recorded readiness is then cleared, so [`readable`](UnixDatagram::readable)
    /// waits for the next datagram); otherwise as
    /// [`recv_from`](UnixDatagram::recv_from).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        with_sender(self.socket.try_recv_datagram(buf, Receive::Take)?)
    }

    /// Polls to receive one datagram into `buf`'s unfilled part, which it advances by
    /// the datagram's length (truncated to the unfilled part), and returns the sender.
    ///
    /// Only the task of the last `poll_recv*`/
    /// [`poll_recv_ready`](UnixDatagram::poll_recv_ready) call is woken: there is one
    /// waker slot for receiving.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UnixDatagram::recv_from).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let from = ready!(self.socket.poll_recv_read_buf(cx, buf, Receive::Take))?;
        Poll::Ready(sender(from))
    }

    /// Receives one datagram into `buf` and returns its length (truncated as in
    /// [`recv_from`](UnixDatagram::recv_from)). Cancel safe.
    ///
    /// # Errors
    ///
    /// The `recv(2)` error.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (count, _) = self.socket.recv_datagram(buf, Receive::Take).await?;
        Ok(count)
    }

    /// [`recv`](UnixDatagram::recv) now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` as in [`try_recv_from`](UnixDatagram::try_recv_from); otherwise as
    /// [`recv`](UnixDatagram::recv).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (count, _) = self.socket.try_recv_datagram(buf, Receive::Take)?;
        Ok(count)
    }

    /// Polls to receive one datagram into `buf`'s unfilled part, which it advances
    /// (one waker slot, as [`poll_recv_from`](UnixDatagram::poll_recv_from)).
    ///
    /// # Errors
    ///
    /// As [`recv`](UnixDatagram::recv).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        ready!(self.socket.poll_recv_read_buf(cx, buf, Receive::Take))?;
        Poll::Ready(Ok(()))
    }

    /// Waits until the socket is ready for any part of `interest` and returns what it
    /// is ready for (at least one bit `interest` asks about). Readiness is a hint:
    /// follow it with the `try_*` methods. Cancel safe; any number of tasks may wait.
    ///
    /// # Errors
    ///
    /// Once the runtime's I/O driver has shut down.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.socket.ready_interest(interest).await
    }

    /// Waits until a datagram (or an error) is ready to be received. Cancel safe; any
    /// number of tasks may wait at once.
    ///
    /// # Errors
    ///
    /// Once the runtime's I/O driver has shut down.
    pub async fn readable(&self) -> io::Result<()> {
        self.socket.ready(Direction::Read).await
    }

    /// Waits until the socket can send. Cancel safe; any number of tasks may wait at
    /// once.
    ///
    /// # Errors
    ///
    /// Once the runtime's I/O driver has shut down.
    pub async fn writable(&self) -> io::Result<()> {
        self.socket.ready(Direction::Write).await
    }

    /// Polls for receive readiness: `Ready(Ok(()))` when a receive would not block,
    /// otherwise `cx` is stored (in the one receive waker slot) and `Pending`.
    ///
    /// # Errors
    ///
    /// Once the runtime's I/O driver has shut down.
    pub fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.socket.poll_ready(cx, Direction::Read)
    }

    /// Polls for send readiness: `Ready(Ok(()))` when a send would not block,
    /// otherwise `cx` is stored (in the one send waker slot) and `Pending`.
    ///
    /// # Errors
    ///
    /// Once the runtime's I/O driver has shut down.
    pub fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.socket.poll_ready(cx, Direction::Write)
    }

    /// Owned-buffer [`send_to`](UnixDatagram::send_to): sends `buf`'s initialised
    /// bytes as one datagram to the socket bound at `path` and gives `buf` back with
    /// the count. On io_uring this is one `SENDMSG` straight from `buf`.
    ///
    /// Cancel safety: dropping the future may leave the datagram sent or not.
    ///
    /// # Errors
    ///
    /// As [`send_to`](UnixDatagram::send_to).
    pub async fn send_to_owned<B: IoBuf>(
        &self,
        buf: B,
        path: impl AsRef<Path>,
    ) -> BufResult<usize, B> {
        match path_addr(path.as_ref()) {
            Ok(target) => self.socket.send_to(buf, target).await,
            Err(error) => (Err(error), buf),
        }
    }

    /// Owned-buffer [`send_to_addr`](UnixDatagram::send_to_addr).
    ///
    /// # Errors
    ///
    /// As [`send_to_addr`](UnixDatagram::send_to_addr).
    pub async fn send_to_addr_owned<B: IoBuf>(
        &self,
        buf: B,
        target: &SocketAddr,
    ) -> BufResult<usize, B> {
        match sock_addr(target) {
            Ok(target) => self.socket.send_to(buf, target).await,
            Err(error) => (Err(error), buf),
        }
    }

    /// Owned-buffer [`recv_from`](UnixDatagram::recv_from): receives one datagram into
    /// `buf` (from its start, up to its capacity; a longer one is truncated) and gives
    /// `buf` back with the length and sender. On io_uring this is one `RECVMSG`
    /// straight into `buf`.
    ///
    /// Cancel safety: dropping the future loses no datagram; one the kernel had already
    /// handed to the cancelled receive (io_uring) is kept, cut to that receive's
    /// buffer, and returned first by the next receive of either API.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UnixDatagram::recv_from).
    pub async fn recv_from_owned<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (result, buf) = self.socket.recv_from(buf).await;
        let result = result.and_then(|(count, from)| Ok((count, unix_addr(&from)?)));
        (result, buf)
    }

    /// Owned-buffer [`send`](UnixDatagram::send) to the connected peer. Cancel safety
    /// as [`send_to_owned`](UnixDatagram::send_to_owned).
    ///
    /// # Errors
    ///
    /// As [`send`](UnixDatagram::send).
    pub async fn send_owned<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.send(buf, 0).await
    }

    /// Owned-buffer [`recv`](UnixDatagram::recv) (truncated to `buf`'s capacity).
    /// Cancel safety as [`recv_from_owned`](UnixDatagram::recv_from_owned): no
    /// datagram is lost.
    ///
    /// # Errors
    ///
    /// As [`recv`](UnixDatagram::recv).
    pub async fn recv_owned<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.recv_one_datagram(buf).await
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

    /// Shuts down the read side, the write side or both (`shutdown(2)`, as tokio's
    /// `shutdown`): after `Write` sends fail with `BrokenPipe`, after `Read` receives
    /// return what is queued and then `Ok(0)`.
    ///
    /// # Errors
    ///
    /// `NotConnected` on a socket that is not connected.
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.socket.as_sock_ref().shutdown(how)
    }

    /// [`shutdown`](UnixDatagram::shutdown) as an operation of the backend (an io_uring
    /// `SHUTDOWN`).
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

#[cfg(feature = "bytes")]
impl UnixDatagram {
    /// Receives one datagram into `buf`'s spare capacity (growing it if it has none,
    /// as `BufMut::chunk_mut` does), advances `buf` by its length and returns that
    /// length. Waits until a datagram is there. Cancel safe.
    ///
    /// # Errors
    ///
    /// As [`recv`](UnixDatagram::recv).
    pub async fn recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        let (count, _) = self.socket.recv_buf_mut(buf, Receive::Take).await?;
        Ok(count)
    }

    /// [`recv_buf`](UnixDatagram::recv_buf) now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` as in [`try_recv_from`](UnixDatagram::try_recv_from); otherwise
    /// as [`recv`](UnixDatagram::recv).
    pub fn try_recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        let (count, _) = self.socket.try_recv_buf_mut(buf, Receive::Take)?;
        Ok(count)
    }

    /// [`recv_buf`](UnixDatagram::recv_buf) that also returns the sender.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UnixDatagram::recv_from).
    pub async fn recv_buf_from<B: bytes::BufMut>(
        &self,
        buf: &mut B,
    ) -> io::Result<(usize, SocketAddr)> {
        with_sender(self.socket.recv_buf_mut(buf, Receive::Take).await?)
    }

    /// [`recv_buf_from`](UnixDatagram::recv_buf_from) now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` as in [`try_recv_from`](UnixDatagram::try_recv_from); otherwise
    /// as [`recv_from`](UnixDatagram::recv_from).
    pub fn try_recv_buf_from<B: bytes::BufMut>(
        &self,
        buf: &mut B,
    ) -> io::Result<(usize, SocketAddr)> {
        with_sender(self.socket.try_recv_buf_mut(buf, Receive::Take)?)
    }
}

/// A received datagram's length and sender.
fn with_sender((count, from): Datagram) -> io::Result<(usize, SocketAddr)> {
    Ok((count, sender(from)?))
}

/// The address of a datagram's sender (unnamed when it is not bound).
fn sender(from: Option<SockAddr>) -> io::Result<SocketAddr> {
    match from {
        Some(from) => unix_addr(&from),
        None => Err(io::Error::other("kept datagram without a sender")),
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
