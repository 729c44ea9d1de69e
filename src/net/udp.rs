//! [`UdpSocket`]: UDP datagrams.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::{Context, Poll, ready};

use socket2::SockAddr;
use tokio::io::ReadBuf;

use crate::io::{BufResult, Interest, IoBuf, IoBufMut, Ready};
use crate::net::addr::{ToSocketAddrs, resolve};
use crate::net::socket::{Kind, Socket};
use crate::net::socket_datagram::{Datagram, Receive};
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
/// One send is one datagram and one receive takes one datagram: their boundaries are
/// kept. A datagram longer than the receive buffer is **truncated** to it: the rest
/// is discarded and the returned length is the part that fit.
///
/// Two APIs, which can be mixed on one socket (see [`crate::io`] for the naming rule):
///
/// * tokio's, with borrowed buffers: `send_to(&[u8], addr)`, `recv_from(&mut [u8])`,
///   their `try_*` (no waiting) and `poll_*` (with tokio's `ReadBuf`) forms, `peek*`,
///   `ready`/`readable`/`writable`. These are readiness-based on both backends: a
///   non-blocking syscall, and a wait for readiness when it would block.
/// * owned buffers ([`IoBuf`] to send, [`IoBufMut`] to receive), given back in the
///   [`BufResult`]: `send_to_owned`, `recv_from_owned`, `send_owned`, `recv_owned`.
///   On io_uring each is one operation straight from or into your buffer.
///
/// The methods take `&self`: share the socket between tasks with an `Arc` (one task
/// receiving while another sends, say; several tasks may also wait on one direction).
///
/// ```
/// use ringtide::net::UdpSocket;
///
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let server = UdpSocket::bind("127.0.0.1:0").await?;
/// let client = UdpSocket::bind("127.0.0.1:0").await?;
/// assert_eq!(client.send_to(b"ping", server.local_addr()?).await?, 4);
/// let mut buf = [0; 64];
/// let (len, from) = server.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..len], from), (&b"ping"[..], client.local_addr()?));
///
/// // The owned-buffer form: the buffer goes to the kernel and comes back.
/// let (sent, _) = client.send_to_owned(b"pong".to_vec(), server.local_addr()?).await;
/// assert_eq!(sent?, 4);
/// let (received, buf) = server.recv_from_owned(Vec::with_capacity(64)).await;
/// assert_eq!((received?.0, &buf[..]), (4, &b"pong"[..]));
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

    /// Sends `buf` as one datagram to `target` (its first resolution) and returns how
    /// many bytes were sent: all of them, a datagram is never sent in part. An empty
    /// `buf` sends an empty datagram.
    ///
    /// Waits while the send buffer is full. Cancel safe: a future dropped before it
    /// completes has sent nothing. Any number of tasks may send on one socket at once.
    ///
    /// ```
    /// use ringtide::net::UdpSocket;
    ///
    /// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let server = UdpSocket::bind("127.0.0.1:0").await?;
    /// let client = UdpSocket::bind("127.0.0.1:0").await?;
    /// client.send_to(b"ping", server.local_addr()?).await?;
    /// let mut buf = [0; 64];
    /// let (len, from) = server.recv_from(&mut buf).await?;
    /// assert_eq!((&buf[..len], from), (&b"ping"[..], client.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// `MessageTooLong` (`EMSGSIZE`) for a datagram over the size limit, a failed name
    /// lookup, `PermissionDenied` for a broadcast address without
    /// [`set_broadcast`](UdpSocket::set_broadcast), and the like.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = SockAddr::from(resolve(target).await?[0]);
        self.socket.send_datagram(buf, Some(&target)).await
    }

    /// Sends `buf` as one datagram to `target` now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the send buffer is full (on mio also before the socket was
    /// first seen writable; the recorded readiness is then cleared, so
    /// [`writable`](UdpSocket::writable) waits for room); otherwise as
    /// [`send_to`](UdpSocket::send_to).
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.socket
            .try_send_datagram(buf, Some(&SockAddr::from(target)))
    }

    /// Polls to send `buf` as one datagram to `target`: `Pending` (with `cx` stored)
    /// while the send buffer is full.
    ///
    /// Only the task of the last `poll_send*`/[`poll_send_ready`](UdpSocket::poll_send_ready)
    /// call is woken: there is one waker slot for sending.
    ///
    /// # Errors
    ///
    /// As [`send_to`](UdpSocket::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.socket
            .poll_send_datagram(cx, buf, Some(&SockAddr::from(target)))
    }

    /// Sends `buf` as one datagram to the connected peer (see
    /// [`connect`](UdpSocket::connect)). Cancel safe, as
    /// [`send_to`](UdpSocket::send_to).
    ///
    /// # Errors
    ///
    /// `EDESTADDRREQ` when the socket is not connected, `ConnectionRefused` after an
    /// ICMP "port unreachable" from the peer, `MessageTooLong`.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.socket.send_datagram(buf, None).await
    }

    /// Sends `buf` as one datagram to the connected peer now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` as in [`try_send_to`](UdpSocket::try_send_to); otherwise as
    /// [`send`](UdpSocket::send).
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.socket.try_send_datagram(buf, None)
    }

    /// Polls to send `buf` as one datagram to the connected peer (one waker slot, as
    /// [`poll_send_to`](UdpSocket::poll_send_to)).
    ///
    /// # Errors
    ///
    /// As [`send`](UdpSocket::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.socket.poll_send_datagram(cx, buf, None)
    }

    /// Receives one datagram into `buf` and returns its length and sender. A datagram
    /// longer than `buf` is truncated to it (the rest is lost); an empty datagram gives
    /// `Ok((0, sender))`, and so does any datagram received into an empty `buf`.
    ///
    /// Waits until a datagram is there. Cancel safe: a future dropped before it
    /// completes has taken no datagram. Any number of tasks may receive on one socket
    /// at once; each datagram goes to one of them.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` on a connected socket whose peer sent an ICMP "port
    /// unreachable" (see [`connect`](UdpSocket::connect)), and the like.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let datagram = self.socket.recv_datagram(buf, Receive::Take).await?;
        with_sender(datagram)
    }

    /// Receives one datagram into `buf` now, without waiting (truncated as in
    /// [`recv_from`](UdpSocket::recv_from)).
    ///
    /// # Errors
    ///
    /// `WouldBlock` when no datagram is queued (on mio also when none is known to be:
    /// the recorded readiness is then cleared, so [`readable`](UdpSocket::readable)
    /// waits for the next datagram); otherwise as [`recv_from`](UdpSocket::recv_from).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        with_sender(self.socket.try_recv_datagram(buf, Receive::Take)?)
    }

    /// Polls to receive one datagram into `buf`'s unfilled part, which it advances by
    /// the datagram's length (truncated to the unfilled part), and returns the sender.
    /// An empty datagram leaves `buf` as it was.
    ///
    /// Only the task of the last `poll_recv*`/`poll_peek*`/
    /// [`poll_recv_ready`](UdpSocket::poll_recv_ready) call is woken: there is one
    /// waker slot for receiving.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let from = ready!(self.socket.poll_recv_read_buf(cx, buf, Receive::Take))?;
        Poll::Ready(sender(from))
    }

    /// Receives one datagram from the connected peer into `buf` and returns its length
    /// (truncated as in [`recv_from`](UdpSocket::recv_from)). Cancel safe.
    ///
    /// ```
    /// use ringtide::net::UdpSocket;
    ///
    /// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0").await?, UdpSocket::bind("127.0.0.1:0").await?);
    /// a.connect(b.local_addr()?).await?;
    /// b.connect(a.local_addr()?).await?;
    /// a.send(b"hello").await?;
    /// let mut buf = [0; 3];
    /// assert_eq!(b.recv(&mut buf).await?, 3, "cut to the buffer");
    /// assert_eq!(&buf, b"hel");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` after an ICMP "port unreachable" from the peer, and the like.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (count, _) = self.socket.recv_datagram(buf, Receive::Take).await?;
        Ok(count)
    }

    /// Receives one datagram into `buf` now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` as in [`try_recv_from`](UdpSocket::try_recv_from); otherwise as
    /// [`recv`](UdpSocket::recv).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (count, _) = self.socket.try_recv_datagram(buf, Receive::Take)?;
        Ok(count)
    }

    /// Polls to receive one datagram into `buf`'s unfilled part, which it advances
    /// (one waker slot, as [`poll_recv_from`](UdpSocket::poll_recv_from)).
    ///
    /// # Errors
    ///
    /// As [`recv`](UdpSocket::recv).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        ready!(self.socket.poll_recv_read_buf(cx, buf, Receive::Take))?;
        Poll::Ready(Ok(()))
    }

    /// Copies the datagram at the head of the queue into `buf` (truncated to it) and
    /// returns its length and sender, leaving it queued: the next receive returns it
    /// again. Waits until a datagram is there. Cancel safe.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let datagram = self.socket.recv_datagram(buf, Receive::Peek).await?;
        with_sender(datagram)
    }

    /// [`peek_from`](UdpSocket::peek_from) now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` as in [`try_recv_from`](UdpSocket::try_recv_from); otherwise as
    /// [`recv_from`](UdpSocket::recv_from).
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        with_sender(self.socket.try_recv_datagram(buf, Receive::Peek)?)
    }

    /// Polls to peek at the datagram at the head of the queue: copies it into `buf`'s
    /// unfilled part, which it advances, and returns the sender (one waker slot, as
    /// [`poll_recv_from`](UdpSocket::poll_recv_from)).
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let from = ready!(self.socket.poll_recv_read_buf(cx, buf, Receive::Peek))?;
        Poll::Ready(sender(from))
    }

    /// [`peek_from`](UdpSocket::peek_from) without the sender (for a connected socket).
    ///
    /// # Errors
    ///
    /// As [`recv`](UdpSocket::recv).
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (count, _) = self.socket.recv_datagram(buf, Receive::Peek).await?;
        Ok(count)
    }

    /// [`peek`](UdpSocket::peek) now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` as in [`try_recv_from`](UdpSocket::try_recv_from); otherwise as
    /// [`recv`](UdpSocket::recv).
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (count, _) = self.socket.try_recv_datagram(buf, Receive::Peek)?;
        Ok(count)
    }

    /// Polls to peek into `buf`'s unfilled part, which it advances (one waker slot, as
    /// [`poll_recv_from`](UdpSocket::poll_recv_from)).
    ///
    /// # Errors
    ///
    /// As [`recv`](UdpSocket::recv).
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        ready!(self.socket.poll_recv_read_buf(cx, buf, Receive::Peek))?;
        Poll::Ready(Ok(()))
    }

    /// The sender of the datagram at the head of the queue, leaving it queued. Waits
    /// until a datagram is there. Cancel safe.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    pub async fn peek_sender(&self) -> io::Result<SocketAddr> {
        let datagram = self.socket.recv_datagram(&mut [], Receive::Peek).await?;
        with_sender(datagram).map(|(_, from)| from)
    }

    /// [`peek_sender`](UdpSocket::peek_sender) now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` as in [`try_recv_from`](UdpSocket::try_recv_from); otherwise as
    /// [`recv_from`](UdpSocket::recv_from).
    pub fn try_peek_sender(&self) -> io::Result<SocketAddr> {
        let datagram = self.socket.try_recv_datagram(&mut [], Receive::Peek)?;
        with_sender(datagram).map(|(_, from)| from)
    }

    /// Polls for the sender of the datagram at the head of the queue (one waker slot,
    /// as [`poll_recv_from`](UdpSocket::poll_recv_from)).
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    pub fn poll_peek_sender(&self, cx: &mut Context<'_>) -> Poll<io::Result<SocketAddr>> {
        let datagram = ready!(self.socket.poll_recv_datagram(cx, &mut [], Receive::Peek))?;
        Poll::Ready(with_sender(datagram).map(|(_, from)| from))
    }

    /// Waits until the socket is ready for any part of `interest` and returns what it
    /// is ready for (at least one bit `interest` asks about).
    ///
    /// Readiness is a hint: follow it with the `try_*` methods, and wait again when
    /// they say `WouldBlock`. Cancel safe; any number of tasks may wait at once.
    ///
    /// ```
    /// use ringtide::io::Interest;
    /// use ringtide::net::UdpSocket;
    ///
    /// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let socket = UdpSocket::bind("127.0.0.1:0").await?;
    /// socket.connect(socket.local_addr()?).await?;
    /// let ready = socket.ready(Interest::WRITABLE).await?;
    /// assert!(ready.is_writable());
    /// socket.try_send(b"to myself")?;
    /// let mut buf = [0; 16];
    /// loop {
    ///     socket.readable().await?;
    ///     match socket.try_recv(&mut buf) {
    ///         Ok(len) => break assert_eq!(&buf[..len], b"to myself"),
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
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
    /// otherwise `cx` is stored (in the one receive waker slot, see
    /// [`poll_recv_from`](UdpSocket::poll_recv_from)) and `Pending`.
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

    /// Owned-buffer [`send_to`](UdpSocket::send_to): sends `buf`'s initialised bytes
    /// as one datagram to `target` (its first resolution) and gives `buf` back with
    /// the count. On io_uring this is one `SENDMSG` straight from `buf`, with no
    /// readiness round trip.
    ///
    /// Cancel safety: dropping the future may leave the datagram sent or not; the caller
    /// cannot tell which.
    ///
    /// # Errors
    ///
    /// As [`send_to`](UdpSocket::send_to).
    pub async fn send_to_owned<B: IoBuf>(
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

    /// Owned-buffer [`recv_from`](UdpSocket::recv_from): receives one datagram into
    /// `buf` (from its start, up to its capacity; longer ones are truncated) and gives
    /// `buf` back with the length and sender. On io_uring this is one `RECVMSG`
    /// straight into `buf`.
    ///
    /// Cancel safety: dropping the future loses no datagram. When the kernel had already
    /// handed one to the cancelled receive (io_uring), it is kept, with its sender, and
    /// the next receive of either API returns it first. It was already cut to the
    /// cancelled receive's buffer, so a kept datagram never comes back longer than that
    /// buffer's capacity.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    pub async fn recv_from_owned<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (result, buf) = self.socket.recv_from(buf).await;
        let result = result.and_then(|(count, from)| Ok((count, socket_addr(from)?)));
        (result, buf)
    }

    /// Owned-buffer [`send`](UdpSocket::send) to the connected peer. Cancel safety as
    /// [`send_to_owned`](UdpSocket::send_to_owned).
    ///
    /// # Errors
    ///
    /// As [`send`](UdpSocket::send).
    pub async fn send_owned<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.send(buf, 0).await
    }

    /// [`send_owned`](UdpSocket::send_owned) with zero copy where the kernel can: on
    /// io_uring one `SEND_ZC` from `buf`, completing (with `buf` back) only once the
    /// kernel's notification says it no longer reads the pages; dropping the future
    /// before then leaves `buf` to the runtime until that notification. On mio and on
    /// kernels without `SEND_ZC`, a plain send. On loopback the kernel copies anyway,
    /// so this costs more than `send_owned` there (see `TcpStream::write_zc`).
    ///
    /// # Errors
    ///
    /// As [`send`](UdpSocket::send).
    pub async fn send_zc<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.send_zc(buf, 0).await
    }

    /// [`send_to_owned`](UdpSocket::send_to_owned) with zero copy where the kernel
    /// can (io_uring `SENDMSG_ZC`), as [`send_zc`](UdpSocket::send_zc); a plain
    /// `sendmsg` on mio and on kernels without the opcode.
    ///
    /// # Errors
    ///
    /// As [`send_to`](UdpSocket::send_to).
    pub async fn send_to_zc<B: IoBuf>(
        &self,
        buf: B,
        target: impl ToSocketAddrs,
    ) -> BufResult<usize, B> {
        let target = match resolve(target).await {
            Ok(addresses) => addresses[0],
            Err(error) => return (Err(error), buf),
        };
        self.socket.send_to_zc(buf, target.into()).await
    }

    /// Owned-buffer [`recv`](UdpSocket::recv) from the connected peer (truncated to
    /// `buf`'s capacity). Cancel safety as [`recv_from_owned`](UdpSocket::recv_from_owned):
    /// no datagram is lost.
    ///
    /// # Errors
    ///
    /// As [`recv`](UdpSocket::recv).
    pub async fn recv_owned<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.recv_one_datagram(buf).await
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

