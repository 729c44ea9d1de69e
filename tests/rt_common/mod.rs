//! Helpers shared by the `rt_*` integration tests.
//!
//! * [`rt_test!`](crate::rt_test): expands one test body into three `#[test]` functions,
//!   one per runtime flavour (`current_thread`, `multi_thread_1`, `multi_thread_4`),
//!   each run under [`with_timeout`] so a hang becomes a failure instead of a stuck CI.
//! * [`backend_test!`](crate::backend_test): expands one I/O or timer test body into
//!   four tests, io_uring (Linux only) and mio, each on a current-thread and a
//!   4-worker runtime (built by [`backend_runtime`]).
//! * [`Flavor`]: the runtime a body runs on, with builder shortcuts.
//! * Drop guards and small synchronisation helpers.
//!
//! Each test binary includes this module with `mod rt_common;` and uses only part of
//! it, hence the `dead_code` allowance.

#![allow(dead_code, unused_macros, unused_imports)]

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use ringtide::runtime::{Builder, Runtime};

/// How long one test body may run before it is reported as hung. Generous: the whole
/// suite runs in debug mode on small CI machines with tests in parallel.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(40);

/// The runtime flavour a test body runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `Builder::new_current_thread()`.
    CurrentThread,
    /// `Builder::new_multi_thread().worker_threads(n)`.
    MultiThread(usize),
}

impl Flavor {
    /// A builder for this flavour (drivers enabled), to customise further.
    pub fn builder(self) -> Builder {
        let mut builder = match self {
            Flavor::CurrentThread => {
                require_working_current_thread();
                Builder::new_current_thread()
            }
            Flavor::MultiThread(workers) => {
                let mut builder = Builder::new_multi_thread();
                builder.worker_threads(workers);
                builder
            }
        };
        builder.enable_all();
        builder
    }

    /// A runtime of this flavour with default settings.
    pub fn rt(self) -> Runtime {
        self.builder().build().expect("failed to build the runtime")
    }

    /// Number of scheduler workers (`RuntimeMetrics::num_workers`).
    pub fn workers(self) -> usize {
        match self {
            Flavor::CurrentThread => 1,
            Flavor::MultiThread(workers) => workers,
        }
    }

    pub fn is_current_thread(self) -> bool {
        self == Flavor::CurrentThread
    }

    pub fn is_multi_thread(self) -> bool {
        !self.is_current_thread()
    }

    /// True when all tasks run on one thread, one at a time (current-thread, or a
    /// multi-thread runtime with a single worker): scheduling order is deterministic
    /// enough to assert fairness properties.
    pub fn single_worker(self) -> bool {
        self.workers() == 1
    }
}

/// Fails fast (instead of every current-thread test hanging until its timeout) when the
/// most basic current-thread operation, `block_on(async {})`, does not return. Checked
/// once per test binary, on a separate thread.
pub fn require_working_current_thread() {
    static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let works = *WORKS.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("current-thread-canary".to_owned())
            .spawn(move || {
                let rt = Builder::new_current_thread().build().unwrap();
                rt.block_on(async {});
                let _ = tx.send(());
            })
            .expect("failed to start the canary thread");
        rx.recv_timeout(Duration::from_secs(10)).is_ok()
    });
    assert!(
        works,
        "canary: `Builder::new_current_thread().build()?.block_on(async {{}})` did not return \
         within 10 s; the current-thread runtime deadlocks, so this test cannot run"
    );
}

/// Runs `body` on a fresh thread (named `name`) and waits at most `timeout` for it.
///
/// A panic in the body is re-raised here with its original payload (so
/// `#[should_panic(expected = ..)]` works). If the body does not finish in time the test
/// fails with a message; the stuck thread is leaked (the test process exits at the end
/// of the run anyway).
pub fn with_timeout<F>(name: &str, timeout: Duration, body: F)
where
    F: FnOnce() + Send + 'static,
{
    let (done_tx, done_rx) = mpsc::channel::<Result<(), Box<dyn Any + Send>>>();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
            let _ = done_tx.send(result);
        })
        .expect("failed to start the test thread");
    match done_rx.recv_timeout(timeout) {
        Ok(Ok(())) => {}
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("WATCHDOG: test `{name}` did not finish within {timeout:?}: it hangs")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            panic!("test `{name}`: the test thread died without reporting")
        }
    }
}

