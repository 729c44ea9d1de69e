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
pub(crate) fn pop_inject(inject: &Injector<Runnable>) -> Option<Runnable> {
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
