//! A thread pool for blocking work.
//!
//! Jobs are `async-task` runnables whose future runs one blocking closure (see
//! `task::spawn_blocking`), so the pool shares the task cell, `JoinHandle` and panic
//! handling with async tasks. The multi-thread scheduler's workers are also jobs here
//! ("mandatory" ones), which gives every runtime thread the same name, stack size and
//! start/stop hooks.
//!
//! # Growth and keep-alive
//!
//! A spawn queues its job, then makes sure a thread is coming for it. *Coming* threads
//! are those that will look at the queue without running user code first: idle
//! threads already woken (`num_notified`), threads being started (`num_starting`), and
//! threads whose closure has just returned and that are on their way back to the
//! queue (`num_finishing`, reported by [`closure_returned`] from the closure's task).
//! Each of them takes a queued job, if there is one, when it gets there. So:
//!
//! ```text
//!   spawn: push the job
//!     queued jobs <= coming threads ──► done (one of them takes it)
//!     an idle thread not yet woken ───► wake it   (num_notified += 1)
//!     below the cap ──────────────────► start one (num_starting += 1)
//!     else ───────────────────────────► it waits for a running job to end
//! ```
//!
//! Counting the coming threads is what keeps the pool from over-spawning: before, a
//! spawn that landed while a thread was on its way back from its job (its `JoinHandle`
//! woken, the awaiting task already spawning the next job), or while a woken idle
//! thread had not yet run, started one more thread, and 64 tasks each running one short
//! job at a time grew the pool to 130-360 threads. A thread that is running a closure
//! is never counted: the closure may block for as long as it likes (waiting for another
//! job, say), so a job never waits for it while the pool is below its cap. The cap is
//! the workers plus `max_blocking_threads`. An idle thread exits after
//! `thread_keep_alive` without work.
//!
//! The counts live under the pool's mutex, as does the queue; idle threads wait on a
//! condvar. `tests/rt_blocking_reuse.rs` measures the peak and stresses the protocol
//! with jobs that wait for each other.
//!
//! # Shutdown order
//!
//! 1. `shutdown` sets the flag (no more jobs accepted), wakes all idle threads and
//!    drops queued jobs that have not started, except mandatory ones (workers), which
//!    still run so the scheduler can finish its own shutdown.
//! 2. Threads exit when the queue is empty; running closures are never interrupted.
//! 3. The caller waits until every thread has exited or the timeout passes, whichever
//!    comes first; threads still running after the timeout are left detached.
//! 4. When every thread exited in time, the caller joins them, as tokio does: a thread
//!    counts as gone before its thread-locals are destroyed, so without the join a
//!    user's thread-local (set up in `on_thread_start`, say) could still be alive,
//!    holding a file or a connection, after the runtime's drop returned. A thread
//!    that exits after its keep-alive detaches itself (drops its own handle); nobody
//!    joins it.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::task::harness::Runnable;

use crate::loom::{Condvar, Mutex, lock};
use crate::runtime::{context, scheduler};

/// A callback run on each runtime thread.
pub(crate) type Callback = Arc<dyn Fn() + Send + Sync>;
/// Produces the name of each new runtime thread.
pub(crate) type ThreadNameFn = Arc<dyn Fn() -> String + Send + Sync>;

/// How runtime threads are started.
#[derive(Clone)]
pub(crate) struct ThreadConfig {
    pub(crate) name: ThreadNameFn,
    pub(crate) stack_size: Option<usize>,
    pub(crate) on_start: Option<Callback>,
    pub(crate) on_stop: Option<Callback>,
    pub(crate) keep_alive: Duration,
    /// Threads allowed beyond the mandatory (worker) ones.
    pub(crate) max_blocking: usize,
}

impl fmt::Debug for ThreadConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadConfig")
            .field("stack_size", &self.stack_size)
            .field("keep_alive", &self.keep_alive)
            .field("max_blocking", &self.max_blocking)
            .finish_non_exhaustive()
    }
}

/// Owns the pool; shutting it down is the runtime's job.
#[derive(Debug)]
pub(crate) struct BlockingPool {
    spawner: Spawner,
}

