//! Does io_uring work here? The check behind `Backend::Auto` and explicit `IoUring`.
//!
//! It creates a ring (retrying smaller rings on `ENOMEM`, as `RLIMIT_MEMLOCK` limits
//! ring memory on kernels before 5.12), runs a NOP round trip, checks the kernel
//! features the driver relies on, and probes the opcodes it cannot do without. Any
//! failure is reported with the errno and what to do about it. The answer is cached for
//! the process; the rings a runtime really uses (with its setup knobs) are created by
//! `build()`, which fails, or falls back to mio, when the kernel refuses them.
//!
//! What is checked, and why:
//!
//! * `IORING_FEAT_NODROP` (5.5): without it a full completion queue drops completions,
//!   and their ops would wait forever.
//! * `IORING_FEAT_FAST_POLL` (5.7): sockets are blocking on io_uring; without internal
//!   polling every receive that has to wait would occupy a kernel worker thread.
//! * `IORING_FEAT_EXT_ARG` (5.11) is not required: without it a timed park is bounded
//!   by a TIMEOUT SQE (see `ring`), so TIMEOUT is required instead.
//! * Opcodes: NOP, READ, WRITE, POLL_ADD, ASYNC_CANCEL and TIMEOUT have no fallback.
//!   Every other op checks its own opcode ([`supports`]) and, where the kernel lacks
//!   it, runs its readiness half (a non-blocking syscall after a `POLL_ADD`, or the
//!   blocking pool) instead.
//!
//! The probe's answer is cached, but a passed probe is not trusted blindly: each later
//! [`check`] runs a small live round trip (a ring created disabled, enabled with
//! `io_uring_register`, and a NOP through `io_uring_enter`), so a sandbox installed
//! after the first runtime (a seccomp filter denying `io_uring_enter` or
//! `io_uring_register`) makes the next `build()` fall back or fail with the reason,
//! instead of building rings whose I/O never completes.
//!
//! # Test-only override
//!
//! [`pretend_missing`] makes the probe and [`supports`] report an opcode or a feature
//! as missing, so that tests run every fallback path on a kernel that has everything.
//! It is reachable only through `ringtide::__private` (hidden, not API) and is meant
//! for child processes of tests: it is process-wide and permanent. Multishot accept is
//! not probed (a listener finds out from the kernel's `EINVAL`), so pretending it is
//! missing makes the kernel reject it for real: its SQEs carry an accept flag the
//! kernel does not know ([`multishot_accept_flags`]).

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use io_uring::{IoUring, opcode};

/// Opcodes the runtime submits; each must be supported for io_uring to be chosen.
const REQUIRED: &[(u8, &str)] = &[
    (opcode::Nop::CODE, "NOP"),
    (opcode::Read::CODE, "READ"),
    (opcode::Write::CODE, "WRITE"),
    (opcode::PollAdd::CODE, "POLL_ADD"),
    (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
    (opcode::Timeout::CODE, "TIMEOUT"),
];

/// The kernel's supported opcodes, as found by the first successful probe.
static SUPPORTED: OnceLock<[u64; 4]> = OnceLock::new();

/// Whether the kernel supports `opcode` (true until a probe said otherwise).
pub(crate) fn supports(opcode: u8) -> bool {
    if is_pretended_missing(opcode) {
        PRETENDED_FALLBACKS[usize::from(opcode)].fetch_add(1, Relaxed);
        return false;
    }
    SUPPORTED
        .get()
        .is_none_or(|bits| bits[usize::from(opcode / 64)] & (1 << (opcode % 64)) != 0)
}

/// Why io_uring cannot be used, in words a user can act on. Probed once per process
/// (what the kernel supports does not change); a later call whose cached answer is a
/// pass checks with a live round trip that io_uring still works for this thread (see
/// the module doc).
pub(crate) fn check() -> Result<(), String> {
    static ANSWER: OnceLock<Result<(), String>> = OnceLock::new();
    let mut probed_now = false;
    let answer = ANSWER
        .get_or_init(|| {
            probed_now = true;
            probe()
        })
        .clone();
    if answer.is_ok() && !probed_now {
        still_works()?;
    }
    answer
}

/// The live round trip of a cached pass: set up a ring disabled (as the runtime's
/// rings are), enable it through `io_uring_register`, and run a NOP through
/// `io_uring_enter`. A few syscalls per `build()`.
fn still_works() -> Result<(), String> {
    let mut builder = IoUring::builder();
    builder.setup_r_disabled();
    let (mut uring, disabled) = match builder.build(2) {
        Ok(uring) => (uring, true),
        // No IORING_SETUP_R_DISABLED (before 5.10): the runtime's rings are created
        // enabled there too.
        Err(error) if error.raw_os_error() == Some(libc::EINVAL) => (
            IoUring::new(2).map_err(|error| explain_setup(&error))?,
            false,
        ),
        Err(error) => {
            return Err(format!(
                "io_uring worked earlier in this process but no longer does: {}",
                explain_setup(&error)
            ));
        }
    };
    if disabled {
        if let Err(error) = uring.submitter().register_enable_rings() {
            return Err(format!(
                "io_uring worked earlier in this process but io_uring_register now fails                  ({error}){}",
                sandbox_hint(&error)
            ));
        }
    }
    nop_round_trip(&mut uring).map_err(|reason| {
        format!("io_uring worked earlier in this process but no longer does: {reason}")
    })
}

/// A sandbox hint for errors that mean "denied".
fn sandbox_hint(error: &io::Error) -> &'static str {
    match error.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => {
            "; a seccomp filter or sandbox denies it: allow io_uring_setup/io_uring_enter/\
             io_uring_register"
        }
        _ => "",
    }
}

