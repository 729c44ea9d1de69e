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
//! # Protocol: one state word, two parties
//!
//! The state is one atomic word ([`OpCell::state`]) of independent bits; no lock is
//! taken on the paths every op runs. Two parties change it, each only its own bits:
//!
//! * the **ring** side (`start`, the CQEs, retire, a broken ring; always one thread at
//!   a time: the ring's calls are sequential and the remote queue hands a cell over
//!   with a happens-before edge) sets `IN_FLIGHT` once, then exactly one of the final
//!   bits `DONE` (a result is in `outcome`: the final CQE's, or a broken ring's error)
//!   or `RETIRED` (never ran: resubmit);
//! * the **future** sets `ABANDONED` (it is gone) and owns the `WAKER` bit.
//!
//! Queued is "no `IN_FLIGHT`, no final bit", Completed is `DONE`, Retired is
//! `RETIRED`, Abandoned is `ABANDONED`; Taken is no state at all: the future drops its
//! reference as it takes the value back, and never looks at the cell again.
//!
//! Who may touch what (every access below is a `crate::loom::UnsafeCell` access, which
//! the loom models check for overlaps):
//!
//! * **The op value.** The future, before the cell is shared, and once it has seen a
//!   final bit (the ring touches the value after its final transition only when that
//!   transition saw `ABANDONED` or the cell is detached, i.e. when no future exists).
//!   The ring, to build the SQE while the op is Queued (the future does not touch the
//!   value then: it has seen no `IN_FLIGHT` yet), and for an abandoned or detached op
//!   once the kernel is done. In between (in flight, before the final CQE) only
//!   shared references exist: the future's `abandoned_in_flight` as it drops, the
//!   ring's `uring_more_completion` for an `F_MORE` CQE. `T` need only be `Send`, so
//!   those two calls are serialised by the cell's `shared_access` mutex, which no other
//!   path takes.
//! * **`submitted`** (the ring, its id, the `user_data`): written by the ring in
//!   Queued (or at creation), read by the future after it has seen `IN_FLIGHT` (with
//!   `Acquire`; the ring sets the bit with `Release`), never written again: a retired
//!   op is resubmitted in a new cell.
//! * **`outcome`** (result and CQE flags): written by the ring just before its final
//!   read-modify-write (`AcqRel`), read by the future after it has seen the final bit.
//! * **The waker slot**, in the style of tokio's task state (`JOIN_WAKER`): while
//!   `WAKER` is set, the slot holds the future's waker and belongs to the ring, which
//!   takes it and wakes it when its final read-modify-write returns a word with `WAKER`
//!   set. While `WAKER` is clear, the slot belongs to the future. A cell is created
//!   with `WAKER` set and the waker of the poll that submitted it, so an op polled once
//!   before its completion costs no atomic operation on the future's side at all. A
//!   later poll that finds no final bit clears `WAKER` (`fetch_and`; a final bit in
//!   the returned word: the op is over, and the slot, if the ring saw `WAKER`, is the
//!   ring's), updates the slot unless the waker there `will_wake` the new one, and sets
//!   `WAKER` again (`fetch_or`; a final bit in the returned word: the ring finished in
//!   between without seeing a waker, so the future takes the result now instead of
//!   waiting for a wake-up that will not come).
//! * **Dropping the future** ([`UringOp`]'s `Drop`) is a compare-exchange loop that
//!   sets `ABANDONED` and clears `WAKER` (after which the slot is the future's: it
//!   drops the waker at once, not with the cell). If the word it last read says
//!   `IN_FLIGHT`, it calls `abandoned_in_flight` *before* the exchange (so that call
//!   ends before the ring can see `ABANDONED` and take the value), then sends the
//!   cancellation. An exchange that fails because the ring moved on is retried; when
//!   the word shows a final bit the future handles the result itself: `DONE`, the
//!   result goes to `complete_abandoned`; `RETIRED` after `abandoned_in_flight` ran,
//!   `-ECANCELED` does (the op was counted as abandoned, so it must get a final
//!   result); `RETIRED` before, nothing (the value drops with the cell).
//! * **`start` racing the drop of a queued op**: the ring checks `ABANDONED`, builds
//!   the SQE and sets `IN_FLIGHT`. If that read-modify-write returns `ABANDONED`, the
//!   future went away meanwhile: it saw a queued op, so it sent no cancellation and
//!   will not touch the value; the SQE is not pushed and the op gets
//!   `complete_abandoned(-ECANCELED)` ("never ran"), since building it may have moved
//!   a resource to the kernel's side (a CLOSE's fd).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use io_uring::squeue;

