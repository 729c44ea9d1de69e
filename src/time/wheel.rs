//! A hierarchical hashed timing wheel with 1 ms resolution.
//!
//! Times are `u64` milliseconds since the wheel was created. The wheel has six levels of
//! 64 slots each; a slot of level `n` is `64^n` ms wide, so each level covers 64 times the
//! range of the level below it:
//!
//! | level | slot width              | range covered             |
//! |-------|-------------------------|---------------------------|
//! | 0     | 1 ms                    | 64 ms                     |
//! | 1     | 64 ms                   | 4.096 s                   |
//! | 2     | 4.096 s                 | ~4.4 min (262.144 s)      |
//! | 3     | ~4.4 min (262.144 s)    | ~4.7 h (16 777.216 s)     |
//! | 4     | ~4.7 h (16 777.216 s)   | ~12.4 days                |
//! | 5     | ~12.4 days (2^30 ms)    | ~2.2 years (2^36 ms)      |
//!
//! # Placement
//!
//! A pending timer whose deadline is after [`Wheel::elapsed`] lives on the lowest level
//! whose slots tell it apart from the current time: its level is the index of the highest
//! 6-bit group in which the deadline and the elapsed time differ, and its slot is the
//! deadline's 6-bit group at that level. So a level-0 slot holds timers of exactly one
//! millisecond, and a slot of level `n > 0` holds timers that all lie inside one `64^n` ms
//! window that starts after the current time. When the wheel reaches the start of such a
//! window, the slot is emptied and its timers are placed again, now on lower levels
//! ("cascading"), until they reach level 0 and fire.
//!
//! Deadlines more than the top level's range (2^36 ms) ahead are placed as if their
//! deadline were the last millisecond of that range, which puts them in the last slot
//! (in wheel order) of the top level; when that slot is reached they are placed again,
//! relative to the new time. All such far timers share one slot (the first one's, for as
//! long as it stays occupied). Any `u64` deadline works, up to `u64::MAX`. Level 5 is the
//! only level whose slots wrap around: one whose index is not after the current time's
//! index there stands for the next 2^36 ms window.
//!
//! When [`Wheel::advance`] processes a slot, it moves the elapsed time as far as it can
//! without passing `now`, the slot's earliest deadline or the start of the next occupied
//! slot, so a far timer is placed again once per jump rather than once per 2^36 ms.
//!
//! Timers whose deadline is not after the elapsed time when they are placed go to a
//! separate "due" list that the next [`Wheel::advance`] fires first.
//!
//! # Storage
//!
//! Timers live in a slab (a `Vec` plus a free list); a [`TimerKey`] is the slab index and
//! a generation that changes every time the entry is freed, so a stale key never reaches a
//! reused entry. Every slot is a `Vec` of slab indices, and each pending timer remembers
//! its slot and its position there, so removal is a `swap_remove` plus fixing the position
//! of the entry that moved: insert, remove and reset are O(1). Each level keeps a `u64`
//! bitmap of its non-empty slots, so finding the next slot to process is a couple of bit
//! operations per level, and [`Wheel::advance`] jumps from occupied slot to occupied slot
//! however far it goes.

use std::fmt;
use std::task::Waker;

/// Number of levels in the wheel.
const LEVELS: usize = 6;
/// Number of slots per level.
const SLOTS_PER_LEVEL: usize = 64;
/// Bits of a time that select the slot within one level.
const SLOT_BITS: u32 = 6;
/// Mask of the slot index within one level.
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
/// Milliseconds covered by the top level, and so by the whole wheel: 2^36.
const WHEEL_RANGE: u64 = 1 << (SLOT_BITS * LEVELS as u32);
/// Index (in [`Wheel::lists`]) of the list of timers already due when they were placed.
const DUE_LIST: usize = LEVELS * SLOTS_PER_LEVEL;

/// Identifies a timer in the wheel; stable until `remove`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimerKey {
    /// Index of the entry in the slab.
    index: u32,
    /// Generation of the entry when the key was handed out.
    generation: u32,
}

/// One timer held by the wheel.
#[derive(Debug)]
struct Timer {
    deadline: u64,
    waker: Waker,
    state: TimerState,
}

/// Where a timer is.
#[derive(Clone, Copy, Debug)]
enum TimerState {
    /// In `lists[list][position]`.
    Pending { list: usize, position: usize },
    /// Its deadline was reached; it is in no list.
    Fired,
}

/// One entry of the slab; `timer` is `None` while the entry is free.
#[derive(Debug)]
struct SlabEntry {
    generation: u32,
    timer: Option<Timer>,
}

/// A hierarchical hashed timing wheel; see the module documentation.
pub(crate) struct Wheel {
    /// The time the wheel has been advanced to.
    elapsed: u64,
    /// The slab of timers.
    entries: Vec<SlabEntry>,
    /// Free slab indices.
    free: Vec<u32>,
    /// `LEVELS * SLOTS_PER_LEVEL` slots (slot `s` of level `l` at `l * 64 + s`), then the
    /// due list; each holds slab indices.
    lists: Vec<Vec<usize>>,
    /// Per level, bit `s` is set when slot `s` is not empty.
    occupied: [u64; LEVELS],
    /// Number of pending timers.
    pending: usize,
    /// The top-level slot that timers beyond the wheel's range go to while it is occupied,
    /// so that they all share one slot (see `process_slot`).
    far_slot: Option<usize>,
    /// Number of slots `advance` has processed, for the efficiency tests.
    #[cfg(test)]
    slots_processed: u64,
}

