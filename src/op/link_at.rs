//! LINKAT: creates a hard link `link` to the file `original`, like `link(2)` (no
//! flags: a symlink `original` is linked itself, not followed, as `std::fs::hard_link`
//! does on Linux). Paths are relative to the current directory (`AT_FDCWD`).
//!
//! Both paths are owned `CString`s (on Windows `PathBuf`s, see `sys::path`) whose heap
//! bytes stay put until the op is freed (after its final CQE on io_uring). A cancelled
//! link either created the name or did not.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::sys::path::{self, OsPath};

/// Makes `link` a new name for `original`.
#[derive(Debug)]
pub(crate) struct LinkAt {
    original: OsPath,
    link: OsPath,
}

impl LinkAt {
    pub(crate) fn new(original: OsPath, link: OsPath) -> LinkAt {
        LinkAt { original, link }
    }
}

impl OpCode for LinkAt {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::LinkAt::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let cwd = io_uring::types::Fd(libc::AT_FDCWD);
        io_uring::opcode::LinkAt::new(cwd, self.original.as_ptr(), cwd, self.link.as_ptr()).build()
    }

    fn readiness(&self) -> Readiness {
        // Path lookups can block on the disk: the blocking pool.
        Readiness::Blocking
    }

    fn attempt(&mut self) -> io::Result<usize> {
        path::hard_link(&self.original, &self.link).map(|()| 0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
