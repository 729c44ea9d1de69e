//! FTRUNCATE: sets a file's length (cuts it, or extends it with a hole that reads as
//! zeroes).
//!
//! * io_uring: one FTRUNCATE SQE (`IORING_OP_FTRUNCATE`, Linux 6.9+). Where the probe
//!   says the kernel lacks it, `op::run` runs the readiness half instead.
//! * readiness: `Readiness::Blocking`: `ftruncate` on the blocking pool.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FileRef;

/// `ftruncate(2)` to `len` bytes; `len` must be at most `i64::MAX` (the caller checks).
#[derive(Debug)]
pub(crate) struct Ftruncate {
    /// Keeps the fd open until this op is freed (see `io::shared_fd`).
    fd: FileRef,
    len: u64,
}

impl Ftruncate {
    pub(crate) fn new(fd: FileRef, len: u64) -> Ftruncate {
        debug_assert!(i64::try_from(len).is_ok(), "a length the kernel can take");
        Ftruncate { fd, len }
    }
}

impl OpCode for Ftruncate {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Ftruncate::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Ftruncate::new(io_uring::types::Fd(self.fd.raw()), self.len).build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn attempt(&mut self) -> io::Result<usize> {
        crate::sys::file::set_len(self.fd.raw(), self.len).map(|()| 0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
