//! The borrowed-buffer datagram I/O of a [`Socket`] (UDP, Unix datagram), behind
//! tokio's `send`/`recv`/`send_to`/`recv_from`/`peek_from` and their `try_*` and
//! `poll_*` forms: one non-blocking syscall, run now (`try_*`), from a poll (`poll_*`)
//! or from a future that waits for readiness in between (`*_datagram`).
//!
//! Every syscall passes `MSG_DONTWAIT` (on io_uring the socket is in blocking mode, see
//! `net::socket`); sends add `MSG_NOSIGNAL` where the platform has it (the flags are
//! `sys::socket`'s; on Windows the socket is non-blocking and neither flag exists). The three ways
//! to wait differ as in tokio:
//!
//! * `try_*` never wait (`Socket::try_io`): on mio they look at the recorded readiness
//!   first and clear it on `WouldBlock`.
//! * `poll_*` (`Socket::poll_io`) keep no state: one waker slot per direction, shared
//!   with `poll_recv_ready`/`poll_send_ready`; the last task to poll is the one woken.
//! * The futures ([`Socket::async_io`]) list themselves as waiters, so any number of
//!   tasks may `recv` or `send` on one socket at once (an `Arc<UdpSocket>` shared by
//!   several tasks) and each is woken. On mio a future waits for recorded readiness,
//!   runs the syscall and clears the readiness on `WouldBlock`; on io_uring it runs the
//!   syscall first and waits for the direction's shared `POLL_ADD` on `WouldBlock`.
//!   Dropping one loses nothing: the syscall is synchronous.
//!
//! A datagram that a cancelled owned receive took (io_uring; kept in the socket's
//! `reads` leftovers) is the oldest one, so every receive here returns it first, cut
//! to the buffer like any datagram; a peek copies it and puts it back. While such a
//! receive is still in the kernel, receives wait (`try_*`: `WouldBlock`).
//!
//! A zero-length datagram is a datagram: receiving one returns `Ok(0)`, and a receive
//! into an empty buffer still takes (and discards) the datagram at the head of the
//! queue, as `recv(2)` does.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::task::{Context, Poll, Waker, ready};

use socket2::SockAddr;

use super::socket::Socket;
use super::socket_ready::Direction;
use crate::driver::op::IoSource;
use crate::sys::socket as sys_socket;

/// Whether a receive takes the datagram or leaves it at the head of the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Receive {
    /// `recv`: the datagram is taken.
    Take,
    /// `peek`: the datagram stays queued (`MSG_PEEK`).
    Peek,
}

impl Receive {
    fn flags(self) -> std::ffi::c_int {
        sys_socket::receive_flags(self == Receive::Peek)
    }
}

/// One received datagram: how many bytes landed in the buffer, and its sender (`None`
/// only for a kept datagram whose receive did not ask for one).
pub(crate) type Datagram = (usize, Option<SockAddr>);

/// `buf` as the uninitialised slice the receive syscalls take. Private to this file:
/// every slice it makes goes only to the receives here (socket2's
/// `recv_from_with_flags` and the kept-datagram copy), which write initialised bytes
/// and never de-initialise any.
fn as_uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and (see above) nothing writes
    // an uninitialised byte through the result, so `buf` stays initialised.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}

impl Socket {
    /// Copies the kept datagram (see the module documentation) into `buf`, cut to it,
    /// and for a peek puts it back: `Ready(None)` when there is none, `Pending` while a
    /// cancelled receive is still in the kernel.
    fn poll_kept_datagram(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
        receive: Receive,
    ) -> Poll<Option<Datagram>> {
        let Some(kept) = ready!(self.state().reads.poll_take(cx)) else {
            return Poll::Ready(None);
        };
        let count = buf.len().min(kept.data.len());
        for (slot, byte) in buf.iter_mut().zip(&kept.data[..count]) {
            slot.write(*byte);
        }
        let from = kept.from.clone();
        if receive == Receive::Peek {
            self.state().reads.put_back(kept);
        }
        Poll::Ready(Some((count, from)))
    }

