//! [`ErrorLog`]: the errors one side of a soak counted, with the first few messages
//! kept for the report (the client, the echo server and the mixed workload each have
//! one).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many error messages a report keeps.
const SAMPLES: usize = 8;

/// A count of errors and the first [`SAMPLES`] of their messages.
#[derive(Default)]
pub struct ErrorLog {
    count: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl ErrorLog {
    /// Counts one error, keeping its message if fewer than [`SAMPLES`] are kept.
    pub fn record(&self, what: String) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut samples = self.samples.lock().expect("not poisoned");
        if samples.len() < SAMPLES {
            samples.push(what);
        }
    }

    /// How many errors were counted.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The kept messages.
    pub fn samples(&self) -> Vec<String> {
        self.samples.lock().expect("not poisoned").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_error_and_keeps_the_first_messages() {
        let log = ErrorLog::default();
        for index in 0..SAMPLES + 3 {
            log.record(format!("error {index}"));
        }
        assert_eq!(log.count(), (SAMPLES + 3) as u64);
        let samples = log.samples();
        assert_eq!(samples.len(), SAMPLES);
        assert_eq!(samples[0], "error 0");
        assert_eq!(samples[SAMPLES - 1], format!("error {}", SAMPLES - 1));
    }
}
