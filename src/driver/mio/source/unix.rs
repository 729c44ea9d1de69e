//! The Unix half of [`RawSource`](super): an fd registered through `SourceFd`.

use std::io;

use ::mio::unix::SourceFd;
use ::mio::{Interest, Registry, Token};

use crate::sys::RawSocket;

/// A short read drained the socket (epoll and kqueue report edges).
pub(crate) const SHORT_READ_DRAINS: bool = true;

/// A registered fd (see the module documentation).
#[derive(Debug)]
pub(crate) struct RawSource {
    fd: RawSocket,
}

impl RawSource {
    /// Registers `fd` with `registry` under `token`.
    pub(crate) fn register(
        registry: &Registry,
        fd: RawSocket,
        token: Token,
        interest: Interest,
    ) -> io::Result<RawSource> {
        registry.register(&mut SourceFd(&fd), token, interest)?;
        Ok(RawSource { fd })
    }

    /// Makes `call`, one non-blocking call on the fd: the selector needs nothing more.
    pub(crate) fn try_io<R>(&self, call: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        call()
    }

    /// Removes the fd from `registry`.
    pub(crate) fn deregister(&self, registry: &Registry) -> io::Result<()> {
        registry.deregister(&mut SourceFd(&self.fd))
    }
}
