//! One io_uring instance, owned by one thread.
//!
//! A [`Ring`] lives in a thread-local of the thread that created it and is only ever
//! entered by that thread, which is what lets it use `SINGLE_ISSUER | DEFER_TASKRUN`.
//! It is *attached* to one scheduler core (that core's [`RingShared`]: eventfd, remote
//! queue, counters) while its thread holds that core, and *detached* when the thread
//! gives the core away (worker exit, `block_in_place`, the end of a current-thread
//! `block_on`).
//!
//! # Creation
//!
//! The rings of a runtime's cores are created when the runtime is built, so that a
//! ring the kernel refuses (a setup flag such as SQPOLL without the privilege, the
//! memlock limit, `EMFILE`) makes `build()` fail, or auto selection fall back to mio,
//! instead of hanging I/O later. They are created disabled (`IORING_SETUP_R_DISABLED`)
//! and enabled by the thread that first drives the core, which thereby becomes the
//! ring's single issuer. Threads that drive a core later (after `block_in_place`)
//! create their own ring on first use.
//!
//! # In-flight table
//!
//! Every submitted op has an entry in a slab that holds the ring's `Arc` to the op's
//! cell. `user_data` is `generation << 32 | slab key`, so a late cancel request for a
//! reused slot cannot hit the wrong op. Three values are reserved: [`EVENTFD_USER_DATA`]
//! (the read armed on the core's eventfd, which is how other threads wake this ring),
//! [`CANCEL_USER_DATA`] (ASYNC_CANCEL requests, whose own CQEs carry no information)
//! and [`TIMEOUT_USER_DATA`] (the TIMEOUT bounding a timed park where the kernel has
//! no `IORING_FEAT_EXT_ARG`).
//!
//! # Registered ring fd
//!
//! The thread that enables a ring (the one that keeps it) registers the ring's fd in its
//! own table of ring fds (`IORING_REGISTER_RING_FDS`, 5.18+), and enters the ring by that
//! index with `IORING_ENTER_REGISTERED_RING`: the kernel then skips the fd lookup and
//! the file reference count (`fget`/`fput`) on every `io_uring_enter`. The table is per
//! thread, which is why only the thread that registered may use the index; a ring never
//! leaves that thread's thread-local, and dropping it there unregisters it. Where the
//! kernel refuses (older kernels, a full table) and in SQPOLL mode, enters pass the fd.
//! The `io_uring` crate's own registration lives in a short-lived `Submitter`, so the
//! ring makes these few syscalls itself.
//!
//! # Parking
//!
//! A timed park passes its timeout to `io_uring_enter` (`IORING_FEAT_EXT_ARG`, 5.11+).
//! Older kernels reject that argument with `EINVAL`, which would make every timed park
//! return at once (a busy loop); there the ring queues a TIMEOUT SQE with a completion
//! count of one instead: it completes when the time is up or as soon as any other
//! completion arrives, so the park returns on either, and it never outlives the next
//! completion.
//!
//! # Broken ring
//!
//! An `io_uring_enter` that fails with anything but a transient error (a timeout, a
//! signal, a full completion queue, `EAGAIN`) will fail again: a seccomp filter
//! installed after the runtime started (`EPERM`, `ENOSYS`), a ring the kernel refuses.
//! Retrying would spin and leave every op waiting forever, so the ring *breaks*: it is
//! never entered again, and
//!
//! * the ops whose SQEs the kernel has not taken (the ring remembers the `user_data` of
//!   the SQEs it queued since the last enter) fail with the enter's errno, and so does
//!   every op submitted to it later; their memory is free (the kernel never saw it);
//!   ops without a future get `-ECANCELED` ("never ran", see `cell`), so a detached
//!   CLOSE still closes its fd;
//! * its core is marked ringless, so other threads route no ops to it, and the core's
//!   thread parks on the eventfd (see `Driver::park`);
//! * ops the kernel already took stay in the table: they can never complete (their
//!   completions need an enter), and their memory is leaked with the ring, never freed.
//!   A detach or settle does not wait for them.
//!
//! # Detach (retire)
//!
//! Detaching marks every in-flight entry as retiring and submits an ASYNC_CANCEL for
//! each (and for the eventfd read, which is not re-armed from then on), then waits for
//! their CQEs, up to the detach deadline (500 ms by default). An op whose CQE says
//! `-ECANCELED` never ran: its future is told to resubmit on whichever ring polls it
//! next (an op whose future is gone gets that result through `complete_abandoned`). An
//! op that completed anyway delivers its result as usual.
//!
//! # Stranded ops
//!
//! Entries still in flight at the deadline stay in the table: the ring is *stranded*.
//! Nobody else can reap it: a `SINGLE_ISSUER | DEFER_TASKRUN` ring posts completions
//! only when its own thread enters it (any other thread gets `EEXIST`), so it cannot be
//! handed to another core or to a reaper thread. Its own thread therefore reaps it as
//! soon as it can:
//!
//! * when the thread drives a core again (the stranded entries are reaped with the new
//!   ones);
//! * when `block_in_place`'s closure returns, and when a worker thread stops being a
//!   worker ([`Ring::settle`], asking the kernel again to cancel every half second);
//! * at thread exit, when the ring is dropped: it settles for up to 10 s more; entries
//!   still in the kernel after that are leaked on purpose (logged), never freed, since
//!   the kernel may still write into them.
//!
//! Until then the tasks awaiting stranded ops wait; an op is stranded only when the
//! kernel did not honour its cancellation for the whole deadline.

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
/// `user_data` of the TIMEOUT that bounds a timed park on kernels without
/// `IORING_FEAT_EXT_ARG`.
pub(crate) const TIMEOUT_USER_DATA: u64 = u64::MAX - 2;

