//! Parking: how a thread that runs futures sleeps until there is work.
//!
//! The scheduler only knows two operations, expressed by the [`Park`] and [`Unpark`]
//! traits: a worker (or the `block_on` thread) *parks* with an optional timeout, and any
//! thread may *unpark* it. The I/O drivers implement the same traits (a uring worker
//! parks in `io_uring_enter`, a mio worker in `Poll::poll`); [`Parker`], a mutex +
//! condvar, is the driver without I/O (`CoreDriver::NoIo`, a runtime built without
//! `enable_io`) and the parker of threads that block on a future outside any core.
//!
//! # Protocol
//!
//! The parker holds one of three states:
//!
//! ```text
//!             park()                      unpark()
//!   EMPTY ───────────────► PARKED ────────────────────► NOTIFIED
//!     ▲  (sleeps on the condvar)   (swap, then lock + notify)  │
//!     │                                                       │
//!     └──────────── park() consumes the token ◄───────────────┘
//! ```
//!
//! * `unpark` swaps the state to `NOTIFIED`. If it was `PARKED`, it takes the mutex
//!   before signalling the condvar, so the signal cannot fall between the parker's
//!   state check and its wait.
//! * `park` first tries to consume a pending `NOTIFIED` token without locking. Otherwise
//!   it moves `EMPTY → PARKED` under the mutex and waits until it can consume the token
//!   (spurious condvar wake-ups are ignored).
//! * An unpark that arrives before the park is never lost: the token stays until the
//!   next park consumes it. Several unparks collapse into one token.

use std::time::Duration;

use crate::loom::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::{Arc, Condvar, Mutex, lock};

/// Something a thread can block on until it is unparked or a timeout passes.
pub(crate) trait Park {
    /// The handle other threads use to wake this parker.
    type Unpark: Unpark;

    /// Blocks until unparked. Returns at once if an unpark happened since the last park.
    fn park(&mut self);

    /// Blocks until unparked or `timeout` has passed. A zero timeout polls the driver
    /// (when there is one) without sleeping.
    fn park_timeout(&mut self, timeout: Duration);

    /// Returns a handle that wakes this parker from any thread.
    fn unpark_handle(&self) -> Self::Unpark;
}

/// The waking half of a [`Park`].
pub(crate) trait Unpark: Send + Sync + 'static {
    /// Wakes the parker, or makes its next park return at once.
    fn unpark(&self);
}

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

/// The condvar-backed parker used until an I/O driver provides its own.
#[derive(Debug)]
pub(crate) struct Parker {
    inner: Arc<Inner>,
}

/// The waking half of [`Parker`]; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Unparker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    /// Creates a parker with no pending token.
    pub(crate) fn new() -> Parker {
        Parker {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(EMPTY),
                mutex: Mutex::new(()),
                condvar: Condvar::new(),
            }),
        }
    }
}

impl Park for Parker {
    type Unpark = Unparker;

    fn park(&mut self) {
        self.inner.park(None);
    }

    fn park_timeout(&mut self, timeout: Duration) {
        self.inner.park(Some(timeout));
    }

    fn unpark_handle(&self) -> Unparker {
        Unparker {
            inner: self.inner.clone(),
        }
    }
}

impl Unpark for Unparker {
    fn unpark(&self) {
        self.inner.unpark();
    }
}

impl Inner {
    fn park(&self, timeout: Option<Duration>) {
        // Fast path: a token is already there.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        if timeout == Some(Duration::ZERO) {
            return;
        }
        let mut guard = lock(&self.mutex);
        match self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // Consume the token that arrived while we took the lock.
                self.state.swap(EMPTY, SeqCst);
                return;
            }
            Err(actual) => unreachable!("parker in state {actual} while parking"),
        }
        match timeout {
            None => loop {
                guard = match self.condvar.wait(guard) {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                };
                if self
                    .state
                    .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                    .is_ok()
                {
                    return;
                }
                // Spurious wake-up: keep waiting.
            },
            Some(timeout) => {
                let result = self.condvar.wait_timeout(guard, timeout);
                drop(result);
                // Whether notified, timed out or woken spuriously, leave no PARKED behind.
                self.state.swap(EMPTY, SeqCst);
            }
        }
    }

    fn unpark(&self) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED => {
                // Taking the lock orders this signal after the parker's wait began.
                drop(lock(&self.mutex));
                self.condvar.notify_one();
            }
            actual => unreachable!("parker in state {actual} while unparking"),
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    #[test]
    fn loom_park_then_unpark_never_loses_the_wakeup() {
        loom::model(|| {
            let mut parker = Parker::new();
            let unparker = parker.unpark_handle();
            let thread = loom::thread::spawn(move || unparker.unpark());
            parker.park();
            thread.join().unwrap();
        });
    }

    #[test]
    fn loom_two_unparks_wake_two_parks_or_collapse() {
        loom::model(|| {
            let mut parker = Parker::new();
            let first = parker.unpark_handle();
            let second = parker.unpark_handle();
            let a = loom::thread::spawn(move || first.unpark());
            parker.park();
            a.join().unwrap();
            let b = loom::thread::spawn(move || second.unpark());
            parker.park();
            b.join().unwrap();
        });
    }

    /// A timed park racing an unpark (loom models no timeout: the wait ends by the
    /// notification): the park returns after the unpark, and leaves the parker empty,
    /// never `PARKED` (which a later unpark would signal into the void) and never
    /// with a stale token.
    #[test]
    fn loom_timed_park_racing_unpark_leaves_the_parker_empty() {
        loom::model(|| {
            let mut parker = Parker::new();
            let unparker = parker.unpark_handle();
            let thread = loom::thread::spawn(move || unparker.unpark());
            parker.park_timeout(Duration::from_secs(1));
            thread.join().unwrap();
            assert_eq!(parker.inner.state.load(SeqCst), EMPTY);
        });
    }

    /// A zero-timeout park (a driver poll between tasks) racing an unpark: it consumes
    /// the token or leaves it for the next park, which then returns at once.
    #[test]
    fn loom_polling_park_never_loses_a_token() {
        loom::model(|| {
            let mut parker = Parker::new();
            let unparker = parker.unpark_handle();
            let thread = loom::thread::spawn(move || unparker.unpark());
            parker.park_timeout(Duration::ZERO);
            thread.join().unwrap();
            let state = parker.inner.state.load(SeqCst);
            assert!(state == EMPTY || state == NOTIFIED, "state {state}");
            if state == NOTIFIED {
                // Returns at once (a lost token would hang the model here).
                parker.park();
            }
        });
    }
}
