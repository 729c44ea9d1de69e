//! The shared cell of one io_uring operation, and the future that awaits it.
//!
//! An operation's state must survive its task moving to another worker and its future
//! being dropped (or forgotten) while the kernel still uses its buffers. So the op value
//! (`T`, which owns the buffers and anything an SQE points into) lives in one heap cell,
//! [`OpCell`], shared by two owners:
//!
//! * the future ([`UringOp`]), wherever its task is polled;
//! * the ring that submitted it: its in-flight table holds an `Arc` to the cell (type
//!   erased as [`Completion`]) from submission until the final CQE.
//!
//! The kernel's use of the op value is bracketed by the ring's reference, so the value
//! (and its buffers) is freed only once both the future is gone and the final CQE has
//! arrived (or never, when the ring is torn down with the op still in flight: the ring
//! then leaks its reference on purpose).
//!
//! # States
//!
//! ```text
//!                 submit (local ring, or a worker's remote queue)
//!   [future owns T] ─────────────► Queued ──ring pushes the SQE──► InFlight
//!                                    │                                 │
//!                        CQE ────────┼─────────────────────────────────┤
//!                                    ▼                                 ▼
//!                               Completed(res) ◄───────────────── (final CQE)
//!                                    │  future takes T back, output built
//!                                    ▼
//!                                  Taken
//!
//!   Queued/InFlight ──future dropped──► Abandoned ──(ring sends ASYNC_CANCEL; the
//!                                                    final CQE drops the ring's Arc:
//!                                                    T is freed only then)
//!   Completed ──future dropped before collecting it──► the op's `complete_abandoned`
//!                (late results, such as bytes a stream read, go back to their owner)
//!   InFlight ──CQE with IORING_CQE_F_MORE──► InFlight (never final: more CQEs follow, so
//!                the kernel still owns the value; its result goes to the op's
//!                `uring_more_completion`: a zero-copy send records it, others log it)
//!   InFlight ──ring retired (its thread gave up its core), CQE is -ECANCELED──► Retired
//!   Retired ──next poll──► Queued on the current thread's ring (resubmitted)
//!   InFlight, SQE not yet taken by the kernel ──ring broken (`io_uring_enter` fails for
//!                good, see `ring`)──► Completed(-errno), as if its CQE said so; without
//!                a future (abandoned, detached): `complete_abandoned(-ECANCELED)`, as
//!                for a retired op
//!   Abandoned, or detached (no future: `submit_detached`) ──ring retired──► the op's
//!                `complete_abandoned(-ECANCELED)`: nobody resubmits it, so it gets its
//!                final result like any other abandoned op (a socket's count of
//!                abandoned reads goes back down, a CLOSE that never ran closes its fd)
//! ```
//!
//! Every transition happens under the cell's mutex. The op value itself sits in an
//! `UnsafeCell` outside the mutex, because the kernel may write into it while the
//! state is `Queued`/`InFlight`; Rust code touches it only in the states where no one
//! else can: before the first submission (the future), while building the SQE (the
//! ring, state `Queued`), and after completion (the future, state `Completed`), or when
//! the last `Arc` drops.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use io_uring::squeue;

use super::remote::{self, RingRoute, RingShared};
use crate::driver::op::OpCode;
use crate::loom::{Mutex, lock};

/// The ring's view of a cell: what it needs to submit, complete and retire it.
pub(crate) trait Completion: Send + Sync {
    /// Builds the SQE for the op, or `None` when the future was dropped before the ring
    /// got to submit it. Moves the state from `Queued` to `InFlight`, recording which
    /// ring and `user_data` now own it.
    fn start(&self, owner: &Arc<RingShared>, ring_id: u64, user_data: u64)
    -> Option<squeue::Entry>;
    /// Delivers a CQE. `more` is the multishot flag: further CQEs follow.
    fn complete(&self, result: i32, flags: u32, more: bool);
    /// The ring left its thread and cancelled the op before it ran (`-ECANCELED`): the
    /// future resubmits it on its next poll.
    fn retire(&self);
    /// The op was queued for a core that cannot run it (its thread has no ring) and no
    /// other core can take it: like [`retire`](Completion::retire) for an op that never
    /// reached a ring; the future's next poll submits it again (and reports why that
    /// fails).
    fn not_submitted(&self);
    /// The op's SQE never reached the kernel and never will: its ring broke (see
    /// `ring`, "Broken ring"). A waiting future gets `-errno` as its result; an op
    /// without one (detached, or abandoned) gets `-ECANCELED`, "never ran", as from a
    /// retired ring (a CLOSE that never ran closes its fd).
    fn fail_unsubmitted(&self, errno: i32) {
        self.complete(-errno, 0, false);
    }
}