/// `IORING_ENTER_GETEVENTS`.
const GETEVENTS: u32 = 1;
/// `IORING_ENTER_EXT_ARG`: the argument is an `io_uring_getevents_arg`.
const EXT_ARG: u32 = 8;
/// `IORING_ENTER_REGISTERED_RING`: the fd argument is an index into the thread's table
/// of registered ring fds.
const REGISTERED_RING: u32 = 16;
/// `IORING_REGISTER_RING_FDS` and `IORING_UNREGISTER_RING_FDS`.
const REGISTER_RING_FDS: libc::c_uint = 20;
const UNREGISTER_RING_FDS: libc::c_uint = 21;

/// How long a ring that its thread is about to leave for good (thread exit) waits for
/// the last cancelled ops before it leaks them (see "Stranded ops" in the module doc).
pub(crate) const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// How often a settling ring asks the kernel again to cancel what is left.
const CANCEL_AGAIN_EVERY: Duration = Duration::from_millis(500);

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
    /// Inside `detach`: the eventfd read is being cancelled and must not be re-armed.
    detaching: bool,
    /// Destination of the eventfd read; leaked if the ring goes away with it armed.
    eventfd_buffer: Box<u64>,
    eventfd_armed: bool,
    /// Which setup flags the kernel accepted (for diagnostics).
    pub(crate) setup: &'static str,
    /// Timed parks pass their timeout to `io_uring_enter` (`IORING_FEAT_EXT_ARG`);
    /// otherwise a TIMEOUT SQE bounds them.
    ext_arg: bool,
    /// The timeout of the last TIMEOUT SQE; the kernel reads it when the SQE is
    /// submitted.
    park_timeout: Box<types::Timespec>,
    /// How long a detach waits for its cancellations (see the module doc).
    detach_deadline: Duration,
    /// Created with `IORING_SETUP_R_DISABLED` and not enabled yet.
    disabled: bool,
    /// SQEs were queued since the last `io_uring_enter`.
    unsubmitted: bool,
    /// The ring's index in its thread's table of registered ring fds
    /// (`IORING_REGISTER_RING_FDS`, see "Registered ring fd" in the module doc); `None`
    /// where the kernel refused (before 5.18, or the table's 16 slots are taken) or the
    /// ring polls in SQPOLL mode.
    registered: Option<u32>,
    /// `user_data` of the SQEs pushed and not yet taken by the kernel, oldest first
    /// (trimmed after each enter): what fails if the ring breaks (see "Broken ring").
    queued: Vec<u64>,
    /// The errno of the `io_uring_enter` that failed for good (see "Broken ring").
    broken: Option<i32>,
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

