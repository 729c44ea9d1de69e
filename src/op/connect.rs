//! CONNECT: connects a socket to an address.
//!
//! On io_uring the op runs on a blocking socket and completes when the connection is
//! established. If the ring that ran it was retired mid-way, the op is submitted again
//! and the kernel answers `EALREADY` (still in progress) or `EISCONN` (done); the
//! caller (`net::connect`) treats those as "wait for writability, then read
//! `SO_ERROR`" and "connected". On mio the first attempt starts a non-blocking connect
//! (`EINPROGRESS` is reported as `WouldBlock`), and the attempt after writability reads
//! `SO_ERROR`.

use std::io;
use std::os::fd::RawFd;

use socket2::SockAddr;

use crate::driver::op::{OpCode, Readiness};
use crate::io::shared_fd::FdRef;

/// Connects to `address`.
#[derive(Debug)]
pub(crate) struct Connect<S> {
    /// The socket; keeps its fd open until this op is freed.
    fd: FdRef<S>,
    address: SockAddr,
    started: bool,
}

impl<S: Send + Sync + 'static> Connect<S> {
    pub(crate) fn new(fd: FdRef<S>, address: SockAddr) -> Connect<S> {
        Connect {
            fd,
            address,
            started: false,
        }
    }
}

impl<S: Send + Sync + 'static> OpCode for Connect<S> {
    type Output = io::Result<()>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::Connect::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Connect::new(
            io_uring::types::Fd(self.fd.raw()),
            self.address.as_ptr().cast(),
            self.address.len(),
        )
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Write(self.fd.raw())
    }

    fn attempt(&mut self) -> io::Result<usize> {
        if self.started {
            return take_error(self.fd.raw()).map(|()| 0);
        }
        self.started = true;
        // SAFETY: the address pointer and length describe a valid socket address.
        let result = unsafe {
            libc::connect(
                self.fd.raw(),
                self.address.as_ptr().cast(),
                self.address.len(),
            )
        };
        if result == 0 {
            return Ok(0);
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EINPROGRESS) => Err(io::ErrorKind::WouldBlock.into()),
            _ => Err(error),
        }
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<()> {
        result.map(|_| ())
    }
}

/// The pending error of socket `fd` (`SO_ERROR`, which reading clears), as a result.
fn take_error(fd: RawFd) -> io::Result<()> {
    let mut error: libc::c_int = 0;
    let mut length = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `error` and `length` are valid for `getsockopt` to write an int and its
    // length into.
    let result = unsafe {
        libc::getsockopt(
            fd,
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
