//! A listener's accept on io_uring. By default it holds the listener's
//! [`ListenerReadiness`] (an epoll instance polled by the ring, then `accept4`: no
//! ring request pins the listening socket, so its port is free when the process
//! dies; see `net::listener_readiness`). Where the runtime asks for accepts in the
//! ring (the hidden `uring_multishot_accept` knob), or the epoll instance cannot be
//! made, the rest of this module applies.
//!
//! The listener's multishot accept (io_uring, Linux 5.19+): [`AcceptStream`], the slot
//! holding the armed request (and the single accept that `poll_accept` keeps in flight
//! where multishot accept is not used), `Socket::accept_multishot`, which arms it and takes the
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
//! the socket down when no duplicate of its fd can exist; see [`AcceptStream`]). The
//! same shutdown covers a single accept still in the kernel (a dropped `accept`
//! future whose cancellation has not landed yet), which also keeps the socket open.

use std::io;
#[cfg(ringtide_uring)]
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
#[cfg(ringtide_uring)]
use std::{
    future::poll_fn,
    task::{Poll, ready},
};

#[cfg(ringtide_uring)]
use super::listener_readiness::ListenerReadiness;
use super::socket::Socket;
#[cfg(ringtide_uring)]
use super::socket::SocketState;
#[cfg(ringtide_uring)]
use crate::driver::Handle;
#[cfg(ringtide_uring)]
use crate::driver::op::IoSource;
use crate::op::accept::Accepted;

#[cfg(ringtide_uring)]
type SingleAccept = crate::driver::uring::cell::UringOp<crate::op::accept::Accept<SocketState>>;

#[cfg(ringtide_uring)]
type MultishotAccept =
    crate::driver::uring::multishot::MultishotOp<crate::op::accept_multi::AcceptMulti<SocketState>>;

/// The slot of a listener's multishot accept.
///
/// Dropping an armed one cancels it, but the cancellation completes asynchronously and
/// the op keeps the socket open until then (in the kernel too: the request holds the
/// file). A cancelled single accept still in flight does the same. So that dropping a
/// listener stops listening at once (new connections are refused, as with tokio), the
/// drop first shuts the listening socket down, which ends the accept. It does so for
/// every listener, armed or not: the slot is dropped before the socket's fd (see
/// `Socket`'s field order), so the fd is still open here, and a listener whose fd is
/// about to be closed loses nothing by being shut down first. (A Unix listener's name
/// stays taken until the request has ended: the kernel releases it with the socket.)
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
    /// The single accept `poll_accept` keeps in flight between its polls, when this
    /// listener uses single accepts (a poll-based caller has no future to keep it in).
    poll_single: std::sync::Mutex<Option<SingleAccept>>,
    fd: RawFd,
    /// The fd may have duplicates, or was handed over: never shut the socket down.
    fd_lent: std::sync::atomic::AtomicBool,
    /// The socket is a listener (only a listener is shut down on drop).
    listener: bool,
    /// False: this listener uses single accepts (the runtime was built without
    /// multishot accept, or the kernel turned out not to have it).
    multishot: std::sync::atomic::AtomicBool,
    /// io_uring listeners, by default: connections come through readiness of a
    /// per-listener epoll instance and `accept4`, with no ring request on the
    /// listener (`net::listener_readiness`); the slots above stay empty. `None`: the
    /// runtime asked for accepts in the ring, the epoll instance could not be made,
    /// or the socket is no io_uring listener.
    by_readiness: Option<ListenerReadiness>,
}

