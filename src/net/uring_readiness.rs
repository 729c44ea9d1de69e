//! [`DirectionReadiness`]: on io_uring, readiness of one direction of a socket, shared
//! by every task that waits for it, in tokio's model: a readiness bit set by the kernel
//! and cleared by the syscall that finds nothing to do.
//!
//! The first wait arms one multishot `POLL_ADD` for the direction (`op::poll_multi`),
//! and it stays armed for the socket's life: each readiness event the kernel reports
//! sets the direction's readiness and bumps its tick, on the ring's thread, then wakes
//! every waiting task. A wait therefore costs no SQE; a syscall that returns `EAGAIN`
//! (or a stream read that comes back short, which shows the socket drained) clears the
//! readiness, but only if the tick is still the one seen before the syscall: an event
//! that came in between is never lost. When the kernel ends the multishot (a CQE
//! without `F_MORE`, e.g. on CQ overflow) the next wait arms a new one.
//!
//! ```text
//!   readiness word: tick << 3 | CLOSED | UNTRIED | READY
//!
//!   new ──► UNTRIED: syscalls run; nothing armed yet (the write side of a socket with
//!           room never arms anything)
//!   syscall → EAGAIN (or a short stream read) ──► clear(tick): READY, UNTRIED off,
//!                                                 unless the tick moved
//!   waiter / poll_* caller finds no READY ──► lock, list itself, arm the multishot if
//!                                             none is (or it ended), re-check, Pending
//!   CQE (ring thread) ──► tick += 1, READY on (and CLOSED, for good, on a hang-up,
//!                         an error other than -ECANCELED or, reading, the peer's end
//!                         of stream); lock, take every waiter, wake them. A cancelled
//!                         request (-ECANCELED: its ring retired) only ends: the next
//!                         wait arms a new one
//! ```
//!
//! * Waiters ([`Waiter`], held by `readable()`/`writable()` futures) report `Ready`
//!   when READY is set, or when the tick moved since they listed themselves (an event
//!   came, even if another task's syscall cleared it since: readiness is a hint, the
//!   caller's syscall decides, as in tokio).
//! * `poll_*`-style callers (the `AsyncRead`/`AsyncWrite` impls, `poll_read_ready`)
//!   keep no state between calls, so they share one waker slot per direction, as in
//!   tokio, woken with the list. Their fast path ([`DirectionReadiness::ready_tick`])
//!   is one atomic load.
//! * Listing, arming and re-checking happen under the direction's mutex, and a CQE
//!   sets READY before it takes the list under the same mutex: a waiter that found
//!   READY unset and listed itself is either seen by that take or sees the bit on its
//!   re-check. Wakers run after the lock is released.
//! * Two flags beside the lock keep the common case on one cache line: `poll_live`
//!   (the multishot is armed and not ended: a wait does not look at the request's
//!   cell) and `waiters_listed` (a waiter future listed itself since the last wake: a
//!   wake without one skips the list and its batch, the `poll_*` path's case).
//! * A dropped waiter takes itself off the list. Dropping the socket drops the
//!   multishot handle, which cancels the request; the request's sink (an `Arc` of the
//!   direction) is the only cycle, and that drop breaks it.
//!
//! The former design submitted a one-shot `POLL_ADD` per wait (an op cell allocated,
//! an SQE, and a `recv` that failed first each time); see `net::poll_io` for the
//! numbers.

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::driver::waiters::{WaiterKey, WaiterList, WakeBatch};
use crate::loom::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::loom::{Mutex, MutexGuard, lock};
use crate::op::poll_multi::{MultiPoll, PollEvents};
use crate::op::route::current_runtime_ring;

use super::recv_queue::RecvQueue;

/// The readiness word: a readiness event came since the last clear.
const READY: u64 = 1;
/// The readiness word: never cleared yet, so syscalls are tried before any wait.
const UNTRIED: u64 = 2;
/// The readiness word: the direction is closed or failed (a hang-up, an error, the
/// peer's end of stream for reading); never cleared, so a read that drained the data
/// before the end of stream still finds it.
const CLOSED: u64 = 4;
/// The readiness word: the tick (events seen) sits above the three flags.
const TICK_SHIFT: u32 = 3;

/// The tick a syscall started at: [`DirectionReadiness::clear`] clears only if no
/// event came since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tick(u64);

/// Readiness of one direction of a socket (see the module documentation).
#[derive(Debug)]
pub(crate) struct DirectionReadiness {
    shared: Arc<Shared>,
    /// Reading a stream: the queue of the multishot receive (`net::recv_queue`), set up
    /// by the first poll-path read; `None` inside when the runtime does not enable it.
    recv_queue: std::sync::OnceLock<Option<Arc<RecvQueue>>>,
}

