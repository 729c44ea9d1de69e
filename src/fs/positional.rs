//! Positional I/O on a [`File`]: `read_at`, `write_at`, `read_exact_at`,
//! `write_all_at`. Each call is one op (`op::read_at`, `op::write_at`) at an explicit
//! offset: the file position is neither used nor moved, so reads and writes of one
//! file can run concurrently from `&self`. The fill-the-buffer and write-it-all loops
//! serve the cursor's `read_exact_owned`/`write_all_owned` too ([`Start::Position`]).

use std::io;

use super::file::File;
use crate::io::owned_loop;
use crate::io::{BufResult, IoBuf, IoBufMut};
use crate::op;
use crate::op::file_offset::FileOffset;
use crate::op::read_at::ReadAt;
use crate::op::write_at::WriteAt;

impl File {
    /// Reads into `buf` (from its start, up to its capacity) the bytes at `pos`, and
    /// returns how many were read (`Ok(0)` at the end of the file, or for a
    /// zero-capacity buffer) with the buffer. Fewer bytes than asked for is not an
    /// error: the end of the file, or (mio) only part was in the page cache.
    ///
    /// At most `0x7ffff000` bytes per call on Linux (a larger buffer gives a short
    /// read, its length is never wrapped).
    ///
    /// io_uring: one READ. mio: `preadv2(RWF_NOWAIT)` inline when the page cache has
    /// the bytes, else `pread` on the blocking pool.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `pos` above `i64::MAX` (as std's `read_at`); `EBADF` when the
    /// file is not open for reading; `IsADirectory` for a directory.
    ///
    /// ```
    /// use ringtide::fs::File;
    ///
    /// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let file = File::open("/proc/self/cmdline").await?;
    /// let (read, buf) = file.read_at(Vec::with_capacity(4096), 0).await;
    /// assert_eq!(read?, buf.len());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn read_at<B: IoBufMut>(&self, buf: B, pos: u64) -> BufResult<usize, B> {
        let offset = match FileOffset::at(pos) {
            Ok(offset) => offset,
            Err(error) => return (Err(error), buf),
        };
        op::run(None, ReadAt::new(self.share(), buf, 0, offset)).await
    }

    /// Fills `buf` to its capacity with the bytes at `pos`.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` when the file ends first (the bytes that were there are in the
    /// buffer, its length says how many); otherwise as [`read_at`](File::read_at).
    pub async fn read_exact_at<B: IoBufMut>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        self.read_exact_from(buf, Start::Offset(pos)).await
    }

    /// Writes `buf`'s initialised bytes at `pos` once, and returns how many were
    /// written with the buffer. On a file opened for appending, Linux writes at the end
    /// whatever `pos` says (as `pwrite(2)` does).
    ///
    /// io_uring: one WRITE. mio: `pwrite` on the blocking pool.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `pos` above `i64::MAX`; `EBADF` when the file is not open for
    /// writing.
    pub async fn write_at<B: IoBuf>(&self, buf: B, pos: u64) -> BufResult<usize, B> {
        let offset = match FileOffset::at(pos) {
            Ok(offset) => offset,
            Err(error) => return (Err(error), buf),
        };
        op::run(None, WriteAt::new(self.share(), buf, 0, offset)).await
    }

    /// Writes all of `buf`'s initialised bytes at `pos`.
    ///
    /// # Errors
    ///
    /// `WriteZero` when the file takes no more bytes; otherwise as
    /// [`write_at`](File::write_at). Some bytes may have been written before an error.
    pub async fn write_all_at<B: IoBuf>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        self.write_all_from(buf, Start::Offset(pos)).await
    }

    /// Reads until `buf` is full, from `start` on; `UnexpectedEof` when the file ends
    /// first. (`read_exact_at`, and the cursor's `read_exact_owned`.)
    pub(super) async fn read_exact_from<B: IoBufMut>(
        &self,
        buf: B,
        start: Start,
    ) -> BufResult<(), B> {
        owned_loop::fill(buf, "file", |buf, filled| async move {
            match start.after(filled) {
                Ok(offset) => op::run(None, ReadAt::new(self.share(), buf, filled, offset)).await,
                Err(error) => (Err(error), buf),
            }
        })
        .await
    }

    /// Writes all of `buf`'s initialised bytes, from `start` on; `WriteZero` when the
    /// file takes no more. (`write_all_at`, and the cursor's `write_all_owned`.)
    pub(super) async fn write_all_from<B: IoBuf>(&self, buf: B, start: Start) -> BufResult<(), B> {
        owned_loop::drain(buf, "file", |buf, written| async move {
            match start.after(written) {
                Ok(offset) => op::run(None, WriteAt::new(self.share(), buf, written, offset)).await,
                Err(error) => (Err(error), buf),
            }
        })
        .await
    }
}

/// Where a loop of reads or writes starts.
#[derive(Clone, Copy, Debug)]
pub(super) enum Start {
    /// At this offset; the file position does not move.
    Offset(u64),
    /// At the file position, which each transfer advances.
    Position,
}

impl Start {
    /// The offset of the op that follows `done` bytes.
    fn after(self, done: usize) -> io::Result<FileOffset> {
        match self {
            Start::Offset(pos) => pos
                .checked_add(done as u64)
                .ok_or_else(crate::sys::invalid_input)
                .and_then(FileOffset::at),
            Start::Position => Ok(FileOffset::Position),
        }
    }
}
