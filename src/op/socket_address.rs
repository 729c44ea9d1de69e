//! What socket syscalls fill in: the `msghdr` of `recvmsg`/`sendmsg` ([`MessageHeader`])
//! and the socket address the kernel writes into a `sockaddr_storage` ([`sock_addr`]).

use socket2::{SockAddr, SockAddrStorage};

/// A `msghdr` that ops keep next to the buffers it points into.
pub(crate) struct MessageHeader(pub(crate) libc::msghdr);

impl Default for MessageHeader {
    fn default() -> Self {
        // SAFETY: all zeroes is a valid `msghdr` (null pointers, zero lengths).
        MessageHeader(unsafe { std::mem::zeroed() })
    }
}

/// A socket address the kernel wrote into `storage` (`length` bytes).
pub(crate) fn sock_addr(storage: &libc::sockaddr_storage, length: libc::socklen_t) -> SockAddr {
    let mut copy = SockAddrStorage::zeroed();
    // SAFETY: `sockaddr_storage` is one of the platform's address types, and the storage
    // is exactly its size.
    unsafe { *copy.view_as::<libc::sockaddr_storage>() = *storage };
    let length = length.min(size_of::<libc::sockaddr_storage>() as libc::socklen_t);
    // SAFETY: the first `length` bytes are the address the kernel reported (clamped to
    // the storage).
    unsafe { SockAddr::new(copy, length) }
}