/// The direction's readiness, waiters and multishot poll; the poll's sink.
#[derive(Debug)]
struct Shared {
    /// `tick << TICK_SHIFT | CLOSED | UNTRIED | READY`.
    word: AtomicU64,
    /// The events that set [`CLOSED`]: `POLLHUP | POLLERR`, and `POLLRDHUP` for the
    /// read direction (set when the poll is armed).
    closing: AtomicU32,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The multishot `POLL_ADD`, once a wait armed it.
    poll: Option<MultiPoll>,
    /// `poll` is armed and has not ended: a wait checks this (the lock's cache line)
    /// instead of the request's cell. Set when armed; cleared by a final CQE and by
    /// the disarm. (A dropped request's final CQE racing its drop on another thread
    /// may clear it for a newer request: the next wait then arms one more, redundant
    /// request, cancelling the newer one; no event is lost, the wait re-checks.)
    poll_live: bool,
    /// The waiter futures.
    waiters: WaiterList,
    /// A waiter future listed itself since the last wake (set on every listing, not
    /// cleared when one leaves): a wake with none skips the list and its batch, the
    /// `poll_*` path's common case.
    waiters_listed: bool,
    /// The one `poll_*`-style caller.
    poller: Option<Waker>,
}

impl Shared {
    /// Takes every waiter and wakes it, outside the lock (the `poll_*` caller, the
    /// common one, first and without the batch). `ended`: the request's final CQE.
    fn wake_all(&self, ended: bool) {
        let mut batch = None;
        let poller = {
            let mut state = lock(&self.state);
            if ended {
                state.poll_live = false;
            }
            if std::mem::take(&mut state.waiters_listed) {
                let mut taken = WakeBatch::new();
                state.waiters.take_all(&mut taken);
                batch = Some(taken);
            }
            state.poller.take()
        };
        if let Some(waker) = poller {
            waker.wake();
        }
        if let Some(batch) = batch {
            batch.wake_all();
        }
    }
}

impl PollEvents for Shared {
    fn poll_event(&self, result: i32, more: bool) {
        // Any CQE counts, an error too (the fd is gone, ...): the syscall that follows
        // reports it. An ended request is re-armed by the next wait. `-ECANCELED` says
        // nothing about the socket: the request was cancelled (the ring retired, e.g.
        // under `block_in_place`, or the runtime went away, or the direction disarmed
        // it), so it wakes the waiters, whose next wait arms a new one on their ring;
        // marking it closed would leave every later syscall's `EAGAIN` looking ready
        // (a busy loop).
        let closed = (result < 0 && result != -libc::ECANCELED)
            || (result >= 0 && result as u32 & self.closing.load(Ordering::Acquire) != 0);
        let flags = if closed { READY | CLOSED } else { READY };
        let _ = self
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                Some((word + (1 << TICK_SHIFT)) | flags)
            });
        self.wake_all(!more);
    }
}

/// The socket's read leftovers wake the direction through this (see
/// [`DirectionReadiness::waker`]).
impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_all(false);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all(false);
    }
}

impl Default for DirectionReadiness {
    fn default() -> DirectionReadiness {
        DirectionReadiness {
            shared: Arc::new(Shared {
                word: AtomicU64::new(UNTRIED),
                closing: AtomicU32::new(0),
                state: Mutex::new(State::default()),
            }),
            recv_queue: std::sync::OnceLock::new(),
        }
    }
}

impl DirectionReadiness {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    fn word(&self) -> u64 {
        self.shared.word.load(Ordering::Acquire)
    }

    /// The tick to run a syscall at, when the direction is ready or was never found
    /// not ready (no lock: one atomic load); `None` when the caller must wait.
    pub(crate) fn ready_tick(&self) -> Option<Tick> {
        let word = self.word();
        (word & (READY | UNTRIED | CLOSED) != 0).then_some(Tick(word >> TICK_SHIFT))
    }

    /// The tick now, whatever the readiness (for `try_*` calls that do not wait).
    pub(crate) fn tick(&self) -> Tick {
        Tick(self.word() >> TICK_SHIFT)
    }

