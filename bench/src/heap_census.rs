//! The live heap of a process by allocation size, for the `idle` workload's account of
//! where an idle connection's bytes go: this binary's global allocator is the system
//! one with a count per size class on top, switched on by [`start`] (only the idle
//! servers call it; every other process pays one relaxed load per allocation).
//!
//! A class is the usable size glibc's `malloc_usable_size` reports for the block,
//! rounded up to 16 bytes, up to [`LARGEST`]; larger blocks are counted together, with
//! their bytes. glibc's blocks are multiples of 16 bytes with an 8-byte header, so the
//! usable size is 8 less than a multiple of 16, and its class is the block's whole
//! size, header included: what the allocation really takes from the heap. The counts are
//! signed: a block allocated before [`start`] and freed after counts −1, so only the
//! difference between two [`snapshot`]s means anything, and that difference is exact.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};

/// Blocks above this many usable bytes go to one class.
pub const LARGEST: usize = 8192;
const STEP: usize = 16;
const CLASSES: usize = LARGEST / STEP + 1;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: [AtomicI64; CLASSES + 1] = [const { AtomicI64::new(0) }; CLASSES + 1];
/// Usable bytes of the blocks above [`LARGEST`].
static LARGE_BYTES: AtomicI64 = AtomicI64::new(0);

/// The system allocator, counting while [`start`]ed.
pub struct Census;

#[global_allocator]
static GLOBAL: Census = Census;

fn record(ptr: *mut u8, sign: i64) {
    if ptr.is_null() || !COUNTING.load(Relaxed) {
        return;
    }
    // SAFETY: `ptr` is a live block of the system allocator (malloc's, on Linux: Rust's
    // `System` uses malloc or posix_memalign there), which `malloc_usable_size` accepts.
    let usable = unsafe { libc::malloc_usable_size(ptr.cast()) };
    let class = usable.div_ceil(STEP).min(CLASSES);
    LIVE[class].fetch_add(sign, Relaxed);
    if class == CLASSES {
        LARGE_BYTES.fetch_add(sign * usable as i64, Relaxed);
    }
}

// SAFETY: every call goes to `System` with the caller's arguments; the counting only
// reads the returned block's usable size.
unsafe impl GlobalAlloc for Census {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc(layout) };
        record(ptr, 1);
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        record(ptr, 1);
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record(ptr, -1);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(ptr, -1);
        // SAFETY: the caller's contract, passed on.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        // A failed realloc leaves the old block live.
        record(if moved.is_null() { ptr } else { moved }, 1);
        moved
    }
}

/// Starts counting (for the rest of the process).
pub fn start() {
    COUNTING.store(true, Relaxed);
}

/// The live heap now: `(usable size, blocks)` per non-empty class (the last class's
/// size is its blocks' average), as one line of `size:count` words.
pub fn snapshot() -> String {
    let mut words = Vec::new();
    for (class, live) in LIVE.iter().enumerate() {
        let count = live.load(Relaxed);
        if count == 0 {
            continue;
        }
        let size = if class == CLASSES {
            LARGE_BYTES.load(Relaxed) / count
        } else {
            (class * STEP) as i64
        };
        words.push(format!("{size}:{count}"));
    }
    words.join(" ")
}

/// Parses a [`snapshot`] line into `(size, count)` pairs.
pub fn parse(line: &str) -> Result<Vec<(i64, i64)>, String> {
    line.split_whitespace()
        .map(|word| {
            word.split_once(':')
                .and_then(|(size, count)| Some((size.parse().ok()?, count.parse().ok()?)))
                .ok_or_else(|| format!("bad heap census word {word:?}"))
        })
        .collect()
}

/// What `after` holds more than `before`, per size, per connection: `(size, blocks per
/// connection)` for the classes that grew or shrank by at least a twentieth of a block
/// per connection, largest bytes first, and the total usable bytes per connection.
pub fn per_connection(
    before: &[(i64, i64)],
    after: &[(i64, i64)],
    connections: usize,
) -> (Vec<(i64, f64)>, f64) {
    let mut sizes: Vec<i64> = before.iter().chain(after).map(|&(size, _)| size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let count = |list: &[(i64, i64)], size: i64| {
        list.iter()
            .filter(|&&(at, _)| at == size)
            .map(|&(_, count)| count)
            .sum::<i64>()
    };
    let mut rows: Vec<(i64, f64)> = sizes
        .into_iter()
        .map(|size| {
            let delta = count(after, size) - count(before, size);
            (size, delta as f64 / connections as f64)
        })
        .collect();
    let total = rows.iter().map(|&(size, per)| size as f64 * per).sum();
    rows.retain(|&(_, per)| per.abs() >= 0.05);
    rows.sort_by(|a, b| (b.0 as f64 * b.1).total_cmp(&(a.0 as f64 * a.1)));
    (rows, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_parse_and_subtract_per_connection() {
        let before = parse("32:10 448:1").unwrap();
        let after = parse("32:30 448:21 8448:2").unwrap();
        let (rows, total) = per_connection(&before, &after, 20);
        assert_eq!(
            rows,
            vec![(8448, 0.1), (448, 1.0), (32, 1.0)],
            "by bytes, largest first"
        );
        assert!((total - (448.0 + 844.8 + 32.0)).abs() < 1e-9);
        assert!(parse("32:x").is_err());
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn counting_sees_a_live_block() {
        start();
        let before = parse(&snapshot()).unwrap();
        // An odd size no other test allocates (they run on other threads meanwhile).
        let block = std::hint::black_box(vec![0u8; 7000]);
        let after = parse(&snapshot()).unwrap();
        let (rows, _) = per_connection(&before, &after, 1);
        assert!(
            rows.iter()
                .any(|&(size, per)| (7000..=7024).contains(&size) && per >= 1.0),
            "{rows:?}"
        );
        drop(block);
    }
}
