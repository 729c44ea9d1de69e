//! The non-waiting half of a [`Socket`]'s readiness API, behind the streams'
//! `ready(interest)`, `try_read`, `try_write` and their vectored forms: wait for an
//! [`Interest`] and report the [`Ready`] set, or run one non-blocking syscall now.
//!
//! `try_*` never wait. On mio each one first looks at the readiness the driver recorded
//! (none: `WouldBlock` without a syscall), and when the syscall says `WouldBlock` it
//! clears that readiness (unless a newer event arrived), as tokio's `try_io` does, so
//! the next `readable()`/`writable()` waits for a new event. On io_uring the socket is
//! in blocking mode, so every syscall passes `MSG_DONTWAIT`, and a `WouldBlock` clears
//! the readiness the direction's multishot `POLL_ADD` recorded (`net::uring_readiness`)
//! in the same way: try_* never wait, so they run the syscall whatever is recorded.
//!
//! Bytes a cancelled owned read kept (the socket's `reads` leftovers) come first in
//! `try_read`, as in `poll_recv`; while such a read is still in the kernel `try_read`
//! says `WouldBlock`. Read readiness counts them too (`ready_interest` here, `ready`
//! and `poll_ready` in `net::socket_ready`): kept bytes make the socket readable at
//! once, and a cancelled read still in the kernel is waited for before the socket is,
//! so a `readable()` + `try_read` loop never waits on the socket for bytes that were
//! already taken from it.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::task::{Context, Poll, Waker};

use super::recv_queue::Queued;
#[cfg(not(ringtide_uring))]
use super::socket::no_runtime;
use super::socket::{Kind, Socket};
use super::socket_ready::{Direction, Seen};
use crate::driver::mio::Ready as MioReady;
use crate::driver::op::IoSource;
use crate::io::{Interest, Ready};
use crate::op::recv::Received;
use crate::sys::socket as sys_socket;

/// The most slices one vectored call passes (`IOV_MAX`; more fail with `EMSGSIZE`).
const IOV_MAX: usize = 1024;

impl Socket {
    /// Waits until the socket is ready for any part of `interest` and reports what it
    /// is ready for (at least one bit of `interest`). Like [`ready`](Socket::ready),
    /// any number of tasks may wait at once.
    pub(crate) async fn ready_interest(&self, interest: Interest) -> io::Result<Ready> {
        match &self.state().source {
            IoSource::Mio(registration) => {
                let mut read = interest
                    .is_readable()
                    .then(|| registration.waiter(Direction::Read.for_mio()));
                let mut write = interest
                    .is_writable()
                    .then(|| registration.waiter(Direction::Write.for_mio()));
                poll_fn(|cx| {
                    let mut ready = Ready::EMPTY;
                    match self.poll_kept_read(cx, read.is_some()) {
                        KeptRead::Kept => ready |= Ready::READABLE,
                        KeptRead::Settling => {}
                        KeptRead::None => {
                            if let Some(waiter) = &mut read
                                && let Poll::Ready(event) = waiter.poll_ready(cx)
                            {
                                ready |= from_mio(event?.ready(), Direction::Read);
                            }
                        }
                    }
                    if let Some(waiter) = &mut write
                        && let Poll::Ready(event) = waiter.poll_ready(cx)
                    {
                        ready |= from_mio(event?.ready(), Direction::Write);
                    }
                    // Only the bits `interest` asks about, as on io_uring.
                    let ready = ready.for_interest(interest);
                    if ready.is_empty() {
                        Poll::Pending
                    } else {
                        Poll::Ready(Ok(ready))
                    }
                })
                .await
            }
            IoSource::Uring => self.ready_interest_uring(interest).await,
        }
    }

