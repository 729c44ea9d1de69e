//! Timers: [`sleep`], [`sleep_until`], [`timeout`], [`timeout_at`], [`interval`],
//! [`Instant`].
//!
//! Names and semantics follow tokio's. Every runtime built with `enable_time()` (or
//! `enable_all()`) has one hierarchical timer wheel per worker (see `wheel`): 1 ms
//! resolution, deadlines rounded up so a timer never fires early, O(1) insert and
//! cancel; a timer goes to the wheel of the worker that first polls it. The earliest
//! deadline over all wheels bounds how long a worker parks on either I/O backend (see
//! `driver`).
//!
//! `Duration::MAX` and deadlines in the past are valid. Creating a timer outside a
//! runtime, or in one built without the time driver, panics (as in tokio) with a
//! message saying what to enable; a timer belongs to the runtime it was created in.
//!
//! Tests can stop time on a current-thread runtime with [`pause`](pause()), move it with
//! [`advance`], and restart it with [`resume`]; a paused runtime with nothing to run
//! jumps straight to its next timer.

mod clock;
pub(crate) mod driver;
pub mod error;
mod instant;
mod interval;
mod pause;
mod sleep;
mod timeout;
pub(crate) mod wheel;

pub use instant::Instant;
pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
pub use pause::{advance, pause, resume};
pub use sleep::{Sleep, sleep, sleep_until};
pub use timeout::{Timeout, timeout, timeout_at};
