//! Owned-buffer I/O on a [`Socket`]: `recv*`, `send*` (and their zero-copy `*_zc`
//! forms), `accept_raw` and `shutdown`.
//! Each is one op (see `op/`) holding the socket's fd and the buffer, which it takes by
//! value and gives back in a `BufResult`.
//!
//! Results that cancelled ops took from the kernel come first (io_uring: the future
//! was dropped but the kernel completed the op anyway; kept in the socket's state, see
//! `op::leftovers`): `recv*` and `accept_raw` take a kept result before submitting an
//! op, and wait while a cancelled op may still produce one, so a stream's bytes stay
//! in order. A kept chunk larger than the buffer is split: a stream puts the rest back
//! for the next read (`hand_out`); a datagram is truncated, as `recv(2)` does.

use std::future::poll_fn;
use std::io;

use socket2::SockAddr;

use super::socket::{Kind, Socket, SocketState};
use crate::driver::Backend;
use crate::io::owned_loop;
use crate::io::{BufResult, IoBuf, IoBufMut};
use crate::op;
use crate::op::accept::Accept;
use crate::op::recv::{Received, Recv};
use crate::op::recv_msg::RecvMsg;
use crate::op::send::Send;
use crate::op::send_msg::SendMsg;
use crate::op::send_msg_zc::SendMsgZc;
use crate::op::send_zc::SendZc;
use crate::op::shutdown::Shutdown;
#[cfg(ringtide_uring)]
use crate::{driver::op::IoSource, op::send_zc};
#[cfg(ringtide_uring)]
use std::sync::atomic::Ordering::Relaxed;

