//! [`AsyncFd`]: owned-buffer reads and writes on a file descriptor, on either backend.
//!
//! The wrapped value sits in an [`FdOwner`] (see `io::shared_fd`): every op holds an
//! `FdRef` to it, so the value (and with it the fd) is dropped only after the
//! `AsyncFd` and the last op that used the fd are gone. On io_uring an op whose future
//! was dropped lives until its final CQE; until then the fd stays open and its number
//! cannot be reused by a new fd that the stale op would then read or write.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{Context, Poll};

use crate::driver::Backend;
use crate::driver::op::IoSource;
use crate::io::fd_poll::{PollDirection, UringPollSlots};
use crate::io::shared_fd::FdOwner;
use crate::io::{BufResult, IoBuf, IoBufMut};
use crate::op::{self, read::Read, write::Write};

/// An owned file descriptor (pipe, socket, eventfd, terminal...) driven by the
/// runtime's I/O backend, with owned-buffer `read` and `write`.
///
/// Created inside a runtime with I/O enabled; it stays tied to that runtime's backend.
/// On mio the fd is switched to non-blocking mode and registered (edge-triggered) with
/// one worker's poll; on io_uring nothing is registered and the fd's mode is left as
/// is (a non-blocking fd that reports `EAGAIN` is waited on with `POLL_ADD`).
///
/// Regular files have no readiness: on mio, use the file system API ([`crate::fs`])
/// instead.
///
/// Dropping the `AsyncFd` drops the wrapped value (closing the fd) once no operation
/// uses the fd any more: at once on mio, and on io_uring after the final completion of
/// any operation whose future was dropped while the kernel still had it (its
/// cancellation completes asynchronously). Operations (`read`, `write`) need
/// `T: Send + 'static` for that reason: the last of them may drop the value on another
/// thread.
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
    /// The io_uring half of the poll path (`fd_poll`); unused on mio.
    uring_poll: UringPollSlots,
    /// `None` only once `into_inner` took the value.
    fd: Option<FdOwner<T>>,
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
        let source = crate::runtime::context::with_io(|handle| {
            let handle = handle.ok_or_else(no_runtime)?;
            match handle.backend() {
                Some(Backend::IoUring) => Ok(IoSource::Uring),
                Some(Backend::Mio) => {
                    set_nonblocking(fd)?;
                    let poll = handle.pick_poll().ok_or_else(no_runtime)?;
                    let registration = poll.register_raw(fd)?;
                    Ok(IoSource::Mio(registration))
                }
                _ => Err(no_runtime()),
            }
        })?;
        Ok(AsyncFd {
            source,
            uring_poll: UringPollSlots::default(),
            fd: Some(FdOwner::new(inner)),
        })
    }

    /// The backend driving this fd.
    pub fn backend(&self) -> Backend {
        match self.source {
            IoSource::Uring => Backend::IoUring,
            IoSource::Mio(_) => Backend::Mio,
        }
    }

    fn owner(&self) -> &FdOwner<T> {
        self.fd
            .as_ref()
            .expect("AsyncFd holds its value until dropped")
    }

    /// The wrapped value.
    pub fn get_ref(&self) -> &T {
        self.owner().get()
    }

    /// Deregisters the fd and gives the wrapped value back at once.
    ///
    /// This does not wait for operations whose futures were dropped while the kernel
    /// still had them (io_uring: their cancellation completes asynchronously), as
    /// sockets' `into_std` does not. From here the value, and closing its fd, is
    /// yours; such an operation keeps naming the fd by number until its final
    /// completion, never closes it, and whatever a cancelled read takes from the fd in
    /// that time is lost. So do not close the returned fd right after dropping an
    /// unfinished operation (its number could be reused by a new fd that the stale
    /// operation then uses); dropping the `AsyncFd` instead closes it only after those
    /// operations completed.
    pub fn into_inner(mut self) -> T {
        self.deregister();
        let owner = self
            .fd
            .take()
            .expect("AsyncFd holds its value until dropped");
        if owner.in_use() {
            log::debug!(
                "ringtide: AsyncFd::into_inner on fd {} with cancelled operations still \
                 in the kernel",
                owner.raw()
            );
        }
        owner.take()
    }

    /// The poll path (see `io::fd_poll`): spends one unit of the task's cooperative
    /// budget, then runs `operation` (a non-blocking syscall on the fd, which must be in
    /// non-blocking mode) until it does not report `WouldBlock`, waiting for readiness
    /// in `direction` in between. One `poll_*` caller per direction.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(dead_code, reason = "used by the AsyncRead/AsyncWrite impls")
    )]
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: PollDirection,
        mut operation: impl FnMut(RawFd) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        std::task::ready!(crate::task::coop::poll_proceed(cx));
        let fd = self.raw();
        match &self.source {
            IoSource::Mio(registration) => {
                registration.poll_io(cx, direction.for_mio(), || operation(fd))
            }
            IoSource::Uring => loop {
                match operation(fd) {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        std::task::ready!(self.poll_ready(cx, direction))?;
                    }
                    result => return Poll::Ready(result),
                }
            },
        }
    }

    /// Ready when the fd is readable or writable (or has an error or hang-up to
    /// report); otherwise `cx` is woken when it is. One `poll_*` caller per direction:
    /// a second one takes the first one's waker slot over.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: PollDirection,
    ) -> Poll<io::Result<()>> {
        match &self.source {
            IoSource::Mio(registration) => registration
                .poll_ready(cx, direction.for_mio())
                .map_ok(|_| ()),
            IoSource::Uring => self.uring_poll.poll_ready(cx, self.raw(), direction),
        }
    }

    fn raw(&self) -> RawFd {
        self.owner().raw()
    }

    fn deregister(&mut self) {
        if let IoSource::Mio(registration) = &self.source {
            let _ = registration.deregister();
        }
    }
}

impl<T: AsRawFd + Send + 'static> AsyncFd<T> {
    /// Reads into `buf` (from its start, up to its capacity) and returns the count with
    /// the buffer; `Ok(0)` means end of file, or a zero-capacity buffer.
    ///
    /// A buffer larger than `u32::MAX` bytes reads at most `u32::MAX` bytes per call.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        op::run(Some(&self.source), Read::new(self.owner().share(), buf)).await
    }

    /// Writes `buf`'s initialised bytes and returns how many were written, with the
    /// buffer. A write to a pipe whose reader is gone fails with `BrokenPipe` (Rust
    /// programs ignore `SIGPIPE` by default).
    ///
    /// A buffer larger than `u32::MAX` bytes writes at most `u32::MAX` bytes per call.
    pub async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        op::run(Some(&self.source), Write::new(self.owner().share(), buf)).await
    }
}

impl<T: AsRawFd> AsRawFd for AsyncFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.raw()
    }
}

impl<T: AsRawFd + AsFd> AsFd for AsyncFd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsRawFd> Drop for AsyncFd<T> {
    fn drop(&mut self) {
        if self.fd.is_some() {
            // The value itself drops with the owner: now, or after the last op that
            // still holds the fd (see the type's docs).
            self.deregister();
        }
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", self.get_ref())
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
