//! LINKAT: creates a hard link `link` to the file `original`, like `link(2)` (no
//! flags: a symlink `original` is linked itself, not followed, as `std::fs::hard_link`
//! does on Linux). Paths are relative to the current directory (`AT_FDCWD`).
//!
//! Both paths are owned `CString`s whose heap bytes stay put until the op is freed
//! (after its final CQE on io_uring). A cancelled link either created the name or did
//! not.

use std::ffi::CString;
use std::io;

use crate::driver::op::{OpCode, Readiness};

/// Makes `link` a new name for `original`.
#[derive(Debug)]
pub(crate) struct LinkAt {
    original: CString,
    link: CString,
}

impl LinkAt {
    pub(crate) fn new(original: CString, link: CString) -> LinkAt {
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
        // SAFETY: both paths are NUL-terminated strings this op owns.
        let linked = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                self.original.as_ptr(),
                libc::AT_FDCWD,
                self.link.as_ptr(),
                0,
            )
        };
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
