//! Readiness of a [`Socket`] and its poll-based API: `ready` (behind `readable()` and
//! `writable()`), `poll_ready`, and the `poll_recv`/`poll_send*` of the
//! `AsyncRead`/`AsyncWrite` impls, which run a non-blocking syscall and wait for
//! readiness while it says `WouldBlock` (`poll_io`).
//!
//! Any number of tasks may wait for one direction at once, and every one is woken when
//! it becomes ready. `ready` futures list themselves as waiters (mio:
//! `Registration::waiter`; io_uring: the socket's per-direction `POLL_ADD` and waiter
//! list in `net::uring_readiness`) and leave the list when dropped; `poll_ready` and
//! `poll_io` (for `poll_*` callers, which keep no state) share one waker slot per
//! direction, woken by the same events.
//!
//! Each `poll_io` spends one unit of the task's cooperative budget (`task::coop`), on
//! both backends, before it tries the syscall.
//!
//! Read readiness looks at the socket's read leftovers first (`Socket::poll_kept_read`,
//! in `net::socket_try_io`): bytes a cancelled owned read kept make the socket readable
//! at once, and while such a read is still in the kernel the wait is for it to end, not
//! for the socket. The reads that follow a readiness wait (`poll_recv`, `try_recv`,
//! `poll_peek`) take or show those bytes first, so a readiness loop never waits on the
//! socket for bytes that were already taken from it, nor spins on kept bytes it cannot
//! see. Keeping a result wakes the direction's waiters (io_uring: the read op that
//! keeps it tells the socket's state, `KeepsReads::read_kept`), so a wait already
//! parked on the socket re-checks.

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll, ready};

#[cfg(not(ringtide_uring))]
use super::socket::no_runtime;
use super::socket::{Kind, Socket};
use super::socket_try_io::{KeptRead, copy_to_uninit, recv_uninit};
use crate::driver::op::IoSource;
use crate::sys::socket as sys_socket;

/// The direction of the poll-based API.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Direction {
    Read = 0,
    Write = 1,
}

impl Direction {
    pub(super) fn for_mio(self) -> crate::driver::mio::Direction {
        match self {
            Direction::Read => crate::driver::mio::Direction::Read,
            Direction::Write => crate::driver::mio::Direction::Write,
        }
    }

    /// The `poll(2)` events of the direction.
    #[cfg(ringtide_uring)]
    pub(super) fn poll_events(self) -> libc::c_short {
        match self {
            // The peer's end of stream too: it marks the direction closed for good.
            Direction::Read => libc::POLLIN | libc::POLLRDHUP,
            Direction::Write => libc::POLLOUT,
        }
    }
}

impl Socket {
    /// Waits until the socket is readable or writable (or has an error to report). Any
    /// number of tasks may wait at once; all are woken.
    ///
    /// Reading: bytes kept from a cancelled read count as readable, and a cancelled read
    /// still in the kernel is waited for first (see the module documentation).
    pub(crate) async fn ready(&self, direction: Direction) -> io::Result<()> {
        match &self.state().source {
            IoSource::Mio(registration) => {
                let mut waiter = registration.waiter(direction.for_mio());
                poll_fn(|cx| {
                    if let Some(poll) = self.kept_read_decides(cx, direction) {
                        return poll;
                    }
                    waiter.poll_ready(cx).map_ok(|_| ())
                })
                .await
            }
            IoSource::Uring => self.ready_uring(direction).await,
        }
    }

    #[cfg(ringtide_uring)]
    async fn ready_uring(&self, direction: Direction) -> io::Result<()> {
        let mut waiter = self.state().readiness[direction as usize].waiter();
        poll_fn(|cx| {
            if let Some(poll) = self.kept_read_decides(cx, direction) {
                return poll;
            }
            waiter.poll_ready(cx, self.fd(), direction.poll_events())
        })
        .await
    }

