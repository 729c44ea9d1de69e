//! A listener's multishot accept (io_uring, Linux 5.19+): [`AcceptStream`], the slot
//! holding the armed request, `Socket::accept_multishot`, which arms it and takes the
//! connections it accepted, and the process-wide `KERNEL_LACKS_MULTISHOT_ACCEPT` flag,
//! which switches listeners to single accepts once the kernel turned out to lack it.
//!
//! ```text
//!   accept_multishot ─┬─ a kept connection (a cancelled accept's, or one taken after
//!                     │  its stream was dropped) ──────────────► it
//!                     └─ arm the request if the slot is empty, poll its stream:
//!                          ├─ a connection ────────────────────► it
//!                          ├─ ended (EMFILE, ...) ─────────────► empty the slot and
//!                          │                                      arm again (once per
//!                          │                                      poll)
//!                          ├─ EINVAL, and the fd is listening ─► set the flag; None:
//!                          │                                      this listener, and
//!                          │                                      every later one, use
//!                          │                                      single accepts
//!                          └─ another error ───────────────────► it
//! ```
//!
//! Dropping the listener drops the slot, which cancels the request (and first shuts
//! the socket down when no duplicate of its fd can exist; see [`AcceptStream`]).

use std::io;
#[cfg(ringtide_uring)]
use std::os::fd::RawFd;
#[cfg(ringtide_uring)]
use std::{
    future::poll_fn,
    task::{Poll, ready},
};

use super::socket::Socket;
#[cfg(ringtide_uring)]
use super::socket::SocketState;
#[cfg(ringtide_uring)]
use crate::driver::Handle;
#[cfg(ringtide_uring)]
use crate::driver::op::IoSource;
use crate::op::accept::Accepted;

#[cfg(ringtide_uring)]
type MultishotAccept =
    crate::driver::uring::multishot::MultishotOp<crate::op::accept_multi::AcceptMulti<SocketState>>;

/// The slot of a listener's multishot accept.
///
/// Dropping an armed one cancels it, but the cancellation completes asynchronously and
/// the op keeps the socket open until then (in the kernel too: the request holds the
/// file). So that dropping a listener stops listening at once (new connections are
/// refused, as with tokio), the drop first shuts the listening socket down, which ends
/// the accept. (A Unix listener's name stays taken until the request has ended: the
/// kernel releases it with the socket.)
///
/// `shutdown` acts on the socket, not on the fd: every duplicate of the fd (a `dup`, a
/// `try_clone` of the std listener it came from, a copy passed to another process)
/// would stop listening too. So it is used only when no duplicate can exist: the
/// listener made the socket itself (`bind`, or `TcpSocket::listen` of a socket whose fd
/// was never lent out) and never lent its fd out (`AsRawFd`/`AsFd`); see
/// [`Socket::lend_fd`]. Otherwise the drop only cancels, and the port is free once that
/// cancellation has landed (the ring's next submission); a connection arriving before
/// then may still be taken by the ending request and is closed. (A `fork` without
/// `exec` duplicates fds behind the listener's back; it is not detected.)
#[cfg(ringtide_uring)]
#[derive(Debug)]
pub(crate) struct AcceptStream {
    slot: std::sync::Mutex<Option<MultishotAccept>>,
    fd: RawFd,
    /// The fd may have duplicates: never shut the socket down.
    fd_lent: std::sync::atomic::AtomicBool,
    /// False: this listener uses single accepts (the runtime was built without
    /// multishot accept, or the kernel turned out not to have it).
    multishot: std::sync::atomic::AtomicBool,
}

