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
//!   abort requests, records the current task id for `task::id()`, calls the
//!   runtime's `on_task_terminate` callback, and deregisters the task when its future
//!   is dropped;
//! * [`TaskOutput`], the result async-task keeps for the `JoinHandle`.
//!
//! # Destructors (as in tokio)
//!
//! Every drop of a task's future or of its unjoined result runs with the task's id
//! current (`task::id()` works in destructors) and never unwinds into the scheduler or
//! async-task. A future whose poll panics is dropped *during* the unwinding, so its
//! destructors see `thread::panicking()` (a destructor that panics there aborts the
//! process, as any double panic does). A destructor that panics when an aborted task
//! is dropped, or one cancelled by its scheduler's shutdown ([`cancel`]), makes the
//! task's result `JoinError::Panic` instead of `Cancelled`; a panic while dropping an
//! unjoined result (`drop(JoinHandle)`, or a detached task finishing) is swallowed.
//!
//! # Abort protocol
//!
//! ```text
//! abort():  state |= ABORTED ; waker.wake()
//!                    │
//!                    ▼  the scheduler runs the task (or drops its Runnable on shutdown)
//! Harness::poll:  ABORTED set? ── yes ──► drop the inner future, return Err(Cancelled)
//!                      │ no                  (Err(Panic) if its destructor panicked)
//!                      │ no
//!                      ▼
//!                 poll the inner future (panics caught → Err(Panic))
//! ```
//!
//! Abort of a finished task does nothing (its output is already stored). Abort of a
//! running task takes effect at its next poll, which the wake-up guarantees. The
//! stored waker keeps only the task allocation alive, not the future: once the future
//! is dropped, the `Header` ↔ task cycle is gone.

use std::any::Any;
use std::future::Future;
use std::mem::{self, ManuallyDrop};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::{self, ThreadId};

use async_task::{ScheduleInfo, WithInfo};

use crate::runtime::TaskMeta;
use crate::runtime::hooks::TerminateCallback;
use crate::task::current_id;
use crate::task::header::Header;
use crate::task::id::Id;
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
        // The runtime's `on_task_terminate` callback.
        on_terminate: Option<TerminateCallback>,
    }

    impl<F> PinnedDrop for Harness<'_, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Still there: the task is dropped unfinished (its runnable was dropped, at
            // shutdown). Drop the user's future before deregistering, so shutdown's
            // "all tasks gone" also means "all destructors ran". A panicking
            // destructor must not unwind into async-task, which would abort.
            if this.future.as_ref().get_ref().is_some() {
                let id = this.header.id();
                let _ = drop_future(this.future, id);
                terminated(this.on_terminate, id);
            }
            this.header.mark_finished();
        }
    }
}

impl<F: Future> Future for Harness<'_, F> {
    type Output = TaskOutput<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let id = this.header.id();
        if this.future.as_ref().get_ref().is_none() {
            // async-task never polls a completed future; be defensive anyway.
            return Poll::Ready(TaskOutput::new(Err(JoinError::cancelled(id)), id));
        }
        if this.header.is_aborted() {
            // As in tokio, a destructor that panics makes the cancelled task a panicked
            // one.
            let result = match drop_future(this.future, id) {
                Ok(()) => Err(JoinError::cancelled(id)),
                Err(payload) => Err(JoinError::panic(id, payload)),
            };
            terminated(this.on_terminate, id);
            return Poll::Ready(TaskOutput::new(result, id));
        }
        let result = {
            let _task_id = current_id::set_current_task_id(Some(id));
            catch_unwind(AssertUnwindSafe(|| {
                // A poll that panics drops the future while the panic unwinds, as
                // tokio does: its destructors see `thread::panicking()`, and the task's
                // id is still current.
                let mut guard = DropOnUnwind(this.future.as_mut());
                let poll = guard
                    .0
                    .as_mut()
                    .as_pin_mut()
                    .expect("checked above")
                    .poll(cx);
                mem::forget(guard);
                poll
            }))
        };
        let result = match result {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(value)) => {
                // The output stands even if the future's destructor panics (tokio
                // ignores that panic as well).
                let _ = drop_future(this.future, id);
                Ok(value)
            }
            Err(payload) => Err(JoinError::panic(id, payload)),
        };
        terminated(this.on_terminate, id);
        Poll::Ready(TaskOutput::new(result, id))
    }
}

