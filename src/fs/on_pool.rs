//! Running a `std::fs` call on the blocking pool, for the file system functions that
//! have no io_uring opcode (metadata, `read_dir`, `canonicalize`, the recursive walks):
//! [`on_pool`], and its two halves for types that keep the pending call
//! ([`pool_available`], [`joined`]).
//!
//! Like the ops (see `op::run`), these calls need a runtime with I/O: outside one they
//! fail with the same error instead of panicking, so every `fs` function behaves alike
//! whether or not it has a native op.

use std::io;

use crate::driver;
use crate::op::run::no_io_error;
use crate::runtime::context;
use crate::task::JoinError;
use crate::task::blocking::spawn_blocking;

/// Runs `call` on the blocking pool and returns its result. If this future is dropped,
/// a call that has started still runs to the end (its effect happens or not, as with a
/// dropped native op); one still queued may never run.
pub(crate) async fn on_pool<F, R>(call: F) -> io::Result<R>
where
    F: FnOnce() -> io::Result<R> + Send + 'static,
    R: Send + 'static,
{
    pool_available()?;
    joined(spawn_blocking(call).await)?
}

/// Whether this thread is in a runtime with I/O, whose blocking pool `spawn_blocking`
/// may use; the error says what is missing.
pub(crate) fn pool_available() -> io::Result<()> {
    if context::with_io(|io| io.and_then(driver::Handle::backend)).is_some() {
        Ok(())
    } else {
        Err(no_io_error())
    }
}

/// The value of a joined pool call: a panic in it is resumed here, a call the runtime
/// dropped unrun (it is shutting down) is an error.
pub(crate) fn joined<R>(joined: Result<R, JoinError>) -> io::Result<R> {
    match joined {
        Ok(value) => Ok(value),
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(io::Error::other(
            "the runtime shut down before this file system call ran",
        )),
    }
}
