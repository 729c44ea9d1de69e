//! Which workers are awake, which are searching for work, and which sleep.
//!
//! # Protocol
//!
//! One atomic word packs two counters: `unparked` (workers not asleep) and `searching`
//! (workers looking for work to steal). The list of sleeping workers is under a mutex.
//!
//! * **Notify** (after pushing work somewhere other workers can see): a full fence, then
//!   read the counters. If some worker is searching, it will find the work (or hand
//!   the duty on, below); if none is asleep, an awake worker will. Otherwise pop a
//!   sleeper, count it as unparked *and searching*, and unpark it.
//! * **Search**: a worker may start searching only while fewer than half the workers
//!   search, so idle workers do not all hammer the same queues.
//! * **Stop searching**: a worker that found work stops searching. If it was the last
//!   searcher it notifies another worker, because work may have been pushed while
//!   notifiers relied on it to find it (they saw `searching > 0` and woke nobody).
//! * **Park**: under the lock, decrement `unparked` (and `searching` if it was
//!   searching) and join the sleepers; then a full fence and one more look at every
//!   queue if it was the last searcher or the last awake worker. That pairs with the
//!   notifier's fence: either the notifier sees the decremented counters and wakes a
//!   sleeper, or the parking worker sees the pushed work.
//! * **Unpark**: a worker woken by a notify is already off the sleeper list and counted
//!   as searching; a worker that wakes for another reason (shutdown, spurious wake-up,
//!   a driver event) removes itself from the list.
//!
//! The loom test at the bottom checks that a notify racing with the last worker going
//! to sleep never leaves work queued with every worker asleep.

use crate::loom::atomic::{AtomicUsize, Ordering::SeqCst, fence};
use crate::loom::{Mutex, lock};

const UNPARK_SHIFT: usize = 16;
const SEARCH_MASK: usize = (1 << UNPARK_SHIFT) - 1;

#[derive(Debug)]
pub(crate) struct Idle {
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        assert!(num_workers < SEARCH_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(num_workers << UNPARK_SHIFT),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    /// Picks a sleeping worker to wake after new work was published, if one should be
    /// woken; the caller unparks it. The caller must have published the work before.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        fence(SeqCst);
        if !self.should_notify() {
            return None;
        }
        let mut sleepers = lock(&self.sleepers);
        if !self.should_notify() {
            return None;
        }
        let worker = sleepers.pop()?;
        // One more unparked worker, and it starts out searching.
        self.state.fetch_add((1 << UNPARK_SHIFT) | 1, SeqCst);
        Some(worker)
    }

    fn should_notify(&self) -> bool {
        let state = self.state.load(SeqCst);
        state & SEARCH_MASK == 0 && (state >> UNPARK_SHIFT) < self.num_workers
    }

