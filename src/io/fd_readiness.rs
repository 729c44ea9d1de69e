//! [`FdReadiness`]: the readiness an [`AsyncFd`](super::AsyncFd) has recorded for its
//! fd, per direction, on either backend. Its readiness guards, its `try_io` and its
//! poll path (`poll_io`, behind the process pipes' `AsyncRead`/`AsyncWrite`) all see
//! and clear the same record, as in tokio.
//!
//! The record is a set of [`Ready`] bits per direction and a tick. Readiness stays
//! recorded until the caller's syscall says `WouldBlock` and it is cleared with the
//! [`FdReadyEvent`] it was observed as; a clear whose tick is stale (new readiness
//! arrived since it was observed) does nothing, and the closed bits are never cleared
//! (a hang-up is final).
//!
//! * mio: the record is the fd's registration (`driver::mio::scheduled_io`), fed by
//!   the edge-triggered selector.
//! * io_uring: nothing is registered, so this file keeps the same record itself, fed by
//!   one `POLL_ADD` per direction. Once the readiness API has been used on a direction
//!   (a wait, a `try_io` that found nothing, a clear), a `POLL_ADD` is armed whenever
//!   nothing is recorded, so readiness gets recorded with no task waiting, as mio's
//!   driver records it (a `try_io` then sees it); an `AsyncFd` used only through its
//!   owned-buffer operations arms none:
//!
//!   ```text
//!     wait (waiter future or poll_* caller) ──► lock ─┬─ bits recorded ──► Ready(event)
//!                                                     └─ list the caller, arm the
//!                                                        POLL_ADD if none, poll it
//!                                                        with the direction's waker
//!                                                          ├─ Pending ──► Pending
//!                                                          └─ Ready(revents) ──► record
//!                                                             the bits, tick += 1,
//!                                                             wake every waiter,
//!                                                             Ready(event)
//!     POLL_ADD completes (ring thread) ──► the direction's waker takes every waiter and
//!                                          wakes it; the first to run collects the op
//!   ```
//!
//!   `POLL_ADD` is level-triggered: one armed after a clear completes at once while
//!   the fd is still ready, so no readiness is ever lost between a syscall and a wait.
//!   As in `net::uring_readiness`, the op belongs to the direction, not to the task
//!   that armed it: it is polled with the direction's own waker (which wakes every
//!   listed waiter and the one `poll_*` slot), so dropping any waiter strands no one.
//!   Listing, arming, polling the op and taking the list happen under the direction's
//!   mutex; the ring thread's wake takes the list under the same mutex, so a
//!   completion either finds a waiter listed or is seen by its poll. Dropping the
//!   `FdReadiness` drops (cancels) the ops, breaking the `op → waker → state` cycle.

use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll};

use crate::driver::Backend;
use crate::driver::mio::{Ready as MioReady, ReadyEvent as MioEvent};
use crate::driver::op::IoSource;
use crate::io::Ready;
use crate::io::fd_poll::PollDirection;

/// The readiness of one fd (see the module documentation): where the fd is driven and,
/// on io_uring, the record kept here.
#[derive(Debug)]
pub(crate) struct FdReadiness {
    source: IoSource,
    fd: RawFd,
    /// io_uring: per direction, the record and its `POLL_ADD`.
    #[cfg_attr(not(ringtide_uring), allow(dead_code, reason = "empty stand-in"))]
    uring: [uring::DirectionRecord; 2],
}

/// Readiness as one wait observed it: the direction, its bits, and the mark that makes
/// a later [`clear`](FdReadiness::clear) a no-op once newer readiness arrived.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FdReadyEvent {
    direction: PollDirection,
    ready: Ready,
    mark: Mark,
}

#[derive(Clone, Copy, Debug)]
enum Mark {
    Mio(MioEvent),
    #[cfg_attr(not(ringtide_uring), allow(dead_code, reason = "no io_uring"))]
    Uring(u64),
}

impl FdReadyEvent {
    /// The bits observed (only the direction's).
    pub(crate) fn ready(&self) -> Ready {
        self.ready
    }

    /// The direction it was observed for.
    pub(crate) fn direction(&self) -> PollDirection {
        self.direction
    }

