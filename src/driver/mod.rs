//! The I/O drivers: one scheduler, two I/O models.
//!
//! Every scheduler core (each multi-thread worker, the current-thread core) owns a
//! driver and parks on it. The [`Driver`] trait is the contract; [`CoreDriver`]
//! dispatches between the backends:
//!
//! * `uring` (Linux, feature `io-uring`): completion-based. Each thread that drives a
//!   core has its own io_uring ring (`SINGLE_ISSUER | DEFER_TASKRUN` where the kernel
//!   has them). The thread parks in `io_uring_enter` waiting for one CQE, with the park
//!   timeout as the wait's timeout; other threads wake it by writing the core's eventfd,
//!   on which every ring keeps a read armed.
//! * `mio` (feature `mio`): readiness-based; one `mio::Poll` per core, edge-triggered
//!   registrations with a list of waiters per direction (every waiter of a direction
//!   is woken by its event, see [`waiters`]), `mio::Waker` to unpark.
//! * without I/O (`enable_io` not called): a condvar parker ([`park`]).
//!
//! A driver parks for the timeout it is given and knows nothing of timers or tasks:
//! the park step of a core (next timer deadline → park → fire due timers) and the
//! `block_on` executor are the runtime's (`runtime::driver`, `runtime::blocking_on`).
//!
//! # One operation, two halves
//!
//! An operation (`src/op/`) is one type implementing [`op::OpCode`]: the io_uring half
//! builds an SQE and the readiness half names an interest (read/write), runs the
//! non-blocking syscall, or runs on the blocking pool. How an op is awaited on
//! whichever backend applies (and the fallbacks on io_uring) is `crate::op::run`'s.
//!
//! # Op lifecycle on io_uring
//!
//! ```text
//!  future polled ──► cell created, holds the op value (buffers)
//!       │
//!       ├─ this thread drives a core: SQE pushed on its ring (no syscall)
//!       └─ no ring here: queued on a core's remote queue, that core is woken
//!       │
//!       ▼ submitted in a batch: when the ring's thread runs out of queued tasks
//!         (before it searches or parks), at each maintenance tick, or when the
//!         submission queue is full
//!  in flight: the ring's table holds an Arc to the cell
//!       │
//!       ▼ CQE: result stored in the cell, the task's waker woken (on whichever
//!         worker the task lives now; the future may be polled anywhere)
//!  completed: the future takes the value back and turns the result into its output
//! ```
//!
//! # Cancel protocol
//!
//! ```text
//!  future dropped while
//!   ├─ queued (not yet in a ring) ─► cell Abandoned; the ring skips it
//!   ├─ in flight ──────────────────► cell Abandoned + ASYNC_CANCEL sent to the owning
//!   │                                ring (directly, or via its remote queue when the
//!   │                                drop happens on another thread). The buffers stay
//!   │                                in the cell until the final CQE; then the ring
//!   │                                drops its Arc and they are freed.
//!   └─ completed ──────────────────► nothing in flight; the value is dropped
//!  future forgotten (mem::forget) ──► the ring frees its Arc at the CQE, the future's
//!                                     Arc leaks: memory is never freed early
//!  ring detached (its thread gave the core away: block_in_place, worker exit, end of
//!  a current-thread block_on) ──► every op cancelled; -ECANCELED ones are resubmitted
//!                                 by their futures on the next poll (an abandoned or
//!                                 detached op gets its -ECANCELED through
//!                                 `complete_abandoned`), others complete
//!  ops the kernel has not returned by the detach deadline ──► stranded: reaped by the
//!                      ring's own thread when block_in_place's closure returns, when
//!                      the worker thread exits, when it drives a core again, or at
//!                      thread exit (then, after 10 s more, leaked, never freed)
//!  runtime dropped ──► workers detach their rings and reap what they cancelled
//! ```
//!
//! # Rings and cores
//!
//! `build()` creates every core's ring (disabled until the thread that drives the core
//! enables it), so a ring the kernel refuses fails the build, or makes auto selection
//! fall back to mio. A thread that drives a core later and cannot create a ring marks
//! the core *ringless*: ops from threads without a ring are never routed there, and
//! ops already queued there are forwarded to a core that has one.
//!
//! # Backend selection
//!
//! `Builder::backend` if set, else `RINGTIDE_BACKEND=io_uring|mio|auto`, else auto.
//! Auto runs [`uring::probe`] (ring setup, a NOP round trip, the kernel features and
//! opcodes the driver cannot do without) and falls back to mio with one warning (see `crate::trace`)
//! naming the reason and the fix; so does a failure to set up the runtime's own
//! rings in `build()`. An explicit `io_uring` that cannot work makes `build()` fail
//! with that reason.

