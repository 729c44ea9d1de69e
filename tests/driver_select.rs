//! Backend selection: `Builder::backend`, then `RINGTIDE_BACKEND`, then auto-detection
//! with a fallback to mio when io_uring cannot work here.
//!
//! Environment variables, seccomp filters and resource limits belong to the whole
//! process (or are irreversible), while tests run on parallel threads. So every
//! scenario that needs one of them runs in a child process: the parent test re-runs
//! this binary with `--exact child_entry`, the scenario's name in
//! [`CHILD_ENV`] and the environment the scenario wants. [`child_entry`] then does
//! the work, panics on failure (exit status 101) and prints one [`RESULT_MARK`]
//! line on success; the parent asserts on the exit status, that line and the child's
//! stderr, and shows the child's whole output when something is wrong.
//!
//! Scenarios:
//!
//! * a seccomp filter denying `io_uring_setup` with `EPERM` (as docker's default
//!   profile does): `Auto` falls back to mio with exactly one warning, explicit
//!   `IoUring` (builder or `RINGTIDE_BACKEND`) fails with `Unsupported`, and
//!   `RINGTIDE_BACKEND=mio` skips the probe (no warning);
//! * `RINGTIDE_BACKEND=mio|io_uring|auto`, and the builder's choice winning over it;
//! * `RINGTIDE_BACKEND=epoll` (and a non-UTF-8 value): `InvalidInput`, no panic;
//! * `RLIMIT_MEMLOCK` of 0 with a 4096-entry ring: the runtime still starts.
//!
//! Every runtime that starts proves that work completes with a pipe round trip whose
//! read is pending before the write (so the wakeup path is exercised) and a `nop`.
//! The in-process tests cover `Backend`'s names and `backend()` on both handles.

#![cfg(target_os = "linux")]

mod fault_common;
mod rt_common;

use std::ffi::OsStr;
use std::io::{self, Write as _};
use std::os::unix::ffi::OsStrExt;
use std::pin::pin;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ringtide::io::AsyncFd;
use ringtide::runtime::{Backend, Builder, Handle, Runtime};

/// Names the scenario a child process runs; unset in the parent.
const CHILD_ENV: &str = "RINGTIDE_SELECT_CHILD";

/// The runtime's backend override.
const BACKEND_ENV: &str = "RINGTIDE_BACKEND";

/// Starts the line a child prints when its scenario succeeded.
const RESULT_MARK: &str = "RINGTIDE_SELECT_RESULT";

/// Starts each line the children's logger writes to stderr.
const LOG_MARK: &str = "RINGTIDE_SELECT_LOG";

/// How `Backend::Auto` announces its fallback.
const FALLBACK_WARNING: &str = "ringtide: io_uring unavailable, using mio instead:";

/// Generous bounds that turn a hang into a failure; never reached by a passing run.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

const PAYLOAD: &[u8] = b"ringtide backend selection";

// ---------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------

/// Writes through a pipe with `AsyncFd`s and runs a `nop`, on the current runtime,
/// checking that the fds use `expected`. The read is polled once before anything is
/// written, so it completes only through the backend's wakeup.
async fn pipe_round_trip(expected: Backend) {
    assert_eq!(Handle::current().backend(), expected);
    let (reader, writer) = io::pipe().expect("pipe()");
    let reader = AsyncFd::new(reader).expect("AsyncFd::new(reader)");
    let writer = AsyncFd::new(writer).expect("AsyncFd::new(writer)");
    assert_eq!(reader.backend(), expected, "reader's backend");
    assert_eq!(writer.backend(), expected, "writer's backend");

    let mut read = pin!(reader.read_owned(Vec::with_capacity(64)));
    assert!(
        futures::poll!(read.as_mut()).is_pending(),
        "a read of an empty pipe completed on {expected}"
    );
    let (written, _) = writer.write_owned(PAYLOAD.to_vec()).await;
    assert_eq!(written.expect("write to the pipe"), PAYLOAD.len());
    let (count, buf) = read.await;
    assert_eq!(count.expect("read from the pipe"), PAYLOAD.len());
    assert_eq!(buf, PAYLOAD);

    ringtide::io::nop().await.expect("nop");
}

