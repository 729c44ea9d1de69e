//! [`DirectionReadiness`]: on io_uring, readiness of one direction of a socket, shared
//! by every task that waits for it.
//!
//! A socket keeps, per direction, one `POLL_ADD` in flight and the list of tasks
//! waiting for it. The op belongs to the socket, not to the task whose poll armed it:
//! its waker is the direction's own ([`Shared`], a `Wake` impl), which wakes every
//! listed waiter, so dropping any waiter future (even the one that armed the op)
//! strands no one.
//!
//! ```text
//!   waiter polled ──► lock ─┬─ generation moved since it listed itself ──► Ready
//!                           └─ list it (WaiterList), arm the POLL_ADD if none,
//!                              poll the op with the direction's waker
//!                                 ├─ Pending ──► Pending (listed)
//!                                 └─ Ready ──► op = None, generation += 1,
//!                                              take every waiter: Ready, all woken
//!   POLL_ADD completes (ring thread) ──► the direction's waker takes every waiter and
//!                                        wakes it; the first to run collects the op
//! ```
//!
//! * Waiters ([`Waiter`], held by `readable()`/`writable()` futures) record the
//!   `generation` they listed themselves at; a completed `POLL_ADD` bumps it, so every
//!   waiter listed before the completion reports `Ready` (the fd was ready when the
//!   kernel completed the poll; readiness is a hint, the caller's syscall decides, as
//!   in tokio). The next waiter arms a new `POLL_ADD`.
//! * Everything happens under the direction's mutex: checking the generation, listing,
//!   arming and polling the op, bumping the generation and taking the list. The ring
//!   thread's wake only takes the list under the same mutex, and a waiter lists itself
//!   *before* it polls the op, so a completion either finds it listed or is seen by its
//!   poll: no wake-up is lost. Wakers run after the lock is released.
//! * `poll_*`-style callers (the `AsyncRead`/`AsyncWrite` impls, through
//!   [`DirectionReadiness::poll_ready`]) keep no state between calls, so they share one
//!   waker slot per direction, as in tokio, woken with the list: they never take a
//!   listed waiter's wake-up, and a listed waiter never takes theirs (if a waiter
//!   collected the completion first, the `poll_*` caller arms a new `POLL_ADD`, which
//!   completes at once while the fd is still ready).
//! * A dropped waiter takes itself off the list. Dropping the socket drops the op,
//!   which cancels it; the op's waker (an `Arc` of the direction) is the only cycle,
//!   and that drop breaks it.

use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::driver::uring::cell::UringOp;
use crate::driver::waiters::{WaiterKey, WaiterList, WakeBatch};
use crate::loom::{Mutex, MutexGuard, lock};
use crate::op::poll::PollAdd;
use crate::op::route::current_runtime_ring;

/// Readiness of one direction of a socket (see the module documentation).
#[derive(Debug)]
pub(crate) struct DirectionReadiness {
    shared: Arc<Shared>,
    /// A waker of `shared`, handed to the `POLL_ADD`.
    waker: Waker,
}

/// The direction's state, and the waker of its `POLL_ADD`.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The `POLL_ADD` in flight (or completed, not yet collected).
    poll: Option<UringOp<PollAdd>>,
    /// How many `POLL_ADD`s have completed and been collected.
    generation: u64,
    /// The waiter futures.
    waiters: WaiterList,
    /// The one `poll_*`-style caller.
    poller: Option<Waker>,
}

impl State {
    /// Takes every waiter to wake.
    fn take_all(&mut self, batch: &mut WakeBatch) {
        if let Some(waker) = self.poller.take() {
            batch.push(waker);
        }
        self.waiters.take_all(batch);
    }
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut batch = WakeBatch::new();
        lock(&self.state).take_all(&mut batch);
        batch.wake_all();
    }
}

impl Default for DirectionReadiness {
    fn default() -> DirectionReadiness {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
        });
        DirectionReadiness {
            waker: Waker::from(shared.clone()),
            shared,
        }
    }
}

