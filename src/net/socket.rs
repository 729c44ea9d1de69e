//! [`Socket`]: the one socket type under every `net` type, on either backend.
//!
//! A socket owns its fd through an [`FdOwner`] (see `io::shared_fd`) whose state
//! ([`SocketState`]) holds its backend registration and the leftovers of cancelled
//! ops. Every op on the socket holds an `FdRef` to that cell, so the fd is closed only
//! when the socket is dropped AND the kernel has finished every op that used it:
//! dropping a stream with a read in flight cancels the read and closes the fd after its
//! final completion, never while the kernel may still use the number.
//!
//! Mode of the fd, per backend:
//!
//! * io_uring: blocking. The kernel then waits inside the op (one SQE per read instead
//!   of `EAGAIN` + `POLL_ADD` + retry). The poll-based paths (`poll_recv`/`poll_send`,
//!   used by the `AsyncRead`/`AsyncWrite` impls) use `MSG_DONTWAIT` syscalls and wait
//!   for readiness with a `POLL_ADD` kept per direction.
//! * mio: non-blocking, registered edge-triggered with one core's poll.
//!
//! Readiness (`ready`, behind `readable()`/`writable()`, and `poll_ready`): any number
//! of tasks may wait for one direction at once, and every one is woken when it becomes
//! ready. `ready` futures list themselves as waiters (mio: `Registration::waiter`;
//! io_uring: the socket's per-direction `POLL_ADD` and waiter list in
//! [`uring_readiness`](super::uring_readiness)) and leave the list when dropped;
//! `poll_ready` and `poll_io` (for `poll_*` callers, which keep no state) share one
//! waker slot per direction, woken by the same events.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::task::{Context, Poll, ready};

use socket2::SockAddr;

use crate::driver::op::{self, IoSource};
use crate::driver::{Backend, Handle};
use crate::io::shared_fd::FdOwner;
use crate::io::{BufResult, IoBuf, IoBufMut};
use crate::op::accept::{Accept, Accepted, KeepsAccepts};
use crate::op::connect::Connect;
use crate::op::leftovers::Leftovers;
use crate::op::recv::{KeepsReads, Received, Recv};
use crate::op::recv_msg::RecvMsg;
use crate::op::send::Send;
use crate::op::send_msg::SendMsg;
use crate::op::shutdown::Shutdown;
use crate::op::socket_address::MessageHeader;

/// What kind of socket: decides how kept read results are handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A byte stream (TCP, Unix stream): a read takes part of a kept chunk.
    Stream,
    /// Datagrams: a read takes one kept datagram whole (truncated to the buffer).
    Datagram,
    /// A listening socket.
    Listener,
}

/// The state every op on a socket shares, next to its fd (see the module
/// documentation).
#[derive(Debug)]
pub(crate) struct SocketState {
    source: IoSource,
    kind: Kind,
    /// Reads whose futures were dropped after the kernel took the data.
    reads: Leftovers<Received>,
    /// Connections accepted by dropped `accept` futures.
    accepts: Leftovers<Accepted>,
    /// io_uring: per direction, the `POLL_ADD` its waiters share.
    #[cfg(ringtide_uring)]
    readiness: [super::uring_readiness::DirectionReadiness; 2],
}

impl KeepsReads for SocketState {
    fn late_reads(&self) -> &Leftovers<Received> {
        &self.reads
    }
}

impl KeepsAccepts for SocketState {
    fn late_accepts(&self) -> &Leftovers<Accepted> {
        &self.accepts
    }
}

/// The fd of a socket. Dropped once every op that used it is finished (each held an
/// `FdRef` to it). A stream's close goes through the ring when this thread drives one
/// (batched with the other SQEs, so the peer sees the close when the ring next
/// submits, before the worker looks for work or parks); otherwise, and for listeners
/// and datagram sockets (which own an address that must be free once the drop
/// returns), it is a `close(2)`.
#[derive(Debug)]
struct SocketFd {
    /// `None` only once handed out (`into_owned`) or while being dropped.
    fd: Option<OwnedFd>,
    #[cfg_attr(not(ringtide_uring), allow(dead_code))]
    through_ring: bool,
}