/// Runs [`pipe_round_trip`] on `runtime` from `block_on` and from a spawned task
/// (a worker thread on a multi-thread runtime).
fn round_trips(runtime: &Runtime) {
    let backend = runtime.backend();
    assert_ne!(backend, Backend::Auto, "Runtime::backend() returned Auto");
    runtime.block_on(pipe_round_trip(backend));
    runtime.block_on(async move {
        if let Err(error) = ringtide::spawn(pipe_round_trip(backend)).await {
            if error.is_panic() {
                std::panic::resume_unwind(error.into_panic());
            }
            panic!("the round-trip task failed: {error:?}");
        }
    });
}

fn current_thread(backend: Option<Backend>) -> Builder {
    let mut builder = Builder::new_current_thread();
    builder.enable_all();
    if let Some(backend) = backend {
        builder.backend(backend);
    }
    builder
}

fn multi_thread(backend: Option<Backend>) -> Builder {
    let mut builder = Builder::new_multi_thread();
    builder.worker_threads(2).enable_all();
    if let Some(backend) = backend {
        builder.backend(backend);
    }
    builder
}

/// The error of a build that must fail.
fn build_error(builder: &mut Builder, what: &str) -> io::Error {
    match builder.build() {
        Ok(runtime) => panic!("{what}: build() succeeded with {}", runtime.backend()),
        Err(error) => error,
    }
}

/// Checks the error of an explicit io_uring request that cannot work here.
fn assert_unsupported(error: &io::Error, what: &str) {
    assert_eq!(error.kind(), io::ErrorKind::Unsupported, "{what}: {error}");
    let message = error.to_string();
    assert!(
        message.contains("RINGTIDE_BACKEND=mio") || message.contains("Backend::Mio"),
        "{what}: the error does not say how to switch to mio: {message}"
    );
}

/// Whether an explicit io_uring runtime can be built in this process.
fn io_uring_works() -> bool {
    current_thread(Some(Backend::IoUring)).build().is_ok()
}

/// Runs `body` on its own thread and fails if it takes longer than `TEST_TIMEOUT`.
fn within_timeout(body: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(TEST_TIMEOUT) {
        Ok(()) => worker.join().expect("the test thread finished"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the test did not finish within {TEST_TIMEOUT:?}")
        }
    }
}

// ---------------------------------------------------------------------------------
// Parent side: running a scenario in a child process
// ---------------------------------------------------------------------------------

/// A finished child process.
struct Child {
    scenario: String,
    output: Output,
}

