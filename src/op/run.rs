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
//!
//! # A small future
//!
//! A task stores the largest of its await points' futures for its whole life, and a
//! server holds thousands of tasks waiting in a read. So [`run`] returns a hand-written
//! future, [`Run`], one state per path (an `async fn` would add a layer holding its
//! arguments a second time, and keep each path's room side by side): the op's
//! `UringOp` on io_uring, the readiness loop ([`ReadyLoop`]) on mio. The rare paths
//! are boxed and pay one allocation each when they run: an opcode the kernel lacks,
//! an `EAGAIN` from a non-blocking fd on io_uring (the `POLL_ADD` and the retry), and
//! the blocking pool's round trip (about 25 µs, next to which the box is noise; the
//! inline `RWF_NOWAIT` form still runs unboxed). Callers that box a path of their own
//! build the box in its own statement: a temporary built in the statement that awaits
//! keeps its room in the caller's future, moved out or not. The stream futures built
//! on it (`read_pooled`, `read_owned`, `write_all_owned`) are written out by hand too,
//! for the same reason. Measured (debug and release alike, `--all-features`;
//! `tests/future_sizes.rs` pins the public ones):
//!
//! | future | before | after |
//! |---|---:|---:|
//! | `op::run` of a TCP `Send` | 448 B | 120 B |
//! | `op::run` of a TCP `Recv` | 504 B | 128 B |
//! | `op::run` of a `RecvPooled` | 424 B (its own cut-down `run`) | 168 B |
//! | `TcpStream::read_pooled` | 520 B | 184 B |
//! | `read_owned` on a `TcpStream` | 2000 B | 144 B |
//! | `write_owned` on a `TcpStream` | 704 B | 120 B |
//! | `write_all_owned` on a `TcpStream` | 928 B | 136 B |

use std::io;
#[cfg(ringtide_uring)]
use std::os::fd::RawFd;
use std::task::{Context, Poll};

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
/// or of the current runtime when `source` is `None` (the runtime of the thread that
/// first polls the future). Nothing runs before the first poll.
pub(crate) fn run<T: OpCode>(source: Option<&IoSource>, op: T) -> Run<'_, T> {
    Run {
        state: State::Start { source, op },
    }
}

/// The future of [`run`]: one state per path, the rare ones boxed (see "A small
/// future" in the module docs).
pub(crate) struct Run<'a, T: OpCode> {
    state: State<'a, T>,
}

enum State<'a, T: OpCode> {
    /// Not polled yet: the backend is picked at the first poll.
    Start { source: Option<&'a IoSource>, op: T },
    /// io_uring, an op marked `NOWAIT_BEFORE_RING`: its inline form first (after the
    /// coop budget allows it), then the ring.
    #[cfg(ringtide_uring)]
    Inline(T),
    /// io_uring: the op in the ring.
    #[cfg(ringtide_uring)]
    Ring(uring::cell::UringOp<T>),
    /// mio: the readiness loop.
    Ready(ReadyLoop<'a, T>),
    /// An op without readiness: its inline form (after the coop budget allows it), then
    /// the blocking pool.
    Blocking(T),
    /// A rare path, boxed.
    Boxed(std::pin::Pin<Box<dyn Future<Output = T::Output> + Send + 'a>>),
    /// The output, known before the first poll ([`Run::ready`]).
    Finished(T::Output),
    /// Completed (or a poll panicked midway; a panic inside the ring op leaves `Ring`).
    Done,
}

impl<'a, T: OpCode> Run<'a, T> {
    /// A future that completes with `output` at its first poll (a caller that needs no
    /// op this time, returning the same future type).
    pub(crate) fn ready(output: T::Output) -> Run<'a, T> {
        Run {
            state: State::Finished(output),
        }
    }

    /// A future that runs `future` in a box (a caller's rare path, returning the same
    /// future type).
    #[cfg_attr(
        not(ringtide_uring),
        allow(dead_code, reason = "its one caller is the io_uring zero-copy send")
    )]
    pub(crate) fn boxed(future: impl Future<Output = T::Output> + Send + 'a) -> Run<'a, T> {
        Run {
            state: State::Boxed(Box::pin(future)),
        }
    }
}

// `Run` never pins the op or the output (it moves them between states), and its other
// states are `Unpin` (`UringOp`, the readiness waiter, a box).
impl<T: OpCode> Unpin for Run<'_, T> {}

