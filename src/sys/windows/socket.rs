//! Sockets on Windows: the calls the readiness halves of the socket ops run, through
//! socket2 on a borrowed `SOCKET` (socket2 wraps `recv`/`WSARecv`/`WSARecvFrom`,
//! `send`/`WSASend`/`WSASendTo`, `accept`, `connect`, `shutdown`, `SO_ERROR`).
//!
//! Sockets are non-blocking (mio is the only backend here), so no call needs
//! `MSG_DONTWAIT`; a full or empty socket reports `WSAEWOULDBLOCK`, which std reads as
//! `WouldBlock`. The readiness halves make every call through the driver's
//! `Registration::try_io` (mio's `try_io`), because mio's readiness on Windows is
//! emulated: only a `WouldBlock` that mio sees re-arms the socket's poll.
//!
//! Differences from Unix that these calls smooth over, each noted where it happens:
//! a datagram larger than the buffer (`WSAEMSGSIZE`: the truncated bytes are
//! returned, as on Unix), and a receive on a socket shut down for reading
//! (`WSAESHUTDOWN`: end of stream, `Ok(0)`), both as socket2 maps them. Zero-length
//! receives differ (Winsock may report `WSAEWOULDBLOCK` for one on a stream with
//! nothing queued, where Linux returns 0): the stream types answer an empty buffer
//! with `Ok(0)` before any call, so none reaches [`recv`]; an empty datagram receive
//! takes one datagram on both (`WSAEMSGSIZE` with nothing copied).

use std::io;
use std::mem::MaybeUninit;
use std::os::windows::io::{BorrowedSocket, OwnedSocket, RawSocket};

use socket2::{MaybeUninitSlice, SockAddr, SockAddrStorage, SockRef, socklen_t};
use windows_sys::Win32::Networking::WinSock::{WSAEALREADY, WSAEINVAL, WSAEISCONN};

use super::IoVec;

/// `ty` as it is: socket2 creates Windows sockets non-inheritable already
/// (`WSA_FLAG_NO_HANDLE_INHERIT`), the counterpart of close-on-exec.
pub(crate) fn cloexec_type(ty: socket2::Type) -> socket2::Type {
    ty
}

/// Sets what a listener needs before `bind`: nothing. `SO_REUSEADDR` means something
/// else on Windows (another socket may bind the same address while this one uses it:
/// port stealing), and binding over connections in `TIME_WAIT` works without it, so
/// listeners do not set it (as std, mio and tokio do not on Windows).
pub(crate) fn set_listener_reuse(socket: &socket2::Socket) -> io::Result<()> {
    let _ = socket;
    Ok(())
}

