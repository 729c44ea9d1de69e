//! [`Socket`]: the one socket type under every `net` type, on either backend: its
//! creation, its fd, and handing the fd over (`into_owned_fd`, `into_fd`).
//!
//! A socket owns its fd through an [`FdOwner`] (see `io::shared_fd`): the value is the
//! fd with its close policy (`SocketFd`, in `net::socket_fd`), the state
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
//! * mio: non-blocking, registered edge-triggered with one core's poll (on Windows
//!   the only backend: IOCP with readiness emulated by mio, see `driver::mio`).
//!
//! The fd is the platform's socket handle (`sys::OwnedSocket`: an `OwnedFd` on Unix, an
//! `OwnedSocket` on Windows); the names say "fd" after the Unix case.
//!
//! The rest of `Socket` lives with its concept, one file each:
//!
//! * `net::socket_fd`: the fd and its close policy (a stream closes through the ring);
//! * `net::accept_stream`: a listener's multishot accept (io_uring) and the
//!   process-wide record that the kernel lacks it;
//! * `net::connect`: connecting, with the mio registration-order rule;
//! * `net::owned_io`: owned-buffer reads, writes and accepts, which take the results
//!   of cancelled ops first, and `shutdown`;
//! * `net::socket_ready`: readiness (`ready`, `poll_ready`) and the poll-based API
//!   (`poll_recv`, `poll_send*`);
//! * `net::socket_try_io`: `ready_interest` and the non-waiting `try_*` calls, and how
//!   read readiness counts the bytes cancelled reads kept;
//! * `net::socket_peek`: `peek` and `poll_peek`;
//! * `net::poll_accept`: the poll-based accept behind the listeners' `poll_accept`.

use std::io;
use std::task::{Context, Poll};

#[cfg(ringtide_uring)]
use super::accept_stream::AcceptStream;
use super::socket_fd::SocketFd;
#[cfg(ringtide_uring)]
use super::socket_ready::Direction;
use crate::driver::Backend;
use crate::driver::op::IoSource;
use crate::io::shared_fd::FdOwner;
use crate::op::accept::{Accepted, KeepsAccepts};
use crate::op::leftovers::Leftovers;
use crate::op::recv::{KeepsReads, Received};
use crate::sys::{AsRawIo, BorrowedSocket, OwnedSocket, RawSocket};

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
    pub(super) source: IoSource,
    pub(super) kind: Kind,
    /// Reads whose futures were dropped after the kernel took the data.
    pub(super) reads: Leftovers<Received>,
    /// Connections accepted by dropped `accept` futures: made on first use (by a
    /// listener's accept), so that a stream, of which a server holds thousands, does not
    /// carry a listener's 96 bytes. Read it through [`accepts`](SocketState::accepts).
    accepts: std::sync::OnceLock<Box<Leftovers<Accepted>>>,
    /// io_uring: per direction, the `POLL_ADD` its waiters share; each made on its
    /// direction's first readiness use (one pointer until then: owned-buffer ops and
    /// the mio backend never use it).
    #[cfg(ringtide_uring)]
    pub(super) readiness: [super::uring_readiness::DirectionReadiness; 2],
    /// io_uring: the runtime enables the multishot receive for the poll path
    /// (`Builder::uring_recv_multishot`, read when the socket is made; `net::recv_queue`).
    #[cfg(ringtide_uring)]
    pub(super) recv_multishot: bool,
    /// io_uring: the kernel refused a zero-copy send on this socket (`EOPNOTSUPP`: not
    /// TCP/UDP over IP), so later ones go straight to a plain send (`owned_io`).
    #[cfg(ringtide_uring)]
    pub(super) refuses_zero_copy: std::sync::atomic::AtomicBool,
    /// io_uring: plain sends of at least this many bytes go out zero-copy (the
    /// runtime's `uring_send_zc_threshold`); `usize::MAX` when it is off, a size no
    /// send reaches (a buffer holds at most `isize::MAX` bytes). A plain number rather
    /// than an `Option`: 8 bytes less in every socket's state, which puts it (with its
    /// cell) in a smaller malloc size class. Read it through
    /// [`send_zc_threshold`](SocketState::send_zc_threshold).
    #[cfg(ringtide_uring)]
    send_zc_from: usize,
}