    #[cfg(ringtide_uring)]
    async fn ready_interest_uring(&self, interest: Interest) -> io::Result<Ready> {
        let readiness = &self.state().readiness;
        let mut read = interest
            .is_readable()
            .then(|| readiness[Direction::Read as usize].waiter());
        let mut write = interest
            .is_writable()
            .then(|| readiness[Direction::Write as usize].waiter());
        poll_fn(|cx| {
            let mut fired = Ready::EMPTY;
            let kept = match self.poll_kept_read(cx, read.is_some()) {
                KeptRead::Kept => true,
                KeptRead::Settling => false,
                KeptRead::None => {
                    if let Some(waiter) = &mut read
                        && let Poll::Ready(result) =
                            waiter.poll_ready(cx, self.fd(), Direction::Read.poll_events())
                    {
                        result?;
                        fired |= Ready::READABLE;
                    }
                    false
                }
            };
            if kept {
                fired |= Ready::READABLE;
            }
            if let Some(waiter) = &mut write
                && let Poll::Ready(result) =
                    waiter.poll_ready(cx, self.fd(), Direction::Write.poll_events())
            {
                result?;
                fired |= Ready::WRITABLE;
            }
            if fired.is_empty() {
                return Poll::Pending;
            }
            // The `POLL_ADD` says only that its direction fired; `poll(2)` with no
            // timeout gives the whole set (hang-ups included).
            let mut now = ready_now(self.fd()).for_interest(interest);
            if kept {
                // Kept bytes are readable whatever the socket says.
                now |= Ready::READABLE;
            }
            Poll::Ready(Ok(if now.is_empty() { fired } else { now }))
        })
        .await
    }

    #[cfg(not(ringtide_uring))]
    async fn ready_interest_uring(&self, _interest: Interest) -> io::Result<Ready> {
        Err(no_runtime())
    }

