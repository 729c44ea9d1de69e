//! Multishot operations: one submission, many CQEs (poll, accept, recv with
//! `IORING_*_MULTISHOT`).
//!
//! Same ownership rules as [`super::cell`]: the op value lives in a shared cell that
//! the ring references until the final CQE (the one without `IORING_CQE_F_MORE`), so a
//! dropped or forgotten stream never frees memory the kernel may still use. The
//! difference is the result: a queue of CQEs instead of one.
//!
//! ```text
//!   Queued ──ring pushes the SQE──► InFlight ──CQE with F_MORE──► InFlight (+1 queued)
//!                                      │
//!                                      ├──final CQE──► Finished (queued CQEs drain, then
//!                                      │                         the stream ends)
//!                                      ├──ring retired, -ECANCELED──► Retired: the stream
//!                                      │        resubmits on its next poll
//!                                      └──stream dropped──► Abandoned + ASYNC_CANCEL; the
//!                                               final CQE drops the ring's reference
//! ```
//!
//! The kernel may end a multishot request on its own (for example when the CQ
//! overflows); the stream then reports the final CQE and ends, and the caller decides
//! whether to start a new one.
//!
//! # Multishot ops own no kernel-written memory
//!
//! A result that nobody will take (the stream was dropped, or dropped with results
//! still queued) goes to the op's `complete_abandoned(&mut self)` as it arrives, i.e.
//! while the request may still be armed: the kernel may post more CQEs for the same
//! SQE. That `&mut` to the op value is sound only because a multishot op's SQE points
//! at nothing the kernel writes inside (or owned by) the value: its results travel in
//! the CQEs themselves (an fd, an event mask). [`MultishotOpCode`], an `unsafe` marker
//! trait, states that rule; [`MultishotOp`] runs only ops that implement it, and every
//! implementation justifies it. (A future multishot op that writes memory, such as
//! `RECV_MULTISHOT`, must take its buffers from a provided-buffer ring, which the
//! kernel, not the op value, owns.) The single-shot cell refuses such ops at compile
//! time (`OpCode::MULTISHOT`).

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use io_uring::squeue;

use super::cell::Completion;
use super::remote::{self, RingRoute, RingShared};
use crate::driver::op::OpCode;
use crate::loom::{Mutex, lock};

/// An op whose SQE is multishot (`OpCode::MULTISHOT`), run by [`MultishotOp`].
///
/// # Safety
///
/// While the request is armed the kernel writes no memory that the op value contains
/// or owns: the SQE [`uring_entry`](OpCode::uring_entry) builds points at nothing the
/// kernel writes (each result travels in its CQE). So the cell may hand the value to
/// [`complete_abandoned`](OpCode::complete_abandoned) (`&mut self`) between two CQEs of
/// the same request. Implementations also set `OpCode::MULTISHOT` to `true`
/// (`MultishotOp::new` checks it at compile time).
pub(crate) unsafe trait MultishotOpCode: OpCode {}

enum Phase {
    Queued,
    InFlight {
        owner: Arc<RingShared>,
        ring_id: u64,
        user_data: u64,
    },
    Finished,
    Retired,
    Abandoned,
}

struct MultiState {
    phase: Phase,
    /// CQE results not yet taken by the stream.
    queue: VecDeque<i32>,
    /// Tasks waiting for the next result (several tasks may share one stream, e.g.
    /// tasks accepting on one listener); all are woken by a result.
    wakers: Vec<Waker>,
}

/// A multishot op's shared state.
pub(crate) struct MultiCell<T> {
    state: Mutex<MultiState>,
    op: UnsafeCell<T>,
}

// SAFETY: the op value is only touched while building the SQE (`Queued`, by the one
// ring that starts it), by `complete_abandoned` under the state mutex once the stream
// is gone (see `MultishotOpCode`), and dropped with the last `Arc`; everything else is
// under the mutex. `T: Send` lets it be dropped on whichever thread holds the last reference.
unsafe impl<T: Send> Sync for MultiCell<T> {}

