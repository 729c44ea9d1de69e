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
//!   readiness word: tick << 4 | READ_DIRECTION | CLOSED | UNTRIED | READY
//!
//!   new ──► UNTRIED: syscalls run; nothing armed yet (the write side of a socket with
//!           room never arms anything)
//!   syscall → EAGAIN (or a short stream read) ──► clear(tick): READY, UNTRIED off,
//!                                                 unless the tick moved
//!   waiter / poll_* caller finds no READY ──► lock, list itself, arm the multishot if
//!                                             none is (or it ended), re-check, Pending
//!   CQE (ring thread) ──► tick += 1, READY on (and CLOSED, for good, on a hang-up,
//!                         an error other than -ECANCELED or, reading (READ_DIRECTION,
//!                         set when armed), the peer's end of stream); lock, take
//!                         every waiter, wake them. A cancelled
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
//! # Made on first use
//!
//! A server holds thousands of sockets whose reads and writes are owned-buffer ops
//! that never look at readiness (and a mio socket never does), so the direction's
//! state (an `Arc`, 128 bytes) is made only when something first needs it: a
//! [`DirectionReadiness`] is one pointer until then ([`LazyArc`]).
//!
//! ```text
//!   null ──first use that changes it (a wait, a poll_* call that finds it not
//!          ready, a clear after EAGAIN, the receive queue)──► Arc::new, then
//!          CAS(null → it, Release): the winner's Arc is the direction's for good;
//!          a loser (another task's first use at the same moment: split halves,
//!          readable() racing poll_read) drops its own, never shared, and uses the
//!          winner's (the failed CAS's Acquire load)
//!   null, a use that only looks ──► answered as a fresh state would answer:
//!          UNTRIED at tick 0 (ready_tick: try the syscall), no waiters to wake,
//!          nothing armed to disarm, no queue
//!   the socket's state dropped ──► disarm and shut as above, then the cell's count
//!          of the Arc goes (an armed request's sink may hold it a moment longer)
//! ```
//!
//! The steady state's fast path ([`DirectionReadiness::ready_tick`]) is the cell's
//! Acquire load of the pointer (a plain load on x86) and the readiness word's load.
//!
//! The former design submitted a one-shot `POLL_ADD` per wait (an op cell allocated,
//! an SQE, and a `recv` that failed first each time); see `net::poll_io` for the
//! numbers.

use std::io;
use std::marker::PhantomData;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::driver::waiters::{WaiterKey, WaiterList, WakeBatch};
use crate::loom::atomic::{AtomicPtr, AtomicU64, Ordering};
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
/// The readiness word: the direction reads (set when its poll is first armed for
/// `POLLIN`): the peer's end of stream (`POLLRDHUP`) closes it too. Never cleared.
const READ_DIRECTION: u64 = 8;
/// The readiness word: the tick (events seen) sits above the four flags.
const TICK_SHIFT: u32 = 4;
/// The word of a direction whose state was never made: what a fresh one holds.
const FRESH: u64 = UNTRIED;

/// The tick a syscall started at: [`DirectionReadiness::clear`] clears only if no
/// event came since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tick(u64);

/// An `Arc<T>` made on first use and shared by every caller from then on (see the
/// module documentation, "Made on first use"): null until then; the first
/// [`get_or_init`](LazyArc::get_or_init) publishes its `Arc` with a CAS, and a caller
/// that loses the race drops its own (never shared) and takes the winner's. The cell
/// owns one strong count of the published `Arc` until it is dropped.
pub(crate) struct LazyArc<T> {
    /// Null, or `Arc::into_raw` of the published `Arc`, whose count the cell owns.
    ptr: AtomicPtr<T>,
    /// The cell owns an `Arc<T>`: `Send`/`Sync` (and drop checking) as that `Arc`.
    _owns: PhantomData<Arc<T>>,
}

impl<T> Default for LazyArc<T> {
    fn default() -> LazyArc<T> {
        LazyArc {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
            _owns: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for LazyArc<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let made = !self.ptr.load(Ordering::Acquire).is_null();
        f.debug_struct("LazyArc").field("made", &made).finish()
    }
}

impl<T> LazyArc<T> {
    /// The value, once made (one Acquire load).
    pub(crate) fn get(&self) -> Option<&T> {
        let ptr = self.ptr.load(Ordering::Acquire);
        // SAFETY: a non-null `ptr` is the published `Arc`'s (`Arc::into_raw`), written
        // by the Release CAS this Acquire load read from, after the value was made, so
        // the value is seen whole. The cell's count keeps it alive until the cell is
        // dropped, which the borrow of `self` rules out for the reference's life; the
        // value is only ever shared (`&T`), as through any `Arc`.
        unsafe { ptr.as_ref() }
    }

