//! The socket address the kernel writes into an op's address storage ([`sock_addr`]):
//! the peer of an accept, the sender of a `recvmsg`. (The `msghdr` of
//! `recvmsg`/`sendmsg` is the platform's, `sys::socket::MessageHeader`.)

use socket2::{SockAddr, SockAddrStorage, socklen_t};

/// A socket address the kernel wrote into `storage` (`length` bytes).
pub(crate) fn sock_addr(storage: &SockAddrStorage, length: socklen_t) -> SockAddr {
    // SAFETY: `SockAddrStorage` is plain data (a `sockaddr_storage`, no drop glue), so a
    // bitwise copy is a valid, independent value.
    let copy = unsafe { std::ptr::read(storage) };
    let length = length.clamp(0, size_of::<SockAddrStorage>() as socklen_t);
    // SAFETY: the first `length` bytes are the address the kernel reported (clamped to
    // the storage).
    unsafe { SockAddr::new(copy, length) }
}
