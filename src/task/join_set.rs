//! `JoinSet`: a collection of tasks, joined in the order they complete.
//!
//! # Structure
//!
//! ```text
//! JoinSet ─┬─ entries: Slab<Entry>        Entry = JoinHandle + its own Waker
//!          │                                               │
//!          └─ ready: Arc<ReadyList> ◄── Arc ── EntryNotifier (key, state)
//!                 ├ queue: VecDeque<Arc<EntryNotifier>>   (notified entries, FIFO)
//!                 └ waker: the task awaiting `join_next`
//! ```
//!
//! Every entry polls its `JoinHandle` with its *own* waker, an [`EntryNotifier`]. When
//! the task finishes (or wakes its handle for any other reason), the notifier appends
//! itself to the shared ready queue and wakes the `JoinSet`'s waker. `join_next` only
//! polls entries taken from that queue, so joining costs O(1) per wake-up no matter
//! how many tasks are idle, and results come back in completion order. A new entry
//! starts out notified, so its handle gets polled (and its waker registered) once.
//!
//! # Notifier state machine
//!
//! ```text
//!            wake: push on the ready queue
//!   IDLE ─────────────────────────────────► NOTIFIED
//!    ▲                                          │
//!    └──── join_next pops it, before polling ───┘
//!
//!   any state ──── entry removed from the set ───► REMOVED  (terminal)
//! ```
//!
//! A notifier is in the ready queue at most once (only the `IDLE → NOTIFIED` winner
//! pushes). Going back to `IDLE` *before* polling the handle means a wake-up during
//! the poll queues the entry again. A `REMOVED` notifier never pushes again; one that
//! is still queued when its entry goes away is skipped when popped. Marking every
//! notifier `REMOVED` and clearing the queue on drop also breaks the
//! `ReadyList → notifier → ReadyList` reference cycle for good.
//!
//! # Cooperative budget
//!
//! Polling a `JoinHandle` spends budget; once it is spent the handle returns `Pending`
//! and wakes its notifier, so `join_next` re-queues the entry and yields (waking its own
//! task) instead of spinning on it.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

use crate::loom::{Mutex, lock};
use crate::runtime::Handle;
use crate::task::{AbortHandle, Id, JoinError, JoinHandle, LocalSet, coop};

/// A collection of tasks spawned on a runtime (or a [`LocalSet`]), awaited in the
/// order they complete.
///
/// [`join_next`](Self::join_next) returns the output of whichever task finishes next.
/// Dropping the set aborts every task still in it; [`detach_all`](Self::detach_all)
/// lets them run on instead.
///
/// ```
/// use ringtide::task::JoinSet;
///
/// # ringtide::runtime::Runtime::new().unwrap().block_on(async {
/// let mut set = JoinSet::new();
/// for i in 0..10 {
///     set.spawn(async move { i });
/// }
/// let mut seen = Vec::new();
/// while let Some(result) = set.join_next().await {
///     seen.push(result.unwrap());
/// }
/// seen.sort();
/// assert_eq!(seen, (0..10).collect::<Vec<_>>());
/// # });
/// ```
pub struct JoinSet<T> {
    entries: Slab<Entry<T>>,
    ready: Arc<ReadyList>,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    notifier: Arc<EntryNotifier>,
    /// `Waker::from(notifier)`, made once so the task can keep it (`will_wake`).
    waker: Waker,
}

/// The notified entries and the waker of the task joining the set.
struct ReadyList {
    inner: Mutex<ReadyInner>,
}

struct ReadyInner {
    queue: VecDeque<Arc<EntryNotifier>>,
    waker: Option<Waker>,
}

const IDLE: u8 = 0;
const NOTIFIED: u8 = 1;
const REMOVED: u8 = 2;

/// The waker of one entry; see "Notifier state machine".
struct EntryNotifier {
    key: usize,
    state: AtomicU8,
    ready: Arc<ReadyList>,
}

