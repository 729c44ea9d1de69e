//! SENDMSG_ZC: the zero-copy form of `op::send_msg` (vectored sends, datagrams to an
//! address), with `MSG_NOSIGNAL`.
//!
//! It is a [`SendMsg`] (which owns the buffers, the address and the `msghdr`) whose SQE
//! is `IORING_OP_SENDMSG_ZC`; the two-CQE protocol (the result, then the notification
//! that frees the buffers) is [`ZeroCopyResult`]'s, described in `op::send_zc`. The
//! readiness half is `SendMsg`'s plain `sendmsg(2)`: on mio, and where the kernel lacks
//! the opcode (before 6.1).

use std::io;

use socket2::SockAddr;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FdRef;
use crate::io::{BufResult, IoBuf};
use crate::op::send_msg::SendMsg;
#[cfg(ringtide_uring)]
use crate::op::send_zc::ZeroCopyResult;

/// Sends the initialised bytes of `bufs`, in order, to `target` (or the connected
/// peer), with zero copy where the kernel can.
#[derive(Debug)]
pub(crate) struct SendMsgZc<B, S> {
    inner: SendMsg<B, S>,
    #[cfg(ringtide_uring)]
    first: ZeroCopyResult,
}

impl<B: IoBuf, S: Send + Sync + 'static> SendMsgZc<B, S> {
    pub(crate) fn new(fd: FdRef<S>, bufs: Vec<B>, target: Option<SockAddr>) -> SendMsgZc<B, S> {
        SendMsgZc {
            inner: SendMsg::new(fd, bufs, target),
            #[cfg(ringtide_uring)]
            first: ZeroCopyResult::new(),
        }
    }
}

impl<B: IoBuf, S: Send + Sync + 'static> OpCode for SendMsgZc<B, S> {
    type Output = BufResult<usize, Vec<B>>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::SendMsgZc::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        self.first.reset();
        let (fd, header) = self.inner.uring_parts();
        io_uring::opcode::SendMsgZc::new(fd, header)
            .flags(libc::MSG_NOSIGNAL as u32)
            .build()
    }

    #[cfg(ringtide_uring)]
    fn uring_more_completion(&self, result: i32, flags: u32) {
        self.first.record(result, flags);
    }

    #[cfg(ringtide_uring)]
    fn abandoned_in_flight(&self) {
        self.first.dropped_in_flight();
    }

    #[cfg(ringtide_uring)]
    fn complete_abandoned(&mut self, _notification: i32) {
        self.first.abandoned();
    }

    #[cfg(ringtide_uring)]
    const ATTEMPT_NEVER_BLOCKS: bool = <SendMsg<B, S> as OpCode>::ATTEMPT_NEVER_BLOCKS;

    fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }

    fn attempt(&mut self) -> io::Result<usize> {
        self.inner.attempt()
    }

    #[cfg_attr(not(ringtide_uring), allow(unused_mut))]
    fn complete(mut self, result: io::Result<usize>) -> Self::Output {
        #[cfg(ringtide_uring)]
        let result = self.first.take(result);
        self.inner.complete(result)
    }
}
