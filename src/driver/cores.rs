//! [`Cores`]: the cores of one runtime as its drivers see them, for work that has to
//! be handed to some core.
//!
//! It holds every core's wake-up handle ([`Unpark`], which on io_uring is the core's
//! `RingShared` and on mio its poll) and one round-robin cursor. The runtime-wide
//! [`Handle`](super::Handle) picks a core here for an op from a thread without a ring,
//! or a poll to register an I/O object with; each io_uring core driver shares the same
//! list, so a core whose thread has no ring can forward the ops queued on it to a core
//! that has one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::{Unpark, mio};

/// Every core's wake-up handle, and the round-robin cursor over them.
#[derive(Debug)]
pub(crate) struct Cores {
    unparks: Box<[Unpark]>,
    next: AtomicUsize,
}

impl Cores {
    pub(crate) fn new(unparks: Box<[Unpark]>) -> Cores {
        Cores {
            unparks,
            next: AtomicUsize::new(0),
        }
    }

    /// Each core's wake-up handle, in core order.
    pub(crate) fn unparks(&self) -> &[Unpark] {
        &self.unparks
    }

    /// A core's ring for an op from a thread without one (round robin), skipping
    /// cores whose thread has no ring (nothing would run the op there).
    #[cfg(ringtide_uring)]
    pub(crate) fn pick_ring(&self) -> Option<Arc<super::uring::remote::RingShared>> {
        let start = self.next.fetch_add(1, Relaxed);
        (0..self.unparks.len()).find_map(|offset| {
            match &self.unparks[(start + offset) % self.unparks.len()] {
                Unpark::Uring(shared) if shared.can_run_ops() => Some(shared.clone()),
                _ => None,
            }
        })
    }

    /// A core's poll to register an I/O object with: this thread's core when it drives
    /// one, else round robin.
    pub(crate) fn pick_poll(&self) -> Option<Arc<mio::Shared>> {
        if let Some(shared) = mio::current_shared() {
            if self.unparks.iter().any(|core| match core {
                Unpark::Mio(candidate) => Arc::ptr_eq(candidate, &shared),
                _ => false,
            }) {
                return Some(shared);
            }
        }
        let start = self.next.fetch_add(1, Relaxed);
        (0..self.unparks.len()).find_map(|offset| {
            match &self.unparks[(start + offset) % self.unparks.len()] {
                Unpark::Mio(shared) => Some(shared.clone()),
                _ => None,
            }
        })
    }
}
