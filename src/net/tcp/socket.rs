//! [`TcpSocket`]: a TCP socket configured before it listens or connects.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::net::socket::{Kind, Socket};
use crate::net::tcp::socket_addr;
use crate::net::tcp::{TcpListener, TcpStream};
use crate::sys::socket::cloexec_type;

/// A TCP socket not yet listening or connected: set options, [`bind`](TcpSocket::bind),
/// then [`listen`](TcpSocket::listen) or [`connect`](TcpSocket::connect).
///
/// ```
/// use ringtide::net::TcpSocket;
///
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let socket = TcpSocket::new_v4()?;
/// socket.set_reuseaddr(true)?;
/// socket.bind("127.0.0.1:0".parse().unwrap())?;
/// let listener = socket.listen(128)?;
/// let stream = TcpSocket::new_v4()?.connect(listener.local_addr()?).await?;
/// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct TcpSocket {
    pub(in crate::net) inner: socket2::Socket,
    /// The fd may have duplicates (lent through `AsRawFd`/`AsFd`, or it came from the
    /// caller): the listener it becomes never shuts the socket down on drop.
    pub(in crate::net) fd_lent: AtomicBool,
}

impl TcpSocket {
    /// An IPv4 TCP socket.
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(socket2::Domain::IPV4)
    }

    /// An IPv6 TCP socket.
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(socket2::Domain::IPV6)
    }

    fn new(domain: socket2::Domain) -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            inner: socket2::Socket::new(domain, cloexec_type(socket2::Type::STREAM), None)?,
            fd_lent: AtomicBool::new(false),
        })
    }

    /// Sets `SO_REUSEADDR`.
    pub fn set_reuseaddr(&self, reuse: bool) -> io::Result<()> {
        self.inner.set_reuse_address(reuse)
    }

    /// Whether `SO_REUSEADDR` is set.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.inner.reuse_address()
    }

    /// Sets `SO_REUSEPORT` (several sockets may bind the same port; the kernel spreads
    /// connections across them). Unix only.
    #[cfg(unix)]
    pub fn set_reuseport(&self, reuse: bool) -> io::Result<()> {
        self.inner.set_reuse_port(reuse)
    }

    /// Whether `SO_REUSEPORT` is set. Unix only.
    #[cfg(unix)]
    pub fn reuseport(&self) -> io::Result<bool> {
        self.inner.reuse_port()
    }

    /// Sets `SO_SNDBUF` (the kernel doubles the value and applies its limits).
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_send_buffer_size(size as usize)
    }

    /// `SO_SNDBUF`.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.inner
            .send_buffer_size()
            .map(|size| u32::try_from(size).unwrap_or(u32::MAX))
    }

    /// Sets `SO_RCVBUF` (the kernel doubles the value and applies its limits).
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_recv_buffer_size(size as usize)
    }

    /// `SO_RCVBUF`.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.inner
            .recv_buffer_size()
            .map(|size| u32::try_from(size).unwrap_or(u32::MAX))
    }

    /// Sets `SO_KEEPALIVE` (the kernel probes an idle connection and reports a dead
    /// peer as an error).
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.inner.set_keepalive(keepalive)
    }

    /// Whether `SO_KEEPALIVE` is set.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.inner.keepalive()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_tcp_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.tcp_nodelay()
    }

    /// Sets `SO_LINGER`.
    ///
    /// Deprecated, as in tokio: a non-zero linger makes closing the socket block (see
    /// [`TcpStream::set_linger`]). Use [`set_zero_linger`](TcpSocket::set_zero_linger)
    /// for an abortive close.
    #[deprecated = "`SO_LINGER` makes closing the socket block; use `set_zero_linger` or a shutdown"]
    pub fn set_linger(&self, linger: Option<std::time::Duration>) -> io::Result<()> {
        self.inner.set_linger(linger)
    }

    /// Sets a linger of zero: closing the socket resets the connection and drops
    /// unsent data (see [`TcpStream::set_zero_linger`]).
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.inner.set_linger(Some(std::time::Duration::ZERO))
    }

    /// `SO_LINGER` (`None`: off, the default).
    pub fn linger(&self) -> io::Result<Option<std::time::Duration>> {
        self.inner.linger()
    }

    /// `IP_TOS`, the type-of-service byte of the IPv4 packets this socket sends.
    #[cfg(not(any(
        target_os = "fuchsia",
        target_os = "redox",
        target_os = "solaris",
        target_os = "illumos",
        target_os = "haiku",
        target_os = "wasi",
    )))]
    pub fn tos_v4(&self) -> io::Result<u32> {
        self.inner.tos_v4()
    }

    /// Sets `IP_TOS` (IPv4 sockets; an IPv6 socket fails with the kernel's error).
    #[cfg(not(any(
        target_os = "fuchsia",
        target_os = "redox",
        target_os = "solaris",
        target_os = "illumos",
        target_os = "haiku",
        target_os = "wasi",
    )))]
    pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
        self.inner.set_tos_v4(tos)
    }

    /// [`tos_v4`](TcpSocket::tos_v4) under its old name.
    #[deprecated = "`tos` is IPv4-specific and was renamed `tos_v4`, as in tokio"]
    #[cfg(not(any(
        target_os = "fuchsia",
        target_os = "redox",
        target_os = "solaris",
        target_os = "illumos",
        target_os = "haiku",
        target_os = "wasi",
    )))]
    pub fn tos(&self) -> io::Result<u32> {
        self.tos_v4()
    }

    /// [`set_tos_v4`](TcpSocket::set_tos_v4) under its old name.
    #[deprecated = "`set_tos` is IPv4-specific and was renamed `set_tos_v4`, as in tokio"]
    #[cfg(not(any(
        target_os = "fuchsia",
        target_os = "redox",
        target_os = "solaris",
        target_os = "illumos",
        target_os = "haiku",
        target_os = "wasi",
    )))]
    pub fn set_tos(&self, tos: u32) -> io::Result<()> {
        self.set_tos_v4(tos)
    }

    /// `IPV6_TCLASS`, the traffic class of the IPv6 packets this socket sends.
    #[cfg(any(
        target_os = "android",
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "fuchsia",
        target_os = "linux",
        target_os = "macos",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "cygwin",
    ))]
    pub fn tclass_v6(&self) -> io::Result<u32> {
        self.inner.tclass_v6()
    }

    /// Sets `IPV6_TCLASS` (IPv6 sockets).
    #[cfg(any(
        target_os = "android",
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "fuchsia",
        target_os = "linux",
        target_os = "macos",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "cygwin",
    ))]
    pub fn set_tclass_v6(&self, tclass: u32) -> io::Result<()> {
        self.inner.set_tclass_v6(tclass)
    }

    /// The interface the socket is bound to (`SO_BINDTODEVICE`), `None` when it is not.
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    pub fn device(&self) -> io::Result<Option<Vec<u8>>> {
        self.inner.device()
    }

    /// Binds the socket to the interface named `interface` (`SO_BINDTODEVICE`; `None`
    /// or an empty name removes the binding). Needs `CAP_NET_RAW` on older kernels.
    ///
    /// # Errors
    ///
    /// `NotFound`-like kernel errors (`ENODEV`) for an unknown interface, `EPERM`
    /// without the capability.
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    pub fn bind_device(&self, interface: Option<&[u8]>) -> io::Result<()> {
        self.inner.bind_device(interface)
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }

    /// Binds to `address`.
    pub fn bind(&self, address: SocketAddr) -> io::Result<()> {
        self.inner.bind(&address.into())
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(self.inner.local_addr()?)
    }

    /// Listens with a queue of `backlog` pending connections.
    ///
    /// # Errors
    ///
    /// The `listen(2)` error, or no runtime with I/O enabled.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        self.inner
            .listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        if self.fd_lent.load(Ordering::Relaxed) {
            TcpListener::from_lent_fd(self.inner.into())
        } else {
            TcpListener::from_fd(self.inner.into())
        }
    }

    /// Connects to `address`.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` and the like, or no runtime with I/O enabled.
    pub async fn connect(self, address: SocketAddr) -> io::Result<TcpStream> {
        let socket =
            Socket::connect_fd(self.inner.into(), Kind::Stream, address.into(), None).await?;
        Ok(TcpStream::from_socket(socket))
    }

    /// Wraps a std stream's socket (to set options on it before use).
    pub fn from_std_stream(stream: std::net::TcpStream) -> TcpSocket {
        TcpSocket {
            inner: stream.into(),
            fd_lent: AtomicBool::new(true),
        }
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("fd", &crate::sys::AsRawIo::as_raw_io(&self.inner))
            .finish()
    }
}
