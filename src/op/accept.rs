//! ACCEPT: takes one connection from a listening socket.
//!
//! Cancel-safe: a connection accepted by an op whose future was dropped goes to the
//! listener's leftovers (see `op::leftovers`), where the next `accept` finds it. The
//! listener's state says where they are ([`KeepsAccepts`]).

use std::io;

use socket2::{SockAddr, SockAddrStorage, socklen_t};

use crate::driver::op::{KernelWritten, OpCode, Readiness};
use crate::io::shared_fd::FdRef;
use crate::op::leftovers::{LatePath, LateResult, LeftoverTicket, Leftovers};
use crate::op::socket_address::sock_addr;
use crate::sys::{self, OwnedSocket};

const STORAGE_LENGTH: socklen_t = size_of::<SockAddrStorage>() as socklen_t;

/// A connection taken by an accept.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) fd: OwnedSocket,
    pub(crate) peer: SockAddr,
}

impl LateResult for Accepted {
    const SINGLE_SHOT: LatePath = LatePath::Accept;
    const MULTISHOT: LatePath = LatePath::MultishotAccept;
}

/// The state of a listener's fd owner: where connections taken by accepts nobody
/// awaits any more are kept for the next accept.
pub(crate) trait KeepsAccepts: Send + Sync + 'static {
    /// The listener's kept connections.
    #[cfg_attr(
        not(ringtide_uring),
        allow(
            dead_code,
            reason = "only io_uring ops complete after their future is gone"
        )
    )]
    fn late_accepts(&self) -> &Leftovers<Accepted>;
}

/// Accepts a connection, recording the peer's address.
pub(crate) struct Accept<S> {
    /// The listener; keeps its fd open until this op is freed.
    fd: FdRef<S>,
    /// The kernel writes the peer's address here while the op is in flight.
    peer: KernelWritten<PeerAddress>,
    /// Hands a late result to the socket's leftovers (io_uring only).
    #[cfg_attr(not(ringtide_uring), allow(dead_code))]
    ticket: LeftoverTicket,
}

impl<S> std::fmt::Debug for Accept<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accept")
            .field("fd", &self.fd.raw())
            .finish_non_exhaustive()
    }
}

/// `accept4`'s address out-parameters.
struct PeerAddress {
    storage: SockAddrStorage,
    length: socklen_t,
}

impl PeerAddress {
    /// The pointers for the kernel, with the length reset to the whole storage.
    #[cfg(ringtide_uring)]
    fn prepare(&mut self) -> (*mut libc::sockaddr, *mut libc::socklen_t) {
        self.length = STORAGE_LENGTH;
        ((&raw mut self.storage).cast(), &raw mut self.length)
    }
}

impl<S: KeepsAccepts> Accept<S> {
    pub(crate) fn new(fd: FdRef<S>) -> Accept<S> {
        Accept {
            fd,
            peer: KernelWritten::new(PeerAddress {
                storage: SockAddrStorage::zeroed(),
                length: STORAGE_LENGTH,
            }),
            ticket: LeftoverTicket::default(),
        }
    }

    /// Only after the accept finished: the kernel wrote the address; `fd` is the new
    /// socket's number (an op result, see `sys::socket_as_result`).
    fn accepted(&mut self, fd: usize) -> Accepted {
        // SAFETY: the kernel returned a new socket that nothing else owns.
        let fd = unsafe { sys::socket_from_raw(sys::socket_from_result(fd)) };
        let address = self.peer.get_mut();
        let peer = sock_addr(&address.storage, address.length);
        Accepted { fd, peer }
    }
}

impl<S: KeepsAccepts> OpCode for Accept<S> {
    type Output = io::Result<Accepted>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Accept::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let (address, length) = self.peer.get_mut().prepare();
        // The accepted socket stays blocking: io_uring waits inside the kernel.
        io_uring::opcode::Accept::new(io_uring::types::Fd(self.fd.raw()), address, length)
            .flags(libc::SOCK_CLOEXEC)
            .build()
    }

    #[cfg(ringtide_uring)]
    fn abandoned_in_flight(&self) {
        self.ticket
            .abandoned_in_flight(self.fd.state().late_accepts());
    }

    #[cfg(ringtide_uring)]
    fn complete_abandoned(&mut self, result: i32) {
        let accepted = (result >= 0).then(|| self.accepted(result as usize));
        self.ticket
            .complete_abandoned(self.fd.state().late_accepts(), accepted);
    }

    fn readiness(&self) -> Readiness {
        Readiness::Read(self.fd.raw())
    }

    fn attempt(&mut self) -> io::Result<usize> {
        let peer = self.peer.get_mut();
        let accepted = sys::socket::accept(self.fd.raw(), &mut peer.storage, &mut peer.length);
        accepted.map(|fd| sys::socket_as_result(sys::socket_into_raw(fd)))
    }

    fn complete(mut self, result: io::Result<usize>) -> io::Result<Accepted> {
        result.map(|fd| self.accepted(fd))
    }
}
