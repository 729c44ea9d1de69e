//! READ: reads into an owned buffer from an fd's current position.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FdRef;
use crate::io::{BufResult, IoBufMut};

/// Reads up to `buf.bytes_total()` bytes (clamped to `u32::MAX` on io_uring and
/// `isize::MAX` for the syscall) into the start of `buf`.
#[derive(Debug)]
pub(crate) struct Read<B> {
    /// Keeps the fd open (its number valid) until this op is freed: on io_uring,
    /// after its final CQE (see `io::shared_fd`).
    fd: FdRef,
    /// The kernel writes the bytes behind the buffer's own heap pointer (the
    /// `IoBufMut` contract: they are never inline in `B`), so a shared reference to
    /// this op (`OpCode::abandoned_in_flight`) covers `B`'s handle, never those bytes.
    buf: B,
}

impl<B: IoBufMut> Read<B> {
    pub(crate) fn new(fd: FdRef, buf: B) -> Read<B> {
        Read { fd, buf }
    }
}

impl<B: IoBufMut> OpCode for Read<B> {
    type Output = BufResult<usize, B>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Read::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let len = crate::io::kernel_len(self.buf.bytes_total());
        // Offset -1: the fd's current position (pipes, sockets, files alike).
        io_uring::opcode::Read::new(
            io_uring::types::Fd(self.fd.raw()),
            self.buf.stable_mut_ptr(),
            len,
        )
        .offset(u64::MAX)
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Read(self.fd.raw())
    }

    fn stream_read_len(&self) -> Option<usize> {
        Some(self.buf.bytes_total().min(isize::MAX as usize))
    }

    fn attempt(&mut self) -> io::Result<usize> {
        let len = self.buf.bytes_total().min(isize::MAX as usize);
        // SAFETY: the buffer has `bytes_total()` writable bytes at `stable_mut_ptr()`.
        let read = unsafe { libc::read(self.fd.raw(), self.buf.stable_mut_ptr().cast(), len) };
        if read < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(read as usize)
        }
    }

    fn complete(mut self, result: io::Result<usize>) -> BufResult<usize, B> {
        if let Ok(read) = result {
            // SAFETY: the kernel (or the syscall) initialised `read` bytes at the start
            // of the buffer.
            unsafe { self.buf.set_init(read) };
        }
        (result, self.buf)
    }
}
