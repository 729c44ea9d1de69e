//! A close-on-exec pipe: `pipe2(O_CLOEXEC)` where the target has it, else `pipe` and
//! `fcntl(FD_CLOEXEC)` on both ends (Apple; as std does there).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A pipe whose two ends are close-on-exec (and blocking): `(read end, write end)`.
pub(crate) fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    #[cfg(ringtide_atomic_flags)]
    // SAFETY: pipe2 writes two fds into the two-element array passed.
    let result = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    #[cfg(not(ringtide_atomic_flags))]
    // SAFETY: pipe writes two fds into the two-element array passed.
    let result = unsafe { libc::pipe(fds.as_mut_ptr()) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the call succeeded, so both fds are open and owned by nobody else.
    let ends = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    #[cfg(not(ringtide_atomic_flags))]
    for end in [&ends.0, &ends.1] {
        use std::os::fd::AsRawFd;
        // SAFETY: fcntl on an fd we own; F_SETFD takes an int flag argument.
        if unsafe { libc::fcntl(end.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(ends)
}
