//! The readiness I/O driver: one `mio::Poll` per scheduler worker.
//!
//! A worker that runs out of tasks parks in [`Driver::park`], which sleeps in the OS
//! selector (epoll, kqueue, IOCP) until an I/O object it drives becomes ready, another
//! thread unparks it, or the timeout passes. Events are dispatched into the
//! [`ScheduledIo`] readiness cells of the registered I/O objects, which wake the
//! waiting tasks.
//!
//! The module owns:
//!
//! * [`Driver`], held by the worker: the `Poll`, its event buffer, and parking;
//! * [`Shared`], reachable from any thread: the registry (to add and remove I/O
//!   objects), the waker that interrupts a parked poll, the table of registered
//!   readiness cells, the shut-down flag and the driver's metrics;
//! * [`registration`]: the handle an I/O object keeps for its registration;
//! * [`scheduled_io`]: the readiness cell and its protocol.
//!
//! # Parking protocol
//!
//! Waking a thread blocked in the selector costs a syscall (a write to an eventfd or a
//! pipe), so `unpark` only makes it when the driver is actually blocked.
//! `Shared::state` holds one of three values:
//!
//! ```text
//!               park: CAS                  unpark: swap → NOTIFIED,
//!   EMPTY ───────────────────────► PARKED ──────────────────────────► NOTIFIED
//!     ▲     (then poll, blocking)    │      and wake() the selector       │
//!     │                              │                                    │
//!     ├──── park: swap after poll ◄──┘                                    │
//!     │                                                                   │
//!     └── park: swap (then poll without blocking), or swap after poll ◄───┘
//! ```
//!
//! * `unpark` swaps the state to `NOTIFIED` and calls `waker.wake()` only if the
//!   previous state was `PARKED`.
//! * `park` consumes a pending `NOTIFIED` by swapping it to `EMPTY` and then polls with
//!   a zero timeout (events are still dispatched). Otherwise it moves `EMPTY → PARKED`
//!   with a CAS; if the CAS fails, an unpark got in first, so it consumes that one and
//!   polls with a zero timeout too. After the poll it swaps the state back to `EMPTY`.
//!
//! No wake-up is lost. Whatever the state, an `unpark` either finds `PARKED` (the
//! driver is between its CAS and its final swap, so it is in or about to enter the
//! poll, and the wake is queued in the selector until the poll returns) or leaves
//! `NOTIFIED` for the CAS or the next `park` to find. The driver only consumes a
//! notification on its way out of `park`, and every swap is `SeqCst`, so the caller
//! sees whatever the unparking thread published before it unparked. Several unparks
//! before a park collapse into one notification and at most one wake syscall.
//!
//! # Tokens
//!
//! The `mio::Token` of a registration encodes the key of its `Arc<ScheduledIo>` in the
//! [`Shared`] slab (the low bits) and a generation (the high bits, below the top bit so
//! that no token equals the waker's `Token(usize::MAX)`). The slab keeps each cell
//! alive while it is registered; an event whose key is vacant, or holds a cell of
//! another generation (the key was reused after a deregistration), is ignored.

pub(crate) mod registration;
pub(crate) mod scheduled_io;
mod source;

thread_local! {
    /// The poll of the core this thread drives, if any.
    static CURRENT: std::cell::RefCell<Option<Arc<Shared>>> = const { std::cell::RefCell::new(None) };
}

/// The poll of the core this thread drives, if any.
pub(crate) fn current_shared() -> Option<Arc<Shared>> {
    CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten()
}

/// One core's counters, for `RuntimeMetrics`.
pub(crate) fn counters(shared: &Shared) -> crate::driver::IoCounters {
    crate::driver::IoCounters {
        completed: shared.metrics().events(),
        registered: shared.metrics().registered(),
        ..Default::default()
    }
}

use std::io;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ::mio::{Events, Interest, Token};
use slab::Slab;

pub(crate) use self::registration::{Direction, Registration};
// The readiness events and waiters by themselves are for `io::fd_readiness` (AsyncFd),
// which is Unix-only.
#[cfg(unix)]
pub(crate) use self::registration::{ReadinessWaiter, ReadyEvent};
pub(crate) use self::scheduled_io::Ready;
use self::scheduled_io::{ScheduledIo, shutdown_error};
use self::source::RawSource;
use crate::sys::RawSocket;