impl fmt::Debug for Wheel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("pending", &self.pending)
            .field("len", &self.len())
            .field("occupied", &self.occupied)
            .finish()
    }
}

impl Wheel {
    /// Creates an empty wheel at time 0.
    pub(crate) fn new() -> Wheel {
        Wheel {
            elapsed: 0,
            entries: Vec::new(),
            free: Vec::new(),
            lists: (0..=DUE_LIST).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
            pending: 0,
            far_slot: None,
            #[cfg(test)]
            slots_processed: 0,
        }
    }

    /// The time the wheel has been advanced to.
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Registers a timer; a deadline <= elapsed() is allowed (it fires at the next
    /// `advance`, even advance(elapsed())).
    pub(crate) fn insert(&mut self, deadline: u64, waker: Waker) -> TimerKey {
        let timer = Timer {
            deadline,
            waker,
            state: TimerState::Fired,
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.entries[index as usize].timer = Some(timer);
                index
            }
            None => {
                let index = u32::try_from(self.entries.len())
                    .expect("a timer wheel holds at most u32::MAX timers");
                self.entries.push(SlabEntry {
                    generation: 0,
                    timer: Some(timer),
                });
                index
            }
        };
        self.pending += 1;
        self.link(index as usize);
        TimerKey {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// Replaces the waker of a pending timer (no-op for fired/removed ones).
    pub(crate) fn set_waker(&mut self, key: TimerKey, waker: &Waker) {
        if let Some(timer) = self.timer_mut(key) {
            if matches!(timer.state, TimerState::Pending { .. }) && !timer.waker.will_wake(waker) {
                timer.waker = waker.clone();
            }
        }
    }

    /// Moves a timer (pending or fired) to a new deadline; it becomes pending again. O(1).
    /// Stale keys are ignored.
    pub(crate) fn reset(&mut self, key: TimerKey, deadline: u64) {
        let Some(timer) = self.timer_mut(key) else {
            return;
        };
        let state = timer.state;
        timer.deadline = deadline;
        match state {
            TimerState::Pending { list, position } => self.unlink(list, position),
            TimerState::Fired => self.pending += 1,
        }
        self.link(key.index as usize);
    }

    /// Whether the timer has fired (its deadline was reached by `advance`). False for
    /// pending timers and for stale keys.
    pub(crate) fn is_fired(&self, key: TimerKey) -> bool {
        self.timer(key)
            .is_some_and(|timer| matches!(timer.state, TimerState::Fired))
    }

    /// Forgets a timer (pending or fired). O(1). Stale keys are ignored. Returns the
    /// deadline of a timer that was still pending.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<u64> {
        let entry = self.entries.get_mut(key.index as usize)?;
        if entry.generation != key.generation {
            return None;
        }
        let timer = entry.timer.take()?;
        entry.generation = entry.generation.wrapping_add(1);
        self.free.push(key.index);
        match timer.state {
            TimerState::Pending { list, position } => {
                self.unlink(list, position);
                self.pending -= 1;
                Some(timer.deadline)
            }
            TimerState::Fired => None,
        }
    }

    /// The earliest time at which `advance` may fire something: exactly the earliest
    /// pending deadline when it is in level 0, else a lower bound (the start of the
    /// earliest occupied slot, where cascading happens); `elapsed()` when a timer is
    /// already due. None when nothing is pending.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        if !self.lists[DUE_LIST].is_empty() {
            return Some(self.elapsed);
        }
        self.earliest_slot().map(|(_, start)| start)
    }

    /// Advances to `now` (never backwards: a smaller `now` is ignored, though timers
    /// already due still fire), firing every timer with deadline <= now in deadline order
    /// (entries of one 1 ms slot in any order), cascading higher-level slots down as their
    /// time comes, and pushing the fired timers' wakers into `wakers` (a fired timer keeps
    /// its slab entry, marked fired, until `remove`).
    pub(crate) fn advance(&mut self, now: u64, wakers: &mut Vec<Waker>) {
        let now = now.max(self.elapsed);
        self.fire_due(wakers);
        while let Some((list, start)) = self.earliest_slot() {
            if start > now {
                break;
            }
            self.process_slot(list, start, now, wakers);
        }
        self.elapsed = now;
    }

    /// Pushes a clone of every pending timer's waker into `wakers`, leaving the timers
    /// as they are (a runtime's shutdown wakes their futures so that they see it).
    pub(crate) fn pending_wakers(&self, wakers: &mut Vec<Waker>) {
        for entry in &self.entries {
            if let Some(timer) = &entry.timer
                && matches!(timer.state, TimerState::Pending { .. })
            {
                wakers.push(timer.waker.clone());
            }
        }
    }

    /// Pending (not fired, not removed) timers.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// Entries held (pending + fired-but-not-removed); 0 after everything was removed.
    pub(crate) fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    /// The live timer `key` names, if any.
    fn timer(&self, key: TimerKey) -> Option<&Timer> {
        self.entries
            .get(key.index as usize)
            .filter(|entry| entry.generation == key.generation)
            .and_then(|entry| entry.timer.as_ref())
    }

    /// The live timer `key` names, if any.
    fn timer_mut(&mut self, key: TimerKey) -> Option<&mut Timer> {
        self.entries
            .get_mut(key.index as usize)
            .filter(|entry| entry.generation == key.generation)
            .and_then(|entry| entry.timer.as_mut())
    }

    /// The timer at a slab index known to be live.
    fn timer_at(&mut self, index: usize) -> &mut Timer {
        self.entries[index]
            .timer
            .as_mut()
            .expect("wheel lists hold only live timers")
    }

    /// Puts the live timer at `index` into the list its deadline calls for, relative to
    /// the elapsed time, and marks it pending there.
    fn link(&mut self, index: usize) {
        let deadline = self.timer_at(index).deadline;
        let list = if deadline > self.elapsed.saturating_add(WHEEL_RANGE - 1) {
            // Beyond the wheel's range: any occupied top-level slot starts after the
            // elapsed time and before the deadline, so join the far slot if it still is.
            match self.far_slot {
                Some(list) if !self.lists[list].is_empty() => list,
                _ => {
                    let list = list_for(self.elapsed, deadline);
                    self.far_slot = Some(list);
                    list
                }
            }
        } else {
            list_for(self.elapsed, deadline)
        };
        let position = self.lists[list].len();
        self.lists[list].push(index);
        self.timer_at(index).state = TimerState::Pending { list, position };
        if list != DUE_LIST {
            self.occupied[list / SLOTS_PER_LEVEL] |= 1 << (list % SLOTS_PER_LEVEL);
        }
    }

    /// Takes the entry at `position` out of `list`, fixing the position of the entry that
    /// moved into its place.
    fn unlink(&mut self, list: usize, position: usize) {
        self.lists[list].swap_remove(position);
        if let Some(&moved) = self.lists[list].get(position) {
            self.timer_at(moved).state = TimerState::Pending { list, position };
        }
        if self.lists[list].is_empty() && list != DUE_LIST {
            self.occupied[list / SLOTS_PER_LEVEL] &= !(1 << (list % SLOTS_PER_LEVEL));
        }
    }

    /// Marks the pending timer at `index` fired and hands out its waker.
    fn fire(&mut self, index: usize, wakers: &mut Vec<Waker>) {
        let timer = self.timer_at(index);
        timer.state = TimerState::Fired;
        wakers.push(timer.waker.clone());
        self.pending -= 1;
    }

    /// Fires the timers that were already due when placed, in deadline order.
    fn fire_due(&mut self, wakers: &mut Vec<Waker>) {
        if self.lists[DUE_LIST].is_empty() {
            return;
        }
        let mut due = std::mem::take(&mut self.lists[DUE_LIST]);
        due.sort_unstable_by_key(|&index| {
            self.entries[index]
                .timer
                .as_ref()
                .map_or(u64::MAX, |timer| timer.deadline)
        });
        for &index in &due {
            self.fire(index, wakers);
        }
        due.clear();
        // Nothing was placed while firing, so the list is still empty: keep its capacity.
        self.lists[DUE_LIST] = due;
    }

    /// The earliest non-empty slot, as its list index and the time it starts at.
    fn earliest_slot(&self) -> Option<(usize, u64)> {
        let mut earliest: Option<(usize, u64)> = None;
        for level in 0..LEVELS {
            if let Some((slot, start)) = self.next_occupied_slot(level) {
                if earliest.is_none_or(|(_, earliest_start)| start < earliest_start) {
                    earliest = Some((level * SLOTS_PER_LEVEL + slot, start));
                }
            }
        }
        earliest
    }

    /// The first non-empty slot of `level` after the current time, with its start time.
    fn next_occupied_slot(&self, level: usize) -> Option<(usize, u64)> {
        let bitmap = self.occupied[level];
        if bitmap == 0 {
            return None;
        }
        let shift = SLOT_BITS * level as u32;
        let slot_width = 1u64 << shift;
        let level_range = slot_width << SLOT_BITS;
        let current_slot = ((self.elapsed >> shift) & SLOT_MASK) as u32;
        // The start of the level-wide window holding the current time.
        let window_start = self.elapsed & !(level_range - 1);
        let later_slots = bitmap & ((u64::MAX << current_slot) << 1);
        if later_slots != 0 {
            let slot = later_slots.trailing_zeros();
            // Below `window_start + level_range`, which is at most 2^64: no overflow.
            Some((slot as usize, window_start + u64::from(slot) * slot_width))
        } else {
            // Wrapped around: the slot stands for the next window (only on the top level).
            let slot = bitmap.trailing_zeros();
            let start = window_start
                .saturating_add(level_range)
                .saturating_add(u64::from(slot) * slot_width);
            Some((slot as usize, start))
        }
    }

    /// Processes the earliest non-empty slot, `list`, which starts at `start <= now`:
    /// moves the elapsed time as far as nothing else can be skipped, fires the slot's
    /// timers due by then and places the others again.
    fn process_slot(&mut self, list: usize, start: u64, now: u64, wakers: &mut Vec<Waker>) {
        #[cfg(test)]
        {
            self.slots_processed += 1;
        }
        let indices = std::mem::take(&mut self.lists[list]);
        self.occupied[list / SLOTS_PER_LEVEL] &= !(1 << (list % SLOTS_PER_LEVEL));
        // Every other slot starts after `start` and stays valid as long as the elapsed time
        // stays before its start, so go as far as `now`, the slot's earliest deadline, or
        // just before the next slot, whichever comes first. For a slot holding only timers
        // within the wheel's range, the earliest deadline is inside the slot and so before
        // any other slot. For the far slot, jumping past `start` is what keeps a far-future
        // timer from being placed again once per top-level window: as all such timers
        // share one slot, each time it is processed either `now` is reached, or a timer
        // fires, or the next slot processed holds timers within range, which fire or move
        // down a level.
        let earliest_deadline = indices
            .iter()
            .filter_map(|&index| self.entries[index].timer.as_ref())
            .map(|timer| timer.deadline)
            .min()
            .unwrap_or(u64::MAX);
        let mut target = now.min(earliest_deadline);
        if let Some((_, next_start)) = self.earliest_slot() {
            target = target.min(next_start.saturating_sub(1));
        }
        debug_assert!(target >= start && start > self.elapsed);
        self.elapsed = target.max(start);
        for &index in &indices {
            if self.timer_at(index).deadline <= self.elapsed {
                self.fire(index, wakers);
            } else {
                self.link(index);
            }
        }
        if self.lists[list].is_empty() {
            // Keep the capacity for the next time this slot fills.
            let mut indices = indices;
            indices.clear();
            self.lists[list] = indices;
        }
    }
}

