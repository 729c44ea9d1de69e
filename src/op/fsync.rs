//! FSYNC: flushes a file's data (and, unless `data_only`, its metadata) to the device.
//!
//! * io_uring: one FSYNC SQE (`IORING_FSYNC_DATASYNC` for `data_only`); the kernel
//!   runs it in io-wq.
//! * readiness: `Readiness::Blocking`: `fsync` or `fdatasync` on the blocking pool.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FdRef;

/// `fsync(2)`, or `fdatasync(2)` when `data_only`.
#[derive(Debug)]
pub(crate) struct Fsync {
    /// Keeps the fd open until this op is freed (see `io::shared_fd`).
    fd: FdRef,
    data_only: bool,
}

impl Fsync {
    pub(crate) fn new(fd: FdRef, data_only: bool) -> Fsync {
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
        let fd = self.fd.raw();
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
        // SAFETY: a syscall on an fd this op keeps open; no memory is passed.
        let result = unsafe {
            if self.data_only {
                libc::fdatasync(fd)
            } else {
                libc::fsync(fd)
            }
        };
        // Elsewhere `fsync` for both: it syncs a superset of what `fdatasync` does.
        #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
        // SAFETY: as above.
        let result = unsafe { libc::fsync(fd) };
        if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(0)
        }
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
