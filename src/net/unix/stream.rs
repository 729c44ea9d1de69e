//! [`UnixStream`]: a Unix stream connection.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use socket2::SockAddr;

use crate::io::owned::impl_owned_io;
use crate::net::poll_io::impl_poll_io;
use crate::net::socket::{Kind, Socket};
use crate::net::stream_readiness::impl_stream_readiness;
use crate::net::unix::UCred;
use crate::net::unix::split::{OwnedReadHalf, OwnedWriteHalf, split};
use crate::net::unix::split_borrowed::{ReadHalf, WriteHalf, split_borrowed};
use crate::net::unix::{path_addr, sock_addr, unix_addr};
use crate::runtime::Backend;
use crate::sys::socket::cloexec_type;

/// A Unix stream connection.
///
/// Reads and writes go through the owned-buffer traits
/// [`AsyncReadOwned`](crate::io::AsyncReadOwned) and
/// [`AsyncWriteOwned`](crate::io::AsyncWriteOwned), with the same cancel safety as
/// [`TcpStream`](crate::net::TcpStream)'s: a dropped read loses no bytes. Split it into
/// halves that two tasks can use with [`into_split`](UnixStream::into_split).
///
/// Dropping the stream with operations in flight cancels them; the fd is closed once
/// the kernel has finished with it.
///
/// ```
/// use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
/// use ringtide::net::UnixStream;
///
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (mut a, mut b) = UnixStream::pair()?;
/// let (result, _) = a.write_all_owned(b"hello").await;
/// result?;
/// let (result, buf) = b.read_exact_owned(Vec::with_capacity(5)).await;
/// result?;
/// assert_eq!(buf, b"hello");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct UnixStream {
    socket: Socket,
}

impl UnixStream {
    /// Connects to the listener at `path` (on Linux, a path that starts with a NUL byte
    /// is an abstract name: see the [module documentation](crate::net::unix)).
    ///
    /// # Errors
    ///
    /// `NotFound` when nothing is at the path, `ConnectionRefused` when no listener is
    /// bound there any more, `InvalidInput` for a path longer than `sun_path`, or no
    /// runtime with I/O enabled.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let address = path_addr(path.as_ref())?;
        UnixStream::connect_sock_addr(address).await
    }

    /// Connects to `address` (a path or, on Linux, an abstract name).
    ///
    /// # Errors
    ///
    /// As [`connect`](UnixStream::connect); `InvalidInput` for an unnamed address.
    pub async fn connect_addr(address: &SocketAddr) -> io::Result<UnixStream> {
        let address = sock_addr(address)?;
        UnixStream::connect_sock_addr(address).await
    }

    async fn connect_sock_addr(address: SockAddr) -> io::Result<UnixStream> {
        // Registered (on mio) only after `connect(2)`: see `Socket::connect_fd`.
        let fd = socket2::Socket::new(
            socket2::Domain::UNIX,
            cloexec_type(socket2::Type::STREAM),
            None,
        )?;
        let socket = Socket::connect_fd(fd.into(), Kind::Stream, address, Some(false)).await?;
        Ok(UnixStream { socket })
    }

    /// A pair of connected streams (`socketpair(2)`).
    ///
    /// # Errors
    ///
    /// `EMFILE` and the like, or no runtime with I/O enabled.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = socket2::Socket::pair(
            socket2::Domain::UNIX,
            cloexec_type(socket2::Type::STREAM),
            None,
        )?;
        Ok((
            UnixStream {
                socket: Socket::new(a.into(), Kind::Stream)?,
            },
            UnixStream {
                socket: Socket::new(b.into(), Kind::Stream)?,
            },
        ))
    }

    pub(crate) fn from_socket(socket: Socket) -> UnixStream {
        UnixStream { socket }
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
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            socket: Socket::new(OwnedFd::from(stream), Kind::Stream)?,
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
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        Ok(self.socket.into_fd()?.into())
    }

    /// The local address (usually unnamed for a connecting client).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        unix_addr(&self.socket.as_sock_ref().local_addr()?)
    }

    /// The remote address (unnamed for the accepting side's peer when the client did
    /// not bind, and for both ends of a [`pair`](UnixStream::pair)).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        unix_addr(&self.socket.as_sock_ref().peer_addr()?)
    }

    /// The credentials of the peer process (its user, group and, where the platform
    /// reports it, process id), as the kernel recorded them when the connection was
    /// made (`SO_PEERCRED` on Linux, `getpeereid` elsewhere).
    ///
    /// # Errors
    ///
    /// The `getsockopt`/`getpeereid` error (`NotConnected`, ...).
    pub fn peer_cred(&self) -> io::Result<UCred> {
        UCred::of_peer(self.socket.as_fd())
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.socket.as_sock_ref().take_error()
    }

    /// Shuts down the read side, the write side or both (`shutdown(2)`). After
    /// `Shutdown::Write` the peer reads end of stream; after `Shutdown::Read` reads
    /// return `Ok(0)`.
    ///
    /// Named `shutdown_with` so that it does not shadow tokio's
    /// `AsyncWriteExt::shutdown()` on this type.
    ///
    /// # Errors
    ///
    /// `NotConnected` when the stream is no longer connected.
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

impl_owned_io!(read: UnixStream);
crate::net::pooled_read::impl_read_pooled!(UnixStream);
impl_owned_io!(write: UnixStream);
crate::net::zero_copy::impl_zero_copy_write!(UnixStream);
impl_poll_io!(read: UnixStream);
impl_poll_io!(write: UnixStream);
impl_stream_readiness!(stream: UnixStream);

impl TryFrom<std::os::unix::net::UnixStream> for UnixStream {
    type Error = io::Error;

    /// [`UnixStream::from_std`].
    fn try_from(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        UnixStream::from_std(stream)
    }
}

impl AsRef<UnixStream> for UnixStream {
    fn as_ref(&self) -> &UnixStream {
        self
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl IntoRawFd for UnixStream {
    /// Hands the fd over, in the mode the backend set (blocking on io_uring,
    /// non-blocking on mio). This cannot fail, so unlike `into_std` it loses what
    /// cancelled reads left (io_uring): bytes kept for the next read are dropped, and
    /// a cancelled read still in the kernel may take bytes before its cancellation
    /// lands (both logged as warnings).
    fn into_raw_fd(self) -> RawFd {
        self.socket.into_owned_fd().into_raw_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.socket.fd())
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .field("backend", &self.backend())
            .finish()
    }
}
