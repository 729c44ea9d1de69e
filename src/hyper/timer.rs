//! [`Timer`]: hyper's `rt::Timer` on ringtide's timer wheel ([`crate::time`]).
//!
//! hyper asks for timers for its timeouts (HTTP/1 `header_read_timeout`, on by
//! default in its server builders; HTTP/2 keep-alive pings) and hyper-util's pooled
//! client for expiring idle connections. Each `sleep` is a [`crate::time::Sleep`]
//! boxed in [`TimerSleep`]; `reset` moves that timer in place (no new allocation)
//! when hyper hands back one of ours, and `now` reads ringtide's clock, so a runtime
//! whose time is paused ([`crate::time::pause`]) pauses hyper's timeouts too.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::time;

/// hyper's timer on ringtide's timer wheel. Needs a runtime with the time driver
/// (`enable_time()` or `enable_all()`); a sleep is registered when first polled.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer {
    _private: (),
}

impl Timer {
    /// The timer (it has no state of its own: every runtime has its wheel).
    pub fn new() -> Timer {
        Timer { _private: () }
    }
}

/// A sleep handed to hyper: a [`crate::time::Sleep`] that implements `hyper::rt::Sleep`.
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct TimerSleep {
    sleep: time::Sleep,
}

impl TimerSleep {
    /// When the sleep completes.
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline().into_std()
    }
}

impl Future for TimerSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.sleep).poll(cx)
    }
}

impl ::hyper::rt::Sleep for TimerSleep {}

impl ::hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(TimerSleep {
            sleep: time::sleep(duration),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(TimerSleep {
            sleep: time::sleep_until(time::Instant::from_std(deadline)),
        })
    }

    fn now(&self) -> Instant {
        time::Instant::now().into_std()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn ::hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<TimerSleep>() {
            Some(ours) => {
                let ours = ours.get_mut();
                Pin::new(&mut ours.sleep).reset(time::Instant::from_std(new_deadline));
            }
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
