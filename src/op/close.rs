//! CLOSE: closes an fd and reports the outcome.
//!
//! * Detached (io_uring): through the ring, batched with the other SQEs instead of a
//!   `close(2)` syscall of its own, when the last user of a socket goes away on a
//!   thread that drives a ring (see `net::socket_fd`). Nobody reads the result.
//! * Awaited through `op::run`: an explicit close that reports its error (a file's
//!   `close()`: `EIO` from a network file system's final flush, say). The readiness half
//!   is `Readiness::Blocking` (a final flush may wait on the network), so on mio it runs
//!   on the blocking pool.
//!
//! Whatever `close(2)` returns, the fd is gone afterwards on Linux (even on `EINTR`), so
//! a failed close is never retried. On Windows the readiness half is `CloseHandle` on
//! a file's handle (see `sys::file::close`).

use std::io;
#[cfg(ringtide_uring)]
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};

use crate::driver::op::{OpCode, Readiness};
use crate::sys::OwnedFile;

/// Closes `fd`. The op owns it: if the op is never submitted, dropping it closes the fd.
#[derive(Debug)]
pub(crate) struct Close {
    fd: Option<OwnedFile>,
    /// The number, for the kernel to close once `uring_entry` gave up the `OwnedFd`.
    #[cfg(ringtide_uring)]
    raw: RawFd,
}

impl Close {
    pub(crate) fn new(fd: OwnedFile) -> Close {
        Close {
            #[cfg(ringtide_uring)]
            raw: std::os::fd::AsRawFd::as_raw_fd(&fd),
            fd: Some(fd),
        }
    }
}

impl OpCode for Close {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Close::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        // From here the kernel closes it: give up ownership so the op's drop does not.
        if let Some(fd) = self.fd.take() {
            self.raw = fd.into_raw_fd();
        }
        io_uring::opcode::Close::new(io_uring::types::Fd(self.raw)).build()
    }

    #[cfg(ringtide_uring)]
    fn complete_abandoned(&mut self, result: i32) {
        // `-ECANCELED`: the CLOSE never ran (its ring retired first), so the kernel
        // did not close the fd this op owns: close it here.
        if result == -libc::ECANCELED && self.fd.is_none() {
            // SAFETY: `uring_entry` gave up the `OwnedFd` for the kernel to close, and
            // the kernel did not: this op is still the fd's only owner.
            drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(self.raw) });
        }
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn attempt(&mut self) -> io::Result<usize> {
        let Some(fd) = self.fd.take() else {
            return Ok(0);
        };
        crate::sys::file::close(fd).map(|()| 0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(|_| ())
    }
}

// Unix: checks the descriptor table with `fcntl`.
#[cfg(all(test, unix))]
mod readiness_tests {
    use std::os::fd::{AsRawFd, OwnedFd};

    use super::*;

    #[test]
    fn the_readiness_half_closes_the_fd_and_reports_success() {
        let (reader, _writer) = std::io::pipe().unwrap();
        let raw = reader.as_raw_fd();
        let mut close = Close::new(OwnedFd::from(reader));
        assert_eq!(close.readiness(), Readiness::Blocking);
        close.attempt().unwrap();
        // SAFETY: F_GETFD only inspects the descriptor table.
        assert!(unsafe { libc::fcntl(raw, libc::F_GETFD) } < 0, "still open");
        assert!(close.complete(Ok(0)).is_ok());
    }
}

#[cfg(all(test, ringtide_uring))]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    fn is_open(fd: RawFd) -> bool {
        // SAFETY: F_GETFD only inspects the descriptor table.
        unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
    }

    #[test]
    fn a_close_that_never_ran_closes_its_fd_when_abandoned() {
        let (reader, _writer) = std::io::pipe().unwrap();
        let raw = reader.as_raw_fd();
        let mut close = Close::new(OwnedFd::from(reader));
        // The SQE is built: from here the op no longer owns an `OwnedFd`.
        let _ = close.uring_entry();
        assert!(is_open(raw));
        // Its ring retired before the kernel ran it.
        close.complete_abandoned(-libc::ECANCELED);
        assert!(!is_open(raw), "a retired CLOSE leaks its fd");
    }

    #[test]
    fn a_close_the_kernel_ran_is_not_closed_again() {
        let (reader, _writer) = std::io::pipe().unwrap();
        let raw = reader.as_raw_fd();
        let mut close = Close::new(OwnedFd::from(reader));
        let _ = close.uring_entry();
        // The kernel closed it (simulated), and the number was reused right away.
        let (other, _other_writer) = std::io::pipe().unwrap();
        // SAFETY: `raw` is owned by the op, which gave it to the "kernel"; `dup2`
        // atomically closes it and makes `raw` a copy of `other`.
        assert_eq!(unsafe { libc::dup2(other.as_raw_fd(), raw) }, raw);
        close.complete_abandoned(0);
        drop(close);
        assert!(is_open(raw), "closed an fd number it no longer owned");
        // SAFETY: `raw` is the duplicate made above, owned by this test.
        unsafe { libc::close(raw) };
    }
}
