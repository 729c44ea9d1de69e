//! `LocalSet`: running `!Send` futures on the thread that owns the set.
//!
//! A [`LocalSet`] owns a group of *local tasks* — futures that may hold `Rc`, `RefCell`
//! or other thread-bound state — and runs them on the one thread that created it,
//! whenever that thread polls the set (through [`LocalSet::run_until`],
//! [`LocalSet::block_on`], or by awaiting the set itself).
//!
//! # What lives where
//!
//! ```text
//! LocalSet ──Rc──► LocalContext (this thread only)   Shared (any thread, Arc)
//!                   ├ local_queue: VecDeque<Runnable> ├ remote_queue: Mutex<Option<VecDeque<..>>>
//!                   ├ owned: OwnedTasks registry      ├ waker: the set's poller
//!                   ├ live_tasks: Rc<Cell<usize>>     └ owner: ThreadId
//!                   ├ tick counter, in_poll flag
//!                   └ shared ──────────Arc──────────►
//! ```
//!
//! Every task's schedule function holds only the `Arc<Shared>`, so it is `Send + Sync`
//! as async-task requires. `Shared` points at nothing task-related: the registry
//! (which holds a waker, so a reference, of every task) lives in the thread-confined
//! half, so registry → task → schedule function → `Shared` is not a cycle. The only
//! cycle, remote queue → runnable → schedule function → `Shared`, is broken at drop,
//! which empties that queue.
//!
//! `live_tasks` counts the local futures not dropped yet: each is wrapped in a
//! [`Counted`] whose guard decrements it. `impl Future for LocalSet` completes when it
//! reaches zero, and drop waits for it (the registry can only be walked in O(tasks)).
//!
//! # Where a woken task goes
//!
//! * The waking thread has *entered* this set (the thread-local [`CURRENT`] points at
//!   its context, which implies it is the owning thread): the runnable is pushed on the
//!   local queue, with no lock. If the set is not inside its own poll at that moment
//!   (for example under an [`enter`](LocalSet::enter) guard while other code runs),
//!   the set's waker is woken too, so the poller comes back for it.
//! * Any other case (another thread, or the owning thread outside the set): the
//!   runnable is pushed on the remote queue under its mutex, and the set's waker is
//!   taken and woken.
//!
//! # One poll
//!
//! `run_until` and `impl Future for LocalSet` register the caller's waker first, then
//! (for `run_until`) poll the main future with the set entered, then run at most
//! [`MAX_TASKS_PER_TICK`] local tasks, each under a fresh cooperative budget. Every
//! [`REMOTE_FIRST_INTERVAL`]th task is taken from the remote queue first, so remote
//! wake-ups cannot be starved by a busy local queue. When the batch is used up while
//! work remains, the poll wakes its own waker and returns `Pending`: the outer runtime
//! gets to run its other tasks and its I/O before the set continues.
//!
//! # Shutdown order (drop of a `LocalSet`)
//!
//! All steps run on the owning thread, with the set entered (so a destructor that
//! calls [`spawn_local`] gets a cancelled `JoinHandle` instead of a panic):
//!
//! 1. take the waker (nobody polls the set any more);
//! 2. close the registry: new spawns are cancelled on the spot;
//! 3. drop every queued runnable (this drops their futures here);
//! 4. `abort_all`: every idle task is woken; the wake-ups land in the local queue
//!    (this thread) or the remote queue (another thread);
//! 5. drain both queues until `live_tasks` is zero. A foreign thread may
//!    be between async-task's "scheduled" transition and its push to the remote queue;
//!    the loop yields the CPU until that runnable arrives (bounded by
//!    [`DROP_WAIT_LIMIT`], which should never be reached);
//! 6. close the remote queue (`None`).
//!
//! After step 5, every local future has been dropped on the owning thread, so
//! async-task never calls the schedule function of these tasks again (a wake of a
//! completed or closed task is a no-op). Should a runnable still reach the closed
//! remote queue from another thread, it is *forgotten*, not dropped: dropping it there
//! would drop a `!Send` future (and the task's other thread-bound state) on the wrong
//! thread. The task harness would refuse to run that destructor too, but this file
//! does not depend on it. Forgetting leaks the task allocation (and, only if step 5
//! gave up, its future).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use crate::loom::{Mutex, lock};
use crate::runtime::{Runtime, context};
use crate::task::harness::Runnable;
use crate::task::owned::OwnedTasks;
use crate::task::{JoinHandle, coop, harness};