    /// A counted handle on the value, once made (for a sink or waker that outlives the
    /// borrow).
    pub(crate) fn arc(&self) -> Option<Arc<T>> {
        let ptr = self.ptr.load(Ordering::Acquire);
        if ptr.is_null() {
            return None;
        }
        // SAFETY: `ptr` came from `Arc::into_raw` and the cell still holds that count
        // (it gives it back only when dropped, which the borrow of `self` rules out):
        // adding a count and taking it as a new `Arc` is `Arc::clone`.
        unsafe {
            Arc::increment_strong_count(ptr);
            Some(Arc::from_raw(ptr))
        }
    }

    /// The value, made with `make` by the first caller; every caller gets the same
    /// one. A caller that loses the race to publish drops what it made.
    pub(crate) fn get_or_init(&self, make: impl FnOnce() -> T) -> &T {
        if let Some(value) = self.get() {
            return value;
        }
        let made = Arc::into_raw(Arc::new(make())).cast_mut();
        if self
            .ptr
            .compare_exchange(
                std::ptr::null_mut(),
                made,
                Ordering::Release,
                Ordering::Acquire,
            )
            .is_err()
        {
            // SAFETY: `made` came from `Arc::into_raw` just above and was never
            // published (the CAS failed), so this is its only count, taken back once.
            drop(unsafe { Arc::from_raw(made) });
        }
        self.get()
            .expect("published: by this caller or the one that won")
    }
}

impl<T> Drop for LazyArc<T> {
    fn drop(&mut self) {
        let ptr = self.ptr.swap(std::ptr::null_mut(), Ordering::Acquire);
        if !ptr.is_null() {
            // SAFETY: the published `Arc`'s count, which the cell owned since the CAS;
            // swapped out, so it is given back exactly once.
            drop(unsafe { Arc::from_raw(ptr) });
        }
    }
}

/// Readiness of one direction of a socket (see the module documentation); its state
/// is made on first use.
#[derive(Debug, Default)]
pub(crate) struct DirectionReadiness {
    shared: LazyArc<Shared>,
}

/// The direction's readiness, waiters and multishot poll; the poll's sink.
#[derive(Debug)]
pub(crate) struct Shared {
    /// `tick << TICK_SHIFT | READ_DIRECTION | CLOSED | UNTRIED | READY`.
    word: AtomicU64,
    state: Mutex<State>,
    /// Reading a stream: the queue of the multishot receive (`net::recv_queue`), made
    /// by the first poll-path read of a socket whose runtime enables the mode.
    recv_queue: LazyArc<RecvQueue>,
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
    fn new() -> Shared {
        Shared {
            word: AtomicU64::new(FRESH),
            state: Mutex::new(State::default()),
            recv_queue: LazyArc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn word(&self) -> u64 {
        self.word.load(Ordering::Acquire)
    }

    /// Takes every waiter and wakes it, outside the lock (the `poll_*` caller, the
    /// common one, first and without the batch). `ended`: the request's final CQE.
    fn wake_all(&self, ended: bool) {
        let mut batch = None;
        let poller = {
            let mut state = self.lock();
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
        let _ = self
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                let mut closing = (libc::POLLHUP | libc::POLLERR) as u32;
                if word & READ_DIRECTION != 0 {
                    closing |= libc::POLLRDHUP as u32;
                }
                let closed = (result < 0 && result != -libc::ECANCELED)
                    || (result >= 0 && result as u32 & closing != 0);
                let flags = if closed { READY | CLOSED } else { READY };
                Some((word + (1 << TICK_SHIFT)) | flags)
            });
        self.wake_all(!more);
    }
}

impl DirectionReadiness {
    /// The readiness word; a fresh one's while the state was never made.
    fn word(&self) -> u64 {
        self.shared.get().map_or(FRESH, Shared::word)
    }

    /// The direction's state, made now if it was not.
    fn made(&self) -> &Shared {
        self.shared.get_or_init(Shared::new)
    }

