//! `Builder`: configures and creates a [`Runtime`].

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::blocking::{BlockingPool, Callback, ThreadConfig, ThreadNameFn};
use crate::driver::{self, Backend, RingConfig};
use crate::runtime::hooks::{Hooks, TaskCallback};
use crate::runtime::scheduler::{self, Common, Config, current_thread, multi_thread};
use crate::runtime::{Handle, Id, Runtime, TaskMeta};

/// Builds a [`Runtime`] with custom settings. The method names are tokio's, so code can
/// switch runtimes by changing the path.
///
/// ```
/// let runtime = ringtide::runtime::Builder::new_multi_thread()
///     .worker_threads(2)
///     .thread_name("my-app")
///     .enable_all()
///     .build()
///     .unwrap();
/// assert_eq!(runtime.block_on(async { 1 + 1 }), 2);
/// ```
pub struct Builder {
    kind: Kind,
    worker_threads: Option<usize>,
    max_blocking_threads: usize,
    keep_alive: Duration,
    stack_size: Option<usize>,
    thread_name: ThreadNameFn,
    on_thread_start: Option<Callback>,
    on_thread_stop: Option<Callback>,
    hooks: Hooks,
    name: Option<String>,
    enable_io: bool,
    enable_time: bool,
    start_paused: bool,
    global_queue_interval: Option<u32>,
    event_interval: u32,
    backend: Option<Backend>,
    ring: RingConfig,
    timer_shards: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    CurrentThread,
    MultiThread,
}

const DEFAULT_GLOBAL_QUEUE_INTERVAL: u32 = 31;
const DEFAULT_EVENT_INTERVAL: u32 = 61;

impl Builder {
    /// A builder for the multi-thread, work-stealing runtime (one worker per CPU by
    /// default).
    pub fn new_multi_thread() -> Builder {
        Builder::new(Kind::MultiThread)
    }

    /// A builder for the current-thread runtime: every task runs on the thread that
    /// calls `block_on`.
    pub fn new_current_thread() -> Builder {
        Builder::new(Kind::CurrentThread)
    }

    fn new(kind: Kind) -> Builder {
        Builder {
            kind,
            worker_threads: None,
            max_blocking_threads: 512,
            keep_alive: Duration::from_secs(10),
            stack_size: None,
            thread_name: Arc::new(|| "ringtide-runtime-worker".to_owned()),
            on_thread_start: None,
            on_thread_stop: None,
            hooks: Hooks::default(),
            name: None,
            enable_io: false,
            enable_time: false,
            start_paused: false,
            global_queue_interval: None,
            event_interval: DEFAULT_EVENT_INTERVAL,
            backend: None,
            ring: RingConfig::default(),
            timer_shards: None,
        }
    }

    /// Number of worker threads of a multi-thread runtime. Defaults to the number of
    /// CPUs (`std::thread::available_parallelism`). Ignored by a current-thread runtime.
    ///
    /// # Panics
    ///
    /// Panics if `count` is 0.
    #[track_caller]
    pub fn worker_threads(&mut self, count: usize) -> &mut Self {
        assert!(count > 0, "worker_threads must be greater than 0");
        self.worker_threads = Some(count);
        self
    }

    /// Maximum number of threads for `spawn_blocking` (default 512), on top of the
    /// worker threads. Closures beyond it wait in a queue.
    ///
    /// # Panics
    ///
    /// Panics if `count` is 0.
    #[track_caller]
    pub fn max_blocking_threads(&mut self, count: usize) -> &mut Self {
        assert!(count > 0, "max_blocking_threads must be greater than 0");
        self.max_blocking_threads = count;
        self
    }

    /// How long an idle blocking thread waits for work before exiting (default 10 s).
    pub fn thread_keep_alive(&mut self, duration: Duration) -> &mut Self {
        self.keep_alive = duration;
        self
    }

    /// Stack size of the runtime's threads, in bytes.
    pub fn thread_stack_size(&mut self, size: usize) -> &mut Self {
        self.stack_size = Some(size);
        self
    }

