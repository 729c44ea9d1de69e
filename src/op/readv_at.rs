//! READV at a file offset (or the file position): a vectored read into several owned
//! buffers, filled in order.
//!
//! * io_uring: one READV SQE (the kernel reads the `iovec` array this op owns).
//! * readiness: `Readiness::Blocking`; the inline form is `preadv2(RWF_NOWAIT)` (see
//!   `op::run`), then `preadv` (or `readv`) on the blocking pool.
//!
//! At most `IOV_MAX` (1024) buffers per call: the rest are left empty (a short read).

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FileRef;
use crate::io::{BufResult, IoBufMut};
use crate::op::file_offset::FileOffset;
use crate::op::recv_msg::IOV_MAX;
use crate::sys::IoVec;

/// Reads into `bufs` (each from its start, up to its capacity), in order.
pub(crate) struct ReadvAt<B> {
    /// Keeps the fd open until this op is freed (see `io::shared_fd`).
    fd: FileRef,
    /// The kernel writes the bytes behind each buffer's own heap pointer, never into
    /// the `Vec` or a `B` handle.
    bufs: Vec<B>,
    /// The kernel reads these (their heap array), never writes them.
    iovecs: Vec<IoVec>,
    offset: FileOffset,
}

// SAFETY: the raw pointers in `iovecs` point into `bufs`' memory, which the op owns and
// moves with it (the bytes themselves never move); they are rebuilt before each use.
unsafe impl<B: Send> Send for ReadvAt<B> {}

impl<B> std::fmt::Debug for ReadvAt<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadvAt")
            .field("fd", &self.fd.raw())
            .field("bufs", &self.bufs.len())
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<B: IoBufMut> ReadvAt<B> {
    pub(crate) fn new(fd: FileRef, bufs: Vec<B>, offset: FileOffset) -> ReadvAt<B> {
        ReadvAt {
            fd,
            bufs,
            iovecs: Vec::new(),
            offset,
        }
    }

    /// Points the vectors at the buffers (call again after the op moved: the buffers'
    /// bytes stay put, but they are rebuilt from the handles anyway).
    fn prepare(&mut self) -> &[IoVec] {
        self.iovecs.clear();
        for buf in self.bufs.iter_mut().take(IOV_MAX) {
            self.iovecs.push(IoVec {
                iov_base: buf.stable_mut_ptr().cast(),
                iov_len: buf.bytes_total(),
            });
        }
        &self.iovecs
    }
}

impl<B: IoBufMut> OpCode for ReadvAt<B> {
    type Output = BufResult<usize, Vec<B>>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Readv::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let fd = self.fd.raw();
        let offset = self.offset.kernel();
        let iovecs = self.prepare();
        io_uring::opcode::Readv::new(
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

    #[cfg(ringtide_uring)]
    const NOWAIT_BEFORE_RING: bool = true;

    fn attempt_nowait(&mut self) -> Option<io::Result<usize>> {
        let fd = self.fd.raw();
        let offset = self.offset;
        let iovecs = self.prepare();
        // SAFETY: each vector is one buffer's writable memory (`prepare`).
        unsafe { offset.read_nowait(fd, iovecs) }
    }

    fn attempt(&mut self) -> io::Result<usize> {
        let fd = self.fd.raw();
        let offset = self.offset;
        let iovecs = self.prepare();
        // SAFETY: each vector is one buffer's writable memory (`prepare`).
        unsafe { offset.read_vectored(fd, iovecs) }
    }

    fn complete(mut self, result: io::Result<usize>) -> BufResult<usize, Vec<B>> {
        if let Ok(mut count) = result {
            for buf in &mut self.bufs {
                let filled = count.min(buf.bytes_total());
                // SAFETY: the kernel filled the buffers in order, each to its capacity
                // before the next: this one's first `filled` bytes.
                unsafe { buf.set_init(filled) };
                count -= filled;
            }
        }
        (result, self.bufs)
    }
}