    /// After a syscall started at `tick` found nothing to do: clears the readiness,
    /// unless an event came since.
    pub(crate) fn clear(&self, tick: Tick) {
        let _ = self
            .shared
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                (word >> TICK_SHIFT == tick.0).then_some(word & !(READY | UNTRIED))
            });
    }

    /// Arms the multishot `POLL_ADD` for `events` on `fd` if none is (or the last one
    /// ended). Only a failure to submit at all is an error.
    fn arm(&self, state: &mut State, fd: RawFd, events: libc::c_short) -> io::Result<()> {
        if state.poll_live {
            return Ok(());
        }
        // An ended request is dropped here: it has no CQE left, so nothing to cancel.
        state.poll = None;
        let mut closing = (libc::POLLHUP | libc::POLLERR) as u32;
        if events & libc::POLLIN != 0 {
            closing |= libc::POLLRDHUP as u32;
        }
        self.shared.closing.store(closing, Ordering::Release);
        let sink: Arc<dyn PollEvents> = self.shared.clone();
        state.poll = Some(MultiPoll::arm(fd, events, sink, current_runtime_ring)?);
        state.poll_live = true;
        Ok(())
    }

    /// For `poll_*`-style callers: `Ready` with the tick to run the syscall at when a
    /// readiness event came since the last clear; otherwise `cx`'s waker takes the
    /// direction's one `poll_*` slot and the multishot `POLL_ADD` is armed (if it was
    /// not).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        fd: RawFd,
        events: libc::c_short,
    ) -> Poll<io::Result<Tick>> {
        let word = self.word();
        if word & (READY | CLOSED) != 0 {
            return Poll::Ready(Ok(Tick(word >> TICK_SHIFT)));
        }
        let mut state = self.lock();
        match &state.poller {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.poller = Some(cx.waker().clone()),
        }
        if let Err(error) = self.arm(&mut state, fd, events) {
            state.poller = None;
            return Poll::Ready(Err(error));
        }
        // An event that came before the slot was filled set READY before its take.
        let word = self.word();
        if word & (READY | CLOSED) != 0 {
            state.poller = None;
            return Poll::Ready(Ok(Tick(word >> TICK_SHIFT)));
        }
        Poll::Pending
    }

    /// A waker that wakes every task waiting for the direction (the listed waiters and
    /// the `poll_*` caller) without touching the readiness: each re-checks what it
    /// waits for. The socket's read leftovers hold it, so that bytes kept by a
    /// cancelled read wake the readers waiting on the socket.
    pub(crate) fn waker(&self) -> Waker {
        Waker::from(self.shared.clone())
    }

    /// The multishot receive's queue, once a poll-path read set it up.
    pub(crate) fn recv_queue(&self) -> Option<&Arc<RecvQueue>> {
        self.recv_queue.get().and_then(Option::as_ref)
    }

    /// The queue, set up at the first call (`enabled` says whether the runtime wants
    /// it; asked once).
    pub(crate) fn recv_queue_or_init(
        &self,
        enabled: impl FnOnce() -> bool,
    ) -> Option<&Arc<RecvQueue>> {
        self.recv_queue
            .get_or_init(|| enabled().then(|| Arc::new(RecvQueue::default())))
            .as_ref()
    }

    /// A multishot receive now carries the direction's events: the `POLL_ADD` (if
    /// armed) is cancelled, and every waiter is woken to re-check (each then waits on
    /// the receive's queue). The next wait for the socket itself arms a new one.
    pub(crate) fn disarm(&self) {
        let poll = {
            let mut state = self.lock();
            if state.poll.is_none() {
                return;
            }
            state.poll_live = false;
            state.poll.take()
        };
        drop(poll);
        self.shared.wake_all(false);
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
        // Cancels the request (outside the lock), which releases its sink: the cycle
        // `Shared → poll → sink → Shared` ends here.
        let poll = {
            let mut state = self.lock();
            state.poll_live = false;
            state.poll.take()
        };
        drop(poll);
        // The queue's receive holds the queue as its sink: cancelling it ends that
        // cycle too, and queued buffers go back to their ring.
        if let Some(queue) = self.recv_queue() {
            queue.shut();
        }
    }
}

/// One future's wait on a [`DirectionReadiness`]; dropping it takes it off the list.
#[derive(Debug)]
pub(crate) struct Waiter<'a> {
    readiness: &'a DirectionReadiness,
    key: Option<WaiterKey>,
    /// The tick at which the waiter listed itself.
    listed_at: Option<u64>,
}

impl Waiter<'_> {
    /// Ready when the direction is ready, or an event came after the waiter listed
    /// itself; otherwise listed with `cx`'s waker (and the multishot `POLL_ADD` armed
    /// for `events` on `fd`, if it was not).
    pub(crate) fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        fd: RawFd,
        events: libc::c_short,
    ) -> Poll<io::Result<()>> {
        let mut state = self.readiness.lock();
        let word = self.readiness.word();
        if word & (READY | CLOSED) != 0
            || self
                .listed_at
                .is_some_and(|listed_at| listed_at != word >> TICK_SHIFT)
        {
            self.unlist(&mut state);
            return Poll::Ready(Ok(()));
        }
        state.waiters.register(&mut self.key, cx.waker());
        state.waiters_listed = true;
        self.listed_at = Some(word >> TICK_SHIFT);
        if let Err(error) = self.readiness.arm(&mut state, fd, events) {
            self.unlist(&mut state);
            return Poll::Ready(Err(error));
        }
        if self.readiness.word() & (READY | CLOSED) != 0 {
            self.unlist(&mut state);
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
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
