//! [`ReadHalf`] and [`WriteHalf`]: a [`UnixStream`] split into two borrowing halves
//! ([`UnixStream::split`]), for reading and writing at the same time within one task.
//!
//! Each half is a shared reference to the stream, so the split costs nothing and the
//! halves cannot outlive it (for halves that move to other tasks, see
//! [`UnixStream::into_split`]). The read half reads (owned-buffer, poll-based and
//! readiness APIs, `peek`), the write half writes; [`WriteHalf`]'s `poll_shutdown`
//! (tokio) / `poll_close` (futures) shuts down the write direction, and dropping it
//! does nothing.

use std::fmt;
use std::io;
use std::os::unix::net::SocketAddr;

use crate::io::owned::impl_owned_io;
use crate::net::poll_io::impl_poll_io;
use crate::net::socket::Socket;
use crate::net::stream_readiness::impl_stream_readiness;
use crate::net::unix::UnixStream;

/// The borrowed read half of a [`UnixStream`] (see [`UnixStream::split`]).
pub struct ReadHalf<'a>(&'a UnixStream);

/// The borrowed write half of a [`UnixStream`] (see [`UnixStream::split`]). Its
/// `poll_shutdown` shuts down the write direction; dropping it does not.
pub struct WriteHalf<'a>(&'a UnixStream);

pub(crate) fn split_borrowed(stream: &mut UnixStream) -> (ReadHalf<'_>, WriteHalf<'_>) {
    (ReadHalf(stream), WriteHalf(stream))
}

impl ReadHalf<'_> {
    pub(crate) fn socket(&self) -> &Socket {
        self.0.socket()
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl WriteHalf<'_> {
    pub(crate) fn socket(&self) -> &Socket {
        self.0.socket()
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl_owned_io!(read: ReadHalf<'_>);
impl_owned_io!(write: WriteHalf<'_>);
crate::net::zero_copy::impl_zero_copy_write!(WriteHalf<'_>);
impl_poll_io!(read: ReadHalf<'_>);
impl_poll_io!(write: WriteHalf<'_>);
impl_stream_readiness!(read_half: ReadHalf<'_>);
impl_stream_readiness!(write_half: WriteHalf<'_>);

impl AsRef<UnixStream> for ReadHalf<'_> {
    fn as_ref(&self) -> &UnixStream {
        self.0
    }
}

impl AsRef<UnixStream> for WriteHalf<'_> {
    fn as_ref(&self) -> &UnixStream {
        self.0
    }
}

impl fmt::Debug for ReadHalf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReadHalf").field(self.0).finish()
    }
}

impl fmt::Debug for WriteHalf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WriteHalf").field(self.0).finish()
    }
}
