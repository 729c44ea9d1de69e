//! Sockets on Unix: creation flags (close-on-exec at creation, an accept that returns a
//! close-on-exec, non-blocking socket, and the send flags that keep a write to a closed
//! peer from raising `SIGPIPE`), and the non-blocking calls the readiness halves of the
//! socket ops run: `recv`, `send`, `recvmsg`/`sendmsg` (with [`MessageHeader`]), their
//! forms over std's `IoSlice`s, `accept`, `connect`, `shutdown` and `SO_ERROR`. Every
//! receive and send passes `MSG_DONTWAIT`: on io_uring sockets stay in blocking mode,
//! and these calls must not block there either.
//!
//! Where the target has the flags (`ringtide_atomic_flags`), the calls are the single
//! syscalls (`socket(SOCK_CLOEXEC)`, `accept4(SOCK_CLOEXEC | SOCK_NONBLOCK)`,
//! `send(MSG_NOSIGNAL)`). Elsewhere (Apple) another thread's `fork`/`exec` between the
//! creation and the `fcntl` can inherit the descriptor, as with std and mio there, and
//! `SIGPIPE` is off per socket: `SO_NOSIGPIPE`, which socket2 sets on the sockets it
//! creates and [`accept_cloexec_nonblocking`] sets on accepted ones.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use socket2::{SockAddr, SockAddrStorage, socklen_t};

use super::IoVec;

/// `ty` with `SOCK_CLOEXEC` where the target has the flag, for socket2's
/// `Socket::new`/`Socket::pair`. Elsewhere socket2 sets `FD_CLOEXEC` (and, on Apple,
/// `SO_NOSIGPIPE`) right after creating the socket, so `ty` is returned as it is.
pub(crate) fn cloexec_type(ty: socket2::Type) -> socket2::Type {
    #[cfg(ringtide_atomic_flags)]
    return ty.cloexec();
    #[cfg(not(ringtide_atomic_flags))]
    return ty;
}

/// Sets what a listener needs before `bind`: `SO_REUSEADDR`, so that a restarted
/// server binds its port while connections of the old one are in `TIME_WAIT`.
pub(crate) fn set_listener_reuse(socket: &socket2::Socket) -> io::Result<()> {
    socket.set_reuse_address(true)
}

/// The flags every `send`/`sendmsg` passes besides `MSG_DONTWAIT`: `MSG_NOSIGNAL`
/// where the target has it; none elsewhere, where the socket's `SO_NOSIGPIPE` does the
/// same.
const fn send_flags() -> libc::c_int {
    #[cfg(ringtide_atomic_flags)]
    return libc::MSG_NOSIGNAL;
    #[cfg(not(ringtide_atomic_flags))]
    return 0;
}

/// The flags of one non-blocking receive through socket2's `*_with_flags` calls:
/// `MSG_DONTWAIT`, and `MSG_PEEK` when `peek` (the data stays queued).
pub(crate) fn receive_flags(peek: bool) -> libc::c_int {
    if peek {
        libc::MSG_DONTWAIT | libc::MSG_PEEK
    } else {
        libc::MSG_DONTWAIT
    }
}

/// The flags of one non-blocking send through socket2's `*_with_flags` calls:
/// `MSG_DONTWAIT`, and `MSG_NOSIGNAL` where the target has it.
pub(crate) fn nonblocking_send_flags() -> libc::c_int {
    libc::MSG_DONTWAIT | send_flags()
}

/// `accept(2)` returning a close-on-exec, non-blocking socket (and, where sends cannot
/// say `MSG_NOSIGNAL`, one with `SO_NOSIGPIPE` set); the peer's address goes to `peer`
/// and its length to `length` (which is reset to the storage's size first).
pub(crate) fn accept(
    listener: RawFd,
    peer: &mut SockAddrStorage,
    length: &mut socklen_t,
) -> io::Result<OwnedFd> {
    *length = size_of::<SockAddrStorage>() as socklen_t;
    // SAFETY: `peer` and `length` are live and exclusively ours for the call; the
    // storage is as large as any socket address.
    unsafe { accept_cloexec_nonblocking(listener, (peer as *mut SockAddrStorage).cast(), length) }
}