    /// The tick to run a syscall at, when the direction is ready or was never found
    /// not ready (no lock: the cell's pointer and the word, two loads); `None` when
    /// the caller must wait.
    pub(crate) fn ready_tick(&self) -> Option<Tick> {
        let word = self.word();
        (word & (READY | UNTRIED | CLOSED) != 0).then_some(Tick(word >> TICK_SHIFT))
    }

    /// The tick now, whatever the readiness (for `try_*` calls that do not wait).
    pub(crate) fn tick(&self) -> Tick {
        Tick(self.word() >> TICK_SHIFT)
    }

    /// After a syscall started at `tick` found nothing to do: clears the readiness,
    /// unless an event came since (makes the state: the next wait must wait).
    pub(crate) fn clear(&self, tick: Tick) {
        let _ = self
            .made()
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                (word >> TICK_SHIFT == tick.0).then_some(word & !(READY | UNTRIED))
            });
    }

    /// Arms the multishot `POLL_ADD` for `events` on `fd` if none is (or the last one
    /// ended). Only a failure to submit at all is an error. `shared` is the made state,
    /// `state` its locked part.
    fn arm(
        &self,
        shared: &Shared,
        state: &mut State,
        fd: RawFd,
        events: libc::c_short,
    ) -> io::Result<()> {
        if state.poll_live {
            return Ok(());
        }
        // An ended request is dropped here: it has no CQE left, so nothing to cancel.
        state.poll = None;
        if events & libc::POLLIN != 0 {
            shared.word.fetch_or(READ_DIRECTION, Ordering::Release);
        }
        let sink: Arc<dyn PollEvents> = self.shared.arc().expect("made by the caller");
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
        self.poll_ready_arming(cx, |shared, state| self.arm(shared, state, fd, events))
    }

    /// [`poll_ready`](DirectionReadiness::poll_ready), arming with `arm` (the loom
    /// models arm nothing: they have no ring).
    fn poll_ready_arming(
        &self,
        cx: &mut Context<'_>,
        arm: impl FnOnce(&Shared, &mut State) -> io::Result<()>,
    ) -> Poll<io::Result<Tick>> {
        let word = self.word();
        if word & (READY | CLOSED) != 0 {
            return Poll::Ready(Ok(Tick(word >> TICK_SHIFT)));
        }
        let shared = self.made();
        let mut state = shared.lock();
        match &state.poller {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.poller = Some(cx.waker().clone()),
        }
        if let Err(error) = arm(shared, &mut state) {
            state.poller = None;
            return Poll::Ready(Err(error));
        }
        // An event that came before the slot was filled set READY before its take.
        let word = shared.word();
        if word & (READY | CLOSED) != 0 {
            state.poller = None;
            return Poll::Ready(Ok(Tick(word >> TICK_SHIFT)));
        }
        Poll::Pending
    }

    /// Wakes every task waiting for the direction (the listed waiters and the `poll_*`
    /// caller) without touching the readiness: each re-checks what it waits for. A
    /// direction whose state was never made has nobody to wake. The socket calls it
    /// when a cancelled read's bytes are kept (`KeepsReads::read_kept`), so that a wait
    /// parked on the socket re-checks.
    pub(crate) fn wake(&self) {
        if let Some(shared) = self.shared.get() {
            shared.wake_all(false);
        }
    }

    /// The multishot receive's queue, once a poll-path read set it up.
    pub(crate) fn recv_queue(&self) -> Option<&RecvQueue> {
        self.shared.get()?.recv_queue.get()
    }

    /// A counted handle on the queue (the receive's sink), once set up.
    pub(crate) fn recv_queue_arc(&self) -> Option<Arc<RecvQueue>> {
        self.shared.get()?.recv_queue.arc()
    }

    /// The queue, set up at the first call (makes the direction's state).
    pub(crate) fn recv_queue_or_init(&self) -> &RecvQueue {
        self.made().recv_queue.get_or_init(RecvQueue::default)
    }

    /// A multishot receive now carries the direction's events: the `POLL_ADD` (if
    /// armed) is cancelled, and every waiter is woken to re-check (each then waits on
    /// the receive's queue). The next wait for the socket itself arms a new one.
    pub(crate) fn disarm(&self) {
        let Some(shared) = self.shared.get() else {
            return;
        };
        let poll = {
            let mut state = shared.lock();
            if state.poll.is_none() {
                return;
            }
            state.poll_live = false;
            state.poll.take()
        };
        drop(poll);
        shared.wake_all(false);
    }