/// The driver is neither parked nor notified.
const EMPTY: usize = 0;
/// The driver is (about to be) blocked in the selector; an unpark must wake it.
const PARKED: usize = 1;
/// An unpark arrived; the next (or current) park returns without blocking.
const NOTIFIED: usize = 2;

/// The token of the waker that interrupts a parked poll; its events carry no readiness.
const WAKER_TOKEN: Token = Token(usize::MAX);

/// Bits of a token that hold the slab key.
const KEY_BITS: u32 = if usize::BITS >= 64 { 32 } else { 24 };
/// Mask of the slab key in a token.
const KEY_MASK: usize = (1 << KEY_BITS) - 1;
/// Mask of the generation (after shifting it down); the top bit of a token stays clear.
const GENERATION_MASK: usize = (1 << (usize::BITS - KEY_BITS - 1)) - 1;

/// A worker's readiness driver (see the module documentation).
#[derive(Debug)]
pub(crate) struct Driver {
    poll: ::mio::Poll,
    events: Events,
    shared: Arc<Shared>,
    /// The cells of the last poll's events, gathered under the slab lock and woken after
    /// it is released. Kept between parks to reuse its allocation.
    ready: Vec<(Arc<ScheduledIo>, Ready)>,
}

/// The thread-safe half of a [`Driver`]: unparking and registration.
#[derive(Debug)]
pub(crate) struct Shared {
    registry: ::mio::Registry,
    waker: ::mio::Waker,
    /// `EMPTY`, `PARKED` or `NOTIFIED` (see the module documentation).
    state: AtomicUsize,
    registrations: Mutex<Registrations>,
    metrics: DriverMetrics,
}

/// The registered readiness cells, keyed by the low bits of their tokens.
#[derive(Debug, Default)]
struct Registrations {
    slab: Slab<Arc<ScheduledIo>>,
    /// The generation the next registration gets (wraps within `GENERATION_MASK`).
    next_generation: usize,
    /// Set by `Shared::shutdown`; no registration is accepted afterwards.
    is_shutdown: bool,
}

/// Counters of one driver, updated with `Relaxed` ordering.
#[derive(Debug, Default)]
pub(crate) struct DriverMetrics {
    registered: AtomicU64,
    events: AtomicU64,
}

impl DriverMetrics {
    /// The number of I/O objects currently registered with the driver.
    pub(crate) fn registered(&self) -> u64 {
        self.registered.load(Relaxed)
    }

    /// The number of readiness events dispatched to registered I/O objects so far
    /// (wake-ups from `unpark` and events of deregistered objects are not counted).
    pub(crate) fn events(&self) -> u64 {
        self.events.load(Relaxed)
    }
}

impl Driver {
    /// Creates a driver whose polls return at most `events_capacity` events at a time
    /// (at least one).
    pub(crate) fn new(events_capacity: usize) -> io::Result<Driver> {
        let poll = ::mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = ::mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let shared = Arc::new(Shared {
            registry,
            waker,
            state: AtomicUsize::new(EMPTY),
            registrations: Mutex::new(Registrations::default()),
            metrics: DriverMetrics::default(),
        });
        Ok(Driver {
            poll,
            events: Events::with_capacity(events_capacity.max(1)),
            shared,
            ready: Vec::new(),
        })
    }