    /// One non-blocking `recv` into `buf`, kept bytes first; `WouldBlock` when there is
    /// nothing to read now.
    pub(crate) fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and `try_recv_uninit`
        // writes only initialised bytes, so `buf` stays initialised.
        let buf = unsafe {
            std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<MaybeUninit<u8>>(), buf.len())
        };
        self.try_recv_uninit(buf)
    }

    /// [`try_recv`](Socket::try_recv) into possibly uninitialised memory (tokio's
    /// `try_read_buf`): writes only initialised bytes, at the start of `buf`, and
    /// returns how many.
    pub(crate) fn try_recv_uninit(&self, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(count) = self.try_take_kept(|kept| copy_to_uninit(kept, buf))? {
            return Ok(count);
        }
        self.try_io(Direction::Read, || recv_uninit(self, buf, false))
    }

    /// One non-blocking `recvmsg` into `bufs` (at most `IOV_MAX` of them), kept bytes
    /// first; `WouldBlock` when there is nothing to read now.
    pub(crate) fn try_recv_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        let limit = bufs.len().min(IOV_MAX);
        let bufs = &mut bufs[..limit];
        if bufs.iter().all(|buf| buf.is_empty()) {
            return Ok(0);
        }
        if let Some(count) = self.try_take_kept(|kept| copy_to_slices(kept, bufs))? {
            return Ok(count);
        }
        self.try_io(Direction::Read, || sys_socket::recv_slices(self.fd(), bufs))
    }

    /// One non-blocking `send` of `buf`; `WouldBlock` when the send buffer is full.
    pub(crate) fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_io(Direction::Write, || {
            // SAFETY: `buf` is a valid readable slice for the whole call.
            unsafe { sys_socket::send(self.fd(), buf.as_ptr(), buf.len()) }
        })
    }

    /// One non-blocking `sendmsg` of `bufs` (at most `IOV_MAX` of them); `WouldBlock`
    /// when the send buffer is full.
    pub(crate) fn try_send_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let bufs = &bufs[..bufs.len().min(IOV_MAX)];
        self.try_io(Direction::Write, || {
            sys_socket::send_slices(self.fd(), bufs)
        })
    }

    /// Hands the oldest kept result of a cancelled read to `copy`, which copies what
    /// fits and returns how many bytes it took; a stream puts back the rest (a datagram
    /// is truncated, as `recv(2)` does). `Some(count)` when there was one, `None` when
    /// there was none, and `WouldBlock` while a cancelled read is still in the kernel
    /// (its bytes come before any the socket has now).
    pub(super) fn try_take_kept(
        &self,
        copy: impl FnOnce(&[u8]) -> usize,
    ) -> io::Result<Option<usize>> {
        // Bytes the multishot receive queued come before anything else
        // (`net::recv_queue`); while it is armed, they come only through the queue.
        let mut copy = Some(copy);
        match self.take_queued(|bytes| copy.take().map_or(0, |copy| copy(bytes))) {
            Queued::Taken(result) => return result.map(Some),
            Queued::Armed => return Err(io::ErrorKind::WouldBlock.into()),
            Queued::Idle => {}
        }
        let mut cx = Context::from_waker(Waker::noop());
        let kept: Received = match self.state().reads.poll_take(&mut cx) {
            Poll::Pending => return Err(io::ErrorKind::WouldBlock.into()),
            Poll::Ready(None) => return Ok(None),
            Poll::Ready(Some(kept)) => kept,
        };
        let Some(copy) = copy else {
            return Ok(None);
        };
        let count = copy(&kept.data);
        if count < kept.data.len() && self.state().kind == Kind::Stream {
            let mut rest = kept;
            rest.data.drain(..count);
            self.state().reads.put_back(rest);
        }
        Ok(Some(count))
    }

    /// What the read leftovers say about read readiness (`wanted`: the caller waits to
    /// read at all). While a cancelled read is in the kernel, `cx` is woken when it
    /// ends.
    pub(super) fn poll_kept_read(&self, cx: &mut Context<'_>, wanted: bool) -> KeptRead {
        if !wanted {
            return KeptRead::None;
        }
        if let Some(queued) = self.poll_queued_read(cx) {
            return queued;
        }
        match self.state().reads.poll_front(cx, |_| ()) {
            Poll::Pending => KeptRead::Settling,
            Poll::Ready(Some(())) => KeptRead::Kept,
            Poll::Ready(None) => KeptRead::None,
        }
    }

    /// Runs `operation` (one non-blocking syscall) without waiting: on mio only when
    /// the driver recorded readiness for `direction`; on either backend the recorded
    /// readiness is cleared when the syscall says `WouldBlock` (unless a newer event
    /// arrived; see the module documentation).
    pub(super) fn try_io<R>(
        &self,
        direction: Direction,
        operation: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        self.try_io_seen(direction, || (operation(), Seen::Syscall))
    }

    /// [`try_io`](Socket::try_io) for an operation that says whether the socket
    /// answered ([`Seen`]): a `WouldBlock` from the read leftovers (a cancelled read
    /// still in the kernel) clears nothing.
    pub(super) fn try_io_seen<R>(
        &self,
        direction: Direction,
        operation: impl FnOnce() -> (io::Result<R>, Seen),
    ) -> io::Result<R> {
        match &self.state().source {
            IoSource::Mio(registration) => {
                let Some(event) = registration.ready_event(direction.for_mio()) else {
                    return Err(io::ErrorKind::WouldBlock.into());
                };
                let event = event?;
                let mut seen = Seen::Syscall;
                match registration.try_io(|| {
                    let (result, what) = operation();
                    seen = what;
                    result
                }) {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        if seen != Seen::Nothing {
                            registration.clear_readiness(event);
                        }
                        Err(error)
                    }
                    result => result,
                }
            }
            IoSource::Uring => self.try_io_uring(direction, operation),
        }
    }

    #[cfg(ringtide_uring)]
    fn try_io_uring<R>(
        &self,
        direction: Direction,
        operation: impl FnOnce() -> (io::Result<R>, Seen),
    ) -> io::Result<R> {
        let readiness = &self.state().readiness[direction as usize];
        let tick = readiness.tick();
        match operation() {
            (Err(error), seen) if error.kind() == io::ErrorKind::WouldBlock => {
                if seen != Seen::Nothing {
                    readiness.clear(tick);
                }
                Err(error)
            }
            (result, _) => result,
        }
    }

    #[cfg(not(ringtide_uring))]
    fn try_io_uring<R>(
        &self,
        _direction: Direction,
        operation: impl FnOnce() -> (io::Result<R>, Seen),
    ) -> io::Result<R> {
        operation().0
    }
}

