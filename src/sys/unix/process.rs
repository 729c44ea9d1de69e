//! `pidfd_open(2)`: Linux 5.3+. Elsewhere (macOS, the BSDs) there is no pidfd, and the
//! call reports `ENOSYS`, which sends `process` to its `SIGCHLD` fallback.

use std::io;
use std::os::fd::OwnedFd;

/// A pidfd for `pid` (close-on-exec): readable once the process exits.
#[cfg(target_os = "linux")]
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;

    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is
    // passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the syscall returned a new fd (close-on-exec) that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// No pidfds on this platform: `ENOSYS`.
#[cfg(not(target_os = "linux"))]
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let _ = pid;
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}
