//! RECV_POOLED: reads from a stream socket into a buffer of a [`BufPool`] picked when
//! the data arrives (see `io::buf_pool` for the API and `driver::uring::buf_ring` for
//! the rings).
//!
//! * io_uring half: one `RECV` with `IOSQE_BUFFER_SELECT` naming the pool's buffer
//!   group and `IORING_RECVSEND_POLL_FIRST` (no buffer is selected before data is
//!   there). The SQE is built on the thread of the ring it goes to, which registers the
//!   group on that ring on first use and records the ring: its final CQE's flags
//!   (`OpCode::final_cqe_flags`) name the buffer to take from it.
//! * readiness half: on readability, take a buffer from the pool's user-space
//!   free list and `recv` into it; give it back at once on `WouldBlock`.
//!
//! The outcome ([`PooledRecv`]) is data, or "no buffer" with what to wait on before the
//! caller reads again (the ring or the list, with the return count seen before the
//! read), or "the kernel refused the ring" (the caller falls back to a one-off buffer).
//!
//! A read whose future was dropped after the kernel took the bytes hands them (copied
//! out of the ring buffer, which goes back at once) to the socket's kept reads, as
//! `op::recv` does.
//!
//! # A small pending read
//!
//! A pooled read exists so that an idle connection costs little, and a pending read's
//! future is stored in its task for as long as the connection is idle. It runs in
//! `op::run`, whose future holds only the common path of each backend (see "A small
//! future" there): 168 bytes for this op, of which the op itself is 96. Measured with
//! the suite's `idle` workload (10 000 idle connections): see the numbers in
//! `io::buf_pool`.
//!
//! [`BufPool`]: crate::io::BufPool

use std::io;
use std::sync::Arc;

use crate::driver::op::{OpCode, Readiness};
#[cfg(ringtide_uring)]
use crate::driver::uring::buf_ring::{self, BufRing};
use crate::io::PooledBuf;
use crate::io::buf_free_list::{FreeList, ListBuf};
use crate::io::buf_pool::PoolShared;
use crate::io::shared_fd::FdRef;
use crate::op::leftovers::LeftoverTicket;
use crate::op::recv::KeepsReads;
#[cfg(ringtide_uring)]
use crate::op::recv::Received;

/// What to wait on before reading again when every buffer was on loan.
pub(crate) enum ReturnWait {
    /// The io_uring ring that reported `ENOBUFS`, and its return count before the read.
    #[cfg(ringtide_uring)]
    Ring(Arc<BufRing>, u64),
    /// The pool's free list, and its return count before it was found empty.
    List(Arc<FreeList>, u64),
}

impl ReturnWait {
    /// Ready once a buffer came back.
    pub(crate) fn poll_returned(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        match self {
            #[cfg(ringtide_uring)]
            ReturnWait::Ring(ring, seen) => ring.poll_returned(*seen, cx),
            ReturnWait::List(list, seen) => list.poll_returned(*seen, cx),
        }
    }
}

/// The outcome of one pooled read.
pub(crate) enum PooledRecv {
    /// The bytes read (empty: end of stream).
    Data(PooledBuf),
    /// Every buffer was on loan: wait, then read again.
    Exhausted(ReturnWait),
    /// io_uring could not register the pool's ring here: read into a one-off buffer.
    #[cfg_attr(not(ringtide_uring), allow(dead_code, reason = "io_uring only"))]
    Unregistered(io::Error),
    Failed(io::Error),
}

/// One pooled read of a stream socket.
pub(crate) struct RecvPooled<S> {
    fd: FdRef<S>,
    pool: Arc<PoolShared>,
    /// io_uring: the ring the SQE was built for (its buffers), and its return count
    /// then; `None` with `register_error` when the group could not be registered.
    #[cfg(ringtide_uring)]
    ring: Option<(Arc<BufRing>, u64)>,
    #[cfg(ringtide_uring)]
    register_error: Option<io::Error>,
    /// io_uring: the final CQE's flags (which buffer the kernel picked).
    #[cfg(ringtide_uring)]
    flags: u32,
    /// Readiness half: the buffer the last `recv` filled.
    list_buf: Option<ListBuf>,
    /// Readiness half: the free list was empty (with its return count before).
    list_empty: Option<(Arc<FreeList>, u64)>,
    /// Which half ran last.
    on_ring: bool,
    #[cfg_attr(not(ringtide_uring), allow(dead_code))]
    ticket: LeftoverTicket,
}

impl<S: KeepsReads> RecvPooled<S> {
    pub(crate) fn new(fd: FdRef<S>, pool: Arc<PoolShared>) -> RecvPooled<S> {
        RecvPooled {
            fd,
            pool,
            #[cfg(ringtide_uring)]
            ring: None,
            #[cfg(ringtide_uring)]
            register_error: None,
            #[cfg(ringtide_uring)]
            flags: 0,
            list_buf: None,
            list_empty: None,
            on_ring: false,
            ticket: LeftoverTicket::default(),
        }
    }

