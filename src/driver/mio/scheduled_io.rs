//! The readiness cell of one registered I/O object: what the driver has seen of it and
//! which tasks wait for it.
//!
//! A [`ScheduledIo`] is shared between the driver, which records readiness events into
//! it, and the [`Registration`](super::registration::Registration) of the I/O object,
//! whose futures wait on it. It owns:
//!
//! * one word of state, packing the readiness bits, a shut-down flag and a tick:
//!
//!   ```text
//!    bit   0         1         2            3             4       5          6 ..
//!        READABLE  WRITABLE  READ_CLOSED  WRITE_CLOSED  ERROR  SHUTDOWN   tick (wraps)
//!   ```
//!
//! * per direction (read, write), behind one mutex: the waiters. A future waiting
//!   for readiness (`readable()`, an op in `run_readiness`) holds a
//!   [`ReadinessWaiter`], an entry in the direction's [`WaiterList`], so any number of
//!   tasks can wait at once; `poll_*`-style callers (the `AsyncRead`/`AsyncWrite`
//!   impls, through [`ScheduledIo::poll_ready`]) have no state to keep an entry in and
//!   share one waker slot per direction, as in tokio. An event wakes the slot *and*
//!   the whole list, so a `poll_*` caller never steals an async waiter's wake-up.
//!
//! # Protocol
//!
//! mio is edge-triggered: the OS reports a transition to ready once, and only reports it
//! again after the readiness was consumed and came back. So the cell keeps readiness
//! until the I/O object proves it is gone (a syscall returned `WouldBlock`), and the
//! tick tells a fresh edge from the one already observed:
//!
//! ```text
//!                        driver event: OR the bits in, tick += 1, wake that direction
//!            ┌───────────────────────────────────────────────────────────────┐
//!            ▼                                                               │
//!     ┌─────────────┐  poll_ready: observe (tick, bits)   ┌──────────────┐   │
//!     │ not ready   │ ◄────────────────────────────────── │    ready     │ ──┘
//!     │ (waker set) │  clear_readiness(observed), only if │ (bits set)   │
//!     └─────────────┘  the tick is still the observed one └──────────────┘
//! ```
//!
//! * The driver ORs the event's bits into the state and bumps the tick in one atomic
//!   update, then, under the lock, takes every waiter of each direction the event
//!   concerns (the `poll_*` slot and the whole list) and wakes them outside the lock.
//! * `poll_ready` (and a `ReadinessWaiter`'s poll) returns the direction's bits with
//!   the tick they were read at. If none are set it stores the task's waker under the
//!   lock (in the slot, or in the waiter's list entry) and reads the state again
//!   before returning `Pending`. The driver takes the lock after its update, so either
//!   it finds the waker or the second read sees its bits: no wake-up is lost (the
//!   `loom_*` models check this for two waiters racing an event).
//! * A waiter that returns `Ready`, or is dropped, leaves the list; a woken one was
//!   already taken off it. So the list holds only tasks that wait now.
//! * `clear_readiness` removes the observed bits only if the tick has not moved. A
//!   moved tick means an edge arrived after the observation, and the OS will not
//!   report that edge again, so clearing would strand the waiting task.
//! * `READ_CLOSED` and `WRITE_CLOSED` are never cleared: a hang-up is final, and the
//!   next syscall reports it (a read of 0 bytes, `EPIPE`).
//! * `SHUTDOWN` is set once, when the driver shuts down, and then every waiter of both
//!   directions is woken;
//!   from then on `poll_ready` fails with [`shutdown_error`].

use std::io;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::task::{Context, Poll, Waker};

use crate::driver::waiters::{WaiterKey, WaiterList, WakeBatch};
use crate::loom::atomic::AtomicUsize;
use crate::loom::{Mutex, MutexGuard, lock};

use ::mio::Token;
use ::mio::event::Event;

/// The message of the error `poll_ready` returns once the driver has shut down.
const SHUTDOWN_MESSAGE: &str = "the ringtide runtime driving this I/O object has shut down";

/// Set once the driver has shut down; not a readiness bit.
const SHUTDOWN: usize = 1 << 5;

/// The bits below the tick: the readiness bits and `SHUTDOWN`.
const TICK_SHIFT: u32 = 6;

/// Adding this to the state bumps the tick by one; overflow wraps out of the word.
const TICK_ONE: usize = 1 << TICK_SHIFT;