/// The list a timer with `deadline` belongs in when the wheel is at `elapsed`.
fn list_for(elapsed: u64, deadline: u64) -> usize {
    if deadline <= elapsed {
        return DUE_LIST;
    }
    // Deadlines past the top level's range are placed at its last millisecond.
    let placement = deadline.min(elapsed.saturating_add(WHEEL_RANGE - 1));
    // The highest differing bit picks the level; `| SLOT_MASK` makes level 0 the minimum.
    let differing = (elapsed ^ placement) | SLOT_MASK;
    let highest_bit = u64::BITS - 1 - differing.leading_zeros();
    let level = ((highest_bit / SLOT_BITS) as usize).min(LEVELS - 1);
    let slot = ((placement >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize;
    level * SLOTS_PER_LEVEL + slot
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::Wake;

    /// A waker that counts its wakes and logs its id, in wake order, to a shared log.
    struct CountingWaker {
        id: usize,
        wakes: AtomicUsize,
        log: Arc<Mutex<Vec<usize>>>,
    }

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.wakes.fetch_add(1, Ordering::Relaxed);
            self.log.lock().unwrap().push(self.id);
        }
    }

    /// Hands out counting wakers sharing one log, and advances wheels waking what fired.
    #[derive(Default)]
    struct Recorder {
        log: Arc<Mutex<Vec<usize>>>,
        wakers: Vec<Arc<CountingWaker>>,
    }

    impl Recorder {
        /// A waker with id `self.wakers.len()`.
        fn waker(&mut self) -> Waker {
            let waker = Arc::new(CountingWaker {
                id: self.wakers.len(),
                wakes: AtomicUsize::new(0),
                log: Arc::clone(&self.log),
            });
            self.wakers.push(Arc::clone(&waker));
            Waker::from(waker)
        }

        /// Inserts a timer with a fresh waker; returns its key and waker id.
        fn insert(&mut self, wheel: &mut Wheel, deadline: u64) -> (TimerKey, usize) {
            let id = self.wakers.len();
            let key = wheel.insert(deadline, self.waker());
            (key, id)
        }

        /// Advances `wheel` to `now`, wakes the fired timers' wakers in the order they were
        /// handed out, and returns their ids in that order.
        fn advance(&self, wheel: &mut Wheel, now: u64) -> Vec<usize> {
            let mut wakers = Vec::new();
            wheel.advance(now, &mut wakers);
            for waker in wakers {
                waker.wake();
            }
            std::mem::take(&mut *self.log.lock().unwrap())
        }

        fn wakes(&self, id: usize) -> usize {
            self.wakers[id].wakes.load(Ordering::Relaxed)
        }
    }

    /// splitmix64: a small deterministic generator for the randomized tests.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut value = self.0;
            value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            value ^ (value >> 31)
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }
    }

    #[test]
    fn fires_never_early_and_in_deadline_order() {
        let mut random = Random(1);
        let mut wheel = Wheel::new();
        let mut recorder = Recorder::default();
        let mut deadlines = Vec::new();
        let mut keys = Vec::new();
        for _ in 0..10_000 {
            let deadline = random.below(10_000_000);
            let (key, id) = recorder.insert(&mut wheel, deadline);
            assert_eq!(id, deadlines.len());
            deadlines.push(deadline);
            keys.push(key);
        }
        // `None` until the first advance, so that deadline 0 counts as due.
        let mut previous_now: Option<u64> = None;
        let mut previous_deadline = 0;
        let mut fired_total = 0;
        let mut now = 0;
        // Deadline 0 is due at once: the first advance is to 0 itself.
        while fired_total < deadlines.len() {
            let fired = recorder.advance(&mut wheel, now);
            assert_eq!(wheel.elapsed(), now);
            for &id in &fired {
                let deadline = deadlines[id];
                assert!(
                    deadline <= now,
                    "timer {id} at {deadline} fired early at {now}"
                );
                assert!(
                    previous_now.is_none_or(|previous| deadline > previous),
                    "timer {id} at {deadline} fired late at {now}, after {previous_now:?}"
                );
                assert!(deadline >= previous_deadline, "fired out of deadline order");
                previous_deadline = deadline;
                assert!(wheel.is_fired(keys[id]));
            }
            let expected = deadlines
                .iter()
                .filter(|&&deadline| {
                    deadline <= now && previous_now.is_none_or(|previous| deadline > previous)
                })
                .count();
            assert_eq!(fired.len(), expected, "advance to {now} missed timers");
            fired_total += fired.len();
            assert_eq!(wheel.pending(), deadlines.len() - fired_total);
            previous_now = Some(now);
            now += match random.below(10) {
                0 => random.below(200_000),
                1 => 0,
                _ => random.below(5_000),
            };
        }
        for id in 0..deadlines.len() {
            assert_eq!(
                recorder.wakes(id),
                1,
                "timer {id} woke more or less than once"
            );
        }
        assert_eq!(wheel.next_expiration(), None);
        assert_eq!(wheel.len(), deadlines.len());
    }

    #[test]
    fn next_expiration_is_exact_in_level_0_and_a_lower_bound_otherwise() {
        let mut random = Random(2);
        for round in 0..300 {
            let mut wheel = Wheel::new();
            let mut recorder = Recorder::default();
            let start = random.below(1 << 40);
            recorder.advance(&mut wheel, start);
            let mut timers = Vec::new();
            for _ in 0..1 + random.below(20) {
                // Spread over every level but stay within the wheel's range.
                let level = random.below(LEVELS as u64) as u32;
                let offset = random.below(1 << (SLOT_BITS * (level + 1)));
                let deadline = start + 1 + offset;
                timers.push((deadline, recorder.insert(&mut wheel, deadline).0));
            }
            let (earliest, earliest_key) =
                *timers.iter().min_by_key(|(deadline, _)| *deadline).unwrap();
            let mut steps = 0;
            while !wheel.is_fired(earliest_key) {
                let elapsed = wheel.elapsed();
                let next = wheel.next_expiration().unwrap();
                assert!(
                    next > elapsed && next <= earliest,
                    "round {round}: {next} vs {earliest}"
                );
                if earliest >> SLOT_BITS == elapsed >> SLOT_BITS {
                    assert_eq!(next, earliest, "round {round}: level 0 must be exact");
                }
                // Just before the bound, nothing fires.
                assert!(recorder.advance(&mut wheel, next - 1).is_empty());
                recorder.advance(&mut wheel, next);
                steps += 1;
                assert!(steps <= LEVELS, "round {round}: took {steps} steps to fire");
            }
            for (deadline, key) in timers {
                assert_eq!(wheel.is_fired(key), deadline == earliest);
            }
        }
    }

    #[test]
    fn next_expiration_of_empty_and_due_wheels() {
        let mut wheel = Wheel::new();
        let mut recorder = Recorder::default();
        assert_eq!(wheel.next_expiration(), None);
        recorder.advance(&mut wheel, 1_000);
        let (key, _) = recorder.insert(&mut wheel, 10);
        assert_eq!(wheel.next_expiration(), Some(1_000));
        wheel.remove(key);
        assert_eq!(wheel.next_expiration(), None);
        let (key, _) = recorder.insert(&mut wheel, 1_010);
        assert_eq!(wheel.next_expiration(), Some(1_010));
        recorder.advance(&mut wheel, 1_010);
        assert!(wheel.is_fired(key));
        assert_eq!(wheel.next_expiration(), None);
    }

    /// Deadlines on both sides of every level boundary, plus some beyond the top range.
    fn boundary_deadlines() -> Vec<u64> {
        let mut deadlines = vec![1, 2];
        for level in 1..=LEVELS as u32 + 1 {
            let boundary = 1u64 << (SLOT_BITS * level);
            deadlines.extend([boundary - 1, boundary, boundary + 1]);
        }
        deadlines.extend([
            WHEEL_RANGE * 5 + 12_345,
            u64::MAX / 2,
            u64::MAX / 2 + 1,
            u64::MAX - WHEEL_RANGE,
            u64::MAX - 1,
            u64::MAX,
        ]);
        deadlines.sort_unstable();
        deadlines.dedup();
        deadlines
    }

    #[test]
    fn cascades_across_every_level_and_beyond_the_top() {
        let deadlines = boundary_deadlines();
        let mut wheel = Wheel::new();
        let mut recorder = Recorder::default();
        let keys: Vec<_> = deadlines
            .iter()
            .map(|&deadline| recorder.insert(&mut wheel, deadline))
            .collect();
        for (position, &deadline) in deadlines.iter().enumerate() {
            assert!(
                recorder.advance(&mut wheel, deadline - 1).is_empty(),
                "something fired before {deadline}"
            );
            assert_eq!(
                recorder.advance(&mut wheel, deadline),
                vec![keys[position].1]
            );
            assert_eq!(wheel.pending(), deadlines.len() - position - 1);
        }
        assert!(
            wheel.slots_processed < 1_000,
            "{} slots",
            wheel.slots_processed
        );
    }

    #[test]
    fn far_future_timers_fire_from_any_start() {
        // The same deadlines, inserted when the wheel is already far along (including at
        // the very end of a top-level window and close to u64::MAX).
        for start in [
            WHEEL_RANGE - 1,
            WHEEL_RANGE * 7 - 1,
            WHEEL_RANGE * 7 + (1 << 30) * 63,
            u64::MAX / 3,
            u64::MAX - WHEEL_RANGE - 3,
        ] {
            let mut wheel = Wheel::new();
            let mut recorder = Recorder::default();
            recorder.advance(&mut wheel, start);
            let mut deadlines: Vec<u64> = boundary_deadlines()
                .into_iter()
                .map(|offset| start.saturating_add(offset))
                .collect();
            deadlines.dedup();
            let keys: Vec<_> = deadlines
                .iter()
                .map(|&deadline| recorder.insert(&mut wheel, deadline))
                .collect();
            for (position, &deadline) in deadlines.iter().enumerate() {
                assert!(recorder.advance(&mut wheel, deadline - 1).is_empty());
                assert_eq!(
                    recorder.advance(&mut wheel, deadline),
                    vec![keys[position].1],
                    "start {start}, deadline {deadline}"
                );
            }
        }
    }

    #[test]
    fn advance_jumps_far_ahead_without_visiting_every_slot() {
        let mut wheel = Wheel::new();
        let mut recorder = Recorder::default();
        let (_, first) = recorder.insert(&mut wheel, 5);
        let (_, second) = recorder.insert(&mut wheel, u64::MAX / 4);
        let (third_key, _) = recorder.insert(&mut wheel, u64::MAX);
        assert_eq!(
            recorder.advance(&mut wheel, u64::MAX / 2),
            vec![first, second]
        );
        assert_eq!(wheel.elapsed(), u64::MAX / 2);
        assert!(!wheel.is_fired(third_key));
        assert!(
            wheel.slots_processed < 50,
            "{} slots",
            wheel.slots_processed
        );
        let third = recorder.advance(&mut wheel, u64::MAX);
        assert_eq!(third.len(), 1);
        assert!(wheel.is_fired(third_key));
        assert!(
            wheel.slots_processed < 100,
            "{} slots",
            wheel.slots_processed
        );
        // Nothing to go past at the very end.
        assert!(recorder.advance(&mut wheel, u64::MAX).is_empty());
        let (key, _) = recorder.insert(&mut wheel, u64::MAX);
        assert_eq!(recorder.advance(&mut wheel, u64::MAX).len(), 1);
        assert!(wheel.is_fired(key));
    }

    #[test]
    fn far_timers_inserted_at_different_times_do_not_slow_advance_down() {
        // Far timers placed from different elapsed times share one slot; were they in
        // two, each would bound the other's jump and advance would crawl 2^36 ms a step.
        let mut wheel = Wheel::new();
        let mut recorder = Recorder::default();
        let mut keys = Vec::new();
        for step in 0..10u64 {
            keys.push(recorder.insert(&mut wheel, u64::MAX - step).0);
            let now = wheel.elapsed() + (1 << 33) + step * 12_345;
            recorder.advance(&mut wheel, now);
        }
        let (_, near) = recorder.insert(&mut wheel, u64::MAX / 3);
        assert_eq!(recorder.advance(&mut wheel, u64::MAX - 10), vec![near]);
        assert!(
            wheel.slots_processed < 100,
            "{} slots",
            wheel.slots_processed
        );
        assert_eq!(recorder.advance(&mut wheel, u64::MAX).len(), 10);
        assert!(keys.iter().all(|&key| wheel.is_fired(key)));
    }

    #[test]
    fn remove_pending_and_fired_timers() {
        let mut wheel = Wheel::new();
        let mut recorder = Recorder::default();
        let (pending, _) = recorder.insert(&mut wheel, 100);
        let (fired, _) = recorder.insert(&mut wheel, 10);
        let (other, other_id) = recorder.insert(&mut wheel, 100);
        recorder.advance(&mut wheel, 50);
        assert!(wheel.is_fired(fired));
        assert_eq!((wheel.len(), wheel.pending()), (3, 2));
        wheel.remove(fired);
        assert_eq!((wheel.len(), wheel.pending()), (2, 2));
        wheel.remove(pending);
        assert_eq!((wheel.len(), wheel.pending()), (1, 1));
        // Removing twice is ignored.
        wheel.remove(pending);
        wheel.remove(fired);
        assert_eq!((wheel.len(), wheel.pending()), (1, 1));
        assert_eq!(recorder.advance(&mut wheel, 100), vec![other_id]);
        wheel.remove(other);
        assert_eq!((wheel.len(), wheel.pending()), (0, 0));
        assert_eq!(wheel.next_expiration(), None);
    }

    #[test]
    fn a_million_inserts_and_removes_leave_nothing() {
        let mut random = Random(3);
        let mut wheel = Wheel::new();
        let waker = Waker::noop().clone();
        let mut keys = Vec::new();
        for round in 0..1_000_000u64 {
            keys.push(wheel.insert(random.next() >> random.below(64), waker.clone()));
            if round % 3 == 0 {
                let mut wakers = Vec::new();
                wheel.advance(wheel.elapsed() + random.below(1_000), &mut wakers);
            }
            if keys.len() > 100 || round % 2 == 0 {
                let victim = random.below(keys.len() as u64) as usize;
                wheel.remove(keys.swap_remove(victim));
            }
        }
        for key in keys.drain(..) {
            wheel.remove(key);
        }
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.pending(), 0);
        assert_eq!(wheel.occupied, [0; LEVELS]);
        assert!(wheel.lists.iter().all(Vec::is_empty));
        assert_eq!(wheel.next_expiration(), None);
    }

    #[test]
    fn stale_keys_are_ignored_after_reuse() {
        let mut wheel = Wheel::new();
        let mut recorder = Recorder::default();
        let (stale, _) = recorder.insert(&mut wheel, 100);
        wheel.remove(stale);
        let (fresh, fresh_id) = recorder.insert(&mut wheel, 200);
        assert_ne!(stale, fresh);
        assert_eq!(stale.index, fresh.index, "the slab entry is reused");
        let replacement = recorder.waker();
        wheel.set_waker(stale, &replacement);
        wheel.reset(stale, 5);
        wheel.remove(stale);
        assert!(!wheel.is_fired(stale));
        assert_eq!((wheel.len(), wheel.pending()), (1, 1));
        assert!(recorder.advance(&mut wheel, 150).is_empty());
        assert_eq!(recorder.advance(&mut wheel, 200), vec![fresh_id]);
        assert!(!wheel.is_fired(stale));
        assert!(wheel.is_fired(fresh));
    }

    #[test]
    fn reset_earlier_later_and_after_firing() {
        let mut wheel = Wheel::new();
        let mut recorder = Recorder::default();
        let (earlier, earlier_id) = recorder.insert(&mut wheel, 10_000);
        let (later, later_id) = recorder.insert(&mut wheel, 20);
        let (_, fixed_id) = recorder.insert(&mut wheel, 5_000);
        wheel.reset(earlier, 30);
        wheel.reset(later, 1_000_000);
        assert_eq!(wheel.pending(), 3);
        assert!(recorder.advance(&mut wheel, 29).is_empty());
        assert_eq!(recorder.advance(&mut wheel, 30), vec![earlier_id]);
        assert_eq!(recorder.advance(&mut wheel, 10_000), vec![fixed_id]);
        assert!(recorder.advance(&mut wheel, 999_999).is_empty());
        assert_eq!(recorder.advance(&mut wheel, 1_000_000), vec![later_id]);
        assert_eq!(wheel.pending(), 0);

        // A fired timer re-arms, keeping its waker, in the future or already due.
        wheel.reset(earlier, 1_000_100);
        assert!(!wheel.is_fired(earlier));
        assert_eq!(wheel.pending(), 1);
        assert!(recorder.advance(&mut wheel, 1_000_099).is_empty());
        assert_eq!(recorder.advance(&mut wheel, 1_000_100), vec![earlier_id]);
        wheel.reset(earlier, 0);
        assert_eq!(recorder.advance(&mut wheel, 1_000_100), vec![earlier_id]);
        assert_eq!(recorder.wakes(earlier_id), 3);

        // Resetting a pending timer several times in a row leaves one entry.
        let (key, id) = recorder.insert(&mut wheel, 2_000_000);
        for deadline in [1_000_200, u64::MAX, 5, 1_500_000] {
            wheel.reset(key, deadline);
        }
        assert_eq!(wheel.pending(), 1);
        assert_eq!(recorder.advance(&mut wheel, 1_500_000), vec![id]);
    }

    #[test]
    fn set_waker_replaces_the_waker_of_pending_timers_only() {
        let mut wheel = Wheel::new();
        let mut recorder = Recorder::default();
        let (key, original) = recorder.insert(&mut wheel, 10);
        let replacement_id = recorder.wakers.len();
        let replacement = recorder.waker();
        wheel.set_waker(key, &replacement);
        assert_eq!(recorder.advance(&mut wheel, 10), vec![replacement_id]);
        assert_eq!(recorder.wakes(original), 0);
        // Fired: set_waker is a no-op, a reset re-arms with the waker it had.
        let ignored = recorder.waker();
        wheel.set_waker(key, &ignored);
        wheel.reset(key, 20);
        assert_eq!(recorder.advance(&mut wheel, 20), vec![replacement_id]);
    }

    #[test]
    fn past_deadlines_fire_at_the_next_advance_and_backwards_is_ignored() {
        let mut wheel = Wheel::new();
        let mut recorder = Recorder::default();
        let (at_zero, at_zero_id) = recorder.insert(&mut wheel, 0);
        assert_eq!(wheel.next_expiration(), Some(0));
        assert_eq!(recorder.advance(&mut wheel, 0), vec![at_zero_id]);
        assert!(wheel.is_fired(at_zero));

        recorder.advance(&mut wheel, 1_000);
        let (_, future) = recorder.insert(&mut wheel, 1_500);
        let (_, older) = recorder.insert(&mut wheel, 10);
        let (_, old) = recorder.insert(&mut wheel, 900);
        let (_, now) = recorder.insert(&mut wheel, 1_000);
        let (_, oldest) = recorder.insert(&mut wheel, 3);
        // Backwards: time stays, but the already-due timers fire, in deadline order.
        assert_eq!(
            recorder.advance(&mut wheel, 500),
            vec![oldest, older, old, now]
        );
        assert_eq!(wheel.elapsed(), 1_000);
        assert!(recorder.advance(&mut wheel, 0).is_empty());
        assert_eq!(wheel.elapsed(), 1_000);
        assert_eq!(recorder.advance(&mut wheel, 1_500), vec![future]);
    }

    /// Random operations checked against a simple model.
    #[test]
    fn matches_a_model_under_random_operations() {
        let mut random = Random(4);
        for _round in 0..20 {
            let mut wheel = Wheel::new();
            let mut recorder = Recorder::default();
            // Per live key: (deadline, waker id, fired).
            let mut model: HashMap<TimerKey, (u64, usize, bool)> = HashMap::new();
            let mut live: Vec<TimerKey> = Vec::new();
            let mut removed: Vec<TimerKey> = Vec::new();
            for _ in 0..5_000 {
                let elapsed = wheel.elapsed();
                // Mostly near deadlines; rarely ones that take the wheel towards u64::MAX.
                let deadline = match random.below(40) {
                    0..=5 => elapsed.saturating_sub(random.below(100)),
                    6..=17 => elapsed.saturating_add(random.below(64)),
                    18..=29 => elapsed.saturating_add(random.below(1 << 20)),
                    30..=37 => elapsed.saturating_add(random.below(1 << 40)),
                    38 => u64::MAX - random.below(1 << 37),
                    _ => elapsed.saturating_add(random.next() >> random.below(64)),
                };
                match random.below(10) {
                    0..=3 if live.len() < 300 => {
                        let (key, id) = recorder.insert(&mut wheel, deadline);
                        model.insert(key, (deadline, id, false));
                        live.push(key);
                    }
                    4 | 5 if !live.is_empty() => {
                        let key = live[random.below(live.len() as u64) as usize];
                        wheel.reset(key, deadline);
                        let entry = model.get_mut(&key).unwrap();
                        entry.0 = deadline;
                        entry.2 = false;
                    }
                    6 if !live.is_empty() => {
                        let key = live.swap_remove(random.below(live.len() as u64) as usize);
                        wheel.remove(key);
                        model.remove(&key);
                        removed.push(key);
                    }
                    7 if !removed.is_empty() => {
                        let key = removed[random.below(removed.len() as u64) as usize];
                        wheel.reset(key, deadline);
                        wheel.remove(key);
                        assert!(!wheel.is_fired(key));
                    }
                    _ => {
                        let now = match random.below(4) {
                            0 => wheel.next_expiration().unwrap_or(elapsed),
                            1 => elapsed.saturating_sub(random.below(10)),
                            _ => deadline,
                        };
                        let expected: BTreeMap<usize, u64> = model
                            .values()
                            .filter(|(deadline, _, fired)| !fired && *deadline <= now.max(elapsed))
                            .map(|&(deadline, id, _)| (id, deadline))
                            .collect();
                        let (slots_before, pending_before) =
                            (wheel.slots_processed, wheel.pending());
                        let fired = recorder.advance(&mut wheel, now);
                        // Each slot processed fires a timer, moves one down a level, or is
                        // the far slot (followed by one of the others or the end).
                        let slots = wheel.slots_processed - slots_before;
                        assert!(slots <= 12 * pending_before as u64 + 2, "{slots} slots");
                        let mut fired_deadlines = Vec::new();
                        for id in &fired {
                            fired_deadlines.push(expected[id]);
                        }
                        assert!(fired_deadlines.is_sorted(), "fired out of order");
                        let fired_set: BTreeMap<usize, u64> =
                            fired.iter().map(|id| (*id, expected[id])).collect();
                        assert_eq!(fired_set.len(), fired.len(), "a timer fired twice");
                        assert_eq!(fired_set, expected);
                        for entry in model.values_mut() {
                            if fired_set.contains_key(&entry.1) {
                                entry.2 = true;
                            }
                        }
                    }
                }
                let pending = model.values().filter(|(_, _, fired)| !fired).count();
                assert_eq!(wheel.pending(), pending);
                assert_eq!(wheel.len(), model.len());
                let earliest = model
                    .values()
                    .filter(|(_, _, fired)| !fired)
                    .map(|(deadline, _, _)| *deadline)
                    .min();
                match (wheel.next_expiration(), earliest) {
                    (None, None) => {}
                    (Some(next), Some(earliest)) => {
                        assert!(next <= earliest.max(wheel.elapsed()));
                        assert!(next >= wheel.elapsed());
                    }
                    other => panic!("next_expiration {other:?}"),
                }
            }
        }
    }
}
