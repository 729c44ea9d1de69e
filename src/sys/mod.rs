//! Platform calls whose spelling differs between Unix targets, each behind one small
//! function so that the rest of the crate has no per-target `cfg`.
//!
//! The split is the `ringtide_atomic_flags` cfg (set by `build.rs`): Linux, Android and
//! the BSDs create descriptors with their flags in the same call (`SOCK_CLOEXEC`,
//! `SOCK_NONBLOCK`, `accept4`, `pipe2`) and suppress `SIGPIPE` per send
//! (`MSG_NOSIGNAL`); `fdatasync` is Linux/Android/FreeBSD. The other Unix targets (macOS and the other Apple systems) set the
//! flags with `fcntl` right after creation and suppress `SIGPIPE` per socket
//! (`SO_NOSIGPIPE`). `pidfd_open` is Linux-only; a Unix peer's credentials come from
//! `SO_PEERCRED` on Linux and Android, `getpeereid` elsewhere. This layer imports nothing from the
//! crate.

pub(crate) mod file;
pub(crate) mod peer_cred;
pub(crate) mod pipe;
pub(crate) mod process;
pub(crate) mod socket;
