//! A worker's local run queue: a bounded FIFO that other workers steal from, plus a
//! one-task LIFO slot.
//!
//! The FIFO is crossbeam-deque's Chase-Lev deque (the owner pushes and pops, thieves
//! steal batches). It is kept bounded at [`CAPACITY`]: when full, the owner moves the
//! older half into the global injection queue, so one worker cannot hoard unbounded work
//! that others could only reach by stealing, and the amount of work a steal may move is
//! bounded too.
//!
//! The LIFO slot holds the task most recently spawned or woken by the running task; it
//! runs next, while its data is still in cache (message passing between two tasks). The
//! worker caps how many LIFO tasks it runs in a row (see `worker`), so a ping-pong pair
//! cannot starve the FIFO.

use crossbeam_deque::{Injector, Steal, Stealer, Worker};

use crate::task::harness::{self, Runnable};

/// Maximum length of a local FIFO.
pub(crate) const CAPACITY: usize = 256;

/// How many tasks one steal may move at most (half the capacity: steal-half).
pub(crate) const STEAL_LIMIT: usize = CAPACITY / 2;

/// The owner's end of a local run queue.
#[derive(Debug)]
pub(crate) struct LocalQueue {
    fifo: Worker<Runnable>,
    lifo: Option<Runnable>,
}

impl LocalQueue {
    pub(crate) fn new() -> LocalQueue {
        LocalQueue {
            fifo: Worker::new_fifo(),
            lifo: None,
        }
    }

    /// The end other workers steal from.
    pub(crate) fn stealer(&self) -> Stealer<Runnable> {
        self.fifo.stealer()
    }

    /// Pushes to the back of the FIFO, spilling the older half to `inject` when full.
    pub(crate) fn push_back(&mut self, task: Runnable, inject: &Injector<Runnable>) {
        if self.fifo.len() >= CAPACITY {
            for _ in 0..CAPACITY / 2 {
                match self.fifo.pop() {
                    Some(old) => inject.push(old),
                    None => break,
                }
            }
        }
        self.fifo.push(task);
    }

    /// Puts `task` in the LIFO slot; returns the task it displaced, if any.
    pub(crate) fn replace_lifo(&mut self, task: Runnable) -> Option<Runnable> {
        self.lifo.replace(task)
    }

    pub(crate) fn take_lifo(&mut self) -> Option<Runnable> {
        self.lifo.take()
    }

    /// The next task to run: the LIFO slot first, then the FIFO's front.
    pub(crate) fn pop(&mut self) -> Option<Runnable> {
        self.lifo.take().or_else(|| self.fifo.pop())
    }

    pub(crate) fn has_tasks(&self) -> bool {
        self.lifo.is_some() || !self.fifo.is_empty()
    }

    /// Tasks in the FIFO (the part others can steal).
    pub(crate) fn len(&self) -> usize {
        self.fifo.len()
    }

    /// Steals about half of `victim`'s tasks into this queue and returns one to run.
    pub(crate) fn steal_from(&mut self, victim: &Stealer<Runnable>) -> Option<Runnable> {
        retry(|| victim.steal_batch_with_limit_and_pop(&self.fifo, STEAL_LIMIT))
    }

    /// Moves a batch from the injection queue into this queue and returns one to run.
    pub(crate) fn refill_from(&mut self, inject: &Injector<Runnable>) -> Option<Runnable> {
        let limit = (CAPACITY - self.fifo.len()).clamp(1, STEAL_LIMIT);
        retry(|| inject.steal_batch_with_limit_and_pop(&self.fifo, limit))
    }

    /// Drops every queued task (shutdown), cancelling them.
    pub(crate) fn drain(&mut self) {
        if let Some(task) = self.lifo.take() {
            harness::cancel(task);
        }
        while let Some(task) = self.fifo.pop() {
            harness::cancel(task);
        }
    }
}

/// Pops one task from the injection queue.
///
/// A plain look first: the queue is almost always empty where this runs (each
/// scheduler tick with an empty local queue), and `is_empty` reads two indices where a
/// `steal` from an empty injector also fences and builds its result (about 45
/// instructions per tick saved, measured with callgrind on `benches/ops.rs`'s probe).
/// Both are snapshots: a push that is not seen is followed by its pusher's unpark.
pub(crate) fn pop_inject(inject: &Injector<Runnable>) -> Option<Runnable> {
    if inject.is_empty() {
        return None;
    }
    retry(|| inject.steal())
}

