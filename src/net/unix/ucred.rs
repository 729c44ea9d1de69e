//! [`UCred`]: the credentials of a Unix stream's peer process
//! ([`UnixStream::peer_cred`](crate::net::UnixStream::peer_cred)), as tokio's
//! `net::unix::UCred`. The platform call is `sys::peer_cred`'s.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::sys::peer_cred::peer_credentials;

/// A user id (tokio's `net::unix::uid_t`).
#[allow(non_camel_case_types)]
pub type uid_t = libc::uid_t;
/// A group id (tokio's `net::unix::gid_t`).
#[allow(non_camel_case_types)]
pub type gid_t = libc::gid_t;
/// A process id (tokio's `net::unix::pid_t`).
#[allow(non_camel_case_types)]
pub type pid_t = libc::pid_t;

/// The user, group and (where the platform reports it) process id of the process at
/// the other end of a Unix stream, as the kernel recorded them when the connection was
/// made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UCred {
    uid: uid_t,
    gid: gid_t,
    pid: Option<pid_t>,
}

impl UCred {
    pub(crate) fn of_peer(fd: BorrowedFd<'_>) -> io::Result<UCred> {
        let credentials = peer_credentials(fd.as_raw_fd())?;
        Ok(UCred {
            uid: credentials.uid,
            gid: credentials.gid,
            pid: credentials.pid,
        })
    }

    /// The peer's effective user id.
    pub fn uid(&self) -> uid_t {
        self.uid
    }

    /// The peer's effective group id.
    pub fn gid(&self) -> gid_t {
        self.gid
    }

    /// The peer's process id: `Some` on Linux and Android, `None` where the platform
    /// does not report it.
    pub fn pid(&self) -> Option<pid_t> {
        self.pid
    }
}