/// Submits jobs to the pool; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Spawner {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Mutex<Shared>,
    work_available: Condvar,
    thread_exited: Condvar,
    config: ThreadConfig,
    /// The runtime handle each pool thread enters; set once the runtime is built and
    /// cleared on shutdown to break the handle ↔ pool cycle.
    handle: Mutex<Option<scheduler::Handle>>,
    num_threads: AtomicUsize,
    num_idle: AtomicUsize,
    queue_depth: AtomicUsize,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Inner")
            .field("config", &self.config)
            .field("num_threads", &self.num_threads)
            .finish_non_exhaustive()
    }
}

struct Shared {
    queue: VecDeque<Job>,
    num_threads: usize,
    num_idle: usize,
    /// Idle threads already signalled for a queued job.
    num_notified: usize,
    /// Threads started and not yet at the queue.
    num_starting: usize,
    /// Threads whose closure returned and that are on their way back to the queue.
    num_finishing: usize,
    /// Mandatory (worker) jobs started; they raise the thread cap by one each.
    num_mandatory: usize,
    shutdown: bool,
    next_thread_id: usize,
    /// The handles of the live threads, by id, for shutdown to join.
    threads: HashMap<usize, JoinHandle<()>>,
}

struct Job {
    runnable: Runnable,
    mandatory: bool,
}

/// Why the pool refused a job. The job's task has been dropped (cancelled).
#[derive(Debug)]
pub(crate) enum SpawnError {
    /// The runtime is shutting down.
    ShutDown,
    /// No thread could be started and none exists to run the job later.
    NoThread(io::Error),
}

impl From<SpawnError> for io::Error {
    fn from(error: SpawnError) -> io::Error {
        match error {
            SpawnError::ShutDown => io::Error::other("the ringtide runtime is shutting down"),
            SpawnError::NoThread(error) => io::Error::new(
                error.kind(),
                format!("failed to start a ringtide runtime thread: {error}"),
            ),
        }
    }
}

/// Whether a job must run even if the pool shuts down before it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mandatory {
    Yes,
    No,
}

/// What a pool thread knows about itself.
struct ThisThread {
    inner: Arc<Inner>,
    /// Counted in the pool's `num_finishing`.
    finishing: bool,
}

thread_local! {
    /// Set on pool threads, for the whole life of the thread.
    static THIS_THREAD: std::cell::RefCell<Option<ThisThread>> =
        const { std::cell::RefCell::new(None) };
}

/// Whether this thread is one of `inner`'s threads.
fn is_thread_of(inner: &Arc<Inner>) -> bool {
    THIS_THREAD.with(|this| {
        this.borrow()
            .as_ref()
            .is_some_and(|this| Arc::ptr_eq(&this.inner, inner))
    })
}

/// Called by a blocking task right after its closure returned: this thread is on its
/// way back to the queue and will take a queued job without running user code first,
/// so spawns from now on count it as coming instead of starting another thread.
///
/// (What runs between here and the queue: the task's completion, i.e. the runtime's
/// `on_task_terminate` callback, the wake-up of the `JoinHandle`, or the drop of a
/// result nobody waits for.) Does nothing on other threads.
pub(crate) fn closure_returned() {
    THIS_THREAD.with(|this| {
        let mut this = this.borrow_mut();
        let Some(this) = this.as_mut() else { return };
        if this.finishing {
            return;
        }
        this.finishing = true;
        lock(&this.inner.shared).num_finishing += 1;
    });
}

/// Back at the queue (the pool's lock held): this thread no longer counts as coming.
fn back_at_queue(shared: &mut Shared) {
    THIS_THREAD.with(|this| {
        if let Some(this) = this.borrow_mut().as_mut()
            && std::mem::take(&mut this.finishing)
        {
            shared.num_finishing -= 1;
        }
    });
}

impl BlockingPool {
    pub(crate) fn new(config: ThreadConfig) -> BlockingPool {
        BlockingPool {
            spawner: Spawner {
                inner: Arc::new(Inner {
                    shared: Mutex::new(Shared {
                        queue: VecDeque::new(),
                        num_threads: 0,
                        num_idle: 0,
                        num_notified: 0,
                        num_starting: 0,
                        num_finishing: 0,
                        num_mandatory: 0,
                        shutdown: false,
                        next_thread_id: 0,
                        threads: HashMap::new(),
                    }),
                    work_available: Condvar::new(),
                    thread_exited: Condvar::new(),
                    config,
                    handle: Mutex::new(None),
                    num_threads: AtomicUsize::new(0),
                    num_idle: AtomicUsize::new(0),
                    queue_depth: AtomicUsize::new(0),
                }),
            },
        }
    }

