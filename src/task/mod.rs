//! Tasks: spawning, joining, cancelling, and cooperating.
//!
//! A task is a future the runtime polls to completion in the background. [`spawn`]
//! returns a [`JoinHandle`] (awaiting it yields the output, or a [`JoinError`] if the
//! task panicked or was cancelled; dropping it detaches the task). [`JoinHandle::abort`]
//! and [`AbortHandle`] cancel a task; [`spawn_blocking`] runs blocking code on a thread
//! pool; [`block_in_place`] blocks a worker after handing its queue to another thread;
//! [`yield_now`], [`consume_budget`] and [`unconstrained`] tune cooperation.
//! [`Builder`] spawns with a name ([`try_name`] reads it back inside the task), and
//! [`task_local!`](crate::task_local) declares [`LocalKey`]s: values set for the
//! duration of a future ([`LocalKey::scope`]) that follow it across workers.
//!
//! A panic inside a task is caught: it becomes the task's `JoinError` and never takes
//! down a worker thread.

pub(crate) mod blocking;
mod builder;
pub(crate) mod coop;
mod current_id;
mod error;
pub(crate) mod harness;
mod header;
mod id;
pub(crate) mod join;
mod join_set;
mod local;
mod name;
pub(crate) mod owned;
mod task_local;
mod yield_now;

use std::future::Future;

pub use blocking::{block_in_place, spawn_blocking};
pub use builder::Builder;
pub use coop::{Unconstrained, consume_budget, unconstrained};
pub use current_id::{id, try_id};
pub use error::JoinError;
pub use id::Id;
pub use join::{AbortHandle, JoinHandle};
pub use join_set::JoinSet;
pub use local::{LocalEnterGuard, LocalSet, spawn_local};
pub use name::try_name;
pub use task_local::{AccessError, LocalKey};
pub use yield_now::yield_now;

/// The named futures of this module.
pub mod futures {
    pub use super::task_local::TaskLocalFuture;
}

use crate::runtime::Handle;

/// Spawns a future as a new task on the current runtime and returns its handle.
///
/// The task starts running in the background at once, on any worker of a multi-thread
/// runtime (it may move between workers at each `.await`), or on the `block_on` thread
/// of a current-thread runtime. Awaiting the handle is optional: dropping it detaches
/// the task.
///
/// ```
/// # ringtide::runtime::Runtime::new().unwrap().block_on(async {
/// let handle = ringtide::spawn(async { "hello" });
/// assert_eq!(handle.await.unwrap(), "hello");
/// # });
/// ```
///
/// # Panics
///
/// Panics when called outside a runtime (see [`Handle::current`]).
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match Handle::try_current() {
        Ok(handle) => handle.spawn(future),
        Err(_) => panic!(
            "ringtide::spawn called outside a runtime: call it from a task or inside \
             `Runtime::block_on`, or enter a runtime first with `Handle::enter`"
        ),
    }
}

/// Runtimes for the unit tests of the task module.
#[cfg(test)]
mod test_runtimes {
    use crate::runtime::{Builder, Runtime};

    pub(super) fn current_thread() -> Runtime {
        Builder::new_current_thread().build().unwrap()
    }

    pub(super) fn multi_thread() -> Runtime {
        Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
    }

    pub(super) fn runtimes() -> [Runtime; 2] {
        [current_thread(), multi_thread()]
    }
}