/// Returns the error of an I/O object whose driver has shut down.
pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other(SHUTDOWN_MESSAGE)
}

/// A set of readiness bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ready(usize);

impl Ready {
    /// No readiness.
    pub(crate) const EMPTY: Ready = Ready(0);
    /// A read would not block.
    pub(crate) const READABLE: Ready = Ready(1 << 0);
    /// A write would not block.
    pub(crate) const WRITABLE: Ready = Ready(1 << 1);
    /// The read half is closed (the peer hung up); reads return end of file.
    pub(crate) const READ_CLOSED: Ready = Ready(1 << 2);
    /// The write half is closed; writes fail.
    pub(crate) const WRITE_CLOSED: Ready = Ready(1 << 3);
    /// An error is pending on the I/O object; the next syscall reports it.
    pub(crate) const ERROR: Ready = Ready(1 << 4);

    /// Every readiness bit.
    const ALL: Ready = Ready(0b1_1111);

    /// Translates a mio event into readiness bits.
    pub(crate) fn from_event(event: &Event) -> Ready {
        let mut ready = Ready::EMPTY;
        if event.is_readable() {
            ready = ready | Ready::READABLE;
        }
        if event.is_writable() {
            ready = ready | Ready::WRITABLE;
        }
        if event.is_read_closed() {
            ready = ready | Ready::READ_CLOSED;
        }
        if event.is_write_closed() {
            ready = ready | Ready::WRITE_CLOSED;
        }
        if event.is_error() {
            ready = ready | Ready::ERROR;
        }
        ready
    }

    /// Returns true if no bit is set.
    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Returns true if every bit of `other` is set in `self`.
    pub(crate) fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }

    /// Returns the bits set in both `self` and `other`.
    pub(crate) fn intersection(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }

    /// Returns the bits of `self` that are not in `other`.
    pub(crate) fn difference(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }

    /// Extracts the readiness bits of a state word.
    fn from_state(state: usize) -> Ready {
        Ready(state & Ready::ALL.0)
    }
}

impl std::ops::BitOr for Ready {
    type Output = Ready;

    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

/// Which half of an I/O object a task waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reading (or accepting).
    Read,
    /// Writing (or connecting).
    Write,
}

impl Direction {
    /// The readiness bits that let an operation in this direction make progress: the
    /// direction's own bit, its hang-up and errors (the syscall surfaces both).
    pub(crate) fn mask(self) -> Ready {
        match self {
            Direction::Read => Ready::READABLE | Ready::READ_CLOSED | Ready::ERROR,
            Direction::Write => Ready::WRITABLE | Ready::WRITE_CLOSED | Ready::ERROR,
        }
    }
}

/// Readiness observed by `poll_ready`: the bits of one direction and the tick they
/// were read at, to hand back to `clear_readiness`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadyEvent {
    tick: usize,
    ready: Ready,
}

impl ReadyEvent {
    /// The readiness bits observed (only those of the polled direction).
    pub(crate) fn ready(&self) -> Ready {
        self.ready
    }
}

/// The tasks waiting for an I/O object: per direction, the one `poll_*` caller and
/// the list of waiter futures.
#[derive(Debug, Default)]
struct Waiters {
    reader: Option<Waker>,
    writer: Option<Waker>,
    readers: WaiterList,
    writers: WaiterList,
}

impl Waiters {
    fn slot(&mut self, direction: Direction) -> &mut Option<Waker> {
        match direction {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }

    fn list(&mut self, direction: Direction) -> &mut WaiterList {
        match direction {
            Direction::Read => &mut self.readers,
            Direction::Write => &mut self.writers,
        }
    }

    /// Takes the `poll_*` waker and every listed waiter of `direction`.
    fn take_direction(&mut self, direction: Direction, batch: &mut WakeBatch) {
        if let Some(waker) = self.slot(direction).take() {
            batch.push(waker);
        }
        self.list(direction).take_all(batch);
    }
}

/// The readiness cell of one registered I/O object (see the module documentation).
#[derive(Debug)]
pub(crate) struct ScheduledIo {
    /// Readiness bits, `SHUTDOWN` and the tick (see the module documentation).
    state: AtomicUsize,
    waiters: Mutex<Waiters>,
    /// The token the I/O object is registered under; fixed at registration.
    token: Token,
}

impl ScheduledIo {
    /// Creates an empty cell for an I/O object registered under `token`.
    pub(crate) fn new(token: Token) -> ScheduledIo {
        ScheduledIo {
            state: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
            token,
        }
    }