use super::remote::{self, RingRoute, RingShared};
use crate::driver::op::OpCode;
use crate::loom::atomic::AtomicUsize;
use crate::loom::atomic::Ordering::{AcqRel, Acquire};
use crate::loom::{Mutex, UnsafeCell, lock};

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

/// [`OpCell::state`]: a ring has the op (its SQE is queued for the kernel or the kernel
/// has it). Set by the ring, once.
const IN_FLIGHT: usize = 1 << 0;
/// Final: the op's result is in [`OpCell::outcome`] (its final CQE's, or a broken
/// ring's error). Set by the ring, once.
const DONE: usize = 1 << 1;
/// Final: the op never ran (a retired ring cancelled it, or no ring could take it); the
/// future resubmits it. Set by the ring, once.
const RETIRED: usize = 1 << 2;
/// Either final bit.
const FINAL: usize = DONE | RETIRED;
/// The future is gone. Set by the future, once.
const ABANDONED: usize = 1 << 3;
/// The waker slot holds the future's waker and belongs to the ring (see the module
/// doc). Set and cleared by the future.
const WAKER: usize = 1 << 4;

/// Where a started op runs: what the future needs to cancel it.
struct Submitted {
    owner: Arc<RingShared>,
    ring_id: u64,
    user_data: u64,
}

/// How the op ended, written by the ring before its final bit.
#[derive(Clone, Copy)]
struct Outcome {
    /// The CQE's `res`, or `-errno` of a broken ring.
    result: i32,
    /// The final CQE's flags; `None` when the op ended without one (a broken ring).
    flags: Option<u32>,
}

/// One operation's shared state.
pub(crate) struct OpCell<T> {
    /// `IN_FLIGHT`, `DONE`, `RETIRED`, `ABANDONED`, `WAKER`: the protocol in the module
    /// doc.
    state: AtomicUsize,
    /// The future's waker; whose it is says `WAKER`.
    waker: UnsafeCell<Option<Waker>>,
    /// Set when the op is started; read by the future to cancel it.
    submitted: UnsafeCell<Option<Submitted>>,
    /// Set by the ring before a final bit.
    outcome: UnsafeCell<Outcome>,
    /// Serialises the two calls that take a shared reference to the value while the
    /// kernel owns it (`abandoned_in_flight`, `uring_more_completion`): `T` is only
    /// `Send`. Taken on those rare paths only.
    shared_access: Mutex<()>,
    op: UnsafeCell<Option<T>>,
    /// Submitted with [`submit_detached`]: no future will ever poll it.
    detached: bool,
}

// SAFETY: `op`, `waker`, `submitted` and `outcome` are accessed by one party at a time,
// or (the value, in flight) through shared references serialised by `shared_access`,
// as the protocol in the module doc describes; `T: Send` lets the value be used,
// dropped or taken on whichever thread ends up doing so.
unsafe impl<T: Send> Sync for OpCell<T> {}

impl<T> OpCell<T> {
    fn new(
        state: usize,
        op: T,
        waker: Option<Waker>,
        submitted: Option<Submitted>,
        detached: bool,
    ) -> OpCell<T> {
        OpCell {
            state: AtomicUsize::new(state),
            waker: UnsafeCell::new(waker),
            submitted: UnsafeCell::new(submitted),
            outcome: UnsafeCell::new(Outcome {
                result: 0,
                flags: None,
            }),
            shared_access: Mutex::new(()),
            op: UnsafeCell::new(Some(op)),
            detached,
        }
    }

