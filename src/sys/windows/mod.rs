//! The Windows half of the platform layer (see `sys`): sockets are Winsock `SOCKET`s
//! (std's `RawSocket`, `OwnedSocket`, `BorrowedSocket`), files are `HANDLE`s. Socket
//! calls go through socket2, file calls through std (`FileExt::seek_read`/
//! `seek_write` for positional I/O) and windows-sys (`CloseHandle`, the console
//! control handler).
//!
//! What differs from Unix, and what the callers must know:
//!
//! * Sockets are always non-blocking here (mio is the only backend) and Windows has no
//!   `SIGPIPE`, so the calls pass no `MSG_DONTWAIT`/`MSG_NOSIGNAL` (neither exists);
//!   a write to a closed peer fails with `WSAECONNRESET`/`WSAECONNABORTED`.
//! * Sockets are created non-inheritable (socket2 passes `WSA_FLAG_NO_HANDLE_INHERIT`,
//!   and clears `HANDLE_FLAG_INHERIT` on accepted ones): the counterpart of
//!   close-on-exec.
//! * Error codes are the OS's (`WSAE*`, `ERROR_*`), never libc's `errno` values
//!   (libc's `E*` constants on Windows are the C runtime's and name other errors).

pub(crate) mod console;
pub(crate) mod file;
mod handle;
pub(crate) mod path;
pub(crate) mod socket;

pub(crate) use handle::*;

/// The OS's "invalid argument" error (`ERROR_INVALID_PARAMETER`, kind `InvalidInput`),
/// as a call given a value out of its range reports it.
pub(crate) fn invalid_input() -> std::io::Error {
    std::io::Error::from_raw_os_error(
        windows_sys::Win32::Foundation::ERROR_INVALID_PARAMETER as i32,
    )
}