/// Runs `call` on a socket2 view of `socket`.
fn with_socket<R>(socket: RawSocket, call: impl FnOnce(SockRef<'_>) -> R) -> R {
    // SAFETY: the caller of every function here keeps `socket` open for the call (an
    // op holds its socket's `FdRef`, a socket method borrows the socket); the borrow
    // ends with the call.
    let borrowed = unsafe { BorrowedSocket::borrow_raw(socket) };
    call(SockRef::from(&borrowed))
}

/// `len` bytes at `buf` as socket2's slice of maybe-uninitialised bytes.
///
/// # Safety
///
/// `buf` is valid for writes of `len` bytes for `'a`.
unsafe fn uninit_slice<'a>(buf: *mut u8, len: usize) -> MaybeUninitSlice<'a> {
    // SAFETY: the caller's contract; `MaybeUninit<u8>` has `u8`'s layout.
    MaybeUninitSlice::new(unsafe { std::slice::from_raw_parts_mut(buf.cast(), len) })
}

/// The receive slices for `iovecs`.
///
/// # Safety
///
/// Every vector is valid for writes of its length for `'a`.
unsafe fn receive_slices<'a>(iovecs: &[IoVec]) -> Vec<MaybeUninitSlice<'a>> {
    iovecs
        .iter()
        // SAFETY: the caller's contract.
        .map(|iovec| unsafe { uninit_slice(iovec.iov_base.cast(), iovec.iov_len) })
        .collect()
}

/// The send slices for `iovecs`.
///
/// # Safety
///
/// Every vector is valid for reads of its length in initialised bytes for `'a`.
unsafe fn send_slices_of<'a>(iovecs: &[IoVec]) -> Vec<io::IoSlice<'a>> {
    iovecs
        .iter()
        .map(|iovec| {
            // SAFETY: the caller's contract.
            io::IoSlice::new(unsafe {
                std::slice::from_raw_parts(iovec.iov_base.cast::<u8>(), iovec.iov_len)
            })
        })
        .collect()
}

/// `WSARecv` into one buffer: up to `len` bytes into `buf`. Vectored, so that a
/// datagram larger than the buffer returns its first `len` bytes as on Unix (a plain
/// `recv` fails with `WSAEMSGSIZE`).
///
/// # Safety
///
/// `buf` is valid for writes of `len` bytes.
pub(crate) unsafe fn recv(socket: RawSocket, buf: *mut u8, len: usize) -> io::Result<usize> {
    // SAFETY: the caller's contract.
    let mut slices = [unsafe { uninit_slice(buf, len) }];
    with_socket(socket, |socket| socket.recv_vectored(&mut slices)).map(|(read, _)| read)
}

/// `send`: up to `len` bytes from `buf`.
///
/// # Safety
///
/// `buf` is valid for reads of `len` initialised bytes.
pub(crate) unsafe fn send(socket: RawSocket, buf: *const u8, len: usize) -> io::Result<usize> {
    // SAFETY: the caller's contract.
    let bytes = unsafe { std::slice::from_raw_parts(buf, len) };
    with_socket(socket, |socket| socket.send(bytes))
}

/// What a vectored receive or send transfers, and the address it fills in or sends
/// to: the Windows stand-in for a `msghdr` (Winsock's `WSAMSG` calls need extension
/// function pointers, socket2's vectored calls do not), built by the ops the same way.
pub(crate) struct MessageHeader {
    iovecs: *mut IoVec,
    count: usize,
    name: *mut SockAddrStorage,
    name_length: socklen_t,
}

impl Default for MessageHeader {
    fn default() -> Self {
        MessageHeader {
            iovecs: std::ptr::null_mut(),
            count: 0,
            name: std::ptr::null_mut(),
            name_length: 0,
        }
    }
}

impl MessageHeader {
    /// Points the header at `count` buffers starting at `iovecs`, and at `name` (an
    /// address to fill in or to send to, `length` bytes; null for none).
    pub(crate) fn point_at(
        &mut self,
        iovecs: *mut IoVec,
        count: usize,
        name: *mut SockAddrStorage,
        length: socklen_t,
    ) {
        self.iovecs = iovecs;
        self.count = count;
        self.name = name;
        self.name_length = if name.is_null() { 0 } else { length };
    }

    /// The length of the address a receive wrote.
    pub(crate) fn name_length(&self) -> socklen_t {
        self.name_length
    }

    /// The buffers.
    ///
    /// # Safety
    ///
    /// The header points at `count` live vectors.
    unsafe fn vectors(&self) -> &[IoVec] {
        if self.count == 0 {
            return &[];
        }
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(self.iovecs, self.count) }
    }
}

/// `WSARecv`, or `WSARecvFrom` when the header names an address storage (which then
/// receives the sender's address), into what `header` points at. A datagram larger
/// than the buffers returns the bytes that fit, as on Unix.
///
/// # Safety
///
/// `header` points at live buffers (valid for writes of their lengths) and, if it
/// names one, a live address storage.
pub(crate) unsafe fn recv_msg(socket: RawSocket, header: &mut MessageHeader) -> io::Result<usize> {
    // SAFETY: the caller's contract.
    let mut slices = unsafe { receive_slices(header.vectors()) };
    if header.name.is_null() {
        return with_socket(socket, |socket| socket.recv_vectored(&mut slices))
            .map(|(read, _)| read);
    }
    let (read, _, sender) = with_socket(socket, |socket| socket.recv_from_vectored(&mut slices))?;
    let length = sender.len().min(size_of::<SockAddrStorage>() as socklen_t);
    // SAFETY: the storage is live (the caller's contract) and as large as any
    // address; `length` bytes of `sender` are initialised.
    unsafe {
        std::ptr::copy_nonoverlapping(
            sender.as_ptr().cast::<u8>(),
            header.name.cast::<u8>(),
            length as usize,
        );
    }
    header.name_length = length;
    Ok(read)
}