impl Child {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Everything the child printed, for failure messages.
    fn report(&self) -> String {
        format!(
            "child scenario `{}` exited with {}\n--- child stdout ---\n{}\n--- child stderr ---\n{}",
            self.scenario,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    /// Asserts the child succeeded and returns what its result line says after the
    /// scenario name.
    fn result(&self) -> String {
        assert!(self.output.status.success(), "{}", self.report());
        let prefix = format!("{RESULT_MARK} {} ", self.scenario);
        let stdout = self.stdout();
        let line = stdout
            .lines()
            .find_map(|line| Some(&line[line.find(&prefix)? + prefix.len()..]))
            .unwrap_or_else(|| {
                panic!(
                    "the child did not run its scenario (no result line):\n{}",
                    self.report()
                )
            });
        println!("{} -> {line}", self.scenario);
        line.to_owned()
    }

    /// The messages the child logged, with their levels.
    fn log_lines(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter_map(|line| line.strip_prefix(LOG_MARK))
            .map(|line| line.trim_start().to_owned())
            .collect()
    }

    /// Lines of stderr that carry the fallback warning, wherever they came from.
    fn fallback_warnings(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|line| line.contains(FALLBACK_WARNING))
            .map(str::to_owned)
            .collect()
    }
}

/// Re-runs this test binary for `scenario`, with `RINGTIDE_BACKEND` removed and then
/// `env` applied.
fn run_child(scenario: &str, env: &[(&str, &OsStr)]) -> Child {
    let exe = std::env::current_exe().expect("current_exe()");
    let mut command = Command::new(exe);
    command
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, scenario)
        .env_remove(BACKEND_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command.spawn().expect("spawn the child test process");
    let pid = child.id();
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        let _ = send.send(child.wait_with_output());
    });
    let output = match receive.recv_timeout(CHILD_TIMEOUT) {
        Ok(output) => output.expect("wait for the child test process"),
        Err(_) => {
            let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
            // SAFETY: kill() touches no memory of ours; `pid` is our child, not yet
            // reported as exited by its waiter (so the id still names it), and SIGKILL
            // only ends it.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let output = receive
                .recv()
                .expect("the waiter thread reports")
                .expect("wait for the killed child");
            let child = Child {
                scenario: scenario.to_owned(),
                output,
            };
            panic!(
                "the child hung for {CHILD_TIMEOUT:?} and was killed\n{}",
                child.report()
            );
        }
    };
    Child {
        scenario: scenario.to_owned(),
        output,
    }
}

fn backend_env(value: &str) -> (&'static str, &OsStr) {
    (BACKEND_ENV, OsStr::new(value))
}

/// The backend a child result line names (`backend=<name>` as its first word).
fn reported_backend(result: &str) -> Backend {
    let name = result
        .split_whitespace()
        .find_map(|word| word.strip_prefix("backend="))
        .unwrap_or_else(|| panic!("no backend= in the child's result `{result}`"));
    name.parse()
        .unwrap_or_else(|error| panic!("bad backend in `{result}`: {error}"))
}

// ---------------------------------------------------------------------------------
// Child side
// ---------------------------------------------------------------------------------

/// The entry point of child processes; does nothing unless [`CHILD_ENV`] is set.
#[test]
fn child_entry() {
    let Ok(scenario) = std::env::var(CHILD_ENV) else {
        eprintln!("not a child process ({CHILD_ENV} unset): nothing to run");
        return;
    };
    let result = match scenario.as_str() {
        "seccomp_auto_and_explicit" => seccomp::auto_and_explicit(),
        "seccomp_env_io_uring" => seccomp::env_io_uring(),
        "seccomp_env_mio" => seccomp::env_mio(),
        "env_mio" => child_env_mio(),
        "env_io_uring" => child_env_io_uring(),
        "env_auto" => child_env_auto(),
        "builder_beats_env" => child_builder_beats_env(),
        "bogus_env" => child_bogus_env(),
        "low_memlock" => child_low_memlock(),
        other => panic!("unknown {CHILD_ENV} scenario `{other}`"),
    };
    // On its own line: libtest has printed `test child_entry ... ` without a newline.
    println!("\n{RESULT_MARK} {scenario} {result}");
}