impl Socket {
    /// Accepts one connection and reports the peer's address; a connection kept from a
    /// cancelled accept comes first.
    pub(crate) async fn accept_raw(&self) -> io::Result<(Socket, SockAddr)> {
        #[cfg(ringtide_uring)]
        if let Some(readiness) = self
            .accept_slot()
            .and_then(super::accept_stream::AcceptStream::by_readiness)
        {
            // `accept4` without `SOCK_NONBLOCK`: blocking, as io_uring wants it.
            let accepted = readiness.accept(self.fd()).await?;
            let socket = Socket::with_mode(accepted.fd, Kind::Stream, Some(false))?;
            return Ok((socket, accepted.peer));
        }
        let accepted = match self.accept_multishot().await {
            Some(accepted) => accepted?,
            None => match poll_fn(|cx| self.state().accepts().poll_take(cx)).await {
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

    /// A stream's read into `buf[offset..]` (`read_owned` and the reads built on it;
    /// see [`RecvStream`]). Kept bytes from a cancelled read come first. Its own path,
    /// without the datagram branch of [`recv_one_datagram`](Socket::recv_one_datagram):
    /// a task stores the largest future it awaits, and a datagram read's is larger.
    pub(crate) fn recv_stream<B: IoBufMut>(&self, buf: B, offset: usize) -> RecvStream<'_, B> {
        RecvStream {
            socket: self,
            offset,
            step: RecvStep::Kept(buf),
        }
    }

    /// A datagram socket's read of one datagram into `buf` (truncated to it, as
    /// `recv(2)` does). A kept datagram from a cancelled read comes first. A
    /// zero-capacity buffer still takes (and discards) one datagram.
    pub(crate) async fn recv_one_datagram<B: IoBufMut>(&self, mut buf: B) -> BufResult<usize, B> {
        match poll_fn(|cx| self.poll_take_read(cx, buf.bytes_total())).await {
            Ok(Some(kept)) => {
                let count = self.hand_out(kept, &mut buf, 0);
                return (Ok(count), buf);
            }
            Ok(None) => {}
            Err(error) => return (Err(error), buf),
        }
        let receive = RecvMsg::new(self.fd.share(), vec![buf], true);
        let (result, mut bufs) = op::run(self.source(), receive).await;
        let buf = bufs.pop().expect("one buffer in, one out");
        (result.map(|(count, _)| count), buf)
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
    pub(crate) async fn recv_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
        owned_loop::fill(buf, "stream", |buf, filled| self.recv_stream(buf, filled)).await
    }

    /// Reads into `bufs` in order (a kept chunk fills the first buffer only).
    pub(crate) async fn recv_vectored<B: IoBufMut>(
        &self,
        mut bufs: Vec<B>,
    ) -> BufResult<usize, Vec<B>> {
        if bufs.iter().all(|buf| buf.bytes_total() == 0) {
            return (Ok(0), bufs);
        }
        let room = bufs
            .iter()
            .find(|buf| buf.bytes_total() > 0)
            .map_or(0, |buf| buf.bytes_total());
        match poll_fn(|cx| self.poll_take_read(cx, room)).await {
            Ok(Some(kept)) => {
                let first = bufs
                    .iter_mut()
                    .find(|buf| buf.bytes_total() > 0)
                    .expect("checked above");
                let count = self.hand_out(kept, first, 0);
                return (Ok(count), bufs);
            }
            Ok(None) => {}
            Err(error) => return (Err(error), bufs),
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
        let receive = RecvMsg::new(self.fd.share(), vec![buf], true);
        let (result, mut bufs) = op::run(self.source(), receive).await;
        let buf = bufs.pop().expect("one buffer in, one out");
        let result = result.map(|(count, from)| (count, from.expect("a sender was asked for")));
        (result, buf)
    }

    /// Writes `buf[offset..bytes_init()]` once; returns how much was written. At or
    /// above the runtime's `uring_send_zc_threshold` (off by default), as
    /// [`send_zc`](Socket::send_zc), boxed: a large send pays for the box, and a task
    /// that writes does not carry the zero-copy path's room (a task stores the largest
    /// future it awaits). Not an `async fn`, for the same reason: the future is
    /// `op::run`'s alone, with no layer around it.
    pub(crate) fn send<B: IoBuf>(
        &self,
        buf: B,
        offset: usize,
    ) -> op::run::Run<'_, Send<B, SocketState>> {
        #[cfg(ringtide_uring)]
        if self
            .state()
            .send_zc_threshold()
            .is_some_and(|threshold| buf.bytes_init() - offset >= threshold)
        {
            return op::run::Run::boxed(self.send_zc(buf, offset));
        }
        self.send_plain(buf, offset)
    }

    /// [`send`](Socket::send) without zero copy.
    fn send_plain<B: IoBuf>(
        &self,
        buf: B,
        offset: usize,
    ) -> op::run::Run<'_, Send<B, SocketState>> {
        if buf.bytes_init() == offset && self.state().kind == Kind::Stream {
            return op::run::Run::ready((Ok(0), buf));
        }
        op::run(self.source(), Send::new(self.fd.share(), buf, offset))
    }

    /// Writes all of `buf`'s initialised bytes (see [`SendAll`]).
    pub(crate) fn send_all<B: IoBuf>(&self, buf: B) -> SendAll<'_, B> {
        SendAll {
            socket: self,
            written: 0,
            step: Step::Idle(buf),
        }
    }

