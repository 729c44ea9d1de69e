//! The platform layer: the names of the OS's I/O handles and the few system calls whose
//! spelling differs between platforms, one half per platform family, so that the rest
//! of the crate names neither `std::os::fd` nor `std::os::windows` and carries no
//! per-target `cfg` on its functions (the layout mio uses). This layer imports nothing
//! from the crate (`ci/layers.sh` checks).
//!
//! * `unix` (Linux, Android, macOS, the BSDs): every I/O object is a file descriptor;
//!   the calls are libc's. The split between Unix targets (`ringtide_atomic_flags`,
//!   set by `build.rs`) stays inside it.
//! * `windows`: sockets are Winsock `SOCKET`s, files are `HANDLE`s; the calls go
//!   through socket2, std (`std::os::windows::fs::FileExt` for positional file I/O) and
//!   windows-sys (console control events, `CloseHandle`).
//!
//! Both halves export the same names, so code above says `sys::RawSocket` or
//! `sys::socket::recv` and builds on either:
//!
//! * handles: `RawSocket`, `OwnedSocket`, `BorrowedSocket` (on Unix: `RawFd`, `OwnedFd`,
//!   `BorrowedFd`; on Windows std's socket types) and `RawFile`, `OwnedFile`,
//!   `BorrowedFile` (on Unix the fd types again; on Windows handles), with
//!   `AsRawIo` (an object's raw number, for `io::shared_fd`) and the conversions;
//!   `IoVec` (an `iovec`: a pointer and a length);
//! * `socket`: creation flags and the non-blocking socket calls the readiness halves of
//!   the ops run (`recv`, `send`, their vectored forms, `accept`, `connect`,
//!   `shutdown`, `take_error`);
//! * `file`: positioned and cursor reads and writes, `sync`, `set_len`, `seek`,
//!   `close`;
//! * `path`: a path as the calls take it, and `mkdir`, `unlink`, `rename`,
//!   `hard_link`;
//! * `invalid_input`: the OS's own "invalid argument" error (`EINVAL`,
//!   `ERROR_INVALID_PARAMETER`), which `std` reports with the kind `InvalidInput`.
//!
//! Unix only: `pipe`, `process` (pidfds), `peer_cred`, `path::symlink`. Windows only: `console`
//! (the console control handler behind `signal::windows`).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

#[cfg(not(any(unix, windows)))]
compile_error!("ringtide supports Unix targets and Windows");