/// Writes log records (warnings and above) to stderr, marked with [`LOG_MARK`].
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let _ = writeln!(
                io::stderr().lock(),
                "{LOG_MARK} {} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

fn install_logger() {
    log::set_logger(&LOGGER).expect("the child installs the only logger");
    log::set_max_level(log::LevelFilter::Warn);
}

mod seccomp {
    //! Children that run under a seccomp filter denying `io_uring_setup`.

    use std::io;

    use super::*;

    /// The result line of a child that could not install the filter.
    pub(super) const SKIPPED: &str = "skipped";

    /// Installs, for this thread and the threads it starts, a filter that makes
    /// `io_uring_setup` fail with `EPERM` and allows every other syscall (the shared
    /// filter of the fault-injection tests). Returns why it could not, if so.
    fn deny_io_uring_setup() -> Result<(), String> {
        fault_common::deny_syscalls(&[(fault_common::IO_URING_SETUP, libc::EPERM)])?;

        // The filter must do what the scenario claims: io_uring_setup gets EPERM.
        let mut params = [0u64; 15]; // struct io_uring_params is 120 bytes.
        // SAFETY: io_uring_setup(entries, params) with a zeroed, writable 120-byte
        // `io_uring_params`; a ring fd it might return is closed below.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_io_uring_setup,
                8 as libc::c_ulong,
                params.as_mut_ptr(),
            )
        };
        let error = io::Error::last_os_error();
        if fd >= 0 {
            let fd = libc::c_int::try_from(fd).expect("fd fits c_int");
            // SAFETY: `fd` is the ring the call above just created and nothing else
            // uses it.
            unsafe { libc::close(fd) };
            panic!("the seccomp filter did not deny io_uring_setup");
        }
        assert_eq!(
            error.raw_os_error(),
            Some(libc::EPERM),
            "io_uring_setup under the filter failed with {error}, not EPERM"
        );
        Ok(())
    }

    /// `Auto` falls back to mio (and works), explicit `IoUring` is refused.
    pub(super) fn auto_and_explicit() -> String {
        install_logger();
        if let Err(reason) = deny_io_uring_setup() {
            return format!("{SKIPPED}: {reason}");
        }

        let runtime = current_thread(Some(Backend::Auto))
            .build()
            .expect("Backend::Auto must fall back to mio under seccomp");
        assert_eq!(runtime.backend(), Backend::Mio);
        assert_eq!(runtime.handle().backend(), Backend::Mio);
        round_trips(&runtime);
        drop(runtime);

        let error = build_error(
            &mut current_thread(Some(Backend::IoUring)),
            "Backend::IoUring under seccomp",
        );
        assert_unsupported(&error, "Backend::IoUring under seccomp");
        let message = error.to_string();
        assert!(
            ["EPERM", "denied", "seccomp", "Operation not permitted"]
                .iter()
                .any(|word| message.contains(word)),
            "the error does not say io_uring_setup was denied: {message}"
        );
        format!("backend={} explicit_error={message}", Backend::Mio)
    }

    /// `RINGTIDE_BACKEND=io_uring` (set by the parent) is refused like the builder's.
    pub(super) fn env_io_uring() -> String {
        install_logger();
        if let Err(reason) = deny_io_uring_setup() {
            return format!("{SKIPPED}: {reason}");
        }
        let error = build_error(
            &mut current_thread(None),
            "RINGTIDE_BACKEND=io_uring under seccomp",
        );
        assert_unsupported(&error, "RINGTIDE_BACKEND=io_uring under seccomp");
        let message = error.to_string();
        assert!(
            message.contains(BACKEND_ENV),
            "the error does not name RINGTIDE_BACKEND as the source of the request: {message}"
        );
        format!("error={message}")
    }

    /// `RINGTIDE_BACKEND=mio` (set by the parent) never touches io_uring: no warning.
    pub(super) fn env_mio() -> String {
        install_logger();
        if let Err(reason) = deny_io_uring_setup() {
            return format!("{SKIPPED}: {reason}");
        }
        let runtime = current_thread(None)
            .build()
            .expect("RINGTIDE_BACKEND=mio under seccomp");
        assert_eq!(runtime.backend(), Backend::Mio);
        round_trips(&runtime);
        format!("backend={}", runtime.backend())
    }
}

/// `RINGTIDE_BACKEND=mio`: a builder without `backend()` uses mio.
fn child_env_mio() -> String {
    for mut builder in [current_thread(None), multi_thread(None)] {
        let runtime = builder.build().expect("RINGTIDE_BACKEND=mio");
        assert_eq!(runtime.backend(), Backend::Mio);
        round_trips(&runtime);
    }
    format!("backend={}", Backend::Mio)
}

