//! What other threads can do to a core's ring: wake it, hand it ops, ask it to cancel.
//!
//! [`RingShared`] belongs to one scheduler core and outlives the rings that serve it
//! (a core keeps its `RingShared` when `block_in_place` moves it to another thread,
//! which then serves it with its own ring). It holds:
//!
//! * the core's eventfd: every ring attached to the core keeps a read armed on it, so a
//!   write wakes the ring out of `io_uring_enter`;
//! * the park state (`EMPTY`/`PARKED`/`NOTIFIED`, as in `driver::park`), so an unpark
//!   writes the eventfd only when the ring really sleeps;
//! * the remote queue: ops submitted by threads without a ring (blocking pool, foreign
//!   threads, a multi-thread `block_on` caller) and cancellations requested by threads
//!   other than the ring's own (a future dropped after its task moved);
//! * the ring's counters, readable from any thread through the runtime metrics.
//!
//! The thread-local [`RING`] is the calling thread's ring, if it has one.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64};

use super::cell::Completion;
use super::ring::Ring;
use crate::loom::atomic::AtomicUsize;
use crate::loom::{Mutex, lock};

thread_local! {
    /// This thread's ring: created by the first core this thread drives, kept for the
    /// thread's life (detached whenever the thread gives its core away).
    pub(crate) static RING: RefCell<Option<Ring>> = const { RefCell::new(None) };
}

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

/// A request from another thread, applied by the ring the next time it runs.
pub(crate) enum RemoteRequest {
    /// Submit this op.
    Submit(Arc<dyn Completion>),
    /// Cancel `user_data` if it is still in flight on ring `ring_id`.
    Cancel { ring_id: u64, user_data: u64 },
}

/// Counters of one core's ring(s), published for `RuntimeMetrics`.
#[derive(Debug, Default)]
pub(crate) struct RingMetrics {
    pub(crate) submitted: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) cq_overflow: AtomicU64,
    pub(crate) in_flight: AtomicU64,
}

/// The thread-safe side of one core's io_uring driver.
pub(crate) struct RingShared {
    pub(crate) eventfd: OwnedFd,
    state: AtomicUsize,
    remote: Mutex<Vec<RemoteRequest>>,
    has_remote: AtomicBool,
    /// Id of the ring serving the core now (0: none).
    pub(crate) current_ring: AtomicU64,
    /// The thread driving the core could not set up a ring: nothing reaps this core's
    /// remote queue, so no op may be routed here.
    ringless: AtomicBool,
    pub(crate) metrics: RingMetrics,
    /// Loom models only: eventfd writes, as an atomic loom sees (a sleeping ring wakes
    /// on the write; in the kernel that read is ordered after the write).
    #[cfg(loom)]
    eventfd_writes: AtomicUsize,
}

impl fmt::Debug for RingShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingShared")
            .field("eventfd", &self.eventfd)
            .field("current_ring", &self.current_ring)
            .finish()
    }
}

