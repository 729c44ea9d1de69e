//! The io_uring completion backend.
//!
//! * [`ring`]: one io_uring instance per thread, its in-flight table, submit/reap and
//!   the detach (retire) protocol.
//! * [`cell`]: an op's shared, reference-counted state and the future awaiting it.
//! * [`multishot`]: the same for ops that complete many times per submission.
//! * [`remote`]: a core's thread-safe side (eventfd wake-ups, the remote queue,
//!   counters) and the thread-local ring.
//! * [`buf_ring`]: provided-buffer rings (kernel-selected read buffers), registered
//!   per ring on first use.
//! * [`probe`]: whether io_uring works here at all (backend selection).
//!
//! [`Driver`] is what a scheduler core holds: it attaches this thread's ring to the core
//! when the thread starts driving it, parks in `io_uring_enter`, and detaches when the
//! thread gives the core away.

#[allow(
    dead_code,
    reason = "pooled reads (`op::recv_pooled`) and multishot RECV use it"
)]
pub(crate) mod buf_ring;
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
use crate::driver::cores::Cores;

/// One core's io_uring driver.
#[derive(Debug)]
pub(crate) struct Driver {
    shared: Arc<RingShared>,
    config: RingConfig,
    /// The ring created for this core when the runtime was built, until the first
    /// thread that drives the core takes it (see `ring`, "Creation").
    prepared: Option<Box<Ring>>,
    /// Set once ring creation failed on some thread: park on the eventfd alone (ops on
    /// this core's thread then go to other cores' rings).
    ring_failed: bool,
    /// The runtime's cores, where ops queued here go when this core has no ring (see
    /// [`set_cores`](Driver::set_cores); `None` only before that).
    cores: Option<Arc<Cores>>,
}

impl Driver {
    /// A core's driver, with its ring created now (disabled until a thread takes it),
    /// so that a ring the kernel refuses is an error here, not a hang later.
    pub(crate) fn new(config: RingConfig) -> io::Result<Driver> {
        let prepared = Ring::new(&config, true)?;
        Ok(Driver {
            shared: Arc::new(RingShared::new()?),
            config,
            prepared: Some(Box::new(prepared)),
            ring_failed: false,
            cores: None,
        })
    }

    /// A driver whose ring is created by the thread that attaches it (a multi-thread
    /// runtime's `block_on` caller, which may already have one), outside `cores`, the
    /// runtime's cores.
    pub(crate) fn new_lazy(config: RingConfig, cores: Arc<Cores>) -> io::Result<Driver> {
        Ok(Driver {
            shared: Arc::new(RingShared::new()?),
            config,
            prepared: None,
            ring_failed: false,
            cores: Some(cores),
        })
    }

    pub(crate) fn shared(&self) -> &Arc<RingShared> {
        &self.shared
    }

    /// The runtime's cores (this one among them), once they all exist: where the ops
    /// queued on this core go while its thread has no ring.
    pub(crate) fn set_cores(&mut self, cores: Arc<Cores>) {
        self.cores = Some(cores);
    }

    /// This thread starts driving the core: attach its ring (the core's prepared one,
    /// or one created now, on first use).
    pub(crate) fn attach(&mut self) {
        let prepared = &mut self.prepared;
        let config = &self.config;
        let shared = &self.shared;
        let result = RING.with(|ring| {
            let mut ring = ring.borrow_mut();
            if ring.is_none() {
                let mut new = match prepared.take() {
                    Some(prepared) => *prepared,
                    None => Ring::new(config, false)?,
                };
                new.enable()?;
                *ring = Some(new);
            }
            let ring = ring.as_mut().expect("just created");
            if ring.is_broken() {
                // See `ring`, "Broken ring": it runs no more ops.
                return Err(io::Error::other("this thread's ring is broken"));
            }
            if let Some(attached) = ring.attached() {
                if Arc::ptr_eq(attached, shared) {
                    return Ok(());
                }
                // Still serving another core (a nested runtime on this thread): keep
                // that attachment; this core parks on its eventfd.
                return Err(io::Error::other("this thread's ring serves another core"));
            }
            ring.attach(shared);
            Ok(())
        });
        if let Err(error) = result {
            if !self.ring_failed {
                crate::trace::event!(
                    warn,
                    "ringtide: no io_uring ring for this thread ({error}); its I/O goes \
                     through other workers"
                );
            }
            self.ring_failed = true;
        } else {
            self.ring_failed = false;
        }
        self.shared.set_ringless(self.ring_failed);
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
    /// its ops (then it stays, detached, until [`settle_this_thread`] or the thread's
    /// exit reaps them).
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
                .filter(|r| r.attached().is_some_and(|a| Arc::ptr_eq(a, shared)) && !r.is_broken())
            else {
                // A broken ring (see `ring`, "Broken ring") cannot be waited in either.
                return false;
            };
            ring.drain_remote(shared);
            let sleep = timeout != Some(Duration::ZERO) && shared.begin_park();
            if sleep {
                ring.wait(timeout);
                shared.end_park();
                ring.reap();
            } else {
                if timeout == Some(Duration::ZERO) {
                    // A failed `begin_park` consumed the token already.
                    shared.take_token();
                }
                // Reaps what the poll (if it entered the kernel) made available.
                ring.poll_nowait();
            }
            ring.drain_remote(shared);
            buf_ring::sweep_this_thread();
            true
        });
        if !served {
            // No ring on this thread for this core: hand what was queued here to cores
            // that have one, and sleep on the eventfd.
            let cores = self.cores.as_deref();
            forward_remote(shared, cores);
            if timeout != Some(Duration::ZERO) && shared.begin_park() {
                shared.wait_eventfd(timeout);
                shared.end_park();
            } else {
                shared.take_token();
            }
            forward_remote(shared, cores);
        }
    }
}

/// Moves the ops queued on a core that has no ring to a core of `cores` that has one;
/// when none has, each op's future is told to submit again, which then reports why it
/// cannot. Cancellations queued there have no ring to act on.
fn forward_remote(shared: &RingShared, cores: Option<&Cores>) {
    for request in shared.take_remote() {
        if let remote::RemoteRequest::Submit(cell) = request {
            match cores.and_then(Cores::pick_ring) {
                Some(target) => target.push_remote(remote::RemoteRequest::Submit(cell)),
                None => cell.not_submitted(),
            }
        }
    }
}

/// Reaps this thread's detached ring until the kernel has returned every op it still
/// holds (see `ring`, "Stranded ops"). For a thread that has just stopped driving a
/// core and may block: after `block_in_place`'s closure (`release` false: the thread
/// keeps its ring for the next core it drives), and when a worker thread exits
/// (`release` true: the ring is closed now, not later in the thread's teardown).
pub(crate) fn settle_this_thread(release: bool) {
    let _ = RING.try_with(|ring| {
        let Ok(mut ring) = ring.try_borrow_mut() else {
            return;
        };
        let Some(current) = ring.as_mut() else {
            return;
        };
        if current.attached().is_some() {
            return;
        }
        if !current.settle(ring::SETTLE_LIMIT) {
            crate::trace::event!(
                warn,
                "ringtide: {} io_uring ops are still in the kernel {:?} after their \
                 cancellation; this thread keeps reaping them when it next drives a core \
                 or exits",
                current.stranded(),
                ring::SETTLE_LIMIT
            );
        } else if release && current.is_idle() {
            *ring = None;
        }
    });
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
        // io_uring needs no registration of I/O objects (and registers no files or
        // buffers with the kernel).
        registered: 0,
    }
}
