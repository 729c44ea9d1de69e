//! Flushing a file to its device: `fdatasync(2)` where the target has it, `fsync(2)`
//! elsewhere (Apple), which syncs a superset of what `fdatasync` does.

use std::io;
use std::os::fd::RawFd;

/// `fsync(2)` on `fd`, or `fdatasync(2)` when `data_only` and the target has it.
pub(crate) fn sync(fd: RawFd, data_only: bool) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    // SAFETY: a syscall on an fd the caller keeps open; no memory is passed.
    let result = unsafe {
        if data_only {
            libc::fdatasync(fd)
        } else {
            libc::fsync(fd)
        }
    };
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    // SAFETY: as above; `data_only` needs no other call (`fsync` covers it).
    let result = {
        let _ = data_only;
        unsafe { libc::fsync(fd) }
    };
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