/// `RINGTIDE_BACKEND=io_uring`: io_uring, or an `Unsupported` error saying why.
fn child_env_io_uring() -> String {
    match current_thread(None).build() {
        Ok(runtime) => {
            assert_eq!(runtime.backend(), Backend::IoUring);
            round_trips(&runtime);
            let runtime = multi_thread(None)
                .build()
                .expect("RINGTIDE_BACKEND=io_uring, multi-thread");
            assert_eq!(runtime.backend(), Backend::IoUring);
            round_trips(&runtime);
            format!("backend={}", Backend::IoUring)
        }
        Err(error) => {
            assert_unsupported(&error, "RINGTIDE_BACKEND=io_uring");
            format!("unavailable error={error}")
        }
    }
}

/// `RINGTIDE_BACKEND=auto`: whichever backend works, never `Auto`.
fn child_env_auto() -> String {
    let runtime = current_thread(None).build().expect("RINGTIDE_BACKEND=auto");
    round_trips(&runtime);
    format!("backend={}", runtime.backend())
}

/// The builder's choice wins over `RINGTIDE_BACKEND`, which is then not consulted.
fn child_builder_beats_env() -> String {
    // The parent set RINGTIDE_BACKEND=io_uring.
    let runtime = multi_thread(Some(Backend::Mio))
        .build()
        .expect("Backend::Mio with RINGTIDE_BACKEND=io_uring");
    assert_eq!(runtime.backend(), Backend::Mio);
    round_trips(&runtime);
    // `child_bogus_env` checks that an explicit choice ignores a bogus value too.
    format!("backend={}", runtime.backend())
}

/// `RINGTIDE_BACKEND` names no backend: `InvalidInput` naming the value, no panic.
fn child_bogus_env() -> String {
    let value = std::env::var_os(BACKEND_ENV).expect("the parent set RINGTIDE_BACKEND");
    let shown = String::from_utf8_lossy(value.as_bytes()).into_owned();
    for (kind, mut builder) in [
        ("current-thread", current_thread(None)),
        ("multi-thread", multi_thread(None)),
    ] {
        let what = format!("{kind} with RINGTIDE_BACKEND={shown:?}");
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.build()));
        let error = match built {
            Ok(Ok(runtime)) => panic!("{what}: build() succeeded with {}", runtime.backend()),
            Ok(Err(error)) => error,
            Err(_) => panic!("{what}: build() panicked instead of returning an error"),
        };
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{what}: {error}");
        assert!(
            error.to_string().contains("epoll"),
            "{what}: the error does not show the bad value: {error}"
        );
    }
    // The builder's explicit choice does not read the variable at all.
    let runtime = current_thread(Some(Backend::Mio))
        .build()
        .expect("Backend::Mio is not affected by a bogus RINGTIDE_BACKEND");
    assert_eq!(runtime.backend(), Backend::Mio);
    round_trips(&runtime);
    "invalid_input".to_owned()
}

/// `RLIMIT_MEMLOCK` of 0 and a 4096-entry ring: the runtime starts and works.
fn child_low_memlock() -> String {
    let limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the `rlimit` it is given; lowering the limit only
    // affects this child process.
    let set = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) };
    assert_eq!(set, 0, "setrlimit: {}", io::Error::last_os_error());
    let mut current = libc::rlimit {
        rlim_cur: 1,
        rlim_max: 1,
    };
    // SAFETY: getrlimit writes into the `rlimit` it is given.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut current) };
    assert_eq!(got, 0, "getrlimit: {}", io::Error::last_os_error());
    assert_eq!((current.rlim_cur, current.rlim_max), (0, 0));

    let mut chosen = Vec::new();
    for (kind, mut builder) in [
        ("current_thread", current_thread(Some(Backend::Auto))),
        ("multi_thread", multi_thread(Some(Backend::Auto))),
    ] {
        let runtime = builder
            .uring_entries(4096)
            .build()
            .unwrap_or_else(|error| panic!("{kind} Auto with RLIMIT_MEMLOCK=0: {error}"));
        round_trips(&runtime);
        chosen.push(format!("{kind}:auto={}", runtime.backend()));
    }

    // An explicit io_uring request either works or says to raise the limit.
    match current_thread(Some(Backend::IoUring))
        .uring_entries(4096)
        .build()
    {
        Ok(runtime) => {
            assert_eq!(runtime.backend(), Backend::IoUring);
            round_trips(&runtime);
            chosen.push(format!("explicit={}", Backend::IoUring));
        }
        Err(error) => {
            assert_unsupported(&error, "Backend::IoUring with RLIMIT_MEMLOCK=0");
            chosen.push(format!("explicit=unavailable({error})"));
        }
    }
    chosen.join(" ")
}