#[cfg(ringtide_uring)]
impl AcceptStream {
    pub(super) fn new(fd: RawFd) -> AcceptStream {
        let enabled =
            crate::runtime::context::with_io(|handle| handle.is_none_or(Handle::multishot_accept));
        AcceptStream {
            slot: std::sync::Mutex::new(None),
            fd,
            fd_lent: std::sync::atomic::AtomicBool::new(false),
            multishot: std::sync::atomic::AtomicBool::new(
                enabled
                    && !KERNEL_LACKS_MULTISHOT_ACCEPT.load(std::sync::atomic::Ordering::Relaxed),
            ),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<MultishotAccept>> {
        self.slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Cancels the accept without shutting the socket down (the fd is handed over).
    pub(super) fn disarm(&self) {
        self.lock().take();
    }

    /// The fd was lent out and may have duplicates from now on: the drop no longer
    /// shuts the socket down.
    pub(super) fn note_fd_lent(&self) {
        self.fd_lent
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(ringtide_uring)]
impl Drop for AcceptStream {
    fn drop(&mut self) {
        if let Some(stream) = self.lock().take() {
            if !self.fd_lent.load(std::sync::atomic::Ordering::Relaxed) {
                // SAFETY: `shutdown` on the listener's fd, which the armed op's `FdRef`
                // keeps open; errors are irrelevant here.
                unsafe { libc::shutdown(self.fd, libc::SHUT_RD) };
            }
            drop(stream);
        }
    }
}

/// Set once a multishot accept on a socket that *is* listening failed with `EINVAL`:
/// the kernel predates multishot accept (Linux 5.19), so listeners created from then on
/// use single accepts. An `EINVAL` from a socket that is not listening says nothing
/// about the kernel and changes nothing.
#[cfg(ringtide_uring)]
static KERNEL_LACKS_MULTISHOT_ACCEPT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

impl Socket {
    /// io_uring: takes the next connection from the listener's multishot accept
    /// (arming it on first use, and again after the kernel ended it, e.g. after an
    /// `EMFILE`). `None`: not io_uring, or this listener uses single accepts (the
    /// runtime disabled multishot accept, or the kernel lacks it).
    ///
    /// An `EINVAL` means either a kernel without multishot accept or a socket that is
    /// not listening; `SO_ACCEPTCONN` tells which. Only the first switches to single
    /// accepts (this listener, and every listener created later); the second is this
    /// accept's error, and the next accept tries multishot again.
    #[cfg(ringtide_uring)]
    pub(super) async fn accept_multishot(&self) -> Option<io::Result<Accepted>> {
        use std::sync::atomic::Ordering::Relaxed;
        if !matches!(self.state().source, IoSource::Uring)
            || !self.accept_stream.multishot.load(Relaxed)
        {
            return None;
        }
        poll_fn(|cx| {
            if let Some(kept) = ready!(self.state().accepts.poll_take(cx)) {
                return Poll::Ready(Some(Ok(kept)));
            }
            let mut slot = self.accept_stream.lock();
            // At most one re-arm per poll: a request the kernel ended is replaced once.
            for _ in 0..2 {
                let stream = slot.get_or_insert_with(|| {
                    MultishotAccept::new(
                        crate::op::accept_multi::AcceptMulti::new(self.fd.share()),
                        crate::op::route::current_runtime_ring,
                    )
                });
                match ready!(stream.poll_next(cx)) {
                    None => *slot = None,
                    Some(Ok(fd)) => {
                        return Poll::Ready(Some(Ok(crate::op::accept_multi::accepted(fd))));
                    }
                    Some(Err(error)) if error.raw_os_error() == Some(libc::EINVAL) => {
                        *slot = None;
                        if self.as_sock_ref().is_listener().unwrap_or(false) {
                            // A kernel without multishot accept: single accepts.
                            KERNEL_LACKS_MULTISHOT_ACCEPT.store(true, Relaxed);
                            self.accept_stream.multishot.store(false, Relaxed);
                            return Poll::Ready(None);
                        }
                        return Poll::Ready(Some(Err(error)));
                    }
                    Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                }
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }

    #[cfg(not(ringtide_uring))]
    pub(super) async fn accept_multishot(&self) -> Option<io::Result<Accepted>> {
        None
    }
}
