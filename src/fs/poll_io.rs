//! tokio's and futures' poll traits on [`File`] (features `tokio-io` / `futures-io`):
//! `AsyncRead`, `AsyncWrite`, `AsyncSeek` and `AsyncBufRead`, over one internal buffer,
//! so `tokio::io::copy(&mut file, &mut socket)` and `BufReader::new(file).lines()` work.
//!
//! Files have no readiness, so unlike the stream impls (`net::poll_io`) these are
//! completion-based, as `tokio::fs::File` is: the `File` keeps a [`PollState`] that is
//! either idle, holding the buffer (maybe with read-ahead bytes not yet handed out), or
//! busy with one owned-buffer op that took the buffer:
//!
//! * `poll_read` / `poll_fill_buf`: bytes left in the buffer come first. With none, a
//!   READ at the file position (`op::read_at`, the same op as `read_owned`: inline
//!   `preadv2(RWF_NOWAIT)` first, see `op::run`) fills the buffer, and as much as the
//!   caller takes is copied out; the rest stays for the next call.
//! * `poll_write`: waits for an op in flight, puts the kernel position back behind
//!   read-ahead bytes (`lseek`), copies the caller's bytes into the buffer, starts a
//!   write-it-all op at the file position and returns `Ready(n)` at once
//!   (write-behind). A write's error comes back from the next `poll_write`,
//!   `poll_flush`, `poll_read` or seek, as with tokio.
//! * `poll_flush` waits for the write in flight; `poll_shutdown` / `poll_close` flush
//!   (the fd stays open until the `File` goes).
//! * Seeks (`start_seek` + `poll_complete`, futures' `poll_seek`): wait for the op in
//!   flight, then `lseek` inline (it never waits for a device) relative to the logical
//!   position: `SeekFrom::Current` counts the read-ahead bytes as not yet read. The
//!   read-ahead is discarded.
//!
//! # Buffer size
//!
//! A read asks for what the caller's buffer has room for, but at least 64 KiB and at
//! most 2 MiB (tokio's cap); a write takes at most 2 MiB of the caller's bytes per call.
//! The floor: every op is a syscall (a page-cache hit) or an SQE, and on mio a miss is
//! a ~25 µs pool round trip, so `BufReader`'s 8 KiB reads and `copy`'s 8 KiB chunks
//! would pay that eight times as often; 64 KiB is where sequential reads from the page
//! cache stop getting faster per byte. The cap bounds the memory a `File` holds and the
//! bytes a cancelled op can lose. The buffer's allocation is kept from op to op.
//!
//! # Mixing with the owned-buffer methods
//!
//! Positional I/O (`read_at`, `write_at`, ...) never uses the file position, so it mixes
//! freely (a positional read does not see bytes of a write still in flight: flush
//! first). [`File::seek`] is this module's seek (the same as `AsyncSeekExt::seek`,
//! which it shadows). The other cursor methods (`read_owned`, `write_owned`, ...) use
//! the kernel's file position, which read-ahead has moved past what the poll side handed
//! out and an unflushed write has not reached yet: before switching from the poll
//! traits to them, `flush` (after writing) or `seek` (after reading, which discards the read-ahead and sets the kernel position to the logical
//! one). As with tokio, keeping the two apart is the caller's job.
//! [`File::close`] and [`File::into_std`] wait for a poll-side write in flight first.
//!
//! # Cancel safety
//!
//! The op in flight owns the buffer and a hold on the fd (`FdRef`): dropping the `File`
//! drops the op's future, which cancels it like any dropped op (see `op::run`); the
//! kernel or the pool thread keeps the buffer until it is done and the fd is closed
//! after that. A write still in flight may then have written some, all or none of its
//! bytes: flush before dropping (or use `close`). Dropping a future of `tokio::io`'s
//! helpers (`read`, `write_all`, ...) between polls leaves the op running inside the
//! `File`: its outcome is picked up by the next call.

use std::future::Future;
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use super::file::File;
use crate::io::owned_loop;
use crate::io::shared_fd::FileRef;
use crate::op;
use crate::op::file_offset::FileOffset;
use crate::op::read_at::ReadAt;
use crate::op::write_at::WriteAt;
use crate::sys::RawFile;

/// The least a poll-side read asks the kernel for.
const MIN_READ: usize = 64 * 1024;
/// The most one op reads or writes (tokio's `DEFAULT_MAX_BUF_SIZE`).
const MAX_BUF: usize = 2 * 1024 * 1024;

/// What an op of the poll path gives back: its result and the buffer.
enum Outcome {
    Read(io::Result<usize>, Vec<u8>),
    Write(io::Result<()>, Vec<u8>),
}

