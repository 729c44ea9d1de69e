//! SYMLINKAT: creates a symbolic link `link` whose contents are `target`, like
//! `symlink(2)`. `target` is stored as given (it need not exist); `link` is relative to
//! the current directory (`AT_FDCWD`).
//!
//! Both paths are owned `CString`s whose heap bytes stay put until the op is freed
//! (after its final CQE on io_uring). A cancelled symlink either created the link or
//! did not.

use std::ffi::CString;
use std::io;

use crate::driver::op::{OpCode, Readiness};

/// Creates the symlink `link` pointing at `target`.
#[derive(Debug)]
pub(crate) struct SymlinkAt {
    target: CString,
    link: CString,
}

impl SymlinkAt {
    pub(crate) fn new(target: CString, link: CString) -> SymlinkAt {
        SymlinkAt { target, link }
    }
}

impl OpCode for SymlinkAt {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::SymlinkAt::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::SymlinkAt::new(
            io_uring::types::Fd(libc::AT_FDCWD),
            self.target.as_ptr(),
            self.link.as_ptr(),
        )
        .build()
    }

    fn readiness(&self) -> Readiness {
        // Path lookups can block on the disk: the blocking pool.
        Readiness::Blocking
    }

    fn attempt(&mut self) -> io::Result<usize> {
        // SAFETY: both paths are NUL-terminated strings this op owns.
        let linked =
            unsafe { libc::symlinkat(self.target.as_ptr(), libc::AT_FDCWD, self.link.as_ptr()) };
        if linked < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(0)
        }
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
