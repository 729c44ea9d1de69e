//! The blocking thread pool: runs `spawn_blocking` closures and hosts the worker threads.

mod pool;

pub(crate) use pool::{
    BlockingPool, Callback, Mandatory, SpawnError, Spawner, ThreadConfig, ThreadNameFn,
    closure_returned,
};