/// Local tasks run per poll of the set before it yields to the outer runtime.
const MAX_TASKS_PER_TICK: u32 = 61;

/// Every this many tasks, the remote queue is checked before the local one.
const REMOTE_FIRST_INTERVAL: u32 = 31;

/// How long a dropped `LocalSet` waits for a runnable that another thread is pushing.
const DROP_WAIT_LIMIT: Duration = Duration::from_secs(1);

thread_local! {
    /// The set entered on this thread (inside its poll, or under an `enter` guard).
    static CURRENT: RefCell<Option<Rc<LocalContext>>> = const { RefCell::new(None) };
}

/// A set of `!Send` tasks that all run on the thread that created the set.
///
/// Spawn tasks with [`spawn_local`](LocalSet::spawn_local) (or the free function
/// [`task::spawn_local`](crate::task::spawn_local) from code running inside the set),
/// then drive them with [`run_until`](LocalSet::run_until) (inside a runtime) or
/// [`block_on`](LocalSet::block_on). Local tasks only make progress while the set is
/// being polled. The set works with both runtime flavours: on a multi-thread runtime
/// the local tasks run on the thread that blocks on (or otherwise polls) the set.
///
/// ```
/// use std::rc::Rc;
/// use ringtide::task::LocalSet;
///
/// let runtime = ringtide::runtime::Builder::new_current_thread().build().unwrap();
/// let local = LocalSet::new();
/// let shared = Rc::new(41);
/// let answer = local.block_on(&runtime, async move {
///     let task = ringtide::task::spawn_local(async move { *shared + 1 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// Dropping the set cancels its remaining tasks and runs their destructors on this
/// thread.
pub struct LocalSet {
    context: Rc<LocalContext>,
}

/// The thread-confined half of a `LocalSet`.
struct LocalContext {
    shared: Arc<Shared>,
    owned: Arc<OwnedTasks>,
    /// Local futures not dropped yet.
    live_tasks: Rc<Cell<usize>>,
    local_queue: RefCell<VecDeque<Runnable>>,
    tick: Cell<u32>,
    /// True while the set is inside its own poll (its tick will see queued tasks).
    in_poll: Cell<bool>,
}

/// The half of a `LocalSet` that wake-ups from any thread reach.
struct Shared {
    /// `None` once the set has been dropped.
    remote_queue: Mutex<Option<VecDeque<Runnable>>>,
    /// The waker of whoever polls the set; taken by the first wake-up after a poll.
    waker: Mutex<Option<Waker>>,
    owner: ThreadId,
}

impl LocalSet {
    /// Creates an empty set, owned by the calling thread.
    pub fn new() -> LocalSet {
        LocalSet {
            context: Rc::new(LocalContext {
                shared: Arc::new(Shared {
                    remote_queue: Mutex::new(Some(VecDeque::new())),
                    waker: Mutex::new(None),
                    owner: thread::current().id(),
                }),
                owned: Arc::new(OwnedTasks::new()),
                live_tasks: Rc::new(Cell::new(0)),
                local_queue: RefCell::new(VecDeque::new()),
                tick: Cell::new(0),
                in_poll: Cell::new(false),
            }),
        }
    }

    /// Spawns a `!Send` future on this set and returns its handle.
    ///
    /// The task runs the next time the set is polled (it does not need a runtime to be
    /// spawned, only to be driven). Dropping the handle detaches the task.
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.context.spawn(future)
    }

    /// Runs `future` to completion, running the set's tasks whenever `future` waits.
    ///
    /// Await it inside a runtime (for example in `Runtime::block_on`, or in a task of
    /// another `LocalSet`). Inside `future`, [`task::spawn_local`](crate::task::spawn_local)
    /// spawns onto this set. Local tasks still pending when `future` completes stay in
    /// the set; they run at its next poll, or are cancelled when it is dropped.
    pub async fn run_until<F: Future>(&self, future: F) -> F::Output {
        RunUntil {
            local_set: self,
            future,
        }
        .await
    }

    /// Blocks the current thread on `future` inside `runtime`, running this set's tasks
    /// meanwhile. Same as `runtime.block_on(local_set.run_until(future))`.
    ///
    /// # Panics
    ///
    /// Panics where [`Runtime::block_on`] does: when called from a thread that already
    /// drives a runtime.
    #[track_caller]
    pub fn block_on<F: Future>(&self, runtime: &Runtime, future: F) -> F::Output {
        runtime.block_on(self.run_until(future))
    }

    /// Enters the set on this thread until the guard drops, so that
    /// [`task::spawn_local`](crate::task::spawn_local) spawns onto it from code that
    /// does not run inside the set.
    pub fn enter(&self) -> LocalEnterGuard {
        LocalEnterGuard {
            previous: enter(&self.context),
        }
    }
}

