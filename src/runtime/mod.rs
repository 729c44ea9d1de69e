//! The runtime: [`Builder`], [`Runtime`], [`Handle`], and the schedulers behind them.
//!
//! A runtime is a scheduler, a blocking thread pool, an I/O driver per core and a timer
//! (`driver`: a core's park step composes the timer's next deadline, the driver's park
//! and firing due timers). Two flavours, with tokio's names:
//!
//! * [`Builder::new_multi_thread`]: N worker threads with work stealing. Each worker
//!   has a local run queue and a LIFO slot; a global injection queue takes spawns and
//!   wake-ups from outside the workers; idle workers steal half of a random victim's
//!   queue; at most half the workers search at a time; sleeping workers are woken only
//!   when there is work.
//! * [`Builder::new_current_thread`]: every task runs on the thread that calls
//!   [`Runtime::block_on`].
//!
//! Tasks get a cooperative budget per poll (see `task::coop`), so one busy task cannot
//! starve the others or the I/O poll.

pub(crate) mod blocking_on;
mod builder;
pub(crate) mod context;
pub(crate) mod defer;
pub(crate) mod driver;
mod handle;
pub(crate) mod hooks;
mod id;
mod metrics;
#[allow(clippy::module_inception)]
mod runtime;
pub(crate) mod scheduler;

pub use crate::driver::Backend;
pub use builder::Builder;
pub use handle::{EnterGuard, Handle, TryCurrentError};
pub use hooks::TaskMeta;
pub use id::Id;
pub use metrics::{IoMetrics, RuntimeMetrics};
pub use runtime::Runtime;
