//! The id of the task being polled on this thread: recorded by the task harness around
//! each poll ([`set_current_task_id`]), read by [`id`] and [`try_id`].

use std::cell::Cell;

use crate::task::id::Id;

thread_local! {
    /// The id of the task this thread is polling, if any.
    static CURRENT_TASK_ID: Cell<Option<Id>> = const { Cell::new(None) };
}

/// Returns the id of the task that is being polled.
///
/// # Panics
///
/// Panics when called outside a task (for example directly inside `block_on`). Use
/// [`try_id`] to get `None` instead.
#[track_caller]
pub fn id() -> Id {
    try_id().expect("ringtide::task::id() called outside a task: use task::try_id() instead")
}

/// Returns the id of the task that is being polled, or `None` outside a task.
pub fn try_id() -> Option<Id> {
    CURRENT_TASK_ID.try_with(Cell::get).unwrap_or(None)
}

/// Restores the previous current task id on drop.
#[derive(Debug)]
pub(crate) struct TaskIdGuard {
    previous: Option<Id>,
}

/// Makes `id` this thread's current task id until the guard drops.
pub(crate) fn set_current_task_id(id: Option<Id>) -> TaskIdGuard {
    let previous = CURRENT_TASK_ID
        .try_with(|current| current.replace(id))
        .unwrap_or(None);
    TaskIdGuard { previous }
}

impl Drop for TaskIdGuard {
    fn drop(&mut self) {
        let previous = self.previous;
        let _ = CURRENT_TASK_ID.try_with(|current| current.set(previous));
    }
}
