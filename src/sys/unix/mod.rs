//! The Unix half of the platform layer (see `sys`): every I/O object is a file
//! descriptor, and the calls are libc's, each behind one small function so that the
//! rest of the crate has no per-target `cfg`.
//!
//! The split between Unix targets is the `ringtide_atomic_flags` cfg (set by
//! `build.rs`): Linux, Android and the BSDs create descriptors with their flags in the
//! same call (`SOCK_CLOEXEC`, `SOCK_NONBLOCK`, `accept4`, `pipe2`) and suppress
//! `SIGPIPE` per send (`MSG_NOSIGNAL`); `fdatasync` is Linux/Android/FreeBSD. The other
//! Unix targets (macOS and the other Apple systems) set the flags with `fcntl` right
//! after creation and suppress `SIGPIPE` per socket (`SO_NOSIGPIPE`). `pidfd_open` and
//! `preadv2` are Linux-only; a Unix peer's credentials come from `SO_PEERCRED` on
//! Linux and Android, `getpeereid` elsewhere.

pub(crate) mod file;
mod handle;
pub(crate) mod path;
pub(crate) mod peer_cred;
pub(crate) mod pipe;
pub(crate) mod process;
pub(crate) mod socket;

pub(crate) use handle::*;

/// The OS's "invalid argument" error (`EINVAL`, kind `InvalidInput`), as a syscall
/// given a value out of its range reports it.
pub(crate) fn invalid_input() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::EINVAL)
}
