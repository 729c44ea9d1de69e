//! [`Leftovers`]: results of cancelled operations, kept for the next operation of the
//! same kind on the same I/O object. This is what makes `accept` and stream reads
//! cancel-safe on io_uring.
//!
//! On io_uring, dropping an `accept` or `read` future cancels its op, but the kernel
//! may have completed it already (or complete it before the cancellation lands): the
//! connection was accepted, the bytes were taken from the socket. The op then hands that
//! result here (`OpCode::complete_abandoned`) instead of dropping it, and the next
//! `accept`/`read` on the socket takes it first.
//!
//! The ops reach their object's leftovers through the state of its fd owner
//! (`io::shared_fd::FdRef::state`), which implements the sink trait of each kind of
//! result: [`KeepsReads`](super::recv::KeepsReads) for [`Received`](super::recv::Received),
//! [`KeepsAccepts`](super::accept::KeepsAccepts) for
//! [`Accepted`](super::accept::Accepted). This file knows no kind of result: each
//! names its [`LatePath`] through [`LateResult`].
//!
//! Order matters for bytes: a read issued while a cancelled read is still in the kernel
//! could otherwise return later bytes before the cancelled read's earlier ones reach the
//! stash. So a cancelled op that is still in flight is counted
//! (`OpCode::abandoned_in_flight`, which the op cell calls before it sends the cancel),
//! and [`Leftovers::poll_take`] waits until that count is back to zero:
//!
//! ```text
//!   future dropped, op in the kernel ──► note_abandoned()   in_flight += 1
//!   its final CQE ───────────────────► finish_abandoned(r)  in_flight -= 1, keep r, wake
//!   future dropped after its CQE ─────► keep(r)             (nothing was counted)
//!   next op ──► poll_take: in_flight > 0 ? wait : take the oldest kept result, if any
//! ```
//!
//! The mio backend never needs it: its syscalls run inside `poll`, so a dropped future
//! has taken nothing.
//!
//! Readiness waits look at the leftovers too (a stream's `readable()` must not wait for
//! the socket while bytes are kept for the next read): [`Leftovers::poll_front`] reports
//! the oldest kept result without taking it (and waits like `poll_take` while a
//! cancelled op is in flight), and handing a result over says whether it was kept
//! ([`LeftoverTicket::complete_abandoned`]), so the owner can wake a wait that was
//! already parked on the socket (`KeepsReads::read_kept`).
//!
//! Every late result kept here is also counted, process-wide and per path ([`LatePath`]):
//! the path is rare and timing-dependent, so the cancel-safety tests read these counts
//! (through the hidden `crate::__private::late_results`) to prove it ran.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

/// Which path kept a late result (see [`late_results_kept`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LatePath {
    /// Bytes or a datagram taken by a cancelled read or receive.
    Read = 0,
    /// A connection taken by a cancelled single accept.
    Accept = 1,
    /// A connection taken by a listener's multishot accept nobody took it from.
    MultishotAccept = 2,
}

/// Process-wide count of late results kept, per [`LatePath`].
static LATE_RESULTS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// How many late results `path` has kept in this process so far.
pub(crate) fn late_results_kept(path: LatePath) -> u64 {
    LATE_RESULTS[path as usize].load(Ordering::Relaxed)
}

fn count_late(path: LatePath) {
    LATE_RESULTS[path as usize].fetch_add(1, Ordering::Relaxed);
}

/// What a kept result is, for the counts: the path of a single-shot op (one with a
/// [`LeftoverTicket`]) and that of a multishot op (which keeps with [`Leftovers::keep`]).
pub(crate) trait LateResult {
    /// The path of a single-shot op's late result.
    const SINGLE_SHOT: LatePath;
    /// The path of a multishot op's late result.
    const MULTISHOT: LatePath;
}

/// Kept results of cancelled operations (see the module documentation).
#[derive(Debug)]
pub(crate) struct Leftovers<T> {
    /// False when `in_flight == 0` and `kept` is empty: the fast path takes no lock.
    busy: AtomicBool,
    state: Mutex<State<T>>,
}

#[derive(Debug)]
struct State<T> {
    in_flight: usize,
    kept: VecDeque<T>,
    waiters: Vec<Waker>,
}

