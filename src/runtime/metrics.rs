//! Runtime metrics: a snapshot view of the scheduler's counters.
//!
//! Workers count polls, steals and parks in their core and publish them to the shared
//! [`WorkerMetrics`] when they park or do maintenance, so reading a metric never slows
//! the hot path; values may lag by up to one maintenance interval.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use crate::runtime::scheduler;

/// Counters of one worker, written by that worker only.
#[derive(Debug, Default)]
pub(crate) struct WorkerMetrics {
    pub(crate) polls: CachePadded<AtomicU64>,
    pub(crate) steals: AtomicU64,
    pub(crate) parks: AtomicU64,
}

/// I/O driver counters, from [`RuntimeMetrics::io`] (whole runtime) or
/// [`RuntimeMetrics::worker_io`] (one worker's ring or poll).
///
/// On io_uring every field but `registered` is maintained (io_uring needs no
/// registration of I/O objects: it stays 0). On mio, `completed` counts readiness
/// events dispatched and `registered` the registered I/O objects; the op counters and
/// `cq_overflow` stay 0 (readiness ops are plain syscalls, not submissions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IoMetrics {
    /// Operations submitted to the kernel.
    pub submitted: u64,
    /// Completions (CQEs, or readiness events on mio) dispatched.
    pub completed: u64,
    /// Operations in flight right now (as of the ring's last reap).
    pub in_flight: u64,
    /// Cancellations requested (dropped op futures).
    pub cancelled: u64,
    /// Completions that did not fit in the completion queue: the kernel held them in
    /// its overflow list and the ring fetched them back (none is ever lost). Counted
    /// as they are fetched.
    pub cq_overflow: u64,
    /// I/O objects registered with the poll (mio; always 0 on io_uring).
    pub registered: u64,
}

impl From<crate::driver::IoCounters> for IoMetrics {
    fn from(counters: crate::driver::IoCounters) -> IoMetrics {
        IoMetrics {
            submitted: counters.submitted,
            completed: counters.completed,
            in_flight: counters.in_flight,
            cancelled: counters.cancelled,
            cq_overflow: counters.cq_overflow,
            registered: counters.registered,
        }
    }
}

/// A handle to the runtime's metrics, from [`Runtime::metrics`](crate::runtime::Runtime::metrics)
/// or [`Handle::metrics`](crate::runtime::Handle::metrics).
#[derive(Clone, Debug)]
pub struct RuntimeMetrics {
    handle: scheduler::Handle,
}

impl RuntimeMetrics {
    pub(crate) fn new(handle: scheduler::Handle) -> RuntimeMetrics {
        RuntimeMetrics { handle }
    }

    /// Timers held by the runtime's wheel: pending ones, and fired ones whose `Sleep`
    /// still exists. 0 without the time driver.
    pub fn timers(&self) -> usize {
        self.handle.driver().time().map_or(0, |time| time.entries())
    }

    /// I/O driver counters summed over every worker.
    pub fn io(&self) -> IoMetrics {
        self.handle.driver().io().counters().into()
    }

    /// One worker's I/O driver counters (its ring on io_uring, its poll on mio).
    ///
    /// # Panics
    ///
    /// Panics if `worker >= num_workers()`.
    pub fn worker_io(&self, worker: usize) -> IoMetrics {
        self.handle.driver().io().core_counters(worker).into()
    }

    /// Number of worker threads (1 for a current-thread runtime: the `block_on` thread).
    pub fn num_workers(&self) -> usize {
        match &self.handle {
            scheduler::Handle::CurrentThread(_) => 1,
            scheduler::Handle::MultiThread(handle) => handle.num_workers(),
        }
    }

    /// Number of tasks spawned on the runtime whose future has not been dropped yet.
    pub fn num_alive_tasks(&self) -> usize {
        match &self.handle {
            scheduler::Handle::CurrentThread(handle) => handle.owned.alive(),
            scheduler::Handle::MultiThread(handle) => handle.owned.alive(),
        }
    }

    /// Tasks waiting in the global queue (the injection queue of a multi-thread
    /// runtime, the remote queue of a current-thread runtime).
    pub fn global_queue_depth(&self) -> usize {
        match &self.handle {
            scheduler::Handle::CurrentThread(handle) => handle.queue_depth(),
            scheduler::Handle::MultiThread(handle) => handle.injection_queue_depth(),
        }
    }

    /// Tasks waiting in worker `worker`'s local queue (0 on a current-thread runtime,
    /// whose queue is not shared).
    ///
    /// # Panics
    ///
    /// Panics if `worker >= num_workers()`.
    pub fn worker_local_queue_depth(&self, worker: usize) -> usize {
        match &self.handle {
            scheduler::Handle::CurrentThread(_) => {
                assert_eq!(worker, 0, "worker index out of range");
                0
            }
            scheduler::Handle::MultiThread(handle) => handle.worker_local_queue_depth(worker),
        }
    }

    /// Tasks polled by worker `worker` so far.
    ///
    /// # Panics
    ///
    /// Panics if `worker >= num_workers()`.
    pub fn worker_poll_count(&self, worker: usize) -> u64 {
        self.worker(worker).polls.load(Ordering::Relaxed)
    }

    /// Tasks worker `worker` stole from other workers so far.
    ///
    /// # Panics
    ///
    /// Panics if `worker >= num_workers()`.
    pub fn worker_steal_count(&self, worker: usize) -> u64 {
        self.worker(worker).steals.load(Ordering::Relaxed)
    }

    /// Times worker `worker` went to sleep so far.
    ///
    /// # Panics
    ///
    /// Panics if `worker >= num_workers()`.
    pub fn worker_park_count(&self, worker: usize) -> u64 {
        self.worker(worker).parks.load(Ordering::Relaxed)
    }

    /// Threads in the blocking pool, busy or idle, not counting the worker threads
    /// (which live in the same pool).
    pub fn num_blocking_threads(&self) -> usize {
        let threads = self.handle.blocking_spawner().num_threads();
        match &self.handle {
            scheduler::Handle::CurrentThread(_) => threads,
            scheduler::Handle::MultiThread(handle) => threads.saturating_sub(handle.num_workers()),
        }
    }

    /// Blocking-pool threads waiting for work.
    pub fn num_idle_blocking_threads(&self) -> usize {
        self.handle.blocking_spawner().num_idle_threads()
    }

    /// `spawn_blocking` closures waiting for a thread.
    pub fn blocking_queue_depth(&self) -> usize {
        self.handle.blocking_spawner().queue_depth()
    }

    fn worker(&self, worker: usize) -> &WorkerMetrics {
        match &self.handle {
            scheduler::Handle::CurrentThread(handle) => {
                assert_eq!(worker, 0, "worker index out of range");
                &handle.metrics
            }
            scheduler::Handle::MultiThread(handle) => &handle.metrics[worker],
        }
    }
}