    /// One non-blocking `recvfrom` into `buf`.
    fn recv_datagram_syscall(
        &self,
        buf: &mut [MaybeUninit<u8>],
        receive: Receive,
    ) -> io::Result<Datagram> {
        let (count, from) = self
            .as_sock_ref()
            .recv_from_with_flags(buf, receive.flags())?;
        Ok((count, Some(from)))
    }

    /// One non-blocking send of `buf` as one datagram, to `target` or (`None`) to the
    /// connected peer.
    fn send_datagram_syscall(&self, buf: &[u8], target: Option<&SockAddr>) -> io::Result<usize> {
        let flags = sys_socket::nonblocking_send_flags();
        let socket = self.as_sock_ref();
        match target {
            Some(target) => socket.send_to_with_flags(buf, target, flags),
            None => socket.send_with_flags(buf, flags),
        }
    }

    /// Receives (or peeks at) one datagram into `buf` now, the kept one first;
    /// `WouldBlock` when none is queued (or, on mio, none is known to be).
    pub(crate) fn try_recv_datagram(
        &self,
        buf: &mut [u8],
        receive: Receive,
    ) -> io::Result<Datagram> {
        self.try_recv_datagram_uninit(as_uninit(buf), receive)
    }

    /// [`try_recv_datagram`](Socket::try_recv_datagram) into possibly uninitialised
    /// memory: writes only initialised bytes, at the start of `buf`.
    fn try_recv_datagram_uninit(
        &self,
        buf: &mut [MaybeUninit<u8>],
        receive: Receive,
    ) -> io::Result<Datagram> {
        let mut cx = Context::from_waker(Waker::noop());
        match self.poll_kept_datagram(&mut cx, buf, receive) {
            Poll::Pending => return Err(io::ErrorKind::WouldBlock.into()),
            Poll::Ready(Some(kept)) => return Ok(kept),
            Poll::Ready(None) => {}
        }
        self.try_io(Direction::Read, || self.recv_datagram_syscall(buf, receive))
    }

    /// Polls to receive (or peek at) one datagram into `buf`, the kept one first.
    pub(crate) fn poll_recv_datagram(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        receive: Receive,
    ) -> Poll<io::Result<Datagram>> {
        self.poll_recv_uninit(cx, as_uninit(buf), receive)
    }

