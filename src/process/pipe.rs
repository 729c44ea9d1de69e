//! [`ChildStdin`], [`ChildStdout`], [`ChildStderr`]: the parent's ends of a child's
//! pipes, as ringtide I/O types.
//!
//! Each wraps an [`AsyncFd`] over the pipe fd, switched to non-blocking mode (the
//! parent's end only: the child's end is a separate open file description).
//!
//! * Owned-buffer API ([`AsyncReadOwned`](crate::io::AsyncReadOwned) /
//!   [`AsyncWriteOwned`](crate::io::AsyncWriteOwned)): `read_owned`/`write_owned` are
//!   `AsyncFd::read_owned`/`write_owned` (an io_uring `READ`/`WRITE`, or the syscall on
//!   readiness on mio). `read_exact_owned`/`write_all_owned` loop on the poll path
//!   below, at an offset into the owned buffer. A pipe has no `readv`/`writev` op
//!   here: `readv_owned` reads into the first buffer with room, `writev_owned` writes
//!   the first non-empty buffer (short reads and writes, which the traits allow).
//! * Poll traits (tokio's / futures' `AsyncRead`/`AsyncWrite`, features `tokio-io` /
//!   `futures-io`): a non-blocking `read(2)`/`write(2)`, waiting for readiness after
//!   `EAGAIN` (`AsyncFd`'s poll path, `io::fd_poll`). `poll_flush` is immediate;
//!   `poll_shutdown` is a no-op (drop the `ChildStdin` to close the pipe), as tokio's.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::task::{Context, Poll};

use crate::io::fd_poll::PollDirection;
use crate::io::owned_loop;
use crate::io::{AsyncFd, BufResult, IoBuf, IoBufMut};

/// The shared body of the three pipe types.
#[derive(Debug)]
pub(crate) struct Pipe {
    fd: AsyncFd<OwnedFd>,
}

impl Pipe {
    fn new(fd: OwnedFd) -> io::Result<Pipe> {
        set_nonblocking(fd.as_raw_fd())?;
        Ok(Pipe {
            fd: AsyncFd::new(fd)?,
        })
    }