    /// The leftovers' part of read readiness, checked before the socket's: `Some`
    /// decides the wait (kept bytes: ready; a cancelled read in the kernel: pending,
    /// `cx` woken when it ends), `None` leaves it to the socket.
    fn kept_read_decides(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Option<Poll<io::Result<()>>> {
        match self.poll_kept_read(cx, matches!(direction, Direction::Read)) {
            KeptRead::Kept => Some(Poll::Ready(Ok(()))),
            KeptRead::Settling => Some(Poll::Pending),
            KeptRead::None => None,
        }
    }

    #[cfg(not(ringtide_uring))]
    async fn ready_uring(&self, _direction: Direction) -> io::Result<()> {
        Err(no_runtime())
    }

    /// Poll-based read (the `AsyncRead` impls): kept bytes first, then a non-blocking
    /// `recv`, waiting for readability when there is nothing. Writes only initialised
    /// bytes, at the start of `buf`, and returns how many (`Ok(0)` for an empty `buf`
    /// without a syscall).
    ///
    /// The kept bytes are taken inside the retried operation, not only before it: read
    /// readiness counts them, so a result kept while this waits (another task's read
    /// cancelled meanwhile) wakes it, and the retry must then return them.
    ///
    /// A stream read that returns fewer bytes than `buf` holds drained the socket: the
    /// direction's readiness is cleared then (as tokio does on Unix), so the next call
    /// waits for the next readiness event instead of trying a `recv` bound to fail.
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
        let len = buf.len();
        let stream = self.state().kind == Kind::Stream;
        self.poll_io_seen(cx, Direction::Read, || {
            match self.try_take_kept(|kept| copy_to_uninit(kept, buf)) {
                Ok(Some(count)) => return (Ok(count), Seen::Nothing),
                Ok(None) => {}
                Err(error) => return (Err(error), Seen::Nothing),
            }
            let result = recv_uninit(self, buf, false);
            let seen = match result {
                Ok(count) if stream && count > 0 && count < len => Seen::Drained,
                _ => Seen::Syscall,
            };
            (result, seen)
        })
    }

