//! The orphan queue: children whose [`Child`](super::Child) was dropped before they
//! were reaped, and that no background task can reap (no runtime was current when the
//! `Child` was dropped, or the runtime shut down while its reap task was waiting).
//!
//! The queue is process-wide. It is drained (a non-blocking `waitpid` on each entry)
//! on every `Command::spawn` and every time any ringtide `Child` checks its own exit
//! (`try_wait`, each wake-up of `wait`), so an orphan stays a zombie at most until the
//! process next spawns or waits on a child through ringtide.

use std::process::Child as StdChild;
use std::sync::Mutex;

static ORPHANS: Mutex<Vec<StdChild>> = Mutex::new(Vec::new());

/// Queues `child`, unless it can be reaped right now.
pub(crate) fn adopt(mut child: StdChild) {
    if matches!(child.try_wait(), Ok(None)) {
        lock().push(child);
    }
}

/// Reaps every queued orphan that has exited.
pub(crate) fn reap() {
    let mut orphans = lock();
    if !orphans.is_empty() {
        orphans.retain_mut(|child| matches!(child.try_wait(), Ok(None)));
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<StdChild>> {
    ORPHANS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
