//! The op contract shared by both backends, and [`run`], which awaits an op on
//! whichever backend applies.
//!
//! An op type (one file per op under `src/op/`) owns everything the operation needs:
//! the fd, the buffers, any struct an SQE points into. Its two halves:
//!
//! * io_uring: [`OpCode::uring_entry`] builds the SQE (called each time the op is
//!   submitted, so a retired op can be resubmitted); the CQE result comes back to
//!   [`OpCode::complete`].
//! * readiness: [`OpCode::readiness`] says what to wait for, [`OpCode::attempt`] runs
//!   the syscall (non-blocking for `Read`/`Write`, on the blocking pool for
//!   `Blocking`), and its result goes to [`OpCode::complete`].

use std::future::poll_fn;
use std::io;
use std::os::fd::RawFd;

#[cfg(ringtide_uring)]
use crate::driver::uring;
use crate::driver::{Backend, Handle, mio};

/// What the readiness half of an op waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Nothing: `attempt` completes at once.
    Immediate,
    /// The fd is readable; `attempt` is a non-blocking syscall.
    Read(RawFd),
    /// The fd is writable; `attempt` is a non-blocking syscall.
    Write(RawFd),
    /// No readiness exists (regular files): `attempt` blocks, so it runs on the
    /// blocking pool.
    #[allow(
        dead_code,
        reason = "for file operations, which arrive with the fs module"
    )]
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

    /// io_uring half: the future was dropped while the kernel owns the op; its final
    /// CQE will reach [`complete_abandoned`](OpCode::complete_abandoned) later. Called
    /// (under the op cell's lock) before the cancellation is sent, so it always runs
    /// before that `complete_abandoned`; the default does nothing. Stream reads use it
    /// to make the next read wait for the late bytes.
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

    /// Readiness half: what to wait for before [`attempt`](OpCode::attempt).
    fn readiness(&self) -> Readiness;

    /// Readiness half: the syscall. `WouldBlock` means "wait for readiness again".
    fn attempt(&mut self) -> io::Result<usize>;

    /// Readiness half: [`attempt`](OpCode::attempt) never blocks, even on a blocking
    /// fd (it passes `MSG_DONTWAIT`). Sockets are blocking on io_uring, so where the
    /// kernel lacks an op's opcode, an op whose attempt could block runs it on the
    /// blocking pool instead of a worker (see `run_readiness_on_uring`).
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

/// Runs `op` to completion on the backend of `source` (an I/O object's registration),
/// or of the current runtime when `source` is `None`.
pub(crate) async fn run<T: OpCode>(source: Option<&IoSource>, op: T) -> T::Output {
    let backend = match source {
        Some(IoSource::Uring) => Some(Backend::IoUring),
        Some(IoSource::Mio(_)) => Some(Backend::Mio),
        None => Handle::with_current(|handle| handle.and_then(Handle::backend)),
    };
    match backend {
        Some(Backend::IoUring) => run_uring(op).await,
        Some(Backend::Mio) => {
            let registration = match source {
                Some(IoSource::Mio(registration)) => Some(registration),
                _ => None,
            };
            run_readiness(registration, op).await
        }
        _ => op.complete(Err(no_io_error())),
    }
}

fn no_io_error() -> io::Error {
    io::Error::other(
        "this I/O operation needs a ringtide runtime with I/O enabled: call it from inside \
         a runtime built with `enable_io()` or `enable_all()`",
    )
}

#[cfg(ringtide_uring)]
async fn run_uring<T: OpCode>(mut op: T) -> T::Output {
    if !uring::probe::supports(T::OPCODE) {
        return run_readiness_on_uring(op).await;
    }
    loop {
        let (returned, result) = uring::cell::UringOp::new(op).await;
        op = returned;
        match (&result, op.readiness()) {
            // A non-blocking fd: the kernel reports EAGAIN instead of waiting. Wait for
            // readiness, then let the ring try again.
            (Err(error), Readiness::Read(fd)) if error.kind() == io::ErrorKind::WouldBlock => {
                poll_add(fd, libc::POLLIN).await;
            }
            (Err(error), Readiness::Write(fd)) if error.kind() == io::ErrorKind::WouldBlock => {
                poll_add(fd, libc::POLLOUT).await;
            }
            _ => return op.complete(result),
        }
    }
}

#[cfg(not(ringtide_uring))]
async fn run_uring<T: OpCode>(op: T) -> T::Output {
    op.complete(Err(no_io_error()))
}

/// The readiness half on an io_uring runtime, for opcodes the kernel lacks.
#[cfg(ringtide_uring)]
async fn run_readiness_on_uring<T: OpCode>(mut op: T) -> T::Output {
    loop {
        match op.readiness() {
            Readiness::Immediate => {
                let result = op.attempt();
                return op.complete(result);
            }
            Readiness::Blocking => return run_blocking(op).await,
            readiness @ (Readiness::Read(fd) | Readiness::Write(fd)) => {
                let events = if matches!(readiness, Readiness::Read(_)) {
                    libc::POLLIN
                } else {
                    libc::POLLOUT
                };
                if !T::ATTEMPT_NEVER_BLOCKS {
                    // The fd may be blocking (sockets are, on io_uring): wait until it
                    // is ready, then run the syscall on the blocking pool, where it
                    // may block (another task may have taken the readiness) without
                    // stalling a worker.
                    poll_add(fd, events).await;
                    let (returned, result) = attempt_on_pool(op).await;
                    op = returned;
                    match result {
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                        result => return op.complete(result),
                    }
                }
                let result = op.attempt();
                match result {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        poll_add(fd, events).await;
                    }
                    result => return op.complete(result),
                }
            }
        }
    }
}