impl KeepsReads for SocketState {
    fn late_reads(&self) -> &Leftovers<Received> {
        &self.reads
    }

    /// The tasks waiting to read re-check (io_uring; on mio nothing is ever kept): read
    /// readiness counts kept bytes. A read direction whose readiness was never made has
    /// no task waiting on it.
    fn read_kept(&self) {
        #[cfg(ringtide_uring)]
        self.readiness[Direction::Read as usize].wake();
    }
}

impl SocketState {
    /// io_uring: the size from which plain sends go out zero-copy, if any.
    #[cfg(ringtide_uring)]
    pub(super) fn send_zc_threshold(&self) -> Option<usize> {
        (self.send_zc_from != usize::MAX).then_some(self.send_zc_from)
    }

    /// The connections kept from dropped `accept` futures (made on first use).
    pub(super) fn accepts(&self) -> &Leftovers<Accepted> {
        self.accepts.get_or_init(Box::default)
    }
}

impl KeepsAccepts for SocketState {
    fn late_accepts(&self) -> &Leftovers<Accepted> {
        self.accepts()
    }
}

/// A socket driven by the current runtime's backend.
#[derive(Debug)]
pub(crate) struct Socket {
    /// io_uring listeners: the armed multishot accept. It lives here, not in
    /// `SocketState`, because its op holds an `FdRef` to it (that would be a cycle);
    /// dropping the listener drops it, which cancels it. Declared before `fd`, so it is
    /// dropped first, while the fd is still open (its drop may shut the socket down).
    /// Listeners only (`None` for every other socket): boxed, so that a stream, of
    /// which a server holds thousands, does not carry a listener's 256 bytes.
    #[cfg(ringtide_uring)]
    pub(super) accept_stream: Option<Box<AcceptStream>>,
    pub(super) fd: FdOwner<SocketFd, SocketState>,
}

impl Socket {
    /// Takes `fd` over for the current runtime: sets its mode for the backend and
    /// registers it with mio when that is the backend.
    pub(crate) fn new(fd: OwnedSocket, kind: Kind) -> io::Result<Socket> {
        Socket::with_mode(fd, kind, None)
    }