enum State {
    /// Waiting for a ring to take it (possibly on another thread's remote queue).
    Queued { waker: Option<Waker> },
    /// The kernel owns the op's memory.
    InFlight {
        waker: Option<Waker>,
        owner: Arc<RingShared>,
        ring_id: u64,
        user_data: u64,
    },
    /// The final CQE arrived.
    Completed { result: i32 },
    /// Cancelled by a retiring ring: the op never ran and can be submitted again.
    Retired,
    /// The future is gone; the ring frees the op with its last reference.
    Abandoned,
    /// The future took the op value back.
    Taken,
}

/// One operation's shared state.
pub(crate) struct OpCell<T> {
    state: Mutex<State>,
    op: UnsafeCell<Option<T>>,
    /// Submitted with [`submit_detached`]: no future will ever poll it.
    detached: bool,
}

// SAFETY: `op` is only accessed by one party at a time, as the state machine in the
// module doc describes (and the state lives under a mutex); `T: Send` lets the value be
// dropped or taken on whichever thread ends up doing so.
unsafe impl<T: Send> Sync for OpCell<T> {}

impl<T: OpCode> Completion for OpCell<T> {
    fn start(
        &self,
        owner: &Arc<RingShared>,
        ring_id: u64,
        user_data: u64,
    ) -> Option<squeue::Entry> {
        let mut state = lock(&self.state);
        let waker = match &mut *state {
            State::Queued { waker } => waker.take(),
            _ => return None,
        };
        // SAFETY: in `Queued` the future does not touch `op` (it only looks at the
        // state), so this is the only access; the cell is heap-pinned inside its `Arc`,
        // so pointers the SQE takes into the value stay valid until the final CQE.
        let op = unsafe { &mut *self.op.get() };
        let entry = op
            .as_mut()
            .expect("a queued op holds its value")
            .uring_entry();
        *state = State::InFlight {
            waker,
            owner: owner.clone(),
            ring_id,
            user_data,
        };
        Some(entry.user_data(user_data))
    }

