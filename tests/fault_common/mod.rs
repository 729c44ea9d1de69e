//! Helpers shared by the fault-injection tests (`tests/fault_*.rs`).
//!
//! * Child processes: a fault that belongs to the whole process (a seccomp filter, a
//!   resource limit, the probe override) runs in a re-executed copy of the test binary.
//!   The parent test calls [`run_child`] with its own name and a *role*; the child,
//!   started with [`CHILD_ENV`] set to the role, sees [`child_role`] return it, runs
//!   the scenario, and prints one [`RESULT_MARK`] line (or [`skip`]s, saying why). The
//!   parent asserts the exit status and that line, and shows everything the child
//!   printed when something is wrong. A child that hangs is killed (a failure).
//! * [`deny_syscalls`]: a seccomp filter making chosen syscalls fail with chosen errnos
//!   for the calling thread and the threads it starts afterwards.
//! * [`install_logger`]/[`logged`]: the child's proof that a logged path ran.
//! * Round trips on pipes, and counts of the process's fds and threads.

#![allow(dead_code)]

use std::io;
use std::mem::offset_of;
use std::sync::Mutex;
use std::time::Duration;

use ringtide::io::AsyncFd;
use ringtide::runtime::{Backend, Handle};

/// Names the role of a child process; unset in the parent.
pub const CHILD_ENV: &str = "RINGTIDE_FAULT_CHILD";
/// Starts the line a child prints when its scenario succeeded.
pub const RESULT_MARK: &str = "RINGTIDE_FAULT_RESULT";
/// Starts the result of a child that could not set its fault up.
pub const SKIPPED: &str = "skipped:";
/// Turns a hung child into a failure; never reached by a passing run.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// This process's role when it is a child, `None` in the parent.
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// Ends a child's scenario with its result line.
pub fn report(result: &str) {
    // On its own line: libtest has printed `test name ... ` without a newline.
    println!("\n{RESULT_MARK} {result}");
}

/// Ends a child's scenario that could not set its fault up.
pub fn skip(why: &str) {
    report(&format!("{SKIPPED} {why}"));
}

/// Re-runs this binary's test `test` as a child with `role`; asserts it succeeded and
/// returns its result line, or `None` (printing why) when the child skipped.
pub fn run_child(test: &str, role: &str) -> Option<String> {
    let output = crate::rt_common::run_child_test(
        test,
        &[(CHILD_ENV, role), ("RUST_BACKTRACE", "1")],
        CHILD_TIMEOUT,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let result = stdout
        .lines()
        .find_map(|line| Some(line[line.find(RESULT_MARK)? + RESULT_MARK.len()..].trim()));
    match result {
        Some(result) if output.status.success() => {
            println!("{test} [{role}] -> {result}");
            if let Some(why) = result.strip_prefix(SKIPPED) {
                eprintln!("{test} [{role}]: fault not injected, scenario not run:{why}");
                return None;
            }
            Some(result.to_owned())
        }
        _ => panic!(
            "child `{test}` [{role}] failed ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
            output.status
        ),
    }
}

// ---------------------------------------------------------------------------------
// seccomp
// ---------------------------------------------------------------------------------

/// `AUDIT_ARCH_*` of this target (from `linux/audit.h`).
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_003E);
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_00B7);
#[cfg(target_arch = "riscv64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_00F3);
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
const AUDIT_ARCH: Option<u32> = None;

pub const IO_URING_SETUP: libc::c_long = libc::SYS_io_uring_setup;
pub const IO_URING_ENTER: libc::c_long = libc::SYS_io_uring_enter;
pub const IO_URING_REGISTER: libc::c_long = libc::SYS_io_uring_register;