/// `accept(2)` returning a close-on-exec, non-blocking socket (and, where sends cannot
/// say `MSG_NOSIGNAL`, one with `SO_NOSIGPIPE` set).
///
/// # Safety
///
/// `address` and `length` must be valid for the kernel to write a peer address into,
/// as for `accept(2)`.
unsafe fn accept_cloexec_nonblocking(
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

/// A `syscall`'s `ssize_t` as a count, or the errno.
fn count(result: isize) -> io::Result<usize> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result as usize)
    }
}

/// `recv(2)`, never blocking: up to `len` bytes into `buf`.
///
/// # Safety
///
/// `buf` is valid for writes of `len` bytes.
pub(crate) unsafe fn recv(socket: RawFd, buf: *mut u8, len: usize) -> io::Result<usize> {
    // SAFETY: the caller's contract.
    count(unsafe {
        libc::recv(
            socket,
            buf.cast(),
            len.min(isize::MAX as usize),
            libc::MSG_DONTWAIT,
        )
    })
}

/// `send(2)`, never blocking and never raising `SIGPIPE`: up to `len` bytes from `buf`.
///
/// # Safety
///
/// `buf` is valid for reads of `len` initialised bytes.
pub(crate) unsafe fn send(socket: RawFd, buf: *const u8, len: usize) -> io::Result<usize> {
    // SAFETY: the caller's contract.
    count(unsafe {
        libc::send(
            socket,
            buf.cast(),
            len.min(isize::MAX as usize),
            send_flags() | libc::MSG_DONTWAIT,
        )
    })
}

/// A `msghdr` that an op keeps next to the buffers and the address it points at (the
/// kernel reads it, and writes its lengths and flags, while a `RECVMSG`/`SENDMSG` is in
/// flight on io_uring; the readiness half passes it to `recvmsg`/`sendmsg`).
pub(crate) struct MessageHeader(libc::msghdr);

impl Default for MessageHeader {
    fn default() -> Self {
        // SAFETY: all zeroes is a valid `msghdr` (null pointers, zero lengths).
        MessageHeader(unsafe { std::mem::zeroed() })
    }
}

impl MessageHeader {
    /// Points the header at `count` buffers starting at `iovecs`, and at `name` (an
    /// address to fill in or to send to, `length` bytes; null for none), with no
    /// control data and no flags.
    pub(crate) fn point_at(
        &mut self,
        iovecs: *mut IoVec,
        count: usize,
        name: *mut SockAddrStorage,
        length: socklen_t,
    ) {
        let header = &mut self.0;
        header.msg_name = name.cast();
        header.msg_namelen = if name.is_null() { 0 } else { length };
        header.msg_iov = iovecs;
        header.msg_iovlen = count as _;
        header.msg_control = std::ptr::null_mut();
        header.msg_controllen = 0;
        header.msg_flags = 0;
    }

    /// The length of the address the kernel wrote (after a receive).
    pub(crate) fn name_length(&self) -> socklen_t {
        self.0.msg_namelen
    }

    /// The header, for an SQE (io_uring).
    #[cfg(ringtide_uring)]
    pub(crate) fn as_mut_ptr(&mut self) -> *mut libc::msghdr {
        &mut self.0
    }
}

/// `recvmsg(2)`, never blocking, into what `header` points at.
///
/// # Safety
///
/// `header` points at live buffers (valid for writes of their lengths) and, if it
/// names one, a live address storage.
pub(crate) unsafe fn recv_msg(socket: RawFd, header: &mut MessageHeader) -> io::Result<usize> {
    // SAFETY: the caller's contract.
    count(unsafe { libc::recvmsg(socket, &mut header.0, libc::MSG_DONTWAIT) })
}