/// How often a full submission queue was flushed to make room (process-wide; tests
/// read it through `ringtide::__private` to prove the path ran).
pub(crate) static SQ_FULL_FLUSHES: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);
/// How many timed parks were bounded by a TIMEOUT SQE (no `IORING_FEAT_EXT_ARG`).
pub(crate) static PARK_TIMEOUT_SQES: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

impl Ring {
    /// Creates a ring with the best setup flags the kernel accepts. `ENOMEM` (a low
    /// `RLIMIT_MEMLOCK` on kernels before 5.12) is retried with smaller rings.
    ///
    /// `disabled`: the ring is created disabled, to be [`enable`](Ring::enable)d by the
    /// thread that will use it (which becomes its single issuer). Kernels without
    /// `IORING_SETUP_R_DISABLED` (before 5.10) have no single-issuer mode either, so
    /// there the ring is created enabled and any thread may use it.
    pub(crate) fn new(config: &RingConfig, disabled: bool) -> io::Result<Ring> {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let (uring, setup, disabled) = build_uring(config, disabled)?;
        let ext_arg = super::probe::ext_arg(uring.params()) && !config.without_ext_arg;
        // Never more than the submission queue holds.
        let queued = Vec::with_capacity(uring.params().sq_entries() as usize);
        Ok(Ring {
            uring,
            id: NEXT_ID.fetch_add(1, Relaxed),
            in_flight: Slab::new(),
            generation: 0,
            attached: None,
            detaching: false,
            eventfd_buffer: Box::new(0),
            eventfd_armed: false,
            setup,
            ext_arg,
            park_timeout: Box::new(types::Timespec::new()),
            detach_deadline: config.detach_deadline,
            disabled,
            unsubmitted: false,
            registered: None,
            queued,
            broken: None,
        })
    }

    /// Enables a ring created disabled; the calling thread becomes its single issuer.
    /// A no-op for a ring that is enabled already.
    ///
    /// Also registers the ring's fd in the calling thread's table of ring fds (see
    /// "Registered ring fd" in the module doc): the thread that enables a ring is the
    /// one that keeps it (in its thread-local) and enters it from then on.
    pub(crate) fn enable(&mut self) -> io::Result<()> {
        if self.disabled {
            self.uring.submitter().register_enable_rings()?;
            self.disabled = false;
        }
        if self.registered.is_none() && !self.uring.params().is_setup_sqpoll() {
            self.registered = register_ring_fd(self.uring.as_raw_fd());
        }
        Ok(())
    }

    /// Ops still in the kernel although the ring is detached (see "Stranded ops").
    pub(crate) fn stranded(&self) -> usize {
        if self.attached.is_some() {
            0
        } else {
            self.in_flight.len()
        }
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
        super::buf_ring::ring_attached(self.id, self.uring.as_raw_fd());
        self.arm_eventfd();
    }