/// Submits a NOP and waits for its completion.
fn nop_round_trip(uring: &mut IoUring) -> Result<(), String> {
    let nop = opcode::Nop::new().build().user_data(7);
    // SAFETY: a NOP points at no memory.
    if unsafe { uring.submission().push(&nop) }.is_err() {
        return Err("io_uring NOP could not be queued".to_owned());
    }
    if let Err(error) = uring.submit_and_wait(1) {
        return Err(format!(
            "io_uring_enter failed during the NOP round trip ({error}); the kernel or a \
             sandbox blocks io_uring{}",
            sandbox_hint(&error)
        ));
    }
    match uring.completion().next() {
        Some(cqe) if cqe.user_data() == 7 && cqe.result() >= 0 => Ok(()),
        Some(cqe) => Err(format!(
            "io_uring NOP completed with {}",
            io::Error::from_raw_os_error(-cqe.result())
        )),
        None => Err("io_uring NOP round trip returned no completion".to_owned()),
    }
}

/// A feature the test-only override can pretend the kernel lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PretendedFeature {
    /// `IORING_FEAT_NODROP` (required: the probe fails).
    NoDrop,
    /// `IORING_FEAT_FAST_POLL` (required: the probe fails).
    FastPoll,
    /// `IORING_FEAT_EXT_ARG` (optional: timed parks queue a TIMEOUT SQE instead).
    ExtArg,
    /// Multishot accept (Linux 5.19), which the probe does not check: the kernel is
    /// made to reject every multishot accept at run time with `EINVAL`, as a kernel
    /// before 5.19 does, so listeners accepting in the ring (the hidden
    /// `uring_multishot_accept` knob) switch to single accepts (`net::accept_stream`).
    MultishotAccept,
}

static PRETEND_NO_NODROP: AtomicBool = AtomicBool::new(false);
static PRETEND_NO_FAST_POLL: AtomicBool = AtomicBool::new(false);
static PRETEND_NO_EXT_ARG: AtomicBool = AtomicBool::new(false);
static PRETEND_NO_MULTISHOT_ACCEPT: AtomicBool = AtomicBool::new(false);
static PRETENDED_OPCODES: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
/// Per opcode: how often [`supports`] said no because of the override, i.e. how often
/// an op took its fallback path for it.
static PRETENDED_FALLBACKS: [AtomicU64; 256] = [const { AtomicU64::new(0) }; 256];

/// What the override can pretend is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pretend {
    /// An opcode (`io_uring::opcode::*::CODE`).
    Opcode(u8),
    /// A ring feature.
    Feature(PretendedFeature),
}

/// Test-only: from now on (process-wide) the probe and [`supports`] report `what` as
/// missing. Set it before the first runtime is built for the probe to see it.
pub fn pretend_missing(what: Pretend) {
    match what {
        Pretend::Opcode(code) => {
            PRETENDED_OPCODES[usize::from(code / 64)].fetch_or(1 << (code % 64), Relaxed);
        }
        Pretend::Feature(PretendedFeature::NoDrop) => PRETEND_NO_NODROP.store(true, Relaxed),
        Pretend::Feature(PretendedFeature::FastPoll) => PRETEND_NO_FAST_POLL.store(true, Relaxed),
        Pretend::Feature(PretendedFeature::ExtArg) => PRETEND_NO_EXT_ARG.store(true, Relaxed),
        Pretend::Feature(PretendedFeature::MultishotAccept) => {
            PRETEND_NO_MULTISHOT_ACCEPT.store(true, Relaxed);
        }
    }
}

/// The `accept_flags` of a multishot accept SQE: `SOCK_CLOEXEC`, plus, under the
/// test-only override of [`PretendedFeature::MultishotAccept`], a flag `accept4` does
/// not know, so that the kernel itself fails the request with `EINVAL` when it reads
/// the SQE, the error an older kernel gives for a multishot accept.
pub(crate) fn multishot_accept_flags() -> libc::c_int {
    const UNKNOWN_ACCEPT_FLAG: libc::c_int = 1;
    if PRETEND_NO_MULTISHOT_ACCEPT.load(Relaxed) {
        libc::SOCK_CLOEXEC | UNKNOWN_ACCEPT_FLAG
    } else {
        libc::SOCK_CLOEXEC
    }
}

