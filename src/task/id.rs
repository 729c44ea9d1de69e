//! Task identifiers.

use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::runtime::context;

/// An opaque identifier of a task, unique among all tasks of the process for its
/// lifetime. Returned by [`JoinHandle::id`](crate::task::JoinHandle::id) and
/// [`task::id`](crate::task::id).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    pub(crate) fn next() -> Id {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        Id(NonZeroU64::new(id).expect("task id counter wrapped around"))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
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
    context::current_task_id()
}
