//! Operations: one file per op, each holding both backends' halves (see
//! `driver::op::OpCode`).

pub(crate) mod nop;
#[cfg(ringtide_uring)]
pub(crate) mod poll;
pub(crate) mod read;
pub(crate) mod write;