pub(crate) mod cores;
pub(crate) mod op;
pub(crate) mod park;
pub(crate) mod select;
pub(crate) mod waiters;

#[cfg(feature = "mio")]
pub(crate) mod mio;
#[cfg(ringtide_uring)]
pub(crate) mod uring;

#[cfg(not(feature = "mio"))]
#[path = "disabled/mio.rs"]
pub(crate) mod mio;
#[cfg(not(ringtide_uring))]
#[path = "disabled/uring.rs"]
pub(crate) mod uring;

use std::fmt;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Duration;

use self::cores::Cores;
use self::park::{Park, Parker, Unparker};

pub use select::Backend;

/// io_uring setup knobs from the builder.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RingConfig {
    /// Submission queue entries (the completion queue gets twice as many).
    pub(crate) entries: u32,
    /// `Some(idle)`: use a kernel submission-polling thread that sleeps after `idle`.
    pub(crate) sqpoll_idle: Option<Duration>,
    /// How long a ring's detach waits for the cancellation of its in-flight ops before
    /// leaving them stranded (see `uring::ring`). Zero (tests only) strands every op.
    pub(crate) detach_deadline: Duration,
    /// Park with a TIMEOUT SQE even where the kernel has `IORING_FEAT_EXT_ARG` (tests
    /// the path of kernels before 5.11).
    pub(crate) without_ext_arg: bool,
    /// Whether listeners may use multishot accept (the hidden builder knob that lets
    /// tests force the single-accept path). Only read when `accept_in_ring` is set.
    pub(crate) multishot_accept: bool,
    /// Whether listeners accept through ring requests on the listening socket
    /// (multishot or single `ACCEPT`) rather than through readiness of a per-listener
    /// epoll instance and `accept4` (`net::listener_readiness`). Off by default: a
    /// request on the listener keeps its socket, and the port, alive after the
    /// process died, until the kernel has torn the ring down. The hidden builder knob
    /// `uring_multishot_accept` turns it on, for tests and benches of that path.
    pub(crate) accept_in_ring: bool,
    /// Whether file ops that have a non-blocking form try it inline before the ring
    /// (`OpCode::NOWAIT_BEFORE_RING`; the hidden builder knob lets tests force the ring).
    pub(crate) inline_file_io: bool,
    /// Streams' and datagram sockets' plain owned-buffer sends of at least this many
    /// bytes go out as zero-copy sends (`SEND_ZC`); `None` (the default): never.
    pub(crate) send_zc_threshold: Option<usize>,
    /// Whether stream poll-path reads use a multishot receive into a provided-buffer
    /// ring (`net::recv_queue`); off by default.
    pub(crate) recv_multishot: bool,
}

impl Default for RingConfig {
    fn default() -> RingConfig {
        RingConfig {
            entries: 256,
            sqpoll_idle: None,
            detach_deadline: Duration::from_millis(500),
            without_ext_arg: false,
            multishot_accept: true,
            accept_in_ring: false,
            inline_file_io: true,
            // Measured on loopback (`benches/send_zc.rs`): zero copy never paid there.
            send_zc_threshold: None,
            recv_multishot: false,
        }
    }
}