#[cfg(ringtide_uring)]
async fn poll_add(fd: RawFd, events: libc::c_short) {
    // Errors (e.g. a closed fd) surface from the syscall that follows.
    let _ = uring::cell::UringOp::new(crate::op::poll::PollAdd::new(fd, events)).await;
}

async fn run_readiness<T: OpCode>(
    registration: Option<&mio::Registration>,
    mut op: T,
) -> T::Output {
    match op.readiness() {
        Readiness::Immediate => {
            let result = op.attempt();
            op.complete(result)
        }
        Readiness::Blocking => run_blocking(op).await,
        readiness @ (Readiness::Read(_) | Readiness::Write(_)) => {
            let Some(registration) = registration else {
                // An fd op without a registration cannot wait: try once.
                let result = op.attempt();
                return op.complete(result);
            };
            let requested = op.stream_read_len();
            let direction = if matches!(readiness, Readiness::Read(_)) {
                mio::Direction::Read
            } else {
                mio::Direction::Write
            };
            // Writes (and zero-length reads, which must never wait) try first: a socket
            // is usually writable. Reads go by the readiness state, which a short read
            // cleared, so a read usually costs one syscall.
            if matches!(direction, mio::Direction::Write) || requested == Some(0) {
                match op.attempt() {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    result => return op.complete(result),
                }
            }
            // A listed waiter, not the registration's one `poll_*` slot: other tasks
            // may wait for the same direction (several `accept`s on one listener), and
            // every one is woken.
            let mut waiter = registration.waiter(direction);
            let result = poll_fn(|cx| {
                std::task::ready!(crate::task::coop::poll_proceed(cx));
                loop {
                    let event = std::task::ready!(waiter.poll_ready(cx))?;
                    match op.attempt() {
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            registration.clear_readiness(event);
                        }
                        Ok(read) if read > 0 && requested.is_some_and(|len| read < len) => {
                            registration.clear_readiness(event);
                            return std::task::Poll::Ready(Ok(read));
                        }
                        result => return std::task::Poll::Ready(result),
                    }
                }
            })
            .await;
            op.complete(result)
        }
    }
}

/// Runs `op`'s syscall on the blocking pool; gives the op back with the result.
#[cfg(ringtide_uring)]
async fn attempt_on_pool<T: OpCode>(op: T) -> (T, io::Result<usize>) {
    let joined = crate::task::spawn_blocking(move || {
        let mut op = op;
        let result = op.attempt();
        (op, result)
    })
    .await;
    match joined {
        Ok(done) => done,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

async fn run_blocking<T: OpCode>(op: T) -> T::Output {
    let spawned = Handle::with_current(|handle| handle.is_some());
    if !spawned {
        return op.complete(Err(no_io_error()));
    }
    // The op moves to the pool thread and back; if this future is dropped, the closure
    // still runs to completion and drops the op (and its buffers) there.
    let joined = crate::task::spawn_blocking(move || {
        let mut op = op;
        let result = op.attempt();
        (op, result)
    })
    .await;
    match joined {
        Ok((op, result)) => op.complete(result),
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

#[cfg(all(test, ringtide_uring, not(loom)))]
mod fallback_tests {
    use std::io::Write;
    use std::time::Duration;

    use super::*;
    use crate::runtime::Builder;

    /// The readiness half on io_uring (used where the kernel lacks an op's opcode) must
    /// never run a syscall that can block on a worker: on a current-thread runtime a
    /// read of a blocking pipe that ran inline would block the only thread, and the
    /// task that writes to the pipe would never run.
    #[test]
    fn the_readiness_fallback_on_io_uring_never_blocks_a_worker() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = Builder::new_current_thread()
                .backend(Backend::IoUring)
                .enable_all()
                .build()
                .unwrap();
            let read = runtime.block_on(async {
                let (reader, mut writer) = std::io::pipe().unwrap();
                let reader = crate::io::shared_fd::FdOwner::new(reader);
                let reading = crate::task::spawn(async move {
                    let read = crate::op::read::Read::new(reader.share(), vec![0u8; 5]);
                    let (result, buf) = run_readiness_on_uring(read).await;
                    drop(reader);
                    (result.unwrap(), buf)
                });
                crate::task::yield_now().await;
                writer.write_all(b"ready").unwrap();
                reading.await.unwrap()
            });
            let _ = done.send(read);
        });
        let (count, buf) = finished
            .recv_timeout(Duration::from_secs(20))
            .expect("the fallback read blocked the runtime's only thread");
        assert_eq!(count, 5);
        assert_eq!(buf, b"ready");
    }
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