    /// A cell waiting for a ring to take it (possibly on another thread's remote
    /// queue).
    fn queued(op: T, waker: Option<Waker>, detached: bool) -> OpCell<T> {
        let state = if waker.is_some() { WAKER } else { 0 };
        OpCell::new(state, op, waker, None, detached)
    }

    /// Runs `f` on the op value, exclusively.
    ///
    /// # Safety
    ///
    /// Nobody else accesses the value meanwhile (see "Who may touch what" in the
    /// module doc).
    unsafe fn value_mut<R>(&self, f: impl FnOnce(&mut Option<T>) -> R) -> R {
        // SAFETY: the caller's contract.
        self.op.with_mut(|op| f(unsafe { &mut *op }))
    }

    /// Runs `f` on a shared reference to the op value.
    ///
    /// # Safety
    ///
    /// Nobody holds `&mut` to the value meanwhile, and other shared references on
    /// other threads are excluded by `shared_access` (`T` is only `Send`).
    unsafe fn value<R>(&self, f: impl FnOnce(&Option<T>) -> R) -> R {
        // SAFETY: the caller's contract.
        self.op.with(|op| f(unsafe { &*op }))
    }

    /// The ring's outcome.
    ///
    /// # Safety
    ///
    /// The caller has seen a final bit (with `Acquire`): the ring wrote the outcome
    /// before setting it and never writes it again.
    unsafe fn outcome(&self) -> Outcome {
        // SAFETY: the caller's contract.
        self.outcome.with(|outcome| unsafe { *outcome })
    }

    /// Takes the waker out of its slot.
    ///
    /// # Safety
    ///
    /// The slot is the caller's (`WAKER` says whose, see the module doc).
    unsafe fn take_waker(&self) -> Option<Waker> {
        // SAFETY: the caller's contract.
        self.waker.with_mut(|slot| unsafe { (*slot).take() })
    }

    /// Registers the waker of a poll that found no final bit. `None`: registered, the
    /// ring will wake it; `Some(state)`: the op ended meanwhile (a final bit is set).
    fn register(&self, waker: &Waker) -> Option<usize> {
        let before = self.state.fetch_and(!WAKER, AcqRel);
        if before & FINAL != 0 {
            return Some(before);
        }
        self.waker.with_mut(|slot| {
            // SAFETY: `WAKER` is clear and no final bit was set: the ring takes the
            // waker only when its final read-modify-write sees `WAKER`, which cannot
            // happen before the `fetch_or` below; until then the slot is this
            // future's alone.
            let slot = unsafe { &mut *slot };
            match slot {
                Some(current) if current.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        });
        let before = self.state.fetch_or(WAKER, AcqRel);
        if before & FINAL != 0 {
            // The ring finished between the two read-modify-writes and saw no waker.
            return Some(before);
        }
        None
    }
}

impl<T: OpCode> Completion for OpCell<T> {
    fn start(
        &self,
        owner: &Arc<RingShared>,
        ring_id: u64,
        user_data: u64,
    ) -> Option<squeue::Entry> {
        let state = self.state.load(Acquire);
        debug_assert_eq!(state & (IN_FLIGHT | FINAL), 0, "a cell is started once");
        if state & ABANDONED != 0 {
            // The future went away while the op was queued: nothing to run; the value
            // drops with the cell.
            return None;
        }
        self.submitted.with_mut(|submitted| {
            let submitted_now = Some(Submitted {
                owner: owner.clone(),
                ring_id,
                user_data,
            });
            // SAFETY: queued (no `IN_FLIGHT`, no final bit): the future reads
            // `submitted` only after it has seen `IN_FLIGHT`, so the ring is its only
            // user.
            unsafe { *submitted = submitted_now };
        });
        // SAFETY: queued: the future does not touch the value before it has seen
        // `IN_FLIGHT` or a final bit, and only this ring sets those; the cell is
        // heap-pinned inside its `Arc`, so pointers the SQE takes into the value stay
        // valid until the final CQE.
        let entry = unsafe {
            self.value_mut(|op| {
                op.as_mut()
                    .expect("a queued op holds its value")
                    .uring_entry()
            })
        };
        let before = self.state.fetch_or(IN_FLIGHT, AcqRel);
        if before & ABANDONED != 0 {
            // Dropped while the SQE was built: the future saw a queued op, so it sent
            // no cancellation and will not touch the value again. The SQE never
            // reaches the kernel: the op never ran (building it may have handed a
            // resource to the kernel's side, such as a CLOSE's fd).
            // SAFETY: the future is gone and the kernel never saw the value.
            unsafe {
                self.value_mut(|op| {
                    if let Some(op) = op {
                        op.complete_abandoned(-libc::ECANCELED);
                    }
                });
            }
            return None;
        }
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
            let _shared = lock(&self.shared_access);
            // SAFETY: before the final bit nobody holds `&mut` to the value (the
            // future and the ring touch it mutably only when queued, after a final bit,
            // or with no future left); the only other shared reference,
            // `abandoned_in_flight`, is excluded by `shared_access`; the reference
            // covers no kernel-written memory (see `OpCode::abandoned_in_flight`).
            unsafe {
                self.value(|op| {
                    if let Some(op) = op {
                        op.uring_more_completion(result, flags);
                    }
                });
            }
            return;
        }
        self.finish(
            DONE,
            Outcome {
                result,
                flags: Some(flags),
            },
        );
    }

