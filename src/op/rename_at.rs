//! RENAMEAT: renames a file or directory, replacing the destination if it exists (like
//! `rename(2)`). Paths are relative to the current directory (`AT_FDCWD`).
//!
//! Both paths are owned `CString`s whose heap bytes stay put until the op is freed
//! (after its final CQE on io_uring). A cancelled rename is atomic like any other: the
//! file is under exactly one of the two names afterwards.

use std::ffi::CString;
use std::io;

use crate::driver::op::{OpCode, Readiness};

/// Renames `from` to `to`.
#[derive(Debug)]
pub(crate) struct RenameAt {
    from: CString,
    to: CString,
}

impl RenameAt {
    pub(crate) fn new(from: CString, to: CString) -> RenameAt {
        RenameAt { from, to }
    }
}

impl OpCode for RenameAt {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::RenameAt::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let cwd = io_uring::types::Fd(libc::AT_FDCWD);
        io_uring::opcode::RenameAt::new(cwd, self.from.as_ptr(), cwd, self.to.as_ptr()).build()
    }

    fn readiness(&self) -> Readiness {
        // Path lookups can block on the disk: the blocking pool.
        Readiness::Blocking
    }

    fn attempt(&mut self) -> io::Result<usize> {
        // SAFETY: both paths are NUL-terminated strings this op owns.
        let renamed = unsafe {
            libc::renameat(
                libc::AT_FDCWD,
                self.from.as_ptr(),
                libc::AT_FDCWD,
                self.to.as_ptr(),
            )
        };
        if renamed < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(0)
        }
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