    /// The same observation, reporting only `ready`'s bits of it.
    pub(crate) fn with_ready(self, ready: Ready) -> FdReadyEvent {
        FdReadyEvent { ready, ..self }
    }
}

impl FdReadiness {
    /// The readiness of `fd`, driven through `source`.
    pub(crate) fn new(source: IoSource, fd: RawFd) -> FdReadiness {
        FdReadiness {
            source,
            fd,
            uring: Default::default(),
        }
    }

    /// Where the fd's operations run (for `op::run`).
    pub(crate) fn source(&self) -> &IoSource {
        &self.source
    }

    /// The backend driving the fd.
    pub(crate) fn backend(&self) -> Backend {
        match self.source {
            IoSource::Uring => Backend::IoUring,
            IoSource::Mio(_) => Backend::Mio,
        }
    }

    /// Deregisters the fd from mio (best-effort); nothing to do on io_uring.
    pub(crate) fn deregister(&self) {
        if let IoSource::Mio(registration) = &self.source {
            let _ = registration.deregister();
        }
    }

    /// The direction's recorded readiness, or `cx`'s waker in the direction's one
    /// `poll_*` slot (replacing another task's) and `Pending` when there is none.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: PollDirection,
    ) -> Poll<io::Result<FdReadyEvent>> {
        match &self.source {
            IoSource::Mio(registration) => registration
                .poll_ready(cx, direction.for_mio())
                .map_ok(|event| from_mio(event, direction)),
            IoSource::Uring => self.uring[direction as usize]
                .poll_ready(cx, self.fd, direction)
                .map_ok(|(tick, ready)| from_uring(tick, ready, direction)),
        }
    }

    /// A waiter for `direction`, for a future to keep across its polls: any number may
    /// wait at once, all are woken, and dropping one takes it off the list.
    pub(crate) fn waiter(&self, direction: PollDirection) -> FdWaiter<'_> {
        let inner = match &self.source {
            IoSource::Mio(registration) => {
                WaiterInner::Mio(registration.waiter(direction.for_mio()))
            }
            IoSource::Uring => WaiterInner::Uring(self.uring[direction as usize].waiter()),
        };
        FdWaiter {
            fd: self.fd,
            direction,
            inner,
        }
    }

    /// The direction's recorded readiness now, registering no one (for `try_io`):
    /// `None` when there is none; an error once the mio driver has shut down. On
    /// io_uring, with nothing recorded, a `POLL_ADD` is armed, so that readiness is
    /// recorded for a later call.
    pub(crate) fn ready_event(&self, direction: PollDirection) -> Option<io::Result<FdReadyEvent>> {
        self.recorded(direction, true)
    }

    /// [`ready_event`](FdReadiness::ready_event) that arms nothing (for a caller about to
    /// wait anyway).
    pub(crate) fn recorded_event(
        &self,
        direction: PollDirection,
    ) -> Option<io::Result<FdReadyEvent>> {
        self.recorded(direction, false)
    }

    fn recorded(&self, direction: PollDirection, arm: bool) -> Option<io::Result<FdReadyEvent>> {
        match &self.source {
            IoSource::Mio(registration) => registration
                .ready_event(direction.for_mio())
                .map(|event| event.map(|event| from_mio(event, direction))),
            IoSource::Uring => self.uring[direction as usize]
                .recorded(self.fd, direction, arm)
                .map(|(tick, ready)| Ok(from_uring(tick, ready, direction))),
        }
    }

    /// After a syscall said `WouldBlock`: clears the readiness `event` observed (its
    /// bits, the closed ones excepted), unless newer readiness arrived since.
    pub(crate) fn clear(&self, event: FdReadyEvent) {
        let clear = event.ready - (Ready::READ_CLOSED | Ready::WRITE_CLOSED);
        if clear.is_empty() {
            return;
        }
        match event.mark {
            // The registration's event holds only its direction's bits; it never
            // clears the closed ones either.
            Mark::Mio(observed) => {
                if let IoSource::Mio(registration) = &self.source {
                    registration.clear_readiness(observed);
                }
            }
            Mark::Uring(tick) => {
                self.uring[event.direction as usize].clear(tick, clear, self.fd, event.direction);
            }
        }
    }
}