    fn poll_recv_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
        receive: Receive,
    ) -> Poll<io::Result<Datagram>> {
        if let Some(kept) = ready!(self.poll_kept_datagram(cx, buf, receive)) {
            return Poll::Ready(Ok(kept));
        }
        self.poll_io(cx, Direction::Read, || {
            self.recv_datagram_syscall(buf, receive)
        })
    }

    /// [`poll_recv_datagram`](Socket::poll_recv_datagram) into `buf`'s unfilled part,
    /// which it advances by the datagram's length; returns the sender.
    pub(crate) fn poll_recv_read_buf(
        &self,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
        receive: Receive,
    ) -> Poll<io::Result<Option<SockAddr>>> {
        // SAFETY: the receive writes only initialised bytes into the unfilled part and
        // never de-initialises any.
        let unfilled = unsafe { buf.unfilled_mut() };
        let (count, from) = ready!(self.poll_recv_uninit(cx, unfilled, receive))?;
        // SAFETY: the receive initialised the first `count` bytes of the unfilled part.
        unsafe { buf.assume_init(count) };
        buf.advance(count);
        Poll::Ready(Ok(from))
    }

    /// Receives (or peeks at) one datagram into `buf`, waiting until one is there; the
    /// kept one first.
    pub(crate) async fn recv_datagram(
        &self,
        buf: &mut [u8],
        receive: Receive,
    ) -> io::Result<Datagram> {
        self.recv_uninit(as_uninit(buf), receive).await
    }

    async fn recv_uninit(
        &self,
        buf: &mut [MaybeUninit<u8>],
        receive: Receive,
    ) -> io::Result<Datagram> {
        if let Some(kept) = poll_fn(|cx| self.poll_kept_datagram(cx, buf, receive)).await {
            return Ok(kept);
        }
        self.async_io(Direction::Read, || self.recv_datagram_syscall(buf, receive))
            .await
    }

    /// [`try_recv_datagram`](Socket::try_recv_datagram) into `buf`'s spare capacity
    /// (`BufMut::chunk_mut`, which may grow it), advancing it by the length.
    #[cfg(feature = "bytes")]
    pub(crate) fn try_recv_buf_mut<B: bytes::BufMut>(
        &self,
        buf: &mut B,
        receive: Receive,
    ) -> io::Result<Datagram> {
        // SAFETY: the receive writes only initialised bytes and never de-initialises
        // any.
        let spare = unsafe { buf.chunk_mut().as_uninit_slice_mut() };
        let (count, from) = self.try_recv_datagram_uninit(spare, receive)?;
        // SAFETY: the receive initialised the first `count` bytes of the spare part.
        unsafe { buf.advance_mut(count) };
        Ok((count, from))
    }

    /// [`recv_datagram`](Socket::recv_datagram) into `buf`'s spare capacity, as
    /// [`try_recv_buf_mut`](Socket::try_recv_buf_mut).
    #[cfg(feature = "bytes")]
    pub(crate) async fn recv_buf_mut<B: bytes::BufMut>(
        &self,
        buf: &mut B,
        receive: Receive,
    ) -> io::Result<Datagram> {
        // SAFETY: as in `try_recv_buf_mut`.
        let spare = unsafe { buf.chunk_mut().as_uninit_slice_mut() };
        let (count, from) = self.recv_uninit(spare, receive).await?;
        // SAFETY: the receive initialised the first `count` bytes of the spare part.
        unsafe { buf.advance_mut(count) };
        Ok((count, from))
    }

    /// Sends one datagram now; `WouldBlock` when the send buffer is full (or, on mio,
    /// the socket is not known to be writable).
    pub(crate) fn try_send_datagram(
        &self,
        buf: &[u8],
        target: Option<&SockAddr>,
    ) -> io::Result<usize> {
        self.try_io(Direction::Write, || self.send_datagram_syscall(buf, target))
    }

    /// Polls to send one datagram.
    pub(crate) fn poll_send_datagram(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: Option<&SockAddr>,
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Direction::Write, || {
            self.send_datagram_syscall(buf, target)
        })
    }

    /// Sends one datagram, waiting for room in the send buffer.
    pub(crate) async fn send_datagram(
        &self,
        buf: &[u8],
        target: Option<&SockAddr>,
    ) -> io::Result<usize> {
        self.async_io(Direction::Write, || self.send_datagram_syscall(buf, target))
            .await
    }

    /// Runs `operation` (one non-blocking syscall) until it does not report
    /// `WouldBlock`, waiting as a listed waiter in between (see the module
    /// documentation). Each try first spends one unit of the task's cooperative budget.
    async fn async_io<R>(
        &self,
        direction: Direction,
        mut operation: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        match &self.state().source {
            IoSource::Mio(registration) => {
                let mut waiter = registration.waiter(direction.for_mio());
                loop {
                    poll_fn(crate::task::coop::poll_proceed).await;
                    let event = poll_fn(|cx| waiter.poll_ready(cx)).await?;
                    match registration.try_io(&mut operation) {
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            registration.clear_readiness(event);
                        }
                        result => return result,
                    }
                }
            }
            IoSource::Uring => loop {
                poll_fn(crate::task::coop::poll_proceed).await;
                match operation() {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        self.ready(direction).await?;
                    }
                    result => return result,
                }
            },
        }
    }
}