#[cfg(ringtide_uring)]
impl AcceptStream {
    /// The slot of socket `fd`; `uring_listener`: an io_uring listener, which gets a
    /// [`ListenerReadiness`] unless the runtime asked for accepts in the ring (then,
    /// or when the epoll instance cannot be made, the ring's accepts are used).
    pub(super) fn new(fd: BorrowedFd<'_>, listener: bool, uring_listener: bool) -> AcceptStream {
        let (enabled, in_ring) = crate::runtime::context::with_io(|handle| {
            (
                handle.is_none_or(Handle::multishot_accept),
                handle.is_some_and(Handle::accept_in_ring),
            )
        });
        let by_readiness = (uring_listener && !in_ring)
            .then(|| ListenerReadiness::new(fd))
            .and_then(|made| {
                made.inspect_err(|error| {
                    crate::trace::event!(
                        warn,
                        "ringtide: listener fd {}: no epoll instance for its readiness \
                         ({error}); it accepts through the ring, which keeps its port \
                         taken for a few ms after the process died",
                        fd.as_raw_fd()
                    );
                })
                .ok()
            });
        let fd = fd.as_raw_fd();
        AcceptStream {
            by_readiness,
            slot: std::sync::Mutex::new(None),
            poll_single: std::sync::Mutex::new(None),
            fd,
            fd_lent: std::sync::atomic::AtomicBool::new(false),
            listener,
            multishot: std::sync::atomic::AtomicBool::new(
                enabled
                    && !KERNEL_LACKS_MULTISHOT_ACCEPT.load(std::sync::atomic::Ordering::Relaxed),
            ),
        }
    }

    /// How this listener waits for connections when no ring request is used: see
    /// `net::listener_readiness`.
    pub(super) fn by_readiness(&self) -> Option<&ListenerReadiness> {
        self.by_readiness.as_ref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<MultishotAccept>> {
        self.slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Cancels the accept without shutting the socket down (the fd is handed over):
    /// the drop will not shut it down either.
    pub(super) fn disarm(&self) {
        self.note_fd_lent();
        self.lock().take();
        self.take_single();
    }

    fn take_single(&self) -> Option<SingleAccept> {
        self.poll_single
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Polls the single accept kept for `poll_accept`, submitting `new_accept()` when
    /// none is in flight. Only the task of the last poll is woken (as with tokio's
    /// `poll_accept`). Dropping the listener cancels it; a connection it took by then
    /// is kept for the next accept, as for a dropped `accept` future.
    pub(super) fn poll_single(
        &self,
        cx: &mut std::task::Context<'_>,
        new_accept: impl FnOnce() -> crate::op::accept::Accept<SocketState>,
    ) -> Poll<io::Result<Accepted>> {
        use crate::driver::op::OpCode;
        let mut slot = self
            .poll_single
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let op = slot.get_or_insert_with(|| {
            SingleAccept::new(new_accept(), crate::op::route::current_runtime_ring)
        });
        let (accept, result) = ready!(std::pin::Pin::new(op).poll(cx));
        *slot = None;
        Poll::Ready(accept.complete(result))
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
        let stream = self.lock().take();
        let single = self.take_single();
        if self.listener && !self.fd_lent.load(std::sync::atomic::Ordering::Relaxed) {
            // SAFETY: `shutdown` on the listener's fd, which is still open: the
            // `Socket` drops this slot before its fd owner, and an fd handed over
            // (`disarm`) is never shut down. Errors are irrelevant here.
            unsafe { libc::shutdown(self.fd, libc::SHUT_RD) };
        }
        drop(stream);
        drop(single);
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
        poll_fn(|cx| self.poll_accept_multishot(cx)).await
    }

    /// The poll form of [`accept_multishot`](Socket::accept_multishot): `Ready(None)`
    /// at once when this listener does not use the multishot accept. Every task that
    /// polls it is woken by the next connection.
    #[cfg(ringtide_uring)]
    pub(super) fn poll_accept_multishot(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<io::Result<Accepted>>> {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(accept_stream) = self.accept_slot() else {
            return Poll::Ready(None);
        };
        if !matches!(self.state().source, IoSource::Uring) || !accept_stream.multishot.load(Relaxed)
        {
            return Poll::Ready(None);
        }
        if let Some(kept) = ready!(self.state().accepts().poll_take(cx)) {
            return Poll::Ready(Some(Ok(kept)));
        }
        let mut slot = accept_stream.lock();
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
                        accept_stream.multishot.store(false, Relaxed);
                        crate::driver::uring::probe::note_multishot_accept_fallback();
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Err(error)));
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    #[cfg(not(ringtide_uring))]
    pub(super) async fn accept_multishot(&self) -> Option<io::Result<Accepted>> {
        None
    }
}
