//! Files on Unix: the calls the readiness halves of the file ops run (on the blocking
//! pool, or inline for the non-blocking `preadv2`): positioned and cursor reads and
//! writes, plain and vectored, `fsync`/`fdatasync`, `ftruncate`, `lseek` and `close`.
//!
//! Flushing: `fdatasync(2)` where the target has it, `fsync(2)` elsewhere (Apple),
//! which syncs a superset of what `fdatasync` does.

use std::io;
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};

use super::IoVec;

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

/// Runs `call` on a std file that borrows `fd` (and never closes it).
pub(crate) fn with_file<R>(fd: RawFd, call: impl FnOnce(&std::fs::File) -> R) -> R {
    // SAFETY: the caller keeps `fd` open for the call (an op or a pool call holds the
    // file's `FdRef`), and `ManuallyDrop` keeps the temporary std file from closing it.
    let file = std::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd)
    });
    call(&file)
}

/// `pread`, or `read` at the file position (`offset` `None`): up to `len` bytes into
/// `buf`.
///
/// # Safety
///
/// `buf` is valid for writes of `len` bytes.
pub(crate) unsafe fn read(
    fd: RawFd,
    buf: *mut u8,
    len: usize,
    offset: Option<u64>,
) -> io::Result<usize> {
    let len = len.min(isize::MAX as usize);
    let read = match offset {
        // SAFETY: the caller guarantees `buf` is valid for writes of `len` bytes.
        Some(offset) => unsafe { libc::pread(fd, buf.cast(), len, offset as _) },
        // SAFETY: as above.
        None => unsafe { libc::read(fd, buf.cast(), len) },
    };
    count(read)
}

/// `pwrite`, or `write` at the file position (`offset` `None`): up to `len` bytes from
/// `buf`.
///
/// # Safety
///
/// `buf` is valid for reads of `len` initialised bytes.
pub(crate) unsafe fn write(
    fd: RawFd,
    buf: *const u8,
    len: usize,
    offset: Option<u64>,
) -> io::Result<usize> {
    let len = len.min(isize::MAX as usize);
    let written = match offset {
        // SAFETY: the caller guarantees `buf` is valid for reads of `len` bytes.
        Some(offset) => unsafe { libc::pwrite(fd, buf.cast(), len, offset as _) },
        // SAFETY: as above.
        None => unsafe { libc::write(fd, buf.cast(), len) },
    };
    count(written)
}

/// `preadv`, or `readv` at the file position.
///
/// # Safety
///
/// Every vector's `iov_base` is valid for writes of its `iov_len` bytes.
pub(crate) unsafe fn read_vectored(
    fd: RawFd,
    iovecs: &[IoVec],
    offset: Option<u64>,
) -> io::Result<usize> {
    let vectors = iovecs.len() as libc::c_int;
    let read = match offset {
        // SAFETY: the caller guarantees the vectors are valid for writes.
        Some(offset) => unsafe { libc::preadv(fd, iovecs.as_ptr(), vectors, offset as _) },
        // SAFETY: as above.
        None => unsafe { libc::readv(fd, iovecs.as_ptr(), vectors) },
    };
    count(read)
}

/// `pwritev`, or `writev` at the file position.
///
/// # Safety
///
/// Every vector's `iov_base` is valid for reads of its `iov_len` initialised bytes.
pub(crate) unsafe fn write_vectored(
    fd: RawFd,
    iovecs: &[IoVec],
    offset: Option<u64>,
) -> io::Result<usize> {
    let vectors = iovecs.len() as libc::c_int;
    let written = match offset {
        // SAFETY: the caller guarantees the vectors are valid for reads.
        Some(offset) => unsafe { libc::pwritev(fd, iovecs.as_ptr(), vectors, offset as _) },
        // SAFETY: as above.
        None => unsafe { libc::writev(fd, iovecs.as_ptr(), vectors) },
    };
    count(written)
}

/// `preadv2(..., RWF_NOWAIT)` (Linux): the read if the page cache can serve it at once
/// (`OpCode::attempt_nowait`). `None` when it would block, or this kernel or file
/// system has no non-blocking reads (then nothing was read); always `None` elsewhere.
///
/// # Safety
///
/// Every vector's `iov_base` is valid for writes of its `iov_len` bytes.
pub(crate) unsafe fn read_nowait(
    fd: RawFd,
    iovecs: &[IoVec],
    offset: Option<u64>,
) -> Option<io::Result<usize>> {
    #[cfg(target_os = "linux")]
    {
        use std::sync::atomic::{AtomicBool, Ordering};

        /// Set once the kernel said it has no `preadv2` (before 4.6).
        static NO_PREADV2: AtomicBool = AtomicBool::new(false);

        if NO_PREADV2.load(Ordering::Relaxed) {
            return None;
        }
        let vectors = iovecs.len() as libc::c_int;
        // -1: the file position (the caller refused offsets above `i64::MAX`).
        let offset = offset.map_or(-1, |offset| offset as i64);
        // SAFETY: the caller guarantees the vectors are valid for writes.
        let read = unsafe { libc::preadv2(fd, iovecs.as_ptr(), vectors, offset, libc::RWF_NOWAIT) };
        match count(read) {
            Ok(read) => Some(Ok(read)),
            Err(error) => match error.raw_os_error() {
                // Not in the page cache (or a lock is held): the pool waits for it.
                Some(libc::EAGAIN) => None,
                // No RWF_NOWAIT for this file (its file system, or a kernel before
                // 4.14 that does not know the flag): the pool's plain read decides,
                // and reports the real error if the read itself is invalid.
                Some(libc::EOPNOTSUPP | libc::EINVAL) => None,
                Some(libc::ENOSYS) => {
                    NO_PREADV2.store(true, Ordering::Relaxed);
                    None
                }
                _ => Some(Err(error)),
            },
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (fd, iovecs, offset);
        None
    }
}

/// `ftruncate(2)` to `len` bytes; `EINVAL` above `off_t`'s range.
pub(crate) fn set_len(fd: RawFd, len: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len).map_err(|_| super::invalid_input())?;
    // SAFETY: a syscall on an fd the caller keeps open; no memory is passed.
    if unsafe { libc::ftruncate(fd, len) } < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `lseek(2)`: moves the file position and returns the new one. `EINVAL` for a start
/// offset above `i64::MAX`.
pub(crate) fn seek(fd: RawFd, position: std::io::SeekFrom) -> io::Result<u64> {
    let (whence, offset) = match position {
        std::io::SeekFrom::Start(offset) => (
            libc::SEEK_SET,
            i64::try_from(offset).map_err(|_| super::invalid_input())?,
        ),
        std::io::SeekFrom::End(offset) => (libc::SEEK_END, offset),
        std::io::SeekFrom::Current(offset) => (libc::SEEK_CUR, offset),
    };
    // SAFETY: a syscall on an fd the caller keeps open; no memory is passed.
    let position = unsafe { libc::lseek(fd, offset as _, whence) };
    if position < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(position as u64)
}

/// `close(2)`, reporting its error. Whatever it returns, the fd is gone afterwards
/// (Linux closes it even on `EINTR`), so it is never retried.
pub(crate) fn close(fd: OwnedFd) -> io::Result<()> {
    // SAFETY: `into_raw_fd` hands over the only owner of the fd, so closing it here
    // closes nothing anyone else owns, and nothing closes it again.
    if unsafe { libc::close(fd.into_raw_fd()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A syscall's `ssize_t` as a count, or the errno.
fn count(result: isize) -> io::Result<usize> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result as usize)
    }
}