    /// Poll-based write (the `AsyncWrite` impls): a non-blocking `send`, waiting for
    /// writability when the socket buffer is full. A short stream send shows the send
    /// buffer full: the readiness is cleared then, as on a short read.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(dead_code, reason = "used by the AsyncRead/AsyncWrite impls")
    )]
    pub(crate) fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let stream = self.state().kind == Kind::Stream;
        self.poll_io_seen(cx, Direction::Write, || {
            // SAFETY: `buf` is a valid readable slice for the whole call.
            let result = unsafe { sys_socket::send(self.fd(), buf.as_ptr(), buf.len()) };
            let seen = sent_seen(&result, stream, buf.len());
            (result, seen)
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
        let len: usize = bufs.iter().map(|buf| buf.len()).sum();
        let stream = self.state().kind == Kind::Stream;
        self.poll_io_seen(cx, Direction::Write, || {
            let result = sys_socket::send_slices(self.fd(), bufs);
            let seen = sent_seen(&result, stream, len);
            (result, seen)
        })
    }

    /// Runs `operation` (a non-blocking syscall) until it does not report `WouldBlock`,
    /// waiting for readiness in between (see [`poll_io_seen`](Socket::poll_io_seen)).
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(dead_code, reason = "used by the AsyncRead/AsyncWrite impls")
    )]
    pub(super) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut operation: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_seen(cx, direction, || (operation(), Seen::Syscall))
    }

    /// Runs `operation` until it does not report `WouldBlock`, waiting for readiness
    /// in between. `operation` says what its result shows about the socket
    /// ([`Seen`]): readiness is cleared (unless an event came since the try began)
    /// when the socket's syscall said `WouldBlock` or drained it; a `WouldBlock` that
    /// did not come from the socket (a cancelled read still in the kernel) waits for
    /// the read leftovers instead.
    ///
    /// Each call first spends one unit of the task's cooperative budget, on either
    /// backend; when it is spent the call returns `Pending` (the task is woken at once)
    /// without running `operation`.
    pub(super) fn poll_io_seen<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut operation: impl FnMut() -> (io::Result<R>, Seen),
    ) -> Poll<io::Result<R>> {
        ready!(crate::task::coop::poll_proceed(cx));
        match &self.state().source {
            IoSource::Mio(registration) => loop {
                let event = ready!(registration.poll_ready(cx, direction.for_mio()))?;
                let mut seen = Seen::Syscall;
                match registration.try_io(|| {
                    let (result, what) = operation();
                    seen = what;
                    result
                }) {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        if seen == Seen::Nothing {
                            ready!(self.wait_for_kept(cx, direction))?;
                        } else {
                            registration.clear_readiness(event);
                        }
                    }
                    result => {
                        if seen == Seen::Drained && registration.short_read_drains() {
                            registration.clear_readiness(event);
                        }
                        return Poll::Ready(result);
                    }
                }
            },
            IoSource::Uring => self.poll_io_uring(cx, direction, operation),
        }
    }

    /// io_uring's [`poll_io_seen`](Socket::poll_io_seen): the syscall runs at once when
    /// the direction is ready (one atomic load); otherwise the kept reads, then the
    /// direction's multishot `POLL_ADD`, are waited for.
    #[cfg(ringtide_uring)]
    fn poll_io_uring<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut operation: impl FnMut() -> (io::Result<R>, Seen),
    ) -> Poll<io::Result<R>> {
        let readiness = &self.state().readiness[direction as usize];
        loop {
            let tick = match readiness.ready_tick() {
                Some(tick) => tick,
                None => match self.kept_read_decides(cx, direction) {
                    Some(poll) => {
                        ready!(poll)?;
                        readiness.tick()
                    }
                    None => ready!(readiness.poll_ready(cx, self.fd(), direction.poll_events()))?,
                },
            };
            match operation() {
                (Err(error), seen) if error.kind() == io::ErrorKind::WouldBlock => {
                    if seen == Seen::Nothing {
                        ready!(self.wait_for_kept(cx, direction))?;
                    } else {
                        readiness.clear(tick);
                    }
                }
                (result, seen) => {
                    if seen == Seen::Drained {
                        readiness.clear(tick);
                    }
                    return Poll::Ready(result);
                }
            }
        }
    }

    #[cfg(not(ringtide_uring))]
    fn poll_io_uring<R>(
        &self,
        _cx: &mut Context<'_>,
        _direction: Direction,
        _operation: impl FnMut() -> (io::Result<R>, Seen),
    ) -> Poll<io::Result<R>> {
        Poll::Ready(Err(no_runtime()))
    }

    /// After a `WouldBlock` from the read leftovers (a cancelled read still in the
    /// kernel): `Pending` until it ends (the leftovers wake `cx`), `Ready` to try again.
    fn wait_for_kept(&self, cx: &mut Context<'_>, direction: Direction) -> Poll<io::Result<()>> {
        match self.kept_read_decides(cx, direction) {
            Some(poll) => poll,
            None => Poll::Ready(Ok(())),
        }
    }

    /// Ready when the direction is ready (or an error is pending; for reading, also
    /// when a cancelled read kept bytes); registers `cx` in the direction's one slot for
    /// `poll_*` callers (futures use [`ready`](Socket::ready)).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<()>> {
        if let Some(poll) = self.kept_read_decides(cx, direction) {
            return poll;
        }
        match &self.state().source {
            IoSource::Mio(registration) => registration
                .poll_ready(cx, direction.for_mio())
                .map_ok(|_| ()),
            IoSource::Uring => self.poll_ready_uring(cx, direction),
        }
    }

    #[cfg(ringtide_uring)]
    fn poll_ready_uring(&self, cx: &mut Context<'_>, direction: Direction) -> Poll<io::Result<()>> {
        self.state().readiness[direction as usize]
            .poll_ready(cx, self.fd(), direction.poll_events())
            .map_ok(|_| ())
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

/// What one try of a [`Socket::poll_io_seen`] operation shows about the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Seen {
    /// Nothing: the read leftovers answered (kept bytes, or `WouldBlock` while a
    /// cancelled read is still in the kernel); the socket's readiness stays.
    Nothing,
    /// The socket's syscall ran: a `WouldBlock` clears the readiness.
    Syscall,
    /// The syscall ran and moved fewer bytes than asked on a stream: the socket is
    /// drained (read) or full (send), so the readiness is cleared too.
    Drained,
}

/// [`Seen`] of a send of `len` bytes.
fn sent_seen(result: &io::Result<usize>, stream: bool, len: usize) -> Seen {
    match result {
        Ok(count) if stream && *count > 0 && *count < len => Seen::Drained,
        _ => Seen::Syscall,
    }
}
