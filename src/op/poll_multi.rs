//! A multishot `POLL_ADD` (io_uring only) that hands every CQE straight to a sink:
//! the readiness of one direction of a socket (`net::uring_readiness`) is armed once
//! and then told of each readiness event, with no SQE, allocation or lock per wait.
//!
//! [`MultiPoll`] is the handle (dropping it cancels the request); its cell, shared
//! with the ring until the final CQE, owns nothing the kernel writes: the SQE holds
//! the fd number and the event mask, and each CQE's `res` carries the events. So the
//! cell needs no `unsafe` and no op value (unlike `driver::uring::multishot`, whose
//! queue of results this use does not need: the sink only counts events).
//!
//! ```text
//!   Queued ──ring builds the SQE (start)──► InFlight ──CQE with F_MORE──► sink, InFlight
//!     │                                        ├──final CQE──► sink, Ended
//!     │                                        └──ring retired / never submitted──►
//!     │                                                 sink (as an ending), Ended
//!     └──handle dropped (any phase)──► Abandoned: no more sink calls; an InFlight
//!                                      request gets an ASYNC_CANCEL, and the ring drops
//!                                      the cell with the final CQE
//! ```
//!
//! An ended request is not restarted here: the sink sees `more == false` (and
//! [`MultiPoll::ended`] turns true), and its owner arms a new one when it next waits.
//! The kernel ends multishot polls on its own at times (a CQ overflow), so ending is a
//! normal event, not an error.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use io_uring::squeue;

use crate::driver::uring::cell::Completion;
use crate::driver::uring::remote::{self, RingRoute, RingShared};
use crate::loom::{Mutex, lock};

/// Told of every CQE of a [`MultiPoll`].
pub(crate) trait PollEvents: Send + Sync {
    /// A CQE: `result` is the ready events (`POLLIN`, ...) or `-errno`; `more == false`
    /// means the request ended (the final CQE, or the ring dropped the request before
    /// it ran: then `result` is `-ECANCELED`). Runs on the ring's thread, with no lock
    /// of the cell held.
    fn poll_event(&self, result: i32, more: bool);
}

/// [`Cell::flags`]: the request ended (no more CQEs).
const ENDED: u8 = 1;
/// [`Cell::flags`]: the handle is gone; CQEs are no longer passed on.
const ABANDONED: u8 = 2;

enum Phase {
    Queued,
    InFlight {
        owner: Arc<RingShared>,
        ring_id: u64,
        user_data: u64,
    },
    Ended,
    Abandoned,
}

struct Cell {
    fd: RawFd,
    events: libc::c_short,
    /// Who owns the request now (for the cancel); touched at start, end and drop only.
    phase: Mutex<Phase>,
    /// [`ENDED`] and [`ABANDONED`], read on every CQE without the lock.
    flags: AtomicU8,
    sink: Arc<dyn PollEvents>,
}

impl Cell {
    /// The request is over: the sink hears it unless the handle is gone.
    fn end(&self, result: i32) {
        {
            let mut phase = lock(&self.phase);
            if !matches!(*phase, Phase::Abandoned) {
                *phase = Phase::Ended;
            }
        }
        let flags = self.flags.fetch_or(ENDED, Ordering::AcqRel);
        if flags & ABANDONED == 0 {
            self.sink.poll_event(result, false);
        }
    }
}

impl Completion for Cell {
    fn start(
        &self,
        owner: &Arc<RingShared>,
        ring_id: u64,
        user_data: u64,
    ) -> Option<squeue::Entry> {
        let mut phase = lock(&self.phase);
        if !matches!(*phase, Phase::Queued) {
            return None;
        }
        *phase = Phase::InFlight {
            owner: owner.clone(),
            ring_id,
            user_data,
        };
        Some(
            io_uring::opcode::PollAdd::new(io_uring::types::Fd(self.fd), self.events as u32)
                .multi(true)
                .build()
                .user_data(user_data),
        )
    }

    fn complete(&self, result: i32, _flags: u32, more: bool) {
        if !more {
            self.end(result);
        } else if self.flags.load(Ordering::Acquire) & ABANDONED == 0 {
            self.sink.poll_event(result, true);
        }
    }

