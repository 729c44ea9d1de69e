//! How an op is awaited on whichever backend applies: [`run`].
//!
//! An operation (one file per op in `src/op/`) is one type implementing
//! `driver::op::OpCode`: the io_uring half builds an SQE and the readiness half names an
//! interest (read/write), runs the non-blocking syscall, or runs on the blocking pool.
//! [`run`] picks the half from the backend of the I/O object (its `IoSource`) or, for
//! ops without one, of the runtime this thread is in, and awaits it:
//!
//! * io_uring: the op goes to this thread's ring (or, from a thread without one, to a
//!   core's, see `driver::uring::remote`) in a `driver::uring::cell::UringOp`. An op
//!   whose opcode the kernel lacks, or that reports `EAGAIN` (a non-blocking fd), waits
//!   for readiness with `POLL_ADD` and runs the syscall directly, so callers never
//!   notice; where that syscall could block, it runs on the blocking pool.
//! * mio: the syscall runs once the registration reports readiness (writes try it
//!   first); `WouldBlock` clears the readiness and waits again. Every syscall goes
//!   through the registration's `try_io` (on Windows mio's readiness is emulated, and
//!   only a `WouldBlock` that mio sees asks the kernel for the next event).
//! * Ops that have no readiness (`Readiness::Blocking`: regular files, path
//!   operations) run on the blocking pool: always on mio, and on io_uring where the
//!   kernel lacks the opcode. Before that they try their non-blocking form inline, if
//!   they have one (see below).
//! * Outside a runtime with I/O, the op completes with an error that says so.
//!
//! # The non-blocking form of blocking ops (`RWF_NOWAIT`)
//!
//! A blocking-pool round trip costs about 25 µs here; a file read that the page cache
//! can serve costs about 1 µs as a syscall. So a `Readiness::Blocking` op first runs
//! `OpCode::attempt_nowait` on the polling thread: file reads call
//! `preadv2(..., RWF_NOWAIT)`, which copies from the page cache or fails with `EAGAIN`
//! without waiting for the disk; opens without `O_CREAT`/`O_TRUNC` call
//! `openat2(..., RESOLVE_CACHED)`, which fails with `EAGAIN` instead of looking a path
//! component up on disk. Only when that form says it would block (or this kernel or
//! file system lacks it: `EOPNOTSUPP`, `EINVAL`, `ENOSYS`) does `attempt` go to the
//! pool. A read the page cache serves only in part comes back short (what it had); the
//! caller's next read goes to the pool for the rest. Each inline attempt spends one
//! unit of the task's coop budget, so a task whose reads always hit the cache still
//! yields to the scheduler.
//!
//! io_uring does the same for the ops that mark it (`OpCode::NOWAIT_BEFORE_RING`: file
//! reads and opens): the inline form first, the SQE only when it says it would block.
//! A cached 4 KiB read then costs one syscall on the worker instead of an SQE, a
//! completion and an op cell; measured with `benches/fs.rs` (page cache hot), random
//! 4 KiB reads went from 0.66× to 1.20× a raw io_uring loop's rate at queue depth 1 and
//! from 0.66× to 0.87× at depth 32. An uncached read pays one failed `preadv2` (about a
//! microsecond) before its SQE, small next to the device. The hidden builder knob
//! `uring_inline_file_io(false)` turns it off (tests use it to keep ops in the ring).

use std::future::poll_fn;
use std::io;
#[cfg(ringtide_uring)]
use std::os::fd::RawFd;

use crate::driver::op::{IoSource, OpCode, Readiness};
#[cfg(ringtide_uring)]
use crate::driver::uring;
use crate::driver::{self, Backend, mio};
#[cfg(ringtide_uring)]
use crate::op::poll::PollAdd;
#[cfg(ringtide_uring)]
use crate::op::route::current_runtime_ring;
use crate::runtime::context;
use crate::task::blocking::spawn_blocking;
use crate::task::coop;