    /// Tries to enter the searching state; false when enough workers already search.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * (state & SEARCH_MASK) >= self.num_workers {
            return false;
        }
        // Racy by design: the limit is a heuristic, not an invariant.
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// Leaves the searching state; true if this was the last searcher (the caller must
    /// then notify, see the module docs).
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        let previous = self.state.fetch_sub(1, SeqCst);
        previous & SEARCH_MASK == 1
    }

    /// Registers `worker` as asleep. Returns true when the caller must check every queue
    /// once more before sleeping (it was the last searcher or the last awake worker).
    pub(crate) fn transition_worker_to_parked(&self, worker: usize, is_searching: bool) -> bool {
        let mut sleepers = lock(&self.sleepers);
        let decrement = (1 << UNPARK_SHIFT) | usize::from(is_searching);
        let previous = self.state.fetch_sub(decrement, SeqCst);
        sleepers.push(worker);
        drop(sleepers);
        fence(SeqCst);
        let was_last_searcher = is_searching && previous & SEARCH_MASK == 1;
        let was_last_awake = previous >> UNPARK_SHIFT == 1;
        was_last_searcher || was_last_awake
    }

    /// A sleeping worker woke up. Returns `Some(is_searching)` if it should resume work,
    /// `None` if it is still registered asleep (spurious wake-up) and should park again.
    pub(crate) fn transition_worker_from_parked(&self, worker: usize, force: bool) -> Option<bool> {
        let mut sleepers = lock(&self.sleepers);
        match sleepers.iter().position(|&w| w == worker) {
            // Woken by a notify: already unparked and counted as searching.
            None => Some(true),
            Some(index) if force => {
                sleepers.swap_remove(index);
                self.state.fetch_add(1 << UNPARK_SHIFT, SeqCst);
                Some(false)
            }
            Some(_) => None,
        }
    }

    /// Number of workers currently searching.
    #[cfg(test)]
    pub(crate) fn num_searching(&self) -> usize {
        self.state.load(SeqCst) & SEARCH_MASK
    }

    /// Number of workers not asleep.
    #[cfg(test)]
    pub(crate) fn num_unparked(&self) -> usize {
        self.state.load(SeqCst) >> UNPARK_SHIFT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_transitions() {
        let idle = Idle::new(4);
        assert_eq!(idle.num_unparked(), 4);
        assert!(idle.transition_worker_to_searching());
        assert!(idle.transition_worker_to_searching());
        // Two of four searching: the limit (half) is reached.
        assert!(!idle.transition_worker_to_searching());
        assert!(!idle.transition_worker_from_searching());
        assert!(idle.transition_worker_to_parked(3, true));
        assert_eq!(idle.num_searching(), 0);
        assert_eq!(idle.num_unparked(), 3);
        assert_eq!(idle.worker_to_notify(), Some(3));
        assert_eq!(idle.num_searching(), 1);
        assert_eq!(idle.num_unparked(), 4);
        assert_eq!(idle.transition_worker_from_parked(3, false), Some(true));
    }

    #[test]
    fn spurious_wakeup_parks_again_unless_forced() {
        let idle = Idle::new(2);
        idle.transition_worker_to_parked(0, false);
        assert_eq!(idle.transition_worker_from_parked(0, false), None);
        assert_eq!(idle.transition_worker_from_parked(0, true), Some(false));
        assert_eq!(idle.num_unparked(), 2);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::Arc;
    use crate::loom::atomic::AtomicBool;

    /// One worker goes to sleep while another thread publishes work and notifies.
    /// Either the notifier wakes the worker, or the worker sees the work before
    /// sleeping: the work is never stranded.
    #[test]
    fn loom_notify_races_with_last_worker_parking() {
        loom::model(|| {
            let idle = Arc::new(Idle::new(1));
            let work = Arc::new(AtomicBool::new(false));

            let notifier = {
                let idle = idle.clone();
                let work = work.clone();
                loom::thread::spawn(move || {
                    work.store(true, SeqCst);
                    idle.worker_to_notify()
                })
            };

            // The worker found nothing and parks.
            let must_recheck = idle.transition_worker_to_parked(0, false);
            let saw_work = must_recheck && work.load(SeqCst);
            let woken = notifier.join().unwrap() == Some(0);
            assert!(
                saw_work || woken,
                "work published but the only worker sleeps"
            );
        });
    }

    /// The last searcher stops searching while a notifier, which saw it searching,
    /// skips the wake-up: the searcher must then see the work.
    #[test]
    fn loom_last_searcher_sees_work_skipped_by_notifier() {
        loom::model(|| {
            let idle = Arc::new(Idle::new(2));
            assert!(idle.transition_worker_to_searching());
            let work = Arc::new(AtomicBool::new(false));

            let notifier = {
                let idle = idle.clone();
                let work = work.clone();
                loom::thread::spawn(move || {
                    work.store(true, SeqCst);
                    idle.worker_to_notify()
                })
            };

            let must_recheck = idle.transition_worker_to_parked(0, true);
            assert!(must_recheck);
            let saw_work = work.load(SeqCst);
            let woke = notifier.join().unwrap();
            // Worker 1 is awake and not searching; if the notifier woke nobody, the
            // parking searcher must have seen the work.
            assert!(saw_work || woke.is_some());
        });
    }
}
