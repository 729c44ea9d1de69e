//! A multishot `RECV` (io_uring only) into a provided-buffer ring: armed once, it
//! hands every buffer the kernel fills to a sink (a stream's queue of received
//! buffers, `net::recv_queue`) until it ends, with no SQE per read.
//!
//! [`MultiRecv`] is the handle (dropping it cancels the request). Its cell, shared with
//! the ring until the final CQE, owns no memory the kernel writes: the kernel writes
//! only into buffers of the process-wide group ([`group`]) that it selects, and those
//! belong to the group's [`BufRing`] on the submitting ring, which the cell keeps
//! (an `Arc`) from the SQE until the final CQE. Each CQE names the buffer it filled;
//! the cell turns it into a [`RingBuf`] (which goes back to the ring when dropped,
//! on any thread) and passes it on.
//!
//! ```text
//!   Queued ──ring builds the SQE (start: the group is registered on that ring)──►
//!   InFlight ──CQE res > 0 with F_MORE──► sink.received(buffer), InFlight
//!      ├──final CQE──► sink.ended(why): the data CQE's buffer first, then the end
//!      │               (end of stream, an error, no buffer left, cancelled)
//!      └──ring retired / never submitted──► sink.ended(Cancelled)
//!   any phase ──handle dropped──► Abandoned: nothing more reaches the sink; buffers
//!            that still arrive go straight back; an InFlight request is cancelled
//! ```
//!
//! The kernel ends a multishot receive on its own at times: the ring ran out of
//! buffers (`ENOBUFS`), the CQ overflowed, the peer closed (a `0` result) or the
//! socket failed. Ending is normal: the sink decides whether to arm a new one.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use io_uring::squeue;

use crate::driver::uring::buf_ring::{BufGroup, BufRing, RingBuf};
use crate::driver::uring::cell::Completion;
use crate::driver::uring::remote::{self, RingRoute, RingShared};
use crate::loom::{Mutex, lock};

/// Buffers in the process-wide group (per ring that registers it). Pages become
/// resident only when the kernel fills them.
const GROUP_COUNT: usize = 1024;
/// Bytes per buffer of the process-wide group.
const GROUP_SIZE: usize = 16 * 1024;

/// Tests' shape for the group (`count`, `size`), when set before its first use.
static SHAPE: std::sync::Mutex<Option<(usize, usize)>> = std::sync::Mutex::new(None);

/// Sets the group's shape for this process (tests of exhaustion: a tiny ring); only
/// before the first multishot receive. Returns whether it took effect.
pub(crate) fn set_group_shape(count: usize, size: usize) -> bool {
    *SHAPE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((count, size));
    true
}

/// The process-wide buffer group every multishot receive selects from (registered on
/// each ring at its first use there); an error when no group id was free.
pub(crate) fn group() -> io::Result<&'static BufGroup> {
    static GROUP: OnceLock<Result<BufGroup, String>> = OnceLock::new();
    GROUP
        .get_or_init(|| {
            let (count, size) = SHAPE
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .unwrap_or((GROUP_COUNT, GROUP_SIZE));
            BufGroup::new(count, size).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|error| io::Error::other(error.clone()))
}

/// Why a multishot receive ended.
#[derive(Debug)]
pub(crate) enum RecvEnd {
    /// The peer closed its side (a `0` result).
    EndOfStream,
    /// The socket failed: the error belongs to the stream, after the data before it.
    Error(io::Error),
    /// The ring had no free buffer (`ENOBUFS`): the data stays in the socket. Holds the
    /// ring's return count seen then (see `BufRing::returns`).
    NoBuffers(Arc<BufRing>, u64),
    /// Cancelled (by the owner, or the ring left its thread), or the CQ overflowed:
    /// nothing is lost, a new request may be armed.
    Cancelled,
    /// The group could not be registered on the ring, or the kernel refused the
    /// request (no multishot receive): the stream reads with syscalls instead.
    Unsupported,
}

/// Told of every result of a [`MultiRecv`], on the ring's thread, with no lock of the
/// cell held.
pub(crate) trait RecvEvents: Send + Sync {
    /// A buffer the kernel filled (never empty).
    fn received(&self, buf: RingBuf);
    /// The request ended (no more calls follow).
    fn ended(&self, end: RecvEnd);
}

/// [`Cell::flags`]: the request ended.
const ENDED: u8 = 1;
/// [`Cell::flags`]: the handle is gone; results are no longer passed on.
const ABANDONED: u8 = 2;
/// [`Cell::flags`]: at least one buffer was delivered (an `EINVAL` then is the
/// socket's, not a kernel without multishot receive).
const DELIVERED: u8 = 4;

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
    /// Who owns the request now (for the cancel); touched at start, end and drop.
    phase: Mutex<Phase>,
    /// The ring of buffers the SQE selects from (set once by `start`, on the ring's
    /// thread, before the SQE exists); unset when the group could not be registered
    /// there.
    ring: OnceLock<Arc<BufRing>>,
    flags: AtomicU8,
    sink: Arc<dyn RecvEvents>,
}