    fn poll_read_raw(
        &self,
        cx: &mut Context<'_>,
        buf: *mut u8,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        let buf = buf as usize;
        self.fd.poll_io(cx, PollDirection::Read, |fd| {
            // SAFETY: the caller passes `len` writable bytes at `buf`, valid for the call.
            let read = unsafe { libc::read(fd, buf as *mut libc::c_void, len) };
            if read < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(read as usize)
            }
        })
    }

    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_read_raw(cx, buf.as_mut_ptr().cast(), buf.len())
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let (ptr, len) = (buf.as_ptr() as usize, buf.len());
        self.fd.poll_io(cx, PollDirection::Write, |fd| {
            // SAFETY: `buf` is a readable slice for the whole call.
            let written = unsafe { libc::write(fd, ptr as *const libc::c_void, len) };
            if written < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(written as usize)
            }
        })
    }

    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(dead_code, reason = "used by the AsyncWrite impls")
    )]
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        const IOV_MAX: usize = 1024;
        let bufs = &bufs[..bufs.len().min(IOV_MAX)];
        let (ptr, count) = (bufs.as_ptr() as usize, bufs.len());
        self.fd.poll_io(cx, PollDirection::Write, |fd| {
            // SAFETY: `IoSlice` is ABI-compatible with `iovec`; the slices live for the
            // whole call.
            let written =
                unsafe { libc::writev(fd, ptr as *const libc::iovec, count as libc::c_int) };
            if written < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(written as usize)
            }
        })
    }

    async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.fd.read_owned(buf).await
    }

    async fn read_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
        owned_loop::fill(buf, "pipe", |mut buf, filled| async move {
            let total = buf.bytes_total();
            let start = buf.stable_mut_ptr() as usize;
            // SAFETY (of the pointer passed on): `start + filled .. start + total` lies in
            // the buffer's allocation, which `buf` (owned here) keeps alive and in place.
            let result =
                poll_fn(|cx| self.poll_read_raw(cx, (start + filled) as *mut u8, total - filled))
                    .await;
            if let Ok(count) = result
                && filled + count > buf.bytes_init()
            {
                // SAFETY: `read` initialised the bytes up to `filled + count`.
                unsafe { buf.set_init(filled + count) };
            }
            (result, buf)
        })
        .await
    }

    async fn readv<B: IoBufMut>(&self, mut bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        let Some(index) = bufs.iter().position(|buf| buf.bytes_total() > 0) else {
            return (Ok(0), bufs);
        };
        let (result, buf) = self.fd.read_owned(bufs.remove(index)).await;
        bufs.insert(index, buf);
        (result, bufs)
    }

    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.fd.write_owned(buf).await
    }

    async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        owned_loop::drain(buf, "pipe", |buf, written| async move {
            let result = {
                // SAFETY: the initialised bytes of `buf` (owned here) stay in place while
                // it lives.
                let rest = unsafe {
                    std::slice::from_raw_parts(
                        buf.stable_ptr().add(written),
                        buf.bytes_init() - written,
                    )
                };
                poll_fn(|cx| self.poll_write(cx, rest)).await
            };
            (result, buf)
        })
        .await
    }

    async fn writev<B: IoBuf>(&self, mut bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        let Some(index) = bufs.iter().position(|buf| buf.bytes_init() > 0) else {
            return (Ok(0), bufs);
        };
        let (result, buf) = self.fd.write_owned(bufs.remove(index)).await;
        bufs.insert(index, buf);
        (result, bufs)
    }

    fn poll_read_to_end(&self, cx: &mut Context<'_>, out: &mut Vec<u8>) -> Poll<io::Result<()>> {
        loop {
            out.reserve(4096);
            let spare = out.spare_capacity_mut();
            match std::task::ready!(self.poll_read(cx, spare)) {
                Ok(0) => return Poll::Ready(Ok(())),
                Ok(count) => {
                    // SAFETY: `read` initialised `count` bytes of the spare capacity.
                    unsafe { out.set_len(out.len() + count) };
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    fn into_owned_fd(self) -> OwnedFd {
        self.fd.into_inner()
    }
}

/// Reads stdout and stderr (where piped) to end of file, concurrently (a child that
/// fills one pipe while the parent waits on the other would deadlock otherwise).
pub(crate) async fn read_both(
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (mut out_done, mut err_done) = (stdout.is_none(), stderr.is_none());
    poll_fn(|cx| {
        if !out_done {
            if let Poll::Ready(result) = stdout
                .as_ref()
                .expect("piped")
                .0
                .poll_read_to_end(cx, &mut out)
            {
                result?;
                out_done = true;
            }
        }
        if !err_done {
            if let Poll::Ready(result) = stderr
                .as_ref()
                .expect("piped")
                .0
                .poll_read_to_end(cx, &mut err)
            {
                result?;
                err_done = true;
            }
        }
        if out_done && err_done {
            Poll::Ready(Ok::<(), io::Error>(()))
        } else {
            Poll::Pending
        }
    })
    .await?;
    Ok((out, err))
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd the caller owns; errors are checked.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Declares one pipe type over [`Pipe`], with its conversions and fd traits.
macro_rules! pipe_type {
    ($(#[$doc:meta])* $name:ident, $std:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(Pipe);

        impl $name {
            /// Wraps std's pipe end for the current runtime (tokio's `from_std`).
            ///
            /// # Errors
            ///
            /// Outside a runtime with I/O enabled.
            pub fn from_std(inner: $std) -> io::Result<$name> {
                Ok($name(Pipe::new(OwnedFd::from(inner))?))
            }

            /// The pipe's fd, deregistered from the runtime (still non-blocking),
            /// as tokio's `into_owned_fd`.
            pub fn into_owned_fd(self) -> io::Result<OwnedFd> {
                Ok(self.0.into_owned_fd())
            }

            fn pipe(&self) -> &Pipe {
                &self.0
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.0.fd.as_raw_fd()
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.fd.as_fd()
            }
        }
    };
}

pipe_type!(
    /// The parent's write end of a child's stdin.
    ChildStdin,
    std::process::ChildStdin
);
pipe_type!(
    /// The parent's read end of a child's stdout.
    ChildStdout,
    std::process::ChildStdout
);
pipe_type!(
    /// The parent's read end of a child's stderr.
    ChildStderr,
    std::process::ChildStderr
);

macro_rules! owned_read {
    ($name:ty) => {
        impl crate::io::AsyncReadOwned for $name {
            fn read_owned<B: IoBufMut>(
                &mut self,
                buf: B,
            ) -> impl std::future::Future<Output = BufResult<usize, B>> + Send {
                self.pipe().read(buf)
            }
            fn read_exact_owned<B: IoBufMut>(
                &mut self,
                buf: B,
            ) -> impl std::future::Future<Output = BufResult<(), B>> + Send {
                self.pipe().read_exact(buf)
            }
            fn readv_owned<B: IoBufMut>(
                &mut self,
                bufs: Vec<B>,
            ) -> impl std::future::Future<Output = BufResult<usize, Vec<B>>> + Send {
                self.pipe().readv(bufs)
            }
        }

        #[cfg(feature = "tokio-io")]
        impl tokio::io::AsyncRead for $name {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                // SAFETY: `poll_read` only writes initialised bytes into the slice.
                let unfilled = unsafe { buf.unfilled_mut() };
                let count = std::task::ready!(self.pipe().poll_read(cx, unfilled))?;
                // SAFETY: `read` initialised the first `count` bytes of the unfilled part.
                unsafe { buf.assume_init(count) };
                buf.advance(count);
                Poll::Ready(Ok(()))
            }
        }

        #[cfg(feature = "futures-io")]
        impl futures_io::AsyncRead for $name {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and `read` writes
                // only initialised bytes, so `buf` stays initialised.
                let buf = unsafe {
                    std::slice::from_raw_parts_mut(
                        buf.as_mut_ptr().cast::<std::mem::MaybeUninit<u8>>(),
                        buf.len(),
                    )
                };
                self.pipe().poll_read(cx, buf)
            }
        }
    };
}

owned_read!(ChildStdout);
owned_read!(ChildStderr);

impl crate::io::AsyncWriteOwned for ChildStdin {
    fn write_owned<B: IoBuf>(
        &mut self,
        buf: B,
    ) -> impl std::future::Future<Output = BufResult<usize, B>> + Send {
        self.pipe().write(buf)
    }
    fn write_all_owned<B: IoBuf>(
        &mut self,
        buf: B,
    ) -> impl std::future::Future<Output = BufResult<(), B>> + Send {
        self.pipe().write_all(buf)
    }
    fn writev_owned<B: IoBuf>(
        &mut self,
        bufs: Vec<B>,
    ) -> impl std::future::Future<Output = BufResult<usize, Vec<B>>> + Send {
        self.pipe().writev(bufs)
    }
}

#[cfg(feature = "tokio-io")]
impl tokio::io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pipe().poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.pipe().poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(feature = "futures-io")]
impl futures_io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pipe().poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.pipe().poll_write_vectored(cx, bufs)
    }
    fn poll_flush(self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
