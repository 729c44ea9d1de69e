//! [`RecvQueue`]: io_uring only, behind `Builder::uring_recv_multishot` (off by
//! default): a stream socket's queue of buffers that a multishot `RECV`
//! (`op::recv_multi`) filled from the process-wide provided-buffer ring, so that the
//! poll path's read (`poll_read` of `AsyncRead`) is a copy out of the queue, with no
//! syscall, once the mode is engaged.
//!
//! # When the mode engages and ends
//!
//! * Engages: the first time a poll-path read (`Socket::poll_read_stream`) finds the
//!   socket empty: `recv` says `EAGAIN`, or the read would wait for readiness (a short
//!   read drained the socket). A stream whose reads always find data never arms
//!   anything. (Engaging on `EAGAIN` alone left a stream whose first read found data
//!   on the readiness path for good: in a ping-pong that was up to every connection,
//!   by timing, so earlier measurements of the mode mixed the two paths.) Arming disarms the read direction's multishot `POLL_ADD`
//!   (`net::uring_readiness`), whose events the receive now carries.
//! * Re-arms: a poll-path read that finds the queue empty and nothing armed arms a new
//!   receive, unless the last one ended for good (end of stream, an error, the kernel
//!   lacks it) or for want of buffers (`ENOBUFS`) with none returned to the ring
//!   since: then the read falls back to readiness + `recv` (never failing the
//!   connection) and arms again once a buffer came back.
//! * Backpressure: when the queue holds [`QUEUE_LIMIT`] buffers the receive is
//!   cancelled; buffers the kernel filled before the cancel landed are still queued.
//!   The next poll-path read that empties the queue arms again.
//! * The socket dropped (or handed over): the receive is cancelled, queued buffers go
//!   back to the ring at once, as do buffers that arrive until the final CQE.
//!
//! # The queue is the socket's, so every read path sees it first
//!
//! The queue holds the stream's next bytes; the multishot receive keeps taking bytes
//! from the socket while armed. So while anything is queued or armed, no read path may
//! ask the socket itself (a syscall or an SQE could return bytes that come after those
//! on their way to the queue). Every read path goes through the hooks here, before the
//! read leftovers of cancelled owned reads (`op::leftovers`, which exist only from
//! reads issued before the mode was armed):
//!
//! * `try_read`, `try_read_vectored`, `poll_read` (through `Socket::try_take_kept`),
//!   `peek`/`poll_peek` (`socket_peek`), `readable()`/`ready()`/`poll_read_ready`
//!   (`Socket::poll_kept_read`): queued bytes first; armed and empty: `WouldBlock` /
//!   wait for the queue, as for a cancelled read still in the kernel.
//! * `read`/`read_owned`/`read_vectored_owned`/`read_pooled`
//!   ([`Socket::poll_take_read`]): take at most the caller's room out of the queue
//!   (copied), wait for the queue while armed.
//! * `into_std`/`into_raw_fd` (`Socket::into_owned_fd`/`into_fd`): refuses while bytes
//!   are queued (as for bytes kept by a cancelled read), cancels the receive.
//!   Bytes the receive takes between that call and its cancellation landing are
//!   lost, as for a cancelled read still in the kernel; said in a warning.
//! * Split halves share the socket, so its queue.
//!
//! End of stream and errors are queued after the data that came before them and
//! delivered in that order; a dropped read loses nothing (it took nothing it did not
//! return), so every read is cancel safe.
//!
//! # Protocol
//!
//! ```text
//!   state (under one mutex): items, armed receive, ended-for-good, no-buffers mark,
//!                            waiters
//!   reader: take front item (copy) ─ none ─► armed? list waker, Pending
//!                                          └► not armed: arm (if allowed) or fall back
//!   ring thread: buffer ─► push, wake waiters; QUEUE_LIMIT reached ─► cancel
//!                ended(why) ─► push end-of-stream / error, or note no-buffers /
//!                              unsupported; not armed; wake waiters
//! ```
//!
//! Every push and every end wakes the listed waiters outside the lock; a reader lists
//! itself under the same lock it found the queue empty under, so no wake is lost.
//!
//! # Numbers: why it is off by default
//!
//! Server syscalls and CPU per request from `perf stat -p <server>` (tracepoints
//! `raw_syscalls:sys_enter`, `syscalls:sys_enter_recvfrom`,
//! `syscalls:sys_enter_io_uring_enter`, task-clock; the suite's server binary in its
//! server role, one worker pinned to CPU 0; the Python ping-pong client of
//! `bench/scripts/perf_pingpong.py` pinned to CPU 1, 16 × 1000 or 256 × 100 round
//! trips), servers interleaved, 5 repeats, medians (min–max). "recvmulti" is the poll
//! path with `uring_recv_multishot(true)`; "before" rows are the build before the
//! lock-free buffer return and the engagement fix (5d39875), in the same run. 2-core
//! VM shared with other helpers, load average 4.5–7.2 during the run.
//!
//! | case | server | syscalls/req | recv/req | CPU µs/req | × tokio |
//! |---|---|---|---|---|---|
//! | 16 conns, 100 B | io_uring poll | 2.39 | 1.00 | 3.85 (3.74–4.30) | 0.98 |
//! | 16 conns, 100 B | io_uring poll recvmulti, before | 1.37 | 0.00 | 3.92 (3.82–4.00) | 1.00 |
//! | 16 conns, 100 B | io_uring poll recvmulti | 1.37 | 0.00 | 3.90 (3.84–4.46) | 0.99 |
//! | 16 conns, 100 B | tokio | 2.39 | 1.00 | 3.92 (3.87–3.95) | 1.00 |
//! | 16 conns, 100 B | raw io_uring | 0.40 | 0.00 | 3.69 (3.61–3.96) | 0.94 |
//! | 16 conns, 1 KiB | io_uring poll | 2.42 | 1.00 | 3.89 (3.88–4.04) | 0.99 |
//! | 16 conns, 1 KiB | io_uring poll recvmulti, before | 1.41 | 0.00 | 3.96 (3.91–4.13) | 1.01 |
//! | 16 conns, 1 KiB | io_uring poll recvmulti | 1.40 | 0.00 | 4.06 (3.78–4.17) | 1.04 |
//! | 16 conns, 1 KiB | tokio | 2.40 | 1.00 | 3.91 (3.87–4.21) | 1.00 |
//! | 16 conns, 1 KiB | raw io_uring | 0.44 | 0.00 | 3.72 (3.68–4.10) | 0.95 |
//! | 256 conns, 100 B | io_uring poll | 2.07 | 1.00 | 3.46 (3.33–3.51) | 1.00 |
//! | 256 conns, 100 B | io_uring poll recvmulti, before | 1.08 | 0.00 | 3.49 (3.44–3.56) | 1.01 |
//! | 256 conns, 100 B | io_uring poll recvmulti | 1.06 | 0.00 | 3.42 (3.38–3.50) | 0.99 |
//! | 256 conns, 100 B | tokio | 2.05 | 1.00 | 3.45 (3.38–3.54) | 1.00 |
//! | 256 conns, 100 B | raw io_uring | 0.06 | 0.00 | 3.06 (2.99–3.17) | 0.89 |
//! | 256 conns, 1 KiB | io_uring poll | 2.07 | 1.00 | 3.51 (3.45–3.74) | 1.01 |
//! | 256 conns, 1 KiB | io_uring poll recvmulti, before | 1.07 | 0.00 | 3.82 (3.59–4.12) | 1.10 |
//! | 256 conns, 1 KiB | io_uring poll recvmulti | 1.07 | 0.00 | 3.61 (3.52–3.89) | 1.04 |
//! | 256 conns, 1 KiB | tokio | 2.05 | 1.00 | 3.47 (3.39–3.53) | 1.00 |
//! | 256 conns, 1 KiB | raw io_uring | 0.07 | 0.00 | 3.22 (3.10–4.49) | 0.93 |
//!
//! The `recv` is gone (1.06–1.40 syscalls per request instead of 2.07–2.42: the
//! `send`, and `io_uring_enter` when the worker parks), but the server CPU per request
//! is level with the readiness path's at best (0.99–1.04× tokio against 0.98–1.01×).
//! A profile (`perf record -g`, cpu-clock, 256 conns × 100 B, `PERF_OUT=` mode of the
//! script) shows why: the kernel is 89% of the server's samples either way, and the
//! multishot receive does the work the `recv` syscall did (`io_uring_enter` 23.7% of
//! the samples, of which `io_recv` 19.6%, against `recvfrom` 19.0% + `io_uring_enter`
//! 3.4% on the readiness path: the same `tcp_recvmsg_locked` and copy, run from
//! io_uring's task work, plus the buffer selection), while a syscall entry on this
//! machine is cheap. User space is 10.9% of the samples with the mode, 10.8% without:
//! the queue (a lock per push and per take: `front` 2.2%, `received` 1.2%) and the
//! second copy (kernel → ring buffer → caller's buffer) cost what the saved `recv`
//! wrapper and readiness bookkeeping did. The buffer's return to the ring, two
//! mutexes before (0.95% of the samples), is lock-free now (0.51%,
//! `driver::uring::buf_ring`). So the mode ships off by default: the readiness path
//! (one multishot `POLL_ADD` per direction, `net::uring_readiness`) is as fast here
//! and reads into the caller's buffer. Writes already go out inline (`send` with
//! `MSG_DONTWAIT`, no SQE). Memory is a second cost: the kernel picks the ring's
//! buffers in turn, so once traffic has cycled through them all, each worker ring
//! keeps its 1024 × 16 KiB (16 MiB) resident.

