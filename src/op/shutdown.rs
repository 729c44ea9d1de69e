//! SHUTDOWN: shuts down the read side, the write side or both of a socket.

use std::io;
use std::sync::Arc;

use crate::driver::op::{OpCode, Readiness};
use crate::net::socket::SharedSocket;

/// `shutdown(2)` with `how` (`SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`).
#[derive(Debug)]
pub(crate) struct Shutdown {
    socket: Arc<SharedSocket>,
    how: i32,
}

impl Shutdown {
    pub(crate) fn new(socket: Arc<SharedSocket>, how: std::net::Shutdown) -> Shutdown {
        let how = match how {
            std::net::Shutdown::Read => libc::SHUT_RD,
            std::net::Shutdown::Write => libc::SHUT_WR,
            std::net::Shutdown::Both => libc::SHUT_RDWR,
        };
        Shutdown { socket, how }
    }
}

impl OpCode for Shutdown {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Shutdown::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Shutdown::new(io_uring::types::Fd(self.socket.fd()), self.how).build()
    }

    fn readiness(&self) -> Readiness {
        // shutdown(2) never blocks.
        Readiness::Immediate
    }

    fn attempt(&mut self) -> io::Result<usize> {
        // SAFETY: shutdown on an fd the socket owns; errors are checked.
        if unsafe { libc::shutdown(self.socket.fd(), self.how) } < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(0)
        }
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(|_| ())
    }
}