    #[cfg(ringtide_uring)]
    fn complete_on_ring(mut self, result: io::Result<usize>) -> PooledRecv {
        let Some((ring, seen)) = self.ring.take() else {
            return PooledRecv::Unregistered(self.register_error.take().unwrap_or_else(|| {
                io::Error::other("no io_uring ring could register the buffer pool")
            }));
        };
        match result {
            Ok(read) => match ring.take(read as i32, self.flags) {
                Some(buf) => PooledRecv::Data(PooledBuf::from_ring(buf)),
                None if read == 0 => PooledRecv::Data(PooledBuf::from_vec(Vec::new())),
                None => PooledRecv::Failed(io::Error::other(
                    "an io_uring pooled read completed without naming its buffer",
                )),
            },
            Err(error) if error.raw_os_error() == Some(libc::ENOBUFS) => {
                buf_ring::note_exhausted();
                PooledRecv::Exhausted(ReturnWait::Ring(ring, seen))
            }
            Err(error) => PooledRecv::Failed(error),
        }
    }
}

impl<S: KeepsReads> OpCode for RecvPooled<S> {
    type Output = PooledRecv;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Recv::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        use io_uring::{opcode, squeue, types};
        self.on_ring = true;
        self.flags = 0;
        self.register_error = None;
        self.ring = match BufRing::for_sqe(self.pool.group()) {
            Ok(Some(ring)) => {
                let seen = ring.returns();
                Some((ring, seen))
            }
            Ok(None) => None,
            Err(error) => {
                self.register_error = Some(error);
                None
            }
        };
        if self.ring.is_none() {
            // Nothing to select from here: complete at once; `complete` reports it.
            return opcode::Nop::new().build();
        }
        opcode::Recv::new(types::Fd(self.fd.raw()), std::ptr::null_mut(), 0)
            .buf_group(self.pool.group().id())
            .ioprio(buf_ring::RECVSEND_POLL_FIRST)
            .build()
            .flags(squeue::Flags::BUFFER_SELECT)
    }

    #[cfg(ringtide_uring)]
    fn final_cqe_flags(&mut self, flags: u32) {
        self.flags = flags;
    }

    #[cfg(ringtide_uring)]
    fn abandoned_in_flight(&self) {
        // Reads only the socket's state: the kernel writes into the ring's buffers,
        // never into this value.
        self.ticket
            .abandoned_in_flight(self.fd.state().late_reads());
    }

    #[cfg(ringtide_uring)]
    fn complete_abandoned(&mut self, result: i32) {
        let received = match (&self.ring, result > 0) {
            (Some((ring, _)), true) => ring.take(result, self.flags).map(|buf| Received {
                data: buf.bytes().to_vec(),
                from: None,
            }),
            // No data; a buffer the CQE names (end of stream) goes back.
            (Some((ring, _)), false) => {
                drop(ring.take(result, self.flags));
                None
            }
            (None, _) => None,
        };
        self.fd.state().keep_late_read(&self.ticket, received);
    }

    #[cfg(ringtide_uring)]
    const ATTEMPT_NEVER_BLOCKS: bool = true;

    fn readiness(&self) -> Readiness {
        Readiness::Read(self.fd.raw())
    }

    fn stream_read_len(&self) -> Option<usize> {
        Some(self.pool.size())
    }

    fn attempt(&mut self) -> io::Result<usize> {
        self.on_ring = false;
        let list = self.pool.list()?;
        let seen = list.returns();
        let Some(mut buf) = list.try_take() else {
            self.list_empty = Some((list.clone(), seen));
            return Err(io::Error::other("every buffer of the pool is on loan"));
        };
        let (start, len) = buf.spare();
        // SAFETY: the buffer is ours while on loan and has `len` writable bytes.
        let result = unsafe { crate::sys::socket::recv(self.fd.raw(), start, len) };
        if let Ok(read) = result {
            // SAFETY: `recv` wrote `read` bytes at the buffer's start.
            unsafe { buf.set_len(read) };
            self.list_buf = Some(buf);
        }
        // On an error (`WouldBlock` included) the buffer goes back now.
        result
    }

    fn complete(mut self, result: io::Result<usize>) -> PooledRecv {
        #[cfg(ringtide_uring)]
        if self.on_ring {
            return self.complete_on_ring(result);
        }
        if let Some((list, seen)) = self.list_empty.take() {
            return PooledRecv::Exhausted(ReturnWait::List(list, seen));
        }
        match result {
            Ok(_) => match self.list_buf.take() {
                Some(buf) => PooledRecv::Data(PooledBuf::from_list(buf)),
                None => PooledRecv::Data(PooledBuf::from_vec(Vec::new())),
            },
            Err(error) => PooledRecv::Failed(error),
        }
    }
}