    /// The token the I/O object is registered under.
    pub(crate) fn token(&self) -> Token {
        self.token
    }

    /// Records a readiness event from the driver: adds `ready`, bumps the tick and
    /// wakes the waiters of the directions `ready` concerns.
    pub(crate) fn set_readiness(&self, ready: Ready) {
        // The closure always returns `Some`, so the update cannot fail.
        let _ = self.state.fetch_update(AcqRel, Acquire, |state| {
            Some((state | ready.0).wrapping_add(TICK_ONE))
        });
        self.wake(ready);
    }

    /// Marks the cell shut down and wakes every waiter; `poll_ready` fails from now on.
    pub(crate) fn shutdown(&self) {
        self.state.fetch_or(SHUTDOWN, AcqRel);
        self.wake(Direction::Read.mask() | Direction::Write.mask());
    }

    /// Returns the direction's readiness, or stores the task's waker in the
    /// direction's one `poll_*` slot (replacing a waker of another task) and returns
    /// `Pending` when there is none. Futures use [`ReadinessWaiter`] instead.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Some(result) = observe(self.state.load(Acquire), direction) {
            return Poll::Ready(result);
        }
        let mut waiters = self.lock_waiters();
        let slot = waiters.slot(direction);
        match slot {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        // Read again under the lock: the driver updates the state before it takes the
        // lock to look for wakers, so an event it recorded after our first read is
        // either visible now or finds the waker we just stored.
        match observe(self.state.load(Acquire), direction) {
            Some(result) => Poll::Ready(result),
            None => Poll::Pending,
        }
    }

    /// The direction's readiness now, without registering anyone: `None` when there is
    /// none, an error once the driver has shut down.
    pub(crate) fn ready_event(&self, direction: Direction) -> Option<io::Result<ReadyEvent>> {
        observe(self.state.load(Acquire), direction)
    }

    /// [`poll_ready`](ScheduledIo::poll_ready) for the waiter `key` of `direction`'s
    /// list (see [`ReadinessWaiter`]): on `Pending` the waiter is (still) listed with
    /// `cx`'s waker; on `Ready` it is not listed any more.
    fn poll_ready_listed(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        key: &mut Option<WaiterKey>,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Some(result) = observe(self.state.load(Acquire), direction) {
            self.remove_waiter(direction, key);
            return Poll::Ready(result);
        }
        let mut waiters = self.lock_waiters();
        let list = waiters.list(direction);
        list.register(key, cx.waker());
        // Read again under the lock, as in `poll_ready`: an event recorded after the
        // first read is visible now, or its wake finds this waiter listed.
        match observe(self.state.load(Acquire), direction) {
            Some(result) => {
                if let Some(key) = key.take() {
                    list.remove(key);
                }
                Poll::Ready(result)
            }
            None => Poll::Pending,
        }
    }

    /// Takes the waiter `key` off `direction`'s list, if it is still there.
    fn remove_waiter(&self, direction: Direction, key: &mut Option<WaiterKey>) {
        if let Some(key) = key.take() {
            self.lock_waiters().list(direction).remove(key);
        }
    }

    /// How many waiter futures are listed for `direction`.
    #[cfg(test)]
    pub(crate) fn listed_waiters(&self, direction: Direction) -> usize {
        self.lock_waiters().list(direction).len()
    }

    /// Clears the readiness `event` observed, unless a new event arrived since (the
    /// tick moved). Hang-up bits stay set.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let clear = event
            .ready
            .difference(Ready::READ_CLOSED | Ready::WRITE_CLOSED);
        // Returning `None` (a newer event arrived) leaves the state untouched.
        let _ = self.state.fetch_update(AcqRel, Acquire, |state| {
            (state >> TICK_SHIFT == event.tick).then_some(state & !clear.0)
        });
    }

    /// Takes every waiter (the `poll_*` slot and the whole list) of the directions
    /// `ready` concerns and wakes them outside the lock (a waker may run arbitrary
    /// code, even drop another registration).
    fn wake(&self, ready: Ready) {
        let mut batch = WakeBatch::new();
        {
            let mut waiters = self.lock_waiters();
            for direction in [Direction::Read, Direction::Write] {
                if !ready.intersection(direction.mask()).is_empty() {
                    waiters.take_direction(direction, &mut batch);
                }
            }
        }
        batch.wake_all();
    }

    /// Locks the waiters, ignoring poisoning: the critical sections only move wakers.
    fn lock_waiters(&self) -> MutexGuard<'_, Waiters> {
        lock(&self.waiters)
    }
}

