//! POLL_ADD (io_uring only): waits until an fd is readable or writable. Used for ops
//! whose opcode the kernel lacks and for non-blocking fds that report `EAGAIN`.

use std::io;
use std::os::fd::RawFd;

use crate::driver::op::{OpCode, Readiness};
use crate::driver::uring::multishot::MultishotOpCode;

/// Waits for `events` (`POLLIN`/`POLLOUT`) on `fd`: one completion, when the fd is ready.
#[derive(Debug)]
pub(crate) struct PollAdd {
    fd: RawFd,
    events: libc::c_short,
}

impl PollAdd {
    pub(crate) fn new(fd: RawFd, events: libc::c_short) -> PollAdd {
        PollAdd { fd, events }
    }

    /// A completion each time the fd becomes ready, until cancelled (run it with
    /// `driver::uring::multishot::MultishotOp`).
    #[allow(dead_code, reason = "readiness streams for the poll-based I/O traits")]
    pub(crate) fn multishot(fd: RawFd, events: libc::c_short) -> PollAddMulti {
        PollAddMulti(PollAdd { fd, events })
    }

    fn entry(&self, multishot: bool) -> io_uring::squeue::Entry {
        io_uring::opcode::PollAdd::new(io_uring::types::Fd(self.fd), self.events as u32)
            .multi(multishot)
            .build()
    }
}

impl OpCode for PollAdd {
    type Output = io::Result<usize>;

    const OPCODE: u8 = io_uring::opcode::PollAdd::CODE;

    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        self.entry(false)
    }

    fn readiness(&self) -> Readiness {
        Readiness::Immediate
    }

    fn attempt(&mut self) -> io::Result<usize> {
        Ok(0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<usize> {
        result
    }
}

/// `POLL_ADD` with `IORING_POLL_ADD_MULTI`: a CQE each time the fd becomes ready.
#[derive(Debug)]
pub(crate) struct PollAddMulti(PollAdd);

impl OpCode for PollAddMulti {
    type Output = io::Result<usize>;

    const OPCODE: u8 = io_uring::opcode::PollAdd::CODE;
    const MULTISHOT: bool = true;

    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        self.0.entry(true)
    }

    fn readiness(&self) -> Readiness {
        Readiness::Immediate
    }

    fn attempt(&mut self) -> io::Result<usize> {
        Ok(0)
    }

    fn complete(self, result: io::Result<usize>) -> io::Result<usize> {
        result
    }
}

// SAFETY: the SQE holds only the fd number and the event mask; the CQE's `res` carries
// the events, so the kernel writes no memory this value owns.
unsafe impl MultishotOpCode for PollAddMulti {}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    use super::*;
    use crate::driver::uring::multishot::MultishotOp;
    use crate::runtime::{Backend, Builder};

    #[test]
    fn multishot_poll_delivers_several_completions_then_cancels_on_drop() {
        let runtime = Builder::new_current_thread()
            .backend(Backend::IoUring)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (mut reader, mut writer) = std::io::pipe().unwrap();
            let mut stream = MultishotOp::new(
                PollAdd::multishot(reader.as_raw_fd(), libc::POLLIN),
                crate::op::route::current_runtime_ring,
            );
            for round in 0..3u8 {
                writer.write_all(&[round]).unwrap();
                let event = poll_fn(|cx| stream.poll_next(cx)).await.unwrap().unwrap();
                assert!(
                    event & libc::POLLIN as u32 != 0,
                    "round {round}: {event:#x}"
                );
                // Drain, so the next write is a new readiness edge.
                let mut byte = [0u8; 1];
                std::io::Read::read_exact(&mut reader, &mut byte).unwrap();
                assert_eq!(byte[0], round);
            }
            let handle = crate::runtime::Handle::current();
            assert_eq!(
                handle.metrics().io().in_flight,
                1,
                "one submission for all rounds"
            );
            drop(stream);
            // The cancel reaches the ring at its next poll; the final CQE then frees the
            // cell.
            let mut yields = 0;
            while handle.metrics().io().in_flight > 0 {
                yields += 1;
                assert!(
                    yields <= 10_000,
                    "the cancelled multishot poll never got its final completion: {:?}",
                    handle.metrics().io()
                );
                crate::task::yield_now().await;
            }
            assert_eq!(handle.metrics().io().cancelled, 1);
        });
    }
}