    pub(crate) fn spawner(&self) -> &Spawner {
        &self.spawner
    }

    /// Stops accepting jobs, drops queued non-mandatory jobs and waits up to `timeout`
    /// for the threads to exit. Returns true when all of them exited in time.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let inner = &self.spawner.inner;
        let dropped: Vec<Job> = {
            let mut shared = lock(&inner.shared);
            shared.shutdown = true;
            let (keep, drop): (VecDeque<Job>, VecDeque<Job>) =
                shared.queue.drain(..).partition(|job| job.mandatory);
            shared.queue = keep;
            inner
                .queue_depth
                .store(shared.queue.len(), Ordering::Relaxed);
            inner.work_available.notify_all();
            drop.into_iter().collect()
        };
        // Dropping a runnable cancels its task; do it without the lock held.
        drop(dropped);
        let handle = lock(&inner.handle).take();
        drop(handle);

        // A pool thread shutting its own pool down must not wait for itself.
        let own = usize::from(is_thread_of(inner));
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut shared = lock(&inner.shared);
        while shared.num_threads > own {
            match deadline {
                None => {
                    shared = inner
                        .thread_exited
                        .wait(shared)
                        .unwrap_or_else(|e| e.into_inner());
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    shared = inner
                        .thread_exited
                        .wait_timeout(shared, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        // Every thread has left its loop; wait for each to finish its exit (its
        // thread-locals' destructors). A pool thread shutting its own pool down skips
        // itself.
        let threads = std::mem::take(&mut shared.threads);
        drop(shared);
        let this_thread = std::thread::current().id();
        for (_, thread) in threads {
            if thread.thread().id() != this_thread {
                // Panics are caught inside the task harness, and a panicking
                // thread-local destructor aborts the process: there is no error here.
                let _ = thread.join();
            }
        }
        true
    }
}

impl Spawner {
    /// Records the runtime handle that pool threads enter.
    pub(crate) fn set_handle(&self, handle: scheduler::Handle) {
        *lock(&self.inner.handle) = Some(handle);
    }

    /// Queues a job, starting a thread if none is free.
    ///
    /// Fails when the pool is shut down (the runnable is dropped, cancelling its task)
    /// or when no thread can be started and none exists to run it later.
    pub(crate) fn spawn(&self, runnable: Runnable, mandatory: Mandatory) -> Result<(), SpawnError> {
        let mandatory = mandatory == Mandatory::Yes;
        let mut shared = lock(&self.inner.shared);
        if shared.shutdown {
            drop(shared);
            drop(runnable);
            return Err(SpawnError::ShutDown);
        }
        if mandatory {
            shared.num_mandatory += 1;
        }
        shared.queue.push_back(Job {
            runnable,
            mandatory,
        });
        self.inner
            .queue_depth
            .store(shared.queue.len(), Ordering::Relaxed);
        let coming = shared.num_notified + shared.num_starting + shared.num_finishing;
        if shared.queue.len() <= coming {
            return Ok(());
        }
        if shared.num_idle > shared.num_notified {
            shared.num_notified += 1;
            self.inner.work_available.notify_one();
            return Ok(());
        }
        let cap = shared.num_mandatory + self.inner.config.max_blocking;
        if shared.num_threads >= cap {
            // Queued; a running thread takes it when done.
            return Ok(());
        }
        let id = shared.next_thread_id;
        shared.next_thread_id += 1;
        match self.start_thread(id) {
            Ok(thread) => {
                // Inserted under the lock the new thread needs before it can exit, so
                // it always finds its handle there.
                shared.threads.insert(id, thread);
                shared.num_threads += 1;
                shared.num_starting += 1;
                self.inner
                    .num_threads
                    .store(shared.num_threads, Ordering::Relaxed);
                Ok(())
            }
            Err(error) if shared.num_threads == 0 => {
                let job = shared.queue.pop_back();
                self.inner
                    .queue_depth
                    .store(shared.queue.len(), Ordering::Relaxed);
                if mandatory {
                    shared.num_mandatory -= 1;
                }
                drop(shared);
                drop(job);
                Err(SpawnError::NoThread(error))
            }
            // Other threads exist; one of them will run the job.
            Err(_) => Ok(()),
        }
    }

    fn start_thread(&self, id: usize) -> io::Result<JoinHandle<()>> {
        let config = &self.inner.config;
        let mut builder = std::thread::Builder::new().name((config.name)());
        if let Some(size) = config.stack_size {
            builder = builder.stack_size(size);
        }
        let inner = self.inner.clone();
        builder.spawn(move || run_thread(inner, id))
    }

    /// Threads currently alive in the pool (workers included).
    pub(crate) fn num_threads(&self) -> usize {
        self.inner.num_threads.load(Ordering::Relaxed)
    }

    /// Threads waiting for a job.
    pub(crate) fn num_idle_threads(&self) -> usize {
        self.inner.num_idle.load(Ordering::Relaxed)
    }

    /// Jobs waiting for a thread.
    pub(crate) fn queue_depth(&self) -> usize {
        self.inner.queue_depth.load(Ordering::Relaxed)
    }
}

fn run_thread(inner: Arc<Inner>, id: usize) {
    THIS_THREAD.with(|this| {
        *this.borrow_mut() = Some(ThisThread {
            inner: inner.clone(),
            finishing: false,
        });
    });
    let handle = lock(&inner.handle).clone();
    let _enter = handle.as_ref().map(context::set_current);
    if let Some(on_start) = &inner.config.on_start {
        on_start();
    }

    let mut shared = lock(&inner.shared);
    shared.num_starting -= 1;
    'outer: loop {
        while let Some(job) = shared.queue.pop_front() {
            inner
                .queue_depth
                .store(shared.queue.len(), Ordering::Relaxed);
            drop(shared);
            let Job {
                runnable,
                mandatory,
            } = job;
            // Panics are caught inside the task harness; nothing unwinds here.
            runnable.run();
            shared = lock(&inner.shared);
            back_at_queue(&mut shared);
            if mandatory {
                shared.num_mandatory -= 1;
            }
        }
        if shared.shutdown {
            break;
        }
        shared.num_idle += 1;
        inner.num_idle.store(shared.num_idle, Ordering::Relaxed);
        let idle_since = Instant::now();
        loop {
            let elapsed = idle_since.elapsed();
            let timed_out = elapsed >= inner.config.keep_alive;
            if !timed_out {
                shared = inner
                    .work_available
                    .wait_timeout(shared, inner.config.keep_alive - elapsed)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            // A spawn's wake-up is consumed by whichever idle thread wakes first, even
            // when its job is gone (a busy thread finishing its own job took it):
            // left unconsumed, it would mark an idle thread as claimed until its
            // keep-alive ran out, and every spawn meanwhile would start a new thread.
            if shared.num_notified > 0 || !shared.queue.is_empty() || shared.shutdown {
                shared.num_idle -= 1;
                shared.num_notified = shared.num_notified.saturating_sub(1);
                inner.num_idle.store(shared.num_idle, Ordering::Relaxed);
                continue 'outer;
            }
            if timed_out || idle_since.elapsed() >= inner.config.keep_alive {
                shared.num_idle -= 1;
                shared.num_notified = shared.num_notified.min(shared.num_idle);
                inner.num_idle.store(shared.num_idle, Ordering::Relaxed);
                // Nobody will join a thread that leaves on its own: detach it.
                drop(shared.threads.remove(&id));
                break 'outer;
            }
            // Spurious wake-up: keep waiting for the rest of the keep-alive.
        }
    }
    drop(shared);

    if let Some(on_stop) = &inner.config.on_stop {
        on_stop();
    }
    drop(_enter);
    drop(handle);
    // Per-thread I/O state (a ring this thread kept after driving a core) is freed
    // before the thread counts as gone, so a runtime's shutdown, which waits for that
    // count, leaves nothing of it behind.
    crate::driver::settle_this_thread(true);
    let this = THIS_THREAD.with(|this| this.borrow_mut().take());
    let mut shared = lock(&inner.shared);
    shared.num_threads -= 1;
    inner
        .num_threads
        .store(shared.num_threads, Ordering::Relaxed);
    inner.thread_exited.notify_all();
    drop(shared);
    drop(this);
}
