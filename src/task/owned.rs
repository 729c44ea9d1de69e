//! The registry of a scheduler's live tasks ("owned tasks").
//!
//! Every task spawned on a scheduler (or a `LocalSet`) is listed here. The registry
//! exists for shutdown: a task that is idle (waiting for a wake-up that may never come)
//! is in no run queue, so the only way to reach it and drop its future is through this
//! list. Each entry holds a `Waker` of the task (which keeps the task allocation, and
//! so its [`Header`], alive) and a pointer to the header.
//!
//! # Cost model
//!
//! Registration is on the spawn path, so it is built to be nearly free: the list is
//! split into shards, each thread registers into "its" shard (a per-thread hint, so a
//! worker's shard lock is uncontended and stays in its cache), and finished tasks are
//! *not* removed eagerly (that would take a lock on whichever thread finishes them).
//! Instead a shard is swept when it has doubled since its last sweep: entries whose
//! header says `FINISHED` are dropped, outside the lock. A finished task's allocation
//! (its future is already gone) may thus stay until the next sweep of its shard: at
//! most about twice the peak number of live tasks per shard.
//!
//! # Protocol
//!
//! * `insert` fails once the registry is closed; the spawner then drops the new task at
//!   once, and its `JoinHandle` reports cancellation.
//! * `close` forbids inserts. It takes every shard lock after setting the flag, so no
//!   insert that saw the registry open can complete after `close` returns.
//! * `abort_all` marks every unfinished task aborted and wakes it. The wake-ups are
//!   issued with no lock held, because waking a task on a closed scheduler drops its
//!   future right away, and a destructor may spawn (and so call `insert`).

use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Waker;

use crossbeam_utils::CachePadded;

use crate::loom::{Mutex, lock};
use crate::task::header::Header;

const SHARDS: usize = 32;

/// A shard is swept once it holds at least this many entries...
const MIN_SWEEP_LEN: usize = 128;

/// The live tasks of one scheduler.
#[derive(Debug)]
pub(crate) struct OwnedTasks {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    closed: AtomicBool,
}

#[derive(Debug, Default)]
struct Shard {
    tasks: Vec<Registered>,
    /// ...and twice as many as it kept at its last sweep.
    sweep_at: usize,
}

#[derive(Debug)]
struct Registered {
    waker: Waker,
    header: HeaderRef,
}

impl Registered {
    fn is_finished(&self) -> bool {
        // SAFETY: `self.waker` keeps the task allocation, which holds the header, alive.
        unsafe { self.header.get() }.is_finished()
    }
}

/// A pointer to a task's header, valid while a reference count on the task (a waker,
/// a `Task` handle) is alive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderRef(NonNull<Header>);

// SAFETY: `Header` is `Sync` (atomics only), and a `HeaderRef` is only dereferenced
// while a reference count keeps the task allocation alive.
unsafe impl Send for HeaderRef {}
// SAFETY: as above; shared access to a `Header` is thread-safe.
unsafe impl Sync for HeaderRef {}

impl HeaderRef {
    pub(crate) fn new(header: &Header) -> HeaderRef {
        HeaderRef(NonNull::from(header))
    }

    /// # Safety
    ///
    /// A reference count on the task (a waker or a `Task` handle) must be alive for as
    /// long as the returned reference is used.
    pub(crate) unsafe fn get<'a>(self) -> &'a Header {
        // SAFETY: the caller keeps the task allocation, which holds the header, alive.
        unsafe { self.0.as_ref() }
    }
}

thread_local! {
    /// The shard this thread registers into.
    static SHARD_HINT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn shard_hint() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    SHARD_HINT
        .try_with(|hint| {
            if hint.get() == usize::MAX {
                hint.set(NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS);
            }
            hint.get()
        })
        .unwrap_or(0)
}

impl OwnedTasks {
    pub(crate) fn new() -> OwnedTasks {
        OwnedTasks {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(Mutex::new(Shard::default())))
                .collect(),
            closed: AtomicBool::new(false),
        }
    }

    /// Registers a task; false if the scheduler is shutting down.
    pub(crate) fn insert(&self, header: &Header, waker: Waker) -> bool {
        let mut finished = Vec::new();
        {
            let mut shard = lock(&self.shards[shard_hint()]);
            if self.closed.load(Ordering::Acquire) {
                return false;
            }
            if shard.tasks.len() >= shard.sweep_at.max(MIN_SWEEP_LEN) {
                finished = shard
                    .tasks
                    .extract_if(.., |task| task.is_finished())
                    .collect();
                shard.sweep_at = 2 * shard.tasks.len();
            }
            shard.tasks.push(Registered {
                waker,
                header: HeaderRef::new(header),
            });
        }
        // Dropping the last reference to a task may run its output's destructor, which
        // may spawn: never under the shard lock.
        drop(finished);
        true
    }

    /// Number of registered tasks whose future has not been dropped yet (walks the
    /// registry; meant for metrics and shutdown, not hot paths).
    pub(crate) fn alive(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                lock(shard)
                    .tasks
                    .iter()
                    .filter(|t| !t.is_finished())
                    .count()
            })
            .sum()
    }

    /// Forbids new tasks. Idempotent.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for shard in self.shards.iter() {
            drop(lock(shard));
        }
    }

    /// Drops every entry (after shutdown has cancelled the tasks): the wakers held here
    /// keep task allocations, and through their schedule functions the scheduler,
    /// alive.
    pub(crate) fn clear(&self) {
        let mut entries = Vec::new();
        for shard in self.shards.iter() {
            entries.append(&mut lock(shard).tasks);
        }
        drop(entries);
    }

    /// Aborts every unfinished task and wakes it, so its scheduler drops its future.
    pub(crate) fn abort_all(&self) {
        let mut tasks = Vec::new();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            tasks.extend(
                shard
                    .tasks
                    .iter()
                    .filter(|task| !task.is_finished())
                    .map(|task| (task.waker.clone(), task.header)),
            );
        }
        for (waker, header) in tasks {
            // SAFETY: `waker` keeps the task allocation, and so its header, alive.
            let header = unsafe { header.get() };
            header.cancel_for_shutdown(&waker);
        }
    }
}
