//! The runtime's timer: one wheel per worker (a *shard*), and the rule for who sleeps
//! on them.
//!
//! Timers live in [`Wheel`]s (1 ms resolution, deadlines rounded up so a timer never
//! fires early), one per scheduler core by default, each behind its own lock
//! (`Builder::timer_shards` picks fewer; 1 is a single runtime-wide wheel).
//!
//! * **Shards.** A timer registers in the shard of the worker that polls it first (the
//!   core the scheduler's context says this thread drives); threads that drive no core
//!   (`block_on` callers, `spawn_blocking` threads, a worker that left its core with
//!   `block_in_place`) pick a shard round robin. The timer's [`TimerId`] remembers the
//!   shard, so reset, poll and removal go to it from whatever thread the task moved to.
//!   Workers mostly lock their own shard, so registering and cancelling do not contend.
//! * **Next expiration.** Each shard publishes its wheel's next expiration in an atomic,
//!   written under the shard's lock: lowered when an earlier timer is placed,
//!   recomputed when the wheel advances or loses its earliest timer (so it is a lower
//!   bound: at worst the keeper wakes for a timer that was cancelled, and parks again).
//!   Readers that only need to know whether anything is due (or when) read the
//!   atomics, without locking.
//! * **The keeper.** A core about to park claims the keeper role if it is free and then
//!   parks with a timeout until the earliest next expiration over *all* shards (the
//!   io_uring wait's timeout, or the mio poll timeout), so a timer fires on time even
//!   while the core that owns its shard runs a long task. Other cores park without a
//!   timeout (they are *sleepers*), so a timer tick wakes one thread, not all of them.
//!   The keeper releases the role when it wakes. The keeper's deadline
//!   (`keeper_deadline`) is "unknown" (`u64::MAX`) whenever nobody keeps: only the keeper
//!   writes it, after its claim, and sets it back before its release.
//! * **The park fast path.** The claim is tried first, so the core that finds the role
//!   free (the only core of a current-thread runtime, or the first of several to park)
//!   pays a compare-exchange and a fence to claim it, and a load, a store and a fence to
//!   release it. With no timer armed in any shard it reads no clock and publishes no
//!   deadline (it sleeps until unparked, its deadline stays unknown), and firing skips
//!   every shard whose next expiration is "nothing pending" without reading the clock.
//!   Measured with callgrind on `benches/ops.rs`'s probe (one `nop` per park): the
//!   timer's part of a park went from ~280 instructions (sleeper announcement and
//!   retraction, deadline stores, a clock read on every wake) to ~85.
//! * **Earlier deadlines.** Registering (or resetting) a timer earlier than what the
//!   keeper sleeps until unparks the keeper, which recomputes its timeout. The keeper
//!   claims the role (its deadline is then unknown), then reads every shard's next
//!   expiration, then publishes the minimum; a registrar publishes its shard's next
//!   expiration, then reads the keeper's deadline (`SeqCst`, with a `SeqCst` fence
//!   between the write and the read on both sides: the fences are what makes this
//!   Dekker-style hand-shake hold under loom, which treats `SeqCst` accesses as
//!   `AcqRel`, and they cost one fence per registration and per park). So either the keeper
//!   sees the new timer, or the registrar sees a deadline later than its own (unknown,
//!   or the keeper's) and unparks the keeper (an unpark before the park makes the park
//!   return at once).
//! * **No keeper.** A timer must not wait for a busy core. A core that finds the role
//!   taken announces itself as a sleeper (a flag and a count), then (after a fence)
//!   reads the role again and claims it if it became free; the keeper releases the role,
//!   then (after a fence) reads the sleepers. So either the sleeper sees the role free,
//!   or the keeper sees the announcement. When the keeper wakes while timers are
//!   still pending, or a timer is registered while nobody keeps, one sleeper is unparked
//!   and parks again as the keeper. Whoever clears a sleeper's flag unparks it, so it is
//!   unparked once. When every core is busy nobody parks and the maintenance ticks fire
//!   timers.
//! * **Firing.** After each park and at each maintenance tick a core fires what is due
//!   in its own shard, so the woken tasks land in its own queue. The keeper, after its
//!   timed park, also fires every other shard that is due. Any core also fires another
//!   shard whose next expiration is [`FOREIGN_GRACE_MS`] or more in the past: its owner
//!   is busy and nobody keeps. Wakers are woken outside the locks.
//! * **Paused clock** (current-thread runtimes): auto-advance jumps to the earliest
//!   next expiration over all shards and fires every shard.

