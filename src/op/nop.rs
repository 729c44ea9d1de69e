//! NOP: a round trip through the driver that does nothing (overhead measurements).

use std::io;

use crate::driver::op::{OpCode, Readiness};

/// A no-op.
#[derive(Debug)]
pub(crate) struct Nop;

impl OpCode for Nop {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Nop::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Nop::new().build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Immediate
    }

    fn attempt(&mut self) -> io::Result<usize> {
        Ok(0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
