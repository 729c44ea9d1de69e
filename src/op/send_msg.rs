//! SENDMSG: vectored writes (`writev` on streams) and datagram sends to an address
//! (`send_to`), with `MSG_NOSIGNAL`.

use std::io;

use socket2::SockAddr;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FdRef;
use crate::io::{BufResult, IoBuf};
use crate::op::recv_msg::IOV_MAX;
use crate::sys::IoVec;
use crate::sys::socket::MessageHeader;

/// Sends the initialised bytes of `bufs`, in order, to `target` (or the connected peer).
pub(crate) struct SendMsg<B, S> {
    /// The socket; keeps its fd open until this op is freed.
    fd: FdRef<S>,
    bufs: Vec<B>,
    iovecs: Vec<IoVec>,
    header: MessageHeader,
    target: Option<SockAddr>,
}

// SAFETY: the raw pointers in `iovecs` and `header` point into `bufs` and `target`,
// which the op owns and moves with it; they are rebuilt before each use.
unsafe impl<B: Send, S: Send + Sync> Send for SendMsg<B, S> {}

impl<B, S> std::fmt::Debug for SendMsg<B, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendMsg")
            .field("fd", &self.fd.raw())
            .field("bufs", &self.bufs.len())
            .finish_non_exhaustive()
    }
}

impl<B: IoBuf, S: Send + Sync + 'static> SendMsg<B, S> {
    pub(crate) fn new(fd: FdRef<S>, bufs: Vec<B>, target: Option<SockAddr>) -> SendMsg<B, S> {
        SendMsg {
            fd,
            bufs,
            iovecs: Vec::new(),
            header: MessageHeader::default(),
            target,
        }
    }

    /// Points the header at this op's buffers and target (at their current place: call
    /// again after the op moved).
    fn prepare(&mut self) {
        self.iovecs.clear();
        // The kernel rejects more than IOV_MAX (1024) vectors with EMSGSIZE: use the
        // first 1024 (a short transfer, as std's vectored I/O does).
        for buf in self.bufs.iter().take(IOV_MAX) {
            self.iovecs.push(IoVec {
                iov_base: buf.stable_ptr().cast_mut().cast(),
                iov_len: buf.bytes_init(),
            });
        }
        let (name, length) = match &self.target {
            Some(target) => (target.as_ptr().cast_mut(), target.len()),
            None => (std::ptr::null_mut(), 0),
        };
        self.header
            .point_at(self.iovecs.as_mut_ptr(), self.iovecs.len(), name, length);
    }
}

#[cfg(ringtide_uring)]
impl<B: IoBuf, S: Send + Sync + 'static> SendMsg<B, S> {
    /// The socket's fd and the header, pointed at this op's buffers and target (for
    /// this op's SQE and `op::send_msg_zc`'s).
    pub(super) fn uring_parts(&mut self) -> (io_uring::types::Fd, *const libc::msghdr) {
        self.prepare();
        let header = self.header.as_mut_ptr().cast_const();
        (io_uring::types::Fd(self.fd.raw()), header)
    }
}

impl<B: IoBuf, S: Send + Sync + 'static> OpCode for SendMsg<B, S> {
    type Output = BufResult<usize, Vec<B>>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::SendMsg::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let (fd, header) = self.uring_parts();
        io_uring::opcode::SendMsg::new(fd, header)
            .flags(libc::MSG_NOSIGNAL as u32)
            .build()
    }

    // `MSG_DONTWAIT`: never blocks, whatever the fd's mode.
    #[cfg(ringtide_uring)]
    const ATTEMPT_NEVER_BLOCKS: bool = true;

    fn readiness(&self) -> Readiness {
        Readiness::Write(self.fd.raw())
    }

    fn attempt(&mut self) -> io::Result<usize> {
        self.prepare();
        // SAFETY: the header points at this op's live buffers and address.
        unsafe { crate::sys::socket::send_msg(self.fd.raw(), &self.header) }
    }

    fn complete(self, result: io::Result<usize>) -> Self::Output {
        (result, self.bufs)
    }
}
