//! SEND_ZC: a zero-copy send of an owned buffer's initialised bytes (from an offset),
//! with `MSG_NOSIGNAL`; and [`ZeroCopyResult`], the two-CQE protocol it shares with
//! `SENDMSG_ZC` (`op::send_msg_zc`).
//!
//! # Protocol (io_uring)
//!
//! A zero-copy send pins the buffer's pages instead of copying them into the socket,
//! so the kernel reads the buffer after the send "completed". It posts two CQEs:
//!
//! 1. the result (bytes sent, or `-errno`), flagged `IORING_CQE_F_MORE` when a
//!    notification follows (almost always: even a failed send has one);
//! 2. the notification (`IORING_CQE_F_NOTIF`, no `F_MORE`: the final CQE), posted once
//!    the kernel no longer references the pages.
//!
//! A first CQE without `F_MORE` is final: no notification comes. The op cell
//! (`driver::uring::cell`) keeps a single-shot op in flight until the final CQE and
//! hands each `F_MORE` CQE to [`OpCode::uring_more_completion`], where this op records
//! the result ([`ZeroCopyResult`]); [`OpCode::complete`] then returns that result with
//! the buffer. So the caller gets its buffer back only when it is free, and a future
//! dropped between the two CQEs leaves the buffer to the cell, which frees it after the
//! notification ([`OpCode::complete_abandoned`] counts those, for tests).
//!
//! # Readiness half and fallbacks
//!
//! The readiness half is a plain non-blocking `send(2)` (as `op::send`): on mio, and on
//! io_uring kernels without `IORING_OP_SEND_ZC` (5.19+), where `op::run` runs it after
//! a `POLL_ADD`. A socket that refuses zero copy (`EOPNOTSUPP`: anything but TCP/UDP
//! over IP) is the caller's to retry with a plain send (see `net::owned_io`).
//!
//! On loopback the kernel copies anyway (a looped `MSG_ZEROCOPY` skb is copied before
//! it reaches the receiving socket, so the notification is not held up by a slow
//! reader): zero copy only pays where a NIC sends from the pages.

use std::io;
#[cfg(ringtide_uring)]
use std::sync::atomic::{AtomicBool, AtomicI32};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FdRef;
use crate::io::{BufResult, IoBuf};

/// Zero-copy first CQEs (`F_MORE`) this process has seen: sends the kernel really ran
/// as SEND_ZC/SENDMSG_ZC (whether or not it then copied). For tests.
static ZERO_COPY_RESULTS: AtomicU64 = AtomicU64::new(0);
/// Notifications that arrived after the op's future was dropped: the buffer was kept
/// alive by the op cell until then. For tests.
static NOTIFICATIONS_AFTER_DROP: AtomicU64 = AtomicU64::new(0);
/// Zero-copy sends that a socket refused (`EOPNOTSUPP`) and that were resent plain.
static PLAIN_FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// The process-wide counts behind `ringtide::__private::zero_copy_counts`: zero-copy
/// results seen, notifications after a dropped future, plain fallbacks.
pub(crate) fn counts() -> (u64, u64, u64) {
    (
        ZERO_COPY_RESULTS.load(Relaxed),
        NOTIFICATIONS_AFTER_DROP.load(Relaxed),
        PLAIN_FALLBACKS.load(Relaxed),
    )
}

/// Counts one zero-copy send resent as a plain send (see `net::owned_io`).
#[cfg(ringtide_uring)]
pub(crate) fn count_plain_fallback() {
    PLAIN_FALLBACKS.fetch_add(1, Relaxed);
}

/// The result of a zero-copy send's first CQE, kept until its notification (the final
/// CQE, whose own `res` is not the send's result).
///
/// Atomics, because the op cell hands the `F_MORE` CQE (and the future's drop) to the
/// op through a shared reference while the kernel owns the op; the final CQE's state
/// change (a read-modify-write of the cell's state word, `AcqRel`) orders these stores
/// before the value is used again.
#[cfg(ringtide_uring)]
#[derive(Debug)]
pub(crate) struct ZeroCopyResult {
    first: AtomicI32,
    /// The future was dropped while the kernel owned the op (for the count of
    /// notifications after a drop).
    dropped: AtomicBool,
}

#[cfg(ringtide_uring)]
impl ZeroCopyResult {
    /// No first CQE yet.
    const NONE: i32 = i32::MIN;

    pub(crate) fn new() -> ZeroCopyResult {
        ZeroCopyResult {
            first: AtomicI32::new(Self::NONE),
            dropped: AtomicBool::new(false),
        }
    }

    /// Forgets a previous submission's result (the op is about to be submitted again).
    pub(crate) fn reset(&mut self) {
        *self.first.get_mut() = Self::NONE;
    }

    /// A CQE flagged `F_MORE`: the send's result (a notification never has `F_MORE`).
    pub(crate) fn record(&self, result: i32, flags: u32) {
        if io_uring::cqueue::notif(flags) {
            return;
        }
        ZERO_COPY_RESULTS.fetch_add(1, Relaxed);
        self.first.store(result, Relaxed);
    }

    /// The future was dropped while the op was in flight: the op cell keeps the value
    /// (and the buffer) until the final CQE.
    pub(crate) fn dropped_in_flight(&self) {
        self.dropped.store(true, Relaxed);
    }

