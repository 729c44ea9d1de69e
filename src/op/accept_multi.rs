//! ACCEPT with `IORING_ACCEPT_MULTISHOT` (io_uring only, Linux 5.19+): one submission
//! accepts connections until it is cancelled or fails; each CQE is a new fd.
//!
//! The listener keeps one armed (see `net::accept_stream`), so connections are accepted
//! by the kernel as they arrive and queue in the op's cell until an `accept` call takes
//! them. Results nobody will take (the listener was dropped) are kept in the listener's
//! leftovers ([`KeepsAccepts`]), which close them when the listener's state goes away.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use crate::driver::op::{OpCode, Readiness};
use crate::driver::uring::multishot::MultishotOpCode;
use crate::io::shared_fd::FdRef;
use crate::op::accept::{Accepted, KeepsAccepts};

/// Multishot accept on a listener.
#[derive(Debug)]
pub(crate) struct AcceptMulti<S> {
    /// The listener; keeps its fd open until this op is freed.
    fd: FdRef<S>,
}

impl<S: KeepsAccepts> AcceptMulti<S> {
    pub(crate) fn new(fd: FdRef<S>) -> AcceptMulti<S> {
        AcceptMulti { fd }
    }
}

/// The connection behind fd `result` of a multishot accept CQE. The CQE carries no
/// address, so the peer's is read back (an already reset peer reports `0.0.0.0:0`).
pub(crate) fn accepted(result: u32) -> Accepted {
    // SAFETY: the kernel returned a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(result as i32) };
    let peer = socket2::SockRef::from(&fd)
        .peer_addr()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)).into());
    Accepted { fd, peer }
}

impl<S: KeepsAccepts> OpCode for AcceptMulti<S> {
    type Output = io::Result<usize>;

    const OPCODE: u8 = io_uring::opcode::AcceptMulti::CODE;
    const MULTISHOT: bool = true;

    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::AcceptMulti::new(io_uring::types::Fd(self.fd.raw()))
            .flags(crate::driver::uring::probe::multishot_accept_flags())
            .build()
    }

    fn complete_abandoned(&mut self, result: i32) {
        if result >= 0 {
            self.fd.state().late_accepts().keep(accepted(result as u32));
        }
    }

    fn readiness(&self) -> Readiness {
        Readiness::Immediate
    }

    fn attempt(&mut self) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<usize> {
        result
    }
}

// SAFETY: the SQE passes no address buffer (multishot accept cannot take one): the
// kernel writes no memory this value owns, each CQE's `res` is the new fd. The value
// holds only the listener's `FdRef`, whose state `complete_abandoned` uses to keep
// the connection.
unsafe impl<S: KeepsAccepts> MultishotOpCode for AcceptMulti<S> {}
