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
//! [`Io`] forwards to the streams' readiness-based poll traits (`net::poll_io`). A
//! completion-based adapter (an io_uring `RECV` kept in flight into a 64 KiB buffer of
//! the adapter, and `SEND`s copied into a second one and reported as written) was
//! measured against it with hyper on top, `benches/hyper_io.rs`:
//!
//! MEASUREMENTS

mod connector;
mod executor;
mod io;
mod timer;

pub use connector::{Connecting, Connector};
pub use executor::Executor;
pub use io::Io;
pub use timer::{Timer, TimerSleep};
