//! The network workloads: every server runs in its own process, one shared load
//! generator drives them all.
//!
//! The suite's binary re-executes itself in a server role (the environment variable
//! [`ROLE_ENV`] names the implementation) once per implementation, pins the child to
//! the servers' CPUs and drives it through its stdin / stdout ([`control`]): the child
//! binds, prints `LISTEN <addr> <description>`, then answers `START` (a window begins)
//! and `STOP` (`STOPPED <cpu ns> <echoed bytes>` for that window, from `getrusage` in
//! the server). Closing its stdin ends it.
//!
//! Every server is the same echo loop with a 4 KiB buffer and `TCP_NODELAY`, on as many
//! threads as the servers have CPUs ([`servers`]): ringtide (io_uring or mio) and tokio
//! as multi-thread runtimes, monoio as one runtime per thread with a `SO_REUSEPORT`
//! listener each (its model: thread-per-core), and the raw io_uring loop
//! ([`raw_server`]) the same way, with no runtime at all. The load generator ([`load`])
//! is a tokio runtime on the client CPUs: ping-pong (one message in flight per
//! connection) and echo at a fixed offered rate.

pub mod control;
pub mod load;
pub mod raw_server;
pub mod servers;

use std::sync::atomic::AtomicU64;

/// Selects the server role in a re-executed child; the value is an implementation key.
pub const ROLE_ENV: &str = "RINGTIDE_BENCH_SERVER";
/// The CPUs a server pins itself to (`0,1`; absent: not pinned).
pub const CPUS_ENV: &str = "RINGTIDE_BENCH_SERVER_CPUS";
/// How many threads a server runs.
pub const THREADS_ENV: &str = "RINGTIDE_BENCH_SERVER_THREADS";
/// The echo buffer of every server.
pub const SERVER_BUFFER: usize = 4096;

/// Bytes echoed by this server process; the client turns it into requests.
pub static ECHOED_BYTES: AtomicU64 = AtomicU64::new(0);
