//! The task cell: what wraps every spawned future.
//!
//! The allocation, reference counting and the scheduled/running/completed state machine
//! come from `async-task` (`Runnable` = "scheduled, ready to run"; `Task` = the joining
//! side). This file adds what a tokio-style runtime needs on top:
//!
//! * the task's [`Header`] (see `header`), shared by the future, its `JoinHandle`, its `AbortHandle`s and the
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
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::{self, ThreadId};

use async_task::{ScheduleInfo, WithInfo};

use crate::task::current_id;
use crate::task::header::Header;
use crate::task::owned::OwnedTasks;
use crate::task::{JoinError, JoinHandle};

/// A scheduled task, ready to run: what run queues hold.
pub(crate) type Runnable = async_task::Runnable<Header>;

pin_project_lite::pin_project! {
    /// The future async-task stores: the user's future plus panic and abort handling.
    /// It borrows the header from the task's own allocation.
    pub(crate) struct Harness<'a, F> {
        #[pin]
        future: Option<F>,
        header: &'a Header,
    }

    impl<F> PinnedDrop for Harness<'_, F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            // Drop the user's future before deregistering, so shutdown's "all tasks
            // gone" also means "all destructors ran". A panicking destructor must not
            // unwind into the scheduler.
            let _ = catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
            this.header.mark_finished();
        }
    }
}

impl<F: Future> Future for Harness<'_, F> {
    type Output = Result<F::Output, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let id = this.header.id();
        if this.header.is_aborted() {
            let _ = catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
            return Poll::Ready(Err(JoinError::cancelled(id)));
        }
        let Some(future) = this.future.as_mut().as_pin_mut() else {
            // async-task never polls a completed future; be defensive anyway.
            return Poll::Ready(Err(JoinError::cancelled(id)));
        };
        let _task_id = current_id::set_current_task_id(Some(id));
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
    // SAFETY: the future and its output are `Send + 'static` and the schedule function
    // is `Send + Sync + 'static`, so the runnable and the task handle may go to any
    // thread.
    unsafe { spawn_unchecked(future, owned, schedule) }
}

/// Like [`spawn`] for a `!Send` future. The runnable must only ever be run or dropped
/// on the spawning thread; polling it elsewhere panics, and dropping it elsewhere leaks
/// the future rather than running its destructor on the wrong thread.
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
    let future = ThreadBound {
        thread: thread::current().id(),
        future: ManuallyDrop::new(future),
    };
    // The `JoinHandle` is `!Send` for a `!Send` output (async-task's `Task` is `Send`
    // only for `Send` outputs), so it stays on this thread.
    // SAFETY: `ThreadBound` keeps the runnable's future on this thread (it panics when
    // polled elsewhere, leaks when dropped elsewhere); the handle stays here (above).
    unsafe { spawn_unchecked(future, owned, schedule) }
}

/// Allocates the task (header in async-task's metadata, future wrapped in the
/// [`Harness`]) and registers it.
///
/// # Safety
///
/// `async_task::Builder::spawn_unchecked`'s contract for `F` and `S`: if `F` is not
/// `Send`, the runnable must be used and dropped on this thread; if `F::Output` is not
/// `Send`, the task handle must stay on this thread. (The future borrows nothing but the
/// task's own metadata, which that contract allows.)
unsafe fn spawn_unchecked<F, S>(
    future: F,
    owned: Option<&Arc<OwnedTasks>>,
    schedule: S,
) -> (Option<Runnable>, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Fn(Runnable, ScheduleInfo) + Send + Sync + 'static,
{
    let builder = async_task::Builder::new().metadata(Header::new());
    // SAFETY: forwarded from this function's contract; the harness borrows only the
    // metadata, and the schedule function is `Send + Sync + 'static`.
    let (runnable, task) = unsafe {
        builder.spawn_unchecked(
            move |header| Harness {
                future: Some(future),
                header,
            },
            WithInfo(schedule),
        )
    };
    finish(runnable, task, owned)
}

/// Registers the new task and builds its `JoinHandle`.
fn finish<T>(
    runnable: Runnable,
    task: async_task::Task<Result<T, JoinError>, Header>,
    owned: Option<&Arc<OwnedTasks>>,
) -> (Option<Runnable>, JoinHandle<T>) {
    let header = runnable.metadata();
    let waker = runnable.waker();
    let registered = owned.is_none_or(|owned| owned.insert(header, waker.clone()));
    let handle = JoinHandle::new(task.fallible(), header, waker);
    if !registered {
        // The scheduler is closed: the task is born aborted and its future is dropped
        // right here (running its destructor now).
        header.mark_aborted();
        drop(runnable);
        return (None, handle);
    }
    (Some(runnable), handle)
}

/// A `!Send` future pinned to the thread that created it.
struct ThreadBound<F> {
    thread: ThreadId,
    future: ManuallyDrop<F>,
}

impl<F: Future> Future for ThreadBound<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        assert_eq!(
            self.thread,
            thread::current().id(),
            "a local task was polled on a thread other than the one that spawned it"
        );
        // SAFETY: structural pinning: `future` is never moved out of `self` (it is
        // only dropped in place, in `Drop`).
        let future = unsafe { self.map_unchecked_mut(|this| &mut *this.future) };
        future.poll(cx)
    }
}

impl<F> Drop for ThreadBound<F> {
    fn drop(&mut self) {
        if self.thread == thread::current().id() {
            // SAFETY: dropped exactly once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.future) };
        }
        // On another thread: leak the future; running a `!Send` destructor there
        // would be unsound.
    }
}