/// One future's wait for a direction of a [`ScheduledIo`]: an entry in the direction's
/// waiter list, so any number of futures can wait at once and all are woken. Dropping
/// it takes the entry off the list.
///
/// A woken waiter reports the readiness current when it is polled again; if another
/// task consumed it in the meantime (its syscall reported `WouldBlock` and cleared
/// it), the waiter waits for the next edge instead of returning an empty readiness
/// (tokio returns the empty set, after which the caller only makes a syscall that
/// reports `WouldBlock`).
#[derive(Debug)]
pub(crate) struct ReadinessWaiter<'a> {
    io: &'a ScheduledIo,
    direction: Direction,
    key: Option<WaiterKey>,
}

impl<'a> ReadinessWaiter<'a> {
    /// A waiter for `direction` of `io`; listed on its first pending poll.
    pub(crate) fn new(io: &'a ScheduledIo, direction: Direction) -> ReadinessWaiter<'a> {
        ReadinessWaiter {
            io,
            direction,
            key: None,
        }
    }

    /// Ready with the direction's readiness (to hand to `clear_readiness` after a
    /// `WouldBlock`), or `Pending` with `cx`'s waker listed. Fails once the driver has
    /// shut down.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        self.io.poll_ready_listed(cx, self.direction, &mut self.key)
    }
}

impl Drop for ReadinessWaiter<'_> {
    fn drop(&mut self) {
        self.io.remove_waiter(self.direction, &mut self.key);
    }
}