impl Default for LocalSet {
    fn default() -> LocalSet {
        LocalSet::new()
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("tasks", &self.context.live_tasks.get())
            .field("local_queue", &self.context.local_queue.borrow().len())
            .finish_non_exhaustive()
    }
}

/// Polling the set runs its tasks until none is left (all completed or cancelled).
impl Future for LocalSet {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let context = &self.context;
        context.shared.register_waker(cx.waker());
        context.polling(|| {
            if context.tick() {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else if context.live_tasks.get() == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        let context = &self.context;
        let shared = &context.shared;
        // See "Shutdown order" in the module docs.
        drop(shared.take_waker());
        let entered = try_enter(context);
        let no_block_in_place = context::disallow_block_in_place();
        context.owned.close();
        context.drop_queued();
        context.owned.abort_all();
        context.drop_queued();
        if context.live_tasks.get() > 0 {
            let deadline = Instant::now() + DROP_WAIT_LIMIT;
            while context.live_tasks.get() > 0 && Instant::now() < deadline {
                thread::yield_now();
                context.drop_queued();
            }
        }
        drop(no_block_in_place);
        drop(entered);
        let leftovers = lock(&shared.remote_queue).take();
        drop(leftovers);
        context.drop_queued();
    }
}

/// Keeps a [`LocalSet`] entered on this thread; returned by [`LocalSet::enter`].
#[must_use = "the LocalSet is only entered while the guard is alive"]
pub struct LocalEnterGuard {
    previous: Option<Rc<LocalContext>>,
}

impl Drop for LocalEnterGuard {
    fn drop(&mut self) {
        restore(self.previous.take());
    }
}

impl fmt::Debug for LocalEnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEnterGuard").finish_non_exhaustive()
    }
}

/// Spawns a `!Send` future on the [`LocalSet`] running on (or entered on) this thread.
///
/// ```
/// use ringtide::task::{self, LocalSet};
///
/// let runtime = ringtide::runtime::Builder::new_current_thread().build().unwrap();
/// LocalSet::new().block_on(&runtime, async {
///     let text = std::rc::Rc::new("local");
///     let task = task::spawn_local(async move { text.len() });
///     assert_eq!(task.await.unwrap(), 5);
/// });
/// ```
///
/// # Panics
///
/// Panics when no `LocalSet` is running on this thread: call it from a local task,
/// inside [`LocalSet::run_until`] / [`LocalSet::block_on`], or under
/// [`LocalSet::enter`].
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match current() {
        Some(context) => context.spawn(future),
        None => panic!(
            "spawn_local called outside a LocalSet: call it from a task spawned on a \
             `LocalSet`, inside `LocalSet::run_until` or `LocalSet::block_on`, or while \
             a `LocalSet::enter` guard is alive"
        ),
    }
}

