//! MKDIRAT: creates a directory with a mode (before the umask), like `mkdir(2)`. The
//! path is relative to the current directory (`AT_FDCWD`).
//!
//! The path is an owned `CString` whose heap bytes stay put until the op is freed
//! (after its final CQE on io_uring). A cancelled mkdir either created the directory
//! or did not; nothing else is left behind.

use std::ffi::CString;
use std::io;

use crate::driver::op::{OpCode, Readiness};

/// Creates the directory `path` with permission bits `mode`.
#[derive(Debug)]
pub(crate) struct MkDirAt {
    path: CString,
    mode: libc::mode_t,
}

impl MkDirAt {
    pub(crate) fn new(path: CString, mode: u32) -> MkDirAt {
        MkDirAt {
            path,
            // `mode_t` is 16 bits on some BSDs; permission bits always fit.
            mode: mode as libc::mode_t,
        }
    }
}

impl OpCode for MkDirAt {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::MkDirAt::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::MkDirAt::new(io_uring::types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .mode(self.mode)
            .build()
    }

    fn readiness(&self) -> Readiness {
        // Path lookups can block on the disk: the blocking pool.
        Readiness::Blocking
    }

    fn attempt(&mut self) -> io::Result<usize> {
        // SAFETY: the path is a NUL-terminated string this op owns.
        if unsafe { libc::mkdirat(libc::AT_FDCWD, self.path.as_ptr(), self.mode) } < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(0)
        }
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
