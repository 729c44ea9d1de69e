//! The runtime's clock, which tests can pause and move by hand ([`pause`],
//! [`advance`], [`resume`]).
//!
//! A paused clock stands still at the instant it was paused plus whatever `advance`
//! added. While it is paused and the runtime has nothing to run, the runtime jumps the
//! clock to the next timer's deadline instead of sleeping ("auto-advance"), so a test of
//! a one-hour timeout finishes at once, and every timer still fires in deadline order.
//! [`Instant::now`](crate::time::Instant::now) reads the paused clock on threads of
//! that runtime.
//!
//! Only current-thread runtimes can be paused: on a multi-thread runtime, other
//! workers would observe time jumping under them.

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

    fn pause(&self) {
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

    fn resume(&self) {
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

/// The time of the runtime this thread is in, if its clock differs from the system's.
pub(crate) fn adjusted_now() -> Option<std::time::Instant> {
    crate::runtime::context::with_handle(|handle| {
        let time = handle?.driver().time()?;
        time.clock().is_adjusted().then(|| time.clock().now())
    })
}

#[track_caller]
fn with_clock<R>(what: &str, f: impl FnOnce(&Clock) -> R) -> R {
    crate::runtime::context::with_handle(|handle| {
        let Some(handle) = handle else {
            panic!("time::{what} must be called inside a ringtide runtime");
        };
        if !matches!(handle, crate::runtime::scheduler::Handle::CurrentThread(_)) {
            panic!(
                "time::{what} only works on a current-thread runtime (`flavor = \
                 \"current_thread\"`, the default of `#[ringtide::test]`)"
            );
        }
        let Some(time) = handle.driver().time() else {
            panic!("time::{what} needs the time driver: build the runtime with `enable_time()`");
        };
        f(time.clock())
    })
}

/// Pauses the clock of the current (current-thread) runtime: time stands still except
/// for [`advance`] and for auto-advance to the next timer when the runtime is idle.
///
/// # Panics
///
/// Panics outside a current-thread runtime with the time driver enabled.
#[track_caller]
pub fn pause() {
    with_clock("pause", Clock::pause);
}

/// Resumes a paused clock: time runs again from where it stood.
///
/// # Panics
///
/// As [`pause`].
#[track_caller]
pub fn resume() {
    with_clock("resume", Clock::resume);
}

/// Moves a paused clock forward by `duration` and lets the timers that became due
/// fire before returning.
///
/// # Panics
///
/// As [`pause`]; also if the clock is not paused.
#[track_caller]
pub fn advance(duration: Duration) -> impl std::future::Future<Output = ()> {
    with_clock("advance", |clock| {
        assert!(
            clock.is_paused(),
            "time::advance needs a paused clock: call time::pause() first"
        );
        clock.advance(duration);
    });
    async {
        if let Some(time) = crate::runtime::context::with_handle(|handle| {
            handle.and_then(|handle| handle.driver().time().cloned())
        }) {
            time.process_all();
        }
        crate::task::yield_now().await;
    }
}