    /// Blocks until an event, an unpark, or the timeout. `Some(Duration::ZERO)` polls
    /// without blocking. Dispatches readiness to the waiting tasks' wakers.
    ///
    /// # Panics
    ///
    /// Panics if the selector fails for another reason than a signal (which only
    /// happens if its file descriptor was closed behind the driver's back).
    pub(crate) fn park(&mut self, timeout: Option<Duration>) {
        let timeout = if self.shared.state.load(SeqCst) == NOTIFIED {
            self.shared.state.swap(EMPTY, SeqCst);
            Some(Duration::ZERO)
        } else {
            match self
                .shared
                .state
                .compare_exchange(EMPTY, PARKED, SeqCst, SeqCst)
            {
                Ok(_) => timeout,
                Err(_notified) => {
                    // Only `unpark` changes the state behind the driver, to `NOTIFIED`.
                    self.shared.state.swap(EMPTY, SeqCst);
                    Some(Duration::ZERO)
                }
            }
        };
        let result = self.poll.poll(&mut self.events, timeout);
        self.shared.state.swap(EMPTY, SeqCst);
        match result {
            Ok(()) => self.dispatch(),
            // A signal interrupted the wait: return, the caller parks again if it must.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                crate::trace::event!(error, "ringtide: polling the mio driver failed: {error}")
            }
        }
    }

    /// The thread-safe half of the driver, to unpark it and register I/O objects.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// This thread drives the core now: I/O objects it creates register here.
    pub(crate) fn attach(&mut self) {
        let shared = self.shared.clone();
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = Some(shared));
    }

    /// This thread gave the core away. Registrations stay with the poll, which moves
    /// with the core.
    pub(crate) fn detach(&mut self) {
        let _ = CURRENT.try_with(|current| {
            let mut current = current.borrow_mut();
            if current
                .as_ref()
                .is_some_and(|shared| Arc::ptr_eq(shared, &self.shared))
            {
                *current = None;
            }
        });
    }

    /// Records the last poll's events into the readiness cells and wakes their waiters.
    fn dispatch(&mut self) {
        {
            let registrations = self.shared.lock_registrations();
            for event in self.events.iter() {
                let token = event.token();
                if token == WAKER_TOKEN {
                    continue;
                }
                let Some(io) = registrations.slab.get(token.0 & KEY_MASK) else {
                    // Deregistered after the poll collected the event.
                    continue;
                };
                if io.token() != token {
                    // The key was reused by a newer registration.
                    continue;
                }
                self.ready.push((Arc::clone(io), Ready::from_event(event)));
            }
        }
        // Counting before waking keeps the metric ahead of what a woken task can see.
        self.shared
            .metrics
            .events
            .fetch_add(self.ready.len() as u64, Relaxed);
        // Wake outside the slab lock: a waker may run code that (de)registers.
        for (io, ready) in self.ready.drain(..) {
            io.set_readiness(ready);
        }
    }
}

impl Drop for Driver {
    /// Nothing will poll the registered I/O objects any more: fail their waiters
    /// instead of leaving them pending forever.
    fn drop(&mut self) {
        self.shared.shutdown();
    }
}

impl Shared {
    /// Wakes the parked driver (or makes its next park return immediately).
    pub(crate) fn unpark(&self) {
        if self.state.swap(NOTIFIED, SeqCst) == PARKED {
            if let Err(error) = self.waker.wake() {
                crate::trace::event!(error, "ringtide: waking the mio driver failed: {error}");
            }
        }
    }

    /// Registers a raw fd (already non-blocking: any pollable fd on Unix, a socket on
    /// Windows, where mio polls only sockets) for read and write readiness (mio
    /// registrations are edge-triggered) and returns the handle through which its
    /// owner waits for readiness and makes its calls.
    ///
    /// Fails if the driver has shut down, if the OS refuses the registration, or if
    /// the driver holds as many registrations as a token can number.
    pub(crate) fn register_raw(self: &Arc<Self>, fd: RawSocket) -> io::Result<Registration> {
        let io = self.insert()?;
        match RawSource::register(
            &self.registry,
            fd,
            io.token(),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            Ok(source) => Ok(Registration::new(io, Arc::clone(self), Some(source))),
            Err(error) => {
                self.remove(&io);
                Err(error)
            }
        }
    }

    /// Registers a mio source that the caller keeps, for `interest` (tests: mio's own
    /// pipes and sockets).
    #[cfg(all(test, unix))]
    pub(crate) fn register(
        self: &Arc<Self>,
        source: &mut impl ::mio::event::Source,
        interest: Interest,
    ) -> io::Result<Registration> {
        let io = self.insert()?;
        if let Err(error) = self.registry.register(source, io.token(), interest) {
            self.remove(&io);
            return Err(error);
        }
        Ok(Registration::new(io, Arc::clone(self), None))
    }

    /// Marks the driver shut down and wakes every registered I/O object's waiters:
    /// their `poll_ready` fails from now on, and so does `register_raw`.
    pub(crate) fn shutdown(&self) {
        let registered: Vec<Arc<ScheduledIo>> = {
            let mut registrations = self.lock_registrations();
            registrations.is_shutdown = true;
            registrations
                .slab
                .iter()
                .map(|(_, io)| Arc::clone(io))
                .collect()
        };
        for io in registered {
            io.shutdown();
        }
    }