impl<T> JoinSet<T> {
    /// Creates an empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            entries: Slab::new(),
            ready: Arc::new(ReadyList {
                inner: Mutex::new(ReadyInner {
                    queue: VecDeque::new(),
                    waker: None,
                }),
            }),
        }
    }

    /// Number of tasks in the set (running, or finished but not joined yet).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a task's handle to the set; returns a handle that can abort it.
    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let vacant = self.entries.vacant_entry();
        let notifier = Arc::new(EntryNotifier {
            key: vacant.key(),
            // Born notified: the first `join_next` polls it and registers its waker.
            state: AtomicU8::new(NOTIFIED),
            ready: self.ready.clone(),
        });
        let waker = Waker::from(notifier.clone());
        vacant.insert(Entry {
            handle,
            notifier: notifier.clone(),
            waker,
        });
        self.ready.push(notifier);
        abort
    }

    /// Removes an entry and retires its notifier.
    fn remove(&mut self, key: usize) -> JoinHandle<T> {
        let entry = self.entries.remove(key);
        entry.notifier.state.store(REMOVED, Ordering::Release);
        entry.handle
    }

    /// Waits for the next task to complete and returns its output, or `None` when the
    /// set is empty.
    ///
    /// Cancel-safe: if the future is dropped before it completes, no output is lost;
    /// the finished task stays in the set for the next call.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Like [`join_next`](Self::join_next), with the id of the task that completed.
    pub async fn join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        poll_fn(|cx| self.poll_join_next_with_id(cx)).await
    }

    /// Polls for the next completed task: `Ready(None)` when the set is empty,
    /// `Pending` (with `cx`'s waker registered) while no task has completed.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.poll_join_next_with_id(cx)
            .map(|next| next.map(|result| result.map(|(_, output)| output)))
    }

    /// Like [`poll_join_next`](Self::poll_join_next), with the id of the completed task.
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(Id, T), JoinError>>> {
        loop {
            let Some(notifier) = self.ready.pop_or_register(cx.waker()) else {
                return if self.entries.is_empty() {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                };
            };
            if !notifier.claim() {
                continue; // Its entry has been removed.
            }
            let key = notifier.key;
            let entry = &mut self.entries[key];
            let id = entry.handle.id();
            let mut entry_cx = Context::from_waker(&entry.waker);
            if let Poll::Ready(result) = Pin::new(&mut entry.handle).poll(&mut entry_cx) {
                self.remove(key);
                return Poll::Ready(Some(result.map(|output| (id, output))));
            }
            if !coop::has_budget_remaining() {
                // The handle ran out of budget and re-queued itself. Other entries may
                // be queued with no wake-up pending for them: wake ourselves.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            // A wake-up without completion: the entry is idle again, try the next one.
        }
    }

    /// Returns the output of a task that has already completed, if any, without
    /// waiting. Returns `None` when no task has completed yet (or the set is empty).
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.try_join_next_with_id()
            .map(|result| result.map(|(_, output)| output))
    }

    /// Like [`try_join_next`](Self::try_join_next), with the id of the completed task.
    pub fn try_join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        loop {
            let notifier = self.ready.pop()?;
            if !notifier.claim() {
                continue;
            }
            let key = notifier.key;
            let entry = &mut self.entries[key];
            let id = entry.handle.id();
            let mut entry_cx = Context::from_waker(&entry.waker);
            // Not async, so it cannot yield: check readiness without spending budget.
            let mut handle = coop::unconstrained(&mut entry.handle);
            if let Poll::Ready(result) = Pin::new(&mut handle).poll(&mut entry_cx) {
                self.remove(key);
                return Some(result.map(|output| (id, output)));
            }
        }
    }

    /// Waits for every task and returns their outputs, in completion order.
    ///
    /// # Panics
    ///
    /// If a task panicked, its panic is resumed here; if one was cancelled, this
    /// panics with the [`JoinError`]. Either way the set is dropped, aborting the
    /// tasks that are still running. Use [`join_next`](Self::join_next) to handle
    /// errors instead.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut outputs = Vec::with_capacity(self.len());
        while let Some(result) = self.join_next().await {
            match result {
                Ok(output) => outputs.push(output),
                Err(error) if error.is_panic() => panic::resume_unwind(error.into_panic()),
                Err(error) => panic!("JoinSet::join_all: {error}"),
            }
        }
        outputs
    }

    /// Aborts every task in the set. They stay in the set: `join_next` then returns
    /// their results (cancelled errors for those that had not finished).
    pub fn abort_all(&mut self) {
        for (_, entry) in self.entries.iter() {
            entry.handle.abort();
        }
    }

    /// Aborts every task and waits until all of them have stopped, discarding their
    /// results. The set is empty afterwards.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Removes every task from the set without aborting them: they keep running, and
    /// their outputs are dropped when they finish.
    pub fn detach_all(&mut self) {
        for entry in self.entries.drain() {
            entry.notifier.state.store(REMOVED, Ordering::Release);
            drop(entry.handle);
        }
        self.ready.clear();
    }
}