fn statement(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// Installs, for the calling thread and the threads it starts from now on, a seccomp
/// filter under which each `(syscall, errno)` of `rules` fails with that errno and
/// every other syscall runs. Returns why it could not (then the caller [`skip`]s).
pub fn deny_syscalls(rules: &[(libc::c_long, i32)]) -> Result<(), String> {
    let Some(arch) = AUDIT_ARCH else {
        return Err("no AUDIT_ARCH value for this architecture".to_owned());
    };
    let arch_offset = offset_of!(libc::seccomp_data, arch) as u32;
    let nr_offset = offset_of!(libc::seccomp_data, nr) as u32;
    let rule_count = u8::try_from(rules.len()).expect("a few rules");
    let mut filter = vec![
        // A = arch; another architecture jumps over the rules to "allow".
        statement(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, arch_offset),
        jump(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            arch,
            0,
            1 + 2 * rule_count,
        ),
        // A = syscall number.
        statement(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, nr_offset),
    ];
    for &(syscall, errno) in rules {
        let nr = u32::try_from(syscall).expect("syscall number");
        // Not this syscall: skip its return.
        filter.push(jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, nr, 0, 1));
        filter.push(statement(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA),
        ));
    }
    filter.push(statement(
        libc::BPF_RET | libc::BPF_K,
        libc::SECCOMP_RET_ALLOW,
    ));
    let program = libc::sock_fprog {
        len: filter.len() as libc::c_ushort,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only; it restricts this
    // child process, which exits when its scenario ends.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(format!(
            "prctl(PR_SET_NO_NEW_PRIVS): {}",
            io::Error::last_os_error()
        ));
    }
    // SAFETY: `program` points at `filter`, a valid BPF program of `len` instructions;
    // both outlive the call, and the kernel copies the program.
    let installed = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &program as *const libc::sock_fprog,
        )
    };
    if installed != 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EINVAL) {
            // CONFIG_SECCOMP_FILTER=n.
            return Err(format!("prctl(PR_SET_SECCOMP): {error}"));
        }
        panic!("prctl(PR_SET_SECCOMP) failed: {error}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Logging
// ---------------------------------------------------------------------------------

struct Collector(Mutex<Vec<String>>);

impl log::Log for Collector {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}", record.level(), record.args());
            eprintln!("[log] {line}");
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    }

    fn flush(&self) {}
}

static COLLECTOR: Collector = Collector(Mutex::new(Vec::new()));

/// Collects the warnings and errors the runtime logs (once per process).
pub fn install_logger() {
    if log::set_logger(&COLLECTOR).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

/// Everything logged so far (`LEVEL message` lines).
pub fn logged() -> Vec<String> {
    COLLECTOR
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

// ---------------------------------------------------------------------------------
// I/O and process state
// ---------------------------------------------------------------------------------

pub fn pipe() -> (AsyncFd<std::io::PipeReader>, AsyncFd<std::io::PipeWriter>) {
    let (reader, writer) = std::io::pipe().unwrap();
    (AsyncFd::new(reader).unwrap(), AsyncFd::new(writer).unwrap())
}

/// A pipe round trip whose read is pending before the write (so the backend's wakeup
/// path runs), and a `nop`, on the current runtime, whose backend must be `expected`.
pub async fn round_trip(expected: Backend) {
    assert_eq!(Handle::current().backend(), expected);
    let (reader, writer) = pipe();
    assert_eq!(reader.backend(), expected);
    let mut read = std::pin::pin!(reader.read_owned(Vec::with_capacity(16)));
    assert!(
        futures::poll!(read.as_mut()).is_pending(),
        "{expected}: an empty pipe was read"
    );
    let (written, _) = writer.write_owned(b"fault".to_vec()).await;
    assert_eq!(written.unwrap(), 5);
    let (count, buf) = read.await;
    assert_eq!(count.unwrap(), 5);
    assert_eq!(buf, b"fault");
    ringtide::io::nop().await.expect("nop");
}

/// [`round_trip`] from `block_on` and from a spawned task.
pub fn round_trips(rt: &ringtide::runtime::Runtime) {
    let backend = rt.backend();
    rt.block_on(round_trip(backend));
    rt.block_on(async move { ringtide::spawn(round_trip(backend)).await.unwrap() });
}

/// Open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Threads of this process.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Sets the soft `RLIMIT_NOFILE`; returns the previous limit.
pub fn set_nofile(soft: libc::rlim_t) -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write only the structs passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        let lowered = libc::rlimit {
            rlim_cur: soft.min(limit.rlim_max),
            rlim_max: limit.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lowered), 0);
    }
    limit
}

/// Restores a limit [`set_nofile`] returned.
pub fn restore_nofile(limit: libc::rlimit) {
    // SAFETY: setrlimit reads only the struct passed.
    unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0) };
}
