//! [`AsyncFd`]: a file descriptor driven by the runtime's I/O backend, with tokio's
//! readiness-guard API (in `io::async_fd_ready`) and owned-buffer reads and writes.
//!
//! # One type for both APIs
//!
//! tokio's `AsyncFd` only reports readiness; the caller does the syscall. ringtide's
//! owned-buffer `read_owned`/`write_owned` (on io_uring one `READ`/`WRITE` straight
//! into or out of the caller's buffer, with no readiness round trip) are extra methods
//! of the same type, not a second type: both need exactly the same parts (the fd's
//! owner, its backend source, its readiness record), one fd may well use both (wait
//! for `readable()` in one place, `read_owned` in another), code written against
//! tokio's `AsyncFd` compiles unchanged, and the `_owned` suffix (the crate's naming
//! rule, see [`crate::io`]) keeps them clear of any name tokio has or may add. The type
//! is reachable as `ringtide::io::unix::AsyncFd` (tokio's path) and, as before,
//! `ringtide::io::AsyncFd`.
//!
//! # Ownership of the fd
//!
//! The wrapped value sits in an [`FdOwner`] (see `io::shared_fd`): every op holds an
//! `FdRef` to it, so the value (and with it the fd) is dropped only after the
//! `AsyncFd` and the last op that used the fd are gone. On io_uring an op whose future
//! was dropped lives until its final CQE; until then the fd stays open and its number
//! cannot be reused by a new fd that the stale op would then read or write.

use std::error::Error;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{Context, Poll};

use crate::driver::Backend;
use crate::driver::op::IoSource;
use crate::io::fd_poll::PollDirection;
use crate::io::fd_readiness::FdReadiness;
use crate::io::shared_fd::FdOwner;
use crate::io::{BufResult, Interest, IoBuf, IoBufMut};
use crate::op::{self, read::Read, write::Write};

