//! [`ListenerReadiness`]: how an io_uring listener waits for connections with no ring
//! request on the listening socket, so that the socket (and its port, or its abstract
//! Unix name) dies with the last fd on it, as on mio: a server killed and started
//! again at once binds its address on the first try (issue 19).
//!
//! Why not a ring request: every request in flight holds a reference to its file. An
//! `ACCEPT` on the listener (multishot or single; a `POLL_ADD` too) therefore keeps
//! the listening socket, still listening, alive after the process has exited, until
//! the kernel's asynchronous teardown of the ring has cancelled it: 7–8 ms measured
//! (issue 19), during which a restarted server fails with `EADDRINUSE`. Arming a
//! request only while a task waits would not help: a server always has a task waiting
//! in `accept`.
//!
//! The design: each listener gets its own epoll instance with the listener registered
//! in it (`EPOLLIN`, level-triggered), and the ring's multishot `POLL_ADD` is armed on
//! the epoll fd, not on the listener. An epoll instance holds no reference to the files
//! registered in it (Linux removes a file from every epoll set when its last fd
//! closes, which is why closing an fd deregisters it), so the ring pins only the epoll
//! instance, which holds no address. The epoll fd is readable while the listener has a
//! connection queued, and each new connection wakes it, so the `POLL_ADD` reports one
//! CQE per arrival. Connections are then taken with `accept4` on the listener, which
//! is non-blocking in this mode (`O_NONBLOCK`; the accepted sockets are blocking, as
//! the ring wants them). The readiness protocol is a socket direction's
//! (`net::uring_readiness`): a readiness bit and tick set by each CQE, cleared by the
//! `accept4` that finds nothing (`EAGAIN`) unless an event came since.
//!
//! ```text
//!   accept ──► ready (or never tried)? ──no──► wait: list, arm the POLL_ADD on the
//!                 │                                  epoll fd if none is, Pending
//!                 yes                                   │ CQE: ready, wake all
//!                 ▼                                     ▼
//!              accept4(listener, SOCK_CLOEXEC) ◄────────┘
//!                 ├─ a connection, or an error (EMFILE, EINVAL, ...) ──► it
//!                 └─ EAGAIN ──► clear the readiness (unless an event came) and loop
//!                               · still ready at the same tick after the clear: the
//!                                 POLL_ADD failed for good (an error on the epoll fd):
//!                                 the accept fails with that said, never spins
//! ```
//!
//! A request cancelled because its ring went away (the runtime dropped, or the worker
//! retired its ring under `block_in_place`) only ends (`-ECANCELED` is not an error of
//! the fd): the next wait arms a new one on the waiting task's ring.
//!
//! Cancel safe with nothing to keep: `accept4` runs on the task, so a dropped future
//! has taken no connection. Every waiting task is woken by each event (as with the
//! multishot accept); a `poll_accept` caller takes the readiness' one waker slot (as
//! in tokio).
//!
//! What it costs (`benches/restart.rs`, numbers in `notes/restart-readme.md`): one
//! more fd per listener (the epoll instance) and, per burst of connections, one
//! `accept4` that finds nothing; per connection an `accept4` on the worker where the
//! multishot accept read the peer's address back with `getpeername` instead.
//!
//! The epoll fd closes with the listener, just after the drop asked the ring to
//! cancel the `POLL_ADD`. Where the request's SQE was queued but not yet read by the
//! kernel, the kernel then finds the number closed (the request fails), or taken by a
//! new fd: that file is polled until the cancellation, queued right behind, ends the
//! request, and its CQE goes to a handle that is gone. Harmless either way.
//!
//! What stays: the `POLL_ADD` on the epoll fd lingers for the same few ms after the
//! process died, harmlessly. Listeners made to accept in the ring (the hidden
//! `uring_multishot_accept` builder knob), and listeners whose epoll instance could not
//! be made (`epoll_create1` failing, e.g. `EMFILE`: they fall back to the multishot
//! accept), keep the old window. A connection queued on the listener when the process
//! dies is reset, as on mio.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::task::{Context, Poll, ready};

use socket2::SockAddrStorage;

use super::uring_readiness::{DirectionReadiness, Tick};
use crate::op::accept::Accepted;
use crate::op::socket_address::sock_addr;

/// A listener's epoll instance and the readiness its `POLL_ADD` reports (see the
/// module documentation).
#[derive(Debug)]
pub(crate) struct ListenerReadiness {
    /// The epoll instance the listener is registered in; the ring polls this fd.
    epoll: OwnedFd,
    /// The readiness of `epoll`.
    readiness: DirectionReadiness,
}

