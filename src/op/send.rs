//! SEND: writes an owned buffer's initialised bytes, from a given offset, to a socket,
//! with `MSG_NOSIGNAL` (a closed peer is an `EPIPE` error, never a `SIGPIPE`; Windows
//! has no `SIGPIPE`).

use std::io;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FdRef;
use crate::io::{BufResult, IoBuf};

/// Sends `buf[offset..bytes_init()]`.
#[derive(Debug)]
pub(crate) struct Send<B, S> {
    /// The socket; keeps its fd open until this op is freed.
    fd: FdRef<S>,
    buf: B,
    offset: usize,
}

impl<B: IoBuf, S: std::marker::Send + Sync + 'static> Send<B, S> {
    pub(crate) fn new(fd: FdRef<S>, buf: B, offset: usize) -> Send<B, S> {
        debug_assert!(offset <= buf.bytes_init());
        Send { fd, buf, offset }
    }

    fn pending(&self) -> (*const u8, usize) {
        // SAFETY: `offset <= bytes_init()`, so the pointer stays inside the buffer.
        let start = unsafe { self.buf.stable_ptr().add(self.offset) };
        (start, self.buf.bytes_init() - self.offset)
    }
}

impl<B: IoBuf, S: std::marker::Send + Sync + 'static> OpCode for Send<B, S> {
    type Output = BufResult<usize, B>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Send::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let (start, len) = self.pending();
        io_uring::opcode::Send::new(
            io_uring::types::Fd(self.fd.raw()),
            start,
            crate::io::kernel_len(len),
        )
        .flags(libc::MSG_NOSIGNAL)
        .build()
    }

    // `MSG_DONTWAIT`: never blocks, whatever the fd's mode.
    #[cfg(ringtide_uring)]
    const ATTEMPT_NEVER_BLOCKS: bool = true;

    fn readiness(&self) -> Readiness {
        Readiness::Write(self.fd.raw())
    }

    fn attempt(&mut self) -> io::Result<usize> {
        let (start, len) = self.pending();
        // SAFETY: `start` has `len` initialised bytes (see `pending`).
        unsafe { crate::sys::socket::send(self.fd.raw(), start, len) }
    }

    fn complete(self, result: io::Result<usize>) -> BufResult<usize, B> {
        (result, self.buf)
    }
}