impl<T: OpCode> Future for Run<'_, T> {
    type Output = T::Output;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let state = &mut self.state;
        loop {
            // The op in the ring, the common state: polled in place, not moved out and
            // back as the other states are (that move copies the whole future twice
            // per poll).
            #[cfg(ringtide_uring)]
            if let State::Ring(submitted) = state {
                let Poll::Ready((op, result)) = std::pin::Pin::new(submitted).poll(cx) else {
                    return Poll::Pending;
                };
                match retry_readiness(&result, op.readiness()) {
                    // A non-blocking fd (set so by the user): rare, so boxed.
                    Some((fd, events)) => {
                        *state = State::Boxed(Box::pin(retry_when_ready(op, fd, events)));
                        continue;
                    }
                    None => {
                        *state = State::Done;
                        return Poll::Ready(op.complete(result));
                    }
                }
            }
            match std::mem::replace(state, State::Done) {
                State::Start { source, op } => match start(source, op) {
                    Ok(next) => *state = next,
                    Err(output) => return Poll::Ready(output),
                },
                #[cfg(ringtide_uring)]
                State::Inline(mut op) => {
                    if coop::poll_proceed(cx).is_pending() {
                        *state = State::Inline(op);
                        return Poll::Pending;
                    }
                    if let Some(result) = op.attempt_nowait() {
                        return Poll::Ready(op.complete(result));
                    }
                    *state = State::Ring(uring::cell::UringOp::new(op, current_runtime_ring));
                }
                #[cfg(ringtide_uring)]
                State::Ring(_) => unreachable!("polled in place above"),
                State::Ready(mut ready) => {
                    let polled = ready.poll(cx);
                    if polled.is_pending() {
                        *state = State::Ready(ready);
                    }
                    return polled;
                }
                State::Blocking(mut op) => {
                    if coop::poll_proceed(cx).is_pending() {
                        *state = State::Blocking(op);
                        return Poll::Pending;
                    }
                    if let Some(result) = op.attempt_nowait() {
                        return Poll::Ready(op.complete(result));
                    }
                    *state = State::Boxed(Box::pin(run_on_pool(op)));
                }
                State::Boxed(mut future) => {
                    let polled = future.as_mut().poll(cx);
                    if polled.is_pending() {
                        *state = State::Boxed(future);
                    }
                    return polled;
                }
                State::Finished(output) => return Poll::Ready(output),
                State::Done => panic!("`op::run`'s future polled after it completed"),
            }
        }
    }
}

/// The first poll: the path for `op` on the backend of `source` (or of this thread's
/// runtime), or its output when it completes at once.
fn start<T: OpCode>(source: Option<&IoSource>, mut op: T) -> Result<State<'_, T>, T::Output> {
    let backend = match source {
        Some(IoSource::Uring) => Some(Backend::IoUring),
        Some(IoSource::Mio(_)) => Some(Backend::Mio),
        None => context::with_io(|io| io.and_then(driver::Handle::backend)),
    };
    match backend {
        #[cfg(ringtide_uring)]
        Some(Backend::IoUring) => {
            if !uring::probe::supports(T::OPCODE) {
                // A kernel without the opcode: rare, so boxed.
                return Ok(State::Boxed(Box::pin(run_readiness_on_uring(op))));
            }
            if T::NOWAIT_BEFORE_RING
                && context::with_io(|io| io.is_none_or(crate::driver::Handle::inline_file_io))
            {
                // The inline form first, as on mio (see "The non-blocking form" above);
                // it may complete every time, so it spends budget like any other ready
                // I/O.
                return Ok(State::Inline(op));
            }
            Ok(State::Ring(uring::cell::UringOp::new(
                op,
                current_runtime_ring,
            )))
        }
        Some(Backend::Mio) => match op.readiness() {
            Readiness::Immediate => {
                let result = op.attempt();
                Err(op.complete(result))
            }
            Readiness::Blocking => blocking(op),
            readiness @ (Readiness::Read(_) | Readiness::Write(_)) => {
                let Some(IoSource::Mio(registration)) = source else {
                    // An fd op without a registration cannot wait: try once (nothing is
                    // registered, so there is no readiness to keep).
                    let result = op.attempt();
                    return Err(op.complete(result));
                };
                let direction = if matches!(readiness, Readiness::Read(_)) {
                    mio::Direction::Read
                } else {
                    mio::Direction::Write
                };
                Ok(State::Ready(ReadyLoop::new(registration, op, direction)))
            }
        },
        _ => Err(op.complete(Err(no_io_error()))),
    }
}

/// The start of an op that has no readiness (see [`State::Blocking`]), or its error
/// outside a runtime with I/O.
fn blocking<'a, T: OpCode>(op: T) -> Result<State<'a, T>, T::Output> {
    if context::with_io(|io| io.is_some()) {
        Ok(State::Blocking(op))
    } else {
        Err(op.complete(Err(no_io_error())))
    }
}

