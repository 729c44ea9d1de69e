//! [`WaiterList`]: the tasks waiting for one direction of one I/O object, on either
//! backend, and [`WakeBatch`], which carries their wakers out of the lock.
//!
//! Several tasks may wait for the same direction of one I/O object at once (tasks
//! sharing an `Arc<UdpSocket>` in `readable()`, several `accept`s on one listener).
//! Each waiter future holds a [`WaiterKey`] into the list, kept between its polls:
//!
//! ```text
//!   poll: register(key, waker) ──► Waiting { id, waker } in slot `index`
//!                                       │
//!          ┌────────────────────────────┼───────────────────────────────┐
//!          ▼                            ▼                               ▼
//!   poll again: same key,        the event: take_all()           future dropped:
//!   waker replaced unless it     moves every waker into a        remove(key), the
//!   wakes the same task          WakeBatch, woken outside        slot is free again
//!                                the lock; every slot is free
//! ```
//!
//! * The list is a slab: a `Vec` of slots with a free list, so a registration takes a
//!   free slot and allocates only when more waiters wait at once than ever before. The
//!   single-waiter case reuses slot 0 forever.
//! * A key names a slot *and* the id the list gave that registration (ids are never
//!   reused), so a key whose waiter was already woken (its slot freed, perhaps taken by
//!   another waiter since) neither updates nor removes someone else's entry: `register`
//!   then adds the waiter again, `remove` does nothing.
//! * A dropped waiter future removes its entry, so waiters that come and go (repeated
//!   `timeout(readable())`) never grow the list beyond the most waiting at once.
//! * The list has no lock of its own: its owner keeps it under the same mutex as the
//!   readiness it guards, so "check readiness, then register" and "record readiness,
//!   then take the waiters" cannot interleave badly (see `scheduled_io` and
//!   `net::readiness`).

use std::task::Waker;

/// Marks the end of the free list.
const NO_SLOT: usize = usize::MAX;

/// How many wakers a [`WakeBatch`] holds before it allocates.
const INLINE_WAKERS: usize = 8;

/// Where one waiter's entry is in a [`WaiterList`]: its slot and its registration id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaiterKey {
    index: usize,
    id: u64,
}

#[derive(Debug)]
enum Slot {
    Waiting { id: u64, waker: Waker },
    Free { next: usize },
}

/// The waiters of one direction (see the module documentation).
#[derive(Debug)]
pub(crate) struct WaiterList {
    slots: Vec<Slot>,
    /// The first free slot, `NO_SLOT` when every slot is taken.
    free: usize,
    /// How many slots hold a waiter.
    waiting: usize,
    /// The id the next registration gets.
    next_id: u64,
}

impl Default for WaiterList {
    fn default() -> WaiterList {
        WaiterList::new()
    }
}

impl WaiterList {
    /// An empty list; allocates nothing.
    pub(crate) const fn new() -> WaiterList {
        WaiterList {
            slots: Vec::new(),
            free: NO_SLOT,
            waiting: 0,
            next_id: 0,
        }
    }

    /// Makes the waiter `key` wait with `waker`: updates its entry (keeping a stored
    /// waker that would wake the same task), or, when `key` is `None` or its entry is
    /// gone (it was woken), adds a new entry and stores its key in `key`.
    pub(crate) fn register(&mut self, key: &mut Option<WaiterKey>, waker: &Waker) {
        if let Some(current) = *key {
            if let Some(Slot::Waiting { id, waker: stored }) = self.slots.get_mut(current.index) {
                if *id == current.id {
                    if !stored.will_wake(waker) {
                        *stored = waker.clone();
                    }
                    return;
                }
            }
        }
        *key = Some(self.insert(waker.clone()));
    }

    fn insert(&mut self, waker: Waker) -> WaiterKey {
        let id = self.next_id;
        self.next_id += 1;
        self.waiting += 1;
        let entry = Slot::Waiting { id, waker };
        if self.free == NO_SLOT {
            self.slots.push(entry);
            return WaiterKey {
                index: self.slots.len() - 1,
                id,
            };
        }
        let index = self.free;
        match std::mem::replace(&mut self.slots[index], entry) {
            Slot::Free { next } => self.free = next,
            Slot::Waiting { .. } => unreachable!("the free list names only free slots"),
        }
        WaiterKey { index, id }
    }

    /// Removes the waiter `key` if it is still waiting (not yet woken); returns whether
    /// it was.
    pub(crate) fn remove(&mut self, key: WaiterKey) -> bool {
        if !self.contains(key) {
            return false;
        }
        self.slots[key.index] = Slot::Free { next: self.free };
        self.free = key.index;
        self.waiting -= 1;
        true
    }

    /// Whether the waiter `key` is still waiting.
    pub(crate) fn contains(&self, key: WaiterKey) -> bool {
        matches!(self.slots.get(key.index), Some(Slot::Waiting { id, .. }) if *id == key.id)
    }

    /// Takes every waiter's waker into `batch`; the list is empty afterwards (its slots
    /// stay allocated for the next waiters).
    pub(crate) fn take_all(&mut self, batch: &mut WakeBatch) {
        if self.waiting == 0 {
            return;
        }
        // Every slot ends up free: rebuild the free list from scratch.
        self.free = NO_SLOT;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let next = self.free;
            if let Slot::Waiting { waker, .. } = std::mem::replace(slot, Slot::Free { next }) {
                batch.push(waker);
            }
            self.free = index;
        }
        self.waiting = 0;
    }

    /// How many waiters wait.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    /// How many slots are allocated: the most waiters that ever waited at once.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }
}