impl SocketFd {
    fn into_owned(mut self) -> OwnedFd {
        self.fd.take().expect("a socket's fd is taken once")
    }
}

impl Drop for SocketFd {
    fn drop(&mut self) {
        let Some(fd) = self.fd.take() else {
            return;
        };
        #[cfg(ringtide_uring)]
        if self.through_ring {
            // Without a ring on this thread the op comes back and its drop closes it.
            let _ = crate::driver::uring::cell::submit_detached(crate::op::close::Close::new(fd));
            return;
        }
        drop(fd);
    }
}

impl AsFd for SocketFd {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd
            .as_ref()
            .expect("a socket's fd is taken once")
            .as_fd()
    }
}

impl AsRawFd for SocketFd {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// The direction of the poll-based API.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Direction {
    Read = 0,
    Write = 1,
}

impl Direction {
    fn for_mio(self) -> crate::driver::mio::Direction {
        match self {
            Direction::Read => crate::driver::mio::Direction::Read,
            Direction::Write => crate::driver::mio::Direction::Write,
        }
    }

    /// The `poll(2)` events of the direction.
    #[cfg(ringtide_uring)]
    fn poll_events(self) -> libc::c_short {
        match self {
            Direction::Read => libc::POLLIN,
            Direction::Write => libc::POLLOUT,
        }
    }
}

/// A socket driven by the current runtime's backend.
#[derive(Debug)]
pub(crate) struct Socket {
    fd: FdOwner<SocketFd, SocketState>,
    /// io_uring listeners: the armed multishot accept. It lives here, not in
    /// `SocketState`, because its op holds an `FdRef` to it (that would be a cycle);
    /// dropping the listener drops it, which cancels it.
    #[cfg(ringtide_uring)]
    accept_stream: AcceptStream,
}

#[cfg(ringtide_uring)]
type MultishotAccept =
    crate::driver::uring::multishot::MultishotOp<crate::op::accept_multi::AcceptMulti<SocketState>>;

/// The slot of a listener's multishot accept.
///
/// Dropping an armed one cancels it, but the cancellation completes asynchronously and
/// the op keeps the socket open until then (in the kernel too: the request holds the
/// file). So that dropping a listener stops listening at once (new connections are
/// refused, as with tokio), the drop first shuts the listening socket down, which ends
/// the accept. (A Unix listener's name stays taken until the request has ended: the
/// kernel releases it with the socket.)
///
/// `shutdown` acts on the socket, not on the fd: every duplicate of the fd (a `dup`, a
/// `try_clone` of the std listener it came from, a copy passed to another process)
/// would stop listening too. So it is used only when no duplicate can exist: the
/// listener made the socket itself (`bind`, or `TcpSocket::listen` of a socket whose fd
/// was never lent out) and never lent its fd out (`AsRawFd`/`AsFd`); see
/// [`Socket::lend_fd`]. Otherwise the drop only cancels, and the port is free once that
/// cancellation has landed (the ring's next submission); a connection arriving before
/// then may still be taken by the ending request and is closed. (A `fork` without
/// `exec` duplicates fds behind the listener's back; it is not detected.)
#[cfg(ringtide_uring)]
#[derive(Debug)]
struct AcceptStream {
    slot: std::sync::Mutex<Option<MultishotAccept>>,
    fd: RawFd,
    /// The fd may have duplicates: never shut the socket down.
    fd_lent: std::sync::atomic::AtomicBool,
    /// False: this listener uses single accepts (the runtime was built without
    /// multishot accept, or the kernel turned out not to have it).
    multishot: std::sync::atomic::AtomicBool,
}

