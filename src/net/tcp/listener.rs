//! [`TcpListener`]: accepts TCP connections.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::net::addr::{ToSocketAddrs, resolve};
use crate::net::socket::{Kind, Socket};
use crate::net::tcp::TcpStream;
use crate::runtime::Backend;
use crate::sys::OwnedSocket;
use crate::sys::socket::cloexec_type;

/// A TCP socket listening for connections.
///
/// ```
/// use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
/// use ringtide::net::{TcpListener, TcpStream};
///
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let address = listener.local_addr()?;
/// let client = ringtide::spawn(async move {
///     let mut stream = TcpStream::connect(address).await?;
///     let (result, _) = stream.write_all_owned(b"ping").await;
///     result
/// });
/// let (mut stream, _peer) = listener.accept().await?;
/// let (result, buf) = stream.read_exact_owned(Vec::with_capacity(4)).await;
/// result?;
/// assert_eq!(buf, b"ping");
/// client.await.unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
///
/// # Dropping
///
/// Dropping the listener stops listening at once (connection attempts are refused),
/// unless its fd may have duplicates: one made with [`from_std`](TcpListener::from_std)
/// (the std listener may have been cloned) or whose fd was lent out through `AsFd` or
/// `AsRawFd`, here or on the [`TcpSocket`](crate::net::TcpSocket) it came from. A
/// duplicate goes on listening.
///
/// # Restarts
///
/// No request in the kernel holds the listening socket, on either backend (on io_uring
/// the ring polls an epoll instance the listener is registered in, then `accept4`
/// takes the connection): when the process exits or is killed, even with tasks waiting
/// in `accept`, the port is free by the time its parent has reaped it, so a supervisor
/// can start the server again at once. The cost is one more fd per listener on
/// io_uring.
pub struct TcpListener {
    pub(in crate::net) socket: Socket,
}

impl TcpListener {
    /// Binds to `address` (the first of its resolutions that works) and listens, with
    /// `SO_REUSEADDR` set (as std and tokio do on Unix). Port 0 picks a free port; see
    /// [`local_addr`](TcpListener::local_addr).
    ///
    /// # Errors
    ///
    /// `AddrInUse`, `AddrNotAvailable`, a failed name lookup, or no runtime.
    pub async fn bind(address: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last_error = None;
        for address in resolve(address).await? {
            match TcpListener::bind_one(address) {
                Ok(listener) => return Ok(listener),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("resolve returns at least one address"))
    }

    fn bind_one(address: SocketAddr) -> io::Result<TcpListener> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(address),
            cloexec_type(socket2::Type::STREAM),
            None,
        )?;
        crate::sys::socket::set_listener_reuse(&socket)?;
        socket.bind(&address.into())?;
        socket.listen(1024)?;
        TcpListener::from_fd(socket.into())
    }

    pub(crate) fn from_fd(fd: OwnedSocket) -> io::Result<TcpListener> {
        Ok(TcpListener {
            socket: Socket::new(fd, Kind::Listener)?,
        })
    }

    /// [`from_fd`](TcpListener::from_fd) for an fd that may have duplicates (it came
    /// from the caller, or was lent out): dropping the listener then never shuts the
    /// socket down (see `net::accept_stream`'s `AcceptStream`).
    pub(crate) fn from_lent_fd(fd: OwnedSocket) -> io::Result<TcpListener> {
        let listener = TcpListener::from_fd(fd)?;
        listener.socket.lend_fd();
        Ok(listener)
    }

    /// Accepts a connection and returns it with the peer's address.
    ///
    /// Cancel-safe: when the future is dropped (for example by a `select!` whose other
    /// branch won) after the kernel accepted a connection, the connection is kept and
    /// the next `accept` returns it. Nothing is lost or leaked.
    ///
    /// # Errors
    ///
    /// Errors such as `EMFILE` (too many open files) fail this call only; the listener
    /// keeps working, and a later `accept` succeeds once fds are free.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (socket, peer) = self.socket.accept_raw().await?;
        let peer = accepted_peer(peer)?;
        Ok((TcpStream::from_socket(socket), peer))
    }

    /// Polls for a connection: `Ready` with the connection and the peer's address
    /// once one is there, otherwise `Pending` with `cx`'s waker stored (tokio's
    /// `poll_accept`, for code that implements `Future` or `Stream` by hand).
    ///
    /// Only the task of the last call is sure to be woken, as in tokio (on io_uring
    /// with multishot accept, every polling task is); tasks that accept together use
    /// [`accept`](TcpListener::accept). Nothing is lost when a caller stops polling:
    /// the connection stays for the next accept.
    ///
    /// # Errors
    ///
    /// As [`accept`](TcpListener::accept).
    pub fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (socket, peer) = std::task::ready!(self.socket.poll_accept_raw(cx))?;
        std::task::Poll::Ready(
            accepted_peer(peer).map(|peer| (TcpStream::from_socket(socket), peer)),
        )
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(self.socket.as_sock_ref().local_addr()?)
    }

    /// Wraps a listening std socket for the current runtime (its blocking mode is set
    /// as the backend needs).
    ///
    /// # Errors
    ///
    /// Outside a runtime with I/O enabled.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_lent_fd(listener.into())
    }

    /// Gives the socket back as a std listener, in non-blocking mode. Connections the
    /// runtime accepted that no `accept` call took yet (io_uring: cancelled accepts,
    /// the armed multishot accept) are closed (logged as a warning); one the multishot
    /// accept takes while its cancellation is in flight is leaked, open, with the
    /// listener's internal state.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        Ok(self.socket.into_fd()?.into())
    }

    /// The socket's `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.socket.as_sock_ref().ttl_v4()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.socket.as_sock_ref().set_ttl_v4(ttl)
    }

    /// The backend this listener runs on.
    pub fn backend(&self) -> Backend {
        self.socket.backend()
    }
}

/// The peer address of an accepted TCP connection.
fn accepted_peer(peer: socket2::SockAddr) -> io::Result<SocketAddr> {
    peer.as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "accepted a non-IP connection"))
}

impl TryFrom<std::net::TcpListener> for TcpListener {
    type Error = io::Error;

    /// [`TcpListener::from_std`].
    fn try_from(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_std(listener)
    }
}

pub(crate) fn socket_addr(address: socket2::SockAddr) -> io::Result<SocketAddr> {
    address
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket address"))
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.socket.fd())
            .field("local_addr", &self.local_addr().ok())
            .field("backend", &self.backend())
            .finish()
    }
}
