//! RENAMEAT: renames a file or directory, replacing the destination if it exists (like
//! `rename(2)`). Paths are relative to the current directory (`AT_FDCWD`).
//!
//! Both paths are owned `CString`s (on Windows `PathBuf`s, see `sys::path`) whose heap
//! bytes stay put until the op is freed (after its final CQE on io_uring). A cancelled
//! rename is atomic like any other: the file is under exactly one of the two names
//! afterwards.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::sys::path::{self, OsPath};

/// Renames `from` to `to`.
#[derive(Debug)]
pub(crate) struct RenameAt {
    from: OsPath,
    to: OsPath,
}

impl RenameAt {
    pub(crate) fn new(from: OsPath, to: OsPath) -> RenameAt {
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
        path::rename(&self.from, &self.to).map(|()| 0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