use std::task::{Context, Waker};
use std::time::Duration;

use crate::loom::atomic::{
    AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst, fence,
};
use crate::loom::{Mutex, lock};
use crate::time::clock::Clock;
use crate::time::wheel::{TimerKey, Wheel};

/// No keeper: `keeper` holds `index + 1` of the keeping core.
const NO_KEEPER: usize = 0;

/// How far (ms) a shard's next expiration must be in the past before a core other than
/// its owner (and other than the keeper) fires it.
pub(crate) const FOREIGN_GRACE_MS: u64 = 1;

/// A registered timer: its shard and its key in that shard's wheel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerId {
    shard: usize,
    key: TimerKey,
}

/// One wheel and its published next expiration, on its own cache lines.
#[repr(align(128))]
struct Shard {
    wheel: Mutex<Wheel>,
    /// A lower bound of the wheel's pending deadlines, at most its
    /// `next_expiration()` as of the last advance (`u64::MAX`: nothing pending). Only
    /// written with the wheel locked.
    next: AtomicU64,
}

impl Shard {
    /// Republishes the next expiration; call with the wheel locked, after it advanced
    /// or lost its earliest timer.
    fn publish(&self, wheel: &Wheel) {
        self.next
            .store(wheel.next_expiration().unwrap_or(u64::MAX), SeqCst);
    }

    /// A timer for `deadline` was placed; call with the wheel locked. The published
    /// value stays a lower bound of every pending deadline, so it only has to move when
    /// `deadline` is earlier (the common case, a later timer, writes nothing).
    fn publish_placed(&self, deadline: u64) {
        if deadline < self.next.load(SeqCst) {
            self.next.store(deadline, SeqCst);
        }
    }
}

/// The timer of one runtime.
pub(crate) struct TimeHandle {
    /// Time zero of the wheels.
    start: std::time::Instant,
    clock: Clock,
    shards: Box<[Shard]>,
    /// Round robin for registrations from threads that drive no core.
    next_shard: AtomicUsize,
    keeper: AtomicUsize,
    /// What the keeper sleeps until, in wheel milliseconds (`u64::MAX`: no timeout, or
    /// not known yet).
    keeper_deadline: AtomicU64,
    /// Per core: parked (or about to) without a timeout while another core keeps.
    sleeping: Box<[AtomicBool]>,
    /// How many `sleeping` flags are set.
    sleepers: AtomicUsize,
    /// Per core: wakes it out of its park (built by the runtime from the core's driver).
    cores: Box<[Waker]>,
    /// The runtime shut down: nobody fires timers any more (see
    /// [`runtime_shut_down`](TimeHandle::runtime_shut_down)).
    shut_down: AtomicBool,
}

impl std::fmt::Debug for TimeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeHandle")
            .field("shards", &self.shards.len())
            .field("keeper", &self.keeper)
            .field("sleepers", &self.sleepers)
            .finish_non_exhaustive()
    }
}

impl TimeHandle {
    /// A timer for the cores woken by `cores` (one waker per core, which unparks it)
    /// with `shards` wheels (clamped to `1..=cores`; `None`: one per core).
    pub(crate) fn new(cores: Box<[Waker]>, shards: Option<usize>) -> TimeHandle {
        let count = shards.unwrap_or(cores.len()).clamp(1, cores.len().max(1));
        TimeHandle {
            start: std::time::Instant::now(),
            clock: Clock::new(),
            shards: (0..count)
                .map(|_| Shard {
                    wheel: Mutex::new(Wheel::new()),
                    next: AtomicU64::new(u64::MAX),
                })
                .collect(),
            next_shard: AtomicUsize::new(0),
            keeper: AtomicUsize::new(NO_KEEPER),
            keeper_deadline: AtomicU64::new(u64::MAX),
            sleeping: cores.iter().map(|_| AtomicBool::new(false)).collect(),
            sleepers: AtomicUsize::new(0),
            cores,
            shut_down: AtomicBool::new(false),
        }
    }

    /// Milliseconds since the wheel started, rounded down (what has fully elapsed).
    fn now_ms(&self) -> u64 {
        let elapsed = self.clock.now().saturating_duration_since(self.start);
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    }

