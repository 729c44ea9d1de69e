//! Cursor I/O on a [`File`]: the owned-buffer stream traits
//! ([`AsyncReadOwned`], [`AsyncWriteOwned`]) and [`File::seek`], at the file position
//! the kernel keeps for the fd (offset `-1` in the ops: `op::file_offset`).
//!
//! The position is the kernel's, not a copy in the `File`: it is shared with
//! [`File::try_clone`]s and with the std file from `into_std`, and each read or write
//! advances it by what it transferred. The traits take `&mut self`, so one `File` has
//! one cursor operation at a time; positional I/O (`read_at`, ...) never moves it. A
//! cursor read or write whose future was dropped may still complete in the kernel
//! (io_uring) or on the blocking pool (mio) and move the position: after dropping one,
//! `seek` to where you want to be.

use std::io::{self, SeekFrom};

use super::file::File;
use super::positional::Start;
use crate::io::{AsyncReadOwned, AsyncWriteOwned, BufResult, IoBuf, IoBufMut};
use crate::op;
use crate::op::file_offset::FileOffset;
use crate::op::read_at::ReadAt;
use crate::op::readv_at::ReadvAt;
use crate::op::write_at::WriteAt;
use crate::op::writev_at::WritevAt;

impl File {
    /// Moves the file position (`lseek(2)`, run inline: it never waits for the device)
    /// and returns the new position from the start of the file. With the `tokio-io` or
    /// `futures-io` feature this is the poll traits' seek too (see `fs::poll_io`): it
    /// first waits for their op in flight (reporting a write's error), and
    /// `SeekFrom::Current` is from the position they have read to.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a position before the start (or above `i64::MAX`).
    ///
    /// ```
    /// use std::io::SeekFrom;
    ///
    /// use ringtide::fs::File;
    /// use ringtide::io::AsyncReadOwned;
    ///
    /// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let mut file = File::open("/proc/self/cmdline").await?;
    /// let (read, first) = file.read_owned(Vec::with_capacity(1)).await;
    /// assert_eq!(read?, 1);
    /// assert_eq!(file.seek(SeekFrom::Current(0)).await?, 1);
    /// file.seek(SeekFrom::Start(0)).await?;
    /// let (read, again) = file.read_owned(Vec::with_capacity(1)).await;
    /// assert_eq!((read?, again), (1, first));
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        // With the poll traits: the same seek as theirs (it waits for their op in
        // flight and counts their read-ahead as not yet read), so this inherent method,
        // which shadows `AsyncSeekExt::seek`, agrees with it.
        #[cfg(any(feature = "tokio-io", feature = "futures-io"))]
        {
            self.start_poll_seek(pos);
            std::future::poll_fn(|cx| self.poll_seek_done(cx)).await
        }
        #[cfg(not(any(feature = "tokio-io", feature = "futures-io")))]
        {
            crate::sys::file::seek(self.raw(), pos)
        }
    }

    async fn read_cursor<B: IoBufMut>(&self, buf: B, start: usize) -> BufResult<usize, B> {
        op::run(
            None,
            ReadAt::new(self.share(), buf, start, FileOffset::Position),
        )
        .await
    }

    async fn write_cursor<B: IoBuf>(&self, buf: B, start: usize) -> BufResult<usize, B> {
        op::run(
            None,
            WriteAt::new(self.share(), buf, start, FileOffset::Position),
        )
        .await
    }
}

/// Reads at the file position, advancing it. `Ok(0)`: the end of the file.
impl AsyncReadOwned for File {
    fn read_owned<B: IoBufMut>(
        &mut self,
        buf: B,
    ) -> impl Future<Output = BufResult<usize, B>> + Send {
        self.read_cursor(buf, 0)
    }

    fn read_exact_owned<B: IoBufMut>(
        &mut self,
        buf: B,
    ) -> impl Future<Output = BufResult<(), B>> + Send {
        self.read_exact_from(buf, Start::Position)
    }

    fn readv_owned<B: IoBufMut>(
        &mut self,
        bufs: Vec<B>,
    ) -> impl Future<Output = BufResult<usize, Vec<B>>> + Send {
        op::run(None, ReadvAt::new(self.share(), bufs, FileOffset::Position))
    }
}

/// Writes at the file position (at the end, for a file opened for appending),
/// advancing it.
impl AsyncWriteOwned for File {
    fn write_owned<B: IoBuf>(
        &mut self,
        buf: B,
    ) -> impl Future<Output = BufResult<usize, B>> + Send {
        self.write_cursor(buf, 0)
    }

    fn write_all_owned<B: IoBuf>(
        &mut self,
        buf: B,
    ) -> impl Future<Output = BufResult<(), B>> + Send {
        self.write_all_from(buf, Start::Position)
    }

    fn writev_owned<B: IoBuf>(
        &mut self,
        bufs: Vec<B>,
    ) -> impl Future<Output = BufResult<usize, Vec<B>>> + Send {
        op::run(
            None,
            WritevAt::new(self.share(), bufs, FileOffset::Position),
        )
    }
}
