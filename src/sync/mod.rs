//! Synchronisation between tasks: channels, locks, semaphores, notifications.
//!
//! | Type | What it is |
//! |---|---|
//! | [`mpsc`] | multi-producer, single-consumer queue, bounded or unbounded |
//! | [`oneshot`] | one value from one task to another |
//! | [`broadcast`] | every receiver gets every value (bounded, lagging receivers are told) |
//! | [`watch`] | the latest value, and a notification when it changes |
//! | [`Mutex`], [`RwLock`] | async locks whose guards may be held across `.await` |
//! | [`Semaphore`] | a pool of permits (limit concurrency) |
//! | [`Notify`] | wake one waiting task, or all of them, without data |
//! | [`Barrier`] | wait until `n` tasks have arrived |
//! | [`OnceCell`], [`SetOnce`] | a value initialised once, possibly asynchronously |
//!
//! Every type has tokio's name, methods and semantics, and tokio's documentation applies
//! to it; a tokio program moves over by changing `tokio::sync` to `ringtide::sync`. Each
//! method that waits is cancel-safe where tokio's is (all the `recv`s, `changed`,
//! `lock`, `read`, `write`, `acquire`, `notified`): dropping the future (for example
//! in a `select!`, see [`crate::select`]) loses no value and no permit.
//!
//! # One implementation: tokio's
//!
//! This module does not implement synchronisation: it re-exports, or thinly wraps, the
//! `sync` module of tokio (the crate compiled with only its `sync` feature, which
//! contains no runtime, no I/O driver and no timer; its one dependency is
//! `pin-project-lite`, which ringtide uses anyway). tokio's primitives are
//! runtime-agnostic: they wait through the `Waker` of whatever polls them. The
//! alternatives were weighed:
//!
//! * tokio `sync`: all ten primitives, with exactly the names and semantics tokio users
//!   already have (the point of ringtide's API), model-checked with loom, and among the
//!   most used async code there is. ringtide already depended on tokio for the
//!   `tokio-io` traits, so it adds no crate.
//! * `async-channel` + `async-lock` + `event-listener`: three crates with their own
//!   conventions (an mpmc `Receiver` that is `Clone`, `recv` returning `Result`,
//!   `Semaphore::acquire` that cannot fail because it cannot be closed, a different
//!   `OnceCell`), and no `broadcast`, `watch` or `oneshot`. Programs would have to be
//!   rewritten, not renamed.
//!
//! # Cooperative budget
//!
//! tokio's types spend tokio's cooperative budget, which exists only inside a tokio
//! runtime, so under ringtide a task looping on an always-ready channel would never
//! yield. Here the waiting operations spend ringtide's budget instead (the one the
//! runtime's I/O operations, timers and `JoinHandle`s spend; see
//! [`task::consume_budget`](crate::task::consume_budget)): each completed `recv`,
//! `poll_recv`, `recv_many`, `changed`, `wait_for`, `lock`, `read`, `write`,
//! `acquire*`, `notified` and `oneshot::Receiver` poll spends one unit, and once the
//! task's budget is spent they return `Pending` after waking the task, so it goes to the
//! back of the run queue and lets other tasks, timers and I/O run. That is why the
//! receivers, the locks, [`Semaphore`], [`Notify`], and the `broadcast`/`watch`
//! senders (which make receivers) are wrapper types here rather than tokio's; the
//! guards, permits, errors, the `mpsc` and `oneshot` senders, [`Barrier`] and the
//! once-cells are tokio's own types. [`task::unconstrained`](crate::task::unconstrained)
//! turns the budget off.
//!
//! Not budgeted: `mpsc::Sender::send`/`reserve` (they wait only while the channel is
//! full, which means its receiver runs and spends budget), [`Barrier::wait`], the
//! once-cells' initialisation, and the senders' `closed`, which complete once for
//! good.
//!
//! # Differences from tokio
//!
//! * `mpsc::Sender::send_timeout` needs tokio's timer and is absent: wrap `send` or
//!   `reserve` in [`time::timeout`](crate::time::timeout).
//! * The `Arc`-based methods (`lock_owned`, `read_owned`, `acquire_owned`,
//!   `notified_owned`) return tokio's owned guards, whose accessors
//!   (`OwnedMutexGuard::mutex`, `OwnedSemaphorePermit::semaphore`, ...) name the
//!   `Arc` as tokio's type; likewise `MutexGuard::mutex` returns tokio's `Mutex`.
//! * A receiver converts to tokio's type and back with `From`, for crates that take
//!   tokio's receivers (such as `tokio-stream`'s wrappers); the converted receiver no
//!   longer spends ringtide's budget.
//!
//! ```
//! use ringtide::sync::{mpsc, oneshot};
//!
//! # ringtide::runtime::Runtime::new().unwrap().block_on(async {
//! // A task that answers requests.
//! let (requests, mut incoming) = mpsc::channel::<(u32, oneshot::Sender<u32>)>(8);
//! ringtide::spawn(async move {
//!     while let Some((n, reply)) = incoming.recv().await {
//!         let _ = reply.send(n * 2);
//!     }
//! });
//! let (reply, answer) = oneshot::channel();
//! requests.send((21, reply)).await.unwrap();
//! assert_eq!(answer.await.unwrap(), 42);
//! # });
//! ```

pub mod broadcast;
mod budget;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod rwlock;
mod semaphore;
pub mod watch;

pub use mutex::Mutex;
pub use notify::Notify;
pub use rwlock::RwLock;
pub use semaphore::Semaphore;
pub use tokio::sync::TryLockError;
pub use tokio::sync::{AcquireError, OwnedSemaphorePermit, SemaphorePermit, TryAcquireError};
pub use tokio::sync::{Barrier, BarrierWaitResult};
pub use tokio::sync::{MappedMutexGuard, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard};
pub use tokio::sync::{OnceCell, SetError, SetOnce, SetOnceError};
pub use tokio::sync::{
    OwnedRwLockMappedWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard,
    RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard,
};

/// The named futures of this module.
pub mod futures {
    pub use super::notify::{Notified, OwnedNotified};
}
