//! [`UdpSocket`]: UDP datagrams.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::io::{BufResult, IoBuf, IoBufMut};
use crate::net::addr::{ToSocketAddrs, resolve};
use crate::net::socket::{Kind, Socket};
use crate::net::socket_ready::Direction;
use crate::net::tcp::socket_addr;
use crate::runtime::Backend;
use crate::sys::socket::cloexec_type;

/// A UDP socket.
///
/// Unconnected, it sends to any address with [`send_to`](UdpSocket::send_to) and
/// receives from any with [`recv_from`](UdpSocket::recv_from). After
/// [`connect`](UdpSocket::connect) it also has [`send`](UdpSocket::send) and
/// [`recv`](UdpSocket::recv), and the kernel drops datagrams from other addresses.
///
/// Buffers are owned ([`IoBuf`] to send, [`IoBufMut`] to receive) and come back in the
/// [`BufResult`]. One send is one datagram and one receive takes one datagram: their
/// boundaries are kept. A receive fills the buffer from its start up to its capacity;
/// a datagram longer than that is **truncated**: the rest of it is discarded and the
/// returned length is the part that fit.
///
/// The methods take `&self`: share the socket between tasks with an `Arc` (one task
/// receiving while another sends, say).
///
/// ```
/// use ringtide::net::UdpSocket;
///
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let server = UdpSocket::bind("127.0.0.1:0").await?;
/// let client = UdpSocket::bind("127.0.0.1:0").await?;
/// let (sent, _) = client.send_to(b"ping", server.local_addr()?).await;
/// assert_eq!(sent?, 4);
/// let (received, buf) = server.recv_from(Vec::with_capacity(64)).await;
/// let (count, from) = received?;
/// assert_eq!((count, &buf[..]), (4, &b"ping"[..]));
/// assert_eq!(from, client.local_addr()?);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct UdpSocket {
    pub(in crate::net) socket: Socket,
}

impl UdpSocket {
    /// Binds to `address` (the first of its resolutions that works). Port 0 picks a
    /// free port; see [`local_addr`](UdpSocket::local_addr).
    ///
    /// # Errors
    ///
    /// `AddrInUse`, `AddrNotAvailable`, a failed name lookup, or no runtime with I/O
    /// enabled.
    pub async fn bind(address: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let mut last_error = None;
        for address in resolve(address).await? {
            match UdpSocket::bind_one(address) {
                Ok(socket) => return Ok(socket),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("resolve returns at least one address"))
    }

    fn bind_one(address: SocketAddr) -> io::Result<UdpSocket> {
        let socket = Socket::create(
            socket2::Domain::for_address(address),
            cloexec_type(socket2::Type::DGRAM),
            Kind::Datagram,
        )?;
        socket.as_sock_ref().bind(&address.into())?;
        Ok(UdpSocket { socket })
    }

    /// Sets the default destination of [`send`](UdpSocket::send) and the only source
    /// [`recv`](UdpSocket::recv) and [`recv_from`](UdpSocket::recv_from) accept (the
    /// first of `address`'s resolutions that works). Nothing is sent.
    ///
    /// Once connected, an ICMP "port unreachable" from the peer (nothing listens there)
    /// makes a later receive or send fail with `ConnectionRefused` (Linux).
    ///
    /// # Errors
    ///
    /// `NetworkUnreachable`, an address family that does not match the socket's, or a
    /// failed name lookup.
    pub async fn connect(&self, address: impl ToSocketAddrs) -> io::Result<()> {
        let mut last_error = None;
        for address in resolve(address).await? {
            match self.socket.as_sock_ref().connect(&address.into()) {
                Ok(()) => return Ok(()),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("resolve returns at least one address"))
    }

    /// Sends `buf`'s initialised bytes as one datagram to `target` (its first
    /// resolution) and returns how many were sent (all of them: a datagram is never
    /// sent in part). An empty buffer sends an empty datagram.
    ///
    /// Cancel safety: dropping the future may leave the datagram sent or not; the caller
    /// cannot tell which.
    ///
    /// # Errors
    ///
    /// `MessageTooLong` (`EMSGSIZE`) for a datagram over the size limit, a failed name
    /// lookup, `PermissionDenied` for a broadcast address without
    /// [`set_broadcast`](UdpSocket::set_broadcast), and the like.
    pub async fn send_to<B: IoBuf>(
        &self,
        buf: B,
        target: impl ToSocketAddrs,
    ) -> BufResult<usize, B> {
        let target = match resolve(target).await {
            Ok(addresses) => addresses[0],
            Err(error) => return (Err(error), buf),
        };
        self.socket.send_to(buf, target.into()).await
    }

    /// Receives one datagram into `buf` (from its start, up to its capacity) and returns
    /// its length and sender. A datagram longer than the capacity is truncated to it;
    /// the rest is lost. An empty datagram gives `Ok((0, sender))`.
    ///
    /// Cancel safety: dropping the future loses no datagram. When the kernel had already
    /// handed one to the cancelled receive (io_uring), it is kept, with its sender, and
    /// the next [`recv`](UdpSocket::recv) or [`recv_from`](UdpSocket::recv_from) returns
    /// it first. It was already cut to the cancelled receive's buffer, so a kept
    /// datagram never comes back longer than that buffer's capacity.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` on a connected socket whose peer sent an ICMP "port
    /// unreachable" (see [`connect`](UdpSocket::connect)), and the like.
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (result, buf) = self.socket.recv_from(buf).await;
        let result = result.and_then(|(count, from)| Ok((count, socket_addr(from)?)));
        (result, buf)
    }

    /// Sends `buf`'s initialised bytes as one datagram to the connected peer (see
    /// [`connect`](UdpSocket::connect)).
    ///
    /// Cancel safety: as [`send_to`](UdpSocket::send_to).
    ///
    /// # Errors
    ///
    /// `EDESTADDRREQ` when the socket is not connected, `ConnectionRefused` after an
    /// ICMP "port unreachable" from the peer, `MessageTooLong`.
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.send(buf, 0).await
    }

