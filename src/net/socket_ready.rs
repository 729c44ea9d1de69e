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
//! see. Keeping a result wakes the direction's waiters (io_uring: the leftovers hold
//! the direction's waker), so a wait already parked on the socket re-checks.

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll, ready};

use super::socket::Socket;
#[cfg(not(ringtide_uring))]
use super::socket::no_runtime;
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
            Direction::Read => libc::POLLIN,
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
        self.poll_io(cx, Direction::Read, || {
            if let Some(count) = self.try_take_kept(|kept| copy_to_uninit(kept, buf))? {
                return Ok(count);
            }
            recv_uninit(self, buf, false)
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
            unsafe { sys_socket::send(self.fd(), buf.as_ptr(), buf.len()) }
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
            sys_socket::send_slices(self.fd(), bufs)
        })
    }

    /// Runs `operation` (a non-blocking syscall) until it does not report `WouldBlock`,
    /// waiting for readiness in between.
    ///
    /// Each call first spends one unit of the task's cooperative budget, on either
    /// backend; when it is spent the call returns `Pending` (the task is woken at once)
    /// without running `operation`.
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
        ready!(crate::task::coop::poll_proceed(cx));
        match &self.state().source {
            IoSource::Mio(registration) => registration.poll_io(cx, direction.for_mio(), operation),
            IoSource::Uring => loop {
                match operation() {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        ready!(self.poll_ready(cx, direction))?;
                    }
                    result => return Poll::Ready(result),
                }
            },
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
