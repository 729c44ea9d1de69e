//! WRITE at a file offset (or the file position): writes an owned buffer's initialised
//! bytes, from a given index of the buffer on.
//!
//! * io_uring: one WRITE SQE with the offset (`-1`: the file position; on a file opened
//!   with `O_APPEND` every write goes to the end, whatever the offset, as `pwrite(2)`
//!   does on Linux).
//! * readiness: `Readiness::Blocking`: `pwrite` (or `write`) on the blocking pool.
//!   Buffered writes have no inline form here: `RWF_NOWAIT` for buffered writes exists
//!   only on some file systems and kernels, and a page-cache write may still wait
//!   for dirty-page throttling.
//!
//! Lengths are clamped as for reads (see `op::read_at`): a short write, never a
//! wrapped length.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FileRef;
use crate::io::{BufResult, IoBuf};
use crate::op::file_offset::FileOffset;

/// Writes up to `buf.bytes_init() - start` bytes from `buf[start..]`.
#[derive(Debug)]
pub(crate) struct WriteAt<B> {
    /// Keeps the fd open (its number valid) until this op is freed: on io_uring,
    /// after its final CQE (see `io::shared_fd`).
    fd: FileRef,
    buf: B,
    /// Index in `buf` of the first byte to write.
    start: usize,
    offset: FileOffset,
}

impl<B: IoBuf> WriteAt<B> {
    /// Writes `buf[start..bytes_init()]`; `start` must be at most `buf.bytes_init()`.
    pub(crate) fn new(fd: FileRef, buf: B, start: usize, offset: FileOffset) -> WriteAt<B> {
        assert!(
            start <= buf.bytes_init(),
            "a write starts within the initialised bytes"
        );
        WriteAt {
            fd,
            buf,
            start,
            offset,
        }
    }

    /// The bytes to write.
    fn source(&self) -> (*const u8, usize) {
        let len = self.buf.bytes_init() - self.start;
        // SAFETY: `start <= bytes_init()` (checked in `new`; the buffer is not touched
        // in between), so the pointer stays within (or one past) the buffer's memory.
        let ptr = unsafe { self.buf.stable_ptr().add(self.start) };
        (ptr, len)
    }
}

impl<B: IoBuf> OpCode for WriteAt<B> {
    type Output = BufResult<usize, B>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Write::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let (ptr, len) = self.source();
        io_uring::opcode::Write::new(
            io_uring::types::Fd(self.fd.raw()),
            ptr,
            crate::io::kernel_len(len),
        )
        .offset(self.offset.kernel())
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn attempt(&mut self) -> io::Result<usize> {
        let (ptr, len) = self.source();
        // SAFETY: `source` is the buffer's initialised bytes after `start`.
        unsafe { self.offset.write(self.fd.raw(), ptr, len) }
    }

    fn complete(self, result: io::Result<usize>) -> BufResult<usize, B> {
        (result, self.buf)
    }
}