    fn retire(&self) {
        self.never_ran();
    }

    fn not_submitted(&self) {
        self.never_ran();
    }

    fn fail_unsubmitted(&self, errno: i32) {
        self.finish(
            DONE,
            Outcome {
                result: -errno,
                flags: None,
            },
        );
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
        self.finish(
            RETIRED,
            Outcome {
                result: -libc::ECANCELED,
                flags: None,
            },
        );
    }

    /// The ring's final transition (`DONE` or `RETIRED`): the kernel is done with the
    /// value (or never had it). A waiting future is woken; an abandoned op gets its
    /// result through `complete_abandoned` (`-ECANCELED` when it never ran, and also
    /// when a broken ring failed it: it never ran either); a detached op gets its final
    /// CQE's flags, or `-ECANCELED` when it never ran.
    fn finish(&self, bit: usize, outcome: Outcome) {
        self.outcome.with_mut(|slot| {
            // SAFETY: the ring writes `outcome` once, before its final bit; the future
            // reads it only after seeing that bit.
            unsafe { *slot = outcome };
        });
        let before = self.state.fetch_or(bit, AcqRel);
        debug_assert_eq!(before & FINAL, 0, "the ring ends an op once");
        if before & ABANDONED != 0 || self.detached {
            // SAFETY: no future will touch the value (it is gone, or never existed: its
            // last access happened before it set `ABANDONED`, which this
            // read-modify-write acquired), and the kernel is done with it.
            unsafe {
                self.value_mut(|op| {
                    let Some(op) = op else {
                        return;
                    };
                    match outcome.flags {
                        Some(flags) => {
                            op.final_cqe_flags(flags);
                            if !self.detached {
                                op.complete_abandoned(outcome.result);
                            }
                        }
                        None => op.complete_abandoned(-libc::ECANCELED),
                    }
                });
            }
        } else if before & WAKER != 0 {
            // SAFETY: `WAKER` was set when the final bit went in: the slot is the
            // ring's (the future writes it only after clearing `WAKER` while no final
            // bit is set, which it can no longer do).
            if let Some(waker) = unsafe { self.take_waker() } {
                waker.wake();
            }
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
        // with the waker in place, before anyone else can see it: no atomic operation.
        let mut op = Some(op);
        let _ = remote::RING.try_with(|ring| {
            let Ok(mut ring) = ring.try_borrow_mut() else {
                return;
            };
            let Some(ring) = ring.as_mut().filter(|r| r.attached().is_some()) else {
                return;
            };
            ring.submit_with(|owner, ring_id, user_data| {
                let cell = Arc::new(OpCell::new(
                    IN_FLIGHT | WAKER,
                    op.take().expect("submitted once"),
                    Some(cx.waker().clone()),
                    Some(Submitted {
                        owner: owner.clone(),
                        ring_id,
                        user_data,
                    }),
                    false,
                ));
                // SAFETY: the cell is not shared yet, so this is the only access; the
                // value is in its final place, so pointers the SQE takes into it stay
                // valid until the final CQE.
                let entry = unsafe {
                    cell.value_mut(|value| value.as_mut().expect("just stored").uring_entry())
                };
                let entry = entry.user_data(user_data);
                self.cell = Some(cell.clone());
                Some((cell as Arc<dyn Completion>, entry))
            });
        });
        let Some(op) = op else {
            return Ok(());
        };
        let cell = Arc::new(OpCell::queued(op, Some(cx.waker().clone()), false));
        self.cell = Some(cell.clone());
        remote::submit(cell, self.route)
    }
}

/// Submits `op` with no future to await it ("fire and forget", e.g. closing a socket's
/// fd) on this thread's ring; gives `op` back when this thread has no attached ring.
///
/// The cell is created `Queued` without a waker and only the ring references it: its
/// final CQE sets `DONE`, the ring drops its reference and the op value is dropped with
/// the cell. Nobody reads the result.
pub(crate) fn submit_detached<T: OpCode>(op: T) -> Result<(), T> {
    let mut op = Some(op);
    let _ = remote::RING.try_with(|ring| {
        let Ok(mut ring) = ring.try_borrow_mut() else {
            return;
        };
        let Some(ring) = ring.as_mut().filter(|r| r.attached().is_some()) else {
            return;
        };
        let op = op.take().expect("submitted once");
        ring.submit(Arc::new(OpCell::queued(op, None, true)));
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
        let mut state = cell.state.load(Acquire);
        if state & FINAL == 0 {
            match cell.register(cx.waker()) {
                None => return Poll::Pending,
                Some(now) => state = now,
            }
        }
        // SAFETY: a final bit: the ring wrote `outcome` before setting it and no longer
        // touches it or the value (it would only for an abandoned op, and this future
        // is alive); the kernel is done with the value (or never had it), so the
        // future is their only user.
        let (op, outcome) = unsafe { (cell.value_mut(Option::take), cell.outcome()) };
        let mut op = op.expect("an ended op holds its value");
        if state & DONE != 0 {
            this.cell = None;
            if let Some(flags) = outcome.flags {
                op.final_cqe_flags(flags);
            }
            let result = if outcome.result < 0 {
                Err(io::Error::from_raw_os_error(-outcome.result))
            } else {
                Ok(outcome.result as usize)
            };
            return Poll::Ready((op, result));
        }
        // Retired: cancelled before it ran; the value is free again. Resubmit on this
        // thread's ring (or a worker's).
        this.cell = None;
        this.op = Some(op);
        Pin::new(this).poll(cx)
    }
}

fn take_unsubmitted<T>(cell: &OpCell<T>) -> T {
    // SAFETY: the submission failed before any ring saw the cell: the future is the
    // only user.
    let op = cell.op.with_mut(|op| unsafe { (*op).take() });
    op.expect("unsubmitted op has a value")
}

impl<T: OpCode> Drop for UringOp<T> {
    fn drop(&mut self) {
        let Some(cell) = self.cell.take() else {
            return;
        };
        // Whether `abandoned_in_flight` ran: the op then needs a final result.
        let mut counted = false;
        let mut state = cell.state.load(Acquire);
        loop {
            if state & DONE != 0 {
                // The op ended but the future never collected the result: hand it to
                // the op so it is not lost.
                // SAFETY: a final bit: the ring is done with the value and the outcome
                // (this future is not abandoned yet), the kernel too; the future (being
                // dropped) is their only user.
                unsafe {
                    let outcome = cell.outcome();
                    cell.value_mut(|op| {
                        if let Some(op) = op {
                            if let Some(flags) = outcome.flags {
                                op.final_cqe_flags(flags);
                            }
                            op.complete_abandoned(outcome.result);
                        }
                    });
                }
                return;
            }
            if state & RETIRED != 0 {
                if counted {
                    // Counted as abandoned in flight, then retired before it ran: its
                    // final result is "never ran".
                    // SAFETY: as for `DONE` above.
                    unsafe {
                        cell.value_mut(|op| {
                            if let Some(op) = op {
                                op.complete_abandoned(-libc::ECANCELED);
                            }
                        });
                    }
                }
                // Otherwise nothing ran and nothing was counted: the value drops with
                // the last `Arc`.
                return;
            }
            if state & IN_FLIGHT != 0 && !counted {
                let _shared = lock(&cell.shared_access);
                // SAFETY: a shared reference to the value while the kernel owns it. No
                // Rust code writes it meanwhile: the ring takes `&mut` only after its
                // final bit (then this loop sees it and never gets here) or after
                // seeing `ABANDONED`, which is set only below, after this call; the
                // ring's other shared access is excluded by `shared_access`. The kernel
                // may be writing into the value, but never into memory this reference
                // covers: ops keep kernel-written fields in `KernelWritten` (an
                // `UnsafeCell`, which also keeps `Option`'s niche out of them) and
                // buffers behind their own heap pointers (see
                // `OpCode::abandoned_in_flight`).
                unsafe {
                    cell.value(|op| {
                        if let Some(op) = op {
                            op.abandoned_in_flight();
                        }
                    });
                }
                counted = true;
            }
            match cell
                .state
                .compare_exchange(state, (state | ABANDONED) & !WAKER, AcqRel, Acquire)
            {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        if state & WAKER != 0 {
            // SAFETY: `WAKER` is clear now and no final bit was set: the ring will not
            // take the waker, so the slot is this future's; drop the waker now rather
            // than with the cell (which the ring may keep until the final CQE).
            drop(unsafe { cell.take_waker() });
        }
        if state & IN_FLIGHT != 0 {
            cell.submitted.with(|submitted| {
                // SAFETY: `IN_FLIGHT` was seen (with `Acquire`): the ring wrote
                // `submitted` before setting it, and never writes it again.
                if let Some(submitted) = unsafe { &*submitted } {
                    remote::cancel(&submitted.owner, submitted.ring_id, submitted.user_data);
                }
            });
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
        let cell = Arc::new(OpCell::queued(
            Counted(drops.clone(), kernel_done.clone()),
            Some(waker.clone()),
            false,
        ));
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
        // A future's cell holds its waker from the start; a detached one has none.
        let waker = (!detached).then(|| Waker::noop().clone());
        let cell = Arc::new(OpCell::queued(
            Abandonable {
                pending,
                finished,
                allow_eperm,
            },
            waker,
            detached,
        ));
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

    /// An op that records every call the cell makes on it, for the models of the new
    /// races: SQEs built, `abandoned_in_flight` (counted as abandoned), final results
    /// through `complete_abandoned`, `F_MORE` results; its drop checks the (simulated)
    /// kernel is done with it.
    struct Recorded(std::sync::Arc<Record>);

    #[derive(Default)]
    struct Record {
        built: AtomicUsize,
        counted: AtomicUsize,
        finished: AtomicUsize,
        more: AtomicUsize,
        drops: AtomicUsize,
        /// 1 once the kernel is done with the value (or never had it).
        kernel_done: AtomicUsize,
    }

    impl Drop for Recorded {
        fn drop(&mut self) {
            assert_eq!(
                self.0.kernel_done.load(SeqCst),
                1,
                "op value freed before its final CQE"
            );
            self.0.drops.fetch_add(1, SeqCst);
        }
    }

    impl OpCode for Recorded {
        type Output = ();
        const OPCODE: u8 = io_uring::opcode::Nop::CODE;

        fn uring_entry(&mut self) -> squeue::Entry {
            self.0.built.fetch_add(1, SeqCst);
            io_uring::opcode::Nop::new().build()
        }
        fn abandoned_in_flight(&self) {
            self.0.counted.fetch_add(1, SeqCst);
        }
        fn complete_abandoned(&mut self, _result: i32) {
            self.0.finished.fetch_add(1, SeqCst);
        }
        fn uring_more_completion(&self, _result: i32, _flags: u32) {
            self.0.more.fetch_add(1, SeqCst);
        }
        fn readiness(&self) -> Readiness {
            Readiness::Immediate
        }
        fn attempt(&mut self) -> io::Result<usize> {
            Ok(0)
        }
        fn complete(self, _result: io::Result<usize>) {}
    }

    /// A queued cell holding a [`Recorded`] op and `waker`, and the future that owns it
    /// (not started yet: the ring's reference is the returned cell).
    fn recorded_queued(
        record: &std::sync::Arc<Record>,
        waker: &Waker,
    ) -> (UringOp<Recorded>, Arc<OpCell<Recorded>>) {
        let cell = Arc::new(OpCell::queued(
            Recorded(record.clone()),
            Some(waker.clone()),
            false,
        ));
        let future = UringOp {
            cell: Some(cell.clone()),
            op: None,
            route: || None,
        };
        (future, cell)
    }

    #[test]
    fn loom_waker_registration_racing_completion_never_loses_the_wake() {
        // The task is polled again with a new waker (it moved, or a combinator polls it
        // with its own) while the final CQE arrives: the new waker is registered and
        // woken, or the poll sees the result; never neither.
        loom::model(|| {
            let drops = std::sync::Arc::new(AtomicUsize::new(0));
            let first = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
            let second = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
            let first_waker = Waker::from(first.clone());
            let second_waker = Waker::from(second.clone());
            let done = std::sync::Arc::new(AtomicUsize::new(0));
            let (mut future, ring) = in_flight(&drops, &done, &first_waker);
            let kernel = loom::thread::spawn(move || {
                done.store(1, SeqCst);
                ring.complete(3, 0, false);
                drop(ring);
            });
            let mut cx = Context::from_waker(&second_waker);
            let polled = Pin::new(&mut future).poll(&mut cx);
            kernel.join().unwrap();
            let (op, result) = match polled {
                Poll::Ready(ready) => ready,
                Poll::Pending => {
                    assert_eq!(second.0.load(SeqCst), 1, "lost wake-up of the new waker");
                    assert_eq!(first.0.load(SeqCst), 0, "the replaced waker was woken");
                    match Pin::new(&mut future).poll(&mut cx) {
                        Poll::Ready(ready) => ready,
                        Poll::Pending => panic!("woken but not ready"),
                    }
                }
            };
            assert_eq!(result.unwrap(), 3);
            drop(op);
            drop(future);
            assert_eq!(drops.load(SeqCst), 1);
            drop((first_waker, second_waker));
            // Every clone the cell made was dropped, exactly once.
            assert_eq!(std::sync::Arc::strong_count(&first), 1);
            assert_eq!(std::sync::Arc::strong_count(&second), 1);
        });
    }

    #[test]
    fn loom_drop_racing_completion_gives_one_final_result() {
        // The future is dropped in flight while the final CQE arrives: the result
        // reaches `complete_abandoned` exactly once (through the ring when the future
        // was gone first, through the drop when the result was there first), after
        // `abandoned_in_flight` if that ran; the waker is dropped, not leaked.
        loom::model(|| {
            let record = std::sync::Arc::new(Record::default());
            let wakes = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
            let waker = Waker::from(wakes.clone());
            let owner = Arc::new(RingShared::new().unwrap());
            let (future, cell) = recorded_queued(&record, &waker);
            assert!(cell.start(&owner, 1, 42).is_some());
            let ring: Arc<dyn Completion> = cell;
            let kernel_record = record.clone();
            let kernel = loom::thread::spawn(move || {
                kernel_record.kernel_done.store(1, SeqCst);
                ring.complete(5, 0, false);
                drop(ring);
            });
            drop(future);
            kernel.join().unwrap();
            assert_eq!(
                record.finished.load(SeqCst),
                1,
                "final result lost or doubled"
            );
            assert!(record.counted.load(SeqCst) <= 1);
            assert_eq!(record.drops.load(SeqCst), 1);
            drop(waker);
            assert_eq!(std::sync::Arc::strong_count(&wakes), 1, "waker leaked");
        });
    }

    #[test]
    fn loom_retire_racing_poll_hands_the_value_back() {
        // The ring retires the op while the task polls it: the poll sees `Retired` and
        // resubmits (here: no ring, so it gets the value back with the error), or it
        // registers and is woken, and the next poll does so.
        loom::model(|| {
            let drops = std::sync::Arc::new(AtomicUsize::new(0));
            let wakes = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
            let waker = Waker::from(wakes.clone());
            // Never ran: the value may be freed at any time.
            let done = std::sync::Arc::new(AtomicUsize::new(1));
            let (mut future, ring) = in_flight(&drops, &done, &waker);
            let kernel = loom::thread::spawn(move || {
                ring.retire();
                drop(ring);
            });
            let mut cx = Context::from_waker(&waker);
            let polled = Pin::new(&mut future).poll(&mut cx);
            kernel.join().unwrap();
            let (op, result) = match polled {
                Poll::Ready(ready) => ready,
                Poll::Pending => {
                    assert!(wakes.0.load(SeqCst) >= 1, "lost wake-up");
                    match Pin::new(&mut future).poll(&mut cx) {
                        Poll::Ready(ready) => ready,
                        Poll::Pending => panic!("woken but not ready"),
                    }
                }
            };
            // The resubmission found no ring: the value came back with that error.
            let error = result.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::Other, "{error}");
            drop(op);
            drop(future);
            assert_eq!(drops.load(SeqCst), 1);
            drop(waker);
            assert_eq!(std::sync::Arc::strong_count(&wakes), 1, "waker leaked");
        });
    }

    #[test]
    fn loom_drop_racing_start_settles_every_built_sqe() {
        // A queued op (remote path) is dropped while a ring starts it. Whatever the
        // order, an SQE that was built gets exactly one final result (a CLOSE's fd is
        // closed by the kernel or by `complete_abandoned`): through the kernel's CQE
        // when the ring submitted it, or as "never ran" when `start` saw the drop after
        // building it; a drop seen before building builds nothing.
        loom::model(|| {
            let record = std::sync::Arc::new(Record::default());
            let owner = Arc::new(RingShared::new().unwrap());
            let (future, cell) = recorded_queued(&record, Waker::noop());
            let ring: Arc<dyn Completion> = cell;
            let kernel_record = record.clone();
            let kernel = loom::thread::spawn(move || {
                match ring.start(&owner, 1, 42) {
                    Some(_) => {
                        // Submitted: the kernel runs (or cancels) it and posts its CQE.
                        kernel_record.kernel_done.store(1, SeqCst);
                        ring.complete(-libc::ECANCELED, 0, false);
                    }
                    None => kernel_record.kernel_done.store(1, SeqCst),
                }
                drop(ring);
            });
            drop(future);
            kernel.join().unwrap();
            let built = record.built.load(SeqCst);
            assert!(built <= 1);
            assert_eq!(
                record.finished.load(SeqCst),
                built,
                "a built SQE got no final result, or two"
            );
            assert!(record.counted.load(SeqCst) <= built);
            assert_eq!(record.drops.load(SeqCst), 1);
        });
    }

    #[test]
    fn loom_more_cqe_racing_drop_keeps_the_value_until_the_final_cqe() {
        // An `F_MORE` CQE (a zero-copy send's result) arrives while the future is
        // dropped in flight: the op records it, counts as abandoned, and gets its final
        // result once; its value outlives the final CQE.
        loom::model(|| {
            let record = std::sync::Arc::new(Record::default());
            let owner = Arc::new(RingShared::new().unwrap());
            let (future, cell) = recorded_queued(&record, Waker::noop());
            assert!(cell.start(&owner, 1, 42).is_some());
            let ring: Arc<dyn Completion> = cell;
            let kernel_record = record.clone();
            let kernel = loom::thread::spawn(move || {
                ring.complete(5, 1 << 1, true);
                kernel_record.kernel_done.store(1, SeqCst);
                ring.complete(0, 0, false);
                drop(ring);
            });
            drop(future);
            kernel.join().unwrap();
            assert_eq!(record.more.load(SeqCst), 1);
            assert_eq!(record.finished.load(SeqCst), 1);
            assert_eq!(record.drops.load(SeqCst), 1);
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
        let cell = Arc::new(OpCell::queued(
            Watched {
                dropped: probe.dropped.clone(),
                abandoned_result: probe.abandoned_result.clone(),
            },
            None,
            false,
        ));
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