/// Read readiness from a socket's read leftovers ([`Socket::poll_kept_read`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeptRead {
    /// Bytes are kept: the next read returns them, the socket is readable now.
    Kept,
    /// A cancelled read is still in the kernel: its bytes (if any) come first, so
    /// the socket's own readiness says nothing yet; the caller is woken when it ends.
    Settling,
    /// Nothing kept and nothing in flight: the socket's readiness decides.
    None,
}

/// Copies the start of `kept` into `buf`; returns how many bytes.
pub(super) fn copy_to_uninit(kept: &[u8], buf: &mut [MaybeUninit<u8>]) -> usize {
    let count = buf.len().min(kept.len());
    for (slot, byte) in buf.iter_mut().zip(&kept[..count]) {
        slot.write(*byte);
    }
    count
}

/// Copies the start of `kept` into `bufs`, in order; returns how many bytes.
fn copy_to_slices(kept: &[u8], bufs: &mut [io::IoSliceMut<'_>]) -> usize {
    let mut count = 0;
    for buf in bufs.iter_mut() {
        let rest = &kept[count..];
        let take = buf.len().min(rest.len());
        buf[..take].copy_from_slice(&rest[..take]);
        count += take;
    }
    count
}

/// One non-blocking `recv` on `socket` into `buf` (with `MSG_PEEK` when `peek`);
/// writes only initialised bytes.
pub(super) fn recv_uninit(
    socket: &Socket,
    buf: &mut [MaybeUninit<u8>],
    peek: bool,
) -> io::Result<usize> {
    socket
        .as_sock_ref()
        .recv_with_flags(buf, sys_socket::receive_flags(peek))
}

/// The public readiness of mio's bits for one direction. A pending error counts as the
/// direction's readiness: the next syscall reports it.
fn from_mio(bits: MioReady, direction: Direction) -> Ready {
    let mut ready = Ready::EMPTY;
    if bits.contains(MioReady::READABLE) {
        ready |= Ready::READABLE;
    }
    if bits.contains(MioReady::WRITABLE) {
        ready |= Ready::WRITABLE;
    }
    if bits.contains(MioReady::READ_CLOSED) {
        ready |= Ready::READ_CLOSED;
    }
    if bits.contains(MioReady::WRITE_CLOSED) {
        ready |= Ready::WRITE_CLOSED;
    }
    if bits.contains(MioReady::ERROR) {
        ready |= match direction {
            Direction::Read => Ready::READABLE,
            Direction::Write => Ready::WRITABLE,
        };
    }
    ready
}

/// The socket's readiness now, from `poll(2)` with no timeout.
#[cfg(ringtide_uring)]
fn ready_now(fd: std::os::fd::RawFd) -> Ready {
    let mut entry = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: `entry` is one valid `pollfd` for the whole call; a zero timeout never
    // blocks.
    if unsafe { libc::poll(&mut entry, 1, 0) } <= 0 {
        return Ready::EMPTY;
    }
    let revents = entry.revents;
    let mut ready = Ready::EMPTY;
    if revents & (libc::POLLIN | libc::POLLERR) != 0 {
        ready |= Ready::READABLE;
    }
    if revents & (libc::POLLOUT | libc::POLLERR) != 0 {
        ready |= Ready::WRITABLE;
    }
    if revents & (libc::POLLRDHUP | libc::POLLHUP) != 0 {
        ready |= Ready::READ_CLOSED;
    }
    if revents & libc::POLLHUP != 0 {
        ready |= Ready::WRITE_CLOSED;
    }
    ready
}
