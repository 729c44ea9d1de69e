//! [`Header`]: the state a task shares with everything that refers to it (its
//! `JoinHandle`, its `AbortHandle`s, the scheduler's owned-tasks registry): the task id
//! and the abort/finished flags. It lives in the task's own allocation (async-task's
//! metadata); the harness (`harness`) sets `FINISHED` once the future is dropped, and
//! `abort` sets `ABORTED` and wakes the task so its harness sees the request.

use std::task::Waker;

use crate::loom::atomic::{AtomicU8, Ordering};
use crate::task::id::Id;

const ABORTED: u8 = 0b01;
const FINISHED: u8 = 0b10;

/// State shared between a task's future and the handles that refer to it. It lives in
/// the task's own allocation (async-task's metadata), so it costs no extra allocation
/// and lives exactly as long as any reference to the task.
#[derive(Debug)]
pub(crate) struct Header {
    id: Id,
    state: AtomicU8,
}

impl Header {
    pub(super) fn new() -> Header {
        Header {
            id: Id::next(),
            state: AtomicU8::new(0),
        }
    }

    pub(crate) fn id(&self) -> Id {
        self.id
    }

    pub(super) fn is_aborted(&self) -> bool {
        self.state.load(Ordering::Acquire) & ABORTED != 0
    }

    /// True once the task's future has been dropped (completed, panicked or cancelled).
    pub(crate) fn is_finished(&self) -> bool {
        self.state.load(Ordering::Acquire) & FINISHED != 0
    }

    /// Requests cancellation and wakes the task (through `waker`, one of its own) so its
    /// scheduler polls it and the harness sees the request. Does nothing to a finished
    /// task or one already aborted.
    pub(crate) fn abort(&self, waker: &Waker) {
        let previous = self.state.fetch_or(ABORTED, Ordering::AcqRel);
        if previous & (ABORTED | FINISHED) == 0 {
            waker.wake_by_ref();
        }
    }

    /// Shutdown's cancellation: like [`abort`](Self::abort), but wakes the task even
    /// if it was aborted before (that wake-up may have been dropped with a run queue).
    pub(crate) fn cancel_for_shutdown(&self, waker: &Waker) {
        let previous = self.state.fetch_or(ABORTED, Ordering::AcqRel);
        if previous & FINISHED == 0 {
            waker.wake_by_ref();
        }
    }

    /// Marks the task aborted without waking it (a task refused at spawn, whose future
    /// is dropped at once).
    pub(super) fn mark_aborted(&self) {
        self.state.fetch_or(ABORTED, Ordering::AcqRel);
    }

    /// The task's future has been dropped: set by the harness, after the drop.
    pub(super) fn mark_finished(&self) {
        self.state.fetch_or(FINISHED, Ordering::AcqRel);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use std::sync::Arc;
    use std::task::Wake;

    use super::*;
    use crate::loom::atomic::AtomicUsize;

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn header_with_counter() -> (std::sync::Arc<Header>, Waker, std::sync::Arc<CountingWaker>) {
        let counter = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
        let header = std::sync::Arc::new(Header::new());
        (header, Waker::from(counter.clone()), counter)
    }

    /// Two racing aborts (JoinHandle and AbortHandle) schedule the task exactly once.
    #[test]
    fn loom_concurrent_aborts_wake_once() {
        loom::model(|| {
            let (header, waker, counter) = header_with_counter();
            let other = header.clone();
            let other_waker = waker.clone();
            let thread = loom::thread::spawn(move || other.abort(&other_waker));
            header.abort(&waker);
            thread.join().unwrap();
            assert!(header.is_aborted());
            assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        });
    }

    /// An abort racing with the task finishing: either the task saw the abort at its
    /// poll (and reports cancellation), or it finished first; in both cases the
    /// task was woken or is finished, so a JoinHandle waiting on it is never stranded.
    #[test]
    fn loom_abort_races_with_completion() {
        loom::model(|| {
            let (header, waker, counter) = header_with_counter();
            let task_side = header.clone();
            let poller = loom::thread::spawn(move || {
                // What Harness::poll and its drop do, in order.
                let saw_abort = task_side.is_aborted();
                task_side.mark_finished();
                saw_abort
            });
            header.abort(&waker);
            let saw_abort = poller.join().unwrap();
            assert!(header.is_finished());
            let woken = counter.0.load(Ordering::SeqCst) == 1;
            // A task that saw the abort was woken for it; a task that did not had
            // finished first (its output stands) or reads the flag at its next poll,
            // which the wake-up schedules: the abort is never lost.
            if saw_abort {
                assert!(woken, "aborted task was not woken");
            }
            assert!(woken || header.is_finished());
        });
    }
}