/// `sendmsg(2)`, never blocking and never raising `SIGPIPE`, of what `header` points
/// at.
///
/// # Safety
///
/// `header` points at live, initialised buffers and, if it names one, a live address.
pub(crate) unsafe fn send_msg(socket: RawFd, header: &MessageHeader) -> io::Result<usize> {
    // SAFETY: the caller's contract.
    count(unsafe { libc::sendmsg(socket, &header.0, send_flags() | libc::MSG_DONTWAIT) })
}

/// `recvmsg(2)` into std's slices, never blocking (the caller passes at most
/// `IOV_MAX` of them).
pub(crate) fn recv_slices(socket: RawFd, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
    let mut header = MessageHeader::default();
    // `IoSliceMut` is ABI-compatible with `iovec` (std guarantees it on Unix).
    header.point_at(
        bufs.as_mut_ptr().cast(),
        bufs.len(),
        std::ptr::null_mut(),
        0,
    );
    // SAFETY: the slices are valid and writable for the whole call; no address.
    unsafe { recv_msg(socket, &mut header) }
}

/// `sendmsg(2)` of std's slices, never blocking and never raising `SIGPIPE`.
pub(crate) fn send_slices(socket: RawFd, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    let mut header = MessageHeader::default();
    // `IoSlice` is ABI-compatible with `iovec`; `sendmsg` only reads through it.
    header.point_at(
        bufs.as_ptr().cast_mut().cast(),
        bufs.len(),
        std::ptr::null_mut(),
        0,
    );
    // SAFETY: the slices live for the whole call; no address.
    unsafe { send_msg(socket, &header) }
}

/// `connect(2)` on a non-blocking socket: `WouldBlock` while the connection is in
/// progress (`EINPROGRESS`).
pub(crate) fn connect(socket: RawFd, address: &SockAddr) -> io::Result<()> {
    // SAFETY: the address pointer and length describe a valid socket address.
    let result = unsafe { libc::connect(socket, address.as_ptr().cast(), address.len()) };
    if result == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EINPROGRESS) => Err(io::ErrorKind::WouldBlock.into()),
        _ => Err(error),
    }
}

/// Whether `error`, from a first `connect` on a non-blocking socket, means the
/// connection goes on in the background (`EINPROGRESS`, or `EINTR`: interrupted, it
/// still completes asynchronously).
pub(crate) fn connect_in_progress(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR))
}

/// Whether `error`, from a `connect` on a socket whose connect was already started,
/// means it is still in progress (`EALREADY`, `EINPROGRESS`) or done (`EISCONN`):
/// `Some(true)` in progress, `Some(false)` connected, `None` neither.
pub(crate) fn connect_again_state(error: &io::Error) -> Option<bool> {
    match error.raw_os_error() {
        Some(libc::EALREADY | libc::EINPROGRESS) => Some(true),
        Some(libc::EISCONN) => Some(false),
        _ => None,
    }
}

/// The pending error of `socket` (`SO_ERROR`, which reading clears), as a result.
pub(crate) fn take_error(socket: RawFd) -> io::Result<()> {
    let mut error: libc::c_int = 0;
    let mut length = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `error` and `length` are valid for `getsockopt` to write an int and its
    // length into.
    let result = unsafe {
        libc::getsockopt(
            socket,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&raw mut error).cast(),
            &mut length,
        )
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    match error {
        0 => Ok(()),
        code => Err(io::Error::from_raw_os_error(code)),
    }
}

/// `shutdown(2)`.
pub(crate) fn shutdown(socket: RawFd, how: std::net::Shutdown) -> io::Result<()> {
    let how = match how {
        std::net::Shutdown::Read => libc::SHUT_RD,
        std::net::Shutdown::Write => libc::SHUT_WR,
        std::net::Shutdown::Both => libc::SHUT_RDWR,
    };
    // SAFETY: shutdown on a socket the caller keeps open; no memory is passed.
    if unsafe { libc::shutdown(socket, how) } < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