pub(crate) fn no_io_error() -> io::Error {
    io::Error::other(
        "this I/O operation needs a ringtide runtime with I/O enabled: call it from inside \
         a runtime built with `enable_io()` or `enable_all()`",
    )
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

/// What to wait for before the ring tries `result`'s op again: a non-blocking fd makes
/// the kernel report `EAGAIN` instead of waiting.
#[cfg(ringtide_uring)]
fn retry_readiness(
    result: &io::Result<usize>,
    readiness: Readiness,
) -> Option<(RawFd, libc::c_short)> {
    match (result, readiness) {
        (Err(error), Readiness::Read(fd)) if error.kind() == io::ErrorKind::WouldBlock => {
            Some((fd, libc::POLLIN))
        }
        (Err(error), Readiness::Write(fd)) if error.kind() == io::ErrorKind::WouldBlock => {
            Some((fd, libc::POLLOUT))
        }
        _ => None,
    }
}

/// Waits for readiness (`POLL_ADD` of `events` on `fd`), then lets the ring try the op
/// again, until it reports something other than `EAGAIN`.
#[cfg(ringtide_uring)]
async fn retry_when_ready<T: OpCode>(
    mut op: T,
    mut fd: RawFd,
    mut events: libc::c_short,
) -> T::Output {
    loop {
        poll_add(fd, events).await;
        let (returned, result) = uring::cell::UringOp::new(op, current_runtime_ring).await;
        op = returned;
        match retry_readiness(&result, op.readiness()) {
            Some(again) => (fd, events) = again,
            None => return op.complete(result),
        }
    }
}

/// A registration's listed waiter (the stand-in module names it at its top when mio is
/// not compiled in).
#[cfg(feature = "mio")]
type Waiter<'a> = mio::registration::ReadinessWaiter<'a>;
#[cfg(not(feature = "mio"))]
type Waiter<'a> = mio::ReadinessWaiter<'a>;

/// The readiness half's wait-and-retry loop for an fd op on a mio registration (see
/// [`ReadyLoop::poll`]).
pub(crate) struct ReadyLoop<'a, T: OpCode> {
    registration: &'a mio::Registration,
    /// `None` once completed.
    op: Option<T>,
    /// A listed waiter, not the registration's one `poll_*` slot: other tasks may wait
    /// for the same direction (several `accept`s on one listener), and every one is
    /// woken.
    waiter: Waiter<'a>,
    /// The length a stream read asks for (`OpCode::stream_read_len`).
    requested: Option<usize>,
    /// The syscall is tried before any wait (writes, zero-length reads); cleared once
    /// tried.
    try_first: bool,
    /// A short read shows the source drained only where readiness comes from real
    /// edges (epoll, kqueue); on Windows the readiness stays until a `WouldBlock` (see
    /// `driver::mio`'s `Registration::short_read_drains`).
    short_read_drains: bool,
}

impl<'a, T: OpCode> ReadyLoop<'a, T> {
    fn new(registration: &'a mio::Registration, op: T, direction: mio::Direction) -> Self {
        let requested = op.stream_read_len();
        ReadyLoop {
            registration,
            op: Some(op),
            waiter: registration.waiter(direction),
            requested,
            // Writes (and zero-length reads, which must never wait) try first: a socket
            // is usually writable. Reads go by the readiness state, which a short read
            // cleared, so a read usually costs one syscall.
            try_first: matches!(direction, mio::Direction::Write) || requested == Some(0),
            short_read_drains: registration.short_read_drains(),
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<T::Output> {
        let op = self
            .op
            .as_mut()
            .expect("`op::run`'s readiness loop polled after it completed");
        if std::mem::take(&mut self.try_first) {
            match self.registration.try_io(|| op.attempt()) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                result => return Poll::Ready(self.finish(result)),
            }
        }
        std::task::ready!(coop::poll_proceed(cx));
        let result = loop {
            let event = match std::task::ready!(self.waiter.poll_ready(cx)) {
                Ok(event) => event,
                Err(error) => break Err(error),
            };
            match self.registration.try_io(|| op.attempt()) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.registration.clear_readiness(event);
                }
                Ok(read)
                    if self.short_read_drains
                        && read > 0
                        && self.requested.is_some_and(|len| read < len) =>
                {
                    self.registration.clear_readiness(event);
                    break Ok(read);
                }
                result => break result,
            }
        };
        Poll::Ready(self.finish(result))
    }

    fn finish(&mut self, result: io::Result<usize>) -> T::Output {
        self.op
            .take()
            .expect("the op is there until the loop completes")
            .complete(result)
    }
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

/// An op without readiness on an io_uring runtime whose kernel lacks its opcode: as
/// on mio (the inline form, then the pool).
#[cfg(ringtide_uring)]
async fn run_blocking<T: OpCode>(mut op: T) -> T::Output {
    if !context::with_io(|io| io.is_some()) {
        return op.complete(Err(no_io_error()));
    }
    std::future::poll_fn(coop::poll_proceed).await;
    if let Some(result) = op.attempt_nowait() {
        return op.complete(result);
    }
    let on_pool = Box::pin(run_on_pool(op));
    on_pool.await
}

/// Runs `op` on the blocking pool (boxed by its caller: the pool's round trip costs far
/// more than the box). The op moves to the pool thread and back; if this future is
/// dropped, the closure still runs to completion and drops the op (and its buffers)
/// there.
async fn run_on_pool<T: OpCode>(op: T) -> T::Output {
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