/// One future's wait for a direction of an [`FdReadiness`].
#[derive(Debug)]
pub(crate) struct FdWaiter<'a> {
    fd: RawFd,
    direction: PollDirection,
    inner: WaiterInner<'a>,
}

#[derive(Debug)]
enum WaiterInner<'a> {
    Mio(crate::driver::mio::ReadinessWaiter<'a>),
    #[cfg_attr(not(ringtide_uring), allow(dead_code, reason = "no io_uring"))]
    Uring(uring::Waiter<'a>),
}

impl FdWaiter<'_> {
    /// The direction's recorded readiness, or `Pending` with `cx`'s waker listed.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<FdReadyEvent>> {
        let direction = self.direction;
        match &mut self.inner {
            WaiterInner::Mio(waiter) => waiter
                .poll_ready(cx)
                .map_ok(|event| from_mio(event, direction)),
            WaiterInner::Uring(waiter) => waiter
                .poll_ready(cx, self.fd, direction)
                .map_ok(|(tick, ready)| from_uring(tick, ready, direction)),
        }
    }
}

fn from_uring(tick: u64, ready: Ready, direction: PollDirection) -> FdReadyEvent {
    FdReadyEvent {
        direction,
        ready,
        mark: Mark::Uring(tick),
    }
}

/// A registration's event as an [`FdReadyEvent`]. A pending error counts as the
/// direction's readiness: the next syscall reports it.
fn from_mio(event: MioEvent, direction: PollDirection) -> FdReadyEvent {
    let bits = event.ready();
    let mut ready = Ready::EMPTY;
    if bits.contains(MioReady::READABLE) {
        ready |= Ready::READABLE;
    }
    if bits.contains(MioReady::WRITABLE) {
        ready |= Ready::WRITABLE;
    }
    if bits.contains(MioReady::READ_CLOSED) {
        ready |= Ready::READ_CLOSED;
    }
    if bits.contains(MioReady::WRITE_CLOSED) {
        ready |= Ready::WRITE_CLOSED;
    }
    if bits.contains(MioReady::ERROR) {
        ready |= direction_bit(direction);
    }
    FdReadyEvent {
        direction,
        ready,
        mark: Mark::Mio(event),
    }
}

/// The plain readiness bit of `direction`.
fn direction_bit(direction: PollDirection) -> Ready {
    match direction {
        PollDirection::Read => Ready::READABLE,
        PollDirection::Write => Ready::WRITABLE,
    }
}

#[cfg(ringtide_uring)]
mod uring {
    //! The io_uring record of one direction (see the module documentation above).

    use std::future::Future;
    use std::io;
    use std::os::fd::RawFd;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    use super::direction_bit;
    use crate::driver::uring::cell::UringOp;
    use crate::driver::waiters::{WaiterKey, WaiterList, WakeBatch};
    use crate::io::Ready;
    use crate::io::fd_poll::PollDirection;
    use crate::loom::{Mutex, MutexGuard, lock};
    use crate::op::poll::PollAdd;
    use crate::op::route::current_runtime_ring;

    /// One direction's record, its `POLL_ADD` and its waiters.
    #[derive(Debug)]
    pub(super) struct DirectionRecord {
        shared: Arc<Shared>,
        /// A waker of `shared`, handed to the `POLL_ADD`.
        waker: Waker,
    }

    #[derive(Debug)]
    struct Shared {
        state: Mutex<State>,
    }

    #[derive(Debug, Default)]
    struct State {
        /// The recorded bits (only the direction's).
        ready: Ready,
        /// Bumped by every completed `POLL_ADD`.
        tick: u64,
        /// The `POLL_ADD` in flight (or completed, not yet collected).
        poll: Option<UringOp<PollAdd>>,
        /// The waiter futures.
        waiters: WaiterList,
        /// The one `poll_*`-style caller.
        poller: Option<Waker>,
    }

    impl State {
        fn take_all(&mut self, batch: &mut WakeBatch) {
            if let Some(waker) = self.poller.take() {
                batch.push(waker);
            }
            self.waiters.take_all(batch);
        }