    /// The op's final result reached nobody: the buffer is free now. Counted when it
    /// was a zero-copy notification (a first CQE came) that arrived after the future
    /// was dropped in flight, i.e. the cell kept the buffer alive for it.
    pub(crate) fn abandoned(&self) {
        if self.dropped.load(Relaxed) && self.first.load(Relaxed) != Self::NONE {
            NOTIFICATIONS_AFTER_DROP.fetch_add(1, Relaxed);
        }
    }

    /// The send's result: the first CQE's, or, when there was none (a single CQE
    /// without `F_MORE`, or the readiness half), `final_result`.
    pub(crate) fn take(&mut self, final_result: io::Result<usize>) -> io::Result<usize> {
        match std::mem::replace(self.first.get_mut(), Self::NONE) {
            Self::NONE => final_result,
            errno if errno < 0 => Err(io::Error::from_raw_os_error(-errno)),
            count => Ok(count as usize),
        }
    }
}

/// Sends `buf[offset..bytes_init()]` with zero copy where the kernel can.
#[derive(Debug)]
pub(crate) struct SendZc<B, S> {
    /// The socket; keeps its fd open until this op is freed.
    fd: FdRef<S>,
    buf: B,
    offset: usize,
    #[cfg(ringtide_uring)]
    first: ZeroCopyResult,
}

impl<B: IoBuf, S: std::marker::Send + Sync + 'static> SendZc<B, S> {
    pub(crate) fn new(fd: FdRef<S>, buf: B, offset: usize) -> SendZc<B, S> {
        debug_assert!(offset <= buf.bytes_init());
        SendZc {
            fd,
            buf,
            offset,
            #[cfg(ringtide_uring)]
            first: ZeroCopyResult::new(),
        }
    }

    fn pending(&self) -> (*const u8, usize) {
        // SAFETY: `offset <= bytes_init()`, so the pointer stays inside the buffer.
        let start = unsafe { self.buf.stable_ptr().add(self.offset) };
        (start, self.buf.bytes_init() - self.offset)
    }
}

impl<B: IoBuf, S: std::marker::Send + Sync + 'static> OpCode for SendZc<B, S> {
    type Output = BufResult<usize, B>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::SendZc::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        self.first.reset();
        let (start, len) = self.pending();
        io_uring::opcode::SendZc::new(
            io_uring::types::Fd(self.fd.raw()),
            start,
            crate::io::kernel_len(len),
        )
        .flags(libc::MSG_NOSIGNAL)
        .build()
    }

    #[cfg(ringtide_uring)]
    fn uring_more_completion(&self, result: i32, flags: u32) {
        self.first.record(result, flags);
    }

    #[cfg(ringtide_uring)]
    fn abandoned_in_flight(&self) {
        self.first.dropped_in_flight();
    }

    #[cfg(ringtide_uring)]
    fn complete_abandoned(&mut self, _notification: i32) {
        self.first.abandoned();
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

    #[cfg_attr(not(ringtide_uring), allow(unused_mut))]
    fn complete(mut self, result: io::Result<usize>) -> BufResult<usize, B> {
        #[cfg(ringtide_uring)]
        let result = self.first.take(result);
        (result, self.buf)
    }
}

#[cfg(all(test, ringtide_uring, not(loom)))]
mod tests {
    use std::io;

    use super::*;
    use crate::io::shared_fd::FdOwner;

    /// `IORING_CQE_F_MORE` and `IORING_CQE_F_NOTIF`.
    const F_MORE: u32 = 1 << 1;
    const F_NOTIF: u32 = 1 << 3;

    fn op() -> (FdOwner<std::os::unix::net::UnixStream>, SendZc<Vec<u8>, ()>) {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let owner = FdOwner::new(a);
        let op = SendZc::new(owner.share(), vec![1, 2, 3], 0);
        (owner, op)
    }

    #[test]
    fn the_first_cqe_is_the_result_not_the_notification() {
        let (_owner, op) = op();
        op.uring_more_completion(3, F_MORE);
        op.uring_more_completion(0, F_NOTIF);
        let (result, buf) = op.complete(Ok(0));
        assert_eq!(result.unwrap(), 3);
        assert_eq!(buf, [1, 2, 3]);
    }

    #[test]
    fn a_failed_first_cqe_is_the_error() {
        let (_owner, op) = op();
        op.uring_more_completion(-libc::EPIPE, F_MORE);
        let (result, _) = op.complete(Ok(0));
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EPIPE));
    }

    #[test]
    fn a_single_cqe_without_more_is_the_result() {
        let (_owner, op) = op();
        let (result, _) = op.complete(Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP)));
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EOPNOTSUPP));
    }

    #[test]
    fn a_resubmission_forgets_the_previous_result() {
        let (_owner, mut op) = op();
        op.uring_more_completion(-libc::EAGAIN, F_MORE);
        let _ = op.uring_entry();
        let (result, _) = op.complete(Ok(2));
        assert_eq!(result.unwrap(), 2);
    }

    #[test]
    fn an_abandoned_notification_is_counted_only_after_a_result() {
        let (_owner, mut op) = op();
        let before = counts().1;
        op.complete_abandoned(0);
        assert_eq!(
            counts().1,
            before,
            "no first CQE: not a zero-copy notification"
        );
        op.uring_more_completion(3, F_MORE);
        op.complete_abandoned(0);
        assert_eq!(counts().1, before, "not dropped in flight: collected late");
        op.abandoned_in_flight();
        op.complete_abandoned(0);
        assert_eq!(counts().1, before + 1);
    }
}
