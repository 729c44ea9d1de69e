//! The task cell: what wraps every spawned future.
//!
//! The allocation, reference counting and the scheduled/running/completed state machine
//! come from `async-task` (`Runnable` = "scheduled, ready to run"; `Task` = the joining
//! side). This file adds what a tokio-style runtime needs on top:
//!
//! * a [`Header`] shared by the future, its `JoinHandle`, its `AbortHandle`s and the
//!   scheduler's [`OwnedTasks`] registry: the task id, the abort flag and a waker that
//!   schedules the task;
//! * the [`Harness`] future, which turns panics into `JoinError::Panic`, honours
//!   abort requests, records the current task id for `task::id()`, and deregisters
//!   the task when its future is dropped.
//!
//! # Abort protocol
//!
//! ```text
//! abort():  state |= ABORTED ; waker.wake()
//!                    │
//!                    ▼  the scheduler runs the task (or drops its Runnable on shutdown)
//! Harness::poll:  ABORTED set? ── yes ──► drop the inner future, return Err(Cancelled)
//!                      │ no
//!                      ▼
//!                 poll the inner future (panics caught → Err(Panic))
//! ```
//!
//! Abort of a finished task does nothing (its output is already stored). Abort of a
//! running task takes effect at its next poll, which the wake-up guarantees. The
//! stored waker keeps only the task allocation alive, not the future: once the future
//! is dropped, the `Header` ↔ task cycle is gone.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use async_task::{Runnable, ScheduleInfo, WithInfo};

use crate::loom::atomic::{AtomicU8, Ordering};
use crate::runtime::context;
use crate::task::owned::{Entry, OwnedTasks};
use crate::task::{Id, JoinError, JoinHandle};

const ABORTED: u8 = 0b01;
const FINISHED: u8 = 0b10;

/// State shared between a task's future and the handles that refer to it.
#[derive(Debug)]
pub(crate) struct Header {
    id: Id,
    state: AtomicU8,
    waker: OnceLock<Waker>,
}

impl Header {
    fn new(id: Id) -> Header {
        Header {
            id,
            state: AtomicU8::new(0),
            waker: OnceLock::new(),
        }
    }

    pub(crate) fn id(&self) -> Id {
        self.id
    }

    fn is_aborted(&self) -> bool {
        self.state.load(Ordering::Acquire) & ABORTED != 0
    }

    /// True once the task's future has been dropped (completed, panicked or cancelled).
    pub(crate) fn is_finished(&self) -> bool {
        self.state.load(Ordering::Acquire) & FINISHED != 0
    }

    /// Requests cancellation and wakes the task so its scheduler gets to see it.
    pub(crate) fn abort(&self) {
        let previous = self.state.fetch_or(ABORTED, Ordering::AcqRel);
        if previous & ABORTED == 0 {
            if let Some(waker) = self.waker.get() {
                waker.wake_by_ref();
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The future async-task stores: the user's future plus panic and abort handling.
    pub(crate) struct Harness<F> {
        #[pin]
        future: Option<F>,
        header: Arc<Header>,
        registration: Option<(Arc<OwnedTasks>, Entry)>,
    }

    impl<F> PinnedDrop for Harness<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            // Drop the user's future before deregistering, so shutdown's "all tasks
            // gone" also means "all destructors ran". A panicking destructor must not
            // unwind into the scheduler.
            let _ = catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
            this.header.state.fetch_or(FINISHED, Ordering::AcqRel);
            if let Some((owned, entry)) = this.registration.take() {
                owned.remove(entry);
            }
        }
    }
}

impl<F: Future> Future for Harness<F> {
    type Output = Result<F::Output, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let id = this.header.id;
        if this.header.is_aborted() {
            let _ = catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
            return Poll::Ready(Err(JoinError::cancelled(id)));
        }
        let Some(future) = this.future.as_mut().as_pin_mut() else {
            // async-task never polls a completed future; be defensive anyway.
            return Poll::Ready(Err(JoinError::cancelled(id)));
        };
        let _task_id = context::set_current_task_id(Some(id));
        let result = catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
        let output = match result {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(value)) => Ok(value),
            Err(payload) => Err(JoinError::panic(id, payload)),
        };
        let _ = catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
        Poll::Ready(output)
    }
}