pin_project_lite::pin_project! {
    /// The future behind `LocalSet::run_until`.
    struct RunUntil<'a, F> {
        local_set: &'a LocalSet,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for RunUntil<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let context = &this.local_set.context;
        let mut future = this.future;
        // Registered before looking at the queues: a remote push after our last look
        // finds this waker.
        context.shared.register_waker(cx.waker());
        context.polling(|| {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(output);
            }
            if context.tick() {
                // Work is left: come back after the outer runtime had its turn.
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
    }
}

impl LocalContext {
    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let shared = self.shared.clone();
        let future = Counted {
            future,
            _live: LiveGuard::new(&self.live_tasks),
        };
        let (runnable, handle) =
            harness::spawn_local(future, Some(&self.owned), move |runnable, _info| {
                shared.schedule(runnable)
            });
        // `&self` exists only on the owning thread (`LocalSet` is neither `Send` nor
        // `Sync`), so the first runnable goes straight to the local queue.
        if let Some(runnable) = runnable {
            self.push_local(runnable);
        }
        handle
    }

    /// Queues a runnable on the owning thread; see "Where a woken task goes".
    fn push_local(&self, runnable: Runnable) {
        self.local_queue.borrow_mut().push_back(runnable);
        if !self.in_poll.get() {
            self.shared.wake_poller();
        }
    }

    /// Runs `f` with the set entered and marked as polling.
    fn polling<R>(self: &Rc<Self>, f: impl FnOnce() -> R) -> R {
        struct Reset<'a> {
            context: &'a LocalContext,
            was_in_poll: bool,
            previous: Option<Rc<LocalContext>>,
        }
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                self.context.in_poll.set(self.was_in_poll);
                restore(self.previous.take());
            }
        }
        let _reset = Reset {
            context: self,
            was_in_poll: self.in_poll.replace(true),
            previous: enter(self),
        };
        // Local tasks cannot follow a core to another thread (see `block_in_place`).
        let _no_block_in_place = context::disallow_block_in_place();
        f()
    }

    /// Runs up to `MAX_TASKS_PER_TICK` tasks. Returns true if tasks are still queued.
    fn tick(&self) -> bool {
        for _ in 0..MAX_TASKS_PER_TICK {
            let Some(runnable) = self.next_task() else {
                return false;
            };
            coop::budget(|| runnable.run());
        }
        !self.local_queue.borrow().is_empty() || self.shared.has_remote()
    }

    fn next_task(&self) -> Option<Runnable> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick.is_multiple_of(REMOTE_FIRST_INTERVAL) {
            self.shared.pop_remote().or_else(|| self.pop_local())
        } else {
            self.pop_local().or_else(|| self.shared.pop_remote())
        }
    }

    fn pop_local(&self) -> Option<Runnable> {
        // The borrow ends before the runnable is run or dropped (which may re-enter
        // `push_local`).
        self.local_queue.borrow_mut().pop_front()
    }

    /// Cancels every queued runnable (dropping its future, see `harness::cancel`), on
    /// this (the owning) thread, until both queues are empty; a dropped future may wake
    /// further tasks.
    fn drop_queued(&self) {
        while let Some(runnable) = self.pop_local().or_else(|| self.shared.pop_remote()) {
            harness::cancel(runnable);
        }
    }
}

pin_project_lite::pin_project! {
    /// A local task's future, counted in its set's `live_tasks` until it is dropped.
    struct Counted<F> {
        #[pin]
        future: F,
        _live: LiveGuard,
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().future.poll(cx)
    }
}

/// Increments a live-task counter when created, decrements it when dropped.
struct LiveGuard(Rc<Cell<usize>>);

