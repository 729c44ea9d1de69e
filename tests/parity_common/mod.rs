//! Helpers shared by the `tokio_parity_*` integration tests (next to `rt_common`,
//! which they use too).
//!
//! * [`each_runtime!`](crate::each_runtime): expands one body into six tests, one per
//!   I/O backend (io_uring, mio) and runtime (current-thread, multi-thread with 1 and
//!   with 4 workers), each under `rt_common::with_timeout`. The body gets the backend
//!   and the worker count (0 for current-thread), to build its runtime with
//!   `rt_common::backend_builder` (and customise it) or `rt_common::backend_runtime`.
//! * Drop probes: what a destructor saw when it ran.

#![allow(dead_code, unused_macros, unused_imports)]

use std::sync::{Arc, Mutex};

/// See the module docs.
#[macro_export]
macro_rules! each_runtime {
    (
        $(#[$attr:meta])*
        fn $name:ident($backend:ident, $workers:ident) $body:block
    ) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(unused_variables)]
            fn body($backend: ringtide::runtime::Backend, $workers: usize) $body

            fn run(backend: ringtide::runtime::Backend, workers: usize) {
                $crate::rt_common::with_timeout(
                    stringify!($name),
                    $crate::rt_common::TEST_TIMEOUT,
                    move || body(backend, workers),
                );
            }

            #[test]
            $(#[$attr])*
            fn io_uring_current_thread() {
                run(ringtide::runtime::Backend::IoUring, 0);
            }

            #[test]
            $(#[$attr])*
            fn io_uring_multi_thread_1() {
                run(ringtide::runtime::Backend::IoUring, 1);
            }

            #[test]
            $(#[$attr])*
            fn io_uring_multi_thread_4() {
                run(ringtide::runtime::Backend::IoUring, 4);
            }

            #[test]
            $(#[$attr])*
            fn mio_current_thread() {
                run(ringtide::runtime::Backend::Mio, 0);
            }

            #[test]
            $(#[$attr])*
            fn mio_multi_thread_1() {
                run(ringtide::runtime::Backend::Mio, 1);
            }

            #[test]
            $(#[$attr])*
            fn mio_multi_thread_4() {
                run(ringtide::runtime::Backend::Mio, 4);
            }
        }
    };
}

/// What a destructor saw: whether the thread was panicking, and the current task id
/// (through `ringtide::task::try_id` or `tokio::task::try_id`, as the probe is built).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen<I> {
    pub panicking: bool,
    pub task_id: Option<I>,
}

/// Where a [`DropProbe`] records what its destructor saw.
pub type SeenSlot<I> = Arc<Mutex<Option<Seen<I>>>>;

/// Records, when dropped, what its destructor saw (`try_id` says which runtime's task
/// id to read) into a shared slot.
pub struct DropProbe<I: Send + 'static> {
    pub slot: SeenSlot<I>,
    pub try_id: fn() -> Option<I>,
}

impl<I: Send + 'static> DropProbe<I> {
    /// A probe and the slot it fills.
    pub fn new(try_id: fn() -> Option<I>) -> (DropProbe<I>, SeenSlot<I>) {
        let slot = Arc::new(Mutex::new(None));
        (
            DropProbe {
                slot: slot.clone(),
                try_id,
            },
            slot,
        )
    }
}

impl<I: Send + 'static> Drop for DropProbe<I> {
    fn drop(&mut self) {
        let seen = Seen {
            panicking: std::thread::panicking(),
            task_id: (self.try_id)(),
        };
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(seen);
    }
}

/// What a probe's slot holds once its destructor ran.
#[track_caller]
pub fn seen<I: Clone>(slot: &SeenSlot<I>) -> Seen<I> {
    slot.lock()
        .unwrap()
        .clone()
        .expect("the destructor has not run")
}
