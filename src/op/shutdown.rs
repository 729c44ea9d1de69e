//! SHUTDOWN: shuts down the read side, the write side or both of a socket.

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FdRef;

/// `shutdown(2)` with `how`.
#[derive(Debug)]
pub(crate) struct Shutdown<S> {
    /// The socket; keeps its fd open until this op is freed.
    fd: FdRef<S>,
    how: std::net::Shutdown,
}

impl<S: Send + Sync + 'static> Shutdown<S> {
    pub(crate) fn new(fd: FdRef<S>, how: std::net::Shutdown) -> Shutdown<S> {
        Shutdown { fd, how }
    }
}

impl<S: Send + Sync + 'static> OpCode for Shutdown<S> {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Shutdown::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let how = match self.how {
            std::net::Shutdown::Read => libc::SHUT_RD,
            std::net::Shutdown::Write => libc::SHUT_WR,
            std::net::Shutdown::Both => libc::SHUT_RDWR,
        };
        io_uring::opcode::Shutdown::new(io_uring::types::Fd(self.fd.raw()), how).build()
    }

    fn readiness(&self) -> Readiness {
        // shutdown(2) never blocks.
        Readiness::Immediate
    }

    fn attempt(&mut self) -> io::Result<usize> {
        crate::sys::socket::shutdown(self.fd.raw(), self.how).map(|()| 0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(|_| ())
    }
}
