//! The bytes the soak sends and checks: a reproducible pseudo-random stream per message
//! (from a 64-bit seed, so the checker regenerates what was sent instead of keeping a
//! copy), a position-sensitive checksum over a byte stream, and the small random number
//! generator that picks sizes, pauses and endings.
//!
//! The generator is splitmix64 (public domain constants); nothing here needs a
//! cryptographic or statistically strong generator, only a fast reproducible one, so the
//! soak carries no `rand` dependency.

/// splitmix64: a 64-bit state, one multiply-xorshift output per step.
#[derive(Clone, Debug)]
pub struct Random {
    state: u64,
}

impl Random {
    pub fn new(seed: u64) -> Random {
        Random { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut value = self.state;
        value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        value ^ (value >> 31)
    }

    /// Uniform in `low..=high` (the modulo bias is irrelevant at these ranges).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        debug_assert!(low <= high);
        low + self.next_u64() % (high - low + 1)
    }

    /// `true` with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// Log-uniform in `low..=high`: every power of two between them is as likely, so
    /// small messages are common and 64 KiB ones still come up often.
    pub fn log_uniform(&mut self, low: u64, high: u64) -> u64 {
        let low_bits = 64 - low.max(1).leading_zeros() as u64;
        let high_bits = 64 - high.leading_zeros() as u64;
        let bits = self.range(low_bits, high_bits);
        let top = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let bottom = if bits <= 1 { 1 } else { 1u64 << (bits - 1) };
        self.range(bottom.max(low), top.min(high))
    }
}

/// The byte stream of one message: `fill` continues where the last call stopped, so a
/// writer and a checker with the same seed produce the same bytes in any chunking.
#[derive(Clone, Debug)]
pub struct Pattern {
    random: Random,
    word: [u8; 8],
    used: usize,
}

impl Pattern {
    pub fn new(seed: u64) -> Pattern {
        Pattern {
            random: Random::new(seed),
            word: [0; 8],
            used: 8,
        }
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            if self.used == 8 {
                self.word = self.random.next_u64().to_le_bytes();
                self.used = 0;
            }
            *byte = self.word[self.used];
            self.used += 1;
        }
    }
}

/// Fletcher-style checksum with 64-bit wrapping sums: the running sum of the bytes and
/// the running sum of those sums, so a changed, lost, duplicated or reordered byte
/// changes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum {
    sum: u64,
    sum_of_sums: u64,
    length: u64,
}

impl Checksum {
    pub fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.sum = self.sum.wrapping_add(u64::from(byte));
            self.sum_of_sums = self.sum_of_sums.wrapping_add(self.sum);
        }
        self.length += bytes.len() as u64;
    }

    pub fn length(&self) -> u64 {
        self.length
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_the_same_in_any_chunking() {
        let mut whole = vec![0u8; 1000];
        Pattern::new(7).fill(&mut whole);
        let mut chunked = vec![0u8; 1000];
        let mut pattern = Pattern::new(7);
        let mut offset = 0;
        for size in [1, 3, 8, 13, 100, 875] {
            pattern.fill(&mut chunked[offset..offset + size]);
            offset += size;
        }
        assert_eq!(offset, 1000);
        assert_eq!(whole, chunked);
        let mut other = vec![0u8; 1000];
        Pattern::new(8).fill(&mut other);
        assert_ne!(whole, other);
    }

    #[test]
    fn the_checksum_sees_a_swap_and_a_change() {
        let sum = |bytes: &[u8]| {
            let mut checksum = Checksum::default();
            checksum.update(bytes);
            checksum
        };
        assert_eq!(sum(b"abcd"), sum(b"abcd"));
        assert_ne!(sum(b"abcd"), sum(b"abdc"));
        assert_ne!(sum(b"abcd"), sum(b"abce"));
        let mut split = Checksum::default();
        split.update(b"ab");
        split.update(b"cd");
        assert_eq!(split, sum(b"abcd"));
    }

    #[test]
    fn log_uniform_stays_in_range_and_reaches_both_ends() {
        let mut random = Random::new(1);
        let (mut small, mut large) = (false, false);
        for _ in 0..100_000 {
            let value = random.log_uniform(1, 65536);
            assert!((1..=65536).contains(&value));
            small |= value <= 2;
            large |= value > 32768;
        }
        assert!(small && large);
    }
}
