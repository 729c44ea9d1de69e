//! [`FileOffset`]: where a file op reads or writes, an explicit offset or the fd's file
//! position, and the positioned syscalls of the ops' readiness halves.
//!
//! The kernel names the file position with offset `-1` (`u64::MAX` in an SQE, `-1` for
//! `preadv2`); an explicit offset above `i64::MAX` would alias it, so [`FileOffset::at`]
//! refuses those with `EINVAL`, as `pread(2)` does for a negative offset (std's
//! `read_at` reports the same `InvalidInput`).

use std::io;
use std::os::fd::RawFd;

/// Where a file op transfers its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileOffset {
    /// At this offset; the file position is neither used nor moved.
    At(u64),
    /// At the fd's file position, which the op advances by the bytes it transfers.
    Position,
}

impl FileOffset {
    /// An explicit offset; `EINVAL` above `i64::MAX` (the kernel's `loff_t`).
    pub(crate) fn at(offset: u64) -> io::Result<FileOffset> {
        if i64::try_from(offset).is_err() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        Ok(FileOffset::At(offset))
    }

    /// The offset an SQE takes: `u64::MAX` (-1) for the file position.
    #[cfg(ringtide_uring)]
    pub(crate) fn kernel(self) -> u64 {
        match self {
            FileOffset::At(offset) => offset,
            FileOffset::Position => u64::MAX,
        }
    }

    /// The offset `preadv2`/`pwritev2` take: -1 for the file position.
    #[cfg(target_os = "linux")]
    pub(crate) fn signed(self) -> i64 {
        match self {
            // `at` refused offsets above `i64::MAX`.
            FileOffset::At(offset) => offset as i64,
            FileOffset::Position => -1,
        }
    }

    /// `pread`, or `read` at the file position: up to `len` bytes into `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for writes of `len` bytes.
    pub(crate) unsafe fn read(self, fd: RawFd, ptr: *mut u8, len: usize) -> io::Result<usize> {
        let len = len.min(isize::MAX as usize);
        let read = match self {
            // SAFETY: the caller guarantees `ptr` is valid for writes of `len` bytes.
            FileOffset::At(offset) => unsafe { libc::pread(fd, ptr.cast(), len, offset as _) },
            // SAFETY: as above.
            FileOffset::Position => unsafe { libc::read(fd, ptr.cast(), len) },
        };
        syscall_count(read)
    }

    /// `pwrite`, or `write` at the file position: up to `len` bytes from `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for reads of `len` initialised bytes.
    pub(crate) unsafe fn write(self, fd: RawFd, ptr: *const u8, len: usize) -> io::Result<usize> {
        let len = len.min(isize::MAX as usize);
        let written = match self {
            // SAFETY: the caller guarantees `ptr` is valid for reads of `len` bytes.
            FileOffset::At(offset) => unsafe { libc::pwrite(fd, ptr.cast(), len, offset as _) },
            // SAFETY: as above.
            FileOffset::Position => unsafe { libc::write(fd, ptr.cast(), len) },
        };
        syscall_count(written)
    }

    /// `preadv`, or `readv` at the file position.
    ///
    /// # Safety
    ///
    /// Every vector's `iov_base` is valid for writes of its `iov_len` bytes.
    pub(crate) unsafe fn read_vectored(
        self,
        fd: RawFd,
        iovecs: &[libc::iovec],
    ) -> io::Result<usize> {
        let count = iovecs.len() as libc::c_int;
        let read = match self {
            // SAFETY: the caller guarantees the vectors are valid for writes.
            FileOffset::At(offset) => unsafe {
                libc::preadv(fd, iovecs.as_ptr(), count, offset as _)
            },
            // SAFETY: as above.
            FileOffset::Position => unsafe { libc::readv(fd, iovecs.as_ptr(), count) },
        };
        syscall_count(read)
    }

    /// `pwritev`, or `writev` at the file position.
    ///
    /// # Safety
    ///
    /// Every vector's `iov_base` is valid for reads of its `iov_len` initialised bytes.
    pub(crate) unsafe fn write_vectored(
        self,
        fd: RawFd,
        iovecs: &[libc::iovec],
    ) -> io::Result<usize> {
        let count = iovecs.len() as libc::c_int;
        let written = match self {
            // SAFETY: the caller guarantees the vectors are valid for reads.
            FileOffset::At(offset) => unsafe {
                libc::pwritev(fd, iovecs.as_ptr(), count, offset as _)
            },
            // SAFETY: as above.
            FileOffset::Position => unsafe { libc::writev(fd, iovecs.as_ptr(), count) },
        };
        syscall_count(written)
    }

    /// `preadv2(..., RWF_NOWAIT)`: the read if the page cache can serve it at once
    /// (`OpCode::attempt_nowait`). `None` when it would block, or this kernel or file
    /// system has no non-blocking reads (then nothing was read).
    ///
    /// # Safety
    ///
    /// Every vector's `iov_base` is valid for writes of its `iov_len` bytes.
    pub(crate) unsafe fn read_nowait(
        self,
        fd: RawFd,
        iovecs: &[libc::iovec],
    ) -> Option<io::Result<usize>> {
        #[cfg(target_os = "linux")]
        {
            use std::sync::atomic::{AtomicBool, Ordering};

            /// Set once the kernel said it has no `preadv2` (before 4.6).
            static NO_PREADV2: AtomicBool = AtomicBool::new(false);

            if NO_PREADV2.load(Ordering::Relaxed) {
                return None;
            }
            let count = iovecs.len() as libc::c_int;
            // SAFETY: the caller guarantees the vectors are valid for writes.
            let read = unsafe {
                libc::preadv2(fd, iovecs.as_ptr(), count, self.signed(), libc::RWF_NOWAIT)
            };
            match syscall_count(read) {
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
            let _ = (fd, iovecs);
            None
        }
    }
}

/// A syscall's `ssize_t` as a count, or the errno.
fn syscall_count(result: isize) -> io::Result<usize> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_above_i64_max_are_refused_as_pread_does() {
        assert_eq!(FileOffset::at(0).unwrap(), FileOffset::At(0));
        assert_eq!(
            FileOffset::at(i64::MAX as u64).unwrap(),
            FileOffset::At(i64::MAX as u64)
        );
        let error = FileOffset::at(i64::MAX as u64 + 1).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(
            FileOffset::at(u64::MAX).is_err(),
            "would alias the file position"
        );
    }
}
