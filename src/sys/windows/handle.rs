//! The Windows names of the handle types (see `sys`): sockets are std's socket types,
//! files are handles ([`RawFile`] wraps std's `RawHandle`).

use std::fmt;
use std::os::windows::io::{AsRawSocket, FromRawSocket, IntoRawSocket, RawHandle};

pub(crate) use std::os::windows::io::OwnedHandle as OwnedFile;
pub(crate) use std::os::windows::io::{AsSocket, BorrowedSocket, OwnedSocket, RawSocket};

/// A file handle's number. std's `RawHandle` is a raw pointer, neither `Send` nor
/// `Sync`; a handle's value is only a number the kernel looks up, so this copy of it
/// may cross threads like a `RawSocket` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawFile(RawHandle);

// SAFETY: the wrapped pointer is never dereferenced: it is a handle value, which only
// the kernel interprets, from any thread of the process.
unsafe impl Send for RawFile {}
// SAFETY: as above; a shared `RawFile` only hands out copies of the value.
unsafe impl Sync for RawFile {}

impl RawFile {
    /// The number of `handle`.
    pub(crate) fn new(handle: RawHandle) -> RawFile {
        RawFile(handle)
    }

    /// The handle value, for std's and the OS's calls.
    pub(crate) fn handle(self) -> RawHandle {
        self.0
    }
}

/// An iovec-like pair (the pointer first, then the length), so the ops' vectored I/O
/// is built the same way on both platforms; the calls below turn it into what Winsock
/// and std take.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct IoVec {
    /// Where the buffer starts.
    pub(crate) iov_base: *mut std::ffi::c_void,
    /// Its length in bytes.
    pub(crate) iov_len: usize,
}

/// An object that the OS names by a raw number (for `io::shared_fd`, which keeps the
/// number next to the object that closes it): every `AsRawSocket`, and the crate's
/// file owner (which implements it with [`RawFile`]).
pub(crate) trait AsRawIo {
    /// The number's type: `RawSocket` or [`RawFile`].
    type Raw: Copy + fmt::Debug + Send + Sync + 'static;

    /// The number (valid while `self` is alive).
    fn as_raw_io(&self) -> Self::Raw;
}

impl<T: AsRawSocket> AsRawIo for T {
    type Raw = RawSocket;

    fn as_raw_io(&self) -> RawSocket {
        self.as_raw_socket()
    }
}

/// Borrows `socket`'s handle.
pub(crate) fn borrow_socket(socket: &impl AsSocket) -> BorrowedSocket<'_> {
    socket.as_socket()
}

/// Gives up ownership of `socket`, returning its number (which the caller now owns).
pub(crate) fn socket_into_raw(socket: OwnedSocket) -> RawSocket {
    socket.into_raw_socket()
}

/// Owns the socket numbered `raw`.
///
/// # Safety
///
/// `raw` is an open socket that nothing else owns.
pub(crate) unsafe fn socket_from_raw(raw: RawSocket) -> OwnedSocket {
    // SAFETY: the caller's contract.
    unsafe { OwnedSocket::from_raw_socket(raw) }
}

/// A socket number as an op's result carries it (`OpCode::attempt` returns a
/// `usize`; a `SOCKET` is pointer-sized, so it fits); [`socket_from_result`] turns it
/// back.
pub(crate) fn socket_as_result(raw: RawSocket) -> usize {
    raw as usize
}

/// The socket number in an op's result (see [`socket_as_result`]).
pub(crate) fn socket_from_result(result: usize) -> RawSocket {
    result as RawSocket
}

/// Implements the platform's traits for borrowing a socket's number on `$type`
/// (`AsSocket` and `AsRawSocket` here; `AsFd` and `AsRawFd` on Unix), with `$borrow`
/// (an expression of `$this: &$type`) giving the `BorrowedSocket`.
macro_rules! impl_as_socket {
    ($type:ty, |$this:ident| $borrow:expr) => {
        impl ::std::os::windows::io::AsSocket for $type {
            fn as_socket(&self) -> ::std::os::windows::io::BorrowedSocket<'_> {
                let $this = self;
                $borrow
            }
        }

        impl ::std::os::windows::io::AsRawSocket for $type {
            fn as_raw_socket(&self) -> ::std::os::windows::io::RawSocket {
                ::std::os::windows::io::AsRawSocket::as_raw_socket(
                    &::std::os::windows::io::AsSocket::as_socket(self),
                )
            }
        }
    };
}
pub(crate) use impl_as_socket;

/// Implements the platform's trait for giving up a socket's number on `$type`
/// (`IntoRawSocket` here; `IntoRawFd` on Unix), with `$owned` (an expression of
/// `$this: $type`) giving the `OwnedSocket`; the attributes (the docs) go on the method.
macro_rules! impl_into_raw_socket {
    ($type:ty, $(#[$attribute:meta])* |$this:ident| $owned:expr) => {
        impl ::std::os::windows::io::IntoRawSocket for $type {
            $(#[$attribute])*
            fn into_raw_socket(self) -> ::std::os::windows::io::RawSocket {
                let $this = self;
                ::std::os::windows::io::IntoRawSocket::into_raw_socket($owned)
            }
        }
    };
}
pub(crate) use impl_into_raw_socket;

/// Implements the platform's trait for taking a socket over by number on `$type`
/// (`FromRawSocket` here; `FromRawFd` on Unix), with `$make` (an expression of
/// `$owned: OwnedSocket`) building the value.
macro_rules! impl_from_raw_socket {
    ($type:ty, $(#[$attribute:meta])* |$owned:ident| $make:expr) => {
        impl ::std::os::windows::io::FromRawSocket for $type {
            $(#[$attribute])*
            unsafe fn from_raw_socket(socket: ::std::os::windows::io::RawSocket) -> $type {
                // SAFETY: the caller's contract (`socket` is an open socket that nothing
                // else owns) is `OwnedSocket::from_raw_socket`'s.
                let $owned = unsafe {
                    <::std::os::windows::io::OwnedSocket as ::std::os::windows::io::FromRawSocket>::from_raw_socket(socket)
                };
                $make
            }
        }
    };
}
pub(crate) use impl_from_raw_socket;
