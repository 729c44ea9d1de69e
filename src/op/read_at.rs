//! READ at a file offset (or the file position): reads from a file into an owned
//! buffer, from a given index of the buffer on.
//!
//! * io_uring: one READ SQE with the offset (`-1`: the file position). A page-cache
//!   hit completes inline in the submitting `io_uring_enter`; a miss goes to the
//!   kernel's async read path (or io-wq), never to a thread of ours.
//! * readiness: `Readiness::Blocking`. The inline form is `preadv2(RWF_NOWAIT)`
//!   (`OpCode::attempt_nowait`, see `op::run`); only when the page cache cannot serve
//!   the read does `pread` (or `read`) run on the blocking pool.
//!
//! Lengths: at most `u32::MAX` bytes per SQE (`io::kernel_len`) and `isize::MAX` per
//! syscall; Linux itself transfers at most `0x7ffff000` bytes per call. A larger buffer
//! gives a short read, never a wrapped length.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FileRef;
use crate::io::{BufResult, IoBufMut};
use crate::op::file_offset::FileOffset;
use crate::sys::IoVec;

/// Reads up to `buf.bytes_total() - start` bytes into `buf[start..]`.
#[derive(Debug)]
pub(crate) struct ReadAt<B> {
    /// Keeps the fd open (its number valid) until this op is freed: on io_uring,
    /// after its final CQE (see `io::shared_fd`).
    fd: FileRef,
    /// The kernel writes the bytes behind the buffer's own heap pointer (the
    /// `IoBufMut` contract: they are never inline in `B`), so a shared reference to
    /// this op (`OpCode::abandoned_in_flight`) covers `B`'s handle, never those bytes.
    buf: B,
    /// Index in `buf` where the bytes go.
    start: usize,
    offset: FileOffset,
}

impl<B: IoBufMut> ReadAt<B> {
    /// Reads into `buf[start..]`; `start` must be at most `buf.bytes_init()` (the
    /// bytes before it are the caller's, already initialised).
    pub(crate) fn new(fd: FileRef, buf: B, start: usize, offset: FileOffset) -> ReadAt<B> {
        assert!(
            start <= buf.bytes_init(),
            "a read starts within the initialised bytes"
        );
        ReadAt {
            fd,
            buf,
            start,
            offset,
        }
    }

    /// Where the bytes go, and how many may.
    fn target(&mut self) -> (*mut u8, usize) {
        let len = self.buf.bytes_total() - self.start;
        // SAFETY: `start <= bytes_init() <= bytes_total()` (checked in `new`; nothing
        // touches the buffer in between), so the pointer stays within (or one past) the
        // buffer's memory.
        let ptr = unsafe { self.buf.stable_mut_ptr().add(self.start) };
        (ptr, len)
    }
}

impl<B: IoBufMut> OpCode for ReadAt<B> {
    type Output = BufResult<usize, B>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Read::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let (ptr, len) = self.target();
        io_uring::opcode::Read::new(
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

    #[cfg(ringtide_uring)]
    const NOWAIT_BEFORE_RING: bool = true;

    fn attempt_nowait(&mut self) -> Option<io::Result<usize>> {
        let (ptr, len) = self.target();
        let iovec = [IoVec {
            iov_base: ptr.cast(),
            iov_len: len.min(isize::MAX as usize),
        }];
        // SAFETY: `target` is the buffer's writable memory after `start`.
        unsafe { self.offset.read_nowait(self.fd.raw(), &iovec) }
    }

    fn attempt(&mut self) -> io::Result<usize> {
        let (ptr, len) = self.target();
        // SAFETY: `target` is the buffer's writable memory after `start`.
        unsafe { self.offset.read(self.fd.raw(), ptr, len) }
    }

    fn complete(mut self, result: io::Result<usize>) -> BufResult<usize, B> {
        if let Ok(read) = result {
            // SAFETY: the kernel (or the syscall) initialised `read` bytes from `start`
            // on, and the bytes before `start` were initialised already (`new`), so the
            // first `start + read` are; `read <= bytes_total() - start`.
            unsafe { self.buf.set_init(self.start + read) };
        }
        (result, self.buf)
    }
}