use std::io;
#[cfg(not(ringtide_uring))]
use std::mem::MaybeUninit;
#[cfg(not(ringtide_uring))]
use std::task::{Context, Poll};

#[cfg(not(ringtide_uring))]
use super::socket::Socket;
#[cfg(not(ringtide_uring))]
use super::socket_try_io::KeptRead;
#[cfg(not(ringtide_uring))]
use crate::op::recv::Received;
#[cfg(ringtide_uring)]
pub(crate) use uring::{QUEUE_LIMIT, RecvQueue, counts};

/// What the queue says to a read.
pub(super) enum Queued<R> {
    /// The front item answered: bytes copied (`Ok(0)`: end of stream) or the error.
    #[cfg_attr(not(ringtide_uring), allow(dead_code, reason = "io_uring only"))]
    Taken(io::Result<R>),
    /// Nothing queued but a receive is armed: the bytes come through the queue.
    #[cfg_attr(not(ringtide_uring), allow(dead_code, reason = "io_uring only"))]
    Armed,
    /// Nothing queued or armed: the socket (or the read leftovers) decide.
    Idle,
}

#[cfg(ringtide_uring)]
mod uring {
    use std::collections::VecDeque;
    use std::io;
    use std::mem::MaybeUninit;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::task::{Context, Poll, Waker, ready};