    /// A waiter, for a future to keep across its polls.
    pub(crate) fn waiter(&self) -> Waiter<'_> {
        Waiter {
            readiness: self,
            key: None,
            listed_at: None,
        }
    }

    /// Whether the direction's state was made.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_made(&self) -> bool {
        self.shared.get().is_some()
    }

    /// How many waiter futures are listed.
    #[cfg(all(test, not(loom)))]
    fn listed_waiters(&self) -> usize {
        self.shared
            .get()
            .map_or(0, |shared| shared.lock().waiters.len())
    }
}

impl Drop for DirectionReadiness {
    fn drop(&mut self) {
        let Some(shared) = self.shared.get() else {
            return;
        };
        // Cancels the request (outside the lock), which releases its sink: the cycle
        // `Shared → poll → sink → Shared` ends here.
        let poll = {
            let mut state = shared.lock();
            state.poll_live = false;
            state.poll.take()
        };
        drop(poll);
        // The queue's receive holds the queue as its sink: cancelling it ends that
        // cycle too, and queued buffers go back to their ring.
        if let Some(queue) = shared.recv_queue.get() {
            queue.shut();
        }
        // The cell's count of the state goes with `self.shared`.
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
        let readiness = self.readiness;
        self.poll_ready_arming(cx, |shared, state| readiness.arm(shared, state, fd, events))
    }

