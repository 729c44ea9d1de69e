//! The io_uring completion backend.
//!
//! * [`ring`]: one io_uring instance per thread, its in-flight table, submit/reap and
//!   the detach (retire) protocol.
//! * [`cell`]: an op's shared, reference-counted state and the future awaiting it.
//! * [`multishot`]: the same for ops that complete many times per submission.
//! * [`remote`]: a core's thread-safe side (eventfd wake-ups, the remote queue,
//!   counters) and the thread-local ring.
//! * [`probe`]: whether io_uring works here at all (backend selection).
//!
//! [`Driver`] is what a scheduler core holds: it attaches this thread's ring to the core
//! when the thread starts driving it, parks in `io_uring_enter`, and detaches when the
//! thread gives the core away.

pub(crate) mod cell;
#[allow(
    dead_code,
    reason = "multishot accept/recv/poll users arrive with networking"
)]
pub(crate) mod multishot;
pub(crate) mod probe;
pub(crate) mod remote;
pub(crate) mod ring;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use self::remote::{RING, RingShared};
use self::ring::Ring;
use crate::driver::RingConfig;

/// One core's io_uring driver.
#[derive(Debug)]
pub(crate) struct Driver {
    shared: Arc<RingShared>,
    config: RingConfig,
    /// Set once ring creation failed on some thread: park on the eventfd alone (ops on
    /// this core's thread then go to other cores' rings).
    ring_failed: bool,
}

impl Driver {
    pub(crate) fn new(config: RingConfig) -> io::Result<Driver> {
        Ok(Driver {
            shared: Arc::new(RingShared::new()?),
            config,
            ring_failed: false,
        })
    }

    pub(crate) fn shared(&self) -> &Arc<RingShared> {
        &self.shared
    }

    /// This thread starts driving the core: attach its ring (created on first use).
    pub(crate) fn attach(&mut self) {
        let result = RING.with(|ring| {
            let mut ring = ring.borrow_mut();
            if ring.is_none() {
                *ring = Some(Ring::new(&self.config)?);
            }
            let ring = ring.as_mut().expect("just created");
            if let Some(attached) = ring.attached() {
                if Arc::ptr_eq(attached, &self.shared) {
                    return Ok(());
                }
                // Still serving another core (a nested runtime on this thread): keep
                // that attachment; this core parks on its eventfd.
                return Err(io::Error::other("this thread's ring serves another core"));
            }
            ring.attach(&self.shared);
            Ok(())
        });
        if let Err(error) = result {
            if !self.ring_failed {
                log::warn!(
                    "ringtide: no io_uring ring for this thread ({error}); its I/O goes \
                     through other workers"
                );
            }
            self.ring_failed = true;
        } else {
            self.ring_failed = false;
        }
    }

    /// This thread stops driving the core: cancel and drain its ring's ops (they are
    /// resubmitted wherever their tasks run next).
    pub(crate) fn detach(&mut self) {
        let _ = RING.try_with(|ring| {
            if let Ok(mut ring) = ring.try_borrow_mut() {
                if let Some(ring) = ring.as_mut() {
                    if ring
                        .attached()
                        .is_some_and(|a| Arc::ptr_eq(a, &self.shared))
                    {
                        ring.detach();
                    }
                }
            }
        });
    }

    /// Detaches, then closes this thread's ring unless the kernel still owns some of
    /// its ops (then it stays, detached, until the thread exits).
    pub(crate) fn detach_and_release(&mut self) {
        self.detach();
        let _ = RING.try_with(|ring| {
            if let Ok(mut ring) = ring.try_borrow_mut() {
                if ring.as_ref().is_some_and(Ring::is_idle) {
                    *ring = None;
                }
            }
        });
    }

    /// Whether this thread's ring has SQEs queued but not yet submitted, which a
    /// non-blocking [`park`](Driver::park) would submit (and often complete at once).
    pub(crate) fn has_unsubmitted(&self) -> bool {
        RING.try_with(|ring| {
            ring.try_borrow()
                .ok()
                .and_then(|ring| ring.as_ref().map(Ring::has_unsubmitted))
                .unwrap_or(false)
        })
        .unwrap_or(false)
    }

    /// Parks until a completion, an unpark, or `timeout`; `Some(ZERO)` only polls.
    pub(crate) fn park(&mut self, timeout: Option<Duration>) {
        let shared = &self.shared;
        let served = RING.with(|ring| {
            let mut ring = ring.borrow_mut();
            let Some(ring) = ring
                .as_mut()
                .filter(|r| r.attached().is_some_and(|a| Arc::ptr_eq(a, shared)))
            else {
                return false;
            };
            ring.drain_remote(shared);
            let sleep = timeout != Some(Duration::ZERO) && shared.begin_park();
            if sleep {
                ring.wait(timeout);
                shared.end_park();
            } else {
                shared.take_token();
                ring.poll_nowait();
            }
            ring.reap();
            ring.drain_remote(shared);
            true
        });
        if !served {
            // No ring on this thread for this core: sleep on the eventfd.
            if timeout != Some(Duration::ZERO) && shared.begin_park() {
                shared.wait_eventfd(timeout);
                shared.end_park();
            } else {
                shared.take_token();
            }
        }
    }
}

/// One core's ring counters.
pub(crate) fn counters(shared: &RingShared) -> crate::driver::IoCounters {
    use std::sync::atomic::Ordering::Relaxed;
    let metrics = &shared.metrics;
    crate::driver::IoCounters {
        submitted: metrics.submitted.load(Relaxed),
        completed: metrics.completed.load(Relaxed),
        in_flight: metrics.in_flight.load(Relaxed),
        cancelled: metrics.cancelled.load(Relaxed),
        cq_overflow: metrics.cq_overflow.load(Relaxed),
        registered: 0,
    }
}