    /// Stops serving the attached core: cancels what is in flight (see the module doc)
    /// and waits up to the detach deadline for the cancellations.
    pub(crate) fn detach(&mut self) {
        let Some(shared) = self.attached.clone() else {
            return;
        };
        self.drain_remote(&shared);
        self.detaching = true;
        self.cancel_all();
        if self.eventfd_armed {
            self.push_cancel(EVENTFD_USER_DATA);
        }
        let deadline = Instant::now() + self.detach_deadline;
        if self.detach_deadline.is_zero() && self.broken.is_none() {
            // Hand the cancellations to the kernel without collecting any completion
            // (with DEFER_TASKRUN none is posted before the next GETEVENTS): the ops
            // stay in flight, as if the kernel had not honoured the cancel in time.
            let _ = self.uring.submit();
            self.unsubmitted = false;
        }
        while (self.eventfd_armed || self.in_flight.iter().any(|(_, e)| e.retiring))
            && self.broken.is_none()
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
        self.detaching = false;
        if !self.in_flight.is_empty() {
            crate::trace::event!(
                debug,
                "ringtide: {} io_uring ops still in the kernel {:?} after they were \
                 cancelled; this thread reaps them when it next can",
                self.in_flight.len(),
                self.detach_deadline
            );
        }
    }

    /// Marks every in-flight entry as retiring and asks the kernel to cancel it.
    fn cancel_all(&mut self) {
        let keys: Vec<u64> = self
            .in_flight
            .iter_mut()
            .map(|(key, entry)| {
                entry.retiring = true;
                user_data(key, entry.generation)
            })
            .collect();
        for user_data in keys {
            self.push_cancel(user_data);
        }
    }

    /// Reaps a detached ring until the kernel has returned every op it still holds
    /// (asking again every half second to cancel them), or until `limit`. Returns
    /// whether nothing is left in the kernel.
    pub(crate) fn settle(&mut self, limit: Duration) -> bool {
        if self.attached.is_some() {
            return true;
        }
        if self.in_flight.is_empty() && !self.eventfd_armed {
            return true;
        }
        if self.broken.is_some() {
            // What the kernel holds can no longer come back.
            return false;
        }
        let start = Instant::now();
        let mut last_cancel = start;
        self.reap_detached();
        while (!self.in_flight.is_empty() || self.eventfd_armed) && self.broken.is_none() {
            let now = Instant::now();
            if now.duration_since(start) >= limit {
                return false;
            }
            if now.duration_since(last_cancel) >= CANCEL_AGAIN_EVERY {
                self.cancel_all();
                last_cancel = now;
            }
            let left = limit.saturating_sub(now.duration_since(start));
            self.wait(Some(left.min(CANCEL_AGAIN_EVERY)));
            self.reap();
        }
        true
    }

    /// Submits what is queued and runs completions without blocking, on a detached
    /// ring (which [`poll_nowait`](Ring::poll_nowait) would also do, but skips when it
    /// believes nothing is pending).
    fn reap_detached(&mut self) {
        self.enter(0, None);
        self.reap();
    }