/// How often a listener accepting in the ring switched to single accepts because
/// the kernel rejected its multishot accept (`net::accept_stream`).
static MULTISHOT_ACCEPT_FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// Counts one listener switching from multishot to single accepts.
pub(crate) fn note_multishot_accept_fallback() {
    MULTISHOT_ACCEPT_FALLBACKS.fetch_add(1, Relaxed);
}

/// Test-only: how often a listener switched from its multishot accept to single
/// accepts because the kernel rejected the multishot accept with `EINVAL` (really, or
/// under [`PretendedFeature::MultishotAccept`]); process-wide.
pub fn multishot_accept_fallbacks() -> u64 {
    MULTISHOT_ACCEPT_FALLBACKS.load(Relaxed)
}

/// Test-only: how often an op fell back because `opcode` was pretended missing.
pub fn pretended_fallbacks(opcode: u8) -> u64 {
    PRETENDED_FALLBACKS[usize::from(opcode)].load(Relaxed)
}

fn is_pretended_missing(opcode: u8) -> bool {
    PRETENDED_OPCODES[usize::from(opcode / 64)].load(Relaxed) & (1 << (opcode % 64)) != 0
}

/// Whether rings may pass timed parks' timeouts to `io_uring_enter`: the kernel has
/// `IORING_FEAT_EXT_ARG` and the test-only override does not hide it.
pub(crate) fn ext_arg(params: &io_uring::Parameters) -> bool {
    params.is_feature_ext_arg() && !PRETEND_NO_EXT_ARG.load(Relaxed)
}

/// Entries of the probe's ring: the probe asks what the kernel supports, not whether
/// the runtime's own settings work (its rings are created in `build()`, which reports
/// their failure), so one runtime's unusual settings cannot decide the (cached) answer
/// for every later runtime of the process.
const PROBE_ENTRIES: u32 = 8;

fn probe() -> Result<(), String> {
    let mut entries = PROBE_ENTRIES;
    let mut uring = loop {
        match IoUring::new(entries) {
            Ok(uring) => break uring,
            Err(error) if error.raw_os_error() == Some(libc::ENOMEM) && entries > 8 => {
                entries /= 2;
            }
            Err(error) => return Err(explain_setup(&error)),
        }
    };
    nop_round_trip(&mut uring)?;
    let params = uring.params();
    if !params.is_feature_nodrop() || PRETEND_NO_NODROP.load(Relaxed) {
        return Err(
            "this kernel's io_uring may drop completions when its queue is full (no \
             IORING_FEAT_NODROP, before 5.5); a newer kernel has it"
                .to_owned(),
        );
    }
    if !params.is_feature_fast_poll() || PRETEND_NO_FAST_POLL.load(Relaxed) {
        return Err(
            "this kernel's io_uring has no internal polling (no IORING_FEAT_FAST_POLL, \
             before 5.7): every socket wait would hold a kernel thread; a newer kernel \
             has it"
                .to_owned(),
        );
    }
    let mut probe = io_uring::Probe::new();
    if let Err(error) = uring.submitter().register_probe(&mut probe) {
        let why = match error.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => {
                "io_uring_register is denied, typically by a seccomp filter: allow \
                 io_uring_setup/io_uring_enter/io_uring_register"
            }
            _ => "the kernel is older than 5.6",
        };
        return Err(format!("io_uring opcode probe failed ({error}); {why}"));
    }
    let mut bits = [0u64; 4];
    for opcode in 0..=u8::MAX {
        if probe.is_supported(opcode) && !is_pretended_missing(opcode) {
            bits[usize::from(opcode / 64)] |= 1 << (opcode % 64);
        }
    }
    let _ = SUPPORTED.set(bits);
    let missing: Vec<&str> = REQUIRED
        .iter()
        .filter(|(code, _)| !probe.is_supported(*code) || is_pretended_missing(*code))
        .map(|(_, name)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "this kernel's io_uring lacks the opcodes {}; a newer kernel has them",
            missing.join(", ")
        ));
    }
    Ok(())
}

fn explain_setup(error: &io::Error) -> String {
    let errno = error.raw_os_error().unwrap_or(0);
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    match errno {
        libc::ENOSYS => {
            "the kernel has no io_uring (ENOSYS: built without it, or older than 5.1)".to_owned()
        }
        libc::EPERM | libc::EACCES if disabled > 0 => format!(
            "io_uring is disabled by the administrator (io_uring_disabled = {disabled}): \
             set the sysctl kernel.io_uring_disabled=0, or add this user to \
             kernel.io_uring_group"
        ),
        libc::EPERM | libc::EACCES => format!(
            "io_uring_setup is denied ({error}), typically by a seccomp filter such as \
             docker's default profile: allow io_uring_setup/io_uring_enter/\
             io_uring_register in the profile"
        ),
        libc::ENOMEM => format!(
            "io_uring_setup ran out of locked memory ({error}) even for an 8-entry ring: \
             raise RLIMIT_MEMLOCK (ulimit -l)"
        ),
        _ => format!("io_uring_setup failed ({error})"),
    }
}
