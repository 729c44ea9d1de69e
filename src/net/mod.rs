//! Networking: TCP, UDP and Unix sockets with the same API on both backends.
//!
//! * [`TcpListener`], [`TcpStream`], [`TcpSocket`] (and [`tcp`]'s split halves).
//! * [`UdpSocket`]: datagrams with their boundaries kept (tokio's borrowed-buffer
//!   `send_to`/`recv_from`/`try_*`/`poll_*`, and the owned-buffer `*_owned` forms).
//! * [`UnixListener`], [`UnixStream`] (and [`unix`]'s split halves), [`UnixDatagram`]:
//!   Unix domain sockets, by path or (Linux) abstract name.
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

mod accept_stream;
mod addr;
mod connect;
mod owned_io;
mod poll_accept;
pub(crate) mod poll_io;
pub(crate) mod socket;
mod socket_datagram;
mod socket_fd;
mod socket_peek;
pub(crate) mod socket_ready;
mod socket_try_io;
pub(crate) mod stream_readiness;
pub mod tcp;
mod udp;
pub mod unix;
#[cfg(ringtide_uring)]
pub(crate) mod uring_readiness;

pub use addr::{ToSocketAddrs, lookup_host};
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