/// A file descriptor (pipe, socket, eventfd, terminal...) driven by the runtime's I/O
/// backend: tokio's readiness API ([`readable`](AsyncFd::readable),
/// [`writable`](AsyncFd::writable), [`ready`](AsyncFd::ready) and their guards,
/// [`async_io`](AsyncFd::async_io), [`try_io`](AsyncFd::try_io), the `poll_*_ready`
/// methods), plus owned-buffer [`read_owned`](AsyncFd::read_owned) and
/// [`write_owned`](AsyncFd::write_owned).
///
/// Created inside a runtime with I/O enabled; it stays tied to that runtime's backend.
/// On mio the fd is switched to non-blocking mode and registered (edge-triggered) with
/// one worker's poll; on io_uring nothing is registered and the fd's mode is left as
/// is: readiness comes from `POLL_ADD`, and the owned-buffer operations work in either
/// mode.
///
/// **The readiness API needs a non-blocking fd**, as in tokio: after readiness the
/// caller's syscall must return `WouldBlock` rather than block once the fd has nothing
/// more. On io_uring `AsyncFd` leaves the mode alone, so set `O_NONBLOCK` yourself (as
/// tokio code does already; a socket's `set_nonblocking(true)`, a pipe's `fcntl`).
///
/// Readiness is recorded per direction until cleared: a guard's
/// [`clear_ready`](super::unix::AsyncFdReadyGuard::clear_ready), or its
/// [`try_io`](super::unix::AsyncFdReadyGuard::try_io) when the syscall says `WouldBlock`. While it is
/// recorded, `readable()` (or `writable()`) returns at once.
///
/// Regular files have no readiness: on mio, use the file system API ([`crate::fs`])
/// instead.
///
/// Dropping the `AsyncFd` drops the wrapped value (closing the fd) once no operation
/// uses the fd any more: at once on mio, and on io_uring after the final completion of
/// any owned-buffer operation whose future was dropped while the kernel still had it
/// (its cancellation completes asynchronously). The owned-buffer operations need
/// `T: Send + 'static` for that reason: the last of them may drop the value on another
/// thread.
///
/// ```
/// use std::io::{Read, Write};
/// use ringtide::io::unix::AsyncFd;
///
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (reader, mut writer) = std::os::unix::net::UnixStream::pair()?;
/// reader.set_nonblocking(true)?; // the readiness API needs a non-blocking fd
/// let reader = AsyncFd::new(reader)?;
/// writer.write_all(b"hello")?;
///
/// // tokio's loop: wait for readiness, try the syscall through the guard, and wait
/// // again when it would block (the guard then clears the readiness).
/// let mut buf = [0; 16];
/// let len = loop {
///     let mut guard = reader.readable().await?;
///     match guard.try_io(|fd| fd.get_ref().read(&mut buf)) {
///         Ok(result) => break result?,
///         Err(_would_block) => continue,
///     }
/// };
/// assert_eq!(&buf[..len], b"hello");
///
/// // The owned-buffer form: the buffer goes to the kernel and comes back.
/// writer.write_all(b"again")?;
/// let (read, buf) = reader.read_owned(Vec::with_capacity(16)).await;
/// assert_eq!((read?, &buf[..]), (5, &b"again"[..]));
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct AsyncFd<T: AsRawFd> {
    pub(super) readiness: FdReadiness,
    /// The directions the readiness API may wait for (`with_interest`).
    pub(super) interest: Interest,
    /// `None` only once `into_inner` took the value.
    fd: Option<FdOwner<T>>,
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Wraps `inner` for the current runtime's backend, for reading and writing.
    ///
    /// # Errors
    ///
    /// Fails outside a runtime with I/O enabled, and when the fd cannot be registered
    /// (for example a regular file on the mio backend: epoll refuses those with
    /// `EPERM`). `inner` is dropped then; [`try_new`](AsyncFd::try_new) gives it back.
    pub fn new(inner: T) -> io::Result<AsyncFd<T>> {
        AsyncFd::with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// Wraps `inner` for the directions of `interest` only: waiting for another
    /// direction (`writable()` on a read-only `AsyncFd`, say) fails with
    /// `InvalidInput` instead of waiting forever, and `ready(READABLE | WRITABLE)`
    /// waits for the directions of `interest` only.
    ///
    /// # Errors
    ///
    /// As [`new`](AsyncFd::new).
    pub fn with_interest(inner: T, interest: Interest) -> io::Result<AsyncFd<T>> {
        Ok(AsyncFd::try_with_interest(inner, interest)?)
    }

    /// [`new`](AsyncFd::new) that gives `inner` back when it fails.
    ///
    /// # Errors
    ///
    /// As [`new`](AsyncFd::new), with `inner`.
    pub fn try_new(inner: T) -> Result<AsyncFd<T>, AsyncFdRegisterError<T>> {
        AsyncFd::try_with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// [`with_interest`](AsyncFd::with_interest) that gives `inner` back when it fails.
    ///
    /// # Errors
    ///
    /// As [`new`](AsyncFd::new), with `inner`.
    pub fn try_with_interest(
        inner: T,
        interest: Interest,
    ) -> Result<AsyncFd<T>, AsyncFdRegisterError<T>> {
        match AsyncFd::<T>::source_for(inner.as_raw_fd()) {
            Ok(source) => Ok(AsyncFd {
                readiness: FdReadiness::new(source, inner.as_raw_fd()),
                interest,
                fd: Some(FdOwner::new(inner)),
            }),
            Err(cause) => Err(AsyncFdRegisterError { inner, cause }),
        }
    }

    /// tokio 1.54's name for [`try_new`](AsyncFd::try_new), so code written against
    /// it compiles unchanged.
    ///
    /// # Safety
    ///
    /// tokio's contract: `inner.as_raw_fd()` is an open fd that stays open, names the
    /// same file description, and is what `as_raw_fd()` returns for as long as the
    /// `AsyncFd` holds `inner`. ringtide's memory safety does not depend on it (the
    /// owned-buffer operations own their buffers), but a broken contract makes the
    /// mio deregistration or a `POLL_ADD` act on whatever fd reuses the number.
    ///
    /// # Errors
    ///
    /// As [`try_new`](AsyncFd::try_new).
    pub unsafe fn register(inner: T) -> Result<AsyncFd<T>, AsyncFdRegisterError<T>> {
        AsyncFd::try_new(inner)
    }

    /// tokio 1.54's name for [`try_with_interest`](AsyncFd::try_with_interest).
    ///
    /// # Safety
    ///
    /// As [`register`](AsyncFd::register).
    ///
    /// # Errors
    ///
    /// As [`try_new`](AsyncFd::try_new).
    pub unsafe fn register_with_interest(
        inner: T,
        interest: Interest,
    ) -> Result<AsyncFd<T>, AsyncFdRegisterError<T>> {
        AsyncFd::try_with_interest(inner, interest)
    }

    /// Where `fd` is driven on the current runtime: registered with mio (non-blocking
    /// first), or nothing to do on io_uring.
    fn source_for(fd: RawFd) -> io::Result<IoSource> {
        crate::runtime::context::with_io(|handle| {
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
        })
    }

    /// The backend driving this fd.
    pub fn backend(&self) -> Backend {
        self.readiness.backend()
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

    /// The wrapped value, mutably. Its `as_raw_fd()` must not change.
    pub fn get_mut(&mut self) -> &mut T {
        self.fd
            .as_mut()
            .expect("AsyncFd holds its value until dropped")
            .get_mut()
    }

    /// Deregisters the fd and gives the wrapped value back at once.
    ///
    /// This does not wait for owned-buffer operations whose futures were dropped while
    /// the kernel still had them (io_uring: their cancellation completes
    /// asynchronously), as sockets' `into_std` does not. From here the value, and
    /// closing its fd, is yours; such an operation keeps naming the fd by number until
    /// its final completion, never closes it, and whatever a cancelled read takes from
    /// the fd in that time is lost. So do not close the returned fd right after
    /// dropping an unfinished operation (its number could be reused by a new fd that
    /// the stale operation then uses); dropping the `AsyncFd` instead closes it only
    /// after those operations completed.
    pub fn into_inner(mut self) -> T {
        self.readiness.deregister();
        let owner = self
            .fd
            .take()
            .expect("AsyncFd holds its value until dropped");
        if owner.in_use() {
            crate::trace::event!(
                debug,
                "ringtide: AsyncFd::into_inner on fd {} with cancelled operations still \
                 in the kernel",
                owner.raw()
            );
        }
        owner.take()
    }

    /// The poll path (see `io::fd_poll`): spends one unit of the task's cooperative
    /// budget, then runs `operation` (a non-blocking syscall on the fd, which must be in
    /// non-blocking mode) until it does not report `WouldBlock`, clearing the recorded
    /// readiness and waiting for new readiness in `direction` in between. One `poll_*`
    /// caller per direction.
    ///
    /// On mio the syscall runs only once readiness was recorded, as in tokio. On
    /// io_uring it is tried first: a ready fd then needs no `POLL_ADD`.
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
        if self.backend() == Backend::IoUring {
            let recorded = self.readiness.recorded_event(direction).transpose()?;
            match operation(fd) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    if let Some(event) = recorded {
                        self.readiness.clear(event);
                    }
                }
                result => return Poll::Ready(result),
            }
        }
        loop {
            let event = std::task::ready!(self.readiness.poll_ready(cx, direction))?;
            match operation(fd) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.readiness.clear(event);
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// Ready when readiness in `direction` is recorded (readable or writable, or an
    /// error or hang-up to report); otherwise `cx` is woken when it is. One `poll_*`
    /// caller per direction: a second one takes the first one's waker slot over.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: PollDirection,
    ) -> Poll<io::Result<()>> {
        self.readiness.poll_ready(cx, direction).map_ok(|_| ())
    }

    pub(super) fn raw(&self) -> RawFd {
        self.owner().raw()
    }
}

impl<T: AsRawFd + Send + 'static> AsyncFd<T> {
    /// Reads into `buf` (from its start, up to its capacity) and returns the count with
    /// the buffer; `Ok(0)` means end of file, or a zero-capacity buffer. On io_uring one
    /// `READ` straight into `buf`; on mio the `read(2)` once the fd is readable. Works
    /// whether or not the fd is in non-blocking mode.
    ///
    /// A buffer larger than `u32::MAX` bytes reads at most `u32::MAX` bytes per call.
    ///
    /// Cancel safety: dropping the future cancels the read; bytes the kernel read
    /// before the cancellation took effect are lost with the buffer (see
    /// [`crate::io`]).
    pub async fn read_owned<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        let read = Read::new(self.owner().share(), buf);
        op::run(Some(self.readiness.source()), read).await
    }

    /// Writes `buf`'s initialised bytes and returns how many were written, with the
    /// buffer. A write to a pipe whose reader is gone fails with `BrokenPipe` (Rust
    /// programs ignore `SIGPIPE` by default).
    ///
    /// A buffer larger than `u32::MAX` bytes writes at most `u32::MAX` bytes per call.
    pub async fn write_owned<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        let write = Write::new(self.owner().share(), buf);
        op::run(Some(self.readiness.source()), write).await
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
            self.readiness.deregister();
        }
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", self.get_ref())
            .field("interest", &self.interest)
            .field("backend", &self.backend())
            .finish()
    }
}

/// The error of [`AsyncFd::try_new`] (and `try_with_interest`, `register`,
/// `register_with_interest`): why it failed, and the value it was given.
pub struct AsyncFdRegisterError<T> {
    inner: T,
    cause: io::Error,
}

/// tokio's former name of [`AsyncFdRegisterError`].
pub type AsyncFdTryNewError<T> = AsyncFdRegisterError<T>;

impl<T> AsyncFdRegisterError<T> {
    /// The value passed to `try_new` and why it could not be wrapped.
    pub fn into_parts(self) -> (T, io::Error) {
        (self.inner, self.cause)
    }
}

impl<T> fmt::Display for AsyncFdRegisterError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.cause, f)
    }
}

impl<T> fmt::Debug for AsyncFdRegisterError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.cause, f)
    }
}

impl<T> Error for AsyncFdRegisterError<T> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.cause)
    }
}

impl<T> From<AsyncFdRegisterError<T>> for io::Error {
    fn from(error: AsyncFdRegisterError<T>) -> io::Error {
        error.cause
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