impl DirectionReadiness {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    /// Arms the `POLL_ADD` for `events` on `fd` if none is, and polls it with the
    /// direction's waker. On completion the op is collected and the generation bumped;
    /// the caller then takes the waiters.
    fn poll_op(&self, state: &mut State, fd: RawFd, events: libc::c_short) -> Poll<io::Result<()>> {
        let op = state
            .poll
            .get_or_insert_with(|| UringOp::new(PollAdd::new(fd, events), current_runtime_ring));
        let (_, result) = match Pin::new(op).poll(&mut Context::from_waker(&self.waker)) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(output) => output,
        };
        state.poll = None;
        state.generation = state.generation.wrapping_add(1);
        // A readiness error (the fd is gone) shows up in the syscall that follows; only
        // a failure to submit at all is reported here.
        Poll::Ready(match result {
            Err(error) if error.raw_os_error().is_none() => Err(error),
            _ => Ok(()),
        })
    }

    /// For `poll_*`-style callers: ready once a `POLL_ADD` for `events` on `fd`
    /// completes; otherwise `cx`'s waker takes the direction's one `poll_*` slot.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        events: libc::c_short,
    ) -> Poll<io::Result<()>> {
        let mut batch = WakeBatch::new();
        let poll = {
            let mut state = self.lock();
            match &state.poller {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => state.poller = Some(cx.waker().clone()),
            }
            let poll = self.poll_op(&mut state, fd, events);
            if poll.is_ready() {
                // The slot is this caller's: it was just stored.
                state.poller = None;
                state.take_all(&mut batch);
            }
            poll
        };
        batch.wake_all();
        poll
    }

    /// A waker that wakes every task waiting for the direction (the listed waiters and
    /// the `poll_*` caller) without touching the `POLL_ADD`: each re-checks what it
    /// waits for. The socket's read leftovers hold it, so that bytes kept by a
    /// cancelled read wake the readers waiting on the socket.
    pub(crate) fn waker(&self) -> Waker {
        self.waker.clone()
    }

    /// A waiter, for a future to keep across its polls.
    pub(crate) fn waiter(&self) -> Waiter<'_> {
        Waiter {
            readiness: self,
            key: None,
            listed_at: None,
        }
    }

    /// How many waiter futures are listed.
    #[cfg(all(test, not(loom)))]
    fn listed_waiters(&self) -> usize {
        self.lock().waiters.len()
    }
}

impl Drop for DirectionReadiness {
    fn drop(&mut self) {
        // Cancels the op (outside the lock), which releases its waker: the cycle
        // `Shared → op → waker → Shared` ends here.
        let op = self.lock().poll.take();
        drop(op);
    }
}

/// One future's wait on a [`DirectionReadiness`]; dropping it takes it off the list.
#[derive(Debug)]
pub(crate) struct Waiter<'a> {
    readiness: &'a DirectionReadiness,
    key: Option<WaiterKey>,
    /// The generation at which the waiter listed itself.
    listed_at: Option<u64>,
}