    fn complete(&self, result: i32, flags: u32, more: bool) {
        if more {
            // More CQEs follow, so the kernel still owns the op's memory (a zero-copy
            // send's result before its notification, or a multishot SQE in a
            // single-shot cell by mistake: `UringOp::new` refuses `OpCode::MULTISHOT`
            // ops at compile time). Never treat it as final: the cell stays in flight,
            // the ring keeps its entry (it drops it only on a CQE without `F_MORE`),
            // and the value is handed back or freed only after the final CQE. The op
            // records (or logs) this CQE's result.
            let _state = lock(&self.state);
            // SAFETY: before the final CQE the state is `InFlight` or `Abandoned`, where
            // nobody holds `&mut` to the value (the future and the ring touch it
            // mutably only in `Queued`, `Completed` and `Retired`); the shared reference
            // covers no kernel-written memory (see `OpCode::abandoned_in_flight`).
            if let Some(op) = unsafe { &*self.op.get() } {
                op.uring_more_completion(result, flags);
            }
            return;
        }
        let waker = {
            let mut state = lock(&self.state);
            if matches!(*state, State::InFlight { .. } | State::Abandoned) {
                // SAFETY: the final CQE: the kernel is done with the value, and in these
                // states neither the future nor a ring touches it outside this lock.
                if let Some(op) = unsafe { &mut *self.op.get() } {
                    op.final_cqe_flags(flags);
                }
            }
            match std::mem::replace(&mut *state, State::Completed { result }) {
                State::InFlight { waker, .. } => waker,
                State::Abandoned => {
                    *state = State::Abandoned;
                    drop(state);
                    // SAFETY: the final CQE arrived and the future is gone: nobody else
                    // touches the value.
                    if let Some(op) = unsafe { &mut *self.op.get() } {
                        op.complete_abandoned(result);
                    }
                    None
                }
                other => {
                    *state = other;
                    None
                }
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn retire(&self) {
        self.never_ran();
    }

    fn not_submitted(&self) {
        self.never_ran();
    }

    fn fail_unsubmitted(&self, errno: i32) {
        self.end_unrun(State::Completed { result: -errno });
    }
}

impl<T: OpCode> OpCell<T> {
    /// The op never ran: its ring retired it (`-ECANCELED` on a retiring ring, state
    /// `InFlight`), or no ring could take it (state `Queued`). Its future resubmits it
    /// on its next poll. Without a future (detached, or abandoned) nobody will, so this
    /// is its final result, `-ECANCELED`, delivered to `complete_abandoned`: the op
    /// must learn it (a stream read uncounts itself from the socket's abandoned reads,
    /// a detached CLOSE closes its fd) or later ops wait for a result that never comes.
    fn never_ran(&self) {
        self.end_unrun(State::Retired);
    }

    /// Ends an op the kernel does not hold (never submitted, or its final CQE came):
    /// a future waiting for it gets `next` (`Retired`: resubmit it; `Completed`: its
    /// result) and is woken; without a future, `complete_abandoned(-ECANCELED)` is the
    /// op's final result (see [`never_ran`](OpCell::never_ran)).
    fn end_unrun(&self, next: State) {
        let waker = {
            let mut state = lock(&self.state);
            match std::mem::replace(&mut *state, next) {
                State::Queued { waker } | State::InFlight { waker, .. } if !self.detached => waker,
                State::Queued { .. } | State::InFlight { .. } | State::Abandoned => {
                    *state = State::Abandoned;
                    drop(state);
                    // SAFETY: the kernel does not hold the value (its final CQE arrived,
                    // or it was never submitted) and no future exists to touch it.
                    if let Some(op) = unsafe { &mut *self.op.get() } {
                        op.complete_abandoned(-libc::ECANCELED);
                    }
                    None
                }
                other => {
                    *state = other;
                    None
                }
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The future of one io_uring operation.
///
/// Dropping it while the op is in flight cancels the op and leaves the buffers to the
/// cell until the kernel is done; forgetting it leaks the cell, never frees it early.
pub(crate) struct UringOp<T: OpCode> {
    cell: Option<Arc<OpCell<T>>>,
    op: Option<T>,
    /// Finds a core's ring when this thread has none attached (see [`RingRoute`]).
    route: RingRoute,
}

impl<T: OpCode> fmt::Debug for UringOp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UringOp")
            .field("submitted", &self.cell.is_some())
            .finish()
    }
}

impl<T: OpCode> UringOp<T> {
    /// The future of `op`; `route` finds a core's ring for it when it is polled (or
    /// resubmitted) on a thread without an attached ring.
    pub(crate) fn new(op: T, route: RingRoute) -> UringOp<T> {
        const {
            assert!(
                !T::MULTISHOT,
                "multishot ops run in `multishot::MultishotOp`, not in a single-shot cell"
            );
        }
        UringOp {
            cell: None,
            op: Some(op),
            route,
        }
    }

    fn submit(&mut self, op: T, cx: &mut Context<'_>) -> io::Result<()> {
        // Fast path: this thread's ring serves a core. The cell is created in flight,
        // before anyone else can see it, so no lock is taken.
        let mut op = Some(op);
        let _ = remote::RING.try_with(|ring| {
            let Ok(mut ring) = ring.try_borrow_mut() else {
                return;
            };
            let Some(ring) = ring.as_mut().filter(|r| r.attached().is_some()) else {
                return;
            };
            ring.submit_with(|owner, ring_id, user_data| {
                let cell = Arc::new(OpCell {
                    state: Mutex::new(State::InFlight {
                        waker: Some(cx.waker().clone()),
                        owner: owner.clone(),
                        ring_id,
                        user_data,
                    }),
                    op: UnsafeCell::new(op.take()),
                    detached: false,
                });
                // SAFETY: the cell is not shared yet, so this is the only access; the
                // value is in its final place, so pointers the SQE takes into it stay
                // valid until the final CQE.
                let value = unsafe { &mut *cell.op.get() };
                let entry = value
                    .as_mut()
                    .expect("just stored")
                    .uring_entry()
                    .user_data(user_data);
                self.cell = Some(cell.clone());
                Some((cell as Arc<dyn Completion>, entry))
            });
        });
        let Some(op) = op else {
            return Ok(());
        };
        let cell = Arc::new(OpCell {
            state: Mutex::new(State::Queued {
                waker: Some(cx.waker().clone()),
            }),
            op: UnsafeCell::new(Some(op)),
            detached: false,
        });
        self.cell = Some(cell.clone());
        remote::submit(cell, self.route)
    }
}

/// Submits `op` with no future to await it ("fire and forget", e.g. closing a socket's
/// fd) on this thread's ring; gives `op` back when this thread has no attached ring.
///
/// The cell is created `Queued` without a waker and only the ring references it: its
/// final CQE moves it to `Completed`, the ring drops its reference and the op value is
/// dropped with the cell. Nobody reads the result.
pub(crate) fn submit_detached<T: OpCode>(op: T) -> Result<(), T> {
    let mut op = Some(op);
    let _ = remote::RING.try_with(|ring| {
        let Ok(mut ring) = ring.try_borrow_mut() else {
            return;
        };
        let Some(ring) = ring.as_mut().filter(|r| r.attached().is_some()) else {
            return;
        };
        let cell = Arc::new(OpCell {
            state: Mutex::new(State::Queued { waker: None }),
            op: UnsafeCell::new(op.take()),
            detached: true,
        });
        ring.submit(cell);
    });
    match op {
        None => Ok(()),
        Some(op) => Err(op),
    }
}

impl<T: OpCode> Unpin for UringOp<T> {}

impl<T: OpCode> Future for UringOp<T> {
    /// The op value back, with the CQE's result (`res` as a count, or the errno).
    type Output = (T, io::Result<usize>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(op) = this.op.take() {
            if let Err(error) = this.submit(op, cx) {
                let cell = this.cell.take().expect("just submitted");
                let op = take_unsubmitted(&cell);
                return Poll::Ready((op, Err(error)));
            }
            return Poll::Pending;
        }
        let Some(cell) = this.cell.as_ref() else {
            panic!("UringOp polled after completion");
        };
        let mut state = lock(&cell.state);
        match &mut *state {
            State::Queued { waker } | State::InFlight { waker, .. } => {
                match waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            State::Completed { result } => {
                let result = *result;
                *state = State::Taken;
                drop(state);
                // SAFETY: `Completed` means the final CQE arrived: the kernel is done
                // with the value and the ring no longer touches it, so the future is
                // its only user.
                let op = unsafe { (*cell.op.get()).take() }.expect("completed op has a value");
                this.cell = None;
                let result = if result < 0 {
                    Err(io::Error::from_raw_os_error(-result))
                } else {
                    Ok(result as usize)
                };
                Poll::Ready((op, result))
            }
            State::Retired => {
                *state = State::Taken;
                drop(state);
                // SAFETY: `Retired` means the op was cancelled before it ran and its
                // final CQE arrived: the value is free again.
                let op = unsafe { (*cell.op.get()).take() }.expect("retired op has a value");
                this.cell = None;
                this.op = Some(op);
                // Resubmit on this thread's ring (or a worker's).
                Pin::new(this).poll(cx)
            }
            State::Abandoned | State::Taken => unreachable!("the future owns the op"),
        }
    }
}

fn take_unsubmitted<T>(cell: &OpCell<T>) -> T {
    *lock(&cell.state) = State::Taken;
    // SAFETY: the submission failed before any ring saw the cell: the future is the
    // only user.
    unsafe { (*cell.op.get()).take() }.expect("unsubmitted op has a value")
}

impl<T: OpCode> Drop for UringOp<T> {
    fn drop(&mut self) {
        let Some(cell) = self.cell.take() else {
            return;
        };
        let cancel = {
            let mut state = lock(&cell.state);
            match std::mem::replace(&mut *state, State::Abandoned) {
                State::InFlight {
                    owner,
                    ring_id,
                    user_data,
                    ..
                } => {
                    // SAFETY: a shared reference to the value while the kernel owns
                    // it. No Rust code writes it meanwhile: the ring does not touch it
                    // in `InFlight` (the state is locked). The kernel may be writing
                    // into it, but never into memory this reference covers: ops keep
                    // kernel-written fields in `KernelWritten` (an `UnsafeCell`, which
                    // also keeps `Option`'s niche out of them) and buffers behind their
                    // own heap pointers (see `OpCode::abandoned_in_flight`).
                    let op = unsafe { &*cell.op.get() };
                    if let Some(op) = op {
                        op.abandoned_in_flight();
                    }
                    Some((owner, ring_id, user_data))
                }
                State::Queued { .. } => None,
                State::Completed { result } => {
                    // The CQE arrived but the future never collected it: hand the
                    // result to the op so it is not lost.
                    *state = State::Taken;
                    drop(state);
                    // SAFETY: `Completed`: the kernel and the ring are done with the
                    // value; the future (being dropped) is its only user.
                    if let Some(op) = unsafe { &mut *cell.op.get() } {
                        op.complete_abandoned(result);
                    }
                    return;
                }
                other => {
                    // Retired/Taken: nothing in flight; the value drops with the last
                    // `Arc`.
                    *state = other;
                    None
                }
            }
        };
        if let Some((owner, ring_id, user_data)) = cancel {
            remote::cancel(&owner, ring_id, user_data);
        }
    }
}

#[cfg(all(test, loom))]
mod tests {
    //! Loom models of the cell protocol: the future (poll, drop) on one thread racing
    //! the ring (completion, retire) on another.

    use std::io;
    use std::task::{Context, Poll, Wake, Waker};

    use super::*;
    use crate::driver::op::Readiness;
    use crate::loom::atomic::{AtomicUsize, Ordering::SeqCst};

    /// An op that counts how often its value is dropped, and checks it is never
    /// dropped while the (simulated) kernel may still use it.
    struct Counted(std::sync::Arc<AtomicUsize>, std::sync::Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            assert_eq!(
                self.1.load(SeqCst),
                1,
                "op value freed before its final CQE"
            );
            self.0.fetch_add(1, SeqCst);
        }
    }

    impl OpCode for Counted {
        type Output = ();
        const OPCODE: u8 = io_uring::opcode::Nop::CODE;

        fn uring_entry(&mut self) -> squeue::Entry {
            io_uring::opcode::Nop::new().build()
        }
        fn readiness(&self) -> Readiness {
            Readiness::Immediate
        }
        fn attempt(&mut self) -> io::Result<usize> {
            Ok(0)
        }
        fn complete(self, _result: io::Result<usize>) {}
    }

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    /// A cell already started on a ring: state `InFlight`, as after `Ring::submit`.
    fn in_flight(
        drops: &std::sync::Arc<AtomicUsize>,
        kernel_done: &std::sync::Arc<AtomicUsize>,
        waker: &Waker,
    ) -> (UringOp<Counted>, Arc<dyn Completion>) {
        let owner = Arc::new(RingShared::new().unwrap());
        let cell = Arc::new(OpCell {
            state: Mutex::new(State::Queued {
                waker: Some(waker.clone()),
            }),
            op: UnsafeCell::new(Some(Counted(drops.clone(), kernel_done.clone()))),
            detached: false,
        });
        submitted(&owner, cell)
    }

    /// Starts `cell` on `owner` (state `InFlight`, as after `Ring::submit`): the future
    /// that awaits it and the ring's reference.
    fn submitted<T: OpCode>(
        owner: &Arc<RingShared>,
        cell: Arc<OpCell<T>>,
    ) -> (UringOp<T>, Arc<dyn Completion>) {
        assert!(cell.start(owner, 1, 42).is_some());
        let ring: Arc<dyn Completion> = cell.clone();
        let future = UringOp {
            cell: Some(cell),
            op: None,
            route: || None,
        };
        (future, ring)
    }

    #[test]
    fn loom_drop_races_completion_frees_once() {
        loom::model(|| {
            let drops = std::sync::Arc::new(AtomicUsize::new(0));
            let waker = Waker::from(std::sync::Arc::new(CountingWaker(AtomicUsize::new(0))));
            let done = std::sync::Arc::new(AtomicUsize::new(0));
            let (future, ring) = in_flight(&drops, &done, &waker);
            let kernel = loom::thread::spawn(move || {
                done.store(1, SeqCst);
                ring.complete(0, 0, false);
                // The ring drops its reference after the final CQE.
                drop(ring);
            });
            drop(future);
            kernel.join().unwrap();
            assert_eq!(drops.load(SeqCst), 1, "the op value is freed exactly once");
        });
    }

    #[test]
    fn loom_poll_races_completion_never_loses_the_wake() {
        loom::model(|| {
            let drops = std::sync::Arc::new(AtomicUsize::new(0));
            let wakes = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
            let waker = Waker::from(wakes.clone());
            let done = std::sync::Arc::new(AtomicUsize::new(0));
            let (mut future, ring) = in_flight(&drops, &done, &waker);
            let kernel = loom::thread::spawn(move || {
                done.store(1, SeqCst);
                ring.complete(3, 0, false);
                drop(ring);
            });
            let mut cx = Context::from_waker(&waker);
            let first = Pin::new(&mut future).poll(&mut cx);
            kernel.join().unwrap();
            match first {
                Poll::Ready((op, result)) => {
                    assert_eq!(result.unwrap(), 3);
                    drop(op);
                }
                Poll::Pending => {
                    // Pending means the completion had not happened yet: it must have
                    // woken the (kept) waker.
                    assert!(wakes.0.load(SeqCst) >= 1, "lost wake-up");
                    match Pin::new(&mut future).poll(&mut cx) {
                        Poll::Ready((op, result)) => {
                            assert_eq!(result.unwrap(), 3);
                            drop(op);
                        }
                        Poll::Pending => panic!("woken but not ready"),
                    }
                }
            }
            drop(future);
            assert_eq!(drops.load(SeqCst), 1);
        });
    }

    #[test]
    fn loom_retire_races_drop_frees_once() {
        loom::model(|| {
            let drops = std::sync::Arc::new(AtomicUsize::new(0));
            let waker = Waker::from(std::sync::Arc::new(CountingWaker(AtomicUsize::new(0))));
            let done = std::sync::Arc::new(AtomicUsize::new(0));
            let (future, ring) = in_flight(&drops, &done, &waker);
            let kernel = loom::thread::spawn(move || {
                done.store(1, SeqCst);
                ring.retire();
                drop(ring);
            });
            drop(future);
            kernel.join().unwrap();
            assert_eq!(drops.load(SeqCst), 1);
        });
    }

    /// An op that keeps a socket-like count of abandoned in-flight ops: up when its
    /// future is dropped in flight, down when its final result reaches
    /// `complete_abandoned` (what `op::leftovers` does for stream reads).
    struct Abandonable {
        pending: std::sync::Arc<AtomicUsize>,
        finished: std::sync::Arc<AtomicUsize>,
        /// Besides `-ECANCELED` ("never ran"), the final result may be `-EPERM`: a
        /// broken ring's error that the future was dropped before collecting.
        allow_eperm: bool,
    }

    impl OpCode for Abandonable {
        type Output = ();
        const OPCODE: u8 = io_uring::opcode::Nop::CODE;

        fn uring_entry(&mut self) -> squeue::Entry {
            io_uring::opcode::Nop::new().build()
        }
        fn abandoned_in_flight(&self) {
            self.pending.fetch_add(1, SeqCst);
        }
        fn complete_abandoned(&mut self, result: i32) {
            assert!(
                result == -libc::ECANCELED || (self.allow_eperm && result == -libc::EPERM),
                "unexpected final result {result}"
            );
            self.finished.fetch_add(1, SeqCst);
        }
        fn readiness(&self) -> Readiness {
            Readiness::Immediate
        }
        fn attempt(&mut self) -> io::Result<usize> {
            Ok(0)
        }
        fn complete(self, _result: io::Result<usize>) {}
    }

    fn abandonable(detached: bool) -> (Arc<OpCell<Abandonable>>, Abandonable) {
        abandonable_with(detached, false)
    }

    fn abandonable_with(
        detached: bool,
        allow_eperm: bool,
    ) -> (Arc<OpCell<Abandonable>>, Abandonable) {
        let pending = std::sync::Arc::new(AtomicUsize::new(0));
        let finished = std::sync::Arc::new(AtomicUsize::new(0));
        let probe = Abandonable {
            pending: pending.clone(),
            finished: finished.clone(),
            allow_eperm,
        };
        let cell = Arc::new(OpCell {
            state: Mutex::new(State::Queued { waker: None }),
            op: UnsafeCell::new(Some(Abandonable {
                pending,
                finished,
                allow_eperm,
            })),
            detached,
        });
        (cell, probe)
    }

    #[test]
    fn loom_retire_after_abandon_settles_the_abandoned_count() {
        // The future is dropped in flight (its op counted as abandoned) while the ring
        // retires and the op's -ECANCELED completion arrives: whichever comes first,
        // the op's final result must reach `complete_abandoned`, exactly once.
        loom::model(|| {
            let owner = Arc::new(RingShared::new().unwrap());
            let (cell, probe) = abandonable(false);
            *lock(&cell.state) = State::Queued {
                waker: Some(Waker::noop().clone()),
            };
            let (future, ring) = submitted(&owner, cell);
            let kernel = loom::thread::spawn(move || {
                ring.retire();
                drop(ring);
            });
            drop(future);
            kernel.join().unwrap();
            let counted = probe.pending.load(SeqCst);
            let finished = probe.finished.load(SeqCst);
            assert!(counted <= 1);
            assert_eq!(
                counted, finished,
                "an op counted as abandoned never got its final result"
            );
        });
    }

    #[test]
    fn loom_broken_ring_racing_drop_gives_one_final_result() {
        // The ring breaks (the op's SQE never reached the kernel) while the future is
        // dropped: whichever comes first, the op gets its final result exactly once.
        loom::model(|| {
            let owner = Arc::new(RingShared::new().unwrap());
            let (cell, probe) = abandonable_with(false, true);
            *lock(&cell.state) = State::Queued {
                waker: Some(Waker::noop().clone()),
            };
            let (future, ring) = submitted(&owner, cell);
            let kernel = loom::thread::spawn(move || {
                ring.fail_unsubmitted(libc::EPERM);
                drop(ring);
            });
            drop(future);
            kernel.join().unwrap();
            // Dropped first: counted as abandoned in flight, then `-ECANCELED`. Failed
            // first: the future held an uncollected `-EPERM`, which its drop hands to
            // `complete_abandoned`. Either way exactly one final result.
            let counted = probe.pending.load(SeqCst);
            let finished = probe.finished.load(SeqCst);
            assert!(counted <= 1);
            assert_eq!(finished, 1, "the op's final result was lost or doubled");
        });
    }

    #[test]
    fn loom_broken_ring_gives_a_detached_op_never_ran() {
        // No future: the op learns it never ran (`-ECANCELED`, which
        // `Abandonable` asserts), so a detached CLOSE would close its fd.
        loom::model(|| {
            let owner = Arc::new(RingShared::new().unwrap());
            let (cell, probe) = abandonable(true);
            assert!(cell.start(&owner, 1, 42).is_some());
            let ring: Arc<dyn Completion> = cell;
            let kernel = loom::thread::spawn(move || {
                ring.fail_unsubmitted(libc::EPERM);
                drop(ring);
            });
            kernel.join().unwrap();
            assert_eq!(probe.finished.load(SeqCst), 1);
        });
    }

    #[test]
    fn loom_broken_ring_racing_poll_hands_the_error_to_the_future() {
        loom::model(|| {
            let drops = std::sync::Arc::new(AtomicUsize::new(0));
            let wakes = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
            let waker = Waker::from(wakes.clone());
            // Never in the kernel: the value may be freed at any time.
            let done = std::sync::Arc::new(AtomicUsize::new(1));
            let (mut future, ring) = in_flight(&drops, &done, &waker);
            let kernel = loom::thread::spawn(move || {
                ring.fail_unsubmitted(libc::EPERM);
                drop(ring);
            });
            let mut cx = Context::from_waker(&waker);
            let first = Pin::new(&mut future).poll(&mut cx);
            kernel.join().unwrap();
            let result = match first {
                Poll::Ready((op, result)) => {
                    drop(op);
                    result
                }
                Poll::Pending => {
                    assert!(wakes.0.load(SeqCst) >= 1, "lost wake-up");
                    match Pin::new(&mut future).poll(&mut cx) {
                        Poll::Ready((op, result)) => {
                            drop(op);
                            result
                        }
                        Poll::Pending => panic!("woken but not ready"),
                    }
                }
            };
            assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EPERM));
            drop(future);
            assert_eq!(drops.load(SeqCst), 1);
        });
    }

    #[test]
    fn loom_retired_detached_op_gets_its_final_result() {
        loom::model(|| {
            let owner = Arc::new(RingShared::new().unwrap());
            let (cell, probe) = abandonable(true);
            assert!(cell.start(&owner, 1, 42).is_some());
            let ring: Arc<dyn Completion> = cell;
            let kernel = loom::thread::spawn(move || {
                ring.retire();
                drop(ring);
            });
            kernel.join().unwrap();
            assert_eq!(probe.finished.load(SeqCst), 1);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod single_shot_tests {
    //! A CQE flagged `IORING_CQE_F_MORE` reaching a single-shot cell (a multishot or
    //! zero-copy SQE run through `UringOp` by mistake) must not end the op: the kernel
    //! still owns the value. These run in release builds too (no `debug_assert!`).

    use std::io;
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::driver::op::Readiness;

    /// `IORING_CQE_F_MORE`.
    const F_MORE: u32 = 1 << 1;

    /// Records whether its value was dropped and what `complete_abandoned` saw.
    struct Watched {
        dropped: std::sync::Arc<AtomicBool>,
        abandoned_result: std::sync::Arc<AtomicI32>,
    }

    impl Drop for Watched {
        fn drop(&mut self) {
            self.dropped.store(true, SeqCst);
        }
    }

    impl OpCode for Watched {
        type Output = ();
        const OPCODE: u8 = io_uring::opcode::Nop::CODE;

        fn uring_entry(&mut self) -> squeue::Entry {
            io_uring::opcode::Nop::new().build()
        }
        fn complete_abandoned(&mut self, result: i32) {
            self.abandoned_result.store(result, SeqCst);
        }
        fn readiness(&self) -> Readiness {
            Readiness::Immediate
        }
        fn attempt(&mut self) -> io::Result<usize> {
            Ok(0)
        }
        fn complete(self, _result: io::Result<usize>) {}
    }

    struct Probe {
        dropped: std::sync::Arc<AtomicBool>,
        abandoned_result: std::sync::Arc<AtomicI32>,
    }

    /// A cell started on a (fake) ring, state `InFlight`, and the future awaiting it.
    fn in_flight() -> (UringOp<Watched>, Arc<dyn Completion>, Probe) {
        let probe = Probe {
            dropped: std::sync::Arc::new(AtomicBool::new(false)),
            abandoned_result: std::sync::Arc::new(AtomicI32::new(i32::MIN)),
        };
        let owner = Arc::new(RingShared::new().unwrap());
        let cell = Arc::new(OpCell {
            state: Mutex::new(State::Queued { waker: None }),
            op: UnsafeCell::new(Some(Watched {
                dropped: probe.dropped.clone(),
                abandoned_result: probe.abandoned_result.clone(),
            })),
            detached: false,
        });
        assert!(cell.start(&owner, 1, 42).is_some());
        let ring: Arc<dyn Completion> = cell.clone();
        let future = UringOp {
            cell: Some(cell),
            op: None,
            route: || None,
        };
        (future, ring, probe)
    }

    #[test]
    fn more_cqe_does_not_hand_the_value_back_before_the_final_one() {
        let (mut future, ring, probe) = in_flight();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut future).poll(&mut cx).is_pending());

        ring.complete(5, F_MORE, true);
        assert!(
            Pin::new(&mut future).poll(&mut cx).is_pending(),
            "a CQE with F_MORE handed the value back while the kernel still owns it"
        );
        assert!(!probe.dropped.load(SeqCst));

        ring.complete(7, 0, false);
        match Pin::new(&mut future).poll(&mut cx) {
            Poll::Ready((op, result)) => {
                assert_eq!(result.unwrap(), 7, "the final CQE's result");
                drop(op);
            }
            Poll::Pending => panic!("the final CQE did not complete the op"),
        }
        assert!(probe.dropped.load(SeqCst));
    }

    #[test]
    fn more_cqe_on_an_abandoned_cell_keeps_the_value_until_the_final_one() {
        let (future, ring, probe) = in_flight();
        drop(future);

        ring.complete(5, F_MORE, true);
        assert_eq!(
            probe.abandoned_result.load(SeqCst),
            i32::MIN,
            "complete_abandoned ran on a CQE with F_MORE"
        );
        assert!(!probe.dropped.load(SeqCst));

        ring.complete(7, 0, false);
        assert_eq!(probe.abandoned_result.load(SeqCst), 7);
        // The ring drops its reference after the final CQE: only then is the value
        // freed.
        assert!(!probe.dropped.load(SeqCst));
        drop(ring);
        assert!(probe.dropped.load(SeqCst));
    }
}