impl<T: MultishotOpCode> Completion for MultiCell<T> {
    fn start(
        &self,
        owner: &Arc<RingShared>,
        ring_id: u64,
        user_data: u64,
    ) -> Option<squeue::Entry> {
        let mut state = lock(&self.state);
        if !matches!(state.phase, Phase::Queued) {
            return None;
        }
        // SAFETY: `Queued` means no SQE for this cell is in the kernel and no other
        // ring is building one; the stream never touches the value.
        let entry = unsafe { &mut *self.op.get() }.uring_entry();
        state.phase = Phase::InFlight {
            owner: owner.clone(),
            ring_id,
            user_data,
        };
        Some(entry.user_data(user_data))
    }

    fn complete(&self, result: i32, _flags: u32, more: bool) {
        let waker = {
            let mut state = lock(&self.state);
            if matches!(state.phase, Phase::Abandoned) {
                // SAFETY: the stream is gone, so under the state lock only the ring
                // touches the value; the request may still be armed, but
                // `T: MultishotOpCode` guarantees the kernel writes no memory the value
                // owns, so a `&mut` to it aliases nothing the kernel uses.
                unsafe { &mut *self.op.get() }.complete_abandoned(result);
                return;
            }
            state.queue.push_back(result);
            if !more {
                state.phase = Phase::Finished;
            }
            std::mem::take(&mut state.wakers)
        };
        waker.into_iter().for_each(Waker::wake);
    }

    fn retire(&self) {
        self.never_ran();
    }

    fn not_submitted(&self) {
        self.never_ran();
    }
}

impl<T> MultiCell<T> {
    /// The request never ran: its ring retired it (state `InFlight`), or no ring could
    /// take it (`Queued`). The stream starts it again on its next poll.
    fn never_ran(&self) {
        let waker = {
            let mut state = lock(&self.state);
            if !matches!(state.phase, Phase::Queued | Phase::InFlight { .. }) {
                return;
            }
            state.phase = Phase::Retired;
            std::mem::take(&mut state.wakers)
        };
        waker.into_iter().for_each(Waker::wake);
    }
}

/// A stream of the CQE results of one multishot op (`Ok(res)` or the errno).
pub(crate) struct MultishotOp<T: MultishotOpCode> {
    cell: Arc<MultiCell<T>>,
    submitted: bool,
    /// Finds a core's ring when this thread has none attached (see [`RingRoute`]).
    route: RingRoute,
}

impl<T: MultishotOpCode> fmt::Debug for MultishotOp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultishotOp")
            .field("submitted", &self.submitted)
            .finish()
    }
}

impl<T: MultishotOpCode> MultishotOp<T> {
    /// `op.uring_entry()` builds a multishot SQE (`T::MULTISHOT`); `route` finds a
    /// core's ring for it when it is polled (or restarted) on a thread without an
    /// attached ring.
    pub(crate) fn new(op: T, route: RingRoute) -> MultishotOp<T> {
        const {
            assert!(
                T::MULTISHOT,
                "a MultishotOpCode must declare OpCode::MULTISHOT"
            );
        }
        MultishotOp {
            cell: Arc::new(MultiCell {
                state: Mutex::new(MultiState {
                    phase: Phase::Queued,
                    queue: VecDeque::new(),
                    wakers: Vec::new(),
                }),
                op: UnsafeCell::new(op),
            }),
            submitted: false,
            route,
        }
    }

