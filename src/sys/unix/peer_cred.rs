//! The credentials of a Unix stream socket's peer: `SO_PEERCRED` on Linux and Android
//! (user, group and process id), `getpeereid` on the other Unix targets (user and
//! group; no process id).

use std::io;
use std::os::fd::RawFd;

/// What the kernel recorded of the peer process when the connection was made.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerCredentials {
    pub(crate) uid: libc::uid_t,
    pub(crate) gid: libc::gid_t,
    pub(crate) pid: Option<libc::pid_t>,
}

/// The credentials of the peer of the connected Unix stream socket `fd`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn peer_credentials(fd: RawFd) -> io::Result<PeerCredentials> {
    let mut credentials = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut length = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `credentials` and `length` are valid for `getsockopt` to write a `ucred`
    // and its length into.
    let result = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut credentials).cast(),
            &mut length,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCredentials {
        uid: credentials.uid,
        gid: credentials.gid,
        pid: Some(credentials.pid),
    })
}

/// The credentials of the peer of the connected Unix stream socket `fd`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn peer_credentials(fd: RawFd) -> io::Result<PeerCredentials> {
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: `uid` and `gid` are valid for `getpeereid` to write into.
    if unsafe { libc::getpeereid(fd, &mut uid, &mut gid) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCredentials {
        uid,
        gid,
        pid: None,
    })
}
