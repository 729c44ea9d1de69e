//! Operations: one file per op, each holding both backends' halves (see
//! `driver::op::OpCode`), and [`run`](run()) (in `run`), which awaits one on whichever backend
//! applies.
//!
//! An op holds its I/O object's fd through an `io::shared_fd::FdRef<S>`, generic over
//! the object's state `S`; ops whose late results must not be lost hand them to the
//! sink that state names ([`recv::KeepsReads`], [`accept::KeepsAccepts`], kept in
//! [`leftovers`]). So this layer knows no I/O object: it imports `io` and `driver`,
//! never `net` or `fs`.

pub(crate) mod accept;
#[cfg(ringtide_uring)]
pub(crate) mod accept_multi;
pub(crate) mod close;
pub(crate) mod connect;
pub(crate) mod leftovers;
pub(crate) mod nop;
#[cfg(ringtide_uring)]
pub(crate) mod poll;
#[cfg(ringtide_uring)]
pub(crate) mod poll_multi;
// Reads and writes of any fd (`io::AsyncFd`, process pipes: Unix only).
#[cfg(unix)]
pub(crate) mod read;
pub(crate) mod recv;
pub(crate) mod recv_msg;
#[cfg(ringtide_uring)]
pub(crate) mod recv_multi;
pub(crate) mod recv_pooled;
#[cfg(ringtide_uring)]
pub(crate) mod route;
pub(crate) mod run;
pub(crate) mod send;
pub(crate) mod send_msg;
pub(crate) mod send_msg_zc;
pub(crate) mod send_zc;
pub(crate) mod shutdown;
pub(crate) mod socket_address;
#[cfg(unix)]
pub(crate) mod write;
// File ops (fs::File, whole-file functions).
pub(crate) mod file_offset;
pub(crate) mod fsync;
pub(crate) mod ftruncate;
// Opens with `open(2)` flags; on Windows `fs::OpenOptions` opens through std on the
// blocking pool.
#[cfg(unix)]
pub(crate) mod open_at;
pub(crate) mod read_at;
pub(crate) mod readv_at;
pub(crate) mod write_at;
pub(crate) mod writev_at;

// Path and directory ops (`fs`'s free functions).
pub(crate) mod link_at;
pub(crate) mod mkdir_at;
pub(crate) mod rename_at;
// `fs::symlink` is Unix-only (Windows has file and directory symlinks, see `fs`).
#[cfg(unix)]
pub(crate) mod symlink_at;
pub(crate) mod unlink_at;

pub(crate) use run::run;
