//! [`TcpStream`]: a TCP connection.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::io::owned::impl_owned_io;
use crate::net::addr::{ToSocketAddrs, resolve};
use crate::net::poll_io::impl_poll_io;
use crate::net::socket::{Kind, Socket};
use crate::net::stream_readiness::impl_stream_readiness;
use crate::net::tcp::socket_addr;
use crate::net::tcp::split::{OwnedReadHalf, OwnedWriteHalf, split};
use crate::net::tcp::split_borrowed::{ReadHalf, WriteHalf, split_borrowed};
use crate::runtime::Backend;
use crate::sys::OwnedSocket;
use crate::sys::socket::cloexec_type;

/// A TCP connection.
///
/// Reads and writes go through the owned-buffer traits
/// [`AsyncReadOwned`](crate::io::AsyncReadOwned) and
/// [`AsyncWriteOwned`](crate::io::AsyncWriteOwned), and through tokio's or futures'
/// `AsyncRead`/`AsyncWrite` with the `tokio-io` / `futures-io` features. Split it into
/// halves that two tasks can use with [`into_split`](TcpStream::into_split).
///
/// Dropping the stream with operations in flight cancels them; the fd is closed once
/// the kernel has finished with it.
pub struct TcpStream {
    pub(in crate::net) socket: Socket,
}

impl TcpStream {
    /// Connects to `address`, trying each resolved address in turn.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused`, `TimedOut`, `NetworkUnreachable`..., the last address's
    /// error when none connects; a failed name lookup.
    pub async fn connect(address: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last_error = None;
        for address in resolve(address).await? {
            match TcpStream::connect_one(address).await {
                Ok(stream) => return Ok(stream),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("resolve returns at least one address"))
    }

    async fn connect_one(address: SocketAddr) -> io::Result<TcpStream> {
        let fd = socket2::Socket::new(
            socket2::Domain::for_address(address),
            cloexec_type(socket2::Type::STREAM),
            None,
        )?;
        let socket =
            Socket::connect_fd(fd.into(), Kind::Stream, address.into(), Some(false)).await?;
        Ok(TcpStream { socket })
    }

    pub(crate) fn from_socket(socket: Socket) -> TcpStream {
        TcpStream { socket }
    }

    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Wraps a connected std stream for the current runtime (its blocking mode is set
    /// as the backend needs).
    ///
    /// # Errors
    ///
    /// Outside a runtime with I/O enabled.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            socket: Socket::new(OwnedSocket::from(stream), Kind::Stream)?,
        })
    }

    /// Gives the socket back as a std stream, in non-blocking mode.
    ///
    /// # Errors
    ///
    /// Besides failing to set the mode: on io_uring, when a read future was dropped
    /// after the kernel had completed the read, its bytes are kept for the next read
    /// (see [`AsyncReadOwned`](crate::io::AsyncReadOwned)). While any are kept this
    /// fails, and the stream is closed, rather than hand over a stream with a hole in
    /// it: read them first. A cancelled read that is still in the kernel when this is
    /// called does not make it fail; bytes it takes before its cancellation lands are
    /// lost (logged as a warning).
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Ok(self.socket.into_fd()?.into())
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(self.socket.as_sock_ref().peer_addr()?)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(self.socket.as_sock_ref().local_addr()?)
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.socket.as_sock_ref().take_error()
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.socket.as_sock_ref().tcp_nodelay()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm: small writes go out at once
    /// instead of waiting to be coalesced).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.as_sock_ref().set_tcp_nodelay(nodelay)
    }

    /// Whether `TCP_QUICKACK` is set (Linux: acknowledgements are sent at once rather
    /// than delayed; the kernel may turn it off again by itself).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn quickack(&self) -> io::Result<bool> {
        self.socket.as_sock_ref().tcp_quickack()
    }

    /// Sets `TCP_QUICKACK` (see [`quickack`](TcpStream::quickack)).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn set_quickack(&self, quickack: bool) -> io::Result<()> {
        self.socket.as_sock_ref().set_tcp_quickack(quickack)
    }

    /// The socket's `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.socket.as_sock_ref().ttl_v4()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.socket.as_sock_ref().set_ttl_v4(ttl)
    }

    /// `SO_LINGER`: `None` when off (the default), otherwise how long a close waits
    /// for unsent data (`Some(Duration::ZERO)`: the close resets the connection).
    pub fn linger(&self) -> io::Result<Option<std::time::Duration>> {
        self.socket.as_sock_ref().linger()
    }

    /// Sets `SO_LINGER`.
    ///
    /// Deprecated, as in tokio: a non-zero linger makes the close of the socket
    /// block until the unsent data is out or the time has passed, and the close runs
    /// in the runtime (on a worker with mio, in the ring with io_uring), not in a
    /// place that may block. Use [`set_zero_linger`](TcpStream::set_zero_linger) for
    /// the abortive close, or [`shutdown_with`](TcpStream::shutdown_with) followed by
    /// reading to end of stream for a graceful one.
    #[deprecated = "`SO_LINGER` makes closing the socket block; use `set_zero_linger` or a shutdown"]
    pub fn set_linger(&self, linger: Option<std::time::Duration>) -> io::Result<()> {
        self.socket.as_sock_ref().set_linger(linger)
    }

    /// Sets a linger of zero (`SO_LINGER` on, 0 s): closing the stream then resets the
    /// connection (the peer's reads fail with `ConnectionReset`) and drops unsent data,
    /// and the socket skips `TIME_WAIT`. Closing never blocks.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.socket
            .as_sock_ref()
            .set_linger(Some(std::time::Duration::ZERO))
    }

    /// Shuts down the read side, the write side or both (`shutdown(2)`). After
    /// `Shutdown::Write` the peer reads end of stream; after `Shutdown::Read` reads
    /// return `Ok(0)`.
    ///
    /// Named `shutdown_with` so that it does not shadow tokio's
    /// `AsyncWriteExt::shutdown()` on this type.
    pub async fn shutdown_with(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.socket.shutdown(how).await
    }

    /// Splits the stream into a read half and a write half that borrow it, for use at
    /// the same time within one task (`join!`, `select!`, `tokio::io::copy` between
    /// the halves). They cost nothing: both are plain references. The write half's
    /// `poll_shutdown` shuts down the write direction; dropping it does nothing.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split_borrowed(self)
    }

    /// Splits the stream into a read half and a write half that can move to different
    /// tasks. [`OwnedReadHalf::reunite`] puts them back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split(self)
    }

    /// The backend this stream runs on.
    pub fn backend(&self) -> Backend {
        self.socket.backend()
    }
}

impl_owned_io!(read: TcpStream);
crate::net::pooled_read::impl_read_pooled!(TcpStream);
impl_owned_io!(write: TcpStream);
crate::net::zero_copy::impl_zero_copy_write!(TcpStream);
impl_poll_io!(read: TcpStream);
impl_poll_io!(write: TcpStream);
impl_stream_readiness!(stream: TcpStream);

impl TryFrom<std::net::TcpStream> for TcpStream {
    type Error = io::Error;

    /// [`TcpStream::from_std`].
    fn try_from(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::from_std(stream)
    }
}

impl AsRef<TcpStream> for TcpStream {
    fn as_ref(&self) -> &TcpStream {
        self
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.socket.fd())
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .field("backend", &self.backend())
            .finish()
    }
}
