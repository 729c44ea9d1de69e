//! The Unix names of the handle types (see `sys`): sockets and files are both file
//! descriptors, so `RawSocket` and `RawFile` are `RawFd`, and so on.

use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};

pub(crate) use std::os::fd::{
    AsFd as AsSocket, BorrowedFd as BorrowedSocket, OwnedFd as OwnedSocket, RawFd as RawSocket,
};
pub(crate) use std::os::fd::{OwnedFd as OwnedFile, RawFd as RawFile};

/// An `iovec`: where one buffer of a vectored call starts, and its length.
pub(crate) type IoVec = libc::iovec;

/// An object that the OS names by a raw number (for `io::shared_fd`, which keeps the
/// number next to the object that closes it). On Unix that is every `AsRawFd`.
pub(crate) trait AsRawIo {
    /// The number's type: `RawFd` here.
    type Raw: Copy + fmt::Debug + Send + Sync + 'static;

    /// The number (valid while `self` is alive).
    fn as_raw_io(&self) -> Self::Raw;
}

impl<T: AsRawFd> AsRawIo for T {
    type Raw = RawSocket;

    fn as_raw_io(&self) -> RawSocket {
        self.as_raw_fd()
    }
}

/// Borrows `socket`'s fd.
pub(crate) fn borrow_socket(socket: &impl AsSocket) -> BorrowedSocket<'_> {
    socket.as_fd()
}

/// Gives up ownership of `socket`, returning its number (which the caller now owns).
pub(crate) fn socket_into_raw(socket: OwnedSocket) -> RawSocket {
    socket.into_raw_fd()
}

/// Owns the socket numbered `raw`.
///
/// # Safety
///
/// `raw` is an open socket that nothing else owns.
pub(crate) unsafe fn socket_from_raw(raw: RawSocket) -> OwnedSocket {
    // SAFETY: the caller's contract.
    unsafe { OwnedSocket::from_raw_fd(raw) }
}

/// A socket number as an op's result carries it (`OpCode::attempt` returns a
/// `usize`); [`socket_from_result`] turns it back.
pub(crate) fn socket_as_result(raw: RawSocket) -> usize {
    debug_assert!(raw >= 0, "an open fd is never negative");
    raw as usize
}

/// The socket number in an op's result (see [`socket_as_result`]).
pub(crate) fn socket_from_result(result: usize) -> RawSocket {
    result as RawSocket
}

/// Implements the platform's traits for borrowing a socket's number on `$type`
/// (`AsFd` and `AsRawFd` here; `AsSocket` and `AsRawSocket` on Windows), with
/// `$borrow` (an expression of `$this: &$type`) giving the `BorrowedSocket`.
macro_rules! impl_as_socket {
    ($type:ty, |$this:ident| $borrow:expr) => {
        impl ::std::os::fd::AsFd for $type {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                let $this = self;
                $borrow
            }
        }

        impl ::std::os::fd::AsRawFd for $type {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                ::std::os::fd::AsRawFd::as_raw_fd(&::std::os::fd::AsFd::as_fd(self))
            }
        }
    };
}
pub(crate) use impl_as_socket;

/// Implements the platform's trait for giving up a socket's number on `$type`
/// (`IntoRawFd` here; `IntoRawSocket` on Windows), with `$owned` (an expression of
/// `$this: $type`) giving the `OwnedSocket`; the attributes (the docs) go on the method.
macro_rules! impl_into_raw_socket {
    ($type:ty, $(#[$attribute:meta])* |$this:ident| $owned:expr) => {
        impl ::std::os::fd::IntoRawFd for $type {
            $(#[$attribute])*
            fn into_raw_fd(self) -> ::std::os::fd::RawFd {
                let $this = self;
                ::std::os::fd::IntoRawFd::into_raw_fd($owned)
            }
        }
    };
}
pub(crate) use impl_into_raw_socket;

/// Implements the platform's trait for taking a socket over by number on `$type`
/// (`FromRawFd` here; `FromRawSocket` on Windows), with `$make` (an expression of
/// `$owned: OwnedSocket`) building the value.
macro_rules! impl_from_raw_socket {
    ($type:ty, $(#[$attribute:meta])* |$owned:ident| $make:expr) => {
        impl ::std::os::fd::FromRawFd for $type {
            $(#[$attribute])*
            unsafe fn from_raw_fd(fd: ::std::os::fd::RawFd) -> $type {
                // SAFETY: the caller's contract (`fd` is an open socket that nothing
                // else owns) is `OwnedFd::from_raw_fd`'s.
                let $owned = unsafe { <::std::os::fd::OwnedFd as ::std::os::fd::FromRawFd>::from_raw_fd(fd) };
                $make
            }
        }
    };
}
pub(crate) use impl_from_raw_socket;
