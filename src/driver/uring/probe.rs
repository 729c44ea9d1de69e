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

use std::io;
use std::sync::OnceLock;

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
    SUPPORTED
        .get()
        .is_none_or(|bits| bits[usize::from(opcode / 64)] & (1 << (opcode % 64)) != 0)
}

/// Why io_uring cannot be used, in words a user can act on. Probed once per process
/// (the answer does not change); later calls return the first answer.
pub(crate) fn check() -> Result<(), String> {
    static ANSWER: OnceLock<Result<(), String>> = OnceLock::new();
    ANSWER.get_or_init(probe).clone()
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
    let nop = opcode::Nop::new().build().user_data(7);
    // SAFETY: a NOP points at no memory.
    if unsafe { uring.submission().push(&nop) }.is_err() {
        return Err("io_uring NOP could not be queued".to_owned());
    }
    if let Err(error) = uring.submit_and_wait(1) {
        return Err(format!(
            "io_uring_enter failed during the NOP round trip ({error}); the kernel or a \
             sandbox blocks io_uring"
        ));
    }
    match uring.completion().next() {
        Some(cqe) if cqe.user_data() == 7 && cqe.result() >= 0 => {}
        Some(cqe) => {
            return Err(format!(
                "io_uring NOP completed with {}",
                io::Error::from_raw_os_error(-cqe.result())
            ));
        }
        None => return Err("io_uring NOP round trip returned no completion".to_owned()),
    }
    let params = uring.params();
    if !params.is_feature_nodrop() {
        return Err(
            "this kernel's io_uring may drop completions when its queue is full (no \
             IORING_FEAT_NODROP, before 5.5); a newer kernel has it"
                .to_owned(),
        );
    }
    if !params.is_feature_fast_poll() {
        return Err(
            "this kernel's io_uring has no internal polling (no IORING_FEAT_FAST_POLL, \
             before 5.7): every socket wait would hold a kernel thread; a newer kernel \
             has it"
                .to_owned(),
        );
    }
    let mut probe = io_uring::Probe::new();
    if let Err(error) = uring.submitter().register_probe(&mut probe) {
        return Err(format!(
            "io_uring opcode probe failed ({error}); the kernel is older than 5.6"
        ));
    }
    let mut bits = [0u64; 4];
    for opcode in 0..=u8::MAX {
        if probe.is_supported(opcode) {
            bits[usize::from(opcode / 64)] |= 1 << (opcode % 64);
        }
    }
    let _ = SUPPORTED.set(bits);
    let missing: Vec<&str> = REQUIRED
        .iter()
        .filter(|(code, _)| !probe.is_supported(*code))
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