    /// The runtime's clock (pausable in tests).
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The shard core `index` owns.
    fn own_shard(&self, index: usize) -> usize {
        index % self.shards.len()
    }

    /// The earliest published next expiration over every shard.
    fn earliest(&self) -> Option<u64> {
        let earliest = self
            .shards
            .iter()
            .map(|shard| shard.next.load(SeqCst))
            .min()
            .unwrap_or(u64::MAX);
        (earliest != u64::MAX).then_some(earliest)
    }

    /// With a paused clock and nothing to run: jump the clock to the next timer.
    /// Returns false when nothing is pending (the caller sleeps as usual).
    pub(crate) fn auto_advance(&self) -> bool {
        // The published values, not the wheels' own next expirations: `process_all`
        // advances a wheel once its published value is reached, which it must be.
        let Some(next) = self.earliest() else {
            return false;
        };
        let target = self.start + Duration::from_millis(next);
        self.clock.advance_to(target);
        true
    }

    /// A deadline in wheel milliseconds, rounded up so it never fires early.
    pub(crate) fn deadline_ms(&self, deadline: std::time::Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.start);
        let millis = since.as_nanos().div_ceil(1_000_000);
        u64::try_from(millis).unwrap_or(u64::MAX)
    }

    /// Registers a timer for `deadline` (wheel ms), in the shard of `core` (the core
    /// this thread drives, if any; else round robin).
    pub(crate) fn register(&self, deadline: u64, waker: &Waker, core: Option<usize>) -> TimerId {
        let shard = match core {
            Some(index) => self.own_shard(index),
            None if self.shards.len() == 1 => 0,
            None => self.next_shard.fetch_add(1, Relaxed) % self.shards.len(),
        };
        let key = {
            let owner = &self.shards[shard];
            let mut wheel = lock(&owner.wheel);
            let key = wheel.insert(deadline, waker.clone());
            owner.publish_placed(deadline);
            key
        };
        self.wake_keeper_before(deadline);
        TimerId { shard, key }
    }

    /// The runtime shut down (its workers are gone, nothing fires timers): a timer that
    /// has to wait from now on panics (see `Sleep`), as tokio's do, instead of waiting
    /// for ever. The timers already waiting are woken so that their futures see it.
    ///
    /// The flag is set before the shards are locked, and a future checks it after it
    /// registered its waker under the shard's lock: either the waker is here to be
    /// woken, or that check sees the flag.
    pub(crate) fn runtime_shut_down(&self) {
        self.shut_down.store(true, SeqCst);
        let mut wakers = Vec::new();
        for shard in self.shards.iter() {
            lock(&shard.wheel).pending_wakers(&mut wakers);
        }
        for waker in wakers {
            waker.wake();
        }
    }

    /// Whether [`runtime_shut_down`](TimeHandle::runtime_shut_down) was called.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(SeqCst)
    }

    /// Moves a timer to a new deadline.
    pub(crate) fn reset(&self, id: TimerId, deadline: u64) {
        {
            let owner = &self.shards[id.shard];
            let mut wheel = lock(&owner.wheel);
            wheel.reset(id.key, deadline);
            owner.publish_placed(deadline);
        }
        self.wake_keeper_before(deadline);
    }

    /// Whether the timer fired; if not, `cx`'s waker is the one it wakes.
    pub(crate) fn poll_fired(&self, id: TimerId, cx: &Context<'_>) -> bool {
        let mut wheel = lock(&self.shards[id.shard].wheel);
        if wheel.is_fired(id.key) {
            return true;
        }
        wheel.set_waker(id.key, cx.waker());
        false
    }

    /// Forgets a timer.
    pub(crate) fn remove(&self, id: TimerId) {
        let owner = &self.shards[id.shard];
        let mut wheel = lock(&owner.wheel);
        // Removing a later timer leaves the published value a lower bound: keep it.
        if wheel
            .remove(id.key)
            .is_some_and(|deadline| deadline <= owner.next.load(SeqCst))
        {
            owner.publish(&wheel);
        }
    }

    /// After a change that made `deadline` pending: unparks the keeper if it sleeps past
    /// it, or a sleeper to become the keeper if nobody keeps (module docs).
    fn wake_keeper_before(&self, deadline: u64) {
        // Pairs with the fences in `before_park` and `after_park` (module docs: the
        // shard's next expiration was published; now read the keeper's side).
        fence(SeqCst);
        if deadline >= self.keeper_deadline.load(SeqCst) {
            return;
        }
        let keeper = self.keeper.load(SeqCst);
        if keeper != NO_KEEPER {
            self.cores[keeper - 1].wake_by_ref();
        } else {
            self.wake_a_sleeper();
        }
    }

    /// Unparks one core that sleeps without a timeout, if any, so it parks again as the
    /// keeper.
    fn wake_a_sleeper(&self) {
        if self.sleepers.load(SeqCst) == 0 {
            return;
        }
        for (index, sleeping) in self.sleeping.iter().enumerate() {
            if sleeping.load(SeqCst) && sleeping.swap(false, SeqCst) {
                self.sleepers.fetch_sub(1, SeqCst);
                self.cores[index].wake_by_ref();
                return;
            }
        }
    }

    /// Core `index` no longer sleeps (it woke, or became the keeper).
    fn clear_sleeping(&self, index: usize) {
        // A plain load first: only this core sets its flag, so it reads its own last
        // write (or a waker's clear, which also took the count down).
        let sleeping = &self.sleeping[index];
        if sleeping.load(SeqCst) && sleeping.swap(false, SeqCst) {
            self.sleepers.fetch_sub(1, SeqCst);
        }
    }

    /// Fires what is due in `shard` into `wakers`, `grace` ms more for a shard another
    /// core owns. `now` is the clock in wheel ms, read on first use: a shard with nothing
    /// pending is skipped without reading the clock.
    fn fire_shard(&self, shard: usize, now: &mut Option<u64>, grace: u64, wakers: &mut Vec<Waker>) {
        let owner = &self.shards[shard];
        let next = owner.next.load(SeqCst);
        if next == u64::MAX {
            return;
        }
        let now = *now.get_or_insert_with(|| self.now_ms());
        if next.saturating_add(grace) > now {
            return;
        }
        let mut wheel = lock(&owner.wheel);
        wheel.advance(now, wakers);
        owner.publish(&wheel);
    }

    /// Fires what is due: core `index`'s own shard, then the other shards that are due
    /// (`all`, the keeper after its timed park) or overdue by the grace (anyone else).
    fn fire(&self, index: usize, all: bool) {
        // The fast path (module docs): nothing armed in any shard, nothing to fire.
        if self
            .shards
            .iter()
            .all(|shard| shard.next.load(SeqCst) == u64::MAX)
        {
            return;
        }
        let mut now = None;
        let own = self.own_shard(index);
        let mut wakers = Vec::new();
        self.fire_shard(own, &mut now, 0, &mut wakers);
        let grace = if all { 0 } else { FOREIGN_GRACE_MS };
        for shard in (0..self.shards.len()).filter(|&shard| shard != own) {
            self.fire_shard(shard, &mut now, grace, &mut wakers);
        }
        for waker in wakers {
            waker.wake();
        }
    }

    /// Fires what is due for core `index` without parking (a maintenance tick or a
    /// non-blocking poll): its own shard, and other shards overdue by the grace.
    pub(crate) fn process(&self, index: usize) {
        self.fire(index, false);
    }

    /// Fires every shard's due timers (the paused clock moved).
    pub(crate) fn process_all(&self) {
        let mut now = None;
        let mut wakers = Vec::new();
        for shard in 0..self.shards.len() {
            self.fire_shard(shard, &mut now, 0, &mut wakers);
        }
        for waker in wakers {
            waker.wake();
        }
    }

    /// Called by core `index` before it parks: claims the keeper role if it is free and
    /// returns how long to sleep (`None`: until unparked). Pair with [`after_park`].
    ///
    /// The claim comes first (module docs, "The keeper"): the core that finds the role
    /// free, the only one on a current-thread runtime, pays one compare-exchange and one
    /// fence, and with no timer armed reads no clock and publishes nothing.
    ///
    /// [`after_park`]: TimeHandle::after_park
    pub(crate) fn before_park(&self, index: usize) -> Option<Duration> {
        loop {
            if self
                .keeper
                .compare_exchange(NO_KEEPER, index + 1, SeqCst, SeqCst)
                .is_ok()
            {
                // An announcement left by an earlier turn of this loop goes.
                self.clear_sleeping(index);
                return self.keep();
            }
            // Another core keeps: announce, then look at the role again. A keeper that
            // releases it in between sees the announcement and hands the role on, or
            // this sees the role free and claims it (module docs, "No keeper").
            if !self.sleeping[index].swap(true, SeqCst) {
                self.sleepers.fetch_add(1, SeqCst);
            }
            // Pairs with the fence in `after_park` after the release.
            fence(SeqCst);
            if self.keeper.load(SeqCst) != NO_KEEPER {
                return None;
            }
        }
    }

    /// The keeper's timeout: until the earliest next expiration over every shard.
    /// `keeper_deadline` is "unknown" (`u64::MAX`) when the role is claimed (module docs),
    /// so a registrar that runs before it is published unparks the keeper.
    fn keep(&self) -> Option<Duration> {
        // Pairs with the registrar's fence in `wake_keeper_before`.
        fence(SeqCst);
        // No timer armed anywhere: sleep until unparked, the deadline stays unknown.
        let next = self.earliest()?;
        self.keeper_deadline.store(next, SeqCst);
        let now = self.now_ms();
        // One extra millisecond: the clock is read rounded down, deadlines rounded up.
        Some(Duration::from_millis(
            next.saturating_sub(now).saturating_add(1),
        ))
    }

    /// Called by core `index` after it parked: gives up the keeper role (handing it on
    /// to a sleeper while timers are pending) and fires what is due.
    pub(crate) fn after_park(&self, index: usize) {
        // Only the keeper gives its role up, so a load tells whether this core keeps.
        let was_keeper = self.keeper.load(SeqCst) == index + 1;
        if was_keeper {
            // "Unknown" again before the role is free (module docs: nobody keeps, the
            // deadline is unknown). Only the keeper writes it, so its own load is exact.
            if self.keeper_deadline.load(Relaxed) != u64::MAX {
                self.keeper_deadline.store(u64::MAX, SeqCst);
            }
            self.keeper.store(NO_KEEPER, SeqCst);
        } else {
            self.clear_sleeping(index);
        }
        // The role is given up; now read the shards and the sleepers (pairs with the
        // registrar's fence in `wake_keeper_before`: it sees no keeper, or this sees its
        // timer; and with a sleeper's fence in `before_park`: it sees the role free, or
        // this sees its announcement).
        fence(SeqCst);
        self.fire(index, was_keeper);
        if was_keeper && self.earliest().is_some() {
            self.wake_a_sleeper();
        }
    }

    /// Entries held by the wheels, fired or not (for metrics).
    pub(crate) fn entries(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| lock(&shard.wheel).len())
            .sum()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::test_support::{WakeCounter, counting_waker};

    /// A timer for `cores` cores whose wake-ups are counted (one counter per core).
    fn handle(cores: usize, shards: Option<usize>) -> (TimeHandle, Vec<Arc<WakeCounter>>) {
        let (counters, wakers): (Vec<_>, Vec<_>) = (0..cores).map(|_| counting_waker()).unzip();
        (TimeHandle::new(wakers.into(), shards), counters)
    }

    fn wake_ups(counter: &WakeCounter) -> usize {
        counter.0.load(SeqCst)
    }

    #[test]
    fn shard_count_is_clamped_and_registrations_go_to_the_core_s_shard() {
        assert_eq!(handle(4, None).0.shards.len(), 4);
        assert_eq!(handle(4, Some(1)).0.shards.len(), 1);
        assert_eq!(handle(4, Some(0)).0.shards.len(), 1);
        assert_eq!(handle(2, Some(8)).0.shards.len(), 2);
        let (time, _cores) = handle(3, None);
        let waker = Waker::noop();
        assert_eq!(time.register(10, waker, Some(2)).shard, 2);
        assert_eq!(time.register(10, waker, Some(1)).shard, 1);
        let round_robin: Vec<usize> = (0..3)
            .map(|_| time.register(10, waker, None).shard)
            .collect();
        assert_eq!(round_robin, [0, 1, 2]);
        assert_eq!(time.entries(), 5);
        assert_eq!(time.earliest(), Some(10));
    }

    #[test]
    fn a_timer_registered_while_nobody_keeps_wakes_a_sleeper() {
        let (time, cores) = handle(2, None);
        // Core 0 keeps (nothing pending: no timeout), core 1 sleeps without a timeout.
        assert_eq!(time.before_park(0), None);
        assert_eq!(time.before_park(1), None);
        assert_eq!(time.sleepers.load(SeqCst), 1);
        // Core 0 wakes: nothing pending, nobody to hand the role to.
        time.after_park(0);
        assert_eq!(time.keeper.load(SeqCst), NO_KEEPER);
        assert_eq!(time.sleepers.load(SeqCst), 1);
        // Core 0 registers and then runs a long task: core 1 is unparked to keep.
        let id = time.register(time.now_ms() + 1000, Waker::noop(), Some(0));
        assert_eq!(time.sleepers.load(SeqCst), 0);
        assert!(!time.sleeping[1].load(SeqCst));
        assert_eq!(wake_ups(&cores[1]), 1, "core 1 was unparked once");
        assert_eq!(wake_ups(&cores[0]), 0);
        time.after_park(1);
        // It parks again as the keeper, with a timeout, and sees core 0's timer.
        assert!(time.before_park(1).is_some());
        assert_eq!(time.keeper.load(SeqCst), 2);
        assert_eq!(time.keeper_deadline.load(SeqCst), time.earliest().unwrap());
        time.remove(id);
    }

    #[test]
    fn the_keeper_hands_its_role_on_while_timers_are_pending() {
        let (time, cores) = handle(2, None);
        let id = time.register(time.now_ms() + 1000, Waker::noop(), Some(0));
        assert!(
            time.before_park(0).is_some(),
            "the keeper parks with a timeout"
        );
        assert_eq!(time.before_park(1), None, "the other core sleeps");
        // The keeper wakes for something else; the timer is still pending.
        time.after_park(0);
        assert_eq!(time.sleepers.load(SeqCst), 0, "core 1 was unparked to keep");
        // Its unpark token is there: its park returns at once.
        assert_eq!(wake_ups(&cores[1]), 1, "core 1 was unparked once");
        assert_eq!(wake_ups(&cores[0]), 0, "the keeper itself is not unparked");
        time.after_park(1);
        time.remove(id);
        assert_eq!(time.entries(), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models of the keeper/sleeper protocol (module docs) and of a timer entry's
    //! registration, reset, poll and removal racing its firing. Cores are stood in for
    //! by counting wakers: a wake is an unpark token, which makes the core's next (or
    //! current) park return.

    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    use std::task::Wake;

    use super::*;
    use crate::loom::Arc;

    /// A core's unpark handle: counts the unparks it got.
    #[derive(Default)]
    struct Unparks(StdAtomicUsize);

    impl Wake for Unparks {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    impl Unparks {
        fn count(&self) -> usize {
            self.0.load(SeqCst)
        }
    }

    fn counter() -> (std::sync::Arc<Unparks>, Waker) {
        let unparks = std::sync::Arc::new(Unparks::default());
        (unparks.clone(), Waker::from(unparks))
    }

    /// A timer for `cores` cores, one shard each, and each core's unpark count.
    fn timer(cores: usize) -> (Arc<TimeHandle>, Vec<std::sync::Arc<Unparks>>) {
        let (counts, wakers): (Vec<_>, Vec<_>) = (0..cores).map(|_| counter()).unzip();
        (Arc::new(TimeHandle::new(wakers.into(), None)), counts)
    }

    /// Far enough ahead that nothing in a model ever fires it.
    const FAR: u64 = 1_000_000;

    /// A timer registered (from a thread without a core) while the only core parks as
    /// the keeper: the keeper either sees it (parks with a timeout) or is unparked.
    #[test]
    fn loom_timer_registered_while_the_keeper_parks_is_seen() {
        loom::model(|| {
            let (time, cores) = timer(1);
            let registrar = {
                let time = time.clone();
                loom::thread::spawn(move || time.register(FAR, Waker::noop(), None))
            };
            let timeout = time.before_park(0);
            let id = registrar.join().unwrap();
            assert!(
                timeout.is_some() || cores[0].count() == 1,
                "the keeper sleeps without a timeout past a pending timer, not unparked"
            );
            time.after_park(0);
            time.remove(id);
        });
    }

    /// The keeper wakes (for some other work) while timers are pending and another core
    /// goes to sleep: the sleeping core either takes the role itself (and parks with a
    /// timeout) or is unparked to take it, once.
    #[test]
    fn loom_keeper_leaving_hands_pending_timers_to_a_sleeper() {
        loom::model(|| {
            let (time, cores) = timer(2);
            let id = time.register(FAR, Waker::noop(), Some(0));
            assert!(time.before_park(0).is_some(), "core 0 keeps");
            let sleeper = {
                let time = time.clone();
                loom::thread::spawn(move || time.before_park(1))
            };
            // Core 0 woke and runs tasks for a long time.
            time.after_park(0);
            let timeout = sleeper.join().unwrap();
            let unparks = cores[1].count();
            assert!(unparks <= 1, "a sleeper is unparked once");
            assert!(
                timeout.is_some() || unparks == 1,
                "a timer is pending, core 0 is busy and core 1 sleeps without a timeout"
            );
            assert_eq!(cores[0].count(), 0, "the busy core is not unparked");
            time.after_park(1);
            assert_eq!(time.sleepers.load(SeqCst), 0);
            time.remove(id);
        });
    }

    /// The keeper gives the role up (nothing pending) just as another thread registers a
    /// timer, while core 1 sleeps: whichever order, core 1 is unparked (once) to keep.
    #[test]
    fn loom_timer_registered_as_the_keeper_leaves_wakes_the_sleeper() {
        loom::model(|| {
            let (time, cores) = timer(2);
            assert_eq!(time.before_park(0), None, "core 0 keeps, nothing pending");
            assert_eq!(time.before_park(1), None, "core 1 sleeps");
            let registrar = {
                let time = time.clone();
                loom::thread::spawn(move || time.register(FAR, Waker::noop(), None))
            };
            time.after_park(0);
            let id = registrar.join().unwrap();
            assert_eq!(
                cores[1].count(),
                1,
                "a timer is pending, core 0 is busy and core 1 was left asleep"
            );
            assert!(!time.sleeping[1].load(SeqCst));
            assert_eq!(time.sleepers.load(SeqCst), 0);
            time.remove(id);
        });
    }

    /// Two timers registered at once while nobody keeps and one core sleeps: the
    /// sleeper is unparked exactly once, and the sleeper count matches the flags.
    #[test]
    fn loom_two_registrars_unpark_the_sleeper_once() {
        loom::model(|| {
            let (time, cores) = timer(2);
            assert_eq!(time.before_park(0), None);
            assert_eq!(time.before_park(1), None);
            time.after_park(0);
            assert_eq!(time.keeper.load(SeqCst), NO_KEEPER);
            let registrar = {
                let time = time.clone();
                loom::thread::spawn(move || time.register(FAR, Waker::noop(), Some(0)))
            };
            let mine = time.register(FAR + 1, Waker::noop(), None);
            let theirs = registrar.join().unwrap();
            assert_eq!(cores[1].count(), 1, "unparked once, not twice, not never");
            assert_eq!(cores[0].count(), 0);
            assert_eq!(time.sleepers.load(SeqCst), 0);
            time.remove(mine);
            time.remove(theirs);
        });
    }

    /// The keeper role changes hands (core 0 wakes, core 1 parks) while a thread without
    /// a core registers a timer earlier than core 0's deadline: core 1 either keeps
    /// and sleeps no later than that timer, or it is unparked (by the registrar, or by
    /// core 0 handing the role on). Never a stale deadline from core 0's turn.
    #[test]
    fn loom_keeper_hand_over_racing_an_earlier_timer() {
        loom::model(|| {
            let (time, cores) = timer(2);
            let far = time.register(FAR, Waker::noop(), Some(0));
            assert!(time.before_park(0).is_some(), "core 0 keeps until FAR");
            let registrar = {
                let time = time.clone();
                loom::thread::spawn(move || time.register(FAR / 2, Waker::noop(), None))
            };
            let parker = {
                let time = time.clone();
                loom::thread::spawn(move || time.before_park(1))
            };
            time.after_park(0);
            let near = registrar.join().unwrap();
            let timeout = parker.join().unwrap();
            let in_time = timeout.is_some_and(|t| t <= Duration::from_millis(FAR / 2 + 1));
            assert!(
                in_time || cores[1].count() >= 1,
                "core 1 sleeps past a pending timer ({timeout:?}) and nobody unparks it"
            );
            time.after_park(1);
            assert_eq!(time.keeper.load(SeqCst), NO_KEEPER);
            assert_eq!(
                time.keeper_deadline.load(SeqCst),
                u64::MAX,
                "unknown: nobody keeps"
            );
            time.remove(near);
            time.remove(far);
        });
    }

    /// No timer armed: the only core parks and a thread without a core registers one.
    /// The core claims the role without reading a clock or publishing a deadline (the
    /// fast path); the registrar then sees the unknown deadline and unparks it, or the
    /// core saw the timer and sleeps with a timeout.
    #[test]
    fn loom_fast_path_park_racing_the_first_timer() {
        loom::model(|| {
            let (time, cores) = timer(1);
            // A first park with nothing armed: keeper, no timeout, deadline unknown.
            assert_eq!(time.before_park(0), None);
            assert_eq!(time.keeper_deadline.load(SeqCst), u64::MAX);
            time.after_park(0);
            let registrar = {
                let time = time.clone();
                loom::thread::spawn(move || time.register(FAR, Waker::noop(), None))
            };
            let timeout = time.before_park(0);
            let id = registrar.join().unwrap();
            assert!(
                timeout.is_some() || cores[0].count() == 1,
                "the core sleeps without a timeout past a pending timer, not unparked"
            );
            time.after_park(0);
            time.remove(id);
        });
    }

    /// A timer on core 0's shard, already due on a paused clock, and its waker's count.
    fn due_timer() -> (Arc<TimeHandle>, TimerId, std::sync::Arc<Unparks>) {
        let (time, _cores) = timer(1);
        time.clock().pause();
        let (wakes, waker) = counter();
        let id = time.register(time.now_ms() + 5, &waker, Some(0));
        time.clock().advance(Duration::from_millis(10));
        (time, id, wakes)
    }

    /// A core firing the shard while core 0's task runs: spawns it, returns its handle.
    fn firing(time: &Arc<TimeHandle>) -> loom::thread::JoinHandle<()> {
        let time = time.clone();
        loom::thread::spawn(move || time.process(0))
    }

    /// A task polls its timer (and so replaces its waker) while it fires: either the
    /// poll sees it fired, or the new waker is woken. Never both wakers, never none.
    #[test]
    fn loom_poll_racing_fire_never_loses_the_wake() {
        loom::model(|| {
            let (time, id, first) = due_timer();
            let fire = firing(&time);
            let (second, waker) = counter();
            let fired = time.poll_fired(id, &Context::from_waker(&waker));
            fire.join().unwrap();
            assert!(fired || second.count() == 1, "pending, and never woken");
            assert!(first.count() + second.count() <= 1, "one firing, one wake");
            assert!(time.poll_fired(id, &Context::from_waker(Waker::noop())));
            time.remove(id);
            assert_eq!(time.entries(), 0);
        });
    }

    /// A timer is moved later while it fires: it ends pending at its new deadline
    /// whatever the order, and the shard's published next expiration stays a lower
    /// bound of it (so the next firing pass does not skip it).
    #[test]
    fn loom_reset_racing_fire_leaves_it_pending() {
        loom::model(|| {
            let (time, id, _wakes) = due_timer();
            let fire = firing(&time);
            time.reset(id, FAR);
            fire.join().unwrap();
            assert!(!time.poll_fired(id, &Context::from_waker(Waker::noop())));
            let published = time.shards[0].next.load(SeqCst);
            assert!(published <= FAR, "published {published}, pending at {FAR}");
            time.remove(id);
            assert_eq!(time.entries(), 0);
        });
    }

    /// A sleep is dropped while its timer fires: the entry is freed either way, and its
    /// waker is woken at most once.
    #[test]
    fn loom_remove_racing_fire_frees_the_entry() {
        loom::model(|| {
            let (time, id, wakes) = due_timer();
            let fire = firing(&time);
            time.remove(id);
            fire.join().unwrap();
            assert_eq!(time.entries(), 0);
            assert!(wakes.count() <= 1);
        });
    }

    /// A due timer is registered on a shard while that shard fires: either this pass
    /// fires it, or it stays pending with the published next expiration at or before
    /// its deadline (so the next pass fires it).
    #[test]
    fn loom_register_racing_fire_is_fired_now_or_next() {
        loom::model(|| {
            let (time, first, _) = due_timer();
            let fire = firing(&time);
            let (wakes, waker) = counter();
            let deadline = time.now_ms() - 1;
            let id = time.register(deadline, &waker, Some(0));
            fire.join().unwrap();
            let published = time.shards[0].next.load(SeqCst);
            assert!(
                wakes.count() == 1 || published <= deadline,
                "not fired, and the shard claims nothing is due before {published}"
            );
            time.process(0);
            assert_eq!(wakes.count(), 1, "the next pass fires it");
            time.remove(id);
            time.remove(first);
        });
    }
}
