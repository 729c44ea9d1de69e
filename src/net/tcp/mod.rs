//! TCP: [`TcpListener`], [`TcpStream`] (with its [`OwnedReadHalf`]/[`OwnedWriteHalf`]
//! split for two tasks and its borrowed [`ReadHalf`]/[`WriteHalf`] split for one) and
//! [`TcpSocket`].
//!
//! # tokio parity
//!
//! Every public method of tokio 1.54's `TcpSocket`, `TcpListener`, `TcpStream` and
//! split halves is here, with tokio's name, arguments and meaning, except:
//!
//! * `TcpStream::try_io` and `async_io` (run a caller's syscall under the stream's
//!   readiness): on io_uring the socket is in blocking mode (the kernel waits inside
//!   the ops), so a closure written for tokio's non-blocking socket (a plain `recv`,
//!   `read`) would block the worker thread instead of returning `WouldBlock`. Use
//!   [`TcpStream::ready`] with `try_read`/`try_write`, or the owned-buffer API.
//! * Windows' raw-socket traits (`AsRawSocket`, ...): ringtide does not build there yet.
//!
//! Readers are `&self` where tokio's take `&mut self` (`peek` and `poll_peek` on the
//! halves), which compiles wherever tokio's does. `TcpStream::shutdown_with(how)` is
//! ringtide's own (tokio shuts down through `AsyncWriteExt::shutdown`, which works
//! here too with the `tokio-io` feature).

mod listener;
mod socket;
mod split;
mod split_borrowed;
mod stream;

pub use listener::TcpListener;
pub(crate) use listener::socket_addr;
pub use socket::TcpSocket;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use split_borrowed::{ReadHalf, WriteHalf};
pub use stream::TcpStream;