// ---------------------------------------------------------------------------------
// Parent tests
// ---------------------------------------------------------------------------------

#[test]
fn seccomp_denied_io_uring_falls_back_to_mio_with_one_warning() {
    let child = run_child("seccomp_auto_and_explicit", &[]);
    let result = child.result();
    if result.starts_with(seccomp::SKIPPED) {
        eprintln!("seccomp scenario not run: {result}");
        return;
    }
    assert_eq!(reported_backend(&result), Backend::Mio);

    let warnings = child.fallback_warnings();
    assert_eq!(
        warnings.len(),
        1,
        "expected exactly one fallback warning, got {warnings:?}\n{}",
        child.report()
    );
    let logged = child.log_lines();
    let warning = logged
        .iter()
        .find(|line| line.contains(FALLBACK_WARNING))
        .unwrap_or_else(|| {
            panic!(
                "the fallback warning did not go through the `log` crate\n{}",
                child.report()
            )
        });
    let (level, rest) = warning.split_once(' ').expect("level then message");
    assert_eq!(level, "WARN", "{warning}");
    let (target, message) = rest.split_once(": ").expect("target: message");
    assert!(target.starts_with("ringtide"), "log target: {warning}");
    assert!(
        message.starts_with(FALLBACK_WARNING),
        "the warning must start with `{FALLBACK_WARNING}`: {message}"
    );
    let reason = &message[FALLBACK_WARNING.len()..];
    assert!(
        reason.contains("seccomp"),
        "the reason should mention seccomp for EPERM: {message}"
    );
}

#[test]
fn seccomp_denied_env_io_uring_is_an_error() {
    let child = run_child("seccomp_env_io_uring", &[backend_env("io_uring")]);
    let result = child.result();
    if result.starts_with(seccomp::SKIPPED) {
        eprintln!("seccomp scenario not run: {result}");
        return;
    }
    assert!(
        child.fallback_warnings().is_empty(),
        "an explicit io_uring request must not fall back\n{}",
        child.report()
    );
}

#[test]
fn seccomp_denied_env_mio_does_not_probe() {
    let child = run_child("seccomp_env_mio", &[backend_env("mio")]);
    let result = child.result();
    if result.starts_with(seccomp::SKIPPED) {
        eprintln!("seccomp scenario not run: {result}");
        return;
    }
    assert_eq!(reported_backend(&result), Backend::Mio);
    assert!(
        child.log_lines().is_empty(),
        "RINGTIDE_BACKEND=mio must not probe io_uring or warn\n{}",
        child.report()
    );
}

#[test]
fn env_mio_selects_mio() {
    let child = run_child("env_mio", &[backend_env("mio")]);
    assert_eq!(reported_backend(&child.result()), Backend::Mio);
}

#[test]
fn env_io_uring_selects_io_uring() {
    let child = run_child("env_io_uring", &[backend_env("io_uring")]);
    let result = child.result();
    if io_uring_works() {
        assert_eq!(
            reported_backend(&result),
            Backend::IoUring,
            "io_uring works in this process, so RINGTIDE_BACKEND=io_uring must use it"
        );
    } else {
        assert!(result.starts_with("unavailable"), "{result}");
    }
}

