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
//! A spawn wakes an idle thread if one is waiting and not already claimed by an earlier
//! spawn; otherwise it starts a new thread, up to the cap (the workers plus
//! `max_blocking_threads`). Past the cap, jobs queue. An idle thread exits after
//! `thread_keep_alive` without work.
//!
//! # Shutdown order
//!
//! 1. `shutdown` sets the flag (no more jobs accepted), wakes all idle threads and
//!    drops queued jobs that have not started, except mandatory ones (workers), which
//!    still run so the scheduler can finish its own shutdown.
//! 2. Threads exit when the queue is empty; running closures are never interrupted.
//! 3. The caller waits until every thread has exited or the timeout passes, whichever
//!    comes first; threads still running after the timeout are left detached.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Mandatory (worker) jobs started; they raise the thread cap by one each.
    num_mandatory: usize,
    shutdown: bool,
    next_thread_id: usize,
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

thread_local! {
    static CURRENT_POOL: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
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
                        num_mandatory: 0,
                        shutdown: false,
                        next_thread_id: 0,
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
        let own = usize::from(CURRENT_POOL.with(|p| p.get()) == Arc::as_ptr(inner) as usize);
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
            Ok(()) => {
                shared.num_threads += 1;
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

    fn start_thread(&self, id: usize) -> io::Result<()> {
        let config = &self.inner.config;
        let mut builder = std::thread::Builder::new().name((config.name)());
        if let Some(size) = config.stack_size {
            builder = builder.stack_size(size);
        }
        let inner = self.inner.clone();
        builder.spawn(move || run_thread(inner, id)).map(drop)
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

fn run_thread(inner: Arc<Inner>, _id: usize) {
    CURRENT_POOL.with(|p| p.set(Arc::as_ptr(&inner) as usize));
    let handle = lock(&inner.handle).clone();
    let _enter = handle.as_ref().map(context::set_current);
    if let Some(on_start) = &inner.config.on_start {
        on_start();
    }

    let mut shared = lock(&inner.shared);
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
    let mut shared = lock(&inner.shared);
    shared.num_threads -= 1;
    inner
        .num_threads
        .store(shared.num_threads, Ordering::Relaxed);
    inner.thread_exited.notify_all();
}