impl Waiter<'_> {
    /// Ready once a `POLL_ADD` for `events` on `fd` completed after the waiter listed
    /// itself (any waiter's poll may collect it); otherwise listed with `cx`'s waker.
    pub(crate) fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        fd: RawFd,
        events: libc::c_short,
    ) -> Poll<io::Result<()>> {
        let mut batch = WakeBatch::new();
        let poll = {
            let mut state = self.readiness.lock();
            if self
                .listed_at
                .is_some_and(|listed_at| listed_at != state.generation)
            {
                self.unlist(&mut state);
                return Poll::Ready(Ok(()));
            }
            state.waiters.register(&mut self.key, cx.waker());
            self.listed_at = Some(state.generation);
            let poll = self.readiness.poll_op(&mut state, fd, events);
            if poll.is_ready() {
                self.unlist(&mut state);
                state.take_all(&mut batch);
            }
            poll
        };
        batch.wake_all();
        poll
    }

    fn unlist(&mut self, state: &mut State) {
        if let Some(key) = self.key.take() {
            state.waiters.remove(key);
        }
        self.listed_at = None;
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.key.is_some() {
            let mut state = self.readiness.lock();
            self.unlist(&mut state);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::Ordering::SeqCst;

    use super::*;
    use crate::runtime::{Backend, Builder};
    use crate::test_support::counting_waker as counter;

    fn runtime() -> crate::runtime::Runtime {
        Builder::new_current_thread()
            .backend(Backend::IoUring)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn dropped_waiters_leave_the_list_and_the_op_stays_armed() {
        runtime().block_on(async {
            let (socket, mut peer) = UnixStream::pair().unwrap();
            let readiness = DirectionReadiness::default();
            let (_counter, waker) = counter();
            let mut cx = Context::from_waker(&waker);
            for _ in 0..100 {
                let mut waiter = readiness.waiter();
                assert!(
                    waiter
                        .poll_ready(&mut cx, socket.as_raw_fd(), libc::POLLIN)
                        .is_pending()
                );
                assert_eq!(readiness.listed_waiters(), 1);
            }
            assert_eq!(readiness.listed_waiters(), 0, "dropped waiters are gone");
            assert!(readiness.lock().poll.is_some(), "one POLL_ADD, kept armed");

            // A waiter that comes after them still sees the op complete.
            let (counter, waker) = counter();
            let mut waiter = readiness.waiter();
            assert!(
                waiter
                    .poll_ready(
                        &mut Context::from_waker(&waker),
                        socket.as_raw_fd(),
                        libc::POLLIN
                    )
                    .is_pending()
            );
            peer.write_all(b"x").unwrap();
            while counter.0.load(SeqCst) == 0 {
                crate::task::yield_now().await;
            }
            let poll = waiter.poll_ready(
                &mut Context::from_waker(&waker),
                socket.as_raw_fd(),
                libc::POLLIN,
            );
            assert!(matches!(poll, Poll::Ready(Ok(()))));
            assert_eq!(readiness.listed_waiters(), 0);
        });
    }

    #[test]
    fn a_poll_caller_and_two_waiters_are_all_woken() {
        runtime().block_on(async {
            let (socket, mut peer) = UnixStream::pair().unwrap();
            let fd = socket.as_raw_fd();
            let readiness = DirectionReadiness::default();
            let (first, first_waker) = counter();
            let (second, second_waker) = counter();
            let (poller, poller_waker) = counter();
            let mut first_waiter = readiness.waiter();
            let mut second_waiter = readiness.waiter();
            assert!(
                first_waiter
                    .poll_ready(&mut Context::from_waker(&first_waker), fd, libc::POLLIN)
                    .is_pending()
            );
            assert!(
                second_waiter
                    .poll_ready(&mut Context::from_waker(&second_waker), fd, libc::POLLIN)
                    .is_pending()
            );
            assert!(
                readiness
                    .poll_ready(&mut Context::from_waker(&poller_waker), fd, libc::POLLIN)
                    .is_pending()
            );
            peer.write_all(b"x").unwrap();
            while [&first, &second, &poller]
                .iter()
                .any(|counter| counter.0.load(SeqCst) == 0)
            {
                crate::task::yield_now().await;
            }
            // The second waiter runs first and collects the completion; the first one
            // sees the generation moved.
            let mut cx = Context::from_waker(&second_waker);
            assert!(matches!(
                second_waiter.poll_ready(&mut cx, fd, libc::POLLIN),
                Poll::Ready(Ok(()))
            ));
            let mut cx = Context::from_waker(&first_waker);
            assert!(matches!(
                first_waiter.poll_ready(&mut cx, fd, libc::POLLIN),
                Poll::Ready(Ok(()))
            ));
            assert_eq!(readiness.listed_waiters(), 0);
        });
    }
}