/// What `poll_ready` reports for a state word: the shut-down error, the direction's
/// readiness, or `None` when it must wait.
fn observe(state: usize, direction: Direction) -> Option<io::Result<ReadyEvent>> {
    if state & SHUTDOWN != 0 {
        return Some(Err(shutdown_error()));
    }
    let ready = Ready::from_state(state).intersection(direction.mask());
    if ready.is_empty() {
        return None;
    }
    Some(Ok(ReadyEvent {
        tick: state >> TICK_SHIFT,
        ready,
    }))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::Ordering::SeqCst;

    use super::*;
    use crate::test_support::{WakeCounter as Counter, counting_waker as counter};

    fn wakes(counter: &Counter) -> usize {
        counter.0.load(SeqCst)
    }

    fn ready_now(io: &ScheduledIo, direction: Direction) -> ReadyEvent {
        let mut cx = Context::from_waker(Waker::noop());
        match io.poll_ready(&mut cx, direction) {
            Poll::Ready(Ok(event)) => event,
            other => panic!("expected readiness, got {other:?}"),
        }
    }

    #[test]
    fn readiness_is_per_direction() {
        let io = ScheduledIo::new(Token(0));
        let mut cx = Context::from_waker(Waker::noop());
        io.set_readiness(Ready::READABLE);
        assert_eq!(ready_now(&io, Direction::Read).ready(), Ready::READABLE);
        assert!(io.poll_ready(&mut cx, Direction::Write).is_pending());
        // Errors make both directions ready: the syscall reports them.
        io.set_readiness(Ready::ERROR);
        assert!(
            ready_now(&io, Direction::Write)
                .ready()
                .contains(Ready::ERROR)
        );
    }

    #[test]
    fn clear_with_a_stale_tick_keeps_the_new_edge() {
        let io = ScheduledIo::new(Token(0));
        io.set_readiness(Ready::READABLE);
        let observed = ready_now(&io, Direction::Read);
        io.set_readiness(Ready::READABLE);
        io.clear_readiness(observed);
        let current = ready_now(&io, Direction::Read);
        assert_ne!(current.tick, observed.tick);
        io.clear_readiness(current);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(io.poll_ready(&mut cx, Direction::Read).is_pending());
    }

    #[test]
    fn hang_up_is_never_cleared() {
        let io = ScheduledIo::new(Token(0));
        io.set_readiness(Ready::READABLE | Ready::READ_CLOSED);
        let observed = ready_now(&io, Direction::Read);
        io.clear_readiness(observed);
        assert_eq!(ready_now(&io, Direction::Read).ready(), Ready::READ_CLOSED);
    }

    #[test]
    fn every_listed_waiter_and_the_poll_caller_are_woken() {
        let io = ScheduledIo::new(Token(0));
        let counters: Vec<_> = (0..8).map(|_| counter()).collect();
        let mut waiters: Vec<_> = counters
            .iter()
            .map(|(_, waker)| {
                let mut waiter = ReadinessWaiter::new(&io, Direction::Read);
                assert!(
                    waiter
                        .poll_ready(&mut Context::from_waker(waker))
                        .is_pending()
                );
                waiter
            })
            .collect();
        let (poller, poller_waker) = counter();
        assert!(
            io.poll_ready(&mut Context::from_waker(&poller_waker), Direction::Read)
                .is_pending()
        );
        assert_eq!(io.listed_waiters(Direction::Read), 8);

        // A write event wakes no reader.
        io.set_readiness(Ready::WRITABLE);
        assert!(counters.iter().all(|(counter, _)| wakes(counter) == 0));

        io.set_readiness(Ready::READABLE);
        assert_eq!(wakes(&poller), 1);
        for ((counter, waker), waiter) in counters.iter().zip(&mut waiters) {
            assert_eq!(wakes(counter), 1);
            let event = match waiter.poll_ready(&mut Context::from_waker(waker)) {
                Poll::Ready(Ok(event)) => event,
                other => panic!("expected readiness, got {other:?}"),
            };
            assert_eq!(event.ready(), Ready::READABLE);
        }
        assert_eq!(io.listed_waiters(Direction::Read), 0);
    }

    #[test]
    fn dropped_waiters_leave_the_list() {
        let io = ScheduledIo::new(Token(0));
        let (staying, staying_waker) = counter();
        let mut stays = ReadinessWaiter::new(&io, Direction::Write);
        assert!(
            stays
                .poll_ready(&mut Context::from_waker(&staying_waker))
                .is_pending()
        );
        let (_gone, gone_waker) = counter();
        for _ in 0..1000 {
            let mut waiter = ReadinessWaiter::new(&io, Direction::Write);
            assert!(
                waiter
                    .poll_ready(&mut Context::from_waker(&gone_waker))
                    .is_pending()
            );
            assert_eq!(io.listed_waiters(Direction::Write), 2);
        }
        assert_eq!(
            io.listed_waiters(Direction::Write),
            1,
            "no dropped waiter is kept"
        );
        io.set_readiness(Ready::WRITABLE);
        assert_eq!(wakes(&staying), 1);
        assert_eq!(io.listed_waiters(Direction::Write), 0);
    }

    #[test]
    fn a_woken_waiter_whose_readiness_was_consumed_waits_again() {
        let io = ScheduledIo::new(Token(0));
        let (first, first_waker) = counter();
        let (second, second_waker) = counter();
        let mut first_waiter = ReadinessWaiter::new(&io, Direction::Read);
        let mut second_waiter = ReadinessWaiter::new(&io, Direction::Read);
        let mut first_cx = Context::from_waker(&first_waker);
        let mut second_cx = Context::from_waker(&second_waker);
        assert!(first_waiter.poll_ready(&mut first_cx).is_pending());
        assert!(second_waiter.poll_ready(&mut second_cx).is_pending());
        io.set_readiness(Ready::READABLE);
        assert_eq!((wakes(&first), wakes(&second)), (1, 1));

        // The first one's syscall drains the fd and reports `WouldBlock`.
        let Poll::Ready(Ok(event)) = first_waiter.poll_ready(&mut first_cx) else {
            panic!("the first waiter is ready");
        };
        io.clear_readiness(event);
        // The second one finds nothing left and waits for the next edge.
        assert!(second_waiter.poll_ready(&mut second_cx).is_pending());
        assert_eq!(io.listed_waiters(Direction::Read), 1);
        io.set_readiness(Ready::READABLE);
        assert_eq!(wakes(&second), 2);
        assert!(matches!(
            second_waiter.poll_ready(&mut second_cx),
            Poll::Ready(Ok(_))
        ));
    }

    #[test]
    fn shutdown_wakes_and_fails_every_waiter() {
        let io = ScheduledIo::new(Token(0));
        let (reader, reader_waker) = counter();
        let (writer, writer_waker) = counter();
        let mut read_waiter = ReadinessWaiter::new(&io, Direction::Read);
        let mut write_waiter = ReadinessWaiter::new(&io, Direction::Write);
        assert!(
            read_waiter
                .poll_ready(&mut Context::from_waker(&reader_waker))
                .is_pending()
        );
        assert!(
            write_waiter
                .poll_ready(&mut Context::from_waker(&writer_waker))
                .is_pending()
        );
        io.shutdown();
        assert_eq!((wakes(&reader), wakes(&writer)), (1, 1));
        let mut cx = Context::from_waker(&reader_waker);
        assert!(matches!(
            read_waiter.poll_ready(&mut cx),
            Poll::Ready(Err(_))
        ));
        assert!(matches!(
            write_waiter.poll_ready(&mut cx),
            Poll::Ready(Err(_))
        ));
    }

    #[test]
    fn the_tick_wraps_without_touching_the_readiness_bits() {
        let io = ScheduledIo::new(Token(0));
        let last_tick = usize::MAX & !SHUTDOWN & !Ready::ALL.0;
        io.state
            .store(last_tick, std::sync::atomic::Ordering::Relaxed);
        io.set_readiness(Ready::WRITABLE);
        let event = ready_now(&io, Direction::Write);
        assert_eq!(event.tick, 0);
        assert_eq!(event.ready(), Ready::WRITABLE);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Loom models of the waiter-list protocol: waiters listing themselves on some
    //! threads while the driver records an event on another. Whatever the
    //! interleaving, every waiter that returned `Pending` is woken, and its next poll
    //! is ready.

    use std::sync::Arc;
    use std::task::Wake;

    use super::*;

    /// A waker that unblocks a model thread waiting for it (loom's `Notify` parks the
    /// thread in the model instead of spinning, so a lost wake-up is reported as a
    /// deadlock rather than exhausting the model's branches).
    #[derive(Default)]
    struct Flag(loom::sync::Notify);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.notify();
        }
    }

    /// Waits for readiness the way a task does: polls, and while pending waits for a
    /// wake-up and polls again. Loom's `Notify` may wake spuriously, hence the loop; a
    /// lost wake-up leaves the thread waiting forever, which loom reports as a
    /// deadlock.
    fn wait_readable(io: &ScheduledIo) {
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut waiter = ReadinessWaiter::new(io, Direction::Read);
        loop {
            match waiter.poll_ready(&mut cx) {
                Poll::Ready(result) => {
                    result.expect("readiness, not an error");
                    return;
                }
                Poll::Pending => flag.0.wait(),
            }
        }
    }

    #[test]
    fn loom_two_waiters_and_an_event_both_wake() {
        loom::model(|| {
            let io = Arc::new(ScheduledIo::new(Token(0)));
            let other = {
                let io = io.clone();
                loom::thread::spawn(move || wait_readable(&io))
            };
            let driver = {
                let io = io.clone();
                loom::thread::spawn(move || io.set_readiness(Ready::READABLE))
            };
            wait_readable(&io);
            other.join().unwrap();
            driver.join().unwrap();
            assert_eq!(io.listed_waiters(Direction::Read), 0);
        });
    }

    #[test]
    fn loom_a_dropped_waiter_does_not_take_the_others_wake_up() {
        loom::model(|| {
            let io = Arc::new(ScheduledIo::new(Token(0)));
            let leaving = {
                let io = io.clone();
                loom::thread::spawn(move || {
                    let mut waiter = ReadinessWaiter::new(&io, Direction::Read);
                    let _ = waiter.poll_ready(&mut Context::from_waker(Waker::noop()));
                })
            };
            let driver = {
                let io = io.clone();
                loom::thread::spawn(move || io.set_readiness(Ready::READABLE))
            };
            wait_readable(&io);
            leaving.join().unwrap();
            driver.join().unwrap();
            assert_eq!(io.listed_waiters(Direction::Read), 0);
        });
    }

    #[test]
    fn loom_a_poll_caller_and_a_waiter_both_wake() {
        loom::model(|| {
            let io = Arc::new(ScheduledIo::new(Token(0)));
            let poller = {
                let io = io.clone();
                loom::thread::spawn(move || {
                    let flag = Arc::new(Flag::default());
                    let waker = Waker::from(flag.clone());
                    let mut cx = Context::from_waker(&waker);
                    while io.poll_ready(&mut cx, Direction::Read).is_pending() {
                        flag.0.wait();
                    }
                })
            };
            let driver = {
                let io = io.clone();
                loom::thread::spawn(move || io.set_readiness(Ready::READABLE))
            };
            wait_readable(&io);
            poller.join().unwrap();
            driver.join().unwrap();
        });
    }
}