    /// Name of the runtime's threads (default `ringtide-runtime-worker`).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        let name = name.into();
        self.thread_name = Arc::new(move || name.clone());
        self
    }

    /// Names the runtime (not its threads: see [`thread_name`](Self::thread_name)), for
    /// [`Handle::name`](crate::runtime::Handle::name). Unnamed by default.
    ///
    /// ```
    /// let runtime = ringtide::runtime::Builder::new_current_thread()
    ///     .name("ingest")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(runtime.handle().name(), Some("ingest"));
    /// ```
    ///
    /// # Panics
    ///
    /// Panics if `name` is empty or only whitespace.
    #[track_caller]
    pub fn name(&mut self, name: impl Into<String>) -> &mut Self {
        let name = name.into();
        assert!(
            !name.trim().is_empty(),
            "a runtime name must not be empty: leave `Builder::name` out for an unnamed runtime"
        );
        self.name = Some(name);
        self
    }

    /// A function that names each new runtime thread.
    pub fn thread_name_fn<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() -> String + Send + Sync + 'static,
    {
        self.thread_name = Arc::new(f);
        self
    }

    /// Runs on each runtime thread (workers and blocking threads) when it starts.
    pub fn on_thread_start<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs on each runtime thread just before it exits.
    pub fn on_thread_stop<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// Runs on a scheduler thread (a worker, or the thread driving a current-thread
    /// runtime) each time it is about to go idle and sleep in its driver. It runs in the
    /// runtime's context: it may spawn, and the thread then does not sleep. Replaces
    /// an earlier callback. Not called on blocking-pool threads.
    ///
    /// A panic in the callback unwinds through the scheduler: keep it panic-free.
    pub fn on_thread_park<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.before_park = Some(Arc::new(f));
        self
    }

    /// Runs on a scheduler thread each time it is back from going idle (after each
    /// [`on_thread_park`](Self::on_thread_park) call). Replaces an earlier callback.
    ///
    /// A panic in the callback unwinds through the scheduler: keep it panic-free.
    pub fn on_thread_unpark<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.after_unpark = Some(Arc::new(f));
        self
    }

    /// Runs on the spawning thread each time a task is spawned on the runtime (not on a
    /// `LocalSet`, nor for `spawn_blocking`, as in tokio), after the task exists and
    /// before it first runs. Replaces an earlier callback. (tokio has it under
    /// `tokio_unstable`.)
    ///
    /// A panic in the callback propagates to the spawner; the new task is then
    /// cancelled.
    pub fn on_task_spawn<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(&TaskMeta<'_>) + Send + Sync + 'static,
    {
        self.hooks.task_spawn = Some(Arc::new(f));
        self
    }

    /// Runs once for each task of the runtime (spawned or `spawn_blocking`) when it
    /// terminates: right after its future was dropped, whether it completed, panicked
    /// or was cancelled (abort, shutdown), on the thread that dropped it and before its
    /// `JoinHandle` sees the result. A panic in the callback is caught and ignored.
    /// Replaces an earlier callback. (tokio has it under `tokio_unstable`.)
    pub fn on_task_terminate<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(&TaskMeta<'_>) + Send + Sync + 'static,
    {
        let callback: TaskCallback = Arc::new(f);
        self.hooks.task_terminate = Some(Arc::new(callback));
        self
    }

    /// Enables the I/O and time drivers.
    pub fn enable_all(&mut self) -> &mut Self {
        self.enable_io().enable_time()
    }

    /// Enables the I/O driver (io_uring or mio, see [`Builder::backend`]). Without it,
    /// I/O operations fail with an error saying so.
    pub fn enable_io(&mut self) -> &mut Self {
        self.enable_io = true;
        self
    }

    /// Chooses the I/O backend. Without this call the environment variable
    /// `RINGTIDE_BACKEND` (`io_uring`, `mio` or `auto`) decides, and without that,
    /// [`Backend::Auto`]: io_uring when it works here, else mio with a logged warning.
    ///
    /// An explicit [`Backend::IoUring`] that cannot work here (old kernel, seccomp,
    /// `io_uring_disabled`, memory limits) makes [`build`](Builder::build) fail with the
    /// reason and how to switch to mio.
    pub fn backend(&mut self, backend: Backend) -> &mut Self {
        self.backend = Some(backend);
        self
    }

    /// Submission queue entries of each io_uring ring (default 256; the completion
    /// queue gets twice as many). Rounded up to a power of two by the kernel; smaller
    /// rings are tried when the memlock limit refuses this size.
    ///
    /// # Panics
    ///
    /// Panics if `entries` is 0.
    pub fn uring_entries(&mut self, entries: u32) -> &mut Self {
        assert!(entries > 0, "uring_entries must be at least 1");
        self.ring.entries = entries;
        self
    }

    /// Uses a kernel submission-polling thread per ring (`IORING_SETUP_SQPOLL`) that
    /// sleeps after `idle` without submissions. Opt-in: it trades a busy kernel thread
    /// per worker for fewer syscalls. Ignored by the mio backend.
    pub fn uring_sqpoll(&mut self, idle: Duration) -> &mut Self {
        self.ring.sqpoll_idle = Some(idle);
        self
    }

    /// How long a ring whose thread gives its core away (`block_in_place`, the end of
    /// a current-thread `block_on`, worker exit) waits for the cancellation of its
    /// in-flight ops before leaving them to be reaped later by that thread (default
    /// 500 ms). Zero leaves every op in flight: for tests of that path.
    #[doc(hidden)]
    pub fn uring_detach_deadline(&mut self, deadline: Duration) -> &mut Self {
        self.ring.detach_deadline = deadline;
        self
    }

    /// Bounds timed parks with a TIMEOUT SQE, as on kernels without
    /// `IORING_FEAT_EXT_ARG` (before 5.11): for tests of that path.
    #[doc(hidden)]
    pub fn uring_park_without_ext_arg(&mut self) -> &mut Self {
        self.ring.without_ext_arg = true;
        self
    }

    /// Makes io_uring listeners accept through ring requests on the listening socket:
    /// one multishot `ACCEPT` (`true`, where the kernel has it) or single `ACCEPT`s
    /// (`false`). Not API: lets ringtide's tests and benches run those paths. By
    /// default listeners wait on a per-listener epoll instance and call `accept4`, so
    /// that no ring request keeps the listening socket (and its port) alive after the
    /// process died (see `net::listener_readiness`).
    #[doc(hidden)]
    pub fn uring_multishot_accept(&mut self, enabled: bool) -> &mut Self {
        self.ring.multishot_accept = enabled;
        self.ring.accept_in_ring = true;
        self
    }

    /// Makes the streams' and UDP sockets' plain owned-buffer sends (`write_owned`,
    /// `write_all_owned`, `send_owned`, `send_to_owned`) of at least `threshold` bytes zero-copy sends
    /// on io_uring, as if they were `write_zc`/`send_zc` (see
    /// [`TcpStream::write_zc`](crate::net::TcpStream::write_zc)). `None`, the default:
    /// never (call `write_zc` where you want it). Ignored by the mio backend.
    ///
    /// Off by default because on loopback zero copy only costs: the kernel copies the
    /// data anyway (measured with `benches/send_zc.rs`, see the README). Through a NIC,
    /// large sends (tens of KiB and up) are where it can pay; measure your own.
    pub fn uring_send_zc_threshold(&mut self, threshold: Option<usize>) -> &mut Self {
        self.ring.send_zc_threshold = threshold;
        self
    }

    /// Makes the streams' poll-path reads (`AsyncRead::poll_read` of `TcpStream`,
    /// `UnixStream` and their read halves) on io_uring take their bytes from a per-stream
    /// queue that one multishot receive fills from a provided-buffer ring, so a read in
    /// steady state is a copy, not a `recv` syscall. The mode engages on a stream once
    /// a poll-path read finds it empty; every other read API on the stream sees the
    /// queued bytes first, reads stay cancel safe, and a stream queues at most 8
    /// buffers (16 KiB each; the ring has 1024 per worker, resident once used).
    /// Ignored by the mio backend.
    ///
    /// Off by default: on loopback ping-pong it removes the `recv` (about 1.1–1.4
    /// syscalls per request instead of 2.1–2.4) but costs 2–4% more server CPU per
    /// request than the default readiness path, which is level with tokio (see the
    /// README). Measure your own workload.
    pub fn uring_recv_multishot(&mut self, enabled: bool) -> &mut Self {
        self.ring.recv_multishot = enabled;
        self
    }

    /// Whether io_uring file reads and opens first try their non-blocking form inline
    /// (`preadv2(RWF_NOWAIT)`, `openat2(RESOLVE_CACHED)`) before going to the ring
    /// (default `true`). Not API: lets ringtide's tests force the ring path.
    #[doc(hidden)]
    pub fn uring_inline_file_io(&mut self, enabled: bool) -> &mut Self {
        self.ring.inline_file_io = enabled;
        self
    }

    /// Enables the timer: `time::sleep`, `timeout`, `interval` (and the paused test
    /// clock).
    pub fn enable_time(&mut self) -> &mut Self {
        self.enable_time = true;
        self
    }

    /// Whether the runtime's clock starts paused (default `false`), as if the first
    /// thing `block_on` did were [`time::pause()`](crate::time::pause): time stands
    /// still except for [`time::advance`](crate::time::advance) and the jump to the
    /// next timer when the runtime has nothing else to do. For tests of timer code:
    /// `sleep(Duration::from_secs(3600))` returns at once, `Instant::now()` an hour
    /// later.
    ///
    /// Only a current-thread runtime with the time driver enabled can start paused:
    /// [`build`](Builder::build) fails with [`io::ErrorKind::InvalidInput`] otherwise
    /// (tokio panics there instead).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringtide::time::{self, Instant};
    ///
    /// let runtime = ringtide::runtime::Builder::new_current_thread()
    ///     .enable_time()
    ///     .start_paused(true)
    ///     .build()
    ///     .unwrap();
    /// runtime.block_on(async {
    ///     let start = Instant::now();
    ///     time::sleep(Duration::from_secs(3600)).await;
    ///     assert!(start.elapsed() >= Duration::from_secs(3600));
    /// });
    /// ```
    pub fn start_paused(&mut self, start_paused: bool) -> &mut Self {
        self.start_paused = start_paused;
        self
    }

    /// Scheduler ticks between two looks at the global queue before the local one
    /// (default 31 for multi-thread, 31 for current-thread). Lower values favour tasks
    /// spawned or woken from outside the workers.
    ///
    /// # Panics
    ///
    /// Panics if `interval` is 0.
    #[track_caller]
    pub fn global_queue_interval(&mut self, interval: u32) -> &mut Self {
        assert!(interval > 0, "global_queue_interval must be greater than 0");
        self.global_queue_interval = Some(interval);
        self
    }

    /// Scheduler ticks between two non-blocking polls for I/O and timer events
    /// (default 61).
    ///
    /// # Panics
    ///
    /// Panics if `interval` is 0.
    #[track_caller]
    pub fn event_interval(&mut self, interval: u32) -> &mut Self {
        assert!(interval > 0, "event_interval must be greater than 0");
        self.event_interval = interval;
        self
    }

    /// Number of timer wheels (each behind its own lock). Default: one per worker, each
    /// worker registering its timers in its own; 1 is a single runtime-wide wheel.
    /// Clamped to `1..=workers`. For benchmarks comparing the two.
    #[doc(hidden)]
    pub fn timer_shards(&mut self, count: usize) -> &mut Self {
        self.timer_shards = Some(count);
        self
    }

    /// Creates the runtime: starts the worker threads (multi-thread) and the blocking
    /// pool.
    ///
    /// Fails when a thread cannot be started, and with
    /// [`io::ErrorKind::InvalidInput`] for [`start_paused`](Builder::start_paused)
    /// on a multi-thread runtime or without [`enable_time`](Builder::enable_time).
    pub fn build(&mut self) -> io::Result<Runtime> {
        self.check_start_paused()?;
        let config = Config {
            global_queue_interval: self
                .global_queue_interval
                .unwrap_or(DEFAULT_GLOBAL_QUEUE_INTERVAL),
            event_interval: self.event_interval,
        };
        let pool = BlockingPool::new(ThreadConfig {
            name: self.thread_name.clone(),
            stack_size: self.stack_size,
            on_start: self.on_thread_start.clone(),
            on_stop: self.on_thread_stop.clone(),
            keep_alive: self.keep_alive,
            max_blocking: self.max_blocking_threads,
        });
        let selection = driver::select::resolve(self.backend)?;
        // Set when the io_uring rings could not be set up and auto fell back to mio.
        let fallback_reason = std::cell::Cell::new(None);
        // Every core's driver (and io_uring ring) is set up here, so that a ring the
        // kernel refuses fails the build, or falls back to mio, instead of hanging I/O.
        let create = |cores: usize| {
            let create_with = |backend| {
                crate::runtime::driver::Handle::create(
                    backend,
                    self.enable_io,
                    self.enable_time,
                    cores,
                    self.ring,
                    self.timer_shards,
                )
            };
            match create_with(selection.backend) {
                Err(error) if selection.backend == Backend::IoUring && self.enable_io => {
                    let fallback = driver::select::after_ring_setup_failed(
                        &error,
                        selection.automatic,
                        selection.source,
                    )?;
                    let (backend, reason) = fallback;
                    fallback_reason.set(Some(reason));
                    create_with(backend)
                }
                result => result,
            }
        };
        let common = Common {
            id: Id::next(),
            name: self.name.clone(),
            hooks: self.hooks.clone(),
        };
        let (flavor, cores) = match self.kind {
            Kind::CurrentThread => ("current_thread", 1),
            Kind::MultiThread => (
                "multi_thread",
                self.worker_threads.unwrap_or_else(default_worker_threads),
            ),
        };
        let handle = match self.kind {
            Kind::CurrentThread => {
                let (driver, mut drivers) = create(cores)?;
                if self.start_paused {
                    if let Some(time) = driver.time() {
                        time.clock().pause();
                    }
                }
                let park = drivers.pop().expect("one driver per core");
                let handle = current_thread::Handle::new(
                    park,
                    config,
                    pool.spawner().clone(),
                    driver,
                    common,
                );
                scheduler::Handle::CurrentThread(Arc::new(handle))
            }
            Kind::MultiThread => {
                let workers = cores;
                let (driver, parkers) = create(workers)?;
                let (handle, cores) = multi_thread::launch(
                    workers,
                    config,
                    pool.spawner().clone(),
                    parkers,
                    driver,
                    common,
                );
                pool.spawner()
                    .set_handle(scheduler::Handle::MultiThread(handle.clone()));
                for (index, core) in cores.into_iter().enumerate() {
                    if multi_thread::start_worker(&handle, core).is_err() {
                        handle.shutdown();
                        pool.shutdown(Some(Duration::from_secs(1)));
                        return Err(io::Error::other(format!(
                            "failed to start ringtide worker thread {} of {workers}",
                            index + 1
                        )));
                    }
                }
                scheduler::Handle::MultiThread(handle)
            }
        };
        pool.spawner().set_handle(handle.clone());
        let mut reason = fallback_reason.take().unwrap_or(selection.reason);
        if !self.enable_io {
            reason.push_str("; the I/O driver is not enabled");
        }
        let backend = handle.driver().io().selected();
        crate::trace::runtime_started(backend.as_str(), &reason, flavor, cores);
        Ok(Runtime::from_parts(Handle { inner: handle }, pool))
    }

    /// Rejects a paused start that the runtime could not honour: a multi-thread
    /// runtime (its workers would see time jump under them, see `time::pause`) or no
    /// clock to pause.
    fn check_start_paused(&self) -> io::Result<()> {
        if !self.start_paused {
            return Ok(());
        }
        if self.kind == Kind::MultiThread {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "`start_paused` requires the current-thread runtime: use \
                 `Builder::new_current_thread()` (or `flavor = \"current_thread\"`)",
            ));
        }
        if !self.enable_time {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "`start_paused` requires the time driver: call `enable_time()` \
                 (or `enable_all()`) on the builder",
            ));
        }
        Ok(())
    }
}

fn default_worker_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("worker_threads", &self.worker_threads)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("thread_keep_alive", &self.keep_alive)
            .field("thread_stack_size", &self.stack_size)
            .field("enable_io", &self.enable_io)
            .field("enable_time", &self.enable_time)
            .field("start_paused", &self.start_paused)
            .field("global_queue_interval", &self.global_queue_interval)
            .field("event_interval", &self.event_interval)
            .field("backend", &self.backend)
            .field("ring", &self.ring)
            .field("timer_shards", &self.timer_shards)
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}
