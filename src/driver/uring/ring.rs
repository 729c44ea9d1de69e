//! One io_uring instance, owned by one thread.
//!
//! A [`Ring`] lives in a thread-local of the thread that created it and is only ever
//! entered by that thread, which is what lets it use `SINGLE_ISSUER | DEFER_TASKRUN`.
//! It is *attached* to one scheduler core (that core's [`RingShared`]: eventfd, remote
//! queue, counters) while its thread holds that core, and *detached* when the thread
//! gives the core away (worker exit, `block_in_place`, the end of a current-thread
//! `block_on`).
//!
//! # In-flight table
//!
//! Every submitted op has an entry in a slab that holds the ring's `Arc` to the op's
//! cell. `user_data` is `generation << 32 | slab key`, so a late cancel request for a
//! reused slot cannot hit the wrong op. Two values are reserved: [`EVENTFD_USER_DATA`]
//! (the read armed on the core's eventfd, which is how other threads wake this ring)
//! and [`CANCEL_USER_DATA`] (ASYNC_CANCEL requests, whose own CQEs carry no
//! information).
//!
//! # Detach (retire)
//!
//! Detaching marks every in-flight entry as retiring and submits an ASYNC_CANCEL for
//! each (and for the eventfd read), then waits for their CQEs, up to a deadline. An op
//! whose CQE says `-ECANCELED` never ran: its future is told to resubmit on whichever
//! ring polls it next. An op that completed anyway delivers its result as usual. Entries
//! still in flight at the deadline stay in the table; if the ring is dropped like that,
//! their cells are leaked on purpose, since the kernel may still write into them.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use slab::Slab;

use super::cell::Completion;
use super::remote::{RemoteRequest, RingShared};
use crate::driver::RingConfig;

/// `user_data` of the read armed on the attached core's eventfd.
pub(crate) const EVENTFD_USER_DATA: u64 = u64::MAX;
/// `user_data` of ASYNC_CANCEL requests.
pub(crate) const CANCEL_USER_DATA: u64 = u64::MAX - 1;

/// `IORING_ENTER_GETEVENTS`.
const GETEVENTS: u32 = 1;

/// CQEs taken out of the completion queue per batch.
const REAP_BATCH: usize = 64;

/// How long a detach waits for cancelled ops before leaving them in flight.
const RETIRE_DEADLINE: Duration = Duration::from_millis(500);

/// Setup flags tried in order; the first the kernel accepts wins.
/// A named way to configure a ring builder.
type FlagSet = (&'static str, fn(&mut io_uring::Builder));

fn flag_sets(config: &RingConfig) -> Vec<FlagSet> {
    if config.sqpoll_idle.is_some() {
        return vec![("SQPOLL", |_| {})];
    }
    vec![
        ("SINGLE_ISSUER|DEFER_TASKRUN", |builder| {
            builder
                .setup_single_issuer()
                .setup_defer_taskrun()
                .setup_taskrun_flag()
                .setup_submit_all();
        }),
        ("COOP_TASKRUN", |builder| {
            builder
                .setup_coop_taskrun()
                .setup_taskrun_flag()
                .setup_submit_all();
        }),
        ("none", |_| {}),
    ]
}

struct InFlight {
    target: Arc<dyn Completion>,
    generation: u32,
    retiring: bool,
}

/// An io_uring instance with its in-flight table.
pub(crate) struct Ring {
    uring: IoUring,
    id: u64,
    in_flight: Slab<InFlight>,
    generation: u32,
    attached: Option<Arc<RingShared>>,
    /// Destination of the eventfd read; leaked if the ring goes away with it armed.
    eventfd_buffer: Box<u64>,
    eventfd_armed: bool,
    /// Which setup flags the kernel accepted (for diagnostics).
    pub(crate) setup: &'static str,
    /// CQEs copied out of the completion queue, reused between reaps.
    reaped: Vec<(u64, i32, u32)>,
    /// SQEs were queued since the last `io_uring_enter`.
    unsubmitted: bool,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("id", &self.id)
            .field("in_flight", &self.in_flight.len())
            .field("setup", &self.setup)
            .finish()
    }
}