    /// Receives one datagram from the connected peer into `buf` (truncated to its
    /// capacity, as in [`recv_from`](UdpSocket::recv_from)) and returns its length.
    ///
    /// Cancel safety: as [`recv_from`](UdpSocket::recv_from): no datagram is lost.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` after an ICMP "port unreachable" from the peer, and the like.
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

    /// The address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(self.socket.as_sock_ref().local_addr()?)
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` when the socket is not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(self.socket.as_sock_ref().peer_addr()?)
    }

    /// Sets `SO_BROADCAST` (needed to send to a broadcast address).
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.socket.as_sock_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.socket.as_sock_ref().broadcast()
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with address
    /// `interface` (`Ipv4Addr::UNSPECIFIED`: the system picks one).
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.socket
            .as_sock_ref()
            .join_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves an IPv4 multicast group (see
    /// [`join_multicast_v4`](UdpSocket::join_multicast_v4)).
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.socket
            .as_sock_ref()
            .leave_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with index
    /// `interface` (0: the system picks one).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.socket
            .as_sock_ref()
            .join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group (see
    /// [`join_multicast_v6`](UdpSocket::join_multicast_v6)).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.socket
            .as_sock_ref()
            .leave_multicast_v6(multiaddr, interface)
    }

    /// Sets `IP_MULTICAST_LOOP`: whether this host receives the IPv4 multicast
    /// datagrams it sends.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.socket.as_sock_ref().set_multicast_loop_v4(on)
    }

    /// Whether `IP_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.socket.as_sock_ref().multicast_loop_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.socket.as_sock_ref().set_multicast_loop_v6(on)
    }

    /// Whether `IPV6_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.socket.as_sock_ref().multicast_loop_v6()
    }

    /// Sets `IP_MULTICAST_TTL`, the time to live of outgoing IPv4 multicast datagrams
    /// (1, the default, keeps them on the local network).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.socket.as_sock_ref().set_multicast_ttl_v4(ttl)
    }

    /// `IP_MULTICAST_TTL`.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.socket.as_sock_ref().multicast_ttl_v4()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.socket.as_sock_ref().set_ttl_v4(ttl)
    }

    /// The socket's `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.socket.as_sock_ref().ttl_v4()
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.socket.as_sock_ref().take_error()
    }

    /// Wraps a bound std socket for the current runtime (its blocking mode is set as the
    /// backend needs).
    ///
    /// # Errors
    ///
    /// Outside a runtime with I/O enabled.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            socket: Socket::new(crate::sys::OwnedSocket::from(socket), Kind::Datagram)?,
        })
    }

    /// Gives the socket back as a std socket, in non-blocking mode. A datagram kept
    /// from a cancelled receive (io_uring) is dropped, and one that a cancelled receive
    /// still in the kernel takes before its cancellation lands is lost (both logged as
    /// warnings).
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Ok(self.socket.into_fd()?.into())
    }

    /// The backend this socket runs on.
    pub fn backend(&self) -> Backend {
        self.socket.backend()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("fd", &self.socket.fd())
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .field("backend", &self.backend())
            .finish()
    }
}