    use super::Queued;
    use crate::driver::op::IoSource;
    use crate::driver::uring::buf_ring::{BufRing, RingBuf};
    use crate::loom::{Mutex, lock};
    use crate::net::socket::{Kind, Socket};
    use crate::net::socket_ready::Direction;
    use crate::net::socket_try_io::{KeptRead, copy_to_uninit, recv_uninit};
    use crate::op::recv::Received;
    use crate::op::recv_multi::{MultiRecv, RecvEnd, RecvEvents};
    use crate::op::route::current_runtime_ring;

    /// At most this many buffers queued per socket before the receive is cancelled
    /// (backpressure; each holds up to 16 KiB).
    pub(crate) const QUEUE_LIMIT: usize = 8;

    /// How many multishot receives were armed, process-wide (tests read it through
    /// `__private` to prove the mode ran).
    static ARMED: AtomicU64 = AtomicU64::new(0);
    /// How many times backpressure cancelled a receive.
    static STOPPED: AtomicU64 = AtomicU64::new(0);
    /// How many poll-path reads fell back to readiness + `recv` for want of buffers.
    static FALLBACKS: AtomicU64 = AtomicU64::new(0);

    /// Buffers queued now in every socket's queue, process-wide (tests: buffers of a
    /// closed socket go back).
    static QUEUED: AtomicU64 = AtomicU64::new(0);

    /// `(armed, stopped by backpressure, no-buffer fallbacks, buffers queued now)` in this
    /// process.
    pub(crate) fn counts() -> (u64, u64, u64, u64) {
        (
            ARMED.load(Ordering::Relaxed),
            STOPPED.load(Ordering::Relaxed),
            FALLBACKS.load(Ordering::Relaxed),
            QUEUED.load(Ordering::Relaxed),
        )
    }

    /// One queued thing: bytes (from `start` on), or how the stream ended.
    #[derive(Debug)]
    enum Item {
        Data { buf: RingBuf, start: usize },
        EndOfStream,
        Error(i32),
    }

