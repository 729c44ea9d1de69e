//! [`Executor`]: hyper's `rt::Executor` on ringtide's scheduler.
//!
//! hyper spawns background futures through it: the HTTP/2 connection and stream tasks
//! of a server or client, and hyper-util's pooled-client connection tasks. Each one
//! becomes an ordinary ringtide task (detached: hyper keeps no `JoinHandle`), so it
//! runs on the work-stealing scheduler, under the cooperative budget, on either I/O
//! backend.

use std::future::Future;

use crate::runtime::Handle;

/// Spawns hyper's background futures as ringtide tasks.
///
/// [`Executor::new`] spawns on the runtime that is current when hyper spawns (hyper
/// does so from inside the connection or client future, so that is the runtime
/// driving it); [`Executor::on`] always spawns on one runtime, wherever hyper calls
/// from (use it for a client that is driven from threads outside the runtime).
///
/// ```
/// # #[cfg(feature = "hyper")]
/// let builder = hyper_util::server::conn::auto::Builder::new(ringtide::hyper::Executor::new());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Executor {
    handle: Option<Handle>,
}

impl Executor {
    /// An executor that spawns on the current runtime at each spawn.
    ///
    /// Spawning panics (as [`crate::spawn`] does) when hyper spawns outside a runtime.
    pub fn new() -> Executor {
        Executor { handle: None }
    }

    /// An executor that spawns every future on `handle`'s runtime.
    pub fn on(handle: Handle) -> Executor {
        Executor {
            handle: Some(handle),
        }
    }
}

impl<F> ::hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        // Detached: dropping the JoinHandle leaves the task running.
        match &self.handle {
            Some(handle) => drop(handle.spawn(future)),
            None => drop(crate::spawn(future)),
        }
    }
}