impl Ring {
    /// Creates a ring with the best setup flags the kernel accepts. `ENOMEM` (a low
    /// `RLIMIT_MEMLOCK` on kernels before 5.12) is retried with smaller rings.
    pub(crate) fn new(config: &RingConfig) -> io::Result<Ring> {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let (uring, setup) = build_uring(config)?;
        Ok(Ring {
            uring,
            id: NEXT_ID.fetch_add(1, Relaxed),
            in_flight: Slab::new(),
            generation: 0,
            attached: None,
            eventfd_buffer: Box::new(0),
            eventfd_armed: false,
            setup,
            reaped: Vec::with_capacity(REAP_BATCH),
            unsubmitted: false,
        })
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// SQEs wait for submission (ops queued since the last enter).
    pub(crate) fn has_unsubmitted(&self) -> bool {
        self.unsubmitted
    }

    /// Detached with nothing in flight: safe to close.
    pub(crate) fn is_idle(&self) -> bool {
        self.attached.is_none() && self.in_flight.is_empty() && !self.eventfd_armed
    }

    pub(crate) fn attached(&self) -> Option<&Arc<RingShared>> {
        self.attached.as_ref()
    }

    /// Serves `shared` from now on: arms a read on its eventfd.
    pub(crate) fn attach(&mut self, shared: &Arc<RingShared>) {
        debug_assert!(self.attached.is_none());
        shared.current_ring.store(self.id, Relaxed);
        self.attached = Some(shared.clone());
        self.arm_eventfd();
    }

    /// Stops serving the attached core: cancels what is in flight (see the module doc)
    /// and waits up to the retire deadline for the cancellations.
    pub(crate) fn detach(&mut self) {
        let Some(shared) = self.attached.clone() else {
            return;
        };
        self.drain_remote(&shared);
        let keys: Vec<(usize, u64)> = self
            .in_flight
            .iter_mut()
            .map(|(key, entry)| {
                entry.retiring = true;
                (key, user_data(key, entry.generation))
            })
            .collect();
        for (_, user_data) in &keys {
            self.push_cancel(*user_data);
        }
        if self.eventfd_armed {
            self.push_cancel(EVENTFD_USER_DATA);
        }
        let deadline = Instant::now() + RETIRE_DEADLINE;
        while (self.eventfd_armed || self.in_flight.iter().any(|(_, e)| e.retiring))
            && Instant::now() < deadline
        {
            let left = deadline.saturating_duration_since(Instant::now());
            self.wait(Some(left.min(Duration::from_millis(50))));
            self.reap();
        }
        let _ = shared
            .current_ring
            .compare_exchange(self.id, 0, Relaxed, Relaxed);
        shared.publish_in_flight(self.in_flight.len());
        self.attached = None;
        if self.eventfd_armed {
            // The kernel may still write the old buffer: leave it to the kernel.
            std::mem::forget(std::mem::replace(&mut self.eventfd_buffer, Box::new(0)));
            self.eventfd_armed = false;
        }
    }

    fn arm_eventfd(&mut self) {
        let Some(shared) = &self.attached else {
            return;
        };
        if self.eventfd_armed {
            return;
        }
        let entry = opcode::Read::new(
            types::Fd(shared.eventfd.as_raw_fd()),
            (&mut *self.eventfd_buffer as *mut u64).cast(),
            8,
        )
        .build()
        .user_data(EVENTFD_USER_DATA);
        self.push(entry);
        self.eventfd_armed = true;
    }

    /// Submits an op's cell: builds its SQE and records it as in flight.
    pub(crate) fn submit(&mut self, target: Arc<dyn Completion>) {
        self.submit_with(|owner, ring_id, user_data| {
            let sqe = target.start(owner, ring_id, user_data)?;
            Some((target, sqe))
        });
    }

    /// Submits the op `build` creates for the `user_data` it is given (with the core
    /// it will belong to and this ring's id); `None` submits nothing.
    pub(crate) fn submit_with(
        &mut self,
        build: impl FnOnce(&Arc<RingShared>, u64, u64) -> Option<(Arc<dyn Completion>, squeue::Entry)>,
    ) {
        let Some(shared) = self.attached.as_ref() else {
            // Not serving a core: nobody would reap the completion. Callers check
            // `attached` first.
            debug_assert!(false, "submit on a detached ring");
            return;
        };
        self.generation = (self.generation + 1) % (u32::MAX - 1);
        let generation = self.generation;
        let entry = self.in_flight.vacant_entry();
        let user_data = user_data(entry.key(), generation);
        let Some((target, sqe)) = build(shared, self.id, user_data) else {
            // The future went away before the op was submitted.
            return;
        };
        entry.insert(InFlight {
            target,
            generation,
            retiring: false,
        });
        bump(&shared.metrics.submitted, 1);
        shared.publish_in_flight(self.in_flight.len());
        self.push(sqe);
    }

    /// Asks the kernel to cancel `user_data` if it is still in flight on this ring.
    pub(crate) fn cancel(&mut self, user_data: u64) {
        let key = (user_data & u64::from(u32::MAX)) as usize;
        let generation = (user_data >> 32) as u32;
        if matches!(self.in_flight.get(key), Some(e) if e.generation == generation) {
            if let Some(shared) = &self.attached {
                bump(&shared.metrics.cancelled, 1);
            }
            self.push_cancel(user_data);
        }
    }

    fn push_cancel(&mut self, user_data: u64) {
        let entry = opcode::AsyncCancel::new(user_data)
            .build()
            .user_data(CANCEL_USER_DATA);
        self.push(entry);
    }

    /// Queues an SQE. A full submission queue is flushed to the kernel and the push
    /// retried; it is never reported as an error.
    fn push(&mut self, entry: squeue::Entry) {
        loop {
            // SAFETY: every SQE pushed here points only into memory that outlives its
            // completion: op cells held by the in-flight table (or leaked), or the
            // eventfd buffer (leaked if still armed when the ring goes away).
            if unsafe { self.uring.submission().push(&entry) }.is_ok() {
                self.unsubmitted = true;
                return;
            }
            match self.uring.submit() {
                Ok(_) => {}
                Err(error) if error.raw_os_error() == Some(libc::EBUSY) => {
                    // The completion queue is full: make room, then retry.
                    self.reap();
                }
                Err(_) => {
                    // EINTR and friends: retry after reaping.
                    self.reap();
                }
            }
        }
    }

    /// Drains the attached core's remote queue: ops handed over by threads without a
    /// ring and cancellations requested by other threads.
    pub(crate) fn drain_remote(&mut self, shared: &Arc<RingShared>) {
        for request in shared.take_remote() {
            match request {
                RemoteRequest::Submit(target) => self.submit(target),
                RemoteRequest::Cancel { ring_id, user_data } => {
                    if ring_id == self.id {
                        self.cancel(user_data);
                    }
                }
            }
        }
    }

    /// Submits what is queued and runs completions without blocking. Skips the
    /// syscall when nothing can be pending.
    pub(crate) fn poll_nowait(&mut self) {
        let idle = {
            let mut sq = self.uring.submission();
            sq.sync();
            sq.is_empty() && !sq.taskrun() && !sq.cq_overflow()
        };
        if !idle {
            self.enter(0, None);
        }
        self.reap();
    }

    /// Submits what is queued and waits for at least one completion or `timeout`.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) {
        self.enter(1, timeout);
    }

