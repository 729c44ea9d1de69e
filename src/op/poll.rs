//! POLL_ADD (io_uring only): waits until an fd is readable or writable. Used for ops
//! whose opcode the kernel lacks and for non-blocking fds that report `EAGAIN`.

use std::io;
use std::os::fd::RawFd;

use crate::driver::op::{OpCode, Readiness};

/// Waits for `events` (`POLLIN`/`POLLOUT`) on `fd`.
#[derive(Debug)]
pub(crate) struct PollAdd {
    fd: RawFd,
    events: libc::c_short,
    multishot: bool,
}

impl PollAdd {
    /// One completion, when the fd is ready.
    pub(crate) fn new(fd: RawFd, events: libc::c_short) -> PollAdd {
        PollAdd {
            fd,
            events,
            multishot: false,
        }
    }

    /// A completion each time the fd becomes ready, until cancelled (run it with
    /// `driver::uring::multishot::MultishotOp`).
    #[allow(dead_code, reason = "readiness streams for the poll-based I/O traits")]
    pub(crate) fn multishot(fd: RawFd, events: libc::c_short) -> PollAdd {
        PollAdd {
            fd,
            events,
            multishot: true,
        }
    }
}

impl OpCode for PollAdd {
    type Output = io::Result<usize>;

    const OPCODE: u8 = io_uring::opcode::PollAdd::CODE;

    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::PollAdd::new(io_uring::types::Fd(self.fd), self.events as u32)
            .multi(self.multishot)
            .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Immediate
    }

    fn attempt(&mut self) -> io::Result<usize> {
        Ok(0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<usize> {
        result
    }
}