type Pending = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// The poll path's state, in a `Mutex` only so that `File` stays `Sync` (the boxed op
/// is `Send`, not `Sync`); the traits reach it through `&mut`, `Mutex::get_mut`, never
/// locking.
#[derive(Default)]
pub(super) struct PollState(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    /// The buffer, while idle (`None` while an op has it).
    buf: Option<Vec<u8>>,
    /// Read-ahead: `buf[read_pos..]` are bytes read but not handed out. Zero (and the
    /// buffer empty) after a write.
    read_pos: usize,
    /// The op in flight.
    pending: Option<Pending>,
    /// Whether that op is a read (else a write).
    pending_is_read: bool,
    /// The error of a completed write, for the next call.
    write_error: Option<io::Error>,
    /// A seek started (`start_seek`) and not yet done.
    seek: Option<SeekFrom>,
}

impl PollState {
    fn inner(&mut self) -> &mut Inner {
        self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// Bytes read ahead and not handed out.
    fn unread(&self) -> &[u8] {
        self.buf.as_deref().map_or(&[], |buf| &buf[self.read_pos..])
    }

    /// Drives the op in flight to completion (Ready at once when none is).
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(pending) = self.pending.as_mut() {
            let outcome = ready!(pending.as_mut().poll(cx));
            self.pending = None;
            self.pending_is_read = false;
            match outcome {
                Outcome::Read(result, buf) => {
                    self.buf = Some(buf);
                    self.read_pos = 0;
                    if let Err(error) = result {
                        return Poll::Ready(Err(error));
                    }
                }
                Outcome::Write(result, mut buf) => {
                    buf.clear();
                    self.buf = Some(buf);
                    self.read_pos = 0;
                    if let Err(error) = result {
                        self.write_error = Some(error);
                    }
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Starts a write, polling it once so it is submitted (or done inline) now; its
    /// outcome, if already there, is kept for the next call.
    fn start_write(&mut self, cx: &mut Context<'_>, write: Pending) {
        self.pending = Some(write);
        // A write's completion never fails here: its error goes to `write_error`.
        let _ = self.poll_pending(cx);
    }

    fn take_write_error(&mut self) -> io::Result<()> {
        self.write_error.take().map_or(Ok(()), Err)
    }

    /// Fills the buffer with a read at the file position unless it holds read-ahead;
    /// Ready once the unread bytes are there (none: the end of the file).
    fn poll_fill(
        &mut self,
        fd: &FileRef,
        cx: &mut Context<'_>,
        want: usize,
    ) -> Poll<io::Result<()>> {
        if self.pending_is_read {
            // Its outcome is the answer, the end of the file included.
            return self.poll_pending(cx);
        }
        ready!(self.poll_pending(cx))?;
        self.take_write_error()?;
        if !self.unread().is_empty() {
            return Poll::Ready(Ok(()));
        }
        let mut buf = self.buf.take().unwrap_or_default();
        buf.clear();
        buf.reserve_exact(want.clamp(MIN_READ, MAX_BUF));
        let fd = fd.clone();
        self.read_pos = 0;
        self.pending_is_read = true;
        self.pending = Some(Box::pin(async move {
            let (result, buf) = op::run(None, ReadAt::new(fd, buf, 0, FileOffset::Position)).await;
            Outcome::Read(result, buf)
        }));
        self.poll_pending(cx)
    }

    /// Copies up to `dst.len()` unread bytes out.
    #[cfg(feature = "futures-io")]
    fn copy_out(&mut self, dst: &mut [u8]) -> usize {
        let unread = self.unread();
        let count = unread.len().min(dst.len());
        dst[..count].copy_from_slice(&unread[..count]);
        self.read_pos += count;
        count
    }

    /// Puts the kernel position back behind the read-ahead and drops it.
    fn discard_read_ahead(&mut self, raw_fd: RawFile) -> io::Result<()> {
        let unread = self.unread().len();
        if unread > 0 {
            lseek(raw_fd, SeekFrom::Current(-(unread as i64)))?;
        }
        if let Some(buf) = self.buf.as_mut() {
            buf.clear();
        }
        self.read_pos = 0;
        Ok(())
    }

    fn poll_write(
        &mut self,
        fd: &FileRef,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        self.take_write_error()?;
        self.discard_read_ahead(fd.raw())?;
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let count = src.len().min(MAX_BUF);
        let mut buf = self.buf.take().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(&src[..count]);
        let fd = fd.clone();
        self.start_write(
            cx,
            Box::pin(async move {
                let (result, buf) = write_all(fd, buf).await;
                Outcome::Write(result, buf)
            }),
        );
        Poll::Ready(Ok(count))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Poll::Ready(self.take_write_error())
    }

    /// Completes the op in flight and the seek started, if any; Ready with the logical
    /// position.
    fn poll_seek_complete(
        &mut self,
        raw_fd: RawFile,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<u64>> {
        let result = ready!(self.poll_pending(cx)).and_then(|()| self.take_write_error());
        let seek = self.seek.take();
        result?;
        let unread = self.unread().len() as i64;
        let Some(seek) = seek else {
            // No seek: where the caller is (the kernel's position less the read-ahead).
            let kernel = lseek(raw_fd, SeekFrom::Current(0))?;
            return Poll::Ready(Ok(kernel - unread as u64));
        };
        let target = match seek {
            SeekFrom::Current(offset) => SeekFrom::Current(
                offset
                    .checked_sub(unread)
                    .ok_or_else(crate::sys::invalid_input)?,
            ),
            other => other,
        };
        let position = lseek(raw_fd, target)?;
        if let Some(buf) = self.buf.as_mut() {
            buf.clear();
        }
        self.read_pos = 0;
        Poll::Ready(Ok(position))
    }
}

/// Writes all of `buf` at the file position (a loop of WRITE ops), giving it back.
async fn write_all(fd: FileRef, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
    owned_loop::drain(buf, "file", |buf, written| {
        op::run(
            None,
            WriteAt::new(fd.clone(), buf, written, FileOffset::Position),
        )
    })
    .await
}

/// `lseek(2)` on `raw_fd` (`SetFilePointerEx` on Windows); the new position.
fn lseek(raw_fd: RawFile, pos: SeekFrom) -> io::Result<u64> {
    crate::sys::file::seek(raw_fd, pos)
}

impl File {
    /// The poll path's state and a hold on the fd for its ops.
    fn poll_parts(&mut self) -> (&mut Inner, FileRef) {
        let fd = self.share();
        (self.poll_state().inner(), fd)
    }

    /// Waits for a poll-side op in flight and reports a write's error (`close`,
    /// `into_std`).
    pub(super) async fn finish_poll_ops(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_state().inner().poll_flush(cx)).await
    }

    #[cfg(feature = "futures-io")]
    fn poll_read_into(&mut self, cx: &mut Context<'_>, dst: &mut [u8]) -> Poll<io::Result<usize>> {
        if dst.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let (inner, fd) = self.poll_parts();
        ready!(inner.poll_fill(&fd, cx, dst.len()))?;
        Poll::Ready(Ok(inner.copy_out(dst)))
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let (inner, fd) = self.poll_parts();
        ready!(inner.poll_fill(&fd, cx, MIN_READ))?;
        Poll::Ready(Ok(inner.unread()))
    }

    fn consume_read_ahead(&mut self, amount: usize) {
        let inner = self.poll_state().inner();
        inner.read_pos = (inner.read_pos + amount).min(inner.buf.as_ref().map_or(0, Vec::len));
    }

    fn poll_write_from(&mut self, cx: &mut Context<'_>, src: &[u8]) -> Poll<io::Result<usize>> {
        let (inner, fd) = self.poll_parts();
        inner.poll_write(&fd, cx, src)
    }

    fn poll_flush_writes(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_state().inner().poll_flush(cx)
    }

    pub(super) fn start_poll_seek(&mut self, pos: SeekFrom) {
        self.poll_state().inner().seek = Some(pos);
    }

    pub(super) fn poll_seek_done(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let raw_fd = self.raw();
        self.poll_state().inner().poll_seek_complete(raw_fd, cx)
    }
}

#[cfg(feature = "tokio-io")]
mod tokio_impls {
    use super::*;

    /// Reads at the logical position through the internal buffer.
    impl tokio::io::AsyncRead for File {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let (inner, fd) = self.get_mut().poll_parts();
            ready!(inner.poll_fill(&fd, cx, buf.remaining()))?;
            let unread = inner.unread();
            let count = unread.len().min(buf.remaining());
            buf.put_slice(&unread[..count]);
            inner.read_pos += count;
            Poll::Ready(Ok(()))
        }
    }

    impl tokio::io::AsyncBufRead for File {
        fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
            self.get_mut().poll_fill(cx)
        }

        fn consume(self: Pin<&mut Self>, amt: usize) {
            self.get_mut().consume_read_ahead(amt);
        }
    }

    /// Write-behind: `Ready(n)` once the bytes are in the buffer and their write
    /// started; errors come back from the next call or `flush`.
    impl tokio::io::AsyncWrite for File {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().poll_write_from(cx, buf)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().poll_flush_writes(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().poll_flush_writes(cx)
        }
    }

    impl tokio::io::AsyncSeek for File {
        fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
            self.get_mut().start_poll_seek(position);
            Ok(())
        }

        fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
            self.get_mut().poll_seek_done(cx)
        }
    }
}

#[cfg(feature = "futures-io")]
mod futures_impls {
    use super::*;

    impl futures_io::AsyncRead for File {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().poll_read_into(cx, buf)
        }
    }

    impl futures_io::AsyncBufRead for File {
        fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
            self.get_mut().poll_fill(cx)
        }

        fn consume(self: Pin<&mut Self>, amt: usize) {
            self.get_mut().consume_read_ahead(amt);
        }
    }

    impl futures_io::AsyncWrite for File {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().poll_write_from(cx, buf)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().poll_flush_writes(cx)
        }

        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().poll_flush_writes(cx)
        }
    }

    /// A seek waits for the op in flight; a new `poll_seek` replaces one not yet done.
    impl futures_io::AsyncSeek for File {
        fn poll_seek(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            pos: SeekFrom,
        ) -> Poll<io::Result<u64>> {
            let this = self.get_mut();
            this.start_poll_seek(pos);
            this.poll_seek_done(cx)
        }
    }
}
