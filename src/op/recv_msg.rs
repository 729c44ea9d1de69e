//! RECVMSG: vectored reads (`readv` on streams) and datagram receives that report the
//! sender's address (`recv_from`).
//!
//! Like [`Recv`](super::recv::Recv), a result that arrives after the future was dropped
//! goes to the socket's leftovers ([`KeepsReads`]), with the sender's address for
//! datagrams.

use std::io;

use socket2::{SockAddr, SockAddrStorage, socklen_t};

use crate::driver::op::{KernelWritten, OpCode, Readiness};
use crate::io::shared_fd::FdRef;
use crate::io::{BufResult, IoBufMut};
use crate::op::leftovers::LeftoverTicket;
use crate::op::recv::KeepsReads;
use crate::op::socket_address::sock_addr;
use crate::sys::IoVec;
use crate::sys::socket::MessageHeader;

/// Most buffers one `recvmsg`/`sendmsg` takes (Linux's `UIO_MAXIOV`).
pub(crate) const IOV_MAX: usize = 1024;

const STORAGE_LENGTH: socklen_t = size_of::<SockAddrStorage>() as socklen_t;

/// Receives into `bufs` in order; with `want_sender`, records the sender's address.
pub(crate) struct RecvMsg<B, S> {
    /// The socket; keeps its fd open until this op is freed.
    fd: FdRef<S>,
    /// The kernel writes the bytes behind the buffer's own heap pointer (the
    /// `IoBufMut` contract: they are never inline in `B`), so a shared reference to
    /// this op (`OpCode::abandoned_in_flight`) covers `B`'s handle, never those bytes.
    bufs: Vec<B>,
    /// The kernel reads these (their heap array), never writes them.
    iovecs: Vec<IoVec>,
    /// The kernel writes the header's lengths and flags and the sender's address while
    /// the op is in flight.
    message: KernelWritten<Message>,
    want_sender: bool,
    /// Hands a late result to the socket's leftovers (io_uring only).
    #[cfg_attr(not(ringtide_uring), allow(dead_code))]
    ticket: LeftoverTicket,
}

/// `recvmsg`'s header and the address storage it points at.
struct Message {
    header: MessageHeader,
    sender: SockAddrStorage,
}

// SAFETY: the raw pointers in `iovecs` and in the header point into `bufs`, `iovecs`
// and the message's sender storage, which the op owns and moves with it; they are
// rebuilt before each use.
unsafe impl<B: Send, S: KeepsReads> Send for RecvMsg<B, S> {}

impl<B, S> std::fmt::Debug for RecvMsg<B, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvMsg")
            .field("fd", &self.fd.raw())
            .field("bufs", &self.bufs.len())
            .finish_non_exhaustive()
    }
}

impl<B: IoBufMut, S: KeepsReads> RecvMsg<B, S> {
    pub(crate) fn new(fd: FdRef<S>, bufs: Vec<B>, want_sender: bool) -> RecvMsg<B, S> {
        RecvMsg {
            fd,
            bufs,
            iovecs: Vec::new(),
            message: KernelWritten::new(Message {
                header: MessageHeader::default(),
                sender: SockAddrStorage::zeroed(),
            }),
            want_sender,
            ticket: LeftoverTicket::default(),
        }
    }

    /// Points the header at this op's buffers and address storage (at their current
    /// place: call again after the op moved).
    fn prepare(&mut self) -> &mut MessageHeader {
        self.iovecs.clear();
        // The kernel rejects more than IOV_MAX (1024) vectors with EMSGSIZE: use the
        // first 1024 (a short transfer, as std's vectored I/O does).
        for buf in self.bufs.iter_mut().take(IOV_MAX) {
            self.iovecs.push(IoVec {
                iov_base: buf.stable_mut_ptr().cast(),
                iov_len: buf.bytes_total(),
            });
        }
        let message = self.message.get_mut();
        let name = if self.want_sender {
            &raw mut message.sender
        } else {
            std::ptr::null_mut()
        };
        message.header.point_at(
            self.iovecs.as_mut_ptr(),
            self.iovecs.len(),
            name,
            STORAGE_LENGTH,
        );
        &mut message.header
    }

    /// Only after the receive finished: the kernel wrote the address.
    fn sender(&mut self) -> Option<SockAddr> {
        let message = self.message.get_mut();
        self.want_sender
            .then(|| sock_addr(&message.sender, message.header.name_length()))
    }

    /// The first `count` received bytes, copied out of the buffers.
    #[cfg(ringtide_uring)]
    fn copy_received(&mut self, mut count: usize) -> Vec<u8> {
        let mut data = Vec::with_capacity(count);
        for buf in &mut self.bufs {
            let take = count.min(buf.bytes_total());
            // SAFETY: the kernel wrote `take` bytes at the start of this buffer.
            data.extend_from_slice(unsafe {
                std::slice::from_raw_parts(buf.stable_mut_ptr(), take)
            });
            count -= take;
        }
        data
    }
}

impl<B: IoBufMut, S: KeepsReads> OpCode for RecvMsg<B, S> {
    type Output = BufResult<(usize, Option<SockAddr>), Vec<B>>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::RecvMsg::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let header = self.prepare().as_mut_ptr();
        io_uring::opcode::RecvMsg::new(io_uring::types::Fd(self.fd.raw()), header).build()
    }

    #[cfg(ringtide_uring)]
    fn abandoned_in_flight(&self) {
        self.ticket
            .abandoned_in_flight(self.fd.state().late_reads());
    }

    #[cfg(ringtide_uring)]
    fn complete_abandoned(&mut self, result: i32) {
        let received =
            (result > 0 || (result == 0 && self.want_sender)).then(|| crate::op::recv::Received {
                data: self.copy_received(result as usize),
                from: self.sender(),
            });
        self.fd.state().keep_late_read(&self.ticket, received);
    }

    // `MSG_DONTWAIT`: never blocks, whatever the fd's mode.
    #[cfg(ringtide_uring)]
    const ATTEMPT_NEVER_BLOCKS: bool = true;

    fn readiness(&self) -> Readiness {
        Readiness::Read(self.fd.raw())
    }

    fn attempt(&mut self) -> io::Result<usize> {
        let fd = self.fd.raw();
        let header = self.prepare();
        // SAFETY: the header points at this op's live buffers and storage.
        unsafe { crate::sys::socket::recv_msg(fd, header) }
    }

    fn complete(mut self, result: io::Result<usize>) -> Self::Output {
        let sender = self.sender();
        let output = result.map(|read| {
            let mut left = read;
            for buf in &mut self.bufs {
                let filled = left.min(buf.bytes_total());
                // SAFETY: the kernel initialised the first `filled` bytes of this buffer
                // (the bytes are spread over the buffers in order).
                unsafe { buf.set_init(filled) };
                left -= filled;
            }
            (read, sender)
        });
        (output, self.bufs)
    }
}
