//! [`RawSource`]: how one I/O object's raw number is registered with mio, and how the
//! non-blocking calls on it keep mio's readiness contract, one half per platform.
//!
//! * Unix (epoll, kqueue): the fd is registered through `mio::unix::SourceFd` and the
//!   selector reports real edges; a call needs nothing from mio, so
//!   [`RawSource::try_io`] just makes it.
//! * Windows (IOCP): mio's readiness is emulated (an `AFD_POLL` request per socket;
//!   mio drops an event's interest once it reports it, and asks again only when one of
//!   its own I/O calls, or a `try_io` call, returns `WouldBlock`). mio registers only
//!   its own socket types, so the socket is wrapped in a `mio::net::TcpStream` that
//!   borrows the handle (its `Source` impl and `try_io` depend on the handle alone,
//!   whatever kind of socket it is), and every call runs inside that wrapper's
//!   `try_io`.
//!
//! [`SHORT_READ_DRAINS`] says whether a read that returned fewer bytes than asked
//! proves the socket drained (true for the edge-triggered selectors; on Windows only a
//! `WouldBlock` re-arms the poll, so the readiness must not be cleared without one:
//! tokio gates the same optimisation to epoll and kqueue).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{RawSource, SHORT_READ_DRAINS};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::{RawSource, SHORT_READ_DRAINS};