/// `WSASend`, or `WSASendTo` when the header names an address, of what `header` points
/// at.
///
/// # Safety
///
/// `header` points at live, initialised buffers and, if it names one, a live address
/// of the header's length.
pub(crate) unsafe fn send_msg(socket: RawSocket, header: &MessageHeader) -> io::Result<usize> {
    // SAFETY: the caller's contract.
    let slices = unsafe { send_slices_of(header.vectors()) };
    if header.name.is_null() {
        return with_socket(socket, |socket| socket.send_vectored(&slices));
    }
    // SAFETY: the address is live and initialised for its length (the caller's
    // contract); the storage is plain data, copied bit for bit.
    let target = unsafe { SockAddr::new(std::ptr::read(header.name), header.name_length) };
    with_socket(socket, |socket| socket.send_to_vectored(&slices, &target))
}

/// `WSARecv` into std's slices.
pub(crate) fn recv_slices(socket: RawSocket, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
    let mut slices: Vec<MaybeUninitSlice<'_>> = bufs
        .iter_mut()
        .map(|buf| {
            let bytes: &mut [u8] = buf;
            // SAFETY: `MaybeUninit<u8>` has `u8`'s layout, and the receive writes only
            // initialised bytes into the (already initialised) slice.
            MaybeUninitSlice::new(unsafe { &mut *(bytes as *mut [u8] as *mut [MaybeUninit<u8>]) })
        })
        .collect();
    with_socket(socket, |socket| socket.recv_vectored(&mut slices)).map(|(read, _)| read)
}

/// `WSASend` of std's slices.
pub(crate) fn send_slices(socket: RawSocket, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    with_socket(socket, |socket| socket.send_vectored(bufs))
}

/// The flags of one receive through socket2's `*_with_flags` calls: `MSG_PEEK` when
/// `peek` (the data stays queued), else none (the socket is non-blocking; Winsock has
/// no `MSG_DONTWAIT`).
pub(crate) fn receive_flags(peek: bool) -> std::ffi::c_int {
    if peek {
        windows_sys::Win32::Networking::WinSock::MSG_PEEK as std::ffi::c_int
    } else {
        0
    }
}

/// The flags of one send through socket2's `*_with_flags` calls: none (the socket is
/// non-blocking, and there is no `SIGPIPE` to suppress).
pub(crate) fn nonblocking_send_flags() -> std::ffi::c_int {
    0
}

/// `accept` returning a non-inheritable, non-blocking socket (socket2 clears the
/// inheritance flag; the mode is set here, although an accepted socket inherits the
/// listener's), with the peer's address in `peer` and its length in `length`.
pub(crate) fn accept(
    listener: RawSocket,
    peer: &mut SockAddrStorage,
    length: &mut socklen_t,
) -> io::Result<OwnedSocket> {
    let (socket, address) = with_socket(listener, |listener| listener.accept())?;
    socket.set_nonblocking(true)?;
    let copied = address.len().min(size_of::<SockAddrStorage>() as socklen_t);
    // SAFETY: `peer` is a live storage as large as any address; `copied` bytes of
    // `address` are initialised.
    unsafe {
        std::ptr::copy_nonoverlapping(
            address.as_ptr().cast::<u8>(),
            (peer as *mut SockAddrStorage).cast::<u8>(),
            copied as usize,
        );
    }
    *length = copied;
    Ok(socket.into())
}

/// `connect` on a non-blocking socket: `WouldBlock` while the connection is in
/// progress (`WSAEWOULDBLOCK`).
pub(crate) fn connect(socket: RawSocket, address: &SockAddr) -> io::Result<()> {
    with_socket(socket, |socket| socket.connect(address))
}

/// Whether `error`, from a first `connect` on a non-blocking socket, means the
/// connection goes on in the background (`WSAEWOULDBLOCK`).
pub(crate) fn connect_in_progress(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}

/// Whether `error`, from a `connect` on a socket whose connect was already started,
/// means it is still in progress (`WSAEALREADY`; `WSAEINVAL` on older Windows) or done
/// (`WSAEISCONN`): `Some(true)` in progress, `Some(false)` connected, `None` neither.
pub(crate) fn connect_again_state(error: &io::Error) -> Option<bool> {
    match error.raw_os_error() {
        Some(code) if code == WSAEALREADY || code == WSAEINVAL => Some(true),
        Some(code) if code == WSAEISCONN => Some(false),
        _ => None,
    }
}

/// The pending error of `socket` (`SO_ERROR`, which reading clears), as a result.
pub(crate) fn take_error(socket: RawSocket) -> io::Result<()> {
    match with_socket(socket, |socket| socket.take_error())? {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// `shutdown`.
pub(crate) fn shutdown(socket: RawSocket, how: std::net::Shutdown) -> io::Result<()> {
    with_socket(socket, |socket| socket.shutdown(how))
}