    fn arm_eventfd(&mut self) {
        let Some(shared) = &self.attached else {
            return;
        };
        if self.eventfd_armed || self.detaching {
            return;
        }
        let entry = opcode::Read::new(
            types::Fd(shared.eventfd.as_raw_fd()),
            (&mut *self.eventfd_buffer as *mut u64).cast(),
            8,
        )
        .build()
        .user_data(EVENTFD_USER_DATA);
        self.eventfd_armed = self.push(entry);
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
        if let Some(errno) = self.broken {
            // The kernel will never see it: it fails with the enter's error.
            target.fail_unsubmitted(errno);
            return;
        }
        entry.insert(InFlight {
            target,
            generation,
            retiring: false,
        });
        bump(&shared.metrics.submitted, 1);
        shared.publish_in_flight(self.in_flight.len());
        if !self.push(sqe) {
            // The ring broke while making room for this SQE, which never reached
            // the kernel.
            self.fail_never_submitted(user_data);
        }
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
    /// retried. Returns false only when the ring is broken (see "Broken ring"): the
    /// SQE was not queued.
    fn push(&mut self, entry: squeue::Entry) -> bool {
        loop {
            if self.broken.is_some() {
                return false;
            }
            // SAFETY: every SQE pushed here points only into memory that outlives its
            // completion: op cells held by the in-flight table (or leaked), or the
            // eventfd buffer (leaked if still armed when the ring goes away).
            if unsafe { self.uring.submission().push(&entry) }.is_ok() {
                self.queued.push(entry.get_user_data());
                self.unsubmitted = true;
                return true;
            }
            SQ_FULL_FLUSHES.fetch_add(1, Relaxed);
            let result = self.uring.submit();
            self.forget_submitted();
            match result {
                Ok(_) => {}
                Err(error) if is_transient(&error) => {
                    // A full completion queue (EBUSY), a signal: make room, retry.
                    self.reap();
                }
                Err(error) => self.break_ring(&error),
            }
        }
    }

    /// Drops from [`queued`](Ring::queued) what the kernel has taken: it keeps the
    /// SQEs still in the submission queue, the newest ones.
    fn forget_submitted(&mut self) {
        if self.queued.is_empty() {
            return;
        }
        let left = self.uring.submission().len();
        if left == 0 {
            self.queued.clear();
            return;
        }
        let taken = self.queued.len().saturating_sub(left);
        self.queued.drain(..taken);
    }

    /// `io_uring_enter` failed with an error no retry will fix (the process was put
    /// under a seccomp filter that denies it, say): see "Broken ring" in the module
    /// doc. The ring is never entered again, the SQEs the kernel has not taken fail
    /// their ops with the error, and so does every op submitted from now on.
    fn break_ring(&mut self, error: &io::Error) {
        if self.broken.is_some() {
            return;
        }
        let errno = error.raw_os_error().unwrap_or(libc::EIO);
        self.broken = Some(errno);
        crate::trace::event!(
            error,
            "ringtide: io_uring_enter failed ({error}); this thread's ring is out of \
             service: its queued ops and every later op on it fail with that error, and \
             the {} ops the kernel already holds stay with it (never freed)",
            self.in_flight.len().saturating_sub(self.queued.len())
        );
        if let Some(shared) = &self.attached {
            // Other threads route no more ops here.
            shared.set_ringless(true);
        }
        for user_data in std::mem::take(&mut self.queued) {
            match user_data {
                EVENTFD_USER_DATA => self.eventfd_armed = false,
                CANCEL_USER_DATA | TIMEOUT_USER_DATA => {}
                user_data => self.fail_never_submitted(user_data),
            }
        }
    }

    /// Ends the in-flight entry `user_data`, whose SQE the kernel never took, with the
    /// broken ring's error.
    fn fail_never_submitted(&mut self, user_data: u64) {
        let key = (user_data & u64::from(u32::MAX)) as usize;
        let generation = (user_data >> 32) as u32;
        if !matches!(self.in_flight.get(key), Some(e) if e.generation == generation) {
            return;
        }
        let entry = self.in_flight.remove(key);
        if let Some(shared) = &self.attached {
            shared.publish_in_flight(self.in_flight.len());
        }
        let errno = self.broken.unwrap_or(libc::EIO);
        entry.target.fail_unsubmitted(errno);
    }

    /// The ring broke (see "Broken ring"): it runs no more ops.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// Drains the attached core's remote queue: ops handed over by threads without a
    /// ring and cancellations requested by other threads.
    pub(crate) fn drain_remote(&mut self, shared: &Arc<RingShared>) {
        if !shared.has_remote() {
            // The usual case, checked inline: nothing queued.
            return;
        }
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
        match timeout {
            Some(timeout) if !self.ext_arg => {
                if !self.uring.completion().is_empty() {
                    // Something to reap already: do not sleep (and queue no timeout).
                    self.enter(0, None);
                    return;
                }
                PARK_TIMEOUT_SQES.fetch_add(1, Relaxed);
                *self.park_timeout = types::Timespec::from(timeout);
                let entry = opcode::Timeout::new(&*self.park_timeout)
                    .count(1)
                    .build()
                    .user_data(TIMEOUT_USER_DATA);
                self.push(entry);
                self.enter(1, None);
            }
            timeout => self.enter(1, timeout),
        }
    }

    fn enter(&mut self, want: usize, timeout: Option<Duration>) {
        self.unsubmitted = false;
        if self.broken.is_some() {
            // Never again: the kernel would take SQEs whose ops have failed already.
            return;
        }
        let result = if let Some(index) = self.registered {
            let to_submit = self.uring.submission().len() as u32;
            let result = enter_registered(index, to_submit, want as u32, timeout);
            if matches!(result, Ok(submitted) if submitted == to_submit as usize) {
                // Everything queued was taken (the usual case, with SUBMIT_ALL).
                self.queued.clear();
            }
            result
        } else {
            match timeout {
                Some(timeout) => {
                    let timespec = types::Timespec::from(timeout);
                    let args = types::SubmitArgs::new().timespec(&timespec);
                    self.uring.submitter().submit_with_args(want, &args)
                }
                None if want > 0 => self.uring.submit_and_wait(want),
                None => {
                    let to_submit = self.uring.submission().len() as u32;
                    // SAFETY: no argument is passed; GETEVENTS with `min_complete` 0
                    // only runs deferred completions, it never blocks.
                    unsafe {
                        self.uring
                            .submitter()
                            .enter::<libc::sigset_t>(to_submit, 0, GETEVENTS, None)
                    }
                }
            }
        };
        self.forget_submitted();
        if let Err(error) = result {
            if !is_transient(&error) {
                self.break_ring(&error);
            }
        }
    }

    /// Dispatches every available CQE. Returns how many were seen.
    ///
    /// CQEs are taken one at a time (each take reads the queue's tail and publishes
    /// its head: a few loads and a store), because dispatching one may push an SQE
    /// (re-arming the eventfd read), which needs the ring; copying batches out first
    /// cost more than that for the usual one or two CQEs per reap.
    pub(crate) fn reap(&mut self) -> usize {
        let mut seen = 0;
        loop {
            let Some(cqe) = self.uring.completion().next() else {
                // CQEs the kernel kept aside because the CQ was full (FEAT_NODROP)
                // come back with one more GETEVENTS enter.
                if !self.uring.submission().cq_overflow() {
                    break;
                }
                self.enter(0, None);
                // What the flush moved into the queue are the completions the kernel
                // had held back.
                let flushed = self.uring.completion().len() as u64;
                if flushed == 0 {
                    // Nothing came back (the flag is stale, or the enter failed): the
                    // next reap looks again, rather than spinning here.
                    break;
                }
                if let Some(shared) = &self.attached {
                    bump(&shared.metrics.cq_overflow, flushed);
                }
                continue;
            };
            seen += 1;
            self.dispatch(cqe.user_data(), cqe.result(), cqe.flags());
        }
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
                if result == 8 {
                    self.arm_eventfd();
                }
            }
            CANCEL_USER_DATA | TIMEOUT_USER_DATA => {}
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
        // The ring lives in the thread-local of the thread that registered it, so this
        // runs on that thread: free the slot in its table (which would otherwise keep
        // the ring's file open until the thread exits). Later enters use the fd.
        if let Some(index) = self.registered.take() {
            unregister_ring_fd(self.uring.as_raw_fd(), index);
        }
        if !self.settle(SETTLE_LIMIT) {
            crate::trace::event!(
                error,
                "ringtide: {} io_uring ops were still in the kernel {:?} after their \
                 cancellation at thread exit; their memory is leaked on purpose (the \
                 kernel may still write into it)",
                self.in_flight.len(),
                SETTLE_LIMIT
            );
        }
        super::buf_ring::ring_closed(self.id);
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

/// `struct io_uring_rsrc_update`, the argument of `IORING_(UN)REGISTER_RING_FDS`.
#[repr(C)]
struct RingFdUpdate {
    offset: u32,
    reserved: u32,
    data: u64,
}

/// `struct __kernel_timespec`.
#[repr(C)]
struct KernelTimespec {
    seconds: i64,
    nanoseconds: i64,
}

/// `struct io_uring_getevents_arg`, the argument of an `IORING_ENTER_EXT_ARG` enter.
#[repr(C)]
struct GetEventsArg {
    sigmask: u64,
    sigmask_size: u32,
    min_wait_microseconds: u32,
    timespec: u64,
}

/// Registers `fd` in the calling thread's table of ring fds, in a slot the kernel
/// picks; returns the slot, or `None` when the kernel refuses (before 5.18, or the
/// table is full): the caller then keeps entering with the fd.
fn register_ring_fd(fd: std::os::fd::RawFd) -> Option<u32> {
    let mut update = RingFdUpdate {
        offset: u32::MAX,
        reserved: 0,
        data: fd as u64,
    };
    // SAFETY: `io_uring_register` reads and writes the one live `RingFdUpdate` passed
    // (count 1) during the call; `fd` is the caller's open ring.
    let result = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            fd,
            REGISTER_RING_FDS,
            &mut update as *mut RingFdUpdate,
            1,
        )
    };
    (result == 1).then_some(update.offset)
}

