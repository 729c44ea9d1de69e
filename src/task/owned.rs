//! The registry of a scheduler's live tasks ("owned tasks").
//!
//! Every task spawned on a scheduler (or a `LocalSet`) is registered here until its
//! future is dropped. The registry exists for shutdown: a task that is idle (waiting for
//! a wake-up that may never come) is in no run queue, so the only way to reach it and
//! drop its future is through this list.
//!
//! # Protocol
//!
//! * `insert` fails once the registry is closed; the spawner then drops the new task at
//!   once, and its `JoinHandle` reports cancellation.
//! * A task removes itself when its future is dropped (completion, abort or cancel).
//! * `close` forbids inserts; `abort_all` marks every registered task aborted and wakes
//!   it. The wake-ups are issued with no lock held, because waking a task on a closed
//!   scheduler may drop its future right away, and that drop calls `remove`.
//!
//! The list is sharded by task id so concurrent spawns on different workers rarely
//! contend on one lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::loom::Mutex;

use crossbeam_utils::CachePadded;
use slab::Slab;

use crate::loom::lock;
use crate::task::harness::Header;

const SHARDS: usize = 16;

/// One shard: the tasks whose id falls in it, keyed by their slab slot.
type Shard = CachePadded<Mutex<Slab<Arc<Header>>>>;

/// The live tasks of one scheduler.
#[derive(Debug)]
pub(crate) struct OwnedTasks {
    shards: Box<[Shard]>,
    closed: AtomicBool,
    alive: AtomicUsize,
}

/// Where a task sits in the registry, so it can remove itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    shard: usize,
    key: usize,
}

impl OwnedTasks {
    pub(crate) fn new() -> OwnedTasks {
        OwnedTasks {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(Mutex::new(Slab::new())))
                .collect(),
            closed: AtomicBool::new(false),
            alive: AtomicUsize::new(0),
        }
    }

    /// Registers a task; `None` if the scheduler is shutting down.
    pub(crate) fn insert(&self, header: &Arc<Header>) -> Option<Entry> {
        let shard = (header.id().as_u64() as usize) % SHARDS;
        let mut slab = lock(&self.shards[shard]);
        // Checked under the shard lock: `close` takes every shard lock after setting
        // the flag, so no insert can slip past a completed `abort_all`.
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let key = slab.insert(header.clone());
        self.alive.fetch_add(1, Ordering::Relaxed);
        Some(Entry { shard, key })
    }

    /// Removes a task whose future has been dropped.
    pub(crate) fn remove(&self, entry: Entry) {
        let removed = lock(&self.shards[entry.shard]).try_remove(entry.key);
        if removed.is_some() {
            self.alive.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Number of tasks whose future has not been dropped yet.
    pub(crate) fn alive(&self) -> usize {
        self.alive.load(Ordering::Relaxed)
    }

    /// Forbids new tasks. Idempotent.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // Wait out inserts that saw `closed == false`.
        for shard in self.shards.iter() {
            drop(lock(shard));
        }
    }

    /// Aborts every registered task and wakes it, so its scheduler drops its future.
    pub(crate) fn abort_all(&self) {
        let mut headers = Vec::new();
        for shard in self.shards.iter() {
            headers.extend(lock(shard).iter().map(|(_, header)| header.clone()));
        }
        for header in headers {
            header.abort();
        }
    }
}
