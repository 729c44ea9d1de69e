//! The multi-thread, work-stealing scheduler.
//!
//! * [`worker`]: the worker loop, task scheduling and `block_in_place`.
//! * [`core`]: one worker's state, which moves between threads with `block_in_place`.
//! * [`queue`]: a worker's bounded local run queue and its LIFO slot.
//! * [`idle`]: which workers sleep, and the searching/parking protocol.
//! * [`handle`]: the shared state (injection queue, stealers, unparkers) and the
//!   entry points (spawn, block_on, shutdown).
//!
//! Imports point one way: `worker` → `handle` → `core`, `queue`, `idle` (scheduling a
//! task onto the current worker's queue is the worker's, in `worker.rs`).

mod core;
mod handle;
mod idle;
mod queue;
mod worker;

pub(crate) use handle::Handle;
pub(crate) use queue::pop_inject;
pub(crate) use worker::{block_in_place, current_core, launch, start_worker};
