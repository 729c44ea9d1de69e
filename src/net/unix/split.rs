//! [`OwnedReadHalf`] and [`OwnedWriteHalf`]: a [`UnixStream`] split for two tasks.
//!
//! Both halves share the stream through an `Arc`, and each has its side of the
//! stream's readiness API (`ready`, `readable`/`writable`, `try_read*`/`try_write*`,
//! `peek`). Dropping the write half shuts the write direction down (the peer reads end of stream), as tokio's does;
//! [`OwnedReadHalf::reunite`] gives the stream back.

use std::error::Error;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::sync::Arc;

use crate::io::owned::impl_owned_io;
use crate::net::poll_io::impl_poll_io;
use crate::net::socket::Socket;
use crate::net::stream_readiness::impl_stream_readiness;
use crate::net::unix::UnixStream;

/// The read half of a [`UnixStream`] (see [`UnixStream::into_split`]).
pub struct OwnedReadHalf {
    stream: Arc<UnixStream>,
}

/// The write half of a [`UnixStream`] (see [`UnixStream::into_split`]). Dropping it
/// shuts down the write direction.
pub struct OwnedWriteHalf {
    stream: Arc<UnixStream>,
    shutdown_on_drop: bool,
}

pub(crate) fn split(stream: UnixStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let stream = Arc::new(stream);
    (
        OwnedReadHalf {
            stream: stream.clone(),
        },
        OwnedWriteHalf {
            stream,
            shutdown_on_drop: true,
        },
    )
}

/// The halves given to [`OwnedReadHalf::reunite`] came from different streams; they
/// are returned unchanged.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same stream")
    }
}

impl Error for ReuniteError {}

impl OwnedReadHalf {
    pub(crate) fn socket(&self) -> &Socket {
        self.stream.socket()
    }

    /// Puts the stream back together; fails when `write` belongs to another stream.
    pub fn reunite(self, mut write: OwnedWriteHalf) -> Result<UnixStream, ReuniteError> {
        if !Arc::ptr_eq(&self.stream, &write.stream) {
            return Err(ReuniteError(self, write));
        }
        write.shutdown_on_drop = false;
        let stream = write.stream.clone();
        drop(write);
        drop(self);
        Ok(Arc::try_unwrap(stream).expect("both halves are gone"))
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl OwnedWriteHalf {
    pub(crate) fn socket(&self) -> &Socket {
        self.stream.socket()
    }

    /// Shuts down a direction of the stream (see [`UnixStream::shutdown_with`]).
    pub async fn shutdown_with(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.stream.shutdown_with(how).await
    }

    /// Puts the stream back together (as [`OwnedReadHalf::reunite`]); fails when
    /// `read` belongs to another stream.
    pub fn reunite(self, read: OwnedReadHalf) -> Result<UnixStream, ReuniteError> {
        read.reunite(self)
    }

    /// Drops the half without shutting down the write direction.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self
                .stream
                .socket()
                .as_sock_ref()
                .shutdown(std::net::Shutdown::Write);
        }
    }
}

impl_owned_io!(read: OwnedReadHalf);
crate::net::pooled_read::impl_read_pooled!(OwnedReadHalf);
impl_owned_io!(write: OwnedWriteHalf);
crate::net::zero_copy::impl_zero_copy_write!(OwnedWriteHalf);
impl_poll_io!(read: OwnedReadHalf);
impl_poll_io!(write: OwnedWriteHalf);
impl_stream_readiness!(read_half: OwnedReadHalf);
impl_stream_readiness!(write_half: OwnedWriteHalf);

impl AsRef<UnixStream> for OwnedReadHalf {
    fn as_ref(&self) -> &UnixStream {
        &self.stream
    }
}

impl AsRef<UnixStream> for OwnedWriteHalf {
    fn as_ref(&self) -> &UnixStream {
        &self.stream
    }
}

impl AsRawFd for OwnedReadHalf {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

impl AsRawFd for OwnedWriteHalf {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

impl AsFd for OwnedReadHalf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

impl AsFd for OwnedWriteHalf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedReadHalf").field(&self.stream).finish()
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedWriteHalf").field(&self.stream).finish()
    }
}