/// Runs `op` to completion on the backend of `source` (an I/O object's registration),
/// or of the current runtime when `source` is `None`.
pub(crate) async fn run<T: OpCode>(source: Option<&IoSource>, op: T) -> T::Output {
    let backend = match source {
        Some(IoSource::Uring) => Some(Backend::IoUring),
        Some(IoSource::Mio(_)) => Some(Backend::Mio),
        None => context::with_io(|io| io.and_then(driver::Handle::backend)),
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

pub(crate) fn no_io_error() -> io::Error {
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
    if T::NOWAIT_BEFORE_RING
        && context::with_io(|io| io.is_none_or(crate::driver::Handle::inline_file_io))
    {
        // The inline form first, as on mio (see "The non-blocking form" above); it may
        // complete every time, so it spends budget like any other ready I/O.
        poll_fn(coop::poll_proceed).await;
        if let Some(result) = op.attempt_nowait() {
            return op.complete(result);
        }
    }
    loop {
        let (returned, result) = uring::cell::UringOp::new(op, current_runtime_ring).await;
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
    let _ = uring::cell::UringOp::new(PollAdd::new(fd, events), current_runtime_ring).await;
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
                // An fd op without a registration cannot wait: try once (nothing is
                // registered, so there is no readiness to keep).
                let result = op.attempt();
                return op.complete(result);
            };
            let direction = if matches!(readiness, Readiness::Read(_)) {
                mio::Direction::Read
            } else {
                mio::Direction::Write
            };
            run_ready(registration, op, direction).await
        }
    }
}

/// The readiness half's wait-and-retry loop for an fd op in `direction` on
/// `registration` (ops that keep their futures small call it directly:
/// `op::recv_pooled`).
pub(crate) async fn run_ready<T: OpCode>(
    registration: &mio::Registration,
    mut op: T,
    direction: mio::Direction,
) -> T::Output {
    let requested = op.stream_read_len();
    // Writes (and zero-length reads, which must never wait) try first: a socket
    // is usually writable. Reads go by the readiness state, which a short read
    // cleared, so a read usually costs one syscall.
    if matches!(direction, mio::Direction::Write) || requested == Some(0) {
        match registration.try_io(|| op.attempt()) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            result => return op.complete(result),
        }
    }
    // A listed waiter, not the registration's one `poll_*` slot: other tasks
    // may wait for the same direction (several `accept`s on one listener), and
    // every one is woken.
    // A short read shows the source drained only where readiness comes from real
    // edges (epoll, kqueue); on Windows the readiness stays until a
    // `WouldBlock` (see `driver::mio`'s `Registration::short_read_drains`).
    let short_read_drains = registration.short_read_drains();
    let mut waiter = registration.waiter(direction);
    let result = poll_fn(|cx| {
        std::task::ready!(coop::poll_proceed(cx));
        loop {
            let event = std::task::ready!(waiter.poll_ready(cx))?;
            match registration.try_io(|| op.attempt()) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    registration.clear_readiness(event);
                }
                Ok(read)
                    if short_read_drains && read > 0 && requested.is_some_and(|len| read < len) =>
                {
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

/// Runs `op`'s syscall on the blocking pool; gives the op back with the result.
#[cfg(ringtide_uring)]
async fn attempt_on_pool<T: OpCode>(op: T) -> (T, io::Result<usize>) {
    let joined = spawn_blocking(move || {
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

async fn run_blocking<T: OpCode>(mut op: T) -> T::Output {
    let spawned = context::with_io(|io| io.is_some());
    if !spawned {
        return op.complete(Err(no_io_error()));
    }
    // The inline form first (see "The non-blocking form" in the module docs); it may
    // complete every time, so it spends budget like any other ready I/O.
    poll_fn(coop::poll_proceed).await;
    if let Some(result) = op.attempt_nowait() {
        return op.complete(result);
    }
    // The op moves to the pool thread and back; if this future is dropped, the closure
    // still runs to completion and drops the op (and its buffers) there.
    let joined = spawn_blocking(move || {
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

    /// A file op whose opcode the kernel lacks (FTRUNCATE before 6.9) takes the
    /// readiness half on io_uring: the inline form where it has one, else the pool.
    #[test]
    fn file_ops_the_kernel_lacks_run_on_the_pool_with_the_same_results() {
        use crate::op::file_offset::FileOffset;
        use crate::op::ftruncate::Ftruncate;
        use crate::op::read_at::ReadAt;

        let runtime = Builder::new_current_thread()
            .backend(Backend::IoUring)
            .enable_all()
            .build()
            .unwrap();
        let path =
            std::env::temp_dir().join(format!("ringtide-run-fallback-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let owner = crate::io::shared_fd::FdOwner::new(file);
        runtime.block_on(async {
            let read = ReadAt::new(owner.share(), Vec::with_capacity(4), 0, FileOffset::At(3));
            let (result, buf) = run_readiness_on_uring(read).await;
            assert_eq!(result.unwrap(), 4);
            assert_eq!(buf, b"3456");
            run_readiness_on_uring(Ftruncate::new(owner.share(), 2))
                .await
                .unwrap();
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"01");
        std::fs::remove_file(&path).unwrap();
    }
}