/// The contract between a scheduler core and its I/O backend.
pub(crate) trait Driver: Send {
    /// This thread starts driving the core (takes it).
    fn attach(&mut self);
    /// This thread gives the core away; in-flight work must be handed over.
    fn detach(&mut self);
    /// Like [`detach`](Driver::detach), for a thread that stops driving for good (a
    /// worker thread leaving): per-thread driver state is released too.
    fn detach_and_release(&mut self) {
        self.detach();
    }
    /// Blocks until I/O is ready, an unpark, or `timeout`; dispatches completions and
    /// readiness to wakers. `Some(Duration::ZERO)` polls without blocking.
    fn park(&mut self, timeout: Option<Duration>);
    /// A handle that wakes this driver from any thread.
    fn unpark_handle(&self) -> Unpark;
}

/// One core's driver, whichever backend it is.
#[derive(Debug)]
pub(crate) enum CoreDriver {
    /// io_uring completions.
    Uring(uring::Driver),
    /// mio readiness.
    Mio(mio::Driver),
    /// No I/O: a condvar.
    NoIo(Parker),
}

/// Wakes one core's driver from any thread.
#[derive(Clone, Debug)]
pub(crate) enum Unpark {
    /// Writes the core's eventfd when its ring sleeps.
    Uring(Arc<uring::remote::RingShared>),
    /// `mio::Waker`.
    Mio(Arc<mio::Shared>),
    /// Condvar.
    NoIo(Unparker),
}

impl Driver for CoreDriver {
    fn attach(&mut self) {
        match self {
            CoreDriver::Uring(driver) => driver.attach(),
            CoreDriver::Mio(driver) => driver.attach(),
            CoreDriver::NoIo(_) => {}
        }
    }

    fn detach(&mut self) {
        match self {
            CoreDriver::Uring(driver) => driver.detach(),
            CoreDriver::Mio(driver) => driver.detach(),
            CoreDriver::NoIo(_) => {}
        }
    }

    fn detach_and_release(&mut self) {
        match self {
            CoreDriver::Uring(driver) => driver.detach_and_release(),
            other => other.detach(),
        }
    }

    fn park(&mut self, timeout: Option<Duration>) {
        match self {
            CoreDriver::Uring(driver) => driver.park(timeout),
            CoreDriver::Mio(driver) => driver.park(timeout),
            CoreDriver::NoIo(parker) => match timeout {
                Some(timeout) => parker.park_timeout(timeout),
                None => parker.park(),
            },
        }
    }

    fn unpark_handle(&self) -> Unpark {
        match self {
            CoreDriver::Uring(driver) => Unpark::Uring(driver.shared().clone()),
            CoreDriver::Mio(driver) => Unpark::Mio(driver.shared().clone()),
            CoreDriver::NoIo(parker) => Unpark::NoIo(parker.unpark_handle()),
        }
    }
}

impl CoreDriver {
    /// Operations are queued for the kernel but not submitted yet: a non-blocking park
    /// would submit them, and fast ones (a NOP, a read of ready data) complete during
    /// that very call.
    pub(crate) fn has_unsubmitted(&self) -> bool {
        match self {
            CoreDriver::Uring(driver) => driver.has_unsubmitted(),
            CoreDriver::Mio(_) | CoreDriver::NoIo(_) => false,
        }
    }
}

impl Park for CoreDriver {
    type Unpark = Unpark;

    fn park(&mut self) {
        Driver::park(self, None);
    }

    fn park_timeout(&mut self, timeout: Duration) {
        Driver::park(self, Some(timeout));
    }

    fn unpark_handle(&self) -> Unpark {
        Driver::unpark_handle(self)
    }
}

impl park::Unpark for Unpark {
    fn unpark(&self) {
        match self {
            Unpark::Uring(shared) => shared.unpark(),
            Unpark::Mio(shared) => shared.unpark(),
            Unpark::NoIo(unparker) => unparker.unpark(),
        }
    }
}

