//! [`UnixListener`]: accepts Unix stream connections.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use socket2::SockAddr;

use crate::net::socket::{Kind, Socket};
use crate::net::unix::{UnixStream, path_addr, sock_addr, unix_addr};
use crate::runtime::Backend;
use crate::sys::socket::cloexec_type;

/// A Unix stream socket listening for connections.
///
/// ```
/// use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
/// use ringtide::net::{UnixListener, UnixStream};
///
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("ringtide-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let client = ringtide::spawn({
///     let path = path.clone();
///     async move {
///         let mut stream = UnixStream::connect(&path).await?;
///         let (result, _) = stream.write_all_owned(b"ping").await;
///         result
///     }
/// });
/// let (mut stream, _peer) = listener.accept().await?;
/// let (result, buf) = stream.read_exact_owned(Vec::with_capacity(4)).await;
/// result?;
/// assert_eq!(buf, b"ping");
/// client.await.unwrap()?;
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
///
/// # Dropping
///
/// Dropping the listener stops listening at once (connection attempts are refused),
/// unless its fd may have duplicates: one made with
/// [`from_std`](UnixListener::from_std) (the std listener may have been cloned) or
/// whose fd was lent out through `AsFd` or `AsRawFd`. A duplicate goes on listening.
///
/// As with [`TcpListener`](crate::net::TcpListener), no request in the kernel holds
/// the listening socket: an abstract name is free again once the process has exited
/// (a path name stays taken by its file until it is removed, on every runtime).
pub struct UnixListener {
    socket: Socket,
}

impl UnixListener {
    /// Binds to `path` and listens (synchronous, like tokio's). On Linux, a path that
    /// starts with a NUL byte is an abstract name (see the [module
    /// documentation](crate::net::unix)).
    ///
    /// # Errors
    ///
    /// `AddrInUse` when the path exists (a file left by an earlier listener, say),
    /// `InvalidInput` for a path longer than `sun_path`, or no runtime with I/O enabled.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::bind_sock_addr(&path_addr(path.as_ref())?)
    }

    /// Binds to `address` (a path or, on Linux, an abstract name) and listens.
    ///
    /// # Errors
    ///
    /// As [`bind`](UnixListener::bind); `InvalidInput` for an unnamed address.
    pub fn bind_addr(address: &SocketAddr) -> io::Result<UnixListener> {
        UnixListener::bind_sock_addr(&sock_addr(address)?)
    }

    fn bind_sock_addr(address: &SockAddr) -> io::Result<UnixListener> {
        let socket = socket2::Socket::new(
            socket2::Domain::UNIX,
            cloexec_type(socket2::Type::STREAM),
            None,
        )?;
        socket.bind(address)?;
        socket.listen(1024)?;
        UnixListener::from_fd(socket.into())
    }

    fn from_fd(fd: OwnedFd) -> io::Result<UnixListener> {
        Ok(UnixListener {
            socket: Socket::new(fd, Kind::Listener)?,
        })
    }

    /// Accepts a connection and returns it with the peer's address (usually unnamed:
    /// clients rarely bind).
    ///
    /// Cancel-safe: when the future is dropped after the kernel accepted a connection,
    /// the connection is kept and the next `accept` returns it. Nothing is lost or
    /// leaked.
    ///
    /// # Errors
    ///
    /// Errors such as `EMFILE` (too many open files) fail this call only; the listener
    /// keeps working.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (socket, peer) = self.socket.accept_raw().await?;
        let stream = UnixStream::from_socket(socket);
        Ok((stream, unix_addr(&peer)?))
    }

    /// Polls for a connection: `Ready` with the connection and the peer's address
    /// once one is there, otherwise `Pending` with `cx`'s waker stored (tokio's
    /// `poll_accept`, for code that implements `Future` or `Stream` by hand).
    ///
    /// Only the task of the last call is sure to be woken, as in tokio (on io_uring
    /// with multishot accept, every polling task is); tasks that accept together use
    /// [`accept`](UnixListener::accept). Nothing is lost when a caller stops polling:
    /// the connection stays for the next accept.
    ///
    /// # Errors
    ///
    /// As [`accept`](UnixListener::accept).
    pub fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (socket, peer) = std::task::ready!(self.socket.poll_accept_raw(cx))?;
        std::task::Poll::Ready(unix_addr(&peer).map(|peer| (UnixStream::from_socket(socket), peer)))
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        unix_addr(&self.socket.as_sock_ref().local_addr()?)
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.socket.as_sock_ref().take_error()
    }

    /// Wraps a listening std socket for the current runtime (its blocking mode is set
    /// as the backend needs).
    ///
    /// # Errors
    ///
    /// Outside a runtime with I/O enabled.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        let listener = UnixListener::from_fd(listener.into())?;
        // The std listener may have been cloned: dropping this one must not shut the
        // socket down (see `net::accept_stream`'s `AcceptStream`).
        listener.socket.lend_fd();
        Ok(listener)
    }

    /// Gives the socket back as a std listener, in non-blocking mode. Connections the
    /// runtime accepted that no `accept` call took yet (io_uring: cancelled accepts,
    /// the armed multishot accept) are closed (logged as a warning); one the multishot
    /// accept takes while its cancellation is in flight is leaked, open, with the
    /// listener's internal state.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        Ok(self.socket.into_fd()?.into())
    }

    /// The backend this listener runs on.
    pub fn backend(&self) -> Backend {
        self.socket.backend()
    }
}

impl TryFrom<std::os::unix::net::UnixListener> for UnixListener {
    type Error = io::Error;

    /// [`UnixListener::from_std`].
    fn try_from(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        UnixListener::from_std(listener)
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.lend_fd().as_raw_fd()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.lend_fd()
    }
}

impl IntoRawFd for UnixListener {
    /// Hands the fd over, in the mode the backend set (blocking on io_uring,
    /// non-blocking on mio). Connections the runtime accepted but no `accept` call took
    /// are dropped as described for `into_std`.
    fn into_raw_fd(self) -> RawFd {
        self.socket.into_owned_fd().into_raw_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.socket.fd())
            .field("local_addr", &self.local_addr().ok())
            .field("backend", &self.backend())
            .finish()
    }
}