#[cfg(ringtide_uring)]
impl AcceptStream {
    fn new(fd: RawFd) -> AcceptStream {
        let enabled = Handle::with_current(|handle| handle.is_none_or(Handle::multishot_accept));
        AcceptStream {
            slot: std::sync::Mutex::new(None),
            fd,
            fd_lent: std::sync::atomic::AtomicBool::new(false),
            multishot: std::sync::atomic::AtomicBool::new(
                enabled
                    && !KERNEL_LACKS_MULTISHOT_ACCEPT.load(std::sync::atomic::Ordering::Relaxed),
            ),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<MultishotAccept>> {
        self.slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Cancels the accept without shutting the socket down (the fd is handed over).
    fn disarm(&self) {
        self.lock().take();
    }
}

#[cfg(ringtide_uring)]
impl Drop for AcceptStream {
    fn drop(&mut self) {
        if let Some(stream) = self.lock().take() {
            if !self.fd_lent.load(std::sync::atomic::Ordering::Relaxed) {
                // SAFETY: `shutdown` on the listener's fd, which the armed op's `FdRef`
                // keeps open; errors are irrelevant here.
                unsafe { libc::shutdown(self.fd, libc::SHUT_RD) };
            }
            drop(stream);
        }
    }
}

/// Set once a multishot accept on a socket that *is* listening failed with `EINVAL`:
/// the kernel predates multishot accept (Linux 5.19), so listeners created from then on
/// use single accepts. An `EINVAL` from a socket that is not listening says nothing
/// about the kernel and changes nothing.
#[cfg(ringtide_uring)]
static KERNEL_LACKS_MULTISHOT_ACCEPT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

impl Socket {
    /// Takes `fd` over for the current runtime: sets its mode for the backend and
    /// registers it with mio when that is the backend.
    pub(crate) fn new(fd: OwnedFd, kind: Kind) -> io::Result<Socket> {
        Socket::with_mode(fd, kind, None)
    }

    /// `new` for an fd whose `O_NONBLOCK` flag is known (`Some(true)`: set).
    fn with_mode(fd: OwnedFd, kind: Kind, nonblocking: Option<bool>) -> io::Result<Socket> {
        let source = Handle::with_current(|handle| {
            let handle = handle.ok_or_else(no_runtime)?;
            match handle.backend() {
                Some(Backend::IoUring) => {
                    if nonblocking != Some(false) {
                        socket2::SockRef::from(&fd).set_nonblocking(false)?;
                    }
                    Ok(IoSource::Uring)
                }
                Some(Backend::Mio) => {
                    if nonblocking != Some(true) {
                        socket2::SockRef::from(&fd).set_nonblocking(true)?;
                    }
                    let poll = handle.pick_poll().ok_or_else(no_runtime)?;
                    Ok(IoSource::Mio(poll.register_fd(fd.as_raw_fd())?))
                }
                _ => Err(no_runtime()),
            }
        })?;
        Ok(Socket {
            #[cfg(ringtide_uring)]
            accept_stream: AcceptStream::new(fd.as_raw_fd()),
            fd: FdOwner::with_state(
                SocketFd {
                    // Listeners and datagram sockets close at once, so that their
                    // address is free when the drop returns (a test or a restart may
                    // bind it again next; a datagram sent there next must draw "port
                    // unreachable", and a connected peer must see the socket gone).
                    through_ring: matches!(source, IoSource::Uring) && kind == Kind::Stream,
                    fd: Some(fd),
                },
                SocketState {
                    source,
                    kind,
                    reads: Leftovers::default(),
                    accepts: Leftovers::default(),
                    #[cfg(ringtide_uring)]
                    readiness: Default::default(),
                },
            ),
        })
    }

    /// A new socket of `domain` and `socket_type` (close-on-exec) for the current
    /// runtime.
    pub(crate) fn create(
        domain: socket2::Domain,
        socket_type: socket2::Type,
        kind: Kind,
    ) -> io::Result<Socket> {
        let socket = socket2::Socket::new(domain, socket_type, None)?;
        Socket::with_mode(socket.into(), kind, Some(false))
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.raw()
    }

    /// The state shared with the ops.
    fn state(&self) -> &SocketState {
        self.fd.state()
    }

    /// Borrowed view for socket options.
    pub(crate) fn as_sock_ref(&self) -> socket2::SockRef<'_> {
        socket2::SockRef::from(self.fd.get())
    }

    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.get().as_fd()
    }

    /// The pending socket error (`SO_ERROR`), as a result.
    fn take_error(&self) -> io::Result<()> {
        match self.as_sock_ref().take_error()? {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The fd, for the caller of a public `AsFd`/`AsRawFd` (or the fd came from the
    /// caller): it may be duplicated from now on, so a listener's drop no longer shuts
    /// the socket down (see `AcceptStream`).
    pub(crate) fn lend_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        #[cfg(ringtide_uring)]
        self.accept_stream
            .fd_lent
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.as_fd()
    }

    /// The backend this socket runs on.
    pub(crate) fn backend(&self) -> Backend {
        match self.state().source {
            IoSource::Uring => Backend::IoUring,
            IoSource::Mio(_) => Backend::Mio,
        }
    }

    /// Gives the fd back, deregistered (`into_raw_fd`, and `into_std` through
    /// [`into_fd`](Socket::into_fd)).
    ///
    /// What cancelled ops leave behind (io_uring only; on mio a dropped future has
    /// taken nothing):
    ///
    /// * Results kept for the next op (bytes or a datagram a cancelled read took,
    ///   connections a cancelled accept or the disarmed multishot accept took) are
    ///   dropped here: the bytes are lost, the connections closed. Logged as a warning.
    ///   (`into_fd` refuses instead for a stream's bytes.)
    /// * Cancelled ops still in the kernel (the disarmed multishot accept among them)
    ///   keep the socket's state alive until their final completion, but never close
    ///   the fd the caller now owns (the value that would is taken here, see
    ///   `FdOwner::take`). What they still take from the fd before their cancellation
    ///   lands (bytes, a connection) goes to that state and is dropped with it when the
    ///   last of them ends (the bytes are lost, the connections closed); a cancelled
    ///   read or accept in that state is logged as a warning.
    pub(crate) fn into_owned_fd(self) -> OwnedFd {
        #[cfg(ringtide_uring)]
        self.accept_stream.disarm();
        let owner = self.fd;
        let state = owner.state();
        // Drop what is kept now, and say so: the caller loses it.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut kept = [0usize; 2];
        let mut pending = [false; 2];
        loop {
            match state.reads.poll_take(&mut cx) {
                Poll::Ready(Some(_)) => kept[0] += 1,
                Poll::Ready(None) => break,
                Poll::Pending => {
                    pending[0] = true;
                    break;
                }
            }
        }
        loop {
            match state.accepts.poll_take(&mut cx) {
                Poll::Ready(Some(_)) => kept[1] += 1,
                Poll::Ready(None) => break,
                Poll::Pending => {
                    pending[1] = true;
                    break;
                }
            }
        }
        for (index, what) in ["read", "accept"].into_iter().enumerate() {
            if kept[index] > 0 {
                log::warn!(
                    "ringtide: fd {} handed over: dropped {} result(s) of cancelled \
                     {what}s kept for the next {what}",
                    owner.raw(),
                    kept[index]
                );
            }
            if pending[index] {
                log::warn!(
                    "ringtide: fd {} handed over while a cancelled {what} is still in the \
                     kernel; what it takes is lost",
                    owner.raw()
                );
            }
        }
        if let IoSource::Mio(registration) = &state.source {
            let _ = registration.deregister_fd(owner.raw());
        }
        owner.take().into_owned()
    }

    /// [`into_owned_fd`](Socket::into_owned_fd), then non-blocking mode (as tokio's
    /// `into_std` leaves sockets).
    ///
    /// A stream that holds bytes a cancelled read took from the kernel (io_uring: the
    /// read completed before its cancellation landed; the next read would return them)
    /// refuses: handing the fd over would lose those bytes without a trace, and a
    /// byte stream with a hole in it is corrupt. The error drops the socket, which
    /// closes it once its ops are finished. A read that returns the kept bytes first
    /// makes the conversion succeed. A cancelled read that is still in the kernel does
    /// not make it fail (it usually takes nothing, and the caller cannot wait for it
    /// here): see `into_owned_fd`.
    pub(crate) fn into_fd(self) -> io::Result<OwnedFd> {
        if self.state().kind == Kind::Stream {
            let mut cx = Context::from_waker(std::task::Waker::noop());
            if let Poll::Ready(Some(kept)) = self.state().reads.poll_take(&mut cx) {
                let count = kept.data.len();
                self.state().reads.put_back(kept);
                return Err(io::Error::other(format!(
                    "cannot hand the stream over: {count} bytes that a cancelled read took \
                     from the kernel are kept for the next read and would be lost; read \
                     them first (the stream is closed)"
                )));
            }
        }
        let fd = self.into_owned_fd();
        socket2::SockRef::from(&fd).set_nonblocking(true)?;
        Ok(fd)
    }

    fn source(&self) -> Option<&IoSource> {
        Some(&self.state().source)
    }

    /// Accepts one connection and reports the peer's address; a connection kept from a
    /// cancelled accept comes first.
    pub(crate) async fn accept_raw(&self) -> io::Result<(Socket, SockAddr)> {
        let accepted = match self.accept_multishot().await {
            Some(accepted) => accepted?,
            None => match poll_fn(|cx| self.state().accepts.poll_take(cx)).await {
                Some(kept) => kept,
                None => op::run(self.source(), Accept::new(self.fd.share())).await?,
            },
        };
        let nonblocking = match self.backend() {
            // A ring accept leaves the new socket blocking; the readiness fallback
            // (`accept4` with `SOCK_NONBLOCK`) does not.
            Backend::Mio => Some(true),
            _ => None,
        };
        let socket = Socket::with_mode(accepted.fd, Kind::Stream, nonblocking)?;
        Ok((socket, accepted.peer))
    }

    /// Connects a new, not yet registered socket (`fd`, of `kind`; `nonblocking` as
    /// for [`with_mode`](Socket::with_mode)) to `address`.
    ///
    /// On mio the `connect` syscall is issued *before* the fd is registered. A TCP
    /// socket that is not connected yet polls as hung up (`EPOLLHUP`, state `CLOSE`),
    /// and a worker parked in `epoll_wait` on the poll the fd is added to can record
    /// that edge as `READ_CLOSED`/`WRITE_CLOSED`, which are never cleared: every later
    /// read (or write) that finds nothing to do then spins forever in
    /// `Registration::poll_io` (`recv` keeps returning `EAGAIN` while the cell keeps
    /// saying "closed"). Registered after `connect`, the socket is in `SYN_SENT` or
    /// connected and reports no hang-up. (tokio registers after `connect` too.)
    pub(crate) async fn connect_fd(
        fd: OwnedFd,
        kind: Kind,
        address: SockAddr,
        nonblocking: Option<bool>,
    ) -> io::Result<Socket> {
        let backend = Handle::with_current(|handle| handle.and_then(Handle::backend));
        if backend != Some(Backend::Mio) {
            let socket = Socket::with_mode(fd, kind, nonblocking)?;
            socket.connect(address).await?;
            return Ok(socket);
        }
        if nonblocking != Some(true) {
            socket2::SockRef::from(&fd).set_nonblocking(true)?;
        }
        let in_progress = match socket2::SockRef::from(&fd).connect(&address) {
            Ok(()) => false,
            Err(error) if matches!(error.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR)) => {
                true
            }
            Err(error) => return Err(error),
        };
        let socket = Socket::with_mode(fd, kind, Some(true))?;
        if in_progress {
            socket.ready(Direction::Write).await?;
            socket.take_error()?;
        }
        Ok(socket)
    }

    /// io_uring: takes the next connection from the listener's multishot accept
    /// (arming it on first use, and again after the kernel ended it, e.g. after an
    /// `EMFILE`). `None`: not io_uring, or this listener uses single accepts (the
    /// runtime disabled multishot accept, or the kernel lacks it).
    ///
    /// An `EINVAL` means either a kernel without multishot accept or a socket that is
    /// not listening; `SO_ACCEPTCONN` tells which. Only the first switches to single
    /// accepts (this listener, and every listener created later); the second is this
    /// accept's error, and the next accept tries multishot again.
    #[cfg(ringtide_uring)]
    async fn accept_multishot(&self) -> Option<io::Result<Accepted>> {
        use std::sync::atomic::Ordering::Relaxed;
        if !matches!(self.state().source, IoSource::Uring)
            || !self.accept_stream.multishot.load(Relaxed)
        {
            return None;
        }
        poll_fn(|cx| {
            if let Some(kept) = ready!(self.state().accepts.poll_take(cx)) {
                return Poll::Ready(Some(Ok(kept)));
            }
            let mut slot = self.accept_stream.lock();
            // At most one re-arm per poll: a request the kernel ended is replaced once.
            for _ in 0..2 {
                let stream = slot.get_or_insert_with(|| {
                    MultishotAccept::new(crate::op::accept_multi::AcceptMulti::new(self.fd.share()))
                });
                match ready!(stream.poll_next(cx)) {
                    None => *slot = None,
                    Some(Ok(fd)) => {
                        return Poll::Ready(Some(Ok(crate::op::accept_multi::accepted(fd))));
                    }
                    Some(Err(error)) if error.raw_os_error() == Some(libc::EINVAL) => {
                        *slot = None;
                        if self.as_sock_ref().is_listener().unwrap_or(false) {
                            // A kernel without multishot accept: single accepts.
                            KERNEL_LACKS_MULTISHOT_ACCEPT.store(true, Relaxed);
                            self.accept_stream.multishot.store(false, Relaxed);
                            return Poll::Ready(None);
                        }
                        return Poll::Ready(Some(Err(error)));
                    }
                    Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                }
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }

    #[cfg(not(ringtide_uring))]
    async fn accept_multishot(&self) -> Option<io::Result<Accepted>> {
        None
    }

    /// Connects to `address`.
    pub(crate) async fn connect(&self, address: SockAddr) -> io::Result<()> {
        let result = op::run(self.source(), Connect::new(self.fd.share(), address)).await;
        match result.as_ref().map_err(io::Error::raw_os_error) {
            // A resubmitted io_uring connect (its ring was retired mid-way): the first
            // attempt goes on in the kernel, or has finished.
            Err(Some(libc::EALREADY | libc::EINPROGRESS)) => {
                self.ready(Direction::Write).await?;
                self.take_error()
            }
            Err(Some(libc::EISCONN)) => Ok(()),
            _ => result,
        }
    }

    /// Waits until the socket is readable or writable (or has an error to report). Any
    /// number of tasks may wait at once; all are woken.
    pub(crate) async fn ready(&self, direction: Direction) -> io::Result<()> {
        match &self.state().source {
            IoSource::Mio(registration) => {
                let mut waiter = registration.waiter(direction.for_mio());
                poll_fn(|cx| waiter.poll_ready(cx).map_ok(|_| ())).await
            }
            IoSource::Uring => self.ready_uring(direction).await,
        }
    }

    #[cfg(ringtide_uring)]
    async fn ready_uring(&self, direction: Direction) -> io::Result<()> {
        let mut waiter = self.state().readiness[direction as usize].waiter();
        poll_fn(|cx| waiter.poll_ready(cx, self.fd(), direction.poll_events())).await
    }

    #[cfg(not(ringtide_uring))]
    async fn ready_uring(&self, _direction: Direction) -> io::Result<()> {
        Err(no_runtime())
    }

    /// Reads into `buf[offset..]`. Kept bytes (or a kept datagram) from a cancelled
    /// read come first. On a datagram socket, a zero-capacity buffer still takes (and
    /// discards) one datagram, as `recv(2)` does.
    pub(crate) async fn recv<B: IoBufMut>(&self, mut buf: B, offset: usize) -> BufResult<usize, B> {
        if buf.bytes_total() == offset && self.state().kind == Kind::Stream {
            return (Ok(0), buf);
        }
        if let Some(kept) = poll_fn(|cx| self.state().reads.poll_take(cx)).await {
            let count = self.hand_out(kept, &mut buf, offset);
            return (Ok(count), buf);
        }
        if self.state().kind == Kind::Datagram {
            let (result, mut bufs) = op::run(
                self.source(),
                RecvMsg::new(self.fd.share(), vec![buf], true),
            )
            .await;
            let buf = bufs.pop().expect("one buffer in, one out");
            return (result.map(|(count, _)| count), buf);
        }
        op::run(self.source(), Recv::new(self.fd.share(), buf, offset)).await
    }

    /// Copies a kept result into `buf[offset..]`; a stream puts back what did not fit.
    fn hand_out<B: IoBufMut>(&self, mut kept: Received, buf: &mut B, offset: usize) -> usize {
        let room = buf.bytes_total() - offset;
        let count = room.min(kept.data.len());
        // SAFETY: `buf` has `room` writable bytes after `offset`, and `count <= room`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                kept.data.as_ptr(),
                buf.stable_mut_ptr().add(offset),
                count,
            );
            buf.set_init(offset + count);
        }
        if self.state().kind == Kind::Stream && count < kept.data.len() {
            kept.data.drain(..count);
            self.state().reads.put_back(kept);
        }
        count
    }

    /// Fills `buf` to its capacity; `UnexpectedEof` when the stream ends first.
    pub(crate) async fn recv_exact<B: IoBufMut>(&self, mut buf: B) -> BufResult<(), B> {
        let mut filled = 0;
        while filled < buf.bytes_total() {
            let (result, returned) = self.recv(buf, filled).await;
            buf = returned;
            match result {
                Ok(0) => {
                    return (
                        Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the stream ended before the buffer was full",
                        )),
                        buf,
                    );
                }
                Ok(count) => filled += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return (Err(error), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Reads into `bufs` in order (a kept chunk fills the first buffer only).
    pub(crate) async fn recv_vectored<B: IoBufMut>(
        &self,
        mut bufs: Vec<B>,
    ) -> BufResult<usize, Vec<B>> {
        if bufs.iter().all(|buf| buf.bytes_total() == 0) {
            return (Ok(0), bufs);
        }
        if let Some(kept) = poll_fn(|cx| self.state().reads.poll_take(cx)).await {
            let first = bufs
                .iter_mut()
                .find(|buf| buf.bytes_total() > 0)
                .expect("checked above");
            let count = self.hand_out(kept, first, 0);
            return (Ok(count), bufs);
        }
        let (result, bufs) =
            op::run(self.source(), RecvMsg::new(self.fd.share(), bufs, false)).await;
        (result.map(|(count, _)| count), bufs)
    }

    /// Receives one datagram and its sender.
    pub(crate) async fn recv_from<B: IoBufMut>(
        &self,
        mut buf: B,
    ) -> BufResult<(usize, SockAddr), B> {
        if let Some(kept) = poll_fn(|cx| self.state().reads.poll_take(cx)).await {
            let from = kept.from.clone();
            let count = self.hand_out(kept, &mut buf, 0);
            return match from {
                Some(from) => (Ok((count, from)), buf),
                None => (Err(io::Error::other("kept datagram without a sender")), buf),
            };
        }
        let (result, mut bufs) = op::run(
            self.source(),
            RecvMsg::new(self.fd.share(), vec![buf], true),
        )
        .await;
        let buf = bufs.pop().expect("one buffer in, one out");
        let result = result.map(|(count, from)| (count, from.expect("a sender was asked for")));
        (result, buf)
    }

    /// Writes `buf[offset..bytes_init()]` once; returns how much was written.
    pub(crate) async fn send<B: IoBuf>(&self, buf: B, offset: usize) -> BufResult<usize, B> {
        if buf.bytes_init() == offset && self.state().kind == Kind::Stream {
            return (Ok(0), buf);
        }
        op::run(self.source(), Send::new(self.fd.share(), buf, offset)).await
    }

    /// Writes all of `buf`'s initialised bytes.
    pub(crate) async fn send_all<B: IoBuf>(&self, mut buf: B) -> BufResult<(), B> {
        let mut written = 0;
        while written < buf.bytes_init() {
            let (result, returned) = self.send(buf, written).await;
            buf = returned;
            match result {
                Ok(0) => {
                    return (
                        Err(io::Error::new(
                            io::ErrorKind::WriteZero,
                            "the socket accepted no more bytes",
                        )),
                        buf,
                    );
                }
                Ok(count) => written += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return (Err(error), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Writes the buffers' initialised bytes in order, once.
    pub(crate) async fn send_vectored<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        if bufs.iter().all(|buf| buf.bytes_init() == 0) {
            return (Ok(0), bufs);
        }
        op::run(self.source(), SendMsg::new(self.fd.share(), bufs, None)).await
    }

    /// Sends one datagram to `target`.
    pub(crate) async fn send_to<B: IoBuf>(&self, buf: B, target: SockAddr) -> BufResult<usize, B> {
        let (result, mut bufs) = op::run(
            self.source(),
            SendMsg::new(self.fd.share(), vec![buf], Some(target)),
        )
        .await;
        (result, bufs.pop().expect("one buffer in, one out"))
    }

    /// Shuts down one or both directions.
    pub(crate) async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        op::run(self.source(), Shutdown::new(self.fd.share(), how)).await
    }

    /// Poll-based read (the `AsyncRead` impls): kept bytes first, then a non-blocking
    /// `recv`, waiting for readability when there is nothing. Writes only initialised
    /// bytes, at the start of `buf`, and returns how many (`Ok(0)` for an empty `buf`
    /// without a syscall).
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(dead_code, reason = "used by the AsyncRead/AsyncWrite impls")
    )]
    pub(crate) fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if let Some(kept) = ready!(self.state().reads.poll_take(cx)) {
            let count = buf.len().min(kept.data.len());
            for (slot, byte) in buf.iter_mut().zip(&kept.data[..count]) {
                slot.write(*byte);
            }
            if count < kept.data.len() {
                let mut rest = kept;
                rest.data.drain(..count);
                self.state().reads.put_back(rest);
            }
            return Poll::Ready(Ok(count));
        }
        self.poll_io(cx, Direction::Read, || {
            // SAFETY: `buf` is a valid writable slice for the whole call; `recv` writes
            // only initialised bytes into it.
            let read = unsafe {
                libc::recv(
                    self.fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if read < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(read as usize)
            }
        })
    }

    /// Poll-based write (the `AsyncWrite` impls): a non-blocking `send`, waiting for
    /// writability when the socket buffer is full.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(dead_code, reason = "used by the AsyncRead/AsyncWrite impls")
    )]
    pub(crate) fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Direction::Write, || {
            // SAFETY: `buf` is a valid readable slice for the whole call.
            let sent = unsafe {
                libc::send(
                    self.fd(),
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if sent < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(sent as usize)
            }
        })
    }

    /// Poll-based vectored write. Sends at most the first `IOV_MAX` (1024) slices, as
    /// std's `write_vectored` does (more would fail with `EMSGSIZE`).
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(dead_code, reason = "used by the AsyncRead/AsyncWrite impls")
    )]
    pub(crate) fn poll_send_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        const IOV_MAX: usize = 1024;
        let bufs = &bufs[..bufs.len().min(IOV_MAX)];
        self.poll_io(cx, Direction::Write, || {
            let mut header = MessageHeader::default();
            header.0.msg_iov = bufs.as_ptr().cast_mut().cast();
            header.0.msg_iovlen = bufs.len() as _;
            // SAFETY: `IoSlice` is ABI-compatible with `iovec`; the slices live for the
            // whole call.
            let sent = unsafe {
                libc::sendmsg(
                    self.fd(),
                    &header.0,
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if sent < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(sent as usize)
            }
        })
    }

