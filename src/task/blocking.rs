//! Running blocking code: `spawn_blocking` and `block_in_place`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::blocking::{Mandatory, SpawnError};
use crate::runtime::{Handle, scheduler};
use crate::task::{JoinHandle, harness};

/// A future that runs one blocking closure the first time it is polled.
#[derive(Debug)]
pub(crate) struct BlockingTask<F> {
    func: Option<F>,
}

impl<F> BlockingTask<F> {
    pub(crate) fn new(func: F) -> BlockingTask<F> {
        BlockingTask { func: Some(func) }
    }
}

// The closure is never pinned: it is moved out before it runs.
impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let func = self
            .func
            .take()
            .expect("a blocking task is polled once and completes");
        let output = func();
        // This pool thread is on its way back to the queue: spawns from now on can
        // count on it instead of starting another thread.
        crate::blocking::closure_returned();
        Poll::Ready(output)
    }
}

/// Runs a blocking closure on the runtime's blocking thread pool and returns a handle
/// to its result.
///
/// The pool starts threads on demand, up to `max_blocking_threads` (512 by default);
/// beyond that, closures queue. Idle threads exit after `thread_keep_alive`. A panic in
/// the closure comes back as a [`JoinError`](crate::task::JoinError) and the pool keeps
/// working. `abort` cancels a closure that has not started yet; a running closure
/// cannot be interrupted. At shutdown, queued closures that have not started are
/// dropped and the runtime waits for running ones (see `Runtime::shutdown_timeout`).
///
/// # Panics
///
/// Panics when called outside a runtime, or when not a single thread can be started.
#[track_caller]
pub fn spawn_blocking<F, R>(func: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let handle = Handle::current();
    spawn_blocking_on(&handle.inner, func)
}

#[track_caller]
pub(crate) fn spawn_blocking_on<F, R>(handle: &scheduler::Handle, func: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match try_spawn_blocking_on(handle, func) {
        Ok(join) => join,
        Err(error) => {
            panic!("spawn_blocking: no thread could be started to run the closure: {error}")
        }
    }
}

/// [`spawn_blocking_on`] that reports, instead of panicking, that not a single thread
/// could be started to run the closure (`task::Builder::spawn_blocking`'s error).
pub(crate) fn try_spawn_blocking_on<F, R>(
    handle: &scheduler::Handle,
    func: F,
) -> io::Result<JoinHandle<R>>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let spawner = handle.blocking_spawner().clone();
    let schedule_spawner = spawner.clone();
    let on_terminate = handle.common().hooks.terminate();
    let (runnable, join) = harness::spawn(
        BlockingTask::new(func),
        None,
        on_terminate,
        move |task, _| {
            // Only reached if the closure's task is woken again, which never happens for
            // a closure that ran; requeue defensively.
            let _ = schedule_spawner.spawn(task, Mandatory::No);
        },
    );
    if let Some(runnable) = runnable {
        match spawner.spawn(runnable, Mandatory::No) {
            Ok(()) => {}
            // The runtime is shutting down: the task was dropped and the handle
            // reports it as cancelled.
            Err(SpawnError::ShutDown) => {}
            Err(SpawnError::NoThread(error)) => return Err(error),
        }
    }
    Ok(join)
}

/// Runs a blocking closure on the current worker thread, after handing the worker's
/// queued tasks to a new worker thread so they keep running meanwhile.
///
/// Outside a runtime, or on the thread that called `Runtime::block_on` of a
/// multi-thread runtime, it simply runs `func`. Other tasks of the calling task are
/// suspended while `func` runs (the calling task cannot be polled).
///
/// # Panics
///
/// Panics when called on a current-thread runtime: there is no other thread to keep
/// its tasks running. Use [`spawn_blocking`] there.
#[track_caller]
pub fn block_in_place<F, R>(func: F) -> R
where
    F: FnOnce() -> R,
{
    scheduler::multi_thread::block_in_place(func)
}