/// Drops the future in `slot` if the poll it guards unwinds.
struct DropOnUnwind<'a, F>(Pin<&'a mut Option<F>>);

impl<F> Drop for DropOnUnwind<'_, F> {
    fn drop(&mut self) {
        self.0.set(None);
    }
}

/// Drops a task's future with the task's id current (`task::id()` works in its
/// destructors, as in tokio); the payload if a destructor panicked.
fn drop_future<F>(mut future: Pin<&mut Option<F>>, id: Id) -> Result<(), Box<dyn Any + Send>> {
    let _task_id = current_id::set_current_task_id(Some(id));
    catch_unwind(AssertUnwindSafe(|| future.set(None)))
}

/// Calls the runtime's `on_task_terminate` callback for task `id`, ignoring a panic.
fn terminated(on_terminate: &Option<TerminateCallback>, id: Id) {
    if let Some(callback) = on_terminate {
        let _ = catch_unwind(AssertUnwindSafe(|| callback(&TaskMeta::new(id))));
    }
}

/// A task's result as async-task stores it until the `JoinHandle` takes it.
///
/// Dropping it (the handle was dropped before or after the task finished) runs the
/// result's destructor with the task's id current, as tokio does, and swallows a panic
/// from it: that panic would otherwise escape `drop(JoinHandle)`, or abort the process
/// inside async-task (which drops a detached task's output where unwinding is fatal).
pub(crate) struct TaskOutput<T> {
    result: Option<Result<T, JoinError>>,
    id: Id,
}

impl<T> TaskOutput<T> {
    fn new(result: Result<T, JoinError>, id: Id) -> TaskOutput<T> {
        TaskOutput {
            result: Some(result),
            id,
        }
    }

    /// The result, for the `JoinHandle` that awaited the task.
    pub(crate) fn into_result(mut self) -> Result<T, JoinError> {
        self.result
            .take()
            .expect("a task's output is taken only once")
    }
}

impl<T> Drop for TaskOutput<T> {
    fn drop(&mut self) {
        if let Some(result) = self.result.take() {
            let _task_id = current_id::set_current_task_id(Some(self.id));
            let _ = catch_unwind(AssertUnwindSafe(move || drop(result)));
        }
    }
}

/// Cancels a scheduled task that will never run again (its scheduler shuts down):
/// drops its future here, as `abort` would, so that a destructor that panics makes
/// its result `JoinError::Panic` (as in tokio) instead of being lost with the
/// runnable. Must be called where the runnable may run: any thread for a `Send`
/// task, the owning thread for a local one.
pub(crate) fn cancel(runnable: Runnable) {
    runnable.metadata().mark_aborted();
    // The harness sees the abort and only drops the future; the user's poll never runs.
    runnable.run();
}

/// Creates a task for `future` that `schedule` will queue whenever it is woken.
///
/// Registers it in `owned` (when given). Returns the first `Runnable` (to be scheduled
/// by the caller) and the `JoinHandle`; `None` for the runnable means the scheduler is
/// closed and the task was cancelled on the spot.
pub(crate) fn spawn<F, S>(
    future: F,
    owned: Option<&Arc<OwnedTasks>>,
    on_terminate: Option<TerminateCallback>,
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
    unsafe { spawn_unchecked(future, owned, on_terminate, schedule) }
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
    unsafe { spawn_unchecked(future, owned, None, schedule) }
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
    on_terminate: Option<TerminateCallback>,
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
                on_terminate,
            },
            WithInfo(schedule),
        )
    };
    finish(runnable, task, owned)
}

/// Registers the new task and builds its `JoinHandle`.
fn finish<T>(
    runnable: Runnable,
    task: async_task::Task<TaskOutput<T>, Header>,
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
