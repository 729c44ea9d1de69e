//! [`Sleep`], [`sleep`] and [`sleep_until`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::time::Instant;
use crate::time::driver::{TimeHandle, TimerId};

/// Waits until `duration` has elapsed. `Duration::MAX` (or any duration that overflows
/// the clock) means "about 30 years", never a panic.
///
/// The timer has millisecond resolution and never fires early: the deadline is rounded
/// up to the next millisecond. It belongs to the runtime this is called in.
///
/// # Panics
///
/// Panics outside a ringtide runtime, or in a runtime built without `enable_time()` /
/// `enable_all()`, as tokio does: call it from a task, inside `Runtime::block_on`, or
/// after `Handle::enter` (so `runtime.block_on(sleep(..))` panics, since `sleep` runs
/// before `block_on` enters; write `runtime.block_on(async { sleep(..).await })`).
///
/// The returned future panics when it has to wait after its runtime shut down (the
/// `Runtime` was dropped or shut down; `Handle::block_on` still runs futures then), as
/// tokio's does: nothing fires timers any more, so it would wait for ever. A sleep
/// already waiting when the runtime shuts down is woken and panics so.
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let deadline = Instant::now()
        .checked_add(duration)
        .unwrap_or_else(Instant::far_future);
    sleep_until(deadline)
}

/// Waits until `deadline`. A deadline in the past completes at the first poll.
///
/// # Panics
///
/// As [`sleep`].
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        time: current_time_handle(),
        entry: None,
    }
}

/// The future returned by [`sleep`] and [`sleep_until`]. Dropping it removes its timer.
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    deadline: Instant,
    /// The timer of the runtime the sleep was created in.
    time: Arc<TimeHandle>,
    /// The timer, once registered by the first poll that had to wait.
    entry: Option<TimerId>,
}

impl Sleep {
    /// When this sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (earlier or later); a completed sleep waits again.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.get_mut();
        this.deadline = deadline;
        if let Some(key) = this.entry {
            this.time
                .reset(key, this.time.deadline_ms(deadline.into_std()));
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Some(key) = this.entry {
            // The clock first: a fired timer's deadline has passed, so the common case
            // (polled because it fired) needs no lock on the wheel.
            if Instant::now() >= this.deadline {
                return Poll::Ready(());
            }
            // Shut down before the fired flag: the shutdown's wake-up is not a firing.
            if this.time.is_shut_down() {
                runtime_shut_down_panic();
            }
            if this.time.poll_fired(key, cx) {
                return Poll::Ready(());
            }
        } else {
            if Instant::now() >= this.deadline {
                return Poll::Ready(());
            }
            let time = &this.time;
            let key = time.register(
                time.deadline_ms(this.deadline.into_std()),
                cx.waker(),
                current_core(time),
            );
            this.entry = Some(key);
        }
        // After the waker went in (see `TimeHandle::runtime_shut_down`).
        if this.time.is_shut_down() {
            runtime_shut_down_panic();
        }
        Poll::Pending
    }
}

#[cold]
#[track_caller]
fn runtime_shut_down_panic() -> ! {
    panic!(
        "a ringtide timer cannot wait after its runtime shut down (the `Runtime` was \
         dropped or shut down, and nothing fires timers any more)"
    )
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.entry.take() {
            self.time.remove(key);
        }
    }
}

/// The timer of the runtime this thread has entered.
#[track_caller]
fn current_time_handle() -> Arc<TimeHandle> {
    let found = crate::runtime::context::with_handle(|handle| {
        handle.map(|handle| handle.driver().time().cloned())
    });
    match found {
        Some(Some(time)) => time,
        Some(None) => panic!(
            "ringtide timers need the time driver: build the runtime with `enable_time()` \
             or `enable_all()`"
        ),
        None => panic!(
            "ringtide timers must be used inside a ringtide runtime: call them from a \
             task or inside `Runtime::block_on` (an `async` block there), or enter a \
             runtime first with `Handle::enter`"
        ),
    }
}

/// The core this thread drives for `time`'s runtime, if any: the shard a new timer
/// goes to (any shard otherwise, see `TimeHandle::register`).
fn current_core(time: &Arc<TimeHandle>) -> Option<usize> {
    crate::runtime::context::with_handle(|handle| {
        let handle = handle?;
        let same_runtime = handle
            .driver()
            .time()
            .is_some_and(|current| Arc::ptr_eq(current, time));
        if same_runtime {
            handle.current_core()
        } else {
            None
        }
    })
}