impl LiveGuard {
    fn new(counter: &Rc<Cell<usize>>) -> LiveGuard {
        counter.set(counter.get() + 1);
        LiveGuard(counter.clone())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl Shared {
    /// The schedule function of every task of the set; runs on the waking thread.
    fn schedule(self: &Arc<Self>, runnable: Runnable) {
        match current().filter(|context| Arc::ptr_eq(&context.shared, self)) {
            Some(context) => context.push_local(runnable),
            None => self.push_remote(runnable),
        }
    }

    fn push_remote(&self, runnable: Runnable) {
        let mut queue = lock(&self.remote_queue);
        match queue.as_mut() {
            Some(queue_ref) => {
                queue_ref.push_back(runnable);
                drop(queue);
                self.wake_poller();
            }
            None => {
                drop(queue);
                // The set has been dropped (see the module docs: this should be
                // unreachable, since every future was dropped first).
                if thread::current().id() == self.owner {
                    drop(runnable);
                } else {
                    // Dropping it here would drop a `!Send` future on the wrong thread:
                    // leak it instead (see the module docs).
                    std::mem::forget(runnable);
                }
            }
        }
    }

    fn pop_remote(&self) -> Option<Runnable> {
        lock(&self.remote_queue).as_mut()?.pop_front()
    }

    fn has_remote(&self) -> bool {
        lock(&self.remote_queue)
            .as_ref()
            .is_some_and(|queue| !queue.is_empty())
    }

    fn register_waker(&self, waker: &Waker) {
        let mut slot = lock(&self.waker);
        if slot
            .as_ref()
            .is_some_and(|current| current.will_wake(waker))
        {
            return;
        }
        let previous = slot.replace(waker.clone());
        drop(slot);
        // Dropped outside the lock: a waker's destructor may run arbitrary code.
        drop(previous);
    }

    fn take_waker(&self) -> Option<Waker> {
        lock(&self.waker).take()
    }

    /// Wakes whoever polls the set (once per registration).
    fn wake_poller(&self) {
        if let Some(waker) = self.take_waker() {
            waker.wake();
        }
    }
}

/// The set entered on this thread, if any.
fn current() -> Option<Rc<LocalContext>> {
    CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten()
}

/// Makes `context` the entered set of this thread; returns the previous one.
fn enter(context: &Rc<LocalContext>) -> Option<Rc<LocalContext>> {
    // During thread-local teardown the set cannot be entered: `spawn_local` then
    // panics with its "outside a LocalSet" message instead of an access error.
    CURRENT
        .try_with(|current| current.replace(Some(context.clone())))
        .ok()
        .flatten()
}

/// Like [`enter`], but does nothing while thread-locals are being destroyed.
fn try_enter(context: &Rc<LocalContext>) -> Option<LocalEnterGuard> {
    CURRENT
        .try_with(|current| LocalEnterGuard {
            previous: current.replace(Some(context.clone())),
        })
        .ok()
}

/// Restores the entered set that [`enter`] replaced.
fn restore(previous: Option<Rc<LocalContext>>) {
    let replaced = CURRENT.try_with(|current| current.replace(previous));
    // Dropped after the `RefCell` is released.
    drop(replaced);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::yield_now;
    use futures::channel::oneshot;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::mpsc;

    use crate::task::test_runtimes::{current_thread, multi_thread, runtimes};

    /// Counts its drops and checks they happen on the thread that created it.
    struct DropCounter {
        drops: Rc<Cell<usize>>,
        thread: ThreadId,
    }

    impl DropCounter {
        fn new(drops: &Rc<Cell<usize>>) -> DropCounter {
            DropCounter {
                drops: drops.clone(),
                thread: thread::current().id(),
            }
        }
    }

    impl Drop for DropCounter {
        fn drop(&mut self) {
            assert_eq!(
                self.thread,
                thread::current().id(),
                "dropped on another thread"
            );
            self.drops.set(self.drops.get() + 1);
        }
    }

    #[test]
    fn rc_in_local_task() {
        for runtime in runtimes() {
            let local = LocalSet::new();
            let value = Rc::new(Cell::new(1));
            let in_task = value.clone();
            let output = local.block_on(&runtime, async move {
                let handle = spawn_local(async move {
                    yield_now().await;
                    in_task.set(in_task.get() + 1);
                    Rc::new(in_task.get() * 10)
                });
                *handle.await.unwrap()
            });
            assert_eq!(output, 20);
            assert_eq!(value.get(), 2);
        }
    }

    #[test]
    fn spawn_local_from_inside_a_local_task() {
        for runtime in runtimes() {
            let local = LocalSet::new();
            let sum = local.block_on(&runtime, async {
                let outer = spawn_local(async {
                    let inner: Vec<_> = (0..100u64)
                        .map(|i| {
                            spawn_local(async move {
                                yield_now().await;
                                i
                            })
                        })
                        .collect();
                    let mut sum = 0;
                    for handle in inner {
                        sum += handle.await.unwrap();
                    }
                    sum
                });
                outer.await.unwrap()
            });
            assert_eq!(sum, 4950);
        }
    }

    #[test]
    fn local_set_spawn_before_running_and_await_the_set() {
        for runtime in runtimes() {
            let local = LocalSet::new();
            let done = Rc::new(Cell::new(0));
            for _ in 0..200 {
                let done = done.clone();
                local.spawn_local(async move {
                    yield_now().await;
                    done.set(done.get() + 1);
                });
            }
            runtime.block_on(local);
            assert_eq!(done.get(), 200);
        }
    }

    #[test]
    fn wake_from_another_thread() {
        for runtime in runtimes() {
            let local = LocalSet::new();
            let (sender_tx, sender_rx) = mpsc::channel::<oneshot::Sender<u32>>();
            let helper = thread::spawn(move || {
                for sender in sender_rx {
                    thread::sleep(Duration::from_millis(5));
                    sender.send(7).unwrap();
                }
            });
            let total = local.block_on(&runtime, async move {
                let mut handles = Vec::new();
                for _ in 0..5 {
                    let (tx, rx) = oneshot::channel();
                    sender_tx.send(tx).unwrap();
                    let not_send = Rc::new(());
                    handles.push(spawn_local(async move {
                        let value = rx.await.unwrap();
                        drop(not_send);
                        value
                    }));
                }
                drop(sender_tx);
                let mut total = 0;
                for handle in handles {
                    total += handle.await.unwrap();
                }
                total
            });
            helper.join().unwrap();
            assert_eq!(total, 35);
        }
    }

    #[test]
    fn abort_local_task_runs_its_destructor() {
        for runtime in runtimes() {
            let local = LocalSet::new();
            let drops = Rc::new(Cell::new(0));
            let guard = DropCounter::new(&drops);
            local.block_on(&runtime, async {
                let handle = spawn_local(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await
                });
                yield_now().await;
                handle.abort();
                let error = handle.await.unwrap_err();
                assert!(error.is_cancelled());
            });
            assert_eq!(drops.get(), 1);
        }
    }

    #[test]
    fn abort_from_another_thread() {
        let runtime = multi_thread();
        let local = LocalSet::new();
        local.block_on(&runtime, async {
            let handle = spawn_local(std::future::pending::<()>());
            let abort = handle.abort_handle();
            thread::spawn(move || abort.abort()).join().unwrap();
            assert!(handle.await.unwrap_err().is_cancelled());
        });
    }

    #[test]
    fn drop_runs_destructors_of_pending_tasks_on_the_owning_thread() {
        for runtime in runtimes() {
            let drops = Rc::new(Cell::new(0));
            let local = LocalSet::new();
            let mut handles = Vec::new();
            // Idle tasks: polled once, then waiting forever.
            for _ in 0..10 {
                let guard = DropCounter::new(&drops);
                handles.push(local.spawn_local(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await
                }));
            }
            local.block_on(&runtime, yield_now());
            // Queued tasks: never polled.
            for _ in 0..10 {
                let guard = DropCounter::new(&drops);
                handles.push(local.spawn_local(async move {
                    let _guard = guard;
                }));
            }
            assert_eq!(drops.get(), 0);
            drop(local);
            assert_eq!(drops.get(), 20);
            for handle in handles {
                let error = runtime.block_on(handle).unwrap_err();
                assert!(error.is_cancelled());
            }
        }
    }

