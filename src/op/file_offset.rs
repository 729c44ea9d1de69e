//! [`FileOffset`]: where a file op reads or writes, an explicit offset or the fd's file
//! position, and the positioned calls of the ops' readiness halves (the platform's, in
//! `sys::file`; on Windows an explicit offset moves the file position too, see there).
//!
//! The kernel names the file position with offset `-1` (`u64::MAX` in an SQE, `-1` for
//! `preadv2`); an explicit offset above `i64::MAX` would alias it, so [`FileOffset::at`]
//! refuses those with `EINVAL`, as `pread(2)` does for a negative offset (std's
//! `read_at` reports the same `InvalidInput`).

use std::io;

use crate::sys::{IoVec, RawFile, file};

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
            return Err(crate::sys::invalid_input());
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

    /// The offset the platform calls take: `None` for the file position.
    fn explicit(self) -> Option<u64> {
        match self {
            FileOffset::At(offset) => Some(offset),
            FileOffset::Position => None,
        }
    }

    /// `pread`, or `read` at the file position: up to `len` bytes into `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for writes of `len` bytes.
    pub(crate) unsafe fn read(self, fd: RawFile, ptr: *mut u8, len: usize) -> io::Result<usize> {
        // SAFETY: the caller's contract.
        unsafe { file::read(fd, ptr, len, self.explicit()) }
    }

    /// `pwrite`, or `write` at the file position: up to `len` bytes from `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for reads of `len` initialised bytes.
    pub(crate) unsafe fn write(self, fd: RawFile, ptr: *const u8, len: usize) -> io::Result<usize> {
        // SAFETY: the caller's contract.
        unsafe { file::write(fd, ptr, len, self.explicit()) }
    }

    /// `preadv`, or `readv` at the file position.
    ///
    /// # Safety
    ///
    /// Every vector's `iov_base` is valid for writes of its `iov_len` bytes.
    pub(crate) unsafe fn read_vectored(self, fd: RawFile, iovecs: &[IoVec]) -> io::Result<usize> {
        // SAFETY: the caller's contract.
        unsafe { file::read_vectored(fd, iovecs, self.explicit()) }
    }

    /// `pwritev`, or `writev` at the file position.
    ///
    /// # Safety
    ///
    /// Every vector's `iov_base` is valid for reads of its `iov_len` initialised bytes.
    pub(crate) unsafe fn write_vectored(self, fd: RawFile, iovecs: &[IoVec]) -> io::Result<usize> {
        // SAFETY: the caller's contract.
        unsafe { file::write_vectored(fd, iovecs, self.explicit()) }
    }

    /// `preadv2(..., RWF_NOWAIT)` (Linux): the read if the page cache can serve it at
    /// once (`OpCode::attempt_nowait`). `None` when it would block, or this kernel or
    /// file system has no non-blocking reads, or the platform has none (then nothing
    /// was read).
    ///
    /// # Safety
    ///
    /// Every vector's `iov_base` is valid for writes of its `iov_len` bytes.
    pub(crate) unsafe fn read_nowait(
        self,
        fd: RawFile,
        iovecs: &[IoVec],
    ) -> Option<io::Result<usize>> {
        // SAFETY: the caller's contract.
        unsafe { file::read_nowait(fd, iovecs, self.explicit()) }
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
