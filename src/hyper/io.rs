//! [`Io`]: hyper's `rt::Read`/`rt::Write` for ringtide's streams, and tokio's
//! `AsyncRead`/`AsyncWrite` for hyper's I/O types (an upgraded connection).
//!
//! hyper 1.x has its own I/O traits. `Io<T>` adapts in both directions, whichever
//! side `T` implements:
//!
//! * `T: tokio::io::AsyncRead/AsyncWrite` (every ringtide stream, its halves and the
//!   process pipes, with the `tokio-io` feature that `hyper` turns on) gives
//!   `hyper::rt::Read/Write`: serve or fetch HTTP over `Io::new(tcp_stream)`.
//! * `T: hyper::rt::Read/Write` (`hyper::upgrade::Upgraded`, or
//!   `hyper::upgrade::Parts::io`) gives tokio's traits, so `AsyncReadExt`,
//!   `tokio::io::copy` and codecs work on an upgraded connection.
//!
//! # Which I/O path on io_uring
//!
//! The adapter forwards to the stream's poll traits without a buffer of its own:
//! `poll_read` receives straight into hyper's read buffer (its unfilled part, never
//! de-initialised) and `poll_write`/`poll_write_vectored` send hyper's buffers, which
//! on io_uring is the readiness path of `net::poll_io` (a `MSG_DONTWAIT` syscall, then
//! a kept `POLL_ADD` after `EAGAIN`). The alternative, a completion path with a buffer
//! inside the adapter (a `RECV` kept in flight into it, `SEND`s copied into it and
//! reported as written), was measured with hyper on top (`benches/hyper_io.rs`, where
//! that variant lives); see `ringtide::hyper`'s module documentation for the numbers
//! and the choice.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

pin_project! {
    /// A stream (or any I/O object) adapted between tokio's poll traits and hyper's.
    ///
    /// ```
    /// # #[cfg(feature = "hyper")]
    /// # async fn serve(stream: ringtide::net::TcpStream) {
    /// use ringtide::hyper::{Executor, Io};
    ///
    /// let service = hyper::service::service_fn(|_request| async {
    ///     Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hello")))
    /// });
    /// let served = hyper_util::server::conn::auto::Builder::new(Executor::new())
    ///     .serve_connection(Io::new(stream), service)
    ///     .await;
    /// # let _ = served;
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct Io<T> {
        #[pin]
        inner: T,
    }
}

impl<T> Io<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Io<T> {
        Io { inner }
    }

    /// The wrapped object.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped object, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the object.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: tokio::io::AsyncRead> ::hyper::rt::Read for Io<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut cursor: ::hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: the slice goes only into a `tokio::io::ReadBuf`, which never
        // de-initialises bytes (it tracks what is initialised, starting from nothing).
        let unfilled: &mut [MaybeUninit<u8>] = unsafe { cursor.as_mut() };
        let mut buf = tokio::io::ReadBuf::uninit(unfilled);
        ready!(self.project().inner.poll_read(cx, &mut buf))?;
        let count = buf.filled().len();
        // SAFETY: `ReadBuf` guarantees its filled part (the first `count` bytes of the
        // cursor's unfilled part) is initialised.
        unsafe { cursor.advance(count) };
        Poll::Ready(Ok(()))
    }
}

impl<T: tokio::io::AsyncWrite> ::hyper::rt::Write for Io<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

impl<T: ::hyper::rt::Read> tokio::io::AsyncRead for Io<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: the slice goes only into hyper's `ReadBuf`, which, like tokio's,
        // never de-initialises bytes.
        let unfilled = unsafe { buf.unfilled_mut() };
        let mut hyper_buf = ::hyper::rt::ReadBuf::uninit(unfilled);
        ready!(self.project().inner.poll_read(cx, hyper_buf.unfilled()))?;
        let count = hyper_buf.filled().len();
        // SAFETY: hyper's `ReadBuf` guarantees its filled part (the first `count`
        // bytes of tokio's unfilled part) is initialised.
        unsafe { buf.assume_init(count) };
        buf.advance(count);
        Poll::Ready(Ok(()))
    }
}

impl<T: ::hyper::rt::Write> tokio::io::AsyncWrite for Io<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}
