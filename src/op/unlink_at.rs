//! UNLINKAT: removes a name from the file system: a file (like `unlink(2)`) or, with
//! `AT_REMOVEDIR`, an empty directory (like `rmdir(2)`). Paths are relative to the
//! current directory (`AT_FDCWD`).
//!
//! The path is an owned `CString` (on Windows a `PathBuf`, see `sys::path`): its bytes
//! sit on the heap, where they stay until the op is freed (after its final CQE on
//! io_uring), so the kernel never reads a moved or freed path. A cancelled unlink
//! leaves nothing behind: either the name was removed or it was not.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::sys::path::{self, OsPath};

/// Removes the file or empty directory at `path`.
#[derive(Debug)]
pub(crate) struct UnlinkAt {
    path: OsPath,
    /// An empty directory (`AT_REMOVEDIR`), not a file.
    directory: bool,
}

impl UnlinkAt {
    /// Removes a file (anything but a directory): `unlink(2)`.
    pub(crate) fn file(path: OsPath) -> UnlinkAt {
        UnlinkAt {
            path,
            directory: false,
        }
    }

    /// Removes an empty directory: `rmdir(2)`.
    pub(crate) fn dir(path: OsPath) -> UnlinkAt {
        UnlinkAt {
            path,
            directory: true,
        }
    }
}

impl OpCode for UnlinkAt {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::UnlinkAt::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::UnlinkAt::new(io_uring::types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(if self.directory {
                libc::AT_REMOVEDIR
            } else {
                0
            })
            .build()
    }

    fn readiness(&self) -> Readiness {
        // Path lookups can block on the disk: the blocking pool.
        Readiness::Blocking
    }

    fn attempt(&mut self) -> io::Result<usize> {
        path::unlink(&self.path, self.directory).map(|()| 0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