/// Frees slot `index` of the calling thread's table of ring fds.
fn unregister_ring_fd(fd: std::os::fd::RawFd, index: u32) {
    let update = RingFdUpdate {
        offset: index,
        reserved: 0,
        data: 0,
    };
    // SAFETY: as in `register_ring_fd`; the kernel only reads the update.
    let _ = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            fd,
            UNREGISTER_RING_FDS,
            &update as *const RingFdUpdate,
            1,
        )
    };
}

/// `io_uring_enter` on the ring in slot `index` of this thread's table of registered
/// ring fds: submits `to_submit` SQEs, runs deferred completions (GETEVENTS) and waits
/// for `want` completions, at most `timeout` (`IORING_FEAT_EXT_ARG`) when given.
fn enter_registered(
    index: u32,
    to_submit: u32,
    want: u32,
    timeout: Option<Duration>,
) -> io::Result<usize> {
    let mut flags = REGISTERED_RING | GETEVENTS;
    let timespec;
    let arg;
    let (arg_pointer, arg_size): (*const GetEventsArg, usize) = match timeout {
        Some(timeout) => {
            timespec = KernelTimespec {
                seconds: timeout.as_secs().min(i64::MAX as u64) as i64,
                nanoseconds: i64::from(timeout.subsec_nanos()),
            };
            arg = GetEventsArg {
                sigmask: 0,
                sigmask_size: 0,
                min_wait_microseconds: 0,
                timespec: &timespec as *const KernelTimespec as u64,
            };
            flags |= EXT_ARG;
            (&arg, std::mem::size_of::<GetEventsArg>())
        }
        None => (std::ptr::null(), 0),
    };
    // SAFETY: `index` is this thread's registration of the ring (see `Ring::enable`);
    // the argument, when passed, is a live `io_uring_getevents_arg` whose timespec
    // pointer points at a live local, both read by the kernel during the call only.
    let result = unsafe {
        libc::syscall(
            libc::SYS_io_uring_enter,
            index,
            to_submit,
            want,
            flags,
            arg_pointer,
            arg_size,
        )
    };
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result as usize)
    }
}

