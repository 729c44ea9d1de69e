//! FSYNC: flushes a file's data (and, unless `data_only`, its metadata) to the device.
//!
//! * io_uring: one FSYNC SQE (`IORING_FSYNC_DATASYNC` for `data_only`); the kernel
//!   runs it in io-wq.
//! * readiness: `Readiness::Blocking`: `fsync` or `fdatasync` on the blocking pool.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FileRef;
use crate::sys::file::sync;

/// `fsync(2)`, or `fdatasync(2)` when `data_only`.
#[derive(Debug)]
pub(crate) struct Fsync {
    /// Keeps the fd open until this op is freed (see `io::shared_fd`).
    fd: FileRef,
    data_only: bool,
}

impl Fsync {
    pub(crate) fn new(fd: FileRef, data_only: bool) -> Fsync {
        Fsync { fd, data_only }
    }
}

impl OpCode for Fsync {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Fsync::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let flags = if self.data_only {
            io_uring::types::FsyncFlags::DATASYNC
        } else {
            io_uring::types::FsyncFlags::empty()
        };
        io_uring::opcode::Fsync::new(io_uring::types::Fd(self.fd.raw()))
            .flags(flags)
            .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn attempt(&mut self) -> io::Result<usize> {
        sync(self.fd.raw(), self.data_only).map(|()| 0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