    /// The next CQE's result; `None` once the kernel ended the request and every CQE
    /// was taken.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<u32>>> {
        if !self.submitted {
            self.submitted = true;
            lock(&self.cell.state).wakers = vec![cx.waker().clone()];
            if let Err(error) = remote::submit(self.cell.clone(), self.route) {
                lock(&self.cell.state).phase = Phase::Finished;
                return Poll::Ready(Some(Err(error)));
            }
        }
        let mut state = lock(&self.cell.state);
        if let Some(result) = state.queue.pop_front() {
            return Poll::Ready(Some(if result < 0 {
                Err(io::Error::from_raw_os_error(-result))
            } else {
                Ok(result as u32)
            }));
        }
        match state.phase {
            Phase::Finished => Poll::Ready(None),
            Phase::Retired => {
                // The ring that ran it left its thread: start again on this one's.
                state.phase = Phase::Queued;
                drop(state);
                self.submitted = false;
                self.poll_next(cx)
            }
            _ => {
                if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    state.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl<T: MultishotOpCode> Unpin for MultishotOp<T> {}

impl<T: MultishotOpCode> Drop for MultishotOp<T> {
    fn drop(&mut self) {
        let cancel = {
            let mut state = lock(&self.cell.state);
            // Results that arrived but were never taken (an accepted fd) go to the op,
            // as later ones will.
            for result in std::mem::take(&mut state.queue) {
                // SAFETY: under the state lock, like the ring's own calls for an
                // abandoned cell (the ring touches the value only under it); the
                // request may still be armed, but `T: MultishotOpCode` guarantees the
                // kernel writes no memory the value owns.
                unsafe { &mut *self.cell.op.get() }.complete_abandoned(result);
            }
            match std::mem::replace(&mut state.phase, Phase::Abandoned) {
                Phase::InFlight {
                    owner,
                    ring_id,
                    user_data,
                } => Some((owner, ring_id, user_data)),
                _ => None,
            }
        };
        if let Some((owner, ring_id, user_data)) = cancel {
            remote::cancel(&owner, ring_id, user_data);
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models of a multishot cell: CQEs (with and without `IORING_CQE_F_MORE`) and the
    //! ring's retirement racing the stream's polls and its drop. The "kernel" thread
    //! calls the cell as the ring's completion loop does, then drops the ring's
    //! reference after the final CQE.

    use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering::SeqCst};
    use std::task::Wake;

    use super::*;
    use crate::driver::op::Readiness;

    /// Where each result went, and how often the op value was dropped.
    #[derive(Default)]
    struct Record {
        /// Sum and count of the results given to `complete_abandoned`.
        abandoned_sum: AtomicI32,
        abandoned: AtomicUsize,
        drops: AtomicUsize,
    }

    struct Probe(Arc<Record>);

    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.drops.fetch_add(1, SeqCst);
        }
    }

    impl OpCode for Probe {
        type Output = ();
        const OPCODE: u8 = io_uring::opcode::PollAdd::CODE;
        const MULTISHOT: bool = true;

        fn uring_entry(&mut self) -> squeue::Entry {
            io_uring::opcode::Nop::new().build()
        }
        fn complete_abandoned(&mut self, result: i32) {
            self.0.abandoned_sum.fetch_add(result, SeqCst);
            self.0.abandoned.fetch_add(1, SeqCst);
        }
        fn readiness(&self) -> Readiness {
            Readiness::Immediate
        }
        fn attempt(&mut self) -> io::Result<usize> {
            Ok(0)
        }
        fn complete(self, _result: io::Result<usize>) {}
    }

    // SAFETY: the probe's SQE (a NOP in these models, which never reach a kernel)
    // points at no memory at all.
    unsafe impl MultishotOpCode for Probe {}

    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    /// A stream whose request a ring has started (`InFlight`, as after `Ring::submit`),
    /// the ring's reference to its cell, and the probe's record.
    fn in_flight() -> (MultishotOp<Probe>, Arc<dyn Completion>, Arc<Record>) {
        let record = Arc::new(Record::default());
        let owner = Arc::new(RingShared::new().expect("an eventfd"));
        let cell = Arc::new(MultiCell {
            state: Mutex::new(MultiState {
                phase: Phase::Queued,
                queue: VecDeque::new(),
                wakers: Vec::new(),
            }),
            op: UnsafeCell::new(Probe(record.clone())),
        });
        assert!(cell.start(&owner, 1, 42).is_some());
        let ring: Arc<dyn Completion> = cell.clone();
        let stream = MultishotOp {
            cell,
            submitted: true,
            route: || None,
        };
        (stream, ring, record)
    }

    /// Two CQEs (the first flagged `F_MORE`, the second final) arrive while the stream
    /// is polled once and dropped: each result is taken by the stream or handed to
    /// `complete_abandoned`, exactly once, and the op value is dropped exactly once.
    #[test]
    fn loom_results_racing_the_stream_s_drop_each_land_once() {
        loom::model(|| {
            let (mut stream, ring, record) = in_flight();
            let kernel = loom::thread::spawn(move || {
                ring.complete(1, 0, true);
                ring.complete(2, 0, false);
                drop(ring);
            });
            let waker = Waker::from(Arc::new(Wakes::default()));
            let taken = match stream.poll_next(&mut Context::from_waker(&waker)) {
                Poll::Ready(Some(result)) => result.expect("a result, not an error") as i32,
                Poll::Ready(None) => panic!("the stream ended before its final CQE"),
                Poll::Pending => 0,
            };
            drop(stream);
            kernel.join().unwrap();
            let abandoned_sum = record.abandoned_sum.load(SeqCst);
            assert_eq!(
                taken + abandoned_sum,
                3,
                "a result was lost or counted twice"
            );
            let abandoned = record.abandoned.load(SeqCst);
            assert_eq!(abandoned + usize::from(taken != 0), 2);
            assert_eq!(record.drops.load(SeqCst), 1, "the op value is freed once");
        });
    }

    /// An `F_MORE` CQE arrives while the stream polls: the poll takes it, or the
    /// waker it left is woken and the next poll takes it. Then the final CQE ends the
    /// stream after its result.
    #[test]
    fn loom_poll_racing_a_more_cqe_never_loses_the_wake() {
        loom::model(|| {
            let (mut stream, ring, record) = in_flight();
            let kernel = {
                let ring = ring.clone();
                loom::thread::spawn(move || ring.complete(7, 0, true))
            };
            let wakes = Arc::new(Wakes::default());
            let waker = Waker::from(wakes.clone());
            let mut cx = Context::from_waker(&waker);
            let first = stream.poll_next(&mut cx);
            kernel.join().unwrap();
            let first = match first {
                Poll::Ready(first) => first,
                Poll::Pending => {
                    assert_eq!(wakes.0.load(SeqCst), 1, "lost wake-up");
                    match stream.poll_next(&mut cx) {
                        Poll::Ready(next) => next,
                        Poll::Pending => panic!("woken, but no result"),
                    }
                }
            };
            assert_eq!(first.unwrap().unwrap(), 7);
            assert!(
                stream.poll_next(&mut cx).is_pending(),
                "the request is still armed"
            );
            ring.complete(8, 0, false);
            drop(ring);
            assert_eq!(
                stream.poll_next(&mut cx).map(|r| r.map(|r| r.unwrap())),
                Poll::Ready(Some(8))
            );
            assert!(matches!(stream.poll_next(&mut cx), Poll::Ready(None)));
            drop(stream);
            assert_eq!(record.abandoned.load(SeqCst), 0);
            assert_eq!(record.drops.load(SeqCst), 1);
        });
    }

    /// The ring retires the request (its thread left) while the stream is dropped:
    /// whichever comes first, the op value is dropped once, by the last reference.
    #[test]
    fn loom_retire_racing_the_stream_s_drop_frees_once() {
        loom::model(|| {
            let (stream, ring, record) = in_flight();
            let kernel = loom::thread::spawn(move || {
                ring.retire();
                drop(ring);
            });
            drop(stream);
            kernel.join().unwrap();
            assert_eq!(record.drops.load(SeqCst), 1);
            assert_eq!(record.abandoned.load(SeqCst), 0);
        });
    }
}
