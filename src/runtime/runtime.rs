//! `Runtime`: owns the scheduler and the blocking pool; dropping it shuts both down.
//!
//! # Shutdown order
//!
//! 1. The scheduler closes: no task can be spawned any more (a spawn returns a
//!    `JoinHandle` that reports cancellation), every worker is told to stop.
//! 2. Each worker finishes the poll it is in, cancels the tasks in its queues and
//!    hands its core in; the last one cancels the global queue's and aborts every idle
//!    task, whose future is then dropped where its wake-up lands. All task destructors
//!    run; a task whose destructor panics reports that panic (`JoinError::is_panic`),
//!    as in tokio.
//! 3. The blocking pool stops: queued closures that never started are dropped, and the
//!    runtime waits for the threads (workers included) to exit: without limit on drop
//!    and `shutdown_timeout`'s limit otherwise; `shutdown_background` does not wait.
//!    Threads that exited in time are joined, so their thread-locals are gone too.
//! 4. The I/O driver and the timer learn that the runtime is gone: from then on a
//!    `Handle::block_on` gets an error from I/O that would wait for readiness nobody
//!    polls for (mio), and a panic from a timer that would wait (as in tokio); timers
//!    already waiting are woken to see it.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::blocking::BlockingPool;
use crate::runtime::context::{self, Driving};
use crate::runtime::{Handle, RuntimeMetrics};
use crate::task::JoinHandle;

/// The ringtide runtime: a scheduler (multi-thread or current-thread), its worker
/// threads and its blocking pool.
///
/// ```
/// use ringtide::runtime::Runtime;
///
/// let runtime = Runtime::new().unwrap();
/// let answer = runtime.block_on(async {
///     let task = ringtide::spawn(async { 6 * 7 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// # Panics on drop
///
/// Dropping a runtime waits for its threads, so it panics (after cancelling its tasks
/// without waiting) inside a task or `block_on` of any runtime, as tokio does: blocking
/// there would stall the tasks that thread drives. Use
/// [`shutdown_background`](Runtime::shutdown_background) there, or drop it on a
/// blocking thread.
pub struct Runtime {
    handle: Handle,
    pool: BlockingPool,
    /// Set by `shutdown_timeout`: `Drop` must not wait again, without limit.
    shut_down: bool,
}

impl Runtime {
    /// A multi-thread runtime with default settings (one worker per CPU) and every
    /// driver enabled. Same as `Builder::new_multi_thread().enable_all().build()`.
    pub fn new() -> std::io::Result<Runtime> {
        super::Builder::new_multi_thread().enable_all().build()
    }

    pub(crate) fn from_parts(handle: Handle, pool: BlockingPool) -> Runtime {
        Runtime {
            handle,
            pool,
            shut_down: false,
        }
    }

    /// Runs `future` to completion on the current thread, with the runtime entered.
    ///
    /// On a multi-thread runtime, spawned tasks run on the workers while this thread
    /// waits. On a current-thread runtime, this thread runs the spawned tasks too.
    ///
    /// # Panics
    ///
    /// Panics when called from a thread that is driving a runtime (inside a task or
    /// another `block_on`): blocking there would stall the tasks that thread runs.
    /// Use `.await`, or `task::spawn_blocking` for blocking work.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a task on the runtime. See [`crate::spawn`].
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on the blocking pool. See
    /// [`task::spawn_blocking`](crate::task::spawn_blocking).
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, func: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(func)
    }

    /// The I/O backend this runtime uses (io_uring or mio, never `Auto`).
    pub fn backend(&self) -> crate::runtime::Backend {
        self.handle.backend()
    }

    /// A handle to this runtime.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Enters the runtime on this thread; see [`Handle::enter`].
    pub fn enter(&self) -> crate::runtime::EnterGuard<'_> {
        self.handle.enter()
    }

    /// The runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Shuts down, waiting at most `timeout` for the blocking pool's running closures
    /// (and the workers' current polls) to finish. Threads still busy after that are
    /// left running in the background.
    ///
    /// # Panics
    ///
    /// As dropping the runtime: inside a task or `block_on` (of any runtime), unless
    /// `timeout` is zero.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    /// Shuts down without waiting for running blocking closures.
    pub fn shutdown_background(self) {
        self.shutdown_timeout(Duration::ZERO);
    }

    fn shutdown(&mut self, timeout: Option<Duration>) {
        if self.shut_down {
            return;
        }
        self.shut_down = true;
        // Waiting for the runtime's threads would block the tasks this thread drives
        // (or, on the runtime's own worker, wait for itself): shut down without
        // waiting, then refuse as tokio does. Not while unwinding: a second panic
        // would abort.
        let refused = timeout != Some(Duration::ZERO)
            && context::driving() != Driving::No
            && !std::thread::panicking();
        let timeout = if refused {
            Some(Duration::ZERO)
        } else {
            timeout
        };
        {
            // Destructors of cancelled tasks may need the runtime (to deregister I/O,
            // or to call `Handle::current`).
            let _enter = self.handle.enter();
            self.handle.inner.shutdown();
            self.pool.shutdown(timeout);
            // Then the I/O: a `Handle::block_on` after this gets errors, not a wait
            // for readiness nobody polls for.
            self.handle.inner.driver().io().runtime_shut_down();
            // And the timers: nobody fires them now, so one that has to wait panics,
            // as tokio's do, and one already waiting (a `Handle::block_on` elsewhere) is
            // woken to see it.
            if let Some(time) = self.handle.inner.driver().time() {
                time.runtime_shut_down();
            }
        }
        if refused {
            panic!(
                "Cannot drop a runtime in a context where blocking is not allowed. This \
                 happens when a runtime is dropped (or shut down with a timeout) from within \
                 an asynchronous context: a task, or `block_on`. Its tasks were cancelled \
                 without waiting for its threads; use `Runtime::shutdown_background` to do \
                 that without this panic, or drop it in `task::spawn_blocking`."
            );
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}
