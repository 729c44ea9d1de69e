//! Peeking at a stream [`Socket`]: `peek` (behind the streams' `peek().await`) and
//! `poll_peek`, which return the bytes the next read would return without taking them.
//!
//! Bytes a cancelled owned read kept (io_uring; `op::leftovers`) come before anything
//! the socket holds, so a peek shows them first (copied, left kept); while such a read
//! is still in the kernel, a peek waits for it to end, as a read does. Otherwise a peek
//! is one non-blocking `recv(MSG_PEEK)`, waiting for readability while it says
//! `WouldBlock`: `peek` waits as a listed waiter (any number of tasks may peek at once,
//! like `readable()`), `poll_peek` in the direction's one `poll_*` slot, shared with
//! `poll_read` and `poll_read_ready` (as in tokio).
//!
//! At end of stream a peek returns `Ok(0)`, as `recv(MSG_PEEK)` does. Each `peek`
//! spends one unit of the task's cooperative budget (`poll_peek` does through
//! `poll_io`), so a loop of peeks that always find data still yields.

use std::io;
use std::mem::MaybeUninit;
use std::task::{Context, Poll, Waker};

use super::recv_queue::Queued;
use super::socket::Socket;
use super::socket_ready::{Direction, Seen};
use super::socket_try_io::{copy_to_uninit, recv_uninit};

impl Socket {
    /// Waits until there is something to read and copies it into `buf` without taking
    /// it; returns how many bytes (`Ok(0)`: end of stream, or an empty `buf`).
    pub(crate) async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and the peek writes only
        // initialised bytes, so `buf` stays initialised.
        let buf = unsafe {
            std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<MaybeUninit<u8>>(), buf.len())
        };
        if buf.is_empty() {
            return Ok(0);
        }
        // One unit of the task's cooperative budget, as every other I/O wait spends.
        std::future::poll_fn(crate::task::coop::poll_proceed).await;
        loop {
            match self.try_io_seen(Direction::Read, || self.peek_seen(buf)) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.ready(Direction::Read).await?;
                }
                result => return result,
            }
        }
    }

    /// Poll-based peek (tokio's `poll_peek`): copies what there is to read into `buf`
    /// without taking it, or registers `cx` in the read direction's `poll_*` slot.
    pub(crate) fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_io_seen(cx, Direction::Read, || self.peek_seen(buf))
    }

    /// Kept bytes (copied, left kept), else one non-blocking `recv(MSG_PEEK)`;
    /// `WouldBlock` while a cancelled read is in the kernel. Says whether the socket
    /// answered (its readiness is cleared only on the socket's own `WouldBlock`).
    fn peek_seen(&self, buf: &mut [MaybeUninit<u8>]) -> (io::Result<usize>, Seen) {
        // The multishot receive's queue holds the next bytes (`net::recv_queue`).
        match self.peek_queued(buf) {
            Queued::Taken(result) => return (result, Seen::Nothing),
            Queued::Armed => return (Err(io::ErrorKind::WouldBlock.into()), Seen::Nothing),
            Queued::Idle => {}
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self
            .state()
            .reads
            .poll_front(&mut cx, |kept| copy_to_uninit(&kept.data, buf))
        {
            Poll::Pending => (Err(io::ErrorKind::WouldBlock.into()), Seen::Nothing),
            Poll::Ready(Some(count)) => (Ok(count), Seen::Nothing),
            Poll::Ready(None) => (recv_uninit(self, buf, true), Seen::Syscall),
        }
    }
}