#[test]
fn env_auto_picks_a_working_backend() {
    let child = run_child("env_auto", &[backend_env("auto")]);
    let expected = if io_uring_works() {
        Backend::IoUring
    } else {
        Backend::Mio
    };
    assert_eq!(reported_backend(&child.result()), expected);
}

#[test]
fn builder_backend_beats_env() {
    let child = run_child("builder_beats_env", &[backend_env("io_uring")]);
    assert_eq!(reported_backend(&child.result()), Backend::Mio);
}

#[test]
fn bogus_env_is_invalid_input() {
    let child = run_child("bogus_env", &[backend_env("epoll")]);
    assert_eq!(child.result(), "invalid_input");
}

#[test]
fn non_utf8_env_is_invalid_input() {
    let value = OsStr::from_bytes(b"epoll\xff");
    let child = run_child("bogus_env", &[(BACKEND_ENV, value)]);
    assert_eq!(child.result(), "invalid_input");
}

#[test]
fn low_memlock_still_starts_a_runtime() {
    let child = run_child("low_memlock", &[]);
    let result = child.result();
    assert!(result.contains("current_thread:auto="), "{result}");
    assert!(result.contains("multi_thread:auto="), "{result}");
}

// ---------------------------------------------------------------------------------
// In-process tests
// ---------------------------------------------------------------------------------

#[test]
fn backend_names_round_trip() {
    for (backend, name) in [
        (Backend::Auto, "auto"),
        (Backend::IoUring, "io_uring"),
        (Backend::Mio, "mio"),
    ] {
        assert_eq!(backend.to_string(), name);
        assert_eq!(backend.as_str(), name);
        assert_eq!(name.parse::<Backend>().unwrap(), backend);
        assert_eq!(backend.to_string().parse::<Backend>().unwrap(), backend);
    }
    // The spellings `FromStr` documents besides the canonical names.
    for (alias, backend) in [
        ("io-uring", Backend::IoUring),
        ("uring", Backend::IoUring),
        (" MIO ", Backend::Mio),
        ("Auto", Backend::Auto),
    ] {
        assert_eq!(alias.parse::<Backend>().unwrap(), backend, "{alias:?}");
    }
    let error = "epoll".parse::<Backend>().unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("epoll"), "{error}");
}

/// `Runtime::backend()` and `Handle::current().backend()` (on the `block_on` thread
/// and on a worker) agree with the explicit choice, and I/O works on it.
fn check_reports_backend(mut builder: Builder, backend: Backend, kind: &str) {
    // io_uring must work here, as for every I/O test of the suite (they build
    // `Backend::IoUring` runtimes unconditionally): a build error is a failure.
    let runtime = builder
        .build()
        .unwrap_or_else(|error| panic!("{kind} with {backend}: {error}"));
    assert_eq!(runtime.backend(), backend, "{kind}: Runtime::backend()");
    assert_eq!(runtime.handle().backend(), backend, "{kind}: handle()");
    let (outside, inside) = runtime.block_on(async {
        let outside = Handle::current().backend();
        let inside = ringtide::spawn(async { Handle::current().backend() })
            .await
            .expect("spawned task");
        (outside, inside)
    });
    assert_eq!(outside, backend, "{kind}: Handle::current() in block_on");
    assert_eq!(inside, backend, "{kind}: Handle::current() in a task");
    round_trips(&runtime);
}

#[test]
fn multi_thread_reports_explicit_backend() {
    within_timeout(|| {
        for backend in [Backend::Mio, Backend::IoUring] {
            check_reports_backend(multi_thread(Some(backend)), backend, "multi_thread(2)");
        }
    });
}

#[test]
fn current_thread_reports_explicit_backend() {
    within_timeout(|| {
        for backend in [Backend::Mio, Backend::IoUring] {
            check_reports_backend(current_thread(Some(backend)), backend, "current_thread");
        }
    });
}
