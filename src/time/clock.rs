//! The runtime's [`Clock`]: the system's monotonic time, unless a test paused it or
//! moved it by hand (the user-facing `time::pause`, `advance` and `resume` are in
//! `time::pause`).
//!
//! A paused clock stands still at the instant it was paused plus whatever `advance`
//! added. While it is paused and the runtime has nothing to run, the runtime jumps the
//! clock to the next timer's deadline instead of sleeping ("auto-advance"), so a test of
//! a one-hour timeout finishes at once, and every timer still fires in deadline order.
//! A resumed clock runs on from where it stood, ahead of the system's by what was
//! added. A process-wide count of such adjusted clocks keeps the common case (no test
//! ever paused time) free of locks: see [`any_adjusted`].

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use crate::loom::atomic::{AtomicBool, Ordering::Acquire, Ordering::Release};
use std::time::Duration;

use crate::loom::{Mutex, lock};

/// How many runtime clocks differ from the system's (paused now, or resumed after a
/// pause and so running ahead by what was advanced): `Instant::now` asks the runtime
/// only when this is non-zero.
static ADJUSTED_CLOCKS: AtomicUsize = AtomicUsize::new(0);

/// A clock that reads the system's monotonic time unless paused or moved by hand.
#[derive(Debug)]
pub(crate) struct Clock {
    state: Mutex<State>,
    /// `state.adjusted`, readable without the lock: until a test pauses the clock it is
    /// the system's, and reading it takes no lock (every timer operation reads it).
    adjusted: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    /// Where a paused clock stands.
    paused: Option<std::time::Instant>,
    /// How far ahead of the system's clock a resumed clock runs (what `advance` and
    /// auto-advance added while paused). Time never goes backwards.
    offset: Duration,
    /// Counted in `ADJUSTED_CLOCKS`.
    adjusted: bool,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            state: Mutex::new(State::default()),
            adjusted: AtomicBool::new(false),
        }
    }

    /// The current time on this clock.
    pub(crate) fn now(&self) -> std::time::Instant {
        if !self.adjusted.load(Acquire) {
            return std::time::Instant::now();
        }
        let state = lock(&self.state);
        match state.paused {
            Some(now) => now,
            None => {
                let real = std::time::Instant::now();
                real.checked_add(state.offset).unwrap_or(real)
            }
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.adjusted.load(Acquire) && lock(&self.state).paused.is_some()
    }

    /// Whether this clock differs from the system's.
    pub(crate) fn is_adjusted(&self) -> bool {
        self.adjusted.load(Acquire)
    }

    /// Stops the clock where it stands (a no-op when already paused).
    pub(crate) fn pause(&self) {
        let mut state = lock(&self.state);
        if state.paused.is_none() {
            let real = std::time::Instant::now();
            state.paused = Some(real.checked_add(state.offset).unwrap_or(real));
            if !state.adjusted {
                state.adjusted = true;
                self.adjusted.store(true, Release);
                ADJUSTED_CLOCKS.fetch_add(1, SeqCst);
            }
        }
    }

    /// Lets a paused clock run again from where it stood.
    pub(crate) fn resume(&self) {
        let mut state = lock(&self.state);
        if let Some(paused) = state.paused.take() {
            state.offset = paused.saturating_duration_since(std::time::Instant::now());
        }
    }

    /// Moves a paused clock forward by `duration` (saturating far in the future).
    pub(crate) fn advance(&self, duration: Duration) {
        if let Some(now) = lock(&self.state).paused.as_mut() {
            *now = now.checked_add(duration).unwrap_or(*now);
        }
    }

    /// Moves a paused clock forward to `instant` (never backwards).
    pub(crate) fn advance_to(&self, instant: std::time::Instant) {
        if let Some(now) = lock(&self.state).paused.as_mut() {
            if instant > *now {
                *now = instant;
            }
        }
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        if lock(&self.state).adjusted {
            ADJUSTED_CLOCKS.fetch_sub(1, SeqCst);
        }
    }
}

/// Whether any clock differs from the system's (the fast check of `Instant::now`).
pub(crate) fn any_adjusted() -> bool {
    ADJUSTED_CLOCKS.load(SeqCst) > 0
}