    /// Runs `operation` (a non-blocking syscall) until it does not report `WouldBlock`,
    /// waiting for readiness in between.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(dead_code, reason = "used by the AsyncRead/AsyncWrite impls")
    )]
    fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut operation: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        match &self.state().source {
            IoSource::Mio(registration) => registration.poll_io(cx, direction.for_mio(), operation),
            IoSource::Uring => {
                ready!(crate::task::coop::poll_proceed(cx));
                loop {
                    match operation() {
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            ready!(self.poll_ready(cx, direction))?;
                        }
                        result => return Poll::Ready(result),
                    }
                }
            }
        }
    }

    /// Ready when the direction is ready (or an error is pending); registers `cx` in the
    /// direction's one slot for `poll_*` callers (futures use [`ready`](Socket::ready)).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<()>> {
        match &self.state().source {
            IoSource::Mio(registration) => registration
                .poll_ready(cx, direction.for_mio())
                .map_ok(|_| ()),
            IoSource::Uring => self.poll_ready_uring(cx, direction),
        }
    }

    #[cfg(ringtide_uring)]
    fn poll_ready_uring(&self, cx: &mut Context<'_>, direction: Direction) -> Poll<io::Result<()>> {
        self.state().readiness[direction as usize].poll_ready(
            cx,
            self.fd(),
            direction.poll_events(),
        )
    }

    #[cfg(not(ringtide_uring))]
    fn poll_ready_uring(
        &self,
        _cx: &mut Context<'_>,
        _direction: Direction,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(no_runtime()))
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

fn no_runtime() -> io::Error {
    io::Error::other(
        "ringtide sockets must be created inside a ringtide runtime built with `enable_io()` \
         or `enable_all()`",
    )
}
