//! CLOSE (io_uring only): closes an fd through the ring, batched with the other SQEs
//! instead of a `close(2)` syscall of its own. Used, detached, when the last user of a
//! socket goes away on a thread that drives a ring (see `net::socket`).

use std::io;
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};

use crate::driver::op::{OpCode, Readiness};

/// Closes `fd`. The op owns it: if the op is never submitted, dropping it closes the fd.
#[derive(Debug)]
pub(crate) struct Close {
    fd: Option<OwnedFd>,
    raw: RawFd,
}

impl Close {
    pub(crate) fn new(fd: OwnedFd) -> Close {
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        Close { fd: Some(fd), raw }
    }
}

impl OpCode for Close {
    type Output = io::Result<()>;

    const OPCODE: u8 = io_uring::opcode::Close::CODE;

    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        // From here the kernel closes it: give up ownership so the op's drop does not.
        if let Some(fd) = self.fd.take() {
            self.raw = fd.into_raw_fd();
        }
        io_uring::opcode::Close::new(io_uring::types::Fd(self.raw)).build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Immediate
    }

    fn attempt(&mut self) -> io::Result<usize> {
        drop(self.fd.take());
        Ok(0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(|_| ())
    }
}