    /// Writes the buffers' initialised bytes in order, once.
    pub(crate) async fn send_vectored<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        if bufs.iter().all(|buf| buf.bytes_init() == 0) {
            return (Ok(0), bufs);
        }
        op::run(self.source(), SendMsg::new(self.fd.share(), bufs, None)).await
    }

    /// Sends one datagram to `target`; at or above the runtime's
    /// `uring_send_zc_threshold`, as [`send_to_zc`](Socket::send_to_zc).
    pub(crate) async fn send_to<B: IoBuf>(&self, buf: B, target: SockAddr) -> BufResult<usize, B> {
        #[cfg(ringtide_uring)]
        if self
            .state()
            .send_zc_threshold()
            .is_some_and(|threshold| buf.bytes_init() >= threshold)
        {
            let zero_copy = Box::pin(self.send_to_zc(buf, target));
            return zero_copy.await;
        }
        self.send_to_plain(buf, target).await
    }

    /// [`send_to`](Socket::send_to) without zero copy.
    async fn send_to_plain<B: IoBuf>(&self, buf: B, target: SockAddr) -> BufResult<usize, B> {
        let send = SendMsg::new(self.fd.share(), vec![buf], Some(target));
        let (result, mut bufs) = op::run(self.source(), send).await;
        (result, bufs.pop().expect("one buffer in, one out"))
    }

    /// Writes `buf[offset..bytes_init()]` once, with zero copy where the backend, the
    /// kernel and the socket allow it (see `op::send_zc`): io_uring `SEND_ZC`, whose
    /// result comes back with the buffer only after the kernel's notification that it
    /// no longer reads it. Elsewhere a plain [`send`](Socket::send): on mio, on kernels
    /// without the opcode (`op::run` runs the op's readiness half), and on a socket
    /// that refused zero copy (`EOPNOTSUPP`: Unix sockets), remembered per socket so
    /// it is asked once.
    pub(crate) async fn send_zc<B: IoBuf>(&self, buf: B, offset: usize) -> BufResult<usize, B> {
        if buf.bytes_init() == offset && self.state().kind == Kind::Stream {
            return (Ok(0), buf);
        }
        #[cfg(ringtide_uring)]
        if self.state().refuses_zero_copy.load(Relaxed) {
            return self.send_plain(buf, offset).await;
        }
        let send = SendZc::new(self.fd.share(), buf, offset);
        let (result, buf) = op::run(self.source(), send).await;
        #[cfg(ringtide_uring)]
        if self.resend_plain(&result) {
            return self.send_plain(buf, offset).await;
        }
        (result, buf)
    }

    /// Writes all of `buf`'s initialised bytes, each send as [`send_zc`](Socket::send_zc).
    pub(crate) async fn send_all_zc<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        owned_loop::drain(buf, "socket", |buf, written| self.send_zc(buf, written)).await
    }

    /// Sends one datagram to `target`, with zero copy as in [`send_zc`](Socket::send_zc)
    /// (`SENDMSG_ZC`).
    pub(crate) async fn send_to_zc<B: IoBuf>(
        &self,
        buf: B,
        target: SockAddr,
    ) -> BufResult<usize, B> {
        #[cfg(ringtide_uring)]
        if self.state().refuses_zero_copy.load(Relaxed) {
            return self.send_to_plain(buf, target).await;
        }
        #[cfg(ringtide_uring)]
        let retry_target = target.clone();
        let send = SendMsgZc::new(self.fd.share(), vec![buf], Some(target));
        let (result, mut bufs) = op::run(self.source(), send).await;
        let buf = bufs.pop().expect("one buffer in, one out");
        #[cfg(ringtide_uring)]
        if self.resend_plain(&result) {
            return self.send_to_plain(buf, retry_target).await;
        }
        (result, buf)
    }

    /// Whether a zero-copy send's `result` asks for a plain send instead (io_uring
    /// only): the socket refused zero copy (`EOPNOTSUPP`; remembered, so the next send
    /// goes plain at once), or the kernel said `EAGAIN` (a non-blocking fd: the plain
    /// send waits for writability, see `op::run`).
    #[cfg(ringtide_uring)]
    fn resend_plain(&self, result: &io::Result<usize>) -> bool {
        let Err(error) = result else {
            return false;
        };
        if !matches!(self.state().source, IoSource::Uring) {
            return false;
        }
        if error.raw_os_error() == Some(libc::EOPNOTSUPP) {
            self.state().refuses_zero_copy.store(true, Relaxed);
            send_zc::count_plain_fallback();
            return true;
        }
        error.kind() == io::ErrorKind::WouldBlock
    }

    /// Shuts down one or both directions.
    pub(crate) async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        op::run(self.source(), Shutdown::new(self.fd.share(), how)).await
    }
}

/// The future of [`Socket::send_all`]: [`send`](Socket::send) from where the last one
/// stopped until every initialised byte is written, with `owned_loop::drain`'s rules (a
/// send that writes nothing ends it with `WriteZero`, `Interrupted` is retried, another
/// error ends it, the buffer always comes back). Written out by hand rather than with
/// `drain`: an echo task waits in it, and the `async fn` layers would hold the buffer,
/// the step and the count a second time (344 bytes then, 136 now).
pub(crate) struct SendAll<'a, B: IoBuf> {
    socket: &'a Socket,
    written: usize,
    step: Step<'a, B>,
}

