//! [`SignalSlot`]: the listeners of one signal (a Unix signal number, or a Windows
//! console event) and the [`Registration`] through which a listener waits, on every
//! platform. What delivers the signal is the platform's: the `sigaction` handler, the
//! self-pipe and the dispatcher thread on Unix (`signal::registry`), the console
//! control handler on Windows (`signal::console`). Either calls
//! [`SignalSlot::dispatch`] once per (coalesced) delivery.
//!
//! A listener remembers the generation it has seen. It is notified when the slot's
//! generation differs; several deliveries between two polls coalesce into one
//! notification (the generation absorbs repeats).

use std::sync::{Mutex, MutexGuard};
use std::task::Waker;

use slab::Slab;

/// Listener bookkeeping for one signal.
#[derive(Debug, Default)]
pub(crate) struct SignalSlot {
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
pub(crate) struct SlotState {
    /// Dispatched deliveries (coalesced) so far.
    pub(crate) generation: u64,
    /// One entry per live listener: the waker of its last pending poll, if any.
    pub(crate) wakers: Slab<Option<Waker>>,
}

impl SignalSlot {
    /// A slot with no listener and no delivery (a `const fn`, for statics).
    #[cfg_attr(unix, allow(dead_code, reason = "Unix builds its slots at run time"))]
    pub(crate) const fn new() -> SignalSlot {
        SignalSlot {
            state: Mutex::new(SlotState {
                generation: 0,
                wakers: Slab::new(),
            }),
        }
    }

    /// The slot's state; a panic while it was held leaves it consistent (every update
    /// is a single assignment), so a poisoned lock is used as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Bumps the generation and wakes the listeners' registered wakers (outside the
    /// lock). Returns whether any listener was registered.
    pub(crate) fn dispatch(&self) -> bool {
        let (listened, wakers): (bool, Vec<Waker>) = {
            let mut state = self.lock();
            state.generation += 1;
            let listened = !state.wakers.is_empty();
            let wakers = state
                .wakers
                .iter_mut()
                .filter_map(|(_, waker)| waker.take())
                .collect();
            (listened, wakers)
        };
        for waker in wakers {
            waker.wake();
        }
        listened
    }
}

/// A listener's place in a slot: registered on creation, removed on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    slot: &'static SignalSlot,
    key: usize,
}

impl Registration {
    /// Registers a listener on `slot`; returns it with the generation it has seen.
    pub(crate) fn new(slot: &'static SignalSlot) -> (Registration, u64) {
        let mut state = slot.lock();
        let key = state.wakers.insert(None);
        (Registration { slot, key }, state.generation)
    }

    /// Ready when the slot's generation differs from `*seen` (and updates `*seen`);
    /// otherwise stores `waker` to be woken by the next dispatch.
    pub(crate) fn poll_changed(&self, seen: &mut u64, waker: &Waker) -> bool {
        let mut state = self.slot.lock();
        if state.generation != *seen {
            *seen = state.generation;
            state.wakers[self.key] = None;
            return true;
        }
        match &mut state.wakers[self.key] {
            Some(stored) if stored.will_wake(waker) => {}
            entry => *entry = Some(waker.clone()),
        }
        false
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.slot.lock().wakers.remove(self.key);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn dispatches_coalesce_and_reach_every_listener() {
        // A static, as the registries' slots are (not a leaked box: Miri reports
        // memory that nothing reaches any more as a leak).
        static SLOT: SignalSlot = SignalSlot::new();
        let slot = &SLOT;
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let (first, mut first_seen) = Registration::new(slot);
        let (second, mut second_seen) = Registration::new(slot);
        assert!(!first.poll_changed(&mut first_seen, &waker));
        assert!(!second.poll_changed(&mut second_seen, &waker));
        for _ in 0..3 {
            assert!(slot.dispatch(), "two listeners are registered");
        }
        // Each waiting listener was woken once (its waker is taken by the first dispatch).
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        // One notification for the three deliveries, then nothing pending.
        assert!(first.poll_changed(&mut first_seen, &waker));
        assert!(!first.poll_changed(&mut first_seen, &waker));
        assert!(second.poll_changed(&mut second_seen, &waker));
        assert!(!second.poll_changed(&mut second_seen, &waker));
        // A listener registered after a dispatch does not see it.
        let (late, mut late_seen) = Registration::new(slot);
        assert!(!late.poll_changed(&mut late_seen, &waker));
        drop(second);
        slot.dispatch();
        assert!(first.poll_changed(&mut first_seen, &waker));
        assert!(late.poll_changed(&mut late_seen, &waker));
        assert_eq!(slot.lock().wakers.len(), 2);
        // Once the last listener is gone, a delivery reaches nobody (the Windows
        // console handler then lets the default action run).
        drop(first);
        drop(late);
        assert!(!slot.dispatch(), "no listener is registered");
    }
}