impl<T: 'static> JoinSet<T> {
    /// Spawns a task on the current runtime (see [`crate::spawn`]) and adds it to the
    /// set. Returns a handle that can abort it.
    ///
    /// # Panics
    ///
    /// Panics when called outside a runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        self.insert(crate::spawn(task))
    }

    /// Spawns a task on the runtime behind `handle` and adds it to the set.
    pub fn spawn_on<F>(&mut self, task: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        self.insert(handle.spawn(task))
    }

    /// Spawns a `!Send` task on the [`LocalSet`] running on this thread (see
    /// [`task::spawn_local`](crate::task::spawn_local)) and adds it to the set.
    ///
    /// # Panics
    ///
    /// Panics when no `LocalSet` is running on (or entered on) this thread.
    #[track_caller]
    pub fn spawn_local<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(crate::task::spawn_local(task))
    }

    /// Spawns a `!Send` task on `local_set` and adds it to the set.
    pub fn spawn_local_on<F>(&mut self, task: F, local_set: &LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(local_set.spawn_local(task))
    }

    /// Runs a blocking closure on the current runtime's blocking pool (see
    /// [`task::spawn_blocking`](crate::task::spawn_blocking)) and adds it to the set.
    ///
    /// # Panics
    ///
    /// Panics when called outside a runtime.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, func: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        self.insert(crate::task::spawn_blocking(func))
    }

    /// Runs a blocking closure on the blocking pool of the runtime behind `handle` and
    /// adds it to the set.
    #[track_caller]
    pub fn spawn_blocking_on<F>(&mut self, func: F, handle: &Handle) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        self.insert(handle.spawn_blocking(func))
    }
}

impl<T> Drop for JoinSet<T> {
    /// Aborts every task still in the set.
    fn drop(&mut self) {
        for entry in self.entries.drain() {
            entry.handle.abort();
            entry.notifier.state.store(REMOVED, Ordering::Release);
        }
        self.ready.clear();
    }
}

/// Collects futures into a set, spawning each on the current runtime as
/// [`spawn`](JoinSet::spawn) does (tokio's `FromIterator` for `JoinSet`).
///
/// ```
/// use ringtide::task::JoinSet;
///
/// # ringtide::runtime::Runtime::new().unwrap().block_on(async {
/// let set: JoinSet<u32> = (1..=3).map(|i| async move { i * 10 }).collect();
/// let mut total = 0;
/// for output in set.join_all().await {
///     total += output;
/// }
/// assert_eq!(total, 60);
/// # });
/// ```
///
/// # Panics
///
/// Panics outside a runtime.
impl<T, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> JoinSet<T> {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}