impl Cell {
    fn end(&self, end: RecvEnd) {
        {
            let mut phase = lock(&self.phase);
            if !matches!(*phase, Phase::Abandoned) {
                *phase = Phase::Ended;
            }
        }
        let flags = self.flags.fetch_or(ENDED, Ordering::AcqRel);
        if flags & ABANDONED == 0 {
            self.sink.ended(end);
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
        let ring = group()
            .ok()
            .and_then(|group| BufRing::for_sqe(group).ok().flatten());
        let entry = match &ring {
            Some(ring) => {
                io_uring::opcode::RecvMulti::new(io_uring::types::Fd(self.fd), ring.bgid()).build()
            }
            // Nothing to select from on this ring: a NOP completes at once, and
            // `complete` reports the request unsupported (no ring recorded).
            None => io_uring::opcode::Nop::new().build(),
        };
        if let Some(ring) = ring {
            let _ = self.ring.set(ring);
        }
        Some(entry.user_data(user_data))
    }

    fn complete(&self, result: i32, flags: u32, more: bool) {
        let Some(ring) = self.ring.get() else {
            if !more {
                self.end(RecvEnd::Unsupported);
            }
            return;
        };
        let buf = ring.take(result, flags);
        let abandoned = self.flags.load(Ordering::Acquire) & ABANDONED != 0;
        if let Some(buf) = buf
            && result > 0
        {
            if abandoned {
                // Nobody will read it: the buffer goes back now.
                drop(buf);
            } else {
                if self.flags.load(Ordering::Relaxed) & DELIVERED == 0 {
                    self.flags.fetch_or(DELIVERED, Ordering::AcqRel);
                }
                self.sink.received(buf);
            }
        }
        if more {
            return;
        }
        let end = match result {
            0 => RecvEnd::EndOfStream,
            result if result > 0 => RecvEnd::Cancelled,
            result if -result == libc::ENOBUFS => {
                crate::driver::uring::buf_ring::note_exhausted();
                let seen = ring.returns();
                RecvEnd::NoBuffers(ring.clone(), seen)
            }
            result if -result == libc::ECANCELED => RecvEnd::Cancelled,
            result
                if -result == libc::EINVAL
                    && self.flags.load(Ordering::Acquire) & DELIVERED == 0 =>
            {
                RecvEnd::Unsupported
            }
            result => RecvEnd::Error(io::Error::from_raw_os_error(-result)),
        };
        self.end(end);
    }

    fn retire(&self) {
        self.end(RecvEnd::Cancelled);
    }

    fn not_submitted(&self) {
        self.end(RecvEnd::Cancelled);
    }
}

/// A multishot receive on a stream socket, reporting to its sink until it ends or this
/// handle is dropped (see the module documentation).
pub(crate) struct MultiRecv {
    cell: Arc<Cell>,
}

impl std::fmt::Debug for MultiRecv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiRecv")
            .field("fd", &self.cell.fd)
            .field("ended", &self.ended())
            .finish()
    }
}

impl MultiRecv {
    /// Submits the request for `fd` (to this thread's ring, or one `route` finds);
    /// results go to `sink`. Fails when no ring can take it.
    pub(crate) fn arm(
        fd: RawFd,
        sink: Arc<dyn RecvEvents>,
        route: RingRoute,
    ) -> io::Result<MultiRecv> {
        let cell = Arc::new(Cell {
            fd,
            phase: Mutex::new(Phase::Queued),
            ring: OnceLock::new(),
            flags: AtomicU8::new(0),
            sink,
        });
        remote::submit(cell.clone(), route)?;
        Ok(MultiRecv { cell })
    }

    /// Whether the request ended (the sink was told).
    pub(crate) fn ended(&self) -> bool {
        self.cell.flags.load(Ordering::Acquire) & ENDED != 0
    }

    /// Asks the kernel to end the request (the sink hears `Cancelled`, after any
    /// buffer filled before the cancellation landed). The handle stays.
    pub(crate) fn cancel(&self) {
        let phase = lock(&self.cell.phase);
        if let Phase::InFlight {
            owner,
            ring_id,
            user_data,
        } = &*phase
        {
            let (owner, ring_id, user_data) = (owner.clone(), *ring_id, *user_data);
            drop(phase);
            remote::cancel(&owner, ring_id, user_data);
        }
    }
}

impl Drop for MultiRecv {
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