    #[test]
    fn destructor_may_spawn_local_during_drop() {
        struct SpawnOnDrop(Rc<Cell<bool>>);
        impl Drop for SpawnOnDrop {
            fn drop(&mut self) {
                let handle = spawn_local(async {});
                self.0.set(handle.is_finished());
            }
        }
        let runtime = current_thread();
        let local = LocalSet::new();
        let cancelled = Rc::new(Cell::new(false));
        let guard = SpawnOnDrop(cancelled.clone());
        local.spawn_local(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        local.block_on(&runtime, yield_now());
        drop(local);
        assert!(cancelled.get(), "a spawn during drop is cancelled at once");
    }

    #[test]
    fn drop_while_other_threads_wake_tasks() {
        /// Completes after `remaining` polls; sends its waker to a helper thread
        /// that keeps waking it.
        struct WakeMeElsewhere {
            remaining: usize,
            wakers: mpsc::Sender<Waker>,
        }
        impl Future for WakeMeElsewhere {
            type Output = ();
            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                if self.remaining == 0 {
                    return Poll::Ready(());
                }
                self.remaining -= 1;
                let _ = self.wakers.send(cx.waker().clone());
                Poll::Pending
            }
        }

        let runtime = current_thread();
        for round in 0..20 {
            let (waker_tx, waker_rx) = mpsc::channel::<Waker>();
            let stop = Arc::new(AtomicBool::new(false));
            let stop_helpers = stop.clone();
            let helper = thread::spawn(move || {
                let mut wakers = Vec::new();
                while !stop_helpers.load(Ordering::Relaxed) {
                    wakers.extend(waker_rx.try_iter());
                    for waker in &wakers {
                        waker.wake_by_ref();
                    }
                }
                // Late wake-ups, after the set is gone.
                for waker in wakers {
                    waker.wake();
                }
            });
            let drops = Rc::new(Cell::new(0));
            let local = LocalSet::new();
            for _ in 0..50 {
                let guard = DropCounter::new(&drops);
                let wakers = waker_tx.clone();
                local.spawn_local(async move {
                    let _guard = guard;
                    WakeMeElsewhere {
                        remaining: usize::MAX,
                        wakers,
                    }
                    .await
                });
            }
            local.block_on(&runtime, async {
                for _ in 0..round {
                    yield_now().await;
                }
            });
            drop(local);
            assert_eq!(drops.get(), 50);
            stop.store(true, Ordering::Relaxed);
            helper.join().unwrap();
        }
    }