    /// [`poll_ready`](Waiter::poll_ready), arming with `arm` (the loom models arm
    /// nothing: they have no ring).
    fn poll_ready_arming(
        &mut self,
        cx: &mut Context<'_>,
        arm: impl FnOnce(&Shared, &mut State) -> io::Result<()>,
    ) -> Poll<io::Result<()>> {
        let shared = self.readiness.made();
        let mut state = shared.lock();
        let word = shared.word();
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
        if let Err(error) = arm(shared, &mut state) {
            self.unlist(&mut state);
            return Poll::Ready(Err(error));
        }
        if shared.word() & (READY | CLOSED) != 0 {
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
        // Listed: the state was made by the listing.
        if self.key.is_some()
            && let Some(shared) = self.readiness.shared.get()
        {
            let mut state = shared.lock();
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

    /// An idle socket pays one pointer per direction; a used direction's state, with
    /// its `Arc`'s two counts, stays within glibc's 128-byte block (120 usable bytes):
    /// `bench -- --only idle` counts these blocks.
    #[test]
    fn a_direction_is_one_pointer_until_used_and_its_state_fits_a_128_byte_block() {
        assert_eq!(size_of::<DirectionReadiness>(), size_of::<usize>());
        let state = size_of::<Shared>() + 2 * size_of::<usize>();
        println!("a direction's state: {state} bytes with its counts");
        assert!(
            state <= 120,
            "{state} bytes: above the 128-byte block's 120"
        );
    }

    /// A use that only looks (the tick, readiness, a wake, a disarm, the queue) finds
    /// what a fresh state would say and makes nothing; a clear makes it.
    #[test]
    fn only_a_use_that_changes_the_state_makes_it() {
        let readiness = DirectionReadiness::default();
        assert_eq!(readiness.ready_tick(), Some(Tick(0)));
        assert_eq!(readiness.tick(), Tick(0));
        readiness.wake();
        readiness.disarm();
        assert!(readiness.recv_queue().is_none());
        assert!(readiness.recv_queue_arc().is_none());
        assert!(!readiness.is_made());
        readiness.clear(Tick(0));
        assert!(readiness.is_made());
        assert_eq!(readiness.ready_tick(), None, "cleared");
        assert_eq!(readiness.tick(), Tick(0));
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
            assert!(
                readiness.shared.get().unwrap().lock().poll.is_some(),
                "one POLL_ADD, kept armed"
            );

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

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models of the first-use race: two tasks (split halves, `readable()` racing
    //! `poll_read`) make a direction's state at the same moment. Nothing is armed (no
    //! ring under loom): the models stand in the kernel's readiness event
    //! (`poll_event`) and take the arming as done.

    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    use std::task::Wake;

    use super::*;
    use crate::loom::atomic::AtomicUsize;

    #[derive(Default)]
    struct Wakes(StdAtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A value that records its drop by its id.
    struct Counted {
        id: usize,
        dropped: crate::loom::Arc<Mutex<Vec<usize>>>,
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            lock(&self.dropped).push(self.id);
        }
    }

    /// Both callers get one value; the loser's is freed at once, exactly once, and the
    /// winner's when the cell goes (nothing leaked, nothing freed twice).
    #[test]
    fn loom_lazy_arc_racing_first_uses_share_one_value_and_free_the_other() {
        loom::model(|| {
            let made = crate::loom::Arc::new(AtomicUsize::new(0));
            let dropped = crate::loom::Arc::new(Mutex::new(Vec::new()));
            let cell = crate::loom::Arc::new(LazyArc::<Counted>::default());
            let first_use = {
                let (made, dropped, cell) = (made.clone(), dropped.clone(), cell.clone());
                move || {
                    let value = cell.get_or_init(|| Counted {
                        id: made.fetch_add(1, Ordering::SeqCst),
                        dropped: dropped.clone(),
                    });
                    std::ptr::from_ref(value) as usize
                }
            };
            let other = loom::thread::spawn(first_use.clone());
            let here = first_use();
            let there = other.join().unwrap();
            drop(first_use);
            assert_eq!(here, there, "both callers on the same value");
            let made = made.load(Ordering::SeqCst);
            assert!(made == 1 || made == 2, "made {made}");
            assert_eq!(lock(&dropped).len(), made - 1, "the loser's value is freed");
            let handle = cell.arc().expect("made");
            assert_eq!(
                Arc::strong_count(&handle),
                2,
                "the cell's count and this one"
            );
            drop(handle);
            drop(cell);
            let mut ids = lock(&dropped).clone();
            ids.sort_unstable();
            assert_eq!(ids, (0..made).collect::<Vec<_>>(), "each value freed once");
        });
    }

    /// A `readable()` wait lists itself on a direction whose state another task makes
    /// at the same moment by clearing it after `EAGAIN` (`poll_read`), and then the
    /// readiness event comes through that task's view: the waiter is ready at once
    /// or woken, never lost on a second state.
    #[test]
    fn loom_a_waiter_and_a_clearing_reader_make_one_state_and_no_wake_is_lost() {
        loom::model(|| {
            let readiness = crate::loom::Arc::new(DirectionReadiness::default());
            let reader = {
                let readiness = readiness.clone();
                loom::thread::spawn(move || {
                    let tick = readiness.ready_tick().expect("untried: try the syscall");
                    readiness.clear(tick);
                    // The kernel's readiness event, through this task's view.
                    readiness
                        .shared
                        .get()
                        .expect("made by the clear")
                        .poll_event(i32::from(libc::POLLIN), true);
                })
            };
            let wakes = Arc::new(Wakes::default());
            let waker = Waker::from(wakes.clone());
            let mut cx = Context::from_waker(&waker);
            let mut waiter = readiness.waiter();
            let first = waiter.poll_ready_arming(&mut cx, |_, _| Ok(()));
            reader.join().unwrap();
            if first.is_pending() {
                assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "lost wake-up");
                assert!(matches!(
                    waiter.poll_ready_arming(&mut cx, |_, _| Ok(())),
                    Poll::Ready(Ok(()))
                ));
            }
        });
    }

    /// A `poll_*` caller (`poll_read`) and a `readable()` waiter make the state at the
    /// same moment, each listing itself; one event then wakes both (or each saw it).
    #[test]
    fn loom_a_poll_caller_and_a_waiter_making_the_state_are_both_woken() {
        loom::model(|| {
            let readiness = crate::loom::Arc::new(DirectionReadiness::default());
            let polled = Arc::new(Wakes::default());
            let poller = {
                let (readiness, polled) = (readiness.clone(), polled.clone());
                loom::thread::spawn(move || {
                    let waker = Waker::from(polled);
                    readiness
                        .poll_ready_arming(&mut Context::from_waker(&waker), |_, _| Ok(()))
                        .is_pending()
                })
            };
            let waited = Arc::new(Wakes::default());
            let waker = Waker::from(waited.clone());
            let mut waiter = readiness.waiter();
            let pending = waiter
                .poll_ready_arming(&mut Context::from_waker(&waker), |_, _| Ok(()))
                .is_pending();
            assert!(pending, "nothing came yet");
            assert!(poller.join().unwrap(), "nothing came yet");
            readiness
                .shared
                .get()
                .expect("made")
                .poll_event(i32::from(libc::POLLIN), true);
            assert_eq!(
                polled.0.load(Ordering::SeqCst),
                1,
                "the poll_* caller woken"
            );
            assert_eq!(waited.0.load(Ordering::SeqCst), 1, "the waiter woken");
        });
    }
}