/// Wakers taken out of a lock, to wake once it is released (a waker may run arbitrary
/// code, even drop the I/O object). Holds a few inline; more spill into a `Vec`.
#[derive(Debug)]
pub(crate) struct WakeBatch {
    inline: [Option<Waker>; INLINE_WAKERS],
    inline_len: usize,
    spilled: Vec<Waker>,
}

impl Default for WakeBatch {
    fn default() -> WakeBatch {
        WakeBatch::new()
    }
}

impl WakeBatch {
    /// An empty batch; allocates nothing.
    pub(crate) const fn new() -> WakeBatch {
        WakeBatch {
            inline: [const { None }; INLINE_WAKERS],
            inline_len: 0,
            spilled: Vec::new(),
        }
    }

    /// Adds `waker` to the batch.
    pub(crate) fn push(&mut self, waker: Waker) {
        if self.inline_len < INLINE_WAKERS {
            self.inline[self.inline_len] = Some(waker);
            self.inline_len += 1;
        } else {
            self.spilled.push(waker);
        }
    }

    /// Wakes every waker in the batch.
    pub(crate) fn wake_all(self) {
        let WakeBatch {
            inline, spilled, ..
        } = self;
        inline.into_iter().flatten().for_each(Waker::wake);
        spilled.into_iter().for_each(Waker::wake);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::Ordering::SeqCst;

    use super::*;
    use crate::test_support::counting_waker as counter;

    fn wake(list: &mut WaiterList) {
        let mut batch = WakeBatch::new();
        list.take_all(&mut batch);
        batch.wake_all();
    }

    #[test]
    fn every_waiter_is_woken_once() {
        let mut list = WaiterList::new();
        let counters: Vec<_> = (0..20)
            .map(|_| {
                let (counter, waker) = counter();
                let mut key = None;
                list.register(&mut key, &waker);
                // A second poll of the same waiter keeps its one entry.
                list.register(&mut key, &waker);
                counter
            })
            .collect();
        assert_eq!(list.len(), 20);
        wake(&mut list);
        assert_eq!(list.len(), 0);
        for counter in &counters {
            assert_eq!(counter.0.load(SeqCst), 1);
        }
        // Nobody waits any more: a second event wakes no one.
        wake(&mut list);
        assert!(counters.iter().all(|counter| counter.0.load(SeqCst) == 1));
    }

    #[test]
    fn a_new_waker_replaces_the_one_of_the_same_waiter() {
        let mut list = WaiterList::new();
        let (first, first_waker) = counter();
        let (second, second_waker) = counter();
        let mut key = None;
        list.register(&mut key, &first_waker);
        list.register(&mut key, &second_waker);
        assert_eq!(list.len(), 1);
        wake(&mut list);
        assert_eq!(first.0.load(SeqCst), 0);
        assert_eq!(second.0.load(SeqCst), 1);
    }

    #[test]
    fn removed_waiters_free_their_slot() {
        let mut list = WaiterList::new();
        let (_counter, waker) = counter();
        for _ in 0..1000 {
            let mut key = None;
            list.register(&mut key, &waker);
            assert!(list.remove(key.unwrap()));
        }
        assert_eq!(list.len(), 0);
        assert_eq!(list.slots(), 1, "one waiter at a time reuses one slot");
    }

    #[test]
    fn a_stale_key_touches_no_other_waiter() {
        let mut list = WaiterList::new();
        let (old, old_waker) = counter();
        let mut old_key = None;
        list.register(&mut old_key, &old_waker);
        wake(&mut list);
        assert_eq!(old.0.load(SeqCst), 1);

        // Another waiter takes the freed slot.
        let (new, new_waker) = counter();
        let mut new_key = None;
        list.register(&mut new_key, &new_waker);
        assert_eq!(old_key.unwrap().index, new_key.unwrap().index);
        assert!(!list.remove(old_key.unwrap()), "the old key is gone");
        assert!(list.contains(new_key.unwrap()));

        // Registering with the stale key adds the old waiter anew.
        list.register(&mut old_key, &old_waker);
        assert_ne!(old_key, new_key);
        assert_eq!(list.len(), 2);
        wake(&mut list);
        assert_eq!(old.0.load(SeqCst), 2);
        assert_eq!(new.0.load(SeqCst), 1);
    }

    #[test]
    fn slots_freed_by_a_wake_are_reused() {
        let mut list = WaiterList::new();
        let (_counter, waker) = counter();
        let mut keys: Vec<Option<WaiterKey>> = vec![None; 3];
        for key in &mut keys {
            list.register(key, &waker);
        }
        list.remove(keys[1].unwrap());
        wake(&mut list);
        for key in &mut keys {
            list.register(key, &waker);
        }
        assert_eq!(list.len(), 3);
        assert_eq!(list.slots(), 3);
        let mut fourth = None;
        list.register(&mut fourth, &waker);
        assert_eq!(list.slots(), 4, "no slot is handed out twice");
        wake(&mut list);
        assert_eq!(list.len(), 0);
    }
}
