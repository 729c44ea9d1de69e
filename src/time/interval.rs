//! [`Interval`]: a stream of ticks at a fixed period, with tokio's missed-tick
//! behaviours.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::time::{Instant, Sleep, sleep_until};

/// A tick later than this after its deadline counts as missed.
const MISSED_THRESHOLD: Duration = Duration::from_millis(5);

/// Ticks every `period`, the first one at once.
///
/// # Panics
///
/// Panics if `period` is zero, and where [`sleep`](crate::time::sleep) does (outside a
/// runtime with the time driver).
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first one at `start`.
///
/// # Panics
///
/// As [`interval`].
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(period > Duration::ZERO, "`period` must be non-zero");
    Interval {
        sleep: Box::pin(sleep_until(start)),
        period,
        behavior: MissedTickBehavior::Burst,
    }
}

/// What an [`Interval`] does when ticks were missed (the consumer was slower than the
/// period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks at once, back to back, until caught up; later ticks keep
    /// the original schedule (`start + n * period`).
    #[default]
    Burst,
    /// Fire one tick now, and the next `period` after it: the schedule shifts.
    Delay,
    /// Fire one tick now, then continue on the original schedule, skipping the ticks
    /// that were missed.
    Skip,
}

impl MissedTickBehavior {
    fn next(self, missed: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => missed + period,
            MissedTickBehavior::Delay => now + period,
            MissedTickBehavior::Skip => {
                let behind = now.duration_since(missed).as_nanos();
                let period_nanos = period.as_nanos();
                let into_period = behind % period_nanos;
                let until_next = period_nanos - into_period;
                now + Duration::from_nanos(u64::try_from(until_next).unwrap_or(u64::MAX))
            }
        }
    }
}

/// Created by [`interval`] and [`interval_at`].
#[derive(Debug)]
pub struct Interval {
    sleep: Pin<Box<Sleep>>,
    period: Duration,
    behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled time.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick (for manual `Future`/`Stream` implementations).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        let next = if now > scheduled + MISSED_THRESHOLD {
            self.behavior.next(scheduled, now, self.period)
        } else {
            scheduled + self.period
        };
        self.sleep.as_mut().reset(next);
        Poll::Ready(scheduled)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        let next = Instant::now() + self.period;
        self.sleep.as_mut().reset(next);
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The current missed-tick behaviour (default [`MissedTickBehavior::Burst`]).
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.behavior
    }

    /// Sets what happens when ticks are missed.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.behavior = behavior;
    }
}

use std::future::Future as _;