    fn retire(&self) {
        self.end(-libc::ECANCELED);
    }

    fn not_submitted(&self) {
        self.end(-libc::ECANCELED);
    }
}

/// A multishot `POLL_ADD` for `events` on an fd, reporting to its sink until it ends
/// or this handle is dropped (see the module documentation).
pub(crate) struct MultiPoll {
    cell: Arc<Cell>,
}

impl std::fmt::Debug for MultiPoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiPoll")
            .field("fd", &self.cell.fd)
            .field("events", &self.cell.events)
            .field("ended", &self.ended())
            .finish()
    }
}

impl MultiPoll {
    /// Submits the request (to this thread's ring, or one `route` finds); every CQE goes
    /// to `sink`. Fails when no ring can take it.
    pub(crate) fn arm(
        fd: RawFd,
        events: libc::c_short,
        sink: Arc<dyn PollEvents>,
        route: RingRoute,
    ) -> std::io::Result<MultiPoll> {
        let cell = Arc::new(Cell {
            fd,
            events,
            phase: Mutex::new(Phase::Queued),
            flags: AtomicU8::new(0),
            sink,
        });
        remote::submit(cell.clone(), route)?;
        Ok(MultiPoll { cell })
    }

    /// Whether the request ended (its final CQE came, or it never ran): a new one
    /// must be armed to hear of more events.
    pub(crate) fn ended(&self) -> bool {
        self.cell.flags.load(Ordering::Acquire) & ENDED != 0
    }
}

impl Drop for MultiPoll {
    fn drop(&mut self) {
        self.cell.flags.fetch_or(ABANDONED, Ordering::AcqRel);
        let in_flight = match std::mem::replace(&mut *lock(&self.cell.phase), Phase::Abandoned) {
            Phase::InFlight {
                owner,
                ring_id,
                user_data,
            } => Some((owner, ring_id, user_data)),
            Phase::Queued | Phase::Ended | Phase::Abandoned => None,
        };
        if let Some((owner, ring_id, user_data)) = in_flight {
            remote::cancel(&owner, ring_id, user_data);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::runtime::{Backend, Builder, Handle};

    #[derive(Default)]
    struct Counter {
        events: AtomicUsize,
        ended: AtomicUsize,
    }

    impl PollEvents for Counter {
        fn poll_event(&self, result: i32, more: bool) {
            assert!(result & libc::POLLIN as i32 != 0 || !more, "{result:#x}");
            self.events.fetch_add(1, Ordering::SeqCst);
            if !more {
                self.ended.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn one_submission_reports_every_readiness_edge_and_the_drop_cancels_it() {
        let runtime = Builder::new_current_thread()
            .backend(Backend::IoUring)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (mut reader, mut writer) = std::io::pipe().unwrap();
            let counter = Arc::new(Counter::default());
            let poll = MultiPoll::arm(
                reader.as_raw_fd(),
                libc::POLLIN,
                counter.clone(),
                crate::op::route::current_runtime_ring,
            )
            .unwrap();
            let handle = Handle::current();
            for round in 1..=3 {
                writer.write_all(&[round as u8]).unwrap();
                let mut yields = 0;
                while counter.events.load(Ordering::SeqCst) < round {
                    yields += 1;
                    assert!(yields < 10_000, "round {round}: no CQE");
                    crate::task::yield_now().await;
                }
                let mut byte = [0u8; 1];
                reader.read_exact(&mut byte).unwrap();
            }
            assert_eq!(
                handle.metrics().io().in_flight,
                1,
                "one request for all rounds"
            );
            assert!(!poll.ended());
            drop(poll);
            let mut yields = 0;
            while handle.metrics().io().in_flight > 0 {
                yields += 1;
                assert!(yields < 10_000, "the cancelled poll never ended");
                crate::task::yield_now().await;
            }
            // The handle was gone: the final CQE did not reach the sink.
            assert_eq!(counter.ended.load(Ordering::SeqCst), 0);
            assert_eq!(Arc::strong_count(&counter), 1, "the ring freed the cell");
        });
    }
}