impl Unpark {
    /// A waker whose wake-up unparks this core's driver, for code that wakes cores
    /// without knowing drivers (the timer, a future blocked on by a thread).
    pub(crate) fn into_waker(self) -> Waker {
        Waker::from(Arc::new(UnparkWaker(self)))
    }
}

/// The [`Wake`] side of [`Unpark::into_waker`].
struct UnparkWaker(Unpark);

impl Wake for UnparkWaker {
    fn wake(self: Arc<Self>) {
        park::Unpark::unpark(&self.0);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        park::Unpark::unpark(&self.0);
    }
}

/// The I/O side of a runtime: its backend and every core's driver handle.
pub(crate) struct Handle {
    /// The selected backend, also reported when I/O is disabled.
    selected: Backend,
    /// `Some(selected)` when I/O is enabled.
    backend: Option<Backend>,
    /// For the rings of `block_on` callers.
    #[cfg_attr(not(ringtide_uring), allow(dead_code))]
    config: RingConfig,
    /// Shared with every io_uring core driver (see [`cores`]).
    cores: Arc<Cores>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("driver::Handle")
            .field("backend", &self.backend)
            .field("cores", &self.cores.unparks().len())
            .finish()
    }
}

/// Per-runtime I/O counters (summed over cores), see `RuntimeMetrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct IoCounters {
    pub(crate) submitted: u64,
    pub(crate) completed: u64,
    pub(crate) in_flight: u64,
    pub(crate) cancelled: u64,
    pub(crate) cq_overflow: u64,
    pub(crate) registered: u64,
}

impl Handle {
    /// Creates `count` core drivers for `selected` (condvar parkers when I/O is
    /// disabled) and the runtime-wide handle over them.
    pub(crate) fn create(
        selected: Backend,
        enable_io: bool,
        count: usize,
        config: RingConfig,
    ) -> std::io::Result<(Handle, Vec<CoreDriver>)> {
        let backend = enable_io.then_some(selected);
        let mut drivers = Vec::with_capacity(count);
        for _ in 0..count {
            drivers.push(match backend {
                Some(Backend::IoUring) => CoreDriver::Uring(uring::Driver::new(config)?),
                Some(Backend::Mio) => CoreDriver::Mio(mio::Driver::new(1024)?),
                _ => CoreDriver::NoIo(Parker::new()),
            });
        }
        let cores = Arc::new(Cores::new(
            drivers.iter().map(Driver::unpark_handle).collect(),
        ));
        for driver in &mut drivers {
            if let CoreDriver::Uring(driver) = driver {
                driver.set_cores(cores.clone());
            }
        }
        Ok((
            Handle {
                selected,
                backend,
                config,
                cores,
            },
            drivers,
        ))
    }

    /// The backend in use (`None` when the runtime has no I/O).
    pub(crate) fn backend(&self) -> Option<Backend> {
        self.backend
    }

    /// A driver for a thread that blocks on a future outside the cores (a multi-thread
    /// runtime's `block_on` caller), when the backend wants one: on io_uring, a driver
    /// whose ring is the calling thread's own (created when it attaches), so the ops
    /// the future submits run on that ring instead of being handed to a worker. `None`
    /// (mio, no I/O, or no eventfd): the thread parks on a plain parker.
    pub(crate) fn driver_for_block_on(&self) -> Option<CoreDriver> {
        #[cfg(ringtide_uring)]
        if self.backend == Some(Backend::IoUring) {
            if let Ok(driver) = uring::Driver::new_lazy(self.config, self.cores.clone()) {
                return Some(CoreDriver::Uring(driver));
            }
        }
        None
    }

    /// Whether file ops try their non-blocking form inline before the ring (see
    /// [`RingConfig::inline_file_io`]).
    #[cfg_attr(not(ringtide_uring), allow(dead_code))]
    pub(crate) fn inline_file_io(&self) -> bool {
        self.config.inline_file_io
    }

