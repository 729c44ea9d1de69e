//! Networking: TCP, UDP and Unix sockets with the same API on both backends.
//!
//! * [`TcpListener`], [`TcpStream`], [`TcpSocket`] (and [`tcp`]'s split halves).
//! * [`UdpSocket`]: datagrams with their boundaries kept (tokio's borrowed-buffer
//!   `send_to`/`recv_from`/`try_*`/`poll_*`, and the owned-buffer `*_owned` forms).
//! * `UnixListener`, `UnixStream` (and `unix`'s split halves), `UnixDatagram`: Unix
//!   domain sockets, by path or (Linux) abstract name. Unix only: the `unix` module
//!   does not exist on Windows (as in tokio).
//! * [`lookup_host`] and [`ToSocketAddrs`]: host names resolve on the blocking pool.
//!
//! Streams read and write through the owned-buffer traits of [`crate::io`]
//! ([`AsyncReadOwned`](crate::io::AsyncReadOwned),
//! [`AsyncWriteOwned`](crate::io::AsyncWriteOwned)).
//!
//! # Backends
//!
//! On io_uring, each read, write, accept and connect is one operation submitted to the
//! ring of the worker that runs the task (sockets stay in blocking mode; the kernel waits
//! inside the op). On mio, sockets are non-blocking and registered with one worker's
//! poll; the syscall runs when the socket is ready. The behaviour, errors and cancel
//! safety documented on each method are the same on both.
//!
//! # Errors, never signals
//!
//! Writes use `MSG_NOSIGNAL`: writing to a closed peer is an `io::Error` of kind
//! `BrokenPipe` (or `ConnectionReset`), never a `SIGPIPE`.
//!
//! # Windows
//!
//! TCP and UDP run on mio's IOCP-backed readiness (the only backend there); the types
//! implement `AsSocket`/`AsRawSocket`/`IntoRawSocket` (and `FromRawSocket` for
//! [`TcpSocket`]) where Unix has the fd traits. What differs:
//!
//! * mio emulates readiness on Windows (an `AFD_POLL` request per socket, re-armed
//!   only when a call returns `WouldBlock` through mio's `try_io`): ringtide makes
//!   every socket call through it, and never treats a short read as "drained" there;
//! * there is no `SIGPIPE`, so nothing needs `MSG_NOSIGNAL`/`SO_NOSIGPIPE`; a write to
//!   a closed peer fails with `ConnectionReset` or `ConnectionAborted`;
//! * [`TcpListener::bind`] does not set `SO_REUSEADDR`, which on Windows would let
//!   another socket bind the same port while the listener uses it (Unix sets it so
//!   that a restarted server can bind over connections in `TIME_WAIT`; Windows allows
//!   that without it);
//! * the `reuseport` options of [`TcpSocket`] are Unix-only (no `SO_REUSEPORT`);
//! * Windows reports an ICMP "port unreachable" for a datagram sent from a UDP socket
//!   as `ConnectionReset` on that socket's next receive, connected or not (Linux does
//!   so only for connected sockets), as std and tokio leave it.
//!
//! This port is type-checked from Linux (`ci/cross.sh`), not run: see the README's
//! platform table.

mod accept_stream;
mod addr;
mod connect;
#[cfg(ringtide_uring)]
mod listener_readiness;
mod owned_io;
mod poll_accept;
pub(crate) mod poll_io;
pub(crate) mod pooled_read;
mod raw_handle;
pub(crate) mod recv_queue;
pub(crate) mod socket;
mod socket_datagram;
mod socket_fd;
mod socket_peek;
pub(crate) mod socket_ready;
mod socket_try_io;
pub(crate) mod stream_readiness;
pub mod tcp;
mod udp;
#[cfg(unix)]
pub mod unix;
#[cfg(ringtide_uring)]
pub(crate) mod uring_readiness;
mod zero_copy;

pub use addr::{ToSocketAddrs, lookup_host};
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixDatagram, UnixListener, UnixStream};
