//! The op contract shared by both backends and the driver: [`OpCode`] (an op's two
//! halves), [`Readiness`], [`KernelWritten`] (memory the kernel writes while an op is in
//! flight) and [`IoSource`] (where an I/O object's fd is registered). Awaiting an op on
//! whichever backend applies is `crate::op::run`'s.
//!
//! An op type (one file per op under `src/op/`) owns everything the operation needs:
//! the fd, the buffers, any struct an SQE points into. Its two halves:
//!
//! * io_uring: [`OpCode::uring_entry`] builds the SQE (called each time the op is
//!   submitted, so a retired op can be resubmitted); the CQE result comes back to
//!   [`OpCode::complete`].
//! * readiness: [`OpCode::readiness`] says what to wait for, [`OpCode::attempt`] runs
//!   the syscall (non-blocking for `Read`/`Write`, on the blocking pool for
//!   `Blocking`), and its result goes to [`OpCode::complete`]. A `Blocking` op may
//!   also have a form of its syscall that never blocks ([`OpCode::attempt_nowait`]:
//!   a file read with `RWF_NOWAIT`), tried inline before the pool.

use std::io;

use crate::driver::mio;
use crate::sys::RawSocket;

/// What the readiness half of an op waits for. `Read` and `Write` name the fd (any
/// pollable fd on Unix; a socket on Windows, where mio polls only sockets), which
/// io_uring's `POLL_ADD` fallback waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Nothing: `attempt` completes at once.
    Immediate,
    /// The fd is readable; `attempt` is a non-blocking syscall.
    Read(RawSocket),
    /// The fd is writable; `attempt` is a non-blocking syscall.
    Write(RawSocket),
    /// No readiness exists (regular files, path operations): `attempt` blocks, so it
    /// runs on the blocking pool, unless `attempt_nowait` did the work inline first.
    Blocking,
}

/// One operation with both backends' halves.
pub(crate) trait OpCode: Send + 'static {
    /// What the awaiting caller gets (typically a `BufResult`).
    type Output;

    /// The io_uring opcode, to check the kernel supports it.
    #[cfg(ringtide_uring)]
    const OPCODE: u8;

    /// io_uring half: whether [`uring_entry`](OpCode::uring_entry) builds a multishot
    /// SQE (one submission, several CQEs flagged `IORING_CQE_F_MORE`). Such ops run in
    /// `driver::uring::multishot::MultishotOp` and implement `MultishotOpCode`;
    /// `UringOp::new` (a single-shot cell) refuses them at compile time. A single-shot
    /// cell that gets an `F_MORE` CQE anyway keeps the op in flight until the final
    /// CQE (see `driver::uring::cell`).
    #[cfg(ringtide_uring)]
    const MULTISHOT: bool = false;

    /// io_uring half: the SQE. `self` stays at this address until the final CQE.
    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry;

    /// io_uring half: a result nobody will take: the op completed after its future was
    /// dropped (the cancel came too late), or the future was dropped holding a
    /// completion it had not yet collected. Ops whose result is a resource (an accepted
    /// fd, bytes read from a stream) hand it back to their I/O object here, or release
    /// it, so nothing leaks or goes missing; the default does nothing.
    #[cfg(ringtide_uring)]
    fn complete_abandoned(&mut self, result: i32) {
        let _ = result;
    }

    /// io_uring half: the final CQE's flags, handed to the op before its result goes
    /// to [`complete`](OpCode::complete) or
    /// [`complete_abandoned`](OpCode::complete_abandoned). A read from a provided-buffer
    /// ring learns here which buffer the kernel picked (`IORING_CQE_F_BUFFER`, the id in
    /// `flags >> 16`); the default ignores them.
    #[cfg(ringtide_uring)]
    fn final_cqe_flags(&mut self, flags: u32) {
        let _ = flags;
    }

    /// io_uring half: the future was dropped while the kernel owns the op; its final
    /// CQE will reach [`complete_abandoned`](OpCode::complete_abandoned) later. Called
    /// before the future publishes its drop to the op cell (and before the cancellation
    /// is sent), so it always runs before that `complete_abandoned`, and never at the
    /// same time as [`uring_more_completion`](OpCode::uring_more_completion) (the cell
    /// serialises the two); the default does nothing. Stream reads use it to make the
    /// next read wait for the late bytes.
    ///
    /// `self` is shared while the kernel may be writing into the op's memory. That is
    /// sound because no op keeps kernel-written memory where this reference reaches:
    /// fields the kernel writes (an address buffer, a `msghdr`) live in
    /// [`KernelWritten`], which a `&self` cannot read and whose `UnsafeCell` tells the
    /// compiler the contents may change under a shared reference; buffers live behind
    /// their [`IoBufMut`](crate::io::IoBufMut)'s own heap pointer, outside the value
    /// (a shared reference to a `Vec` covers its pointer, length and capacity, never
    /// its bytes). Implementations read only fields the kernel never touches (the
    /// socket, a leftover ticket).
    #[cfg(ringtide_uring)]
    fn abandoned_in_flight(&self) {}

    /// io_uring half of a single-shot op whose SQE may produce a CQE flagged
    /// `IORING_CQE_F_MORE` before its final one: a zero-copy send's first CQE carries
    /// the result (bytes sent or `-errno`) and its final one, the notification
    /// (`IORING_CQE_F_NOTIF`), says the kernel is done with the buffer. The op cell
    /// calls this for each `F_MORE` CQE and keeps the op in flight until the final
    /// CQE; `self` is shared as in [`abandoned_in_flight`](OpCode::abandoned_in_flight)
    /// (so an op records the result in an atomic). The default logs an error: an op
    /// that does not expect such a CQE has none to record.
    #[cfg(ringtide_uring)]
    fn uring_more_completion(&self, result: i32, flags: u32) {
        crate::trace::event!(
            error,
            "ringtide: a single-shot io_uring op (opcode {}) got a CQE with \
             IORING_CQE_F_MORE (res {result}, flags {flags:#x}); waiting for its final \
             CQE",
            Self::OPCODE
        );
    }

    /// Readiness half: what to wait for before [`attempt`](OpCode::attempt).
    fn readiness(&self) -> Readiness;

    /// Readiness half: the syscall. `WouldBlock` means "wait for readiness again".
    fn attempt(&mut self) -> io::Result<usize>;

    /// Readiness half of a [`Readiness::Blocking`] op: the syscall in a form that
    /// never blocks, tried inline (on the worker) before [`attempt`](OpCode::attempt)
    /// goes to the blocking pool. `Some(result)`: done, `result` goes to
    /// [`complete`](OpCode::complete) (errors included: they are the syscall's real
    /// answer). `None`: it could not be done without blocking (`EAGAIN`: the data is
    /// not in the page cache, a path component is not in the dentry cache), or this
    /// kernel or file system lacks the non-blocking form; nothing happened, and
    /// `attempt` runs on the pool. The default: `None` (no such form).
    ///
    /// The rule for implementations: it must never block and never have an effect
    /// when it returns `None` (a read that returned `EAGAIN` read nothing; an open
    /// that failed with `EAGAIN` created nothing).
    fn attempt_nowait(&mut self) -> Option<io::Result<usize>> {
        None
    }

    /// io_uring half: try [`attempt_nowait`](OpCode::attempt_nowait) inline before
    /// building an SQE (page-cache hits of file reads and opens: one syscall on the
    /// worker costs less than an SQE, its completion and the op cell; see
    /// `crate::op::run`). Only for ops that have a non-blocking form.
    #[cfg(ringtide_uring)]
    const NOWAIT_BEFORE_RING: bool = false;

    /// Readiness half: [`attempt`](OpCode::attempt) never blocks, even on a blocking
    /// fd (it passes `MSG_DONTWAIT`). Sockets are blocking on io_uring, so where the
    /// kernel lacks an op's opcode, an op whose attempt could block runs it on the
    /// blocking pool instead of a worker (see `crate::op::run`).
    #[cfg(ringtide_uring)]
    const ATTEMPT_NEVER_BLOCKS: bool = false;

    /// Readiness half: for reads from a byte stream (socket, pipe), how many bytes
    /// `attempt` asks for. A read that returns fewer drained the source, so the
    /// readiness is cleared and the next read waits for an event instead of making a
    /// syscall that would only say `WouldBlock` (tokio does the same). `None` (the
    /// default): no such inference (datagrams, accepts, writes).
    fn stream_read_len(&self) -> Option<usize> {
        None
    }

    /// Both halves: turns the result (a CQE's `res` or the syscall's return) into the
    /// output, giving back the owned buffers.
    fn complete(self, result: io::Result<usize>) -> Self::Output;
}