        /// The recorded readiness, or (none recorded) the `POLL_ADD`'s: arms it if
        /// none is armed and polls it with `waker`. A completion records its bits and
        /// bumps the tick; the caller then wakes every waiter.
        fn poll_record(
            &mut self,
            waker: &Waker,
            fd: RawFd,
            direction: PollDirection,
        ) -> Poll<io::Result<(u64, Ready)>> {
            if !self.ready.is_empty() {
                return Poll::Ready(Ok((self.tick, self.ready)));
            }
            let events = match direction {
                PollDirection::Read => libc::POLLIN | libc::POLLRDHUP,
                PollDirection::Write => libc::POLLOUT,
            };
            let op = self.poll.get_or_insert_with(|| {
                UringOp::new(PollAdd::new(fd, events), current_runtime_ring)
            });
            let (_, result) = match Pin::new(op).poll(&mut Context::from_waker(waker)) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(output) => output,
            };
            self.poll = None;
            let ready = match result {
                // A failure to submit at all (no runtime, the ring is gone).
                Err(error) if error.raw_os_error().is_none() => return Poll::Ready(Err(error)),
                // The fd itself is the problem: the syscall that follows reports it.
                Err(_) => direction_bit(direction),
                Ok(revents) => from_revents(revents, direction),
            };
            self.ready |= ready;
            self.tick = self.tick.wrapping_add(1);
            Poll::Ready(Ok((self.tick, self.ready)))
        }
    }

    /// The readiness bits of `POLL_ADD`'s `revents` for `direction`. An error counts as
    /// the direction's readiness (the syscall reports it), as does a result with no bit
    /// of the direction (`POLLNVAL`).
    fn from_revents(revents: usize, direction: PollDirection) -> Ready {
        let revents = revents as libc::c_short;
        let mut ready = Ready::EMPTY;
        match direction {
            PollDirection::Read => {
                if revents & (libc::POLLIN | libc::POLLERR) != 0 {
                    ready |= Ready::READABLE;
                }
                if revents & (libc::POLLRDHUP | libc::POLLHUP) != 0 {
                    ready |= Ready::READ_CLOSED;
                }
            }
            PollDirection::Write => {
                if revents & (libc::POLLOUT | libc::POLLERR) != 0 {
                    ready |= Ready::WRITABLE;
                }
                if revents & libc::POLLHUP != 0 {
                    ready |= Ready::WRITE_CLOSED;
                }
            }
        }
        if ready.is_empty() {
            direction_bit(direction)
        } else {
            ready
        }
    }

    impl Wake for Shared {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            let mut batch = WakeBatch::new();
            lock(&self.state).take_all(&mut batch);
            batch.wake_all();
        }
    }

    impl Default for DirectionRecord {
        fn default() -> DirectionRecord {
            let shared = Arc::new(Shared {
                state: Mutex::new(State::default()),
            });
            DirectionRecord {
                waker: Waker::from(shared.clone()),
                shared,
            }
        }
    }

    impl DirectionRecord {
        fn lock(&self) -> MutexGuard<'_, State> {
            lock(&self.shared.state)
        }

        /// For `poll_*`-style callers: the recorded readiness, or `cx`'s waker in the
        /// direction's one slot.
        pub(super) fn poll_ready(
            &self,
            cx: &mut Context<'_>,
            fd: RawFd,
            direction: PollDirection,
        ) -> Poll<io::Result<(u64, Ready)>> {
            let mut batch = WakeBatch::new();
            let poll = {
                let mut state = self.lock();
                match &state.poller {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => state.poller = Some(cx.waker().clone()),
                }
                let poll = state.poll_record(&self.waker, fd, direction);
                if poll.is_ready() {
                    // The slot is this caller's: it was just stored.
                    state.poller = None;
                    state.take_all(&mut batch);
                }
                poll
            };
            batch.wake_all();
            poll
        }

        /// The recorded readiness, if any, after collecting a `POLL_ADD` that completed
        /// since the last wait. With nothing recorded and `arm`, arms one if none is.
        pub(super) fn recorded(
            &self,
            fd: RawFd,
            direction: PollDirection,
            arm: bool,
        ) -> Option<(u64, Ready)> {
            let mut batch = WakeBatch::new();
            let recorded = {
                let mut state = self.lock();
                if state.ready.is_empty() && (arm || state.poll.is_some()) {
                    self.collect(&mut state, fd, direction, &mut batch);
                }
                (!state.ready.is_empty()).then_some((state.tick, state.ready))
            };
            batch.wake_all();
            recorded
        }

        /// Removes `bits` from the record if it is still at `tick`; with nothing left
        /// recorded, arms a `POLL_ADD` to record the next readiness.
        pub(super) fn clear(&self, tick: u64, bits: Ready, fd: RawFd, direction: PollDirection) {
            let mut batch = WakeBatch::new();
            {
                let mut state = self.lock();
                if state.tick == tick {
                    state.ready = state.ready - bits;
                    if state.ready.is_empty() {
                        self.collect(&mut state, fd, direction, &mut batch);
                    }
                }
            }
            batch.wake_all();
        }

        /// Polls (arming it if none is) the `POLL_ADD` for nobody in particular; a
        /// completion is recorded and wakes every waiter. A failure to submit is left
        /// for the next wait to report.
        fn collect(
            &self,
            state: &mut State,
            fd: RawFd,
            direction: PollDirection,
            batch: &mut WakeBatch,
        ) {
            if state.poll_record(&self.waker, fd, direction).is_ready() {
                state.take_all(batch);
            }
        }

        pub(super) fn waiter(&self) -> Waiter<'_> {
            Waiter {
                record: self,
                key: None,
            }
        }
    }

    impl Drop for DirectionRecord {
        fn drop(&mut self) {
            // Cancels the op (outside the lock), which releases its waker: the cycle
            // `Shared → op → waker → Shared` ends here.
            let op = self.lock().poll.take();
            drop(op);
        }
    }

    /// One future's wait on a [`DirectionRecord`]; dropping it takes it off the list.
    #[derive(Debug)]
    pub(in crate::io) struct Waiter<'a> {
        record: &'a DirectionRecord,
        key: Option<WaiterKey>,
    }

    impl Waiter<'_> {
        /// The recorded readiness, or `Pending` with `cx`'s waker listed.
        pub(super) fn poll_ready(
            &mut self,
            cx: &mut Context<'_>,
            fd: RawFd,
            direction: PollDirection,
        ) -> Poll<io::Result<(u64, Ready)>> {
            let mut batch = WakeBatch::new();
            let poll = {
                let mut state = self.record.lock();
                state.waiters.register(&mut self.key, cx.waker());
                let poll = state.poll_record(&self.record.waker, fd, direction);
                if poll.is_ready() {
                    if let Some(key) = self.key.take() {
                        state.waiters.remove(key);
                    }
                    state.take_all(&mut batch);
                }
                poll
            };
            batch.wake_all();
            poll
        }
    }

    impl Drop for Waiter<'_> {
        fn drop(&mut self) {
            if let Some(key) = self.key.take() {
                self.record.lock().waiters.remove(key);
            }
        }
    }
}