    #[test]
    fn busy_local_task_does_not_starve_the_runtime() {
        // A local task that only yields keeps the local queue non-empty; the set must
        // still hand the thread back to the runtime, whose own task must get to run.
        for runtime in runtimes() {
            let local = LocalSet::new();
            let runtime_task_ran = Arc::new(AtomicBool::new(false));
            let ran = runtime_task_ran.clone();
            let spins = local.block_on(&runtime, async move {
                let _runtime_task = crate::spawn(async move { ran.store(true, Ordering::SeqCst) });
                let spinner = spawn_local(async move {
                    let mut spins = 0u64;
                    while !runtime_task_ran.load(Ordering::SeqCst) && spins < 100_000 {
                        yield_now().await;
                        spins += 1;
                    }
                    spins
                });
                spinner.await.unwrap()
            });
            assert!(spins < 100_000, "the runtime's task never ran");
        }
    }

    #[test]
    fn runtime_task_wakes_local_task_under_enter_guard() {
        // Wake-ups on the owning thread while the set is entered but not polled go to
        // the local queue and must still wake the set's poller.
        let runtime = current_thread();
        let local = LocalSet::new();
        let _entered = local.enter();
        let (tx, rx) = oneshot::channel::<u32>();
        let receiver = spawn_local(async move { rx.await.unwrap() });
        let output = local.block_on(&runtime, async move {
            let sender = crate::spawn(async move {
                yield_now().await;
                tx.send(3).unwrap();
            });
            sender.await.unwrap();
            receiver.await.unwrap()
        });
        assert_eq!(output, 3);
    }

    #[test]
    fn nested_local_set_inside_a_local_task() {
        let runtime = current_thread();
        let outer = LocalSet::new();
        let output = outer.block_on(&runtime, async {
            spawn_local(async {
                let inner = LocalSet::new();
                inner
                    .run_until(async {
                        let shared = Rc::new(5);
                        spawn_local(async move { *shared * 2 }).await.unwrap()
                    })
                    .await
            })
            .await
            .unwrap()
        });
        assert_eq!(output, 10);
    }

    #[test]
    fn many_tasks_woken_from_a_multi_thread_runtime() {
        let runtime = multi_thread();
        let local = LocalSet::new();
        let finished = Arc::new(AtomicUsize::new(0));
        local.block_on(&runtime, async {
            let mut handles = Vec::new();
            for i in 0..500 {
                let (tx, rx) = oneshot::channel::<usize>();
                crate::spawn(async move {
                    yield_now().await;
                    let _ = tx.send(i);
                });
                let finished = finished.clone();
                let not_send = Rc::new(i);
                handles.push(spawn_local(async move {
                    assert_eq!(rx.await.unwrap(), *not_send);
                    finished.fetch_add(1, Ordering::Relaxed);
                }));
            }
            for handle in handles {
                handle.await.unwrap();
            }
        });
        assert_eq!(finished.load(Ordering::Relaxed), 500);
    }

    #[test]
    fn panicking_local_task_reports_panic() {
        let runtime = current_thread();
        let local = LocalSet::new();
        local.block_on(&runtime, async {
            let error = spawn_local(async { panic!("boom") }).await.unwrap_err();
            assert!(error.is_panic());
        });
    }

    #[test]
    #[should_panic(expected = "spawn_local called outside a LocalSet")]
    fn spawn_local_outside_a_local_set_panics() {
        drop(spawn_local(async {}));
    }

    #[test]
    #[should_panic(expected = "spawn_local called outside a LocalSet")]
    fn spawn_local_in_a_runtime_without_local_set_panics() {
        current_thread().block_on(async {
            drop(spawn_local(async {}));
        });
    }
}