/// Memory inside an op value that the kernel writes while the op is in flight (the
/// peer address of an accept, the `msghdr` and sender address of a `recvmsg`).
///
/// The io_uring op cell may hold a shared `&T` to the op value while the kernel owns it
/// ([`OpCode::abandoned_in_flight`]). Such a reference must never cover memory the
/// kernel writes, so these fields sit in an `UnsafeCell` (a shared reference makes no
/// claim about its contents) and are reachable only through `&mut self`: when building
/// the SQE or running the syscall (before the kernel has the memory) and after the
/// final completion (when it has given it back). There is no `&self` accessor.
pub(crate) struct KernelWritten<T>(std::cell::UnsafeCell<T>);

impl<T> KernelWritten<T> {
    pub(crate) fn new(value: T) -> KernelWritten<T> {
        KernelWritten(std::cell::UnsafeCell::new(value))
    }

    /// The contents, for code that holds the op exclusively (see the type's docs).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

/// Where an op's fd is registered, for I/O objects (see `io::AsyncFd`).
#[derive(Debug)]
pub(crate) enum IoSource {
    /// io_uring needs no registration.
    Uring,
    /// A mio registration, on one core's poll.
    Mio(mio::Registration),
}

#[cfg(test)]
mod tests {
    use super::KernelWritten;

    /// The io_uring cell reads `Option<T>`'s discriminant through a shared reference
    /// while the kernel may write the op's `KernelWritten` fields: the discriminant
    /// must never live in them. `UnsafeCell` hides its contents' niches, so `Option`
    /// needs a tag of its own instead of reusing, say, a non-zero field's zero.
    #[test]
    fn kernel_written_memory_never_holds_an_option_niche() {
        use std::num::NonZeroU32;
        assert_eq!(size_of::<Option<NonZeroU32>>(), size_of::<NonZeroU32>());
        assert!(
            size_of::<Option<KernelWritten<NonZeroU32>>>() > size_of::<KernelWritten<NonZeroU32>>()
        );
        let mut slot = KernelWritten::new(NonZeroU32::MIN);
        *slot.get_mut() = NonZeroU32::MAX;
        assert_eq!(*slot.get_mut(), NonZeroU32::MAX);
    }
}
