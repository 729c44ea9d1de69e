//! HTTP on ringtide through hyper 1.x and hyper-util (feature `hyper`).
//!
//! hyper is runtime-agnostic: it asks the runtime for an executor, a timer and I/O
//! objects through its `rt` traits. This module provides those, so hyper's HTTP/1.1
//! and HTTP/2 servers and clients, hyper-util's `auto` server builder, graceful
//! shutdown and pooled client, and everything built on hyper (axum, tonic, ...) run on
//! ringtide unchanged:
//!
//! * [`Executor`]: `hyper::rt::Executor`, spawning ringtide tasks.
//! * [`Timer`]: `hyper::rt::Timer` on ringtide's timer wheel.
//! * [`Io`]: `hyper::rt::Read`/`Write` for [`TcpStream`](crate::net::TcpStream),
//!   [`UnixStream`](crate::net::UnixStream) and anything else with tokio's poll
//!   traits, on both backends; and tokio's traits for hyper's upgraded connections.
//! * [`Connector`]: the TCP connector for `hyper_util::client::legacy::Client`.
//!
//! # Why hyper and hyper-util
//!
//! HTTP/1.1 and HTTP/2 are large, subtle protocols (framing, flow control, pipelining,
//! upgrades, keep-alive, header limits); hyper implements them well, is widely used
//! and audited, and is what axum and tonic are built on. Re-using it, and hyper-util
//! for the glue every server writes anyway (serving both versions on one port, graceful
//! shutdown, connection pooling), gives ringtide's users the HTTP stack they already
//! know; the runtime only has to provide the four small adapters above. The `hyper`
//! feature depends on hyper (client, server, http1, http2), hyper-util
//! (`client-legacy`, `server-auto`, `server-graceful`) and tower-service (the
//! connector's trait). hyper-util's `client-legacy` compiles tokio's `net` types for
//! its own `HttpConnector`; nothing here uses them and no tokio runtime is started.
//!
//! # Serving
//!
//! ```no_run
//! # #[cfg(feature = "hyper")]
//! # fn main() -> std::io::Result<()> {
//! use std::convert::Infallible;
//!
//! use ringtide::hyper::{Executor, Io, Timer};
//! use ringtide::net::TcpListener;
//!
//! ringtide::runtime::Runtime::new()?.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:8080").await?;
//!     let mut builder = hyper_util::server::conn::auto::Builder::new(Executor::new());
//!     builder.http1().timer(Timer::new());
//!     loop {
//!         let (stream, _peer) = listener.accept().await?;
//!         let builder = builder.clone();
//!         ringtide::spawn(async move {
//!             let service = hyper::service::service_fn(|_request| async {
//!                 Ok::<_, Infallible>(hyper::Response::new(String::from("hello\n")))
//!             });
//!             if let Err(error) = builder.serve_connection(Io::new(stream), service).await {
//!                 eprintln!("connection: {error}");
//!             }
//!         });
//!     }
//! })
//! # }
//! # #[cfg(not(feature = "hyper"))]
//! # fn main() {}
//! ```
//!
//! `examples/http.rs` adds graceful shutdown, streamed bodies and upgrades,
//! `examples/axum.rs` serves an axum `Router`, `examples/http_client.rs` uses the
//! pooled client.
//!
//! # Timers
//!
//! hyper's HTTP/1 server builders set a 30 s `header_read_timeout` by default, which
//! needs a timer: give them [`Timer`] (`builder.http1().timer(Timer::new())` above), or
//! turn the timeout off (`header_read_timeout(None)`); without either, hyper panics on
//! the first connection. The pooled client takes one for its idle-connection expiry
//! (`pool_timer`) and its own timeouts (`timer`).
//!
//! # The I/O path on io_uring
//!
//! [`Io`] forwards to the streams' readiness-based poll traits (`net::poll_io`: a
//! `MSG_DONTWAIT` syscall on hyper's own buffers, a kept `POLL_ADD` after `EAGAIN`).
//! Three alternatives were measured against it with hyper's HTTP/1.1 on top
//! (`benches/hyper_io.rs`, where they live):
//!
//! * *completion*: an io_uring `RECV` into a 64 KiB buffer of the adapter, copied out
//!   to hyper, and `SEND`s of hyper's bytes copied into a second 64 KiB buffer and
//!   reported as written (write-behind);
//! * *hybrid*: completion reads, readiness writes;
//! * *poll-first*: a `MSG_DONTWAIT` `recv` into hyper's buffer first, and only after
//!   `EAGAIN` a `RECV` into the adapter's buffer (instead of a `POLL_ADD` and a second
//!   `recv`); readiness writes.
//!
//! One keep-alive connection on a current-thread io_uring runtime, loopback. Each run
//! (a process) has 15 rounds, the variants' order rotating per round, and reports the
//! median of the per-round ratios to readiness (CPU: the process's user + system time,
//! client and server together). Machine: 2 shared, noisy cores (load average 5 - 11
//! during the runs); 15 runs for completion, 10 with hybrid, 5 with poll-first:
//!
//! | workload | readiness, median per run | completion / readiness | hybrid / readiness | poll-first / readiness (CPU) |
//! |---|---|---|---|---|
//! | 2,000 sequential GETs, 13-byte answers | 20 - 65 us/request | 0.70 - 1.02 (median 0.89) | 0.78 - 1.02 | 0.94 - 0.99 (0.94 - 0.97) |
//! | 64 MiB response, 64 KiB chunks | 20 - 89 ms | 1.31 - 1.77 (median 1.49) | 1.16 - 1.53 | 0.93 - 1.03 (0.96 - 1.02) |
//! | 64 MiB request body, 64 KiB chunks | 20 - 77 ms | 0.70 - 0.97 (median 0.89) | 1.24 - 1.52 | 0.93 - 1.06 (0.93 - 1.05) |
//!
//! Readiness ships. Completion saves about a tenth per small request and on uploads,
//! but streams large responses, what a server mostly sends, about 1.5x slower; it
//! also costs 128 KiB of buffers per connection (idle keep-alive ones included), an
//! extra copy each way, and write-behind semantics (a send's error surfaces on a later
//! call; an adapter dropped unflushed cancels its send). Hybrid loses in both bulk
//! directions. Poll-first is level on bulk and saves about 5% of CPU per small
//! request, for a buffer per waiting connection; that gain belongs in the streams'
//! poll traits themselves (every poll-trait user would get it), not in a hyper-only
//! adapter. (The mio backend, run alongside as a reference, was level with io_uring
//! readiness on bulk and used 10-20% less CPU per small request.)

mod connector;
mod executor;
mod io;
mod timer;

pub use connector::{Connecting, Connector};
pub use executor::Executor;
pub use io::Io;
pub use timer::{Timer, TimerSleep};
