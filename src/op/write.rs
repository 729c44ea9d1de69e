//! WRITE: writes an owned buffer's initialised bytes at an fd's current position.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FdRef;
use crate::io::{BufResult, IoBuf};

/// Writes up to `buf.bytes_init()` bytes (clamped to `u32::MAX` on io_uring and
/// `isize::MAX` for the syscall).
#[derive(Debug)]
pub(crate) struct Write<B> {
    /// Keeps the fd open (its number valid) until this op is freed: on io_uring,
    /// after its final CQE (see `io::shared_fd`).
    fd: FdRef,
    buf: B,
}

impl<B: IoBuf> Write<B> {
    pub(crate) fn new(fd: FdRef, buf: B) -> Write<B> {
        Write { fd, buf }
    }
}

impl<B: IoBuf> OpCode for Write<B> {
    type Output = BufResult<usize, B>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Write::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let len = crate::io::kernel_len(self.buf.bytes_init());
        io_uring::opcode::Write::new(
            io_uring::types::Fd(self.fd.raw()),
            self.buf.stable_ptr(),
            len,
        )
        .offset(u64::MAX)
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Write(self.fd.raw())
    }

    fn attempt(&mut self) -> io::Result<usize> {
        let len = self.buf.bytes_init().min(isize::MAX as usize);
        // SAFETY: the buffer has `bytes_init()` initialised bytes at `stable_ptr()`.
        let written = unsafe { libc::write(self.fd.raw(), self.buf.stable_ptr().cast(), len) };
        if written < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(written as usize)
        }
    }

    fn complete(self, result: io::Result<usize>) -> BufResult<usize, B> {
        (result, self.buf)
    }
}