#[cfg(not(ringtide_uring))]
mod uring {
    //! Without io_uring compiled in there is nothing to record (no `IoSource::Uring`
    //! is ever created).

    use std::io;
    use std::os::fd::RawFd;
    use std::task::{Context, Poll};

    use crate::io::Ready;
    use crate::io::fd_poll::PollDirection;

    #[derive(Debug, Default)]
    pub(super) struct DirectionRecord;

    #[derive(Debug)]
    pub(in crate::io) struct Waiter<'a>(std::marker::PhantomData<&'a DirectionRecord>);

    fn not_compiled_in() -> io::Error {
        io::Error::other("io_uring is not compiled in")
    }

    impl DirectionRecord {
        pub(super) fn poll_ready(
            &self,
            _cx: &mut Context<'_>,
            _fd: RawFd,
            _direction: PollDirection,
        ) -> Poll<io::Result<(u64, Ready)>> {
            Poll::Ready(Err(not_compiled_in()))
        }

        pub(super) fn recorded(
            &self,
            _fd: RawFd,
            _direction: PollDirection,
            _arm: bool,
        ) -> Option<(u64, Ready)> {
            None
        }

        pub(super) fn clear(
            &self,
            _tick: u64,
            _bits: Ready,
            _fd: RawFd,
            _direction: PollDirection,
        ) {
        }

        pub(super) fn waiter(&self) -> Waiter<'_> {
            Waiter(std::marker::PhantomData)
        }
    }

    impl Waiter<'_> {
        pub(super) fn poll_ready(
            &mut self,
            _cx: &mut Context<'_>,
            _fd: RawFd,
            _direction: PollDirection,
        ) -> Poll<io::Result<(u64, Ready)>> {
            Poll::Ready(Err(not_compiled_in()))
        }
    }
}