impl<T> Default for Leftovers<T> {
    fn default() -> Self {
        Leftovers {
            busy: AtomicBool::new(false),
            state: Mutex::new(State {
                in_flight: 0,
                kept: VecDeque::new(),
                waiters: Vec::new(),
            }),
        }
    }
}

#[cfg_attr(
    not(ringtide_uring),
    allow(
        dead_code,
        reason = "only io_uring ops complete after their future is gone"
    )
)]
impl<T: LateResult> Leftovers<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn update_busy(&self, state: &State<T>) {
        self.busy.store(
            state.in_flight > 0 || !state.kept.is_empty(),
            Ordering::Release,
        );
    }

    /// A cancelled op is still in the kernel: later ops wait for its result.
    pub(crate) fn note_abandoned(&self) {
        let mut state = self.lock();
        state.in_flight += 1;
        self.update_busy(&state);
    }

    /// The final result of an op counted by [`note_abandoned`](Leftovers::note_abandoned)
    /// (`None`: it produced nothing). Whether a result was kept.
    pub(crate) fn finish_abandoned(&self, result: Option<T>) -> bool {
        if result.is_some() {
            count_late(T::SINGLE_SHOT);
        }
        let kept = result.is_some();
        let waiters = {
            let mut state = self.lock();
            state.in_flight = state.in_flight.saturating_sub(1);
            state.kept.extend(result);
            self.update_busy(&state);
            std::mem::take(&mut state.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
        kept
    }

    /// Keeps a result of a multishot op that nobody will take from it (its stream was
    /// dropped).
    pub(crate) fn keep(&self, result: T) {
        count_late(T::MULTISHOT);
        self.push_kept(result);
    }

    /// Keeps a result of a single-shot op whose future was dropped after it completed.
    fn keep_single_shot(&self, result: T) {
        count_late(T::SINGLE_SHOT);
        self.push_kept(result);
    }

    fn push_kept(&self, result: T) {
        let mut state = self.lock();
        state.kept.push_back(result);
        self.update_busy(&state);
    }

    /// Puts back the unused part of a result taken with
    /// [`poll_take`](Leftovers::poll_take), ahead of everything else.
    pub(crate) fn put_back(&self, result: T) {
        let mut state = self.lock();
        state.kept.push_front(result);
        self.update_busy(&state);
    }

    /// The oldest kept result (`Ready(None)` when there is none); `Pending` while a
    /// cancelled op may still produce one.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if !self.busy.load(Ordering::Acquire) {
            return Poll::Ready(None);
        }
        let mut state = self.lock();
        if state.in_flight > 0 {
            if !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                state.waiters.push(cx.waker().clone());
            }
            return Poll::Pending;
        }
        let taken = state.kept.pop_front();
        self.update_busy(&state);
        Poll::Ready(taken)
    }

    /// `f` of the oldest kept result, which stays kept (`Ready(None)` when there is
    /// none); `Pending` while a cancelled op may still produce one, as in
    /// [`poll_take`](Leftovers::poll_take).
    pub(crate) fn poll_front<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&T) -> R,
    ) -> Poll<Option<R>> {
        if !self.busy.load(Ordering::Acquire) {
            return Poll::Ready(None);
        }
        let mut state = self.lock();
        if state.in_flight > 0 {
            if !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                state.waiters.push(cx.waker().clone());
            }
            return Poll::Pending;
        }
        Poll::Ready(state.kept.front().map(f))
    }
}

/// What one op needs to feed [`Leftovers`]: whether it was counted as abandoned in
/// flight (so its final result must also uncount it).
#[derive(Debug, Default)]
#[cfg_attr(
    not(ringtide_uring),
    allow(
        dead_code,
        reason = "only io_uring ops complete after their future is gone"
    )
)]
pub(crate) struct LeftoverTicket {
    counted: AtomicBool,
}

#[cfg_attr(
    not(ringtide_uring),
    allow(
        dead_code,
        reason = "only io_uring ops complete after their future is gone"
    )
)]
impl LeftoverTicket {
    /// `OpCode::abandoned_in_flight`: the op's result will arrive later.
    pub(crate) fn abandoned_in_flight<T: LateResult>(&self, leftovers: &Leftovers<T>) {
        self.counted.store(true, Ordering::Relaxed);
        leftovers.note_abandoned();
    }

