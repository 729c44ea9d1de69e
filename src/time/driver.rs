//! The runtime's timer: one wheel behind a lock, and the rule for who sleeps on it.
//!
//! Timers are registered in one [`Wheel`] per runtime (1 ms resolution, deadlines
//! rounded up so a timer never fires early). The wheel bounds how long a core parks:
//!
//! * **The keeper.** A core about to park claims the keeper role if it is free and then
//!   parks with a timeout equal to the wait until the wheel's next expiration (the
//!   io_uring wait's timeout, or the mio poll timeout). Other cores park without a
//!   timeout, so a timer tick wakes one thread, not all of them. The keeper releases the
//!   role when it wakes.
//! * **Earlier deadlines.** Registering (or resetting) a timer earlier than what the
//!   keeper sleeps until unparks the keeper, which recomputes its timeout. Both sides
//!   read and write the keeper's deadline under the wheel lock, so either the keeper
//!   sees the new timer, or the registrar sees the old deadline and wakes it (an unpark
//!   before the park makes the park return at once).
//! * **Firing.** Every core advances the wheel to "now" after each park and at each
//!   maintenance tick, and wakes the fired timers' tasks outside the lock.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Waker};
use std::time::Duration;

use crate::driver::Unpark;
use crate::loom::{Mutex, lock};
use crate::runtime::park::Unpark as _;
use crate::time::Instant;
use crate::time::clock::Clock;
use crate::time::wheel::{TimerKey, Wheel};

/// No keeper: `keeper` holds `index + 1` of the keeping core.
const NO_KEEPER: usize = 0;

/// The timer of one runtime.
pub(crate) struct TimeHandle {
    /// Time zero of the wheel.
    start: std::time::Instant,
    clock: Clock,
    wheel: Mutex<Wheel>,
    keeper: AtomicUsize,
    /// What the keeper sleeps until, in wheel milliseconds (`u64::MAX`: no timeout).
    keeper_deadline: AtomicU64,
    cores: Box<[Unpark]>,
}

impl std::fmt::Debug for TimeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeHandle")
            .field("keeper", &self.keeper)
            .finish_non_exhaustive()
    }
}

impl TimeHandle {
    pub(crate) fn new(cores: Box<[Unpark]>) -> TimeHandle {
        TimeHandle {
            start: std::time::Instant::now(),
            clock: Clock::new(),
            wheel: Mutex::new(Wheel::new()),
            keeper: AtomicUsize::new(NO_KEEPER),
            keeper_deadline: AtomicU64::new(u64::MAX),
            cores,
        }
    }

    /// Milliseconds since the wheel started, rounded down (what has fully elapsed).
    fn now_ms(&self) -> u64 {
        let elapsed = self.clock.now().saturating_duration_since(self.start);
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    }

    /// The runtime's clock (pausable in tests).
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// With a paused clock and nothing to run: jump the clock to the next timer.
    /// Returns false when nothing is pending (the caller sleeps as usual).
    pub(crate) fn auto_advance(&self) -> bool {
        let Some(next) = lock(&self.wheel).next_expiration() else {
            return false;
        };
        let target = self.start + Duration::from_millis(next);
        self.clock.advance_to(target);
        true
    }

    /// A deadline in wheel milliseconds, rounded up so it never fires early.
    pub(crate) fn deadline_ms(&self, deadline: Instant) -> u64 {
        let since = deadline.into_std().saturating_duration_since(self.start);
        let millis = since.as_nanos().div_ceil(1_000_000);
        u64::try_from(millis).unwrap_or(u64::MAX)
    }

    /// Registers a timer for `deadline` (wheel ms).
    pub(crate) fn register(&self, deadline: u64, waker: &Waker) -> TimerKey {
        let key = lock(&self.wheel).insert(deadline, waker.clone());
        self.wake_keeper_before(deadline);
        key
    }

    /// Moves a timer to a new deadline.
    pub(crate) fn reset(&self, key: TimerKey, deadline: u64) {
        lock(&self.wheel).reset(key, deadline);
        self.wake_keeper_before(deadline);
    }

    /// Whether the timer fired; if not, `cx`'s waker is the one it wakes.
    pub(crate) fn poll_fired(&self, key: TimerKey, cx: &Context<'_>) -> bool {
        let mut wheel = lock(&self.wheel);
        if wheel.is_fired(key) {
            return true;
        }
        wheel.set_waker(key, cx.waker());
        false
    }

    /// Forgets a timer.
    pub(crate) fn remove(&self, key: TimerKey) {
        lock(&self.wheel).remove(key);
    }

    fn wake_keeper_before(&self, deadline: u64) {
        if deadline < self.keeper_deadline.load(SeqCst) {
            let keeper = self.keeper.load(SeqCst);
            if keeper != NO_KEEPER {
                self.cores[keeper - 1].unpark();
            }
        }
    }

    /// Fires every timer whose deadline has passed and wakes their tasks.
    pub(crate) fn process(&self) {
        let now = self.now_ms();
        let mut wakers = Vec::new();
        {
            let mut wheel = lock(&self.wheel);
            if wheel.next_expiration().is_none_or(|next| next > now) {
                return;
            }
            wheel.advance(now, &mut wakers);
        }
        for waker in wakers {
            waker.wake();
        }
    }

    /// Called by core `index` before it parks: claims the keeper role if it is free and
    /// returns how long to sleep (`None`: until unparked). Pair with [`after_park`].
    ///
    /// [`after_park`]: TimeHandle::after_park
    pub(crate) fn before_park(&self, index: usize) -> Option<Duration> {
        if self
            .keeper
            .compare_exchange(NO_KEEPER, index + 1, SeqCst, SeqCst)
            .is_err()
        {
            return None;
        }
        let wheel = lock(&self.wheel);
        let next = wheel.next_expiration();
        self.keeper_deadline.store(next.unwrap_or(u64::MAX), SeqCst);
        drop(wheel);
        let next = next?;
        let now = self.now_ms();
        // One extra millisecond: the clock is read rounded down, deadlines rounded up.
        Some(Duration::from_millis(
            next.saturating_sub(now).saturating_add(1),
        ))
    }

    /// Called by core `index` after it parked: gives up the keeper role and fires what
    /// is due.
    pub(crate) fn after_park(&self, index: usize) {
        if self
            .keeper
            .compare_exchange(index + 1, NO_KEEPER, SeqCst, SeqCst)
            .is_ok()
        {
            self.keeper_deadline.store(u64::MAX, SeqCst);
        }
        self.process();
    }

    /// Entries held by the wheel, fired or not (for metrics).
    pub(crate) fn entries(&self) -> usize {
        lock(&self.wheel).len()
    }
}