    fn enter(&mut self, want: usize, timeout: Option<Duration>) {
        self.unsubmitted = false;
        let result = match timeout {
            Some(timeout) => {
                let timespec = types::Timespec::from(timeout);
                let args = types::SubmitArgs::new().timespec(&timespec);
                self.uring.submitter().submit_with_args(want, &args)
            }
            None if want > 0 => self.uring.submit_and_wait(want),
            None => {
                let to_submit = self.uring.submission().len() as u32;
                // SAFETY: no argument is passed; GETEVENTS with `min_complete` 0 only
                // runs deferred completions, it never blocks.
                unsafe {
                    self.uring
                        .submitter()
                        .enter::<libc::sigset_t>(to_submit, 0, GETEVENTS, None)
                }
            }
        };
        if let Err(error) = result {
            match error.raw_os_error() {
                // Timeout, signal, or a full CQ (reaped next): all just mean "go on".
                Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN) => {}
                _ => log::error!("ringtide: io_uring_enter failed: {error}"),
            }
        }
    }

    /// Dispatches every available CQE. Returns how many were seen.
    pub(crate) fn reap(&mut self) -> usize {
        let mut seen = 0;
        let mut batch = std::mem::take(&mut self.reaped);
        loop {
            batch.clear();
            batch.extend(
                self.uring
                    .completion()
                    .take(REAP_BATCH)
                    .map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())),
            );
            let count = batch.len();
            for &(user_data, result, flags) in &batch {
                self.dispatch(user_data, result, flags);
            }
            seen += count;
            if count < REAP_BATCH {
                // CQEs the kernel kept aside because the CQ was full (FEAT_NODROP)
                // come back with one more GETEVENTS enter.
                let overflow = self.uring.submission().cq_overflow();
                if !overflow {
                    break;
                }
                if let Some(shared) = &self.attached {
                    bump(&shared.metrics.cq_overflow, 1);
                }
                self.enter(0, None);
            }
        }
        self.reaped = batch;
        if seen > 0 {
            if let Some(shared) = &self.attached {
                bump(&shared.metrics.completed, seen as u64);
            }
        }
        seen
    }

    fn dispatch(&mut self, user_data: u64, result: i32, flags: u32) {
        match user_data {
            EVENTFD_USER_DATA => {
                self.eventfd_armed = false;
                // Re-arm after a wake-up; a failed read (cancelled at detach, or an
                // unexpected error) is not retried in a loop.
                if self.attached.is_some() && result == 8 {
                    self.arm_eventfd();
                }
            }
            CANCEL_USER_DATA => {}
            _ => {
                let key = (user_data & u64::from(u32::MAX)) as usize;
                let generation = (user_data >> 32) as u32;
                let Some(entry) = self.in_flight.get(key) else {
                    return;
                };
                if entry.generation != generation {
                    return;
                }
                let more = cqueue::more(flags);
                if more {
                    entry.target.complete(result, flags, true);
                    return;
                }
                // Final CQE: leave the table (and update the gauge) before waking the
                // task, so whatever it observes is already consistent.
                let entry = self.in_flight.remove(key);
                if let Some(shared) = &self.attached {
                    shared.publish_in_flight(self.in_flight.len());
                }
                if entry.retiring && result == -libc::ECANCELED {
                    entry.target.retire();
                } else {
                    entry.target.complete(result, flags, false);
                }
            }
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        self.detach();
        if !self.in_flight.is_empty() || self.eventfd_armed {
            // The kernel may still write into these: never free them.
            for entry in self.in_flight.drain() {
                std::mem::forget(entry.target);
            }
            std::mem::forget(std::mem::replace(&mut self.eventfd_buffer, Box::new(0)));
        }
    }
}

/// Adds to a counter that only the ring serving the core writes (one at a time), so a
/// plain load and store suffice: no locked read-modify-write on the hot path.
fn bump(counter: &std::sync::atomic::AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

fn user_data(key: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | key as u64
}

fn build_uring(config: &RingConfig) -> io::Result<(IoUring, &'static str)> {
    let mut last_error = None;
    for (name, apply) in flag_sets(config) {
        let mut entries = config.entries;
        loop {
            let mut builder = IoUring::builder();
            apply(&mut builder);
            if let Some(idle) = config.sqpoll_idle {
                builder.setup_sqpoll(idle.as_millis().min(u32::MAX as u128) as u32);
            }
            match builder.build(entries) {
                Ok(uring) => return Ok((uring, name)),
                Err(error) if error.raw_os_error() == Some(libc::ENOMEM) && entries > 8 => {
                    // Memlock-limited: a smaller ring needs fewer locked pages.
                    entries /= 2;
                }
                Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
                    // These flags are unknown to this kernel: try the next set.
                    last_error = Some(error);
                    break;
                }
                Err(error) => return Err(error),
            }
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINVAL)))
}