    /// `OpCode::complete_abandoned`: hands the op's late result over. Whether a result
    /// was kept (the owner then wakes what waits for one, `KeepsReads::read_kept`).
    pub(crate) fn complete_abandoned<T: LateResult>(
        &self,
        leftovers: &Leftovers<T>,
        result: Option<T>,
    ) -> bool {
        if self.counted.load(Ordering::Relaxed) {
            leftovers.finish_abandoned(result)
        } else if let Some(result) = result {
            leftovers.keep_single_shot(result);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl LateResult for u32 {
        const SINGLE_SHOT: LatePath = LatePath::Read;
        const MULTISHOT: LatePath = LatePath::Read;
    }

    #[derive(Debug, PartialEq)]
    struct Probe;

    impl LateResult for Probe {
        const SINGLE_SHOT: LatePath = LatePath::Accept;
        const MULTISHOT: LatePath = LatePath::MultishotAccept;
    }

    #[test]
    fn late_results_are_counted_per_path() {
        let leftovers = Leftovers::<Probe>::default();
        let counts = || {
            (
                late_results_kept(LatePath::Accept),
                late_results_kept(LatePath::MultishotAccept),
            )
        };
        // Other tests of this process may add to the counts meanwhile: only growth is
        // asserted.
        let before = counts();
        // A single-shot op dropped after its completion, and one dropped in flight.
        LeftoverTicket::default().complete_abandoned(&leftovers, Some(Probe));
        let ticket = LeftoverTicket::default();
        ticket.abandoned_in_flight(&leftovers);
        ticket.complete_abandoned(&leftovers, Some(Probe));
        let single = counts();
        assert!(single.0 >= before.0 + 2, "{before:?} -> {single:?}");
        // A multishot op's result nobody took.
        leftovers.keep(Probe);
        let multishot = counts();
        assert!(multishot.1 > single.1, "{single:?} -> {multishot:?}");
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..3 {
            assert_eq!(leftovers.poll_take(&mut cx), Poll::Ready(Some(Probe)));
        }
        assert_eq!(leftovers.poll_take(&mut cx), Poll::Ready(None));
    }

    #[test]
    fn take_waits_for_in_flight_cancellations_and_keeps_order() {
        let leftovers = Leftovers::<u32>::default();
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(leftovers.poll_take(&mut cx), Poll::Ready(None));
        leftovers.note_abandoned();
        leftovers.note_abandoned();
        assert_eq!(leftovers.poll_take(&mut cx), Poll::Pending);
        leftovers.finish_abandoned(Some(1));
        assert_eq!(leftovers.poll_take(&mut cx), Poll::Pending);
        leftovers.finish_abandoned(None);
        leftovers.keep(2);
        assert_eq!(leftovers.poll_take(&mut cx), Poll::Ready(Some(1)));
        leftovers.put_back(7);
        assert_eq!(leftovers.poll_take(&mut cx), Poll::Ready(Some(7)));
        assert_eq!(leftovers.poll_take(&mut cx), Poll::Ready(Some(2)));
        assert_eq!(leftovers.poll_take(&mut cx), Poll::Ready(None));
    }

    #[test]
    fn front_is_seen_without_being_taken_and_a_hand_over_says_whether_it_kept() {
        let leftovers = Leftovers::<u32>::default();
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(
            leftovers.poll_front(&mut cx, |kept| *kept),
            Poll::Ready(None)
        );
        let ticket = LeftoverTicket::default();
        ticket.abandoned_in_flight(&leftovers);
        assert_eq!(leftovers.poll_front(&mut cx, |kept| *kept), Poll::Pending);
        // Settling with nothing kept: nothing for the owner to wake.
        assert!(!ticket.complete_abandoned(&leftovers, None));
        assert!(!LeftoverTicket::default().complete_abandoned(&leftovers, None));
        assert!(LeftoverTicket::default().complete_abandoned(&leftovers, Some(5)));
        let ticket = LeftoverTicket::default();
        ticket.abandoned_in_flight(&leftovers);
        assert!(ticket.complete_abandoned(&leftovers, Some(6)));
        for _ in 0..2 {
            assert_eq!(
                leftovers.poll_front(&mut cx, |kept| *kept),
                Poll::Ready(Some(5))
            );
        }
        assert_eq!(leftovers.poll_take(&mut cx), Poll::Ready(Some(5)));
        assert_eq!(
            leftovers.poll_front(&mut cx, |kept| *kept),
            Poll::Ready(Some(6))
        );
    }
}