    /// Whether stream poll-path reads use a multishot receive (see
    /// [`RingConfig::recv_multishot`]).
    #[cfg_attr(
        any(
            not(ringtide_uring),
            not(any(feature = "tokio-io", feature = "futures-io"))
        ),
        allow(dead_code, reason = "read by the AsyncRead impls on io_uring")
    )]
    pub(crate) fn recv_multishot(&self) -> bool {
        self.config.recv_multishot
    }

    /// From which size owned-buffer sends use zero copy (see
    /// [`RingConfig::send_zc_threshold`]).
    #[cfg_attr(not(ringtide_uring), allow(dead_code))]
    pub(crate) fn send_zc_threshold(&self) -> Option<usize> {
        self.config.send_zc_threshold
    }

    /// Whether listeners of this runtime may use multishot accept (see
    /// [`RingConfig::multishot_accept`]).
    #[cfg_attr(not(ringtide_uring), allow(dead_code))]
    pub(crate) fn multishot_accept(&self) -> bool {
        self.config.multishot_accept
    }

    /// Whether listeners of this runtime accept through ring requests on the
    /// listening socket (see [`RingConfig::accept_in_ring`]).
    #[cfg_attr(not(ringtide_uring), allow(dead_code))]
    pub(crate) fn accept_in_ring(&self) -> bool {
        self.config.accept_in_ring
    }

    /// The backend selected at build time (even when I/O is disabled).
    pub(crate) fn selected(&self) -> Backend {
        self.selected
    }

    /// A core's ring for an op from a thread without one (see [`Cores::pick_ring`]).
    #[cfg(ringtide_uring)]
    pub(crate) fn pick_ring(&self) -> Option<Arc<uring::remote::RingShared>> {
        self.cores.pick_ring()
    }

    /// A core's poll to register an I/O object with (see [`Cores::pick_poll`]).
    pub(crate) fn pick_poll(&self) -> Option<Arc<mio::Shared>> {
        self.cores.pick_poll()
    }

    /// The runtime has shut down: its cores' polls (mio) accept no registration and
    /// fail their waiters from now on, as when their drivers drop. Nothing polls them
    /// any more, so a readiness wait through a `Handle` that outlived the runtime
    /// would otherwise never end. (io_uring ops still run on the ring of the thread
    /// that awaits them.)
    pub(crate) fn runtime_shut_down(&self) {
        #[cfg(feature = "mio")]
        for core in self.cores.unparks() {
            if let Unpark::Mio(shared) = core {
                shared.shutdown();
            }
        }
    }

    /// One core's counters.
    pub(crate) fn core_counters(&self, index: usize) -> IoCounters {
        match &self.cores.unparks()[index] {
            Unpark::Uring(shared) => uring::counters(shared),
            Unpark::Mio(shared) => mio::counters(shared),
            Unpark::NoIo(_) => IoCounters::default(),
        }
    }

    /// Counters summed over every core.
    pub(crate) fn counters(&self) -> IoCounters {
        let mut total = IoCounters::default();
        for index in 0..self.cores.unparks().len() {
            let one = self.core_counters(index);
            total.submitted += one.submitted;
            total.completed += one.completed;
            total.in_flight += one.in_flight;
            total.cancelled += one.cancelled;
            total.cq_overflow += one.cq_overflow;
            total.registered += one.registered;
        }
        total
    }
}

/// Lets this thread finish what its I/O driver still has in the kernel after it gave
/// its core away: a thread that left a core with io_uring ops the kernel had not yet
/// returned reaps them here (it alone can, see `uring::ring`). Blocks until they are
/// in (bounded); for threads that have just stopped driving a core. `release`: the
/// thread stops being a worker for good, so its per-thread driver state is freed now.
pub(crate) fn settle_this_thread(release: bool) {
    #[cfg(ringtide_uring)]
    uring::settle_this_thread(release);
    #[cfg(not(ringtide_uring))]
    let _ = release;
}
