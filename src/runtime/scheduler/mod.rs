//! The two schedulers and the handle that dispatches between them.
//!
//! * [`multi_thread`]: work-stealing workers (the default flavour).
//! * [`current_thread`]: every task runs on the thread that calls `block_on`.
//!
//! Both park through their cores' drivers (`crate::driver::CoreDriver`, which
//! implements [`crate::driver::park::Park`]) and tell them when a thread takes or gives
//! up a core; neither knows which I/O backend (if any) is behind it.

pub(crate) mod current_thread;
pub(crate) mod multi_thread;

use std::future::Future;
use std::sync::Arc;

use crate::blocking::Spawner;
use crate::task::join::JoinHandle;

/// Scheduler tuning shared by both flavours.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    /// Ticks between two checks of the global (injection / remote) queue first.
    pub(crate) global_queue_interval: u32,
    /// Ticks between two non-blocking polls of the driver.
    pub(crate) event_interval: u32,
}

/// What a runtime's scheduler keeps the same way in both flavours: its identity and the
/// builder's callbacks.
#[derive(Debug)]
pub(crate) struct Common {
    pub(crate) id: crate::runtime::Id,
    /// `Builder::name`.
    pub(crate) name: Option<String>,
    pub(crate) hooks: crate::runtime::hooks::Hooks,
}

/// A handle to whichever scheduler runs a runtime.
#[derive(Clone, Debug)]
pub(crate) enum Handle {
    CurrentThread(Arc<current_thread::Handle>),
    MultiThread(Arc<multi_thread::Handle>),
}

impl Handle {
    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Handle::CurrentThread(handle) => current_thread::Handle::spawn(handle, future),
            Handle::MultiThread(handle) => multi_thread::Handle::spawn(handle, future),
        }
    }

    /// The index of the core this thread drives for this runtime, if any (a worker
    /// holding its core; the current-thread runtime has one core, 0).
    pub(crate) fn current_core(&self) -> Option<usize> {
        match self {
            Handle::CurrentThread(_) => Some(0),
            Handle::MultiThread(handle) => multi_thread::current_core(handle),
        }
    }

    /// The runtime's identity and callbacks.
    pub(crate) fn common(&self) -> &Common {
        match self {
            Handle::CurrentThread(handle) => &handle.common,
            Handle::MultiThread(handle) => &handle.common,
        }
    }

    /// The runtime's drivers: its I/O handle and its timer.
    pub(crate) fn driver(&self) -> &crate::runtime::driver::Handle {
        match self {
            Handle::CurrentThread(handle) => &handle.driver,
            Handle::MultiThread(handle) => &handle.driver,
        }
    }

    pub(crate) fn blocking_spawner(&self) -> &Spawner {
        match self {
            Handle::CurrentThread(handle) => &handle.blocking,
            Handle::MultiThread(handle) => &handle.blocking,
        }
    }

    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self {
            Handle::CurrentThread(handle) => current_thread::Handle::block_on(handle, future),
            Handle::MultiThread(handle) => multi_thread::Handle::block_on(handle, future),
        }
    }

    /// Stops the scheduler: no new tasks, every task cancelled. Idempotent.
    pub(crate) fn shutdown(&self) {
        match self {
            Handle::CurrentThread(handle) => handle.shutdown(),
            Handle::MultiThread(handle) => handle.shutdown(),
        }
    }
}
