//! The Windows half of [`RawSource`](super): a socket registered through a
//! `mio::net::TcpStream` that borrows its handle, whose `try_io` every call goes
//! through (see the module documentation for why).

use std::io;
use std::os::windows::io::{FromRawSocket, IntoRawSocket};
use std::sync::{PoisonError, RwLock};

use ::mio::net::TcpStream;
use ::mio::{Interest, Registry, Token};

use crate::sys::RawSocket;

/// A short read proves nothing here: only a `WouldBlock` seen by mio re-arms the
/// emulated readiness, so the readiness stays set until a call returns one.
pub(crate) const SHORT_READ_DRAINS: bool = false;

/// A registered socket (see the module documentation).
///
/// The wrapper never closes the socket (the I/O object that registered it does): it is
/// given up with `into_raw_socket` when deregistered or dropped. `None` once
/// deregistered. The lock is shared by the calls (`try_io` needs only `&TcpStream`)
/// and taken exclusively only to deregister.
#[derive(Debug)]
pub(crate) struct RawSource {
    wrapper: RwLock<Option<TcpStream>>,
}

impl RawSource {
    /// Registers `socket` with `registry` under `token`.
    pub(crate) fn register(
        registry: &Registry,
        socket: RawSocket,
        token: Token,
        interest: Interest,
    ) -> io::Result<RawSource> {
        // SAFETY: the wrapper only borrows the handle: the I/O object that registers it
        // keeps it open until it deregisters (or drops) this source, and the wrapper
        // is given up with `into_raw_socket`, never dropped with the handle.
        let mut wrapper = unsafe { TcpStream::from_raw_socket(socket) };
        if let Err(error) = registry.register(&mut wrapper, token, interest) {
            let _ = wrapper.into_raw_socket();
            return Err(error);
        }
        Ok(RawSource {
            wrapper: RwLock::new(Some(wrapper)),
        })
    }

    /// Makes `call`, one non-blocking call on the socket, through mio's `try_io`: when
    /// it returns `WouldBlock`, mio asks the kernel for the socket's next readiness
    /// again. After deregistration the call is made alone.
    pub(crate) fn try_io<R>(&self, call: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        let wrapper = self.wrapper.read().unwrap_or_else(PoisonError::into_inner);
        match &*wrapper {
            Some(wrapper) => wrapper.try_io(call),
            None => call(),
        }
    }

    /// Removes the socket from `registry` and gives the wrapper up (the socket stays
    /// open). Calls after this are made without mio.
    pub(crate) fn deregister(&self, registry: &Registry) -> io::Result<()> {
        let wrapper = self
            .wrapper
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match wrapper {
            Some(mut wrapper) => {
                let result = registry.deregister(&mut wrapper);
                let _ = wrapper.into_raw_socket();
                result
            }
            None => Ok(()),
        }
    }
}

impl Drop for RawSource {
    fn drop(&mut self) {
        // Gives the wrapper up without closing the socket; mio drops its registration
        // state with it (the pending `AFD_POLL` is cancelled).
        let wrapper = self
            .wrapper
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(wrapper) = wrapper {
            let _ = wrapper.into_raw_socket();
        }
    }
}
