//! `JoinHandle` and `AbortHandle`: the owning and the cancelling views of a task.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use async_task::FallibleTask;

use crate::task::harness::TaskOutput;
use crate::task::header::Header;
use crate::task::owned::HeaderRef;
use crate::task::{Id, JoinError, coop};

/// An owned permission to join a task: awaiting it yields the task's output.
///
/// Dropping a `JoinHandle` *detaches* the task: it keeps running, and its output is
/// dropped when it finishes. Use [`abort`](Self::abort) to cancel it.
///
/// Awaiting a `JoinHandle` spends cooperative budget, like every runtime resource.
pub struct JoinHandle<T> {
    task: Option<FallibleTask<TaskOutput<T>, Header>>,
    /// The task's header; valid while `task` is `Some` (it holds a reference count).
    header: HeaderRef,
    id: Id,
    /// A waker of the task: aborting must schedule it, and abort handles keep the task
    /// allocation alive with a clone.
    waker: Waker,
    _output: PhantomData<T>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(
        task: FallibleTask<TaskOutput<T>, Header>,
        header: &Header,
        waker: Waker,
    ) -> Self {
        JoinHandle {
            id: header.id(),
            header: HeaderRef::new(header),
            task: Some(task),
            waker,
            _output: PhantomData,
        }
    }

    /// Cancels the task. An idle task is dropped at its next scheduling, a running one
    /// when its current poll returns; awaiting the handle then yields a
    /// [`JoinError`] for which [`is_cancelled`](JoinError::is_cancelled) is true.
    /// Aborting a finished task does nothing: its output stays available.
    ///
    /// A `spawn_blocking` closure cannot be interrupted once it has started.
    pub fn abort(&self) {
        if let Some(header) = self.header() {
            header.abort(&self.waker);
        }
    }

    fn header(&self) -> Option<&Header> {
        // SAFETY: while `task` is `Some`, it holds a reference count on the task
        // allocation, which contains the header; the borrow of `self` keeps it there.
        self.task.as_ref().map(|_| unsafe { self.header.get() })
    }

    /// True when the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|task| task.is_finished())
    }

    /// Returns a handle that can abort the task without owning it.
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            id: self.id,
            waker: self.waker.clone(),
            header: self.header,
        }
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        ready!(coop::poll_proceed(cx));
        let id = self.id;
        let task = self
            .task
            .as_mut()
            .expect("JoinHandle polled after it returned Ready");
        let output = ready!(Pin::new(task).poll(cx));
        self.task = None;
        Poll::Ready(match output {
            Some(output) => output.into_result(),
            // The runtime dropped the task without running it to completion.
            None => Err(JoinError::cancelled(id)),
        })
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            // Drops the output of a finished task here: `TaskOutput` keeps a panic in
            // its destructor from escaping (the dropper did not want the result).
            task.detach();
        }
    }
}

impl<T> Unpin for JoinHandle<T> {}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// A handle that can cancel a task without owning its output. Cloneable; dropping it
/// does nothing to the task.
#[derive(Clone)]
pub struct AbortHandle {
    id: Id,
    /// Keeps the task allocation (which holds the header) alive, and schedules the
    /// task when it is aborted.
    waker: Waker,
    header: HeaderRef,
}

impl AbortHandle {
    /// Cancels the task; see [`JoinHandle::abort`].
    pub fn abort(&self) {
        self.header().abort(&self.waker);
    }

    /// True once the task's future has been dropped (it completed, panicked or was
    /// cancelled).
    pub fn is_finished(&self) -> bool {
        self.header().is_finished()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.id
    }

    fn header(&self) -> &Header {
        // SAFETY: `self.waker` keeps the task allocation, which holds the header, alive
        // for as long as `self` (and so the returned borrow) lives.
        unsafe { self.header.get() }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}
