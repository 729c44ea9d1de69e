//! The callbacks a [`Builder`](crate::runtime::Builder) installs on a runtime's
//! scheduler ([`Hooks`]), and [`TaskMeta`], what the task callbacks are given.
//!
//! * `on_thread_park` / `on_thread_unpark`: around each time a scheduler thread (a
//!   multi-thread worker, or the thread driving a current-thread runtime) goes idle:
//!   before it looks for the last time and sleeps in its driver, and after it wakes
//!   (also when the park callback itself made work, and it did not sleep).
//! * `on_task_spawn`: on the spawning thread, after the task exists and before it is
//!   first scheduled (spawns on the runtime, not on a `LocalSet`, as in tokio).
//! * `on_task_terminate`: once per task (spawned or `spawn_blocking`), right after its
//!   future (or closure) has been dropped: completed, panicked or cancelled, before its
//!   `JoinHandle` sees the output. A panic inside it is caught and ignored.
//!
//! All run inside the runtime's context, so they may spawn.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::task;

/// A callback without arguments (`on_thread_park`, `on_thread_unpark`).
pub(crate) type Callback = Arc<dyn Fn() + Send + Sync>;

/// A callback given a task's metadata (`on_task_spawn`, `on_task_terminate`).
pub(crate) type TaskCallback = Arc<dyn Fn(&TaskMeta<'_>) + Send + Sync>;

/// `on_task_terminate` as every task holds it, for as long as the task lives: one
/// pointer (an `Arc` of the callback's `Arc`), not the two of a `dyn` pointer, so an
/// idle task's allocation is 8 bytes smaller. Called through both, once per task.
pub(crate) type TerminateCallback = Arc<TaskCallback>;

/// What `on_task_spawn` and `on_task_terminate` callbacks learn about the task.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let terminated = Arc::new(AtomicUsize::new(0));
/// let count = terminated.clone();
/// let runtime = ringtide::runtime::Builder::new_current_thread()
///     .on_task_terminate(move |meta| {
///         let _id: ringtide::task::Id = meta.id();
///         count.fetch_add(1, Ordering::SeqCst);
///     })
///     .build()
///     .unwrap();
/// runtime.block_on(async { ringtide::spawn(async {}).await.unwrap() });
/// assert_eq!(terminated.load(Ordering::SeqCst), 1);
/// ```
pub struct TaskMeta<'a> {
    id: task::Id,
    _lifetime: PhantomData<&'a ()>,
}

impl TaskMeta<'_> {
    pub(crate) fn new(id: task::Id) -> TaskMeta<'static> {
        TaskMeta {
            id,
            _lifetime: PhantomData,
        }
    }

    /// The task's id (what its `JoinHandle::id` and `task::id()` inside it return).
    pub fn id(&self) -> task::Id {
        self.id
    }
}

impl fmt::Debug for TaskMeta<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskMeta").field("id", &self.id).finish()
    }
}

/// The scheduler callbacks of one runtime; see the module docs.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) before_park: Option<Callback>,
    pub(crate) after_unpark: Option<Callback>,
    pub(crate) task_spawn: Option<TaskCallback>,
    pub(crate) task_terminate: Option<TerminateCallback>,
}

impl Hooks {
    /// A scheduler thread is about to go idle.
    pub(crate) fn before_park(&self) {
        if let Some(callback) = &self.before_park {
            callback();
        }
    }

    /// A scheduler thread is back from going idle.
    pub(crate) fn after_unpark(&self) {
        if let Some(callback) = &self.after_unpark {
            callback();
        }
    }

    /// Task `id` was just created on this runtime.
    pub(crate) fn spawned(&self, id: task::Id) {
        if let Some(callback) = &self.task_spawn {
            callback(&TaskMeta::new(id));
        }
    }

    /// The callback each task calls when it terminates, if any.
    pub(crate) fn terminate(&self) -> Option<TerminateCallback> {
        self.task_terminate.clone()
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("on_thread_park", &self.before_park.is_some())
            .field("on_thread_unpark", &self.after_unpark.is_some())
            .field("on_task_spawn", &self.task_spawn.is_some())
            .field("on_task_terminate", &self.task_terminate.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every task holds its runtime's `on_task_terminate` (see [`TerminateCallback`]):
    /// one pointer, `None` included, not a `dyn` pointer's two.
    #[test]
    fn a_task_s_terminate_callback_is_one_pointer() {
        assert_eq!(size_of::<Option<TerminateCallback>>(), size_of::<usize>());
    }
}
