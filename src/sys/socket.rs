//! Socket creation and sending flags: close-on-exec at creation, an accept that returns
//! a close-on-exec, non-blocking socket, and the send flags that keep a write to a
//! closed peer from raising `SIGPIPE`.
//!
//! Where the target has the flags (`ringtide_atomic_flags`), the calls are the single
//! syscalls (`socket(SOCK_CLOEXEC)`, `accept4(SOCK_CLOEXEC | SOCK_NONBLOCK)`,
//! `send(MSG_NOSIGNAL)`). Elsewhere (Apple) another thread's `fork`/`exec` between the
//! creation and the `fcntl` can inherit the descriptor, as with std and mio there, and
//! `SIGPIPE` is off per socket: `SO_NOSIGPIPE`, which socket2 sets on the sockets it
//! creates and [`accept_cloexec_nonblocking`] sets on accepted ones.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// `ty` with `SOCK_CLOEXEC` where the target has the flag, for socket2's
/// `Socket::new`/`Socket::pair`. Elsewhere socket2 sets `FD_CLOEXEC` (and, on Apple,
/// `SO_NOSIGPIPE`) right after creating the socket, so `ty` is returned as it is.
pub(crate) fn cloexec_type(ty: socket2::Type) -> socket2::Type {
    #[cfg(ringtide_atomic_flags)]
    return ty.cloexec();
    #[cfg(not(ringtide_atomic_flags))]
    return ty;
}

/// The flags every `send`/`sendmsg` passes besides `MSG_DONTWAIT`: `MSG_NOSIGNAL`
/// where the target has it; none elsewhere, where the socket's `SO_NOSIGPIPE` does the
/// same.
pub(crate) const fn send_flags() -> libc::c_int {
    #[cfg(ringtide_atomic_flags)]
    return libc::MSG_NOSIGNAL;
    #[cfg(not(ringtide_atomic_flags))]
    return 0;
}

/// `accept(2)` returning a close-on-exec, non-blocking socket (and, where sends cannot
/// say `MSG_NOSIGNAL`, one with `SO_NOSIGPIPE` set).
///
/// # Safety
///
/// `address` and `length` must be valid for the kernel to write a peer address into,
/// as for `accept(2)`.
pub(crate) unsafe fn accept_cloexec_nonblocking(
    listener: RawFd,
    address: *mut libc::sockaddr,
    length: *mut libc::socklen_t,
) -> io::Result<OwnedFd> {
    #[cfg(ringtide_atomic_flags)]
    // SAFETY: the caller's contract is accept4's.
    let fd = unsafe {
        libc::accept4(
            listener,
            address,
            length,
            libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
        )
    };
    #[cfg(not(ringtide_atomic_flags))]
    // SAFETY: the caller's contract is accept's.
    let fd = unsafe { libc::accept(listener, address, length) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just accepted and is owned by nobody else.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    #[cfg(not(ringtide_atomic_flags))]
    {
        set_cloexec_nonblocking(fd)?;
        set_nosigpipe(fd)?;
    }
    Ok(socket)
}

/// Sets `FD_CLOEXEC` and `O_NONBLOCK` on `fd`.
#[cfg(not(ringtide_atomic_flags))]
fn set_cloexec_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller owns; F_SETFD/F_GETFL/F_SETFL take (or
    // return) int flags.
    unsafe {
        if libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) != 0 {
            return Err(io::Error::last_os_error());
        }
        let status = libc::fcntl(fd, libc::F_GETFL);
        if status < 0 || libc::fcntl(fd, libc::F_SETFL, status | libc::O_NONBLOCK) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sets `SO_NOSIGPIPE` on `socket`: a send to a closed peer fails with `EPIPE` instead
/// of raising `SIGPIPE` (what `MSG_NOSIGNAL` does per call where it exists).
#[cfg(not(ringtide_atomic_flags))]
fn set_nosigpipe(socket: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `on` is a live c_int and the length passed is its size.
    let result = unsafe {
        libc::setsockopt(
            socket,
            libc::SOL_SOCKET,
            libc::SO_NOSIGPIPE,
            (&raw const on).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
