//! RECV: reads from a socket into an owned buffer, from a given offset in it.
//!
//! Stream reads keep what a cancelled read took (see `op::leftovers`): when the future
//! was dropped and the kernel completed the read anyway, the bytes ([`Received`]) go to
//! the socket's leftovers, which its state names ([`KeepsReads`]), instead of being
//! freed with the buffer.

use std::io;

use socket2::SockAddr;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FdRef;
use crate::io::{BufResult, IoBufMut};
use crate::op::leftovers::{LatePath, LateResult, LeftoverTicket, Leftovers};

/// Bytes (and, for datagrams, the sender) that a cancelled read took from the kernel.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) data: Vec<u8>,
    pub(crate) from: Option<SockAddr>,
}

impl LateResult for Received {
    const SINGLE_SHOT: LatePath = LatePath::Read;
    // There is no multishot receive; a kept read is a read.
    const MULTISHOT: LatePath = LatePath::Read;
}

/// The state of a socket's fd owner: where what cancelled reads took is kept for the
/// next read ([`Recv`], `RecvMsg`).
pub(crate) trait KeepsReads: Send + Sync + 'static {
    /// The socket's kept reads.
    #[cfg_attr(
        not(ringtide_uring),
        allow(
            dead_code,
            reason = "only io_uring ops complete after their future is gone"
        )
    )]
    fn late_reads(&self) -> &Leftovers<Received>;

    /// A cancelled read's result was just kept: the tasks waiting to read re-check
    /// (read readiness counts kept bytes).
    #[cfg_attr(
        not(ringtide_uring),
        allow(
            dead_code,
            reason = "only io_uring ops complete after their future is gone"
        )
    )]
    fn read_kept(&self);

    /// Hands a read op's late result over (`OpCode::complete_abandoned`): kept for the
    /// next read, and [`read_kept`](KeepsReads::read_kept) told when it was.
    #[cfg_attr(
        not(ringtide_uring),
        allow(
            dead_code,
            reason = "only io_uring ops complete after their future is gone"
        )
    )]
    fn keep_late_read(&self, ticket: &LeftoverTicket, received: Option<Received>) {
        if ticket.complete_abandoned(self.late_reads(), received) {
            self.read_kept();
        }
    }
}

/// Receives up to `bytes_total() - offset` bytes into `buf[offset..]`.
#[derive(Debug)]
pub(crate) struct Recv<B, S> {
    /// The socket; keeps its fd open until this op is freed.
    fd: FdRef<S>,
    /// The kernel writes the bytes behind the buffer's own heap pointer (the
    /// `IoBufMut` contract: they are never inline in `B`), so a shared reference to
    /// this op (`OpCode::abandoned_in_flight`) covers `B`'s handle, never those bytes.
    buf: B,
    offset: usize,
    /// Hands a late result to the socket's leftovers (io_uring only).
    #[cfg_attr(not(ringtide_uring), allow(dead_code))]
    ticket: LeftoverTicket,
}

impl<B: IoBufMut, S: KeepsReads> Recv<B, S> {
    pub(crate) fn new(fd: FdRef<S>, buf: B, offset: usize) -> Recv<B, S> {
        debug_assert!(offset <= buf.bytes_total());
        Recv {
            fd,
            buf,
            offset,
            ticket: LeftoverTicket::default(),
        }
    }

    fn spare(&mut self) -> (*mut u8, usize) {
        let total = self.buf.bytes_total();
        // SAFETY: `offset <= bytes_total()`, so the pointer stays inside the buffer.
        let start = unsafe { self.buf.stable_mut_ptr().add(self.offset) };
        (start, total - self.offset)
    }
}

impl<B: IoBufMut, S: KeepsReads> OpCode for Recv<B, S> {
    type Output = BufResult<usize, B>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Recv::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let fd = self.fd.raw();
        let (start, len) = self.spare();
        io_uring::opcode::Recv::new(io_uring::types::Fd(fd), start, crate::io::kernel_len(len))
            .build()
    }

    #[cfg(ringtide_uring)]
    fn abandoned_in_flight(&self) {
        self.ticket
            .abandoned_in_flight(self.fd.state().late_reads());
    }

    #[cfg(ringtide_uring)]
    fn complete_abandoned(&mut self, result: i32) {
        let received = (result > 0).then(|| {
            let (start, _) = self.spare();
            // SAFETY: the kernel wrote `result` bytes at `start` (the final CQE says so).
            let bytes = unsafe { std::slice::from_raw_parts(start, result as usize) };
            Received {
                data: bytes.to_vec(),
                from: None,
            }
        });
        self.fd.state().keep_late_read(&self.ticket, received);
    }

    // `MSG_DONTWAIT`: never blocks, whatever the fd's mode.
    #[cfg(ringtide_uring)]
    const ATTEMPT_NEVER_BLOCKS: bool = true;

    fn readiness(&self) -> Readiness {
        Readiness::Read(self.fd.raw())
    }

    fn stream_read_len(&self) -> Option<usize> {
        Some((self.buf.bytes_total() - self.offset).min(isize::MAX as usize))
    }

    fn attempt(&mut self) -> io::Result<usize> {
        let fd = self.fd.raw();
        let (start, len) = self.spare();
        // SAFETY: `start` has `len` writable bytes (see `spare`).
        unsafe { crate::sys::socket::recv(fd, start, len) }
    }

    fn complete(mut self, result: io::Result<usize>) -> BufResult<usize, B> {
        if let Ok(read) = result {
            // SAFETY: the kernel (or the syscall) initialised `read` bytes after
            // `offset`, and the caller's bytes before `offset` were initialised already.
            unsafe { self.buf.set_init(self.offset + read) };
        }
        (result, self.buf)
    }
}