/// An `io_uring_enter` error that only means "go on": a timeout, a signal, a full
/// completion queue (reaped next), a transient shortage.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
    )
}

fn user_data(key: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | key as u64
}

/// The ring, the name of its setup flags, and whether it was created disabled.
fn build_uring(config: &RingConfig, disabled: bool) -> io::Result<(IoUring, &'static str, bool)> {
    match build_uring_with(config, disabled) {
        Ok((uring, name)) => Ok((uring, name, disabled)),
        // No `IORING_SETUP_R_DISABLED` (before 5.10): no single-issuer mode either, so
        // an enabled ring may be used by any thread.
        Err(error) if disabled && error.raw_os_error() == Some(libc::EINVAL) => {
            build_uring_with(config, false).map(|(uring, name)| (uring, name, false))
        }
        Err(error) => Err(error),
    }
}

fn build_uring_with(config: &RingConfig, disabled: bool) -> io::Result<(IoUring, &'static str)> {
    let mut last_error = None;
    for (name, apply) in flag_sets(config) {
        let mut entries = config.entries;
        loop {
            let mut builder = IoUring::builder();
            apply(&mut builder);
            if disabled {
                builder.setup_r_disabled();
            }
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::driver::op::{OpCode, Readiness};

    /// A `POLL_ADD` for `POLLIN` on an fd: an op that stays in the kernel until the fd
    /// is readable.
    struct PollIn(std::os::fd::RawFd);

    impl OpCode for PollIn {
        type Output = io::Result<usize>;

        const OPCODE: u8 = opcode::PollAdd::CODE;

        fn uring_entry(&mut self) -> squeue::Entry {
            opcode::PollAdd::new(types::Fd(self.0), libc::POLLIN as u32).build()
        }

        fn readiness(&self) -> Readiness {
            Readiness::Immediate
        }

        fn attempt(&mut self) -> io::Result<usize> {
            Ok(0)
        }

        fn complete(self, result: io::Result<usize>) -> io::Result<usize> {
            result
        }
    }

    fn attached_ring() -> (Ring, Arc<RingShared>) {
        let mut ring = Ring::new(&RingConfig::default(), false).unwrap();
        let shared = Arc::new(RingShared::new().unwrap());
        ring.attach(&shared);
        (ring, shared)
    }

    #[test]
    fn detach_does_not_re_arm_the_eventfd_read_it_cancels() {
        let (mut ring, shared) = attached_ring();
        // The read armed at attach is queued; a wake-up is pending on the eventfd, so
        // that read completes (with 8 bytes) in the very submission that carries the
        // detach's cancel. Re-arming it then would leave a read on the core's eventfd
        // after the detach (stealing the next ring's wake-ups) and keep the detach
        // waiting for its deadline.
        assert!(shared.begin_park());
        shared.unpark();
        ring.detach_deadline = Duration::from_secs(2);
        ring.detach();
        assert!(
            !ring.eventfd_armed,
            "a read is still armed on the core's eventfd after the detach"
        );
        assert!(ring.is_idle());
    }

    #[test]
    fn a_stranded_ring_settles_once_its_thread_reaps_it() {
        let (ring, shared) = attached_ring();
        let (reader, _writer) = std::io::pipe().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&reader);
        // No route: with no ring on this thread, nothing can run it.
        let waiting = crate::driver::uring::cell::UringOp::new(PollIn(fd), || None);
        let mut waiting = std::pin::pin!(waiting);
        // Submit it through this ring, which must be this thread's for `UringOp`:
        // park the ring in the thread-local for the poll.
        super::super::remote::RING.with(|slot| *slot.borrow_mut() = Some(ring));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        let mut ring = super::super::remote::RING
            .with(|slot| slot.borrow_mut().take())
            .unwrap();
        ring.poll_nowait();
        ring.detach_deadline = Duration::ZERO;
        ring.detach();
        assert_eq!(ring.stranded(), 1, "the poll was left in the kernel");
        assert!(ring.settle(SETTLE_LIMIT));
        assert_eq!(ring.stranded(), 0);
        assert!(ring.is_idle());
        // The retired op resubmits on its next poll: with no ring here, that fails
        // cleanly instead of waiting forever.
        match waiting.as_mut().poll(&mut cx) {
            std::task::Poll::Ready((_, result)) => {
                assert!(result.is_err(), "{result:?}");
            }
            std::task::Poll::Pending => panic!("a settled op was not handed back"),
        }
        drop(shared);
    }
}