/// Starts (once per test binary) a thread that aborts the whole process with a message
/// if it is still running after `limit`. For tests whose thread we do not control (the
/// ones generated by `#[ringtide::test]`): a hang there would otherwise stall CI.
pub fn process_watchdog(limit: Duration) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::Builder::new()
            .name("process-watchdog".to_owned())
            .spawn(move || {
                std::thread::sleep(limit);
                eprintln!(
                    "WATCHDOG: this test binary is still running after {limit:?}: a test hangs; aborting"
                );
                std::process::abort();
            })
            .expect("failed to start the watchdog thread");
    });
}

/// Expands one test body into three tests, one per runtime flavour:
///
/// ```ignore
/// rt_test! {
///     /// Doc comment / shared attributes (e.g. `#[should_panic]`).
///     fn spawn_works(flavor) {
///         let rt = flavor.rt();
///         ...
///     }
/// }
/// ```
///
/// generates `spawn_works::current_thread`, `spawn_works::multi_thread_1` and
/// `spawn_works::multi_thread_4`. Attributes for a single flavour go before `fn`, as
/// `current_thread: #[ignore = "BUG: ..."]` (likewise `multi_thread_1:`,
/// `multi_thread_4:`).
#[macro_export]
macro_rules! rt_test {
    (
        $(#[$attr:meta])*
        $(current_thread: #[$ct:meta])*
        $(multi_thread_1: #[$mt1:meta])*
        $(multi_thread_4: #[$mt4:meta])*
        fn $name:ident($flavor:ident) $body:block
    ) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(unused_variables)]
            fn body($flavor: $crate::rt_common::Flavor) $body

            #[test]
            $(#[$attr])*
            $(#[$ct])*
            fn current_thread() {
                $crate::rt_common::with_timeout(
                    concat!(stringify!($name), "::current_thread"),
                    $crate::rt_common::TEST_TIMEOUT,
                    || body($crate::rt_common::Flavor::CurrentThread),
                );
            }

            #[test]
            $(#[$attr])*
            $(#[$mt1])*
            fn multi_thread_1() {
                $crate::rt_common::with_timeout(
                    concat!(stringify!($name), "::multi_thread_1"),
                    $crate::rt_common::TEST_TIMEOUT,
                    || body($crate::rt_common::Flavor::MultiThread(1)),
                );
            }

            #[test]
            $(#[$attr])*
            $(#[$mt4])*
            fn multi_thread_4() {
                $crate::rt_common::with_timeout(
                    concat!(stringify!($name), "::multi_thread_4"),
                    $crate::rt_common::TEST_TIMEOUT,
                    || body($crate::rt_common::Flavor::MultiThread(4)),
                );
            }
        }
    };
}

/// A plain `#[test]` (not per flavour) that runs under [`with_timeout`].
#[macro_export]
macro_rules! timed_test {
    ($(#[$attr:meta])* fn $name:ident() $body:block) => {
        #[test]
        $(#[$attr])*
        fn $name() {
            $crate::rt_common::with_timeout(
                stringify!($name),
                $crate::rt_common::TEST_TIMEOUT,
                || $body,
            );
        }
    };
}

/// Increments a shared counter when dropped: proves a task's future (and what it
/// captured) was destroyed.
#[derive(Debug)]
pub struct DropCounter(pub Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Sets a shared flag when dropped.
#[derive(Debug)]
pub struct DropFlag(pub Arc<AtomicBool>);

impl DropFlag {
    /// A guard and the flag it sets.
    pub fn new() -> (DropFlag, Arc<AtomicBool>) {
        let flag = Arc::new(AtomicBool::new(false));
        (DropFlag(flag.clone()), flag)
    }
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Runs `f`, expecting it to panic, and returns the panic message.
#[track_caller]
pub fn expect_panic<R>(f: impl FnOnce() -> R) -> String {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic, but the call returned"),
        Err(payload) => panic_message(&*payload),
    }
}

/// A small deterministic amount of CPU work.
pub fn spin_work(iterations: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..iterations {
        acc = std::hint::black_box(acc.wrapping_mul(31).wrapping_add(i));
    }
    acc
}

/// Re-runs this test binary for the single test `test` in a child process with `env`
/// set, waiting at most `timeout` for it; returns its output (status, stdout,
/// stderr). A child that hangs is killed and the calling test fails with what it
/// printed. For scenarios that change process-wide state (resource limits, signal
/// dispositions) and so cannot run among other tests.
///
/// Unix only (a hung child is killed with `kill(2)`); so are the scenarios that use it.
#[cfg(unix)]
pub fn run_child_test(test: &str, env: &[(&str, &str)], timeout: Duration) -> std::process::Output {
    let exe = std::env::current_exe().expect("current_exe()");
    let mut command = std::process::Command::new(exe);
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command.spawn().expect("spawn the child test process");
    let pid = child.id();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(child.wait_with_output());
    });
    match receive.recv_timeout(timeout) {
        Ok(output) => output.expect("wait for the child"),
        Err(_) => {
            // SAFETY: kill() touches no memory of ours; the child has not been reaped
            // (its waiter has not reported), so the pid still names it.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            let output = receive.recv().unwrap().unwrap();
            panic!(
                "child `{test}` {env:?} hung and was killed\n--- stdout ---\n{}\n--- stderr ---\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// Sums the per-worker values of a metric.
pub fn sum_workers(metrics: &ringtide::runtime::RuntimeMetrics, f: impl Fn(usize) -> u64) -> u64 {
    (0..metrics.num_workers()).map(f).sum()
}

/// A builder for `backend` with every driver enabled; `workers == 0` means
/// current-thread.
pub fn backend_builder(backend: ringtide::runtime::Backend, workers: usize) -> Builder {
    let mut builder = if workers == 0 {
        Builder::new_current_thread()
    } else {
        let mut builder = Builder::new_multi_thread();
        builder.worker_threads(workers);
        builder
    };
    builder.backend(backend).enable_all();
    builder
}

/// A runtime with `backend` and every driver enabled; `workers == 0` means
/// current-thread. Checks the runtime really uses `backend`.
pub fn backend_runtime(backend: ringtide::runtime::Backend, workers: usize) -> Runtime {
    let runtime = backend_builder(backend, workers)
        .build()
        .expect("runtime builds");
    assert_eq!(runtime.backend(), backend);
    runtime
}

/// Runs a body once per backend and flavour, under [`with_timeout`]:
/// `fn name(rt, multi) { ... }` gets the runtime and whether it is multi-thread. An
/// optional `guard: expr;` is held for the whole test.
#[macro_export]
macro_rules! backend_test {
    (
        $(#[$attr:meta])*
        $(guard: $guard:expr;)?
        fn $name:ident($rt:ident, $multi:ident) $body:block
    ) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(unused_variables)]
            fn body($rt: ringtide::runtime::Runtime, $multi: bool) $body

            fn run(backend: ringtide::runtime::Backend, workers: usize) {
                $(let _guard = $guard;)?
                $crate::rt_common::with_timeout(
                    stringify!($name),
                    $crate::rt_common::TEST_TIMEOUT,
                    move || body($crate::rt_common::backend_runtime(backend, workers), workers > 0),
                );
            }

            // io_uring exists on Linux only (mio is the one backend elsewhere).
            #[cfg(target_os = "linux")]
            #[test]
            $(#[$attr])*
            fn io_uring_current_thread() {
                run(ringtide::runtime::Backend::IoUring, 0);
            }

            #[cfg(target_os = "linux")]
            #[test]
            $(#[$attr])*
            fn io_uring_multi_thread() {
                run(ringtide::runtime::Backend::IoUring, 4);
            }

            #[test]
            $(#[$attr])*
            fn mio_current_thread() {
                run(ringtide::runtime::Backend::Mio, 0);
            }

            #[test]
            $(#[$attr])*
            fn mio_multi_thread() {
                run(ringtide::runtime::Backend::Mio, 4);
            }
        }
    };
}

/// Whether this test runs in a process of its own (nextest's default): then the
/// process-wide counters of `ringtide::__private` see this test's work only. Under
/// `cargo test` other tests' threads add to them too.
pub fn own_process() -> bool {
    std::env::var("NEXTEST_EXECUTION_MODE").as_deref() == Ok("process-per-test")
}

/// Counts the late-result path (`op::leftovers`: results of cancelled operations that
/// the kernel completed anyway, kept for the next operation) from its creation on.
pub struct LatePaths {
    before: ringtide::__private::LateResults,
}

impl LatePaths {
    pub fn start() -> LatePaths {
        LatePaths {
            before: ringtide::__private::late_results(),
        }
    }

    /// How many late results each path kept since [`start`](LatePaths::start) (in this
    /// process: see [`own_process`]).
    pub fn since(&self) -> ringtide::__private::LateResults {
        let now = ringtide::__private::late_results();
        ringtide::__private::LateResults {
            reads: now.reads - self.before.reads,
            accepts: now.accepts - self.before.accepts,
            multishot_accepts: now.multishot_accepts - self.before.multishot_accepts,
        }
    }

    /// The late-result path `count` picks ran at least once on io_uring. On mio it does
    /// not exist (a dropped future there has taken nothing): it must not have run, which
    /// is checked when the test has the process to itself.
    #[track_caller]
    pub fn assert_ran(
        &self,
        backend: ringtide::runtime::Backend,
        what: &str,
        count: impl Fn(&ringtide::__private::LateResults) -> u64,
    ) {
        let since = self.since();
        match backend {
            ringtide::runtime::Backend::IoUring => assert!(
                count(&since) > 0,
                "io_uring: the late-result path for {what} never ran ({since:?}): the test \
                 did not exercise what it claims to"
            ),
            _ if own_process() => assert_eq!(
                since.total(),
                0,
                "{backend}: a late result was kept for {what}, but mio has no such path"
            ),
            _ => {}
        }
    }

    /// Whether the path `count` picks has run since the start.
    pub fn hit(&self, count: impl Fn(&ringtide::__private::LateResults) -> u64) -> bool {
        count(&self.since()) > 0
    }
}

/// A waker that records that it was woken, then wakes the task it wraps.
struct FlagWaker {
    woken: AtomicBool,
    task: std::sync::Mutex<std::task::Waker>,
}

impl std::task::Wake for FlagWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.task.lock().unwrap().wake_by_ref();
    }
}

/// Polls `future` once. If that finished it (mio: the syscall succeeded at once),
/// returns its output. Otherwise (io_uring: its op is now queued) waits until the
/// future's waker is woken (its completion arrived) and drops it without polling it
/// again: the op's result then goes down the late-result path.
pub async fn poll_once_then_drop<F: std::future::Future>(future: F) -> Option<F::Output> {
    use std::task::{Context, Poll};
    let mut future = std::pin::pin!(future);
    let mut flag = None;
    let first = std::future::poll_fn(|cx| {
        let waker = Arc::new(FlagWaker {
            woken: AtomicBool::new(false),
            task: std::sync::Mutex::new(cx.waker().clone()),
        });
        flag = Some(waker.clone());
        let waker = std::task::Waker::from(waker);
        Poll::Ready(future.as_mut().poll(&mut Context::from_waker(&waker)))
    })
    .await;
    if let Poll::Ready(output) = first {
        return Some(output);
    }
    let flag = flag.expect("polled once");
    std::future::poll_fn(|cx| {
        *flag.task.lock().unwrap() = cx.waker().clone();
        if flag.woken.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    None
}

/// [`backend_runtime`] with multishot accept disabled (io_uring listeners then use
/// single accepts, whose cancelled results take the late-result path).
pub fn single_accept_runtime(backend: ringtide::runtime::Backend, workers: usize) -> Runtime {
    let runtime = backend_builder(backend, workers)
        .uring_multishot_accept(false)
        .build()
        .expect("runtime builds");
    assert_eq!(runtime.backend(), backend);
    runtime
}

/// Whether this machine has the IPv6 loopback address (`::1` in
/// `/proc/net/if_inet6`). When it has, IPv6 tests must pass rather than skip.
pub fn ipv6_loopback_configured() -> bool {
    std::fs::read_to_string("/proc/net/if_inet6")
        .map(|table| {
            table
                .lines()
                .any(|line| line.starts_with("00000000000000000000000000000001 "))
        })
        .unwrap_or(false)
}