/// Spawns each future on the current runtime and adds it to the set, as
/// [`spawn`](JoinSet::spawn) does.
///
/// # Panics
///
/// Panics outside a runtime.
impl<T, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[track_caller]
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for task in iter {
            self.spawn(task);
        }
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl ReadyList {
    /// Queues a notified entry and wakes the joining task.
    fn push(&self, notifier: Arc<EntryNotifier>) {
        let waker = {
            let mut inner = lock(&self.inner);
            inner.queue.push_back(notifier);
            inner.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn pop(&self) -> Option<Arc<EntryNotifier>> {
        lock(&self.inner).queue.pop_front()
    }

    /// Registers `waker` as the joining task's waker, then pops a notified entry. Both
    /// under one lock, so a push after an empty pop always finds the waker.
    fn pop_or_register(&self, waker: &Waker) -> Option<Arc<EntryNotifier>> {
        let mut inner = lock(&self.inner);
        let previous = match &inner.waker {
            Some(current) if current.will_wake(waker) => None,
            _ => inner.waker.replace(waker.clone()),
        };
        let popped = inner.queue.pop_front();
        drop(inner);
        // Dropped outside the lock: a waker's destructor may run arbitrary code.
        drop(previous);
        popped
    }

    /// Forgets every queued entry (all of them have been removed).
    fn clear(&self) {
        let (queue, waker) = {
            let mut inner = lock(&self.inner);
            (std::mem::take(&mut inner.queue), inner.waker.take())
        };
        drop(queue);
        drop(waker);
    }
}

impl EntryNotifier {
    /// `NOTIFIED → IDLE` before its entry is polled; false if the entry was removed.
    fn claim(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// `IDLE → NOTIFIED`; true if the caller must queue the entry.
    fn notify(&self) -> bool {
        self.state
            .compare_exchange(IDLE, NOTIFIED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

impl Wake for EntryNotifier {
    fn wake(self: Arc<Self>) {
        if self.notify() {
            self.ready.clone().push(self);
        }
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.notify() {
            self.ready.push(self.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::yield_now;
    use futures::FutureExt;
    use futures::channel::oneshot;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::time::Duration;

    use crate::task::test_runtimes::{current_thread, multi_thread, runtimes};

    /// Sends on its channel when dropped.
    struct SignalOnDrop(Option<oneshot::Sender<()>>);

    impl Drop for SignalOnDrop {
        fn drop(&mut self) {
            if let Some(sender) = self.0.take() {
                let _ = sender.send(());
            }
        }
    }

    /// Counts its drops.
    struct CountOnDrop(Arc<AtomicUsize>);

    impl Drop for CountOnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn join_set_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<JoinSet<u32>>();
    }

    #[test]
    fn joins_in_completion_order() {
        for runtime in runtimes() {
            runtime.block_on(async {
                let mut set = JoinSet::new();
                let mut senders = Vec::new();
                for i in 0..5u32 {
                    let (tx, rx) = oneshot::channel::<()>();
                    senders.push(tx);
                    set.spawn(async move {
                        rx.await.unwrap();
                        i
                    });
                }
                assert!(set.try_join_next().is_none());
                // Release the tasks in the order 3, 1, 4, 0, 2: they come back in it.
                let mut senders: Vec<_> = senders.into_iter().map(Some).collect();
                for index in [3, 1, 4, 0, 2] {
                    senders[index].take().unwrap().send(()).unwrap();
                    let output = set.join_next().await.unwrap().unwrap();
                    assert_eq!(output, index as u32);
                }
                assert!(set.is_empty());
                assert!(set.join_next().await.is_none());
            });
        }
    }

    #[test]
    fn join_next_with_id_reports_the_task_id() {
        let runtime = current_thread();
        runtime.block_on(async {
            let mut set = JoinSet::new();
            let abort = set.spawn(async { 1 });
            let (id, output) = set.join_next_with_id().await.unwrap().unwrap();
            assert_eq!(id, abort.id());
            assert_eq!(output, 1);
        });
    }

    #[test]
    fn try_join_next_returns_finished_tasks() {
        let runtime = multi_thread();
        runtime.block_on(async {
            let mut set = JoinSet::new();
            set.spawn(async { 7 });
            let output = loop {
                if let Some(result) = set.try_join_next() {
                    break result.unwrap();
                }
                yield_now().await;
            };
            assert_eq!(output, 7);
            assert!(set.try_join_next().is_none());
            assert!(set.is_empty());
        });
    }

    #[test]
    fn abort_all_gives_cancelled_errors() {
        for runtime in runtimes() {
            runtime.block_on(async {
                let mut set = JoinSet::new();
                for _ in 0..10 {
                    set.spawn(std::future::pending::<()>());
                }
                set.abort_all();
                assert_eq!(set.len(), 10);
                let mut cancelled = 0;
                while let Some(result) = set.join_next().await {
                    assert!(result.unwrap_err().is_cancelled());
                    cancelled += 1;
                }
                assert_eq!(cancelled, 10);
            });
        }
    }

    #[test]
    fn abort_handle_cancels_one_task() {
        let runtime = current_thread();
        runtime.block_on(async {
            let mut set = JoinSet::new();
            let abort = set.spawn(async {
                std::future::pending::<()>().await;
                0
            });
            set.spawn(async { 1 });
            abort.abort();
            let mut outputs = Vec::new();
            while let Some(result) = set.join_next().await {
                outputs.push(result.map_err(|error| error.is_cancelled()));
            }
            outputs.sort();
            assert_eq!(outputs, vec![Ok(1), Err(true)]);
        });
    }

    #[test]
    fn panics_come_back_as_panic_errors() {
        for runtime in runtimes() {
            runtime.block_on(async {
                let mut set = JoinSet::new();
                set.spawn(async { panic!("task panicked on purpose") });
                set.spawn_blocking(|| panic!("closure panicked on purpose"));
                for _ in 0..2 {
                    let error = set.join_next().await.unwrap().unwrap_err();
                    assert!(error.is_panic());
                }
                assert!(set.join_next().await.is_none());
            });
        }
    }

    #[test]
    fn join_all_resumes_a_task_panic() {
        let runtime = multi_thread();
        let payload = runtime
            .block_on(async {
                let mut set = JoinSet::new();
                set.spawn(async { 1 });
                set.spawn(async {
                    panic!("join_all payload");
                });
                std::panic::AssertUnwindSafe(set.join_all())
                    .catch_unwind()
                    .await
            })
            .unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"join_all payload"));
    }

    #[test]
    fn join_all_collects_outputs() {
        let runtime = multi_thread();
        let mut outputs = runtime.block_on(async {
            let mut set = JoinSet::new();
            for i in 0..100 {
                set.spawn(async move { i });
            }
            set.join_all().await
        });
        outputs.sort();
        assert_eq!(outputs, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn drop_aborts_remaining_tasks() {
        for runtime in runtimes() {
            runtime.block_on(async {
                let (started_tx, started_rx) = oneshot::channel::<()>();
                let (dropped_tx, dropped_rx) = oneshot::channel::<()>();
                let guard = SignalOnDrop(Some(dropped_tx));
                let mut set = JoinSet::new();
                set.spawn(async move {
                    let _guard = guard;
                    let _ = started_tx.send(());
                    std::future::pending::<()>().await
                });
                started_rx.await.unwrap();
                drop(set);
                // Resolves once the task's future (and so the guard) is dropped; an
                // error means the sender was dropped, which also only happens then.
                let _ = dropped_rx.await;
            });
        }
    }

    #[test]
    fn detach_all_lets_tasks_finish() {
        let runtime = multi_thread();
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let (tx, rx) = oneshot::channel::<()>();
        runtime.block_on(async move {
            let mut set = JoinSet::new();
            set.spawn(async move {
                flag.store(true, Ordering::SeqCst);
                let _ = tx.send(());
            });
            set.detach_all();
            assert!(set.is_empty());
            drop(set);
            rx.await.unwrap();
        });
        assert!(finished.load(Ordering::SeqCst));
    }

    #[test]
    fn shutdown_waits_for_every_task() {
        let runtime = multi_thread();
        runtime.block_on(async {
            let dropped = Arc::new(AtomicUsize::new(0));
            let mut set = JoinSet::new();
            for _ in 0..20 {
                // Built outside the future: a task aborted before its first poll drops
                // its future without running any of it.
                let count = CountOnDrop(dropped.clone());
                set.spawn(async move {
                    let _count = count;
                    std::future::pending::<()>().await
                });
            }
            set.shutdown().await;
            assert!(set.is_empty());
            assert_eq!(dropped.load(Ordering::SeqCst), 20);
        });
    }

    #[test]
    fn ten_thousand_tasks() {
        for runtime in runtimes() {
            runtime.block_on(async {
                let mut set = JoinSet::new();
                for i in 0..10_000u64 {
                    set.spawn(async move {
                        if i % 2 == 0 {
                            yield_now().await;
                        }
                        i
                    });
                }
                assert_eq!(set.len(), 10_000);
                let mut sum = 0;
                let mut count = 0;
                while let Some(result) = set.join_next().await {
                    sum += result.unwrap();
                    count += 1;
                }
                assert_eq!(count, 10_000);
                assert_eq!(sum, 10_000 * 9_999 / 2);
            });
        }
    }

    #[test]
    fn spawn_on_and_spawn_blocking_on_another_runtime() {
        let worker_runtime = multi_thread();
        let handle = worker_runtime.handle().clone();
        current_thread().block_on(async move {
            let mut set = JoinSet::new();
            set.spawn_on(async { 1 }, &handle);
            set.spawn_blocking_on(
                || {
                    std::thread::sleep(Duration::from_millis(1));
                    2
                },
                &handle,
            );
            let mut outputs = Vec::new();
            while let Some(result) = set.join_next().await {
                outputs.push(result.unwrap());
            }
            outputs.sort();
            assert_eq!(outputs, vec![1, 2]);
        });
    }

    #[test]
    fn local_tasks_in_a_join_set() {
        let runtime = current_thread();
        let local = LocalSet::new();
        let outputs = local.block_on(&runtime, async {
            let mut set = JoinSet::new();
            for i in 0..10 {
                let not_send = std::rc::Rc::new(i);
                set.spawn_local(async move {
                    yield_now().await;
                    *not_send
                });
            }
            let mut outputs = Vec::new();
            while let Some(result) = set.join_next().await {
                outputs.push(result.unwrap());
            }
            outputs.sort();
            outputs
        });
        assert_eq!(outputs, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn spawn_local_on_a_set_from_outside_it() {
        let runtime = current_thread();
        let local = LocalSet::new();
        let mut set = JoinSet::new();
        set.spawn_local_on(async { std::rc::Rc::new(4) }, &local);
        let output = local.block_on(&runtime, async { set.join_next().await });
        assert_eq!(*output.unwrap().unwrap(), 4);
    }

    #[test]
    fn exhausted_budget_does_not_spin() {
        // The joining task runs out of budget (128 handle polls) while many finished
        // entries are queued: it must yield and still see every result afterwards.
        let runtime = current_thread();
        let joined = runtime.block_on(async {
            let joiner = crate::spawn(async {
                let mut set = JoinSet::new();
                for i in 0..1000 {
                    set.spawn(async move { i });
                }
                // A task's yield lets the others run: they all finish first.
                yield_now().await;
                let mut count = 0;
                while let Some(result) = set.join_next().await {
                    result.unwrap();
                    count += 1;
                }
                count
            });
            joiner.await.unwrap()
        });
        assert_eq!(joined, 1000);
    }
}