/// Repeats a steal while it asks to be retried (it lost a race with another thief).
fn retry<T>(mut steal: impl FnMut() -> Steal<T>) -> Option<T> {
    loop {
        match steal() {
            Steal::Success(value) => return Some(value),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}

#[cfg(test)]
mod test_tasks {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use crate::task::harness::{self, Runnable};

    /// A task that counts its runs in `runs`; its `JoinHandle` is dropped (detached).
    pub(super) fn counted(runs: &Arc<AtomicUsize>) -> Runnable {
        let runs = runs.clone();
        let (runnable, join) = harness::spawn(
            async move {
                runs.fetch_add(1, SeqCst);
            },
            None,
            None,
            |_, _| {},
        );
        drop(join);
        runnable.expect("a task without an owner list is never refused")
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use super::test_tasks::counted;
    use super::*;

    /// A full FIFO spills its older half to the injection queue; every task is still
    /// found exactly once (local queue, then the injection queue).
    #[test]
    fn a_full_queue_spills_half_to_inject_and_loses_nothing() {
        let runs = Arc::new(AtomicUsize::new(0));
        let inject = Injector::new();
        let mut queue = LocalQueue::new();
        for _ in 0..=CAPACITY {
            queue.push_back(counted(&runs), &inject);
        }
        assert_eq!(queue.len(), CAPACITY / 2 + 1);
        assert_eq!(inject.len(), CAPACITY / 2);
        let mut found = 0;
        while let Some(task) = queue.pop().or_else(|| pop_inject(&inject)) {
            task.run();
            found += 1;
        }
        assert_eq!(found, CAPACITY + 1);
        assert_eq!(runs.load(SeqCst), CAPACITY + 1, "every task ran once");
    }

    /// The LIFO slot runs first, is not stealable, and a displaced task is returned.
    #[test]
    fn lifo_slot_runs_first_and_is_not_stolen() {
        let runs = Arc::new(AtomicUsize::new(0));
        let inject = Injector::new();
        let mut owner = LocalQueue::new();
        let mut thief = LocalQueue::new();
        owner.push_back(counted(&runs), &inject);
        assert!(owner.replace_lifo(counted(&runs)).is_none());
        let displaced = owner.replace_lifo(counted(&runs)).expect("displaced");
        owner.push_back(displaced, &inject);
        // The thief takes half of the FIFO (2 tasks: one to run, one queued) and never
        // the LIFO slot.
        let stolen = thief.steal_from(&owner.stealer()).expect("stolen");
        stolen.run();
        assert_eq!(owner.len() + thief.len(), 1);
        assert!(owner.take_lifo().map(|task| task.run()).is_some());
        while let Some(task) = owner.pop().or_else(|| thief.pop()) {
            task.run();
        }
        assert_eq!(runs.load(SeqCst), 3);
    }

    /// A refill moves a bounded batch (at most `STEAL_LIMIT`; crossbeam's injector
    /// also stops at the end of one of its blocks).
    #[test]
    fn refill_takes_a_bounded_batch() {
        let runs = Arc::new(AtomicUsize::new(0));
        let inject = Injector::new();
        for _ in 0..CAPACITY {
            inject.push(counted(&runs));
        }
        let mut queue = LocalQueue::new();
        queue.refill_from(&inject).expect("a task").run();
        let moved = queue.len();
        assert!(moved > 0 && moved < STEAL_LIMIT, "moved {moved}");
        assert_eq!(inject.len(), CAPACITY - 1 - moved);
        // Shutdown cancels what is queued (the futures are dropped, never polled).
        queue.drain();
        while let Some(task) = pop_inject(&inject) {
            task.run();
        }
        assert_eq!(runs.load(SeqCst), CAPACITY - moved);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! The hand-off of a queued task to another worker: the worker's steps (push and
    //! notify; search, park, last look; wake and search again) as `worker.rs` and
    //! `handle.rs` take them, on the real queues and the real idle protocol.
    //! crossbeam-deque is not instrumented for loom: each queue operation is one
    //! indivisible step here (the deque is linearizable; crossbeam tests it), and loom
    //! explores how those steps interleave with the idle protocol's.

    use std::sync::Arc as StdArc;
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::SeqCst};

    use super::test_tasks::counted;
    use super::*;
    use crate::loom::Arc;
    use crate::runtime::scheduler::multi_thread::idle::Idle;

    /// Two workers' shared state: the injection queue, worker 0's stealer, the idle
    /// protocol, and an unpark token per worker (`Unpark::unpark`).
    struct Shared {
        inject: Injector<Runnable>,
        victim: Stealer<Runnable>,
        idle: Idle,
        unparked: [StdAtomicUsize; 2],
    }

    impl Shared {
        /// `Handle::notify_parked`.
        fn notify_parked(&self) {
            if let Some(worker) = self.idle.worker_to_notify() {
                self.unparked[worker].fetch_add(1, SeqCst);
            }
        }

        /// `Handle::notify_if_work_pending`.
        fn notify_if_work_pending(&self) {
            if !self.inject.is_empty() || !self.victim.is_empty() {
                self.notify_parked();
            }
        }

        /// Worker 1 with nothing local: search (steal, then the injection queue); if
        /// that finds nothing, park (with the last look). A task found is returned.
        fn search_or_park(&self, queue: &mut LocalQueue) -> Option<Runnable> {
            let searching = self.idle.transition_worker_to_searching();
            if let Some(task) = queue
                .steal_from(&self.victim)
                .or_else(|| queue.refill_from(&self.inject))
            {
                if searching && self.idle.transition_worker_from_searching() {
                    self.notify_parked();
                }
                return Some(task);
            }
            if self.idle.transition_worker_to_parked(1, searching) {
                self.notify_if_work_pending();
            }
            None
        }

        /// Worker 1 parked: if it holds an unpark token it wakes and searches again.
        fn wake_and_search(&self, queue: &mut LocalQueue) -> Option<Runnable> {
            if self.unparked[1].load(SeqCst) == 0 {
                return None;
            }
            let searching = self.idle.transition_worker_from_parked(1, false)?;
            let task = queue
                .steal_from(&self.victim)
                .or_else(|| queue.refill_from(&self.inject));
            if searching && self.idle.transition_worker_from_searching() {
                self.notify_parked();
            }
            task
        }
    }

    fn shared(owner: &LocalQueue) -> Arc<Shared> {
        Arc::new(Shared {
            inject: Injector::new(),
            victim: owner.stealer(),
            idle: Idle::new(2),
            unparked: [StdAtomicUsize::new(0), StdAtomicUsize::new(0)],
        })
    }

    /// Worker 0 queues a task in its FIFO (a wake-up that displaced its LIFO task) and
    /// then stays busy; worker 1 finds nothing and parks at the same time. The task is
    /// never stranded: worker 1 steals it now, or it was unparked and steals it then.
    #[test]
    fn loom_task_queued_while_the_other_worker_parks_is_stolen() {
        loom::model(|| {
            let runs = StdArc::new(StdAtomicUsize::new(0));
            let mut owner = LocalQueue::new();
            let shared = shared(&owner);
            let task = counted(&runs);
            let busy_owner = {
                let shared = shared.clone();
                loom::thread::spawn(move || {
                    owner.push_back(task, &shared.inject);
                    shared.notify_parked();
                    // Busy: the owner does not come back to its queue in this model.
                    owner
                })
            };
            let mut queue = LocalQueue::new();
            let found = shared.search_or_park(&mut queue);
            let owner = busy_owner.join().unwrap();
            let found = found.or_else(|| shared.wake_and_search(&mut queue));
            let task = found.expect("the task is queued, its owner busy, worker 1 asleep");
            task.run();
            assert_eq!(runs.load(SeqCst), 1);
            assert!(!owner.has_tasks() && !queue.has_tasks());
        });
    }

    /// A task pushed from outside (a remote wake: injection queue, then notify) while
    /// the only other awake worker parks: it is found now or after the unpark, and the
    /// owner's own later look (it finishes its task and pops) never runs it twice.
    #[test]
    fn loom_injected_task_is_run_once_by_owner_or_thief() {
        loom::model(|| {
            let runs = StdArc::new(StdAtomicUsize::new(0));
            let mut owner = LocalQueue::new();
            let shared = shared(&owner);
            let task = counted(&runs);
            let remote = {
                let shared = shared.clone();
                loom::thread::spawn(move || {
                    shared.inject.push(task);
                    shared.notify_parked();
                })
            };
            let owner_thread = {
                let shared = shared.clone();
                loom::thread::spawn(move || {
                    // Worker 0 finishes its task and takes the next from the injection
                    // queue (`Core::next_task`).
                    let task = owner.pop().or_else(|| owner.refill_from(&shared.inject));
                    task.map(|task| task.run()).is_some()
                })
            };
            let mut queue = LocalQueue::new();
            let found = shared.search_or_park(&mut queue);
            remote.join().unwrap();
            let owner_ran = owner_thread.join().unwrap();
            let found = found.or_else(|| shared.wake_and_search(&mut queue));
            if let Some(task) = found {
                task.run();
            }
            if !owner_ran {
                // The owner looked before the push; then worker 1 must have it.
                assert_eq!(runs.load(SeqCst), 1, "stranded in the injection queue");
            }
            assert_eq!(runs.load(SeqCst), 1, "run exactly once");
        });
    }
}