/// Creates a task for `future` that `schedule` will queue whenever it is woken.
///
/// Registers it in `owned` (when given). Returns the first `Runnable` (to be scheduled
/// by the caller) and the `JoinHandle`; `None` for the runnable means the scheduler is
/// closed and the task was cancelled on the spot.
pub(crate) fn spawn<F, S>(
    future: F,
    owned: Option<&Arc<OwnedTasks>>,
    schedule: S,
) -> (Option<Runnable>, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Fn(Runnable, ScheduleInfo) + Send + Sync + 'static,
{
    let (header, registration) = prepare(owned);
    let harness = Harness {
        future: Some(future),
        header: header.clone(),
        registration,
    };
    let (runnable, task) = async_task::spawn(harness, WithInfo(schedule));
    finish(header, runnable, task)
}

/// Like [`spawn`] for a `!Send` future. The runnable must only ever be run or dropped
/// on the spawning thread (async-task checks this and panics otherwise).
pub(crate) fn spawn_local<F, S>(
    future: F,
    owned: Option<&Arc<OwnedTasks>>,
    schedule: S,
) -> (Option<Runnable>, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Fn(Runnable, ScheduleInfo) + Send + Sync + 'static,
{
    let (header, registration) = prepare(owned);
    let harness = Harness {
        future: Some(future),
        header: header.clone(),
        registration,
    };
    let (runnable, task) = async_task::spawn_local(harness, WithInfo(schedule));
    finish(header, runnable, task)
}

#[allow(clippy::type_complexity)]
fn prepare(owned: Option<&Arc<OwnedTasks>>) -> (Arc<Header>, Option<(Arc<OwnedTasks>, Entry)>) {
    let header = Arc::new(Header::new(Id::next()));
    let registration = match owned {
        None => None,
        Some(owned) => owned.insert(&header).map(|entry| (owned.clone(), entry)),
    };
    if owned.is_some() && registration.is_none() {
        // The scheduler is closed: the task is born aborted, so its first poll (if any)
        // drops the future and reports cancellation.
        header.state.fetch_or(ABORTED, Ordering::Relaxed);
    }
    (header, registration)
}

fn finish<T>(
    header: Arc<Header>,
    runnable: Runnable,
    task: async_task::Task<Result<T, JoinError>>,
) -> (Option<Runnable>, JoinHandle<T>) {
    let _ = header.waker.set(runnable.waker());
    let handle = JoinHandle::new(task.fallible(), header.clone());
    if header.is_aborted() {
        // Closed scheduler: drop the future here (runs its destructor now).
        drop(runnable);
        return (None, handle);
    }
    (Some(runnable), handle)
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::atomic::AtomicUsize;
    use std::task::Wake;

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn header_with_counter() -> (std::sync::Arc<Header>, std::sync::Arc<CountingWaker>) {
        let counter = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
        let header = std::sync::Arc::new(Header::new(Id::next()));
        let _ = header.waker.set(Waker::from(counter.clone()));
        (header, counter)
    }

    /// Two racing aborts (JoinHandle and AbortHandle) schedule the task exactly once.
    #[test]
    fn loom_concurrent_aborts_wake_once() {
        loom::model(|| {
            let (header, counter) = header_with_counter();
            let other = header.clone();
            let thread = loom::thread::spawn(move || other.abort());
            header.abort();
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
            let (header, counter) = header_with_counter();
            let task_side = header.clone();
            let poller = loom::thread::spawn(move || {
                // What Harness::poll and its drop do, in order.
                let saw_abort = task_side.is_aborted();
                task_side.state.fetch_or(FINISHED, Ordering::AcqRel);
                saw_abort
            });
            header.abort();
            let saw_abort = poller.join().unwrap();
            assert!(header.is_finished());
            let woken = counter.0.load(Ordering::SeqCst) == 1;
            // The abort always requests a poll; a task that did not see the flag had
            // already produced its output, which the JoinHandle returns instead.
            assert!(woken);
            if saw_abort {
                assert!(header.is_aborted());
            }
        });
    }
}