#[cfg(all(test, not(loom), ringtide_uring))]
mod tests {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::Ordering::SeqCst;

    use super::*;
    use crate::runtime::{Backend, Builder};
    use crate::test_support::counting_waker;

    fn runtime() -> crate::runtime::Runtime {
        Builder::new_current_thread()
            .backend(Backend::IoUring)
            .enable_all()
            .build()
            .unwrap()
    }

    /// Waits (yielding to the driver) until `readiness` records read readiness.
    async fn recorded_read(readiness: &FdReadiness) -> FdReadyEvent {
        loop {
            if let Some(event) = readiness.ready_event(PollDirection::Read) {
                return event.unwrap();
            }
            crate::task::yield_now().await;
        }
    }

    #[test]
    fn a_stale_clear_keeps_newer_readiness_and_a_current_one_clears() {
        runtime().block_on(async {
            let (socket, mut peer) = UnixStream::pair().unwrap();
            let readiness = FdReadiness::new(IoSource::Uring, socket.as_raw_fd());
            assert!(readiness.ready_event(PollDirection::Read).is_none());
            peer.write_all(b"x").unwrap();
            let first = recorded_read(&readiness).await;
            assert!(first.ready().is_readable());

            // Clearing while the data is still there: the POLL_ADD the clear arms
            // records it again, at a newer tick.
            readiness.clear(first);
            let second = recorded_read(&readiness).await;
            assert!(!matches!(
                (first.mark, second.mark),
                (Mark::Uring(a), Mark::Uring(b)) if a == b
            ));
            readiness.clear(first);
            assert!(
                readiness.recorded_event(PollDirection::Read).is_some(),
                "a stale clear leaves the newer readiness"
            );
            // The closed bits survive any clear.
            readiness.clear(second.with_ready(Ready::READ_CLOSED));
            assert!(readiness.recorded_event(PollDirection::Read).is_some());
        });
    }

    #[test]
    fn one_completion_wakes_every_waiter_and_the_poll_slot() {
        runtime().block_on(async {
            let (socket, mut peer) = UnixStream::pair().unwrap();
            let readiness = FdReadiness::new(IoSource::Uring, socket.as_raw_fd());
            let counters: Vec<_> = (0..3).map(|_| counting_waker()).collect();
            let mut first = readiness.waiter(PollDirection::Read);
            let mut second = readiness.waiter(PollDirection::Read);
            let mut dropped = readiness.waiter(PollDirection::Read);
            for (waiter, (_, waker)) in [&mut first, &mut second, &mut dropped]
                .into_iter()
                .zip(&counters)
            {
                assert!(
                    waiter
                        .poll_ready(&mut Context::from_waker(waker))
                        .is_pending()
                );
            }
            // The waiter whose poll armed the POLL_ADD leaves: the others still wake.
            drop(dropped);
            let (poller, poller_waker) = counting_waker();
            let mut cx = Context::from_waker(&poller_waker);
            assert!(
                readiness
                    .poll_ready(&mut cx, PollDirection::Read)
                    .is_pending()
            );
            peer.write_all(b"x").unwrap();
            while [&counters[0].0, &counters[1].0, &poller]
                .iter()
                .any(|counter| counter.0.load(SeqCst) == 0)
            {
                crate::task::yield_now().await;
            }
            for (waiter, (_, waker)) in [&mut first, &mut second].into_iter().zip(&counters) {
                let poll = waiter.poll_ready(&mut Context::from_waker(waker));
                assert!(matches!(poll, Poll::Ready(Ok(event)) if event.ready().is_readable()));
            }
            assert!(
                readiness
                    .poll_ready(&mut cx, PollDirection::Read)
                    .is_ready()
            );
        });
    }
}
