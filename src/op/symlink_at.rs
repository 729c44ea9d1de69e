//! SYMLINKAT: creates a symbolic link `link` whose contents are `target`, like
//! `symlink(2)`. `target` is stored as given (it need not exist); `link` is relative to
//! the current directory (`AT_FDCWD`).
//!
//! Both paths are owned `CString`s whose heap bytes stay put until the op is freed
//! (after its final CQE on io_uring). A cancelled symlink either created the link or
//! did not.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::sys::path::{self, OsPath};

/// Creates the symlink `link` pointing at `target`.
#[derive(Debug)]
pub(crate) struct SymlinkAt {
    target: OsPath,
    link: OsPath,
}

impl SymlinkAt {
    pub(crate) fn new(target: OsPath, link: OsPath) -> SymlinkAt {
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
        path::symlink(&self.target, &self.link).map(|()| 0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