enum Step<'a, B: IoBuf> {
    /// Between sends.
    Idle(B),
    Sending(op::run::Run<'a, Send<B, SocketState>>),
    /// Completed (or a poll panicked midway).
    Done,
}

// The buffer is never pinned (it moves between steps), and `Run` is `Unpin`.
impl<B: IoBuf> Unpin for SendAll<'_, B> {}

impl<B: IoBuf> std::future::Future for SendAll<'_, B> {
    type Output = BufResult<(), B>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        let this = &mut *self;
        loop {
            match std::mem::replace(&mut this.step, Step::Done) {
                Step::Idle(buf) => {
                    if this.written >= buf.bytes_init() {
                        return Poll::Ready((Ok(()), buf));
                    }
                    this.step = Step::Sending(this.socket.send(buf, this.written));
                }
                Step::Sending(mut sending) => {
                    let Poll::Ready((result, buf)) = std::pin::Pin::new(&mut sending).poll(cx)
                    else {
                        this.step = Step::Sending(sending);
                        return Poll::Pending;
                    };
                    match result {
                        Ok(0) => return Poll::Ready((Err(owned_loop::write_zero("socket")), buf)),
                        Ok(count) => this.written += count,
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        Err(error) => return Poll::Ready((Err(error), buf)),
                    }
                    this.step = Step::Idle(buf);
                }
                Step::Done => panic!("`write_all_owned`'s future polled after it completed"),
            }
        }
    }
}

/// The future of [`Socket::recv_stream`], written out by hand (an `async fn` would hold
/// the socket, the buffer and the offset a second time: 224 bytes then, 144 now).
pub(crate) struct RecvStream<'a, B: IoBufMut> {
    socket: &'a Socket,
    offset: usize,
    step: RecvStep<'a, B>,
}

enum RecvStep<'a, B: IoBufMut> {
    /// Take what the stream kept (a cancelled read's bytes, the multishot receive's
    /// queue) first.
    Kept(B),
    /// The op, in `op::run`.
    Reading(op::run::Run<'a, Recv<B, SocketState>>),
    /// Completed (or a poll panicked midway).
    Done,
}

// The buffer is never pinned (it moves between steps), and `Run` is `Unpin`.
impl<B: IoBufMut> Unpin for RecvStream<'_, B> {}

impl<B: IoBufMut> std::future::Future for RecvStream<'_, B> {
    type Output = BufResult<usize, B>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        let this = &mut *self;
        loop {
            match std::mem::replace(&mut this.step, RecvStep::Done) {
                RecvStep::Kept(mut buf) => {
                    if buf.bytes_total() == this.offset {
                        return Poll::Ready((Ok(0), buf));
                    }
                    let room = buf.bytes_total() - this.offset;
                    match this.socket.poll_take_read(cx, room) {
                        Poll::Pending => {
                            this.step = RecvStep::Kept(buf);
                            return Poll::Pending;
                        }
                        Poll::Ready(Ok(Some(kept))) => {
                            let count = this.socket.hand_out(kept, &mut buf, this.offset);
                            return Poll::Ready((Ok(count), buf));
                        }
                        Poll::Ready(Ok(None)) => {
                            let read = Recv::new(this.socket.fd.share(), buf, this.offset);
                            this.step = RecvStep::Reading(op::run(this.socket.source(), read));
                        }
                        Poll::Ready(Err(error)) => return Poll::Ready((Err(error), buf)),
                    }
                }
                RecvStep::Reading(mut reading) => {
                    let polled = std::pin::Pin::new(&mut reading).poll(cx);
                    if polled.is_pending() {
                        this.step = RecvStep::Reading(reading);
                    }
                    return polled;
                }
                RecvStep::Done => panic!("`read_owned`'s future polled after it completed"),
            }
        }
    }
}