    /// `new` for an fd whose `O_NONBLOCK` flag is known (`Some(true)`: set).
    pub(super) fn with_mode(
        fd: OwnedSocket,
        kind: Kind,
        nonblocking: Option<bool>,
    ) -> io::Result<Socket> {
        #[cfg(ringtide_uring)]
        let mut send_zc_threshold = None;
        #[cfg(ringtide_uring)]
        let mut recv_multishot = false;
        let source = crate::runtime::context::with_io(|handle| {
            let handle = handle.ok_or_else(no_runtime)?;
            match handle.backend() {
                Some(Backend::IoUring) => {
                    if nonblocking != Some(false) {
                        socket2::SockRef::from(&fd).set_nonblocking(false)?;
                    }
                    #[cfg(ringtide_uring)]
                    {
                        send_zc_threshold = handle.send_zc_threshold();
                        recv_multishot = handle.recv_multishot();
                    }
                    Ok(IoSource::Uring)
                }
                Some(Backend::Mio) => {
                    if nonblocking != Some(true) {
                        socket2::SockRef::from(&fd).set_nonblocking(true)?;
                    }
                    let poll = handle.pick_poll().ok_or_else(no_runtime)?;
                    Ok(IoSource::Mio(poll.register_raw(fd.as_raw_io())?))
                }
                _ => Err(no_runtime()),
            }
        })?;
        Ok(Socket {
            #[cfg(ringtide_uring)]
            accept_stream: (kind == Kind::Listener).then(|| {
                Box::new(AcceptStream::new(
                    std::os::fd::AsFd::as_fd(&fd),
                    true,
                    matches!(source, IoSource::Uring),
                ))
            }),
            fd: FdOwner::with_state(
                // Listeners and datagram sockets close at once, so that their address is
                // free when the drop returns (a test or a restart may bind it again
                // next; a datagram sent there next must draw "port unreachable", and a
                // connected peer must see the socket gone).
                SocketFd::new(
                    fd,
                    matches!(source, IoSource::Uring) && kind == Kind::Stream,
                ),
                SocketState {
                    source,
                    kind,
                    reads: Leftovers::default(),
                    accepts: std::sync::OnceLock::new(),
                    #[cfg(ringtide_uring)]
                    readiness: Default::default(),
                    #[cfg(ringtide_uring)]
                    recv_multishot,
                    #[cfg(ringtide_uring)]
                    refuses_zero_copy: std::sync::atomic::AtomicBool::new(false),
                    #[cfg(ringtide_uring)]
                    send_zc_from: send_zc_threshold.unwrap_or(usize::MAX),
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

    pub(crate) fn fd(&self) -> RawSocket {
        self.fd.raw()
    }

    /// The state shared with the ops.
    pub(super) fn state(&self) -> &SocketState {
        self.fd.state()
    }

    /// Borrowed view for socket options.
    pub(crate) fn as_sock_ref(&self) -> socket2::SockRef<'_> {
        socket2::SockRef::from(self.fd.get())
    }

    pub(crate) fn as_fd(&self) -> BorrowedSocket<'_> {
        self.fd.get().borrow()
    }

    /// The fd, for the caller of a public `AsFd`/`AsRawFd` (or the fd came from the
    /// caller): it may be duplicated from now on, so a listener's drop no longer shuts
    /// the socket down (see `AcceptStream`).
    pub(crate) fn lend_fd(&self) -> BorrowedSocket<'_> {
        #[cfg(ringtide_uring)]
        if let Some(accept_stream) = self.accept_slot() {
            accept_stream.note_fd_lent();
        }
        self.as_fd()
    }

    /// A listener's accept slot (`None`: not a listener).
    #[cfg(ringtide_uring)]
    pub(super) fn accept_slot(&self) -> Option<&AcceptStream> {
        self.accept_stream.as_deref()
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
    pub(crate) fn into_owned_fd(self) -> OwnedSocket {
        #[cfg(ringtide_uring)]
        if let Some(accept_stream) = self.accept_slot() {
            accept_stream.disarm();
        }
        // The multishot receive's queue (`net::recv_queue`): cancelled, buffers back.
        let (queued, receiving) = self.shut_recv_queue();
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
        // Never made: nothing was ever kept, and nothing is in flight.
        if let Some(accepts) = state.accepts.get() {
            loop {
                match accepts.poll_take(&mut cx) {
                    Poll::Ready(Some(_)) => kept[1] += 1,
                    Poll::Ready(None) => break,
                    Poll::Pending => {
                        pending[1] = true;
                        break;
                    }
                }
            }
        }
        if queued > 0 || receiving {
            crate::trace::event!(
                warn,
                "ringtide: fd {} handed over with its multishot receive armed: dropped {} \
                 queued byte(s); what it takes before its cancellation lands is lost",
                owner.raw(),
                queued
            );
        }
        for (index, what) in ["read", "accept"].into_iter().enumerate() {
            if kept[index] > 0 {
                crate::trace::event!(
                    warn,
                    "ringtide: fd {} handed over: dropped {} result(s) of cancelled \
                     {what}s kept for the next {what}",
                    owner.raw(),
                    kept[index]
                );
            }
            if pending[index] {
                crate::trace::event!(
                    warn,
                    "ringtide: fd {} handed over while a cancelled {what} is still in the \
                     kernel; what it takes is lost",
                    owner.raw()
                );
            }
        }
        if let IoSource::Mio(registration) = &state.source {
            let _ = registration.deregister();
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
    pub(crate) fn into_fd(self) -> io::Result<OwnedSocket> {
        if self.state().kind == Kind::Stream {
            let queued = self.queued_bytes();
            if queued > 0 {
                return Err(io::Error::other(format!(
                    "cannot hand the stream over: {queued} bytes that the multishot receive \
                     took from the kernel are queued for the next read and would be lost; \
                     read them first (the stream is closed)"
                )));
            }
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

    /// Where the socket's ops run (for `op::run`).
    pub(super) fn source(&self) -> Option<&IoSource> {
        Some(&self.state().source)
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawSocket {
        self.fd()
    }
}

pub(super) fn no_runtime() -> io::Error {
    io::Error::other(
        "ringtide sockets must be created inside a ringtide runtime built with `enable_io()` \
         or `enable_all()`",
    )
}

#[cfg(all(test, not(loom), ringtide_uring))]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::OwnedFd;
    use std::task::{Context, Poll};

    use super::*;
    use crate::runtime::Builder;

    /// The bound of [`socket_state_stays_small`] (`--all-features`, 64-bit).
    const SOCKET_STATE: usize = 152;

    fn runtime(backend: Backend) -> crate::runtime::Runtime {
        Builder::new_current_thread()
            .backend(backend)
            .enable_all()
            .build()
            .unwrap()
    }

    /// The state every socket carries (in its fd owner's cell, one malloc block with
    /// the fd): the bound keeps the idle-connection census honest (`bench -- --only
    /// idle`: that block was 240 bytes with both readiness states inline, 192 since).
    #[test]
    fn socket_state_stays_small() {
        let size = size_of::<SocketState>();
        println!("SocketState: {size} bytes");
        assert!(
            size <= SOCKET_STATE,
            "SocketState is {size} bytes, above {SOCKET_STATE}"
        );
    }

    /// A direction's readiness state is made by its first readiness use, and by
    /// nothing else: owned-buffer reads and writes make none (on either backend), a
    /// send that finds room makes none, and a mio socket never makes one (its readiness
    /// is its registration's).
    #[test]
    fn readiness_is_made_on_its_first_use_only_and_never_on_mio() {
        for backend in [Backend::IoUring, Backend::Mio] {
            runtime(backend).block_on(async {
                let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
                let socket = Socket::new(OwnedFd::from(ours), Kind::Stream).unwrap();
                let made =
                    |direction: Direction| socket.state().readiness[direction as usize].is_made();
                let (sent, _) = socket.send(b"ping".to_vec(), 0).await;
                assert_eq!(sent.unwrap(), 4);
                let mut got = [0; 4];
                peer.read_exact(&mut got).unwrap();
                peer.write_all(b"pong").unwrap();
                let (read, buf) = socket.recv_stream(Vec::with_capacity(4), 0).await;
                assert_eq!((read.unwrap(), &buf[..]), (4, &b"pong"[..]));
                assert!(
                    !made(Direction::Read) && !made(Direction::Write),
                    "{backend}: owned-buffer I/O made readiness"
                );

                // The poll path's send finds room: the syscall runs, nothing is made.
                let mut cx = Context::from_waker(std::task::Waker::noop());
                assert!(matches!(
                    socket.poll_send(&mut cx, b"x"),
                    Poll::Ready(Ok(1))
                ));
                assert!(!made(Direction::Write), "{backend}: a send with room");

                // The first wait makes the read side's (io_uring), and only that one.
                peer.write_all(b"y").unwrap();
                socket.ready(Direction::Read).await.unwrap();
                assert_eq!(
                    made(Direction::Read),
                    backend == Backend::IoUring,
                    "{backend}"
                );
                assert!(!made(Direction::Write), "{backend}");
                let mut byte = [0; 1];
                assert_eq!(socket.try_recv(&mut byte).unwrap(), 1);
                let error = socket.try_recv(&mut byte).unwrap_err();
                assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
                assert!(!made(Direction::Write), "{backend}");
            });
        }
    }

    /// io_uring: a first `try_recv` that finds nothing makes the read side's state, to
    /// clear it (the next `poll_read` must wait); a `readable()` after it sees the
    /// same state and waits, and is woken by the bytes.
    #[test]
    fn a_clear_on_first_use_makes_the_state_that_later_waits_use() {
        runtime(Backend::IoUring).block_on(async {
            let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
            let socket = Socket::new(OwnedFd::from(ours), Kind::Stream).unwrap();
            let read = &socket.state().readiness[Direction::Read as usize];
            assert!(read.ready_tick().is_some(), "never tried: ready");
            let error = socket.try_recv(&mut [0; 4]).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
            assert!(read.is_made(), "the clear made it");
            assert!(read.ready_tick().is_none(), "cleared: the next poll waits");
            let (woken, waker) = crate::test_support::counting_waker();
            let mut cx = Context::from_waker(&waker);
            assert!(socket.poll_ready(&mut cx, Direction::Read).is_pending());
            peer.write_all(b"data").unwrap();
            while woken.0.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                crate::task::yield_now().await;
            }
            assert!(matches!(
                socket.poll_ready(&mut cx, Direction::Read),
                Poll::Ready(Ok(()))
            ));
        });
    }
}