impl ListenerReadiness {
    /// Registers `listener` in a new epoll instance and makes it non-blocking. On an
    /// error the listener is left as it was (blocking, registered nowhere).
    pub(crate) fn new(listener: BorrowedFd<'_>) -> io::Result<ListenerReadiness> {
        // SAFETY: epoll_create1 takes no pointer.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new fd that nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 0,
        };
        // SAFETY: both fds are open for the call (`epoll` is owned here, `listener`
        // borrowed); the kernel only reads `event`, which lives across the call.
        let added = unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                listener.as_raw_fd(),
                &mut event,
            )
        };
        if added < 0 {
            return Err(io::Error::last_os_error());
        }
        socket2::SockRef::from(&listener).set_nonblocking(true)?;
        Ok(ListenerReadiness {
            epoll,
            readiness: DirectionReadiness::default(),
        })
    }

    /// After an `accept4` started at `tick` found nothing: clears the readiness; an
    /// error when it stays ready at the same tick (closed for good: waiting again would
    /// spin).
    fn found_nothing(&self, tick: Tick) -> io::Result<()> {
        self.readiness.clear(tick);
        if self.readiness.ready_tick() == Some(tick) {
            return Err(readiness_failed());
        }
        Ok(())
    }

    /// Accepts a connection from `listener` (the fd registered in this instance),
    /// waiting for one as long as needed; any number of tasks may wait at once.
    pub(crate) async fn accept(&self, listener: RawFd) -> io::Result<Accepted> {
        // One unit of the task's cooperative budget, as every other I/O wait spends:
        // a task accepting from a listener that always has connections queued yields.
        poll_fn(crate::task::coop::poll_proceed).await;
        let mut waiter = self.readiness.waiter();
        loop {
            let tick = match self.readiness.ready_tick() {
                Some(tick) => tick,
                None => {
                    poll_fn(|cx| waiter.poll_ready(cx, self.epoll.as_raw_fd(), libc::POLLIN))
                        .await?;
                    self.readiness.tick()
                }
            };
            match accept_now(listener) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
            self.found_nothing(tick)?;
        }
    }

    /// The poll form of [`accept`](ListenerReadiness::accept): `Pending` with `cx`'s
    /// waker in the readiness' one `poll_*` slot when no connection is queued.
    pub(crate) fn poll_accept(
        &self,
        cx: &mut Context<'_>,
        listener: RawFd,
    ) -> Poll<io::Result<Accepted>> {
        ready!(crate::task::coop::poll_proceed(cx));
        loop {
            let tick = match self.readiness.ready_tick() {
                Some(tick) => tick,
                None => ready!(self.readiness.poll_ready(
                    cx,
                    self.epoll.as_raw_fd(),
                    libc::POLLIN
                ))?,
            };
            match accept_now(listener) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
            self.found_nothing(tick)?;
        }
    }
}

/// The error of an accept whose readiness request failed for good.
fn readiness_failed() -> io::Error {
    io::Error::other("the listener's readiness request on its epoll instance failed")
}

/// One `accept4` on the non-blocking `listener`: a close-on-exec, blocking connection
/// (as io_uring wants it) and its peer's address; `WouldBlock` when none is queued.
fn accept_now(listener: RawFd) -> io::Result<Accepted> {
    let mut storage = SockAddrStorage::zeroed();
    loop {
        let mut length = size_of::<SockAddrStorage>() as libc::socklen_t;
        // SAFETY: `storage` and `length` are live and exclusively ours for the call,
        // and the storage is as large as any socket address; the caller keeps
        // `listener` open for the call (it borrows the listener).
        let fd = unsafe {
            libc::accept4(
                listener,
                (&raw mut storage).cast(),
                &mut length,
                libc::SOCK_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel returned a new fd that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            return Ok(Accepted {
                fd,
                peer: sock_addr(&storage, length),
            });
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::future::Future as _;
    use std::pin::pin;

    use crate::net::TcpListener;
    use crate::runtime::{Backend, Builder, Handle, Runtime};

    fn uring() -> Runtime {
        Builder::new_current_thread()
            .backend(Backend::IoUring)
            .enable_all()
            .build()
            .unwrap()
    }

    /// A listener whose readiness request was armed on a runtime that is gone (its
    /// ring ended the request with `-ECANCELED`) still accepts on the next runtime, and
    /// a wait there arms a new request on the new ring.
    #[test]
    fn a_readiness_ended_by_a_dropped_runtime_is_armed_again() {
        let first = uring();
        let listener = first.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            assert!(
                listener
                    .socket
                    .accept_slot()
                    .unwrap()
                    .by_readiness()
                    .is_some()
            );
            // One poll: nothing queued, so the accept arms the POLL_ADD and waits.
            {
                let mut accept = pin!(listener.accept());
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                assert!(accept.as_mut().poll(&mut cx).is_pending());
            }
            listener
        });
        drop(first);
        let second = uring();
        second.block_on(async {
            let address = listener.local_addr().unwrap();
            let client = std::net::TcpStream::connect(address).unwrap();
            let (_, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            // A wait on this runtime: nothing is queued, so the accept must arm a new
            // request on this ring (the first one ended with its ring).
            let submitted = Handle::current().metrics().io().submitted;
            let late = crate::spawn(async move {
                let (_, peer) = listener.accept().await.unwrap();
                peer
            });
            crate::task::yield_now().await;
            assert!(
                Handle::current().metrics().io().submitted > submitted,
                "the waiting accept armed nothing on the new ring"
            );
            let client = std::net::TcpStream::connect(address).unwrap();
            assert_eq!(late.await.unwrap(), client.local_addr().unwrap());
        });
    }
}