impl RingShared {
    pub(crate) fn new() -> io::Result<RingShared> {
        // SAFETY: plain syscall; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(RingShared {
            // SAFETY: `fd` was just created and is owned by nothing else.
            eventfd: unsafe { OwnedFd::from_raw_fd(fd) },
            state: AtomicUsize::new(EMPTY),
            remote: Mutex::new(Vec::new()),
            has_remote: AtomicBool::new(false),
            current_ring: AtomicU64::new(0),
            ringless: AtomicBool::new(false),
            metrics: RingMetrics::default(),
            #[cfg(loom)]
            eventfd_writes: AtomicUsize::new(0),
        })
    }

    /// Wakes the core's thread if it sleeps in its ring; otherwise leaves a token so its
    /// next park returns at once.
    pub(crate) fn unpark(&self) {
        if self.state.swap(NOTIFIED, SeqCst) == PARKED {
            self.write_eventfd();
        }
    }

    fn write_eventfd(&self) {
        #[cfg(loom)]
        self.eventfd_writes.fetch_add(1, SeqCst);
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local to an eventfd we own.
        let _ = unsafe {
            libc::write(
                self.eventfd.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    /// Moves `EMPTY → PARKED` before sleeping. Returns false (and consumes the token)
    /// when an unpark is pending: the caller must not sleep.
    ///
    /// The token is consumed with a swap, not a plain store: an unpark that lands
    /// between the failed compare-exchange and the consumption (a second `NOTIFIED`,
    /// which writes no eventfd) is then read by the swap, so what its unparker published
    /// before unparking (a queued task, a remote request) is visible to the caller's
    /// next look at its queues. A plain store would overwrite it without that edge: the
    /// caller could miss the work and sleep on its next park with no token left
    /// (`loom_begin_park_consumes_a_racing_unpark_with_its_work`). The swap runs only when
    /// a token is pending, never on the path that sleeps.
    pub(crate) fn begin_park(&self) -> bool {
        match self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            Ok(_) => true,
            Err(_) => {
                self.state.swap(EMPTY, SeqCst);
                false
            }
        }
    }

    /// Back from sleeping (or from a non-blocking poll): consumes any token.
    ///
    /// A swap for the reason given at [`begin_park`](RingShared::begin_park): an
    /// unpark after the one that woke the ring (which wrote no eventfd) is read, with
    /// its work. On x86 a `SeqCst` store is an `xchg` anyway, so this costs the same.
    pub(crate) fn end_park(&self) {
        self.state.swap(EMPTY, SeqCst);
    }

    /// Consumes a pending token without parking. Returns whether there was one.
    pub(crate) fn take_token(&self) -> bool {
        self.state.swap(EMPTY, SeqCst) == NOTIFIED
    }

    /// Records whether the thread driving the core has a ring for it.
    pub(crate) fn set_ringless(&self, ringless: bool) {
        self.ringless.store(ringless, SeqCst);
    }

    /// Whether ops handed to this core will be run: a ring serves it, or the next
    /// thread to drive it will bring one.
    pub(crate) fn can_run_ops(&self) -> bool {
        !self.ringless.load(SeqCst)
    }

    pub(crate) fn push_remote(&self, request: RemoteRequest) {
        lock(&self.remote).push(request);
        self.has_remote.store(true, SeqCst);
        self.unpark();
    }

    /// Whether requests may be queued (a plain load; [`take_remote`] takes them).
    ///
    /// [`take_remote`]: RingShared::take_remote
    #[inline]
    pub(crate) fn has_remote(&self) -> bool {
        self.has_remote.load(SeqCst)
    }

    pub(crate) fn take_remote(&self) -> Vec<RemoteRequest> {
        // A plain load first: the queue is almost always empty.
        if !self.has_remote.load(SeqCst) || !self.has_remote.swap(false, SeqCst) {
            return Vec::new();
        }
        std::mem::take(&mut *lock(&self.remote))
    }

    pub(crate) fn publish_in_flight(&self, in_flight: usize) {
        self.metrics.in_flight.store(in_flight as u64, Relaxed);
    }

    /// Blocks on the eventfd alone, for a core whose thread could not create a ring.
    pub(crate) fn wait_eventfd(&self, timeout: Option<std::time::Duration>) {
        let mut pollfd = libc::pollfd {
            fd: self.eventfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
        if ready > 0 {
            let mut value: u64 = 0;
            // SAFETY: reads 8 bytes into a live local; the fd is readable, so this does
            // not block.
            let _ = unsafe {
                libc::read(
                    self.eventfd.as_raw_fd(),
                    (&mut value as *mut u64).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
        }
    }
}

/// How an op polled on a thread without an attached ring finds a core's ring to run
/// it: given by the layer that creates the op (the op layer's route reads the runtime
/// this thread is in), called only on that slow path. `None`: no ring can run it.
pub(crate) type RingRoute = fn() -> Option<Arc<RingShared>>;

/// Submits `cell` on this thread's ring when it serves a core; otherwise hands it to
/// the core's ring that `route` finds, through its remote queue.
pub(crate) fn submit(cell: Arc<dyn Completion>, route: RingRoute) -> io::Result<()> {
    let cell = match RING.try_with(|ring| match ring.try_borrow_mut() {
        Ok(mut ring) => match ring.as_mut() {
            Some(ring) if ring.attached().is_some() => {
                ring.submit(cell);
                None
            }
            _ => Some(cell),
        },
        Err(_) => Some(cell),
    }) {
        Ok(None) => return Ok(()),
        Ok(Some(cell)) => cell,
        Err(_) => return Err(no_ring_error()),
    };
    let target = route().ok_or_else(no_ring_error)?;
    target.push_remote(RemoteRequest::Submit(cell));
    Ok(())
}

fn no_ring_error() -> io::Error {
    io::Error::other(
        "no io_uring ring can run this operation: it was polled outside a ringtide runtime \
         that uses the io_uring backend (or while that runtime shuts down)",
    )
}

/// Asks the ring that owns an op to cancel it: directly when that ring is this
/// thread's and free, through the owner's remote queue otherwise.
pub(crate) fn cancel(owner: &Arc<RingShared>, ring_id: u64, user_data: u64) {
    let done = RING
        .try_with(|ring| match ring.try_borrow_mut() {
            Ok(mut ring) => match ring.as_mut() {
                Some(ring) if ring.id() == ring_id && ring.attached().is_some() => {
                    ring.cancel(user_data);
                    true
                }
                _ => false,
            },
            Err(_) => false,
        })
        .unwrap_or(false);
    if !done {
        owner.push_remote(RemoteRequest::Cancel { ring_id, user_data });
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! The park state machine (`EMPTY`/`PARKED`/`NOTIFIED`) against unparks that
    //! publish work first, as every unparker does (a task pushed to a run queue, a
    //! request to the remote queue).

    use crate::loom::Arc;
    use crate::loom::atomic::{AtomicUsize, Ordering::Acquire, Ordering::Release};

    use super::*;

    /// Two threads each publish a unit of work and unpark the core while it parks
    /// once. Whatever the interleaving, no work is lost: when the core sleeps it is woken
    /// (an eventfd write; the model waits for it), and after the park it sees both
    /// units, or a token is left (once every unpark is done) so that its next park
    /// returns at once. With a plain
    /// store consuming the token (in `begin_park`'s failure path, or in `end_park`), an
    /// unpark landing just before it is overwritten without the core acquiring that
    /// unpark's work: loom finds that interleaving.
    #[test]
    fn loom_begin_park_consumes_a_racing_unpark_with_its_work() {
        loom::model(|| {
            let shared = Arc::new(RingShared::new().expect("eventfd"));
            let work = Arc::new(AtomicUsize::new(0));
            let unparkers: Vec<_> = (0..2)
                .map(|_| {
                    let shared = shared.clone();
                    let work = work.clone();
                    loom::thread::spawn(move || {
                        work.fetch_add(1, Release);
                        shared.unpark();
                    })
                })
                .collect();
            if work.load(Acquire) < 2 && shared.begin_park() {
                // Asleep in the ring until the eventfd is written; the state says
                // `PARKED`, so some unpark that comes later writes it.
                while shared.eventfd_writes.load(Acquire) == 0 {
                    loom::thread::yield_now();
                }
                shared.end_park();
            }
            // What the core's next look at its queues finds.
            let seen = work.load(Acquire);
            for unparker in unparkers {
                unparker.join().unwrap();
            }
            // Every unpark has happened: one the core did not see the work of must
            // have left its token.
            assert!(
                seen == 2 || shared.take_token(),
                "after the park the core saw {seen} of 2 units, and no token is left"
            );
        });
    }
}
