//! [`Core`]: one worker's state (its local queue, LIFO slot, driver and counters). The
//! core is what runs tasks; the thread is only where it lives now (`block_in_place`
//! moves it to another thread). The worker loop (`worker`) drives it; the shared
//! `Handle` keeps the cores of stopped workers until shutdown completes.

use crate::driver::{self, CoreDriver};
use crate::runtime::scheduler::multi_thread::queue::LocalQueue;

/// A worker's state; moves between threads only through `block_in_place`.
#[derive(Debug)]
pub(crate) struct Core {
    pub(super) index: usize,
    pub(super) tick: u32,
    pub(super) queue: LocalQueue,
    pub(super) lifo_enabled: bool,
    pub(super) is_searching: bool,
    pub(super) is_shutdown: bool,
    pub(super) park: Option<CoreDriver>,
    pub(super) rand: FastRand,
    pub(super) polls: u64,
    pub(super) steals: u64,
    pub(super) parks: u64,
}

impl Core {
    /// This thread drives the core from now on: its ring (or poll) serves the core.
    pub(super) fn attach_driver(&mut self) {
        if let Some(park) = self.park.as_mut() {
            driver::Driver::attach(park);
        }
    }

    /// This thread gives the core to another (`block_in_place`): hand in-flight I/O
    /// over (see `driver`), keeping per-thread driver state for the thread's next core.
    pub(super) fn detach_driver(&mut self) {
        if let Some(park) = self.park.as_mut() {
            driver::Driver::detach(park);
        }
    }

    /// This thread stops being a worker for good (exit): hand in-flight I/O over (see
    /// `driver`) and free its per-thread state.
    pub(super) fn release_driver(&mut self) {
        if let Some(park) = self.park.as_mut() {
            driver::Driver::detach_and_release(park);
        }
    }

    /// Drops every queued task (shutdown).
    pub(super) fn shutdown(&mut self) {
        self.is_shutdown = true;
        self.queue.drain();
    }
}

/// A small xorshift generator for picking steal victims.
#[derive(Debug)]
pub(super) struct FastRand(u64);

impl FastRand {
    pub(super) fn new(seed: u64) -> FastRand {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        FastRand((seed.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ time) | 1)
    }

    pub(super) fn next_below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        ((x >> 32) as usize * n) >> 32
    }
}