    /// The driver's counters.
    pub(crate) fn metrics(&self) -> &DriverMetrics {
        &self.metrics
    }

    /// Allocates a readiness cell and its token, and keeps it in the slab.
    fn insert(&self) -> io::Result<Arc<ScheduledIo>> {
        let mut registrations = self.lock_registrations();
        let Registrations {
            slab,
            next_generation,
            is_shutdown,
        } = &mut *registrations;
        if *is_shutdown {
            return Err(shutdown_error());
        }
        let entry = slab.vacant_entry();
        let key = entry.key();
        if key > KEY_MASK {
            return Err(io::Error::other(
                "too many I/O objects registered with one ringtide driver",
            ));
        }
        let generation = *next_generation;
        *next_generation = (generation + 1) & GENERATION_MASK;
        let io = Arc::new(ScheduledIo::new(Token((generation << KEY_BITS) | key)));
        entry.insert(Arc::clone(&io));
        self.metrics.registered.fetch_add(1, Relaxed);
        Ok(io)
    }

    /// Removes `io` from the slab, if it is still there; later events for its token
    /// are ignored. Safe to call more than once.
    fn remove(&self, io: &Arc<ScheduledIo>) {
        let key = io.token().0 & KEY_MASK;
        let removed = {
            let mut registrations = self.lock_registrations();
            let is_ours = registrations
                .slab
                .get(key)
                .is_some_and(|registered| Arc::ptr_eq(registered, io));
            is_ours.then(|| registrations.slab.remove(key))
        };
        if removed.is_some() {
            self.metrics.registered.fetch_sub(1, Relaxed);
        }
    }

    /// Locks the registrations, ignoring poisoning: the critical sections only touch
    /// the slab and cannot panic half-way.
    fn lock_registrations(&self) -> MutexGuard<'_, Registrations> {
        self.registrations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;
    use std::time::Instant;

    use super::*;

    fn saw_waker_event(driver: &Driver) -> bool {
        driver
            .events
            .iter()
            .any(|event| event.token() == WAKER_TOKEN)
    }

    #[test]
    fn unpark_from_another_thread_wakes_a_parked_driver() {
        let mut driver = Driver::new(8).unwrap();
        let shared = Arc::clone(driver.shared());
        let (parked_sender, parked_receiver) = mpsc::channel::<()>();
        let unparker = thread::spawn(move || {
            // Wait until the driver has announced it is blocking, so the unpark takes
            // the wake-syscall path.
            while shared.state.load(SeqCst) != PARKED {
                thread::yield_now();
            }
            shared.unpark();
            parked_sender.send(()).unwrap();
        });
        driver.park(None);
        parked_receiver.recv().unwrap();
        unparker.join().unwrap();
        assert!(saw_waker_event(&driver));
        assert_eq!(driver.shared().state.load(SeqCst), EMPTY);
    }

    #[test]
    fn unpark_before_park_returns_at_once_and_unparks_collapse() {
        let mut driver = Driver::new(8).unwrap();
        for _ in 0..3 {
            driver.shared().unpark();
        }
        assert_eq!(driver.shared().state.load(SeqCst), NOTIFIED);
        // Would block forever without the pending notification.
        driver.park(None);
        // The driver was not parked, so no wake syscall was made.
        assert!(!saw_waker_event(&driver));
        assert_eq!(driver.shared().state.load(SeqCst), EMPTY);

        // The three unparks left one notification, now consumed: the next park sleeps
        // until its timeout.
        let timeout = Duration::from_millis(20);
        let start = Instant::now();
        driver.park(Some(timeout));
        assert!(start.elapsed() >= timeout);
    }

    #[test]
    fn zero_timeout_polls_without_blocking() {
        let mut driver = Driver::new(8).unwrap();
        driver.park(Some(Duration::ZERO));
        assert_eq!(driver.shared().state.load(SeqCst), EMPTY);
    }

    #[test]
    fn tokens_never_collide_with_the_waker() {
        let largest = (GENERATION_MASK << KEY_BITS) | KEY_MASK;
        assert_ne!(Token(largest), WAKER_TOKEN);
        assert_eq!(largest >> (usize::BITS - 1), 0);
    }
}
