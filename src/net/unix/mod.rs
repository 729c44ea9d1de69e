//! Unix domain sockets: [`UnixListener`], [`UnixStream`] (with its
//! [`OwnedReadHalf`]/[`OwnedWriteHalf`] split for two tasks and its borrowed
//! [`ReadHalf`]/[`WriteHalf`] split for one, and the peer's [`UCred`]) and
//! [`UnixDatagram`].
//!
//! # Addresses
//!
//! Methods that take a path (`bind`, `connect`, `send_to`) accept any
//! `AsRef<Path>`. On Linux, a path whose first byte is NUL (`"\0name"`) names the
//! socket in the abstract namespace (no file is created; the name goes away with the
//! socket). The `*_addr` variants take a [`std::os::unix::net::SocketAddr`] instead,
//! for example one built with `SocketAddrExt::from_abstract_name`.
//!
//! Addresses come back as [`std::os::unix::net::SocketAddr`]: a path, an abstract
//! name (Linux; see `SocketAddrExt::as_abstract_name`) or unnamed (the address of a
//! socket that was never bound, such as a client's end of a connection).
//!
//! A listener or datagram socket bound to a path leaves the file behind when it is
//! dropped (as in std and tokio): remove it before binding the same path again.
//!
//! # tokio parity
//!
//! The stream and listener methods of tokio 1.54 are here with tokio's names and
//! meaning (plus `peek`/`poll_peek` on Unix streams, which tokio has on TCP only),
//! except `UnixStream::try_io`/`async_io` (see [`crate::net::tcp`]: a closure written
//! for a non-blocking socket would block a worker on io_uring). Addresses are std's
//! [`std::os::unix::net::SocketAddr`] where tokio has its own `SocketAddr` wrapper;
//! both have `as_pathname` and `is_unnamed`.

mod datagram;
mod listener;
mod split;
mod split_borrowed;
mod stream;
mod ucred;

use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;

use socket2::SockAddr;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use split_borrowed::{ReadHalf, WriteHalf};
pub use stream::UnixStream;
pub use ucred::{UCred, gid_t, pid_t, uid_t};

/// The socket address of `path` (abstract when it starts with a NUL byte, on Linux).
pub(crate) fn path_addr(path: &Path) -> io::Result<SockAddr> {
    SockAddr::unix(path)
}

/// The socket address of a std Unix address.
///
/// # Errors
///
/// `InvalidInput` for an unnamed address (nothing can be bound or reached there).
pub(crate) fn sock_addr(address: &SocketAddr) -> io::Result<SockAddr> {
    if let Some(path) = address.as_pathname() {
        return SockAddr::unix(path);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(name) = std::os::linux::net::SocketAddrExt::as_abstract_name(address) {
        let mut bytes = Vec::with_capacity(name.len() + 1);
        bytes.push(0);
        bytes.extend_from_slice(name);
        let path: &std::ffi::OsStr = std::os::unix::ffi::OsStrExt::from_bytes(&bytes);
        return SockAddr::unix(path);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "an unnamed Unix socket address cannot be bound or connected to",
    ))
}

/// A socket address the kernel reported, as std's Unix address.
pub(crate) fn unix_addr(address: &SockAddr) -> io::Result<SocketAddr> {
    if let Some(path) = address.as_pathname() {
        return SocketAddr::from_pathname(path);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(name) = address.as_abstract_namespace() {
        return <SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(name);
    }
    // Unnamed: the kernel reports only the family (or, from `recvmsg`, nothing at all).
    let unix_family = address.family() == libc::AF_UNIX as libc::sa_family_t;
    let family_only = address.len() as usize <= size_of::<libc::sa_family_t>();
    if family_only && (unix_family || address.len() == 0) {
        return unnamed();
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "not a Unix socket address",
    ))
}

/// An unnamed address (std has no constructor for one: this takes it from an unbound
/// socket, once).
fn unnamed() -> io::Result<SocketAddr> {
    static UNNAMED: OnceLock<SocketAddr> = OnceLock::new();
    if let Some(address) = UNNAMED.get() {
        return Ok(address.clone());
    }
    let address = std::os::unix::net::UnixDatagram::unbound()?.local_addr()?;
    Ok(UNNAMED.get_or_init(|| address).clone())
}
