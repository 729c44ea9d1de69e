//! SHUTDOWN: shuts down the read side, the write side or both of a socket.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FdRef;

/// `shutdown(2)` with `how` (`SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`).
#[derive(Debug)]
pub(crate) struct Shutdown<S> {
    /// The socket; keeps its fd open until this op is freed.
    fd: FdRef<S>,
    how: i32,
}

impl<S: Send + Sync + 'static> Shutdown<S> {
    pub(crate) fn new(fd: FdRef<S>, how: std::net::Shutdown) -> Shutdown<S> {
        let how = match how {
            std::net::Shutdown::Read => libc::SHUT_RD,
            std::net::Shutdown::Write => libc::SHUT_WR,
            std::net::Shutdown::Both => libc::SHUT_RDWR,
        };
        Shutdown { fd, how }
    }
}

impl<S: Send + Sync + 'static> OpCode for Shutdown<S> {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Shutdown::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Shutdown::new(io_uring::types::Fd(self.fd.raw()), self.how).build()
    }

    fn readiness(&self) -> Readiness {
        // shutdown(2) never blocks.
        Readiness::Immediate
    }

    fn attempt(&mut self) -> io::Result<usize> {
        // SAFETY: shutdown on an fd the socket owns; errors are checked.
        if unsafe { libc::shutdown(self.fd.raw(), self.how) } < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(0)
        }
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(|_| ())
    }
}
