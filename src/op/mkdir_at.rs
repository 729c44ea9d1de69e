//! MKDIRAT: creates a directory with a mode (before the umask), like `mkdir(2)`. The
//! path is relative to the current directory (`AT_FDCWD`).
//!
//! The path is an owned `CString` (on Windows a `PathBuf`, see `sys::path`) whose heap
//! bytes stay put until the op is freed (after its final CQE on io_uring). A cancelled
//! mkdir either created the directory or did not; nothing else is left behind.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::sys::path::{self, OsPath};

/// Creates the directory `path` with permission bits `mode`.
#[derive(Debug)]
pub(crate) struct MkDirAt {
    path: OsPath,
    /// Permission bits (ignored on Windows).
    mode: u32,
}

impl MkDirAt {
    pub(crate) fn new(path: OsPath, mode: u32) -> MkDirAt {
        MkDirAt { path, mode }
    }
}

impl OpCode for MkDirAt {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::MkDirAt::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::MkDirAt::new(io_uring::types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            // `mode_t` is 16 bits on some BSDs; permission bits always fit.
            .mode(self.mode as libc::mode_t)
            .build()
    }

    fn readiness(&self) -> Readiness {
        // Path lookups can block on the disk: the blocking pool.
        Readiness::Blocking
    }

    fn attempt(&mut self) -> io::Result<usize> {
        path::mkdir(&self.path, self.mode).map(|()| 0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
