//! [`AsyncFd`]: owned-buffer reads and writes on a file descriptor, on either backend.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use crate::driver::op::{self, IoSource};
use crate::driver::{Backend, Handle};
use crate::io::{BufResult, IoBuf, IoBufMut};
use crate::op::{read::Read, write::Write};

/// An owned file descriptor (pipe, socket, eventfd, terminal...) driven by the
/// runtime's I/O backend, with owned-buffer `read` and `write`.
///
/// Created inside a runtime with I/O enabled; it stays tied to that runtime's backend.
/// On mio the fd is switched to non-blocking mode and registered (edge-triggered) with
/// one worker's poll; on io_uring nothing is registered and the fd's mode is left as
/// is (a non-blocking fd that reports `EAGAIN` is waited on with `POLL_ADD`).
///
/// Regular files have no readiness: on mio, use the file system API instead.
///
/// ```
/// use ringtide::io::AsyncFd;
///
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (reader, writer) = std::io::pipe().unwrap();
/// let reader = AsyncFd::new(reader).unwrap();
/// let writer = AsyncFd::new(writer).unwrap();
/// let (written, _) = writer.write(b"hello".to_vec()).await;
/// assert_eq!(written.unwrap(), 5);
/// let (read, buf) = reader.read(Vec::with_capacity(16)).await;
/// assert_eq!(read.unwrap(), 5);
/// assert_eq!(buf, b"hello");
/// # });
/// ```
pub struct AsyncFd<T: AsRawFd> {
    source: IoSource,
    fd: RawFd,
    inner: Option<T>,
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Wraps `inner` for the current runtime's backend.
    ///
    /// # Errors
    ///
    /// Fails outside a runtime with I/O enabled, and when the fd cannot be registered
    /// (for example a regular file on the mio backend: epoll refuses those with
    /// `EPERM`).
    pub fn new(inner: T) -> io::Result<AsyncFd<T>> {
        let fd = inner.as_raw_fd();
        let source = Handle::with_current(|handle| {
            let handle = handle.ok_or_else(no_runtime)?;
            match handle.backend() {
                Some(Backend::IoUring) => Ok(IoSource::Uring),
                Some(Backend::Mio) => {
                    set_nonblocking(fd)?;
                    let poll = handle.pick_poll().ok_or_else(no_runtime)?;
                    let registration = poll.register_fd(fd)?;
                    Ok(IoSource::Mio(registration))
                }
                _ => Err(no_runtime()),
            }
        })?;
        Ok(AsyncFd {
            source,
            fd,
            inner: Some(inner),
        })
    }

    /// The backend driving this fd.
    pub fn backend(&self) -> Backend {
        match self.source {
            IoSource::Uring => Backend::IoUring,
            IoSource::Mio(_) => Backend::Mio,
        }
    }

    /// The wrapped value.
    pub fn get_ref(&self) -> &T {
        self.inner
            .as_ref()
            .expect("AsyncFd holds its value until dropped")
    }

    /// Deregisters the fd and gives the wrapped value back.
    pub fn into_inner(mut self) -> T {
        self.deregister();
        self.inner
            .take()
            .expect("AsyncFd holds its value until dropped")
    }

    /// Reads into `buf` (from its start, up to its capacity) and returns the count with
    /// the buffer; `Ok(0)` means end of file, or a zero-capacity buffer.
    ///
    /// A buffer larger than `u32::MAX` bytes reads at most `u32::MAX` bytes per call.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        op::run(Some(&self.source), Read::new(self.fd, buf)).await
    }

    /// Writes `buf`'s initialised bytes and returns how many were written, with the
    /// buffer. A write to a pipe whose reader is gone fails with `BrokenPipe` (Rust
    /// programs ignore `SIGPIPE` by default).
    ///
    /// A buffer larger than `u32::MAX` bytes writes at most `u32::MAX` bytes per call.
    pub async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        op::run(Some(&self.source), Write::new(self.fd, buf)).await
    }

    fn deregister(&mut self) {
        if let IoSource::Mio(registration) = &self.source {
            let _ = registration.deregister_fd(self.fd);
        }
    }
}

impl<T: AsRawFd> AsRawFd for AsyncFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

impl<T: AsRawFd + AsFd> AsFd for AsyncFd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsRawFd> Drop for AsyncFd<T> {
    fn drop(&mut self) {
        if self.inner.is_some() {
            self.deregister();
        }
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", &self.inner)
            .field("backend", &self.backend())
            .finish()
    }
}

fn no_runtime() -> io::Error {
    io::Error::other(
        "AsyncFd::new must be called inside a ringtide runtime built with `enable_io()` or \
         `enable_all()`",
    )
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
