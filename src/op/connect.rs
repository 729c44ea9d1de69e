//! CONNECT: connects a socket to an address.
//!
//! On io_uring the op runs on a blocking socket and completes when the connection is
//! established. If the ring that ran it was retired mid-way, the op is submitted again
//! and the kernel answers `EALREADY` (still in progress) or `EISCONN` (done); the
//! caller (`net::connect`) treats those as "wait for writability, then read
//! `SO_ERROR`" and "connected". On mio the first attempt starts a non-blocking connect
//! (`EINPROGRESS` is reported as `WouldBlock`), and the attempt after writability reads
//! `SO_ERROR`.

use std::io;

use socket2::SockAddr;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FdRef;

/// Connects to `address`.
#[derive(Debug)]
pub(crate) struct Connect<S> {
    /// The socket; keeps its fd open until this op is freed.
    fd: FdRef<S>,
    address: SockAddr,
    started: bool,
}

impl<S: Send + Sync + 'static> Connect<S> {
    pub(crate) fn new(fd: FdRef<S>, address: SockAddr) -> Connect<S> {
        Connect {
            fd,
            address,
            started: false,
        }
    }
}

impl<S: Send + Sync + 'static> OpCode for Connect<S> {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Connect::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Connect::new(
            io_uring::types::Fd(self.fd.raw()),
            self.address.as_ptr().cast(),
            self.address.len(),
        )
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Write(self.fd.raw())
    }

    fn attempt(&mut self) -> io::Result<usize> {
        if self.started {
            return crate::sys::socket::take_error(self.fd.raw()).map(|()| 0);
        }
        self.started = true;
        crate::sys::socket::connect(self.fd.raw(), &self.address).map(|()| 0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(|_| ())
    }
}
