//! WRITEV at a file offset (or the file position): a vectored write of several owned
//! buffers' initialised bytes, in order.
//!
//! * io_uring: one WRITEV SQE (the kernel reads the `iovec` array this op owns).
//! * readiness: `Readiness::Blocking`: `pwritev` (or `writev`) on the blocking pool.
//!
//! At most `IOV_MAX` (1024) buffers per call: the rest are not written (a short write).

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FileRef;
use crate::io::{BufResult, IoBuf};
use crate::op::file_offset::FileOffset;
use crate::op::recv_msg::IOV_MAX;
use crate::sys::IoVec;

/// Writes `bufs`' initialised bytes, in order.
pub(crate) struct WritevAt<B> {
    /// Keeps the fd open until this op is freed (see `io::shared_fd`).
    fd: FileRef,
    bufs: Vec<B>,
    /// The kernel reads these (their heap array), never writes them.
    iovecs: Vec<IoVec>,
    offset: FileOffset,
}

// SAFETY: the raw pointers in `iovecs` point into `bufs`' memory, which the op owns and
// moves with it (the bytes themselves never move); they are rebuilt before each use.
unsafe impl<B: Send> Send for WritevAt<B> {}

impl<B> std::fmt::Debug for WritevAt<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WritevAt")
            .field("fd", &self.fd.raw())
            .field("bufs", &self.bufs.len())
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<B: IoBuf> WritevAt<B> {
    pub(crate) fn new(fd: FileRef, bufs: Vec<B>, offset: FileOffset) -> WritevAt<B> {
        WritevAt {
            fd,
            bufs,
            iovecs: Vec::new(),
            offset,
        }
    }

    /// Points the vectors at the buffers' initialised bytes.
    fn prepare(&mut self) -> &[IoVec] {
        self.iovecs.clear();
        for buf in self.bufs.iter().take(IOV_MAX) {
            self.iovecs.push(IoVec {
                iov_base: buf.stable_ptr().cast_mut().cast(),
                iov_len: buf.bytes_init(),
            });
        }
        &self.iovecs
    }
}

impl<B: IoBuf> OpCode for WritevAt<B> {
    type Output = BufResult<usize, Vec<B>>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Writev::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let fd = self.fd.raw();
        let offset = self.offset.kernel();
        let iovecs = self.prepare();
        io_uring::opcode::Writev::new(
            io_uring::types::Fd(fd),
            iovecs.as_ptr(),
            iovecs.len() as u32,
        )
        .offset(offset)
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn attempt(&mut self) -> io::Result<usize> {
        let fd = self.fd.raw();
        let offset = self.offset;
        let iovecs = self.prepare();
        // SAFETY: each vector is one buffer's initialised bytes (`prepare`).
        unsafe { offset.write_vectored(fd, iovecs) }
    }

    fn complete(self, result: io::Result<usize>) -> BufResult<usize, Vec<B>> {
        (result, self.bufs)
    }
}