    #[derive(Debug, Default)]
    struct State {
        items: VecDeque<Item>,
        /// Data buffers in `items`.
        buffers: usize,
        /// The receive, while armed (or ended, until the next arm replaces it).
        recv: Option<MultiRecv>,
        /// A receive is armed and has not ended.
        armed: bool,
        /// Backpressure asked the armed receive to stop.
        stopping: bool,
        /// The stream ended (end of stream, an error) or the kernel refused: never arm
        /// again.
        finished: bool,
        /// The last receive ended with `ENOBUFS`: arm again only once the ring got a buffer
        /// back (its return count moved past this).
        no_buffers: Option<(Arc<BufRing>, u64)>,
        /// A poll-path read found the socket empty: the mode is engaged.
        #[cfg_attr(
            not(any(feature = "tokio-io", feature = "futures-io")),
            allow(dead_code, reason = "used by the AsyncRead impls")
        )]
        engaged: bool,
        /// The socket is gone or handed over: results go back at once.
        shut: bool,
        waiters: Vec<Waker>,
    }

    /// A stream socket's queue of received buffers (see the module documentation).
    #[derive(Debug, Default)]
    pub(crate) struct RecvQueue {
        /// False while nothing is queued and nothing armed: the other read paths' check is
        /// one atomic load.
        busy: AtomicBool,
        state: Mutex<State>,
    }

    impl State {
        fn busy(&self) -> bool {
            self.armed || !self.items.is_empty()
        }
    }

    impl RecvQueue {
        fn lock(&self) -> crate::loom::MutexGuard<'_, State> {
            lock(&self.state)
        }

        fn update_busy(&self, state: &State) {
            self.busy.store(state.busy(), Ordering::Release);
        }

        /// Hands the front item to `f` (bytes from its start: `f` returns how many it
        /// used, `consume` takes them).
        fn front<R>(
            &self,
            cx: Option<&mut Context<'_>>,
            consume: bool,
            f: impl FnOnce(&[u8]) -> (usize, R),
        ) -> Queued<R> {
            if !self.busy.load(Ordering::Acquire) {
                return Queued::Idle;
            }
            // A buffer read to its end goes back to its ring after the lock is released
            // (declared first, so dropped last).
            let mut _used_up = None;
            let mut guard = self.lock();
            let state = &mut *guard;
            let answer = match state.items.front_mut() {
                Some(Item::Data { buf, start }) => {
                    let (used, result) = f(&buf.bytes()[*start..]);
                    if consume {
                        *start += used;
                        if *start >= buf.bytes().len() {
                            _used_up = state.items.pop_front();
                            state.buffers -= 1;
                            QUEUED.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                    Queued::Taken(Ok(result))
                }
                Some(Item::EndOfStream) => {
                    let (_, result) = f(&[]);
                    if consume {
                        state.items.pop_front();
                    }
                    Queued::Taken(Ok(result))
                }
                Some(Item::Error(errno)) => {
                    let errno = *errno;
                    if consume {
                        state.items.pop_front();
                    }
                    Queued::Taken(Err(io::Error::from_raw_os_error(errno)))
                }
                None if state.armed => {
                    if let Some(cx) = cx
                        && !state.waiters.iter().any(|w| w.will_wake(cx.waker()))
                    {
                        state.waiters.push(cx.waker().clone());
                    }
                    Queued::Armed
                }
                None => Queued::Idle,
            };
            self.update_busy(state);
            answer
        }

        /// Arms a receive on `fd` when the mode is engaged, the queue is empty and nothing
        /// forbids it. `Ok(true)`: the queue decides the read now (a receive is armed, by
        /// this call or another reader, or something is queued); `Ok(false)`: read from
        /// the socket.
        #[cfg_attr(
            not(any(feature = "tokio-io", feature = "futures-io")),
            allow(dead_code, reason = "used by the AsyncRead impls")
        )]
        fn try_arm(
            &self,
            fd: std::os::fd::RawFd,
            handle: impl FnOnce() -> Option<Arc<RecvQueue>>,
        ) -> io::Result<bool> {
            {
                let mut state = self.lock();
                if state.armed || !state.items.is_empty() {
                    return Ok(true);
                }
                if !state.engaged || state.finished || state.shut {
                    return Ok(false);
                }
                if let Some((ring, seen)) = &state.no_buffers {
                    if ring.returns() == *seen {
                        FALLBACKS.fetch_add(1, Ordering::Relaxed);
                        return Ok(false);
                    }
                    state.no_buffers = None;
                }
                state.armed = true;
                state.stopping = false;
                self.update_busy(&state);
            }
            // Submitted outside the lock: a full submission queue makes the ring reap
            // completions, whose sinks may be this queue.
            let sink: Arc<dyn RecvEvents> = handle().expect("the socket holds its queue");
            let recv = match MultiRecv::arm(fd, sink, current_runtime_ring) {
                Ok(recv) => recv,
                Err(error) => {
                    let mut state = self.lock();
                    state.armed = false;
                    self.update_busy(&state);
                    return Err(error);
                }
            };
            ARMED.fetch_add(1, Ordering::Relaxed);
            let old = {
                let mut state = self.lock();
                if state.shut {
                    // Handed over meanwhile: cancel at once (dropped below).
                    Some(recv)
                } else {
                    if state.stopping {
                        // Backpressure came before the handle was stored.
                        recv.cancel();
                    }
                    state.recv.replace(recv)
                }
            };
            // An ended receive (dropping it cancels nothing), or the one just armed on a
            // socket that was shut meanwhile (dropping it cancels it).
            drop(old);
            Ok(true)
        }

        /// A poll-path read found the socket empty: the mode engages. Returns whether it
        /// was not engaged before (then the caller tries to arm).
        #[cfg_attr(
            not(any(feature = "tokio-io", feature = "futures-io")),
            allow(dead_code, reason = "used by the AsyncRead impls")
        )]
        fn engage(&self) -> bool {
            let mut state = self.lock();
            !std::mem::replace(&mut state.engaged, true)
        }

        /// The socket is gone or handed over: cancels the receive and gives the queued
        /// buffers back. Returns how many bytes were queued and whether a receive was
        /// still armed.
        pub(in crate::net) fn shut(&self) -> (usize, bool) {
            let (recv, items, armed) = {
                let mut state = self.lock();
                state.shut = true;
                let armed = state.armed;
                state.armed = false;
                QUEUED.fetch_sub(state.buffers as u64, Ordering::Relaxed);
                state.buffers = 0;
                let items = std::mem::take(&mut state.items);
                self.update_busy(&state);
                (state.recv.take(), items, armed)
            };
            drop(recv);
            let bytes = items
                .iter()
                .map(|item| match item {
                    Item::Data { buf, start } => buf.bytes().len() - start,
                    _ => 0,
                })
                .sum();
            drop(items);
            (bytes, armed)
        }

        /// Wakes what [`take_waiters`] took.
        fn wake(&self, waiters: Woken) {
            match waiters {
                Woken::None => {}
                Woken::One(waker) => waker.wake(),
                Woken::Many(wakers) => wakers.into_iter().for_each(Waker::wake),
            }
        }
    }

    /// Waiters taken to wake outside the lock. The common case, one reader, keeps the
    /// list's allocation for the next wait.
    enum Woken {
        None,
        One(Waker),
        Many(Vec<Waker>),
    }

    fn take_waiters(state: &mut State) -> Woken {
        match state.waiters.len() {
            0 => Woken::None,
            1 => state.waiters.pop().map_or(Woken::None, Woken::One),
            _ => Woken::Many(std::mem::take(&mut state.waiters)),
        }
    }

    impl RecvEvents for RecvQueue {
        fn received(&self, buf: RingBuf) {
            let waiters = {
                let mut state = self.lock();
                if state.shut {
                    drop(state);
                    drop(buf);
                    return;
                }
                state.items.push_back(Item::Data { buf, start: 0 });
                state.buffers += 1;
                QUEUED.fetch_add(1, Ordering::Relaxed);
                if state.buffers >= QUEUE_LIMIT && state.armed && !state.stopping {
                    state.stopping = true;
                    STOPPED.fetch_add(1, Ordering::Relaxed);
                    if let Some(recv) = &state.recv {
                        recv.cancel();
                    }
                }
                self.update_busy(&state);
                take_waiters(&mut state)
            };
            self.wake(waiters);
        }

        fn ended(&self, end: RecvEnd) {
            let waiters = {
                let mut state = self.lock();
                state.armed = false;
                match end {
                    RecvEnd::EndOfStream => {
                        state.finished = true;
                        state.items.push_back(Item::EndOfStream);
                    }
                    RecvEnd::Error(error) => {
                        state.finished = true;
                        state
                            .items
                            .push_back(Item::Error(error.raw_os_error().unwrap_or(libc::EIO)));
                    }
                    RecvEnd::NoBuffers(ring, seen) => state.no_buffers = Some((ring, seen)),
                    RecvEnd::Cancelled => {}
                    RecvEnd::Unsupported => state.finished = true,
                }
                if state.shut {
                    // `shut` emptied the queue; only the end can have come since.
                    state.items.clear();
                }
                self.update_busy(&state);
                take_waiters(&mut state)
            };
            self.wake(waiters);
        }
    }

    impl Socket {
        /// The socket's queue, when the mode was ever set up on it.
        fn recv_queue(&self) -> Option<&RecvQueue> {
            match &self.state().source {
                IoSource::Uring => self.state().readiness[Direction::Read as usize].recv_queue(),
                IoSource::Mio(_) => None,
            }
        }

        /// The queue's part of `try_take_kept`: `copy` gets the front bytes.
        pub(in crate::net) fn take_queued(
            &self,
            copy: impl FnOnce(&[u8]) -> usize,
        ) -> Queued<usize> {
            match self.recv_queue() {
                Some(queue) => queue.front(None, true, |bytes| {
                    let count = copy(bytes);
                    (count, count)
                }),
                None => Queued::Idle,
            }
        }

        /// The queue's part of `peek`: copies the front bytes, leaves them queued.
        pub(in crate::net) fn peek_queued(&self, buf: &mut [MaybeUninit<u8>]) -> Queued<usize> {
            match self.recv_queue() {
                Some(queue) => queue.front(None, false, |bytes| {
                    let count = copy_to_uninit(bytes, buf);
                    (count, count)
                }),
                None => Queued::Idle,
            }
        }

        /// The queue's part of read readiness (`poll_kept_read`): something queued is
        /// readable now; armed and empty: wait for the queue (`cx` listed).
        pub(in crate::net) fn poll_queued_read(&self, cx: &mut Context<'_>) -> Option<KeptRead> {
            let queue = self.recv_queue()?;
            match queue.front(Some(cx), false, |_| (0, ())) {
                Queued::Taken(_) => Some(KeptRead::Kept),
                Queued::Armed => Some(KeptRead::Settling),
                Queued::Idle => None,
            }
        }

        /// For the owned-buffer reads (`read_owned`, `read_pooled`, ...): the next bytes
        /// kept for the stream, at most `room` of them (queued ones first, then those of a
        /// cancelled read); waits while a receive is armed with nothing queued, or a
        /// cancelled read is in the kernel. An empty result is the end of stream.
        pub(in crate::net) fn poll_take_read(
            &self,
            cx: &mut Context<'_>,
            room: usize,
        ) -> Poll<io::Result<Option<Received>>> {
            if let Some(queue) = self.recv_queue() {
                match queue.front(Some(cx), true, |bytes| {
                    let count = bytes.len().min(room);
                    (count, bytes[..count].to_vec())
                }) {
                    Queued::Taken(result) => {
                        return Poll::Ready(result.map(|data| Some(Received { data, from: None })));
                    }
                    Queued::Armed => return Poll::Pending,
                    Queued::Idle => {}
                }
            }
            self.state().reads.poll_take(cx).map(Ok)
        }

        /// The bytes queued and whether a receive is armed, when the socket is handed
        /// over: the receive is cancelled and the queue given back.
        pub(in crate::net) fn shut_recv_queue(&self) -> (usize, bool) {
            self.recv_queue().map_or((0, false), |queue| queue.shut())
        }

        /// Bytes queued now (`into_fd` refuses while there are any).
        pub(in crate::net) fn queued_bytes(&self) -> usize {
            self.recv_queue().map_or(0, |queue| {
                queue
                    .lock()
                    .items
                    .iter()
                    .map(|item| match item {
                        Item::Data { buf, start } => buf.bytes().len() - start,
                        _ => 0,
                    })
                    .sum()
            })
        }

        /// The poll-path read of a stream (`AsyncRead::poll_read`): with the mode enabled
        /// on io_uring, queued bytes first, arming the multishot receive when the socket
        /// was found empty (see the module documentation); otherwise `poll_recv`.
        #[cfg_attr(
            not(any(feature = "tokio-io", feature = "futures-io")),
            allow(dead_code, reason = "used by the AsyncRead impls")
        )]
        pub(crate) fn poll_read_stream(
            &self,
            cx: &mut Context<'_>,
            buf: &mut [MaybeUninit<u8>],
        ) -> Poll<io::Result<usize>> {
            let queue = match &self.state().source {
                IoSource::Uring
                    if self.state().recv_multishot
                        && self.state().kind == Kind::Stream
                        && !buf.is_empty() =>
                {
                    Some(self.state().readiness[Direction::Read as usize].recv_queue_or_init())
                }
                _ => None,
            };
            let Some(queue) = queue else {
                return self.poll_recv(cx, buf);
            };
            ready!(crate::task::coop::poll_proceed(cx));
            // Steady state: one lock takes the queued bytes, or lists the reader while the
            // receive is armed.
            match queue.front(Some(cx), true, |bytes| {
                let count = copy_to_uninit(bytes, buf);
                (count, count)
            }) {
                Queued::Taken(result) => return Poll::Ready(result),
                Queued::Armed => return Poll::Pending,
                Queued::Idle => {}
            }
            let readiness = &self.state().readiness[Direction::Read as usize];
            let len = buf.len();
            loop {
                match self.try_take_kept(|bytes| copy_to_uninit(bytes, buf)) {
                    Ok(Some(count)) => return Poll::Ready(Ok(count)),
                    Ok(None) => {}
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        match self.poll_kept_read(cx, true) {
                            KeptRead::Settling => return Poll::Pending,
                            KeptRead::Kept | KeptRead::None => continue,
                        }
                    }
                    Err(error) => return Poll::Ready(Err(error)),
                }
                // Nothing queued, armed or kept.
                if queue.try_arm(self.fd(), || readiness.recv_queue_arc())? {
                    readiness.disarm();
                    continue;
                }
                let tick = match readiness.ready_tick() {
                    Some(tick) => tick,
                    // The socket was found drained (a short read cleared the readiness):
                    // engage, as for an `EAGAIN`, and arm instead of waiting.
                    None if queue.engage() => continue,
                    None => {
                        ready!(readiness.poll_ready(cx, self.fd(), Direction::Read.poll_events()))?
                    }
                };
                match recv_uninit(self, buf, false) {
                    Ok(count) => {
                        if count > 0 && count < len {
                            readiness.clear(tick);
                        }
                        return Poll::Ready(Ok(count));
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        readiness.clear(tick);
                        queue.engage();
                    }
                    Err(error) => return Poll::Ready(Err(error)),
                }
            }
        }
    }

    #[cfg(all(test, not(loom)))]
    mod tests {
        //! The queue's bookkeeping driven by hand (no socket, no ring: Miri runs these):
        //! buffers from a ring registered nowhere, taken as a CQE naming them would.

        use super::*;
        use crate::test_support::counting_waker;

        fn filled(ring: &Arc<BufRing>, bid: u16, len: i32) -> RingBuf {
            ring.take(len, (u32::from(bid) << 16) | 1)
                .expect("a buffer")
        }

        fn armed_queue() -> Arc<RecvQueue> {
            let queue = Arc::new(RecvQueue::default());
            {
                let mut state = queue.lock();
                state.armed = true;
                queue.update_busy(&state);
            }
            queue
        }

        /// Takes at most `room` bytes of the front item.
        fn take(queue: &RecvQueue, room: usize) -> Queued<Vec<u8>> {
            queue.front(None, true, |bytes| {
                let used = bytes.len().min(room);
                (used, bytes[..used].to_vec())
            })
        }

        fn taken(answer: Queued<Vec<u8>>) -> io::Result<Vec<u8>> {
            match answer {
                Queued::Taken(result) => result,
                Queued::Armed => panic!("nothing taken: armed"),
                Queued::Idle => panic!("nothing taken: idle"),
            }
        }

        /// Partial takes walk a buffer's start, the buffer goes back once used up, and
        /// the stream's end comes after the data before it, then the queue is idle.
        #[test]
        fn partial_takes_keep_order_and_the_end_comes_last() {
            let ring = BufRing::unregistered(2, 8).unwrap();
            let queue = armed_queue();
            let (woken, waker) = counting_waker();
            let mut cx = Context::from_waker(&waker);
            assert!(matches!(
                queue.front(Some(&mut cx), true, |_| (0, ())),
                Queued::Armed
            ));
            queue.received(filled(&ring, 0, 5));
            assert_eq!(woken.0.load(std::sync::atomic::Ordering::SeqCst), 1);
            queue.received(filled(&ring, 1, 3));
            queue.ended(RecvEnd::EndOfStream);
            // A peek (no consume) sees the front without moving it.
            let peeked = queue.front(None, false, |bytes| (bytes.len(), bytes.len()));
            assert!(matches!(peeked, Queued::Taken(Ok(5))));
            assert_eq!(taken(take(&queue, 2)).unwrap().len(), 2);
            assert_eq!(ring.returns(), 0, "a buffer partly taken stays queued");
            assert_eq!(taken(take(&queue, 8)).unwrap().len(), 3);
            assert_eq!(ring.returns(), 1, "used up: back in the ring");
            assert_eq!(taken(take(&queue, 8)).unwrap().len(), 3);
            assert_eq!(ring.returns(), 2);
            assert!(taken(take(&queue, 8)).unwrap().is_empty(), "end of stream");
            assert!(matches!(take(&queue, 8), Queued::Idle));
            assert!(!queue.busy.load(std::sync::atomic::Ordering::SeqCst));
            assert!(queue.lock().finished, "an ended stream never arms again");
        }

        /// An error is delivered after the data queued before it, once.
        #[test]
        fn an_error_comes_after_the_data_before_it() {
            let ring = BufRing::unregistered(1, 8).unwrap();
            let queue = armed_queue();
            queue.received(filled(&ring, 0, 4));
            queue.ended(RecvEnd::Error(io::Error::from_raw_os_error(
                libc::ECONNRESET,
            )));
            assert_eq!(taken(take(&queue, 8)).unwrap().len(), 4);
            let error = taken(take(&queue, 8)).unwrap_err();
            assert_eq!(error.raw_os_error(), Some(libc::ECONNRESET));
            assert!(matches!(take(&queue, 8), Queued::Idle));
            assert_eq!(ring.returns(), 1);
        }

        /// Backpressure: the receive is asked to stop once `QUEUE_LIMIT` buffers are
        /// queued (once); a shut then gives every queued buffer back and counts its
        /// bytes, and buffers arriving after the shut go straight back.
        #[test]
        fn backpressure_stops_at_the_limit_and_a_shut_returns_every_buffer() {
            let count = QUEUE_LIMIT as u16 + 1;
            let ring = BufRing::unregistered(count, 8).unwrap();
            let queue = armed_queue();
            for bid in 0..QUEUE_LIMIT as u16 - 1 {
                queue.received(filled(&ring, bid, 8));
            }
            assert!(!queue.lock().stopping, "below the limit");
            queue.received(filled(&ring, QUEUE_LIMIT as u16 - 1, 8));
            assert!(queue.lock().stopping, "the limit stops the receive");
            assert_eq!(taken(take(&queue, 3)).unwrap().len(), 3);
            let (bytes, armed) = queue.shut();
            assert_eq!(bytes, QUEUE_LIMIT * 8 - 3);
            assert!(armed);
            assert_eq!(ring.returns(), QUEUE_LIMIT as u64);
            queue.received(filled(&ring, QUEUE_LIMIT as u16, 8));
            assert_eq!(
                ring.returns(),
                QUEUE_LIMIT as u64 + 1,
                "late arrival returned"
            );
            queue.ended(RecvEnd::Cancelled);
            assert!(queue.lock().items.is_empty());
            assert!(matches!(take(&queue, 8), Queued::Idle));
        }
    }

    #[cfg(all(test, loom))]
    mod loom_tests {
        //! Models of the queue's protocol: the ring thread's pushes and ends racing a
        //! reader's take-or-wait and the socket's shut. Buffers come from a ring
        //! registered nowhere (`BufRing::unregistered`), taken as a CQE naming them
        //! would; its return count proves every buffer went back.

        use std::sync::atomic::AtomicUsize;
        use std::task::Wake;

        use super::*;

        #[derive(Default)]
        struct Wakes(AtomicUsize);

        impl Wake for Wakes {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }

        /// Buffer `bid` of `ring`, holding 4 bytes, as a CQE would hand it over.
        fn filled(ring: &Arc<BufRing>, bid: u16) -> RingBuf {
            ring.take(4, (u32::from(bid) << 16) | 1).expect("a buffer")
        }

        fn armed_queue() -> Arc<RecvQueue> {
            let queue = Arc::new(RecvQueue::default());
            {
                let mut state = queue.lock();
                state.armed = true;
                queue.update_busy(&state);
            }
            queue
        }

        fn take(queue: &RecvQueue, cx: &mut Context<'_>) -> Queued<usize> {
            queue.front(Some(cx), true, |bytes| (bytes.len(), bytes.len()))
        }

        /// A buffer (then the receive's end) arrives while the reader takes or waits:
        /// the reader gets the bytes now, or is woken and gets them next; the buffer
        /// goes back to its ring once taken.
        #[test]
        fn loom_a_buffer_racing_a_waiting_reader_is_taken_or_wakes_it() {
            loom::model(|| {
                let ring = BufRing::unregistered(2, 8).unwrap();
                let queue = armed_queue();
                let buf = filled(&ring, 0);
                let kernel = {
                    let queue = queue.clone();
                    loom::thread::spawn(move || {
                        queue.received(buf);
                        queue.ended(RecvEnd::Cancelled);
                    })
                };
                let wakes = Arc::new(Wakes::default());
                let waker = Waker::from(wakes.clone());
                let mut cx = Context::from_waker(&waker);
                let first = take(&queue, &mut cx);
                kernel.join().unwrap();
                match first {
                    Queued::Taken(result) => assert_eq!(result.unwrap(), 4),
                    Queued::Armed => {
                        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "lost wake-up");
                        match take(&queue, &mut cx) {
                            Queued::Taken(result) => assert_eq!(result.unwrap(), 4),
                            _ => panic!("woken, but nothing queued"),
                        }
                    }
                    Queued::Idle => panic!("the queue lost the buffer"),
                }
                assert!(matches!(take(&queue, &mut cx), Queued::Idle));
                assert_eq!(ring.returns(), 1, "the taken buffer went back");
            });
        }

        /// The socket is shut while buffers and the end arrive: every buffer goes
        /// back to the ring (queued ones by the shut, later ones on arrival), and
        /// nothing is left queued.
        #[test]
        fn loom_shut_racing_arrivals_returns_every_buffer() {
            loom::model(|| {
                let ring = BufRing::unregistered(2, 8).unwrap();
                let queue = armed_queue();
                let bufs = [filled(&ring, 0), filled(&ring, 1)];
                let kernel = {
                    let queue = queue.clone();
                    loom::thread::spawn(move || {
                        for buf in bufs {
                            queue.received(buf);
                        }
                        queue.ended(RecvEnd::EndOfStream);
                    })
                };
                let (bytes, _) = queue.shut();
                kernel.join().unwrap();
                assert!(bytes <= 8);
                assert_eq!(ring.returns(), 2, "a buffer was stranded");
                assert!(queue.lock().items.is_empty());
                assert!(!queue.busy.load(Ordering::SeqCst));
            });
        }
    }
}

/// Without io_uring there is never a queue: every hook leaves the read to the socket.
#[cfg(not(ringtide_uring))]
impl Socket {
    pub(super) fn take_queued(&self, _copy: impl FnOnce(&[u8]) -> usize) -> Queued<usize> {
        Queued::Idle
    }

    pub(super) fn peek_queued(&self, _buf: &mut [MaybeUninit<u8>]) -> Queued<usize> {
        Queued::Idle
    }

    pub(super) fn poll_queued_read(&self, _cx: &mut Context<'_>) -> Option<KeptRead> {
        None
    }

    pub(super) fn poll_take_read(
        &self,
        cx: &mut Context<'_>,
        _room: usize,
    ) -> Poll<io::Result<Option<Received>>> {
        self.state().reads.poll_take(cx).map(Ok)
    }

    pub(super) fn shut_recv_queue(&self) -> (usize, bool) {
        (0, false)
    }

    pub(super) fn queued_bytes(&self) -> usize {
        0
    }

    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(dead_code, reason = "used by the AsyncRead impls")
    )]
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        self.poll_recv(cx, buf)
    }
}