#[cfg(feature = "bytes")]
impl UdpSocket {
    /// Receives one datagram into `buf`'s spare capacity (growing it if it has none,
    /// as `BufMut::chunk_mut` does), advances `buf` by its length and returns that
    /// length. Waits until a datagram is there. Cancel safe.
    ///
    /// # Errors
    ///
    /// As [`recv`](UdpSocket::recv).
    pub async fn recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        let (count, _) = self.socket.recv_buf_mut(buf, Receive::Take).await?;
        Ok(count)
    }

    /// [`recv_buf`](UdpSocket::recv_buf) now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` as in [`try_recv_from`](UdpSocket::try_recv_from); otherwise as
    /// [`recv`](UdpSocket::recv).
    pub fn try_recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        let (count, _) = self.socket.try_recv_buf_mut(buf, Receive::Take)?;
        Ok(count)
    }

    /// [`recv_buf`](UdpSocket::recv_buf) that also returns the sender.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    pub async fn recv_buf_from<B: bytes::BufMut>(
        &self,
        buf: &mut B,
    ) -> io::Result<(usize, SocketAddr)> {
        with_sender(self.socket.recv_buf_mut(buf, Receive::Take).await?)
    }

    /// [`recv_buf_from`](UdpSocket::recv_buf_from) now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` as in [`try_recv_from`](UdpSocket::try_recv_from); otherwise as
    /// [`recv_from`](UdpSocket::recv_from).
    pub fn try_recv_buf_from<B: bytes::BufMut>(
        &self,
        buf: &mut B,
    ) -> io::Result<(usize, SocketAddr)> {
        with_sender(self.socket.try_recv_buf_mut(buf, Receive::Take)?)
    }
}

/// A received datagram's length and IP sender.
fn with_sender((count, from): Datagram) -> io::Result<(usize, SocketAddr)> {
    Ok((count, sender(from)?))
}

/// The IP address of a datagram's sender.
fn sender(from: Option<SockAddr>) -> io::Result<SocketAddr> {
    match from {
        Some(from) => socket_addr(from),
        None => Err(io::Error::other("kept datagram without a sender")),
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
