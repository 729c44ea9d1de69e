//! The readiness API of the stream types ([`TcpStream`](crate::net::TcpStream),
//! [`UnixStream`](crate::net::UnixStream)) and of their split halves, with tokio's
//! names and meaning: `ready`, `readable`/`writable`, `poll_read_ready`/
//! `poll_write_ready`, the non-waiting `try_read`/`try_write` (vectored, and
//! `try_read_buf` with the `bytes` feature), and `peek`/`poll_peek`.
//! [`impl_stream_readiness!`] adds them to a type with a `socket()` accessor; the work
//! is `Socket`'s (`net::socket_try_io`, `net::socket_ready`, `net::socket_peek`).
//!
//! Which type gets which part, as in tokio: a stream gets everything; a read half
//! (owned or borrowed) `ready`, `readable`, `try_read*` and `peek`/`poll_peek`; a write
//! half `ready`, `writable` and `try_write*`.
//!
//! Read readiness counts bytes a cancelled owned read kept (io_uring), and `try_read`,
//! `peek` and `poll_read` return them first, so readiness loops see them (see
//! `net::socket_ready`).

/// Adds the readiness API to `$type`, which has a `socket()` accessor returning its
/// `Socket`: `stream:` everything, `read_half:` / `write_half:` a half's part (see the
/// module documentation).
macro_rules! impl_stream_readiness {
    (stream: $type:ty) => {
        $crate::net::stream_readiness::impl_stream_readiness!(ready: $type);
        $crate::net::stream_readiness::impl_stream_readiness!(read: $type);
        $crate::net::stream_readiness::impl_stream_readiness!(write: $type);
        $crate::net::stream_readiness::impl_stream_readiness!(poll: $type);
    };
    (read_half: $type:ty) => {
        $crate::net::stream_readiness::impl_stream_readiness!(ready: $type);
        $crate::net::stream_readiness::impl_stream_readiness!(read: $type);
    };
    (write_half: $type:ty) => {
        $crate::net::stream_readiness::impl_stream_readiness!(ready: $type);
        $crate::net::stream_readiness::impl_stream_readiness!(write: $type);
    };
    (ready: $type:ty) => {
        impl $type {
            /// Waits until the stream is ready for any part of `interest` and returns
            /// what it is ready for, which has at least one bit `interest` asks about.
            ///
            /// Readiness is a hint: follow it with `try_read` or `try_write`, and go
            /// back to waiting when they say `WouldBlock`. A peer that shut down its
            /// write side shows as
            /// [`Ready::is_read_closed`](crate::io::Ready::is_read_closed) (reads then
            /// return `Ok(0)` once the buffered bytes are read). Bytes a cancelled
            /// owned read kept for the next read count as readable.
            ///
            /// Cancel safe: dropping the future loses nothing. Any number of tasks may
            /// wait at once; all are woken.
            ///
            /// # Errors
            ///
            /// Once the runtime's I/O driver has shut down.
            pub async fn ready(
                &self,
                interest: $crate::io::Interest,
            ) -> std::io::Result<$crate::io::Ready> {
                self.socket().ready_interest(interest).await
            }
        }
    };
    (read: $type:ty) => {
        impl $type {
            /// Waits until the stream is readable: data, end of stream, an error, or
            /// bytes a cancelled owned read kept for the next read. Follow it with
            /// [`try_read`](Self::try_read) and wait again on `WouldBlock`.
            ///
            /// Cancel safe; any number of tasks may wait at once, and all are woken.
            ///
            /// # Errors
            ///
            /// A failure to wait (the runtime's I/O driver has shut down).
            pub async fn readable(&self) -> std::io::Result<()> {
                self.socket()
                    .ready($crate::net::socket_ready::Direction::Read)
                    .await
            }

            /// Reads what is available now into `buf`, without waiting: one
            /// non-blocking receive. Returns how many bytes were read; `Ok(0)` is end
            /// of stream (or an empty `buf`).
            ///
            /// Bytes that a cancelled owned read took from the kernel come first, as
            /// with every other read.
            ///
            /// Usually called after [`readable`](Self::readable) or
            /// [`ready`](Self::ready), in a loop:
            ///
            /// ```no_run
            /// # async fn f(stream: ringtide::net::TcpStream) -> std::io::Result<()> {
            /// let mut buf = [0; 4096];
            /// loop {
            ///     stream.readable().await?;
            ///     match stream.try_read(&mut buf) {
            ///         Ok(0) => break,
            ///         Ok(n) => println!("read {n} bytes"),
            ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            ///         Err(e) => return Err(e),
            ///     }
            /// }
            /// # Ok(())
            /// # }
            /// ```
            ///
            /// # Errors
            ///
            /// `WouldBlock` when there is nothing to read yet: the readiness the stream
            /// had recorded is then cleared, so the next `readable().await` waits for
            /// new data. Otherwise the receive's error.
            pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.socket().try_recv(buf)
            }

            /// [`try_read`](Self::try_read) into several buffers, filled in order
            /// (one non-blocking `recvmsg`; at most 1024 buffers are used).
            ///
            /// # Errors
            ///
            /// As [`try_read`](Self::try_read).
            pub fn try_read_vectored(
                &self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.socket().try_recv_vectored(bufs)
            }

            /// [`try_read`](Self::try_read) into the spare capacity of `buf` (feature
            /// `bytes`), advancing it by the bytes read: a `Vec<u8>` or a
            /// `bytes::BytesMut` grows as it is read into. Returns how many bytes;
            /// `Ok(0)` is end of stream (or a `buf` with no room left).
            ///
            /// # Errors
            ///
            /// As [`try_read`](Self::try_read).
            #[cfg(feature = "bytes")]
            pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> std::io::Result<usize> {
                let spare = buf.chunk_mut();
                // SAFETY: the receive writes only initialised bytes into the slice.
                let spare = unsafe { spare.as_uninit_slice_mut() };
                let count = self.socket().try_recv_uninit(spare)?;
                // SAFETY: the receive initialised the first `count` bytes of the
                // spare capacity.
                unsafe { buf.advance_mut(count) };
                Ok(count)
            }

            /// Waits until there is something to read and copies it into `buf`
            /// without taking it: the next read returns the same bytes. Returns how
            /// many bytes were copied; `Ok(0)` at end of stream (or for an empty
            /// `buf`).
            ///
            /// Bytes a cancelled owned read kept for the next read are what the next
            /// read returns, so a peek shows them first. (tokio has `peek` on TCP
            /// streams only; ringtide's Unix streams have it too.)
            ///
            /// Cancel safe: nothing is taken from the stream, and `buf` is written
            /// only when the future completes.
            ///
            /// # Errors
            ///
            /// The receive's error (`ConnectionReset`, ...), or a failure to wait.
            pub async fn peek(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.socket().peek(buf).await
            }

            /// Poll-based [`peek`](Self::peek): copies what there is to read into
            /// `buf`'s unfilled part without taking it, advances `buf` and returns
            /// how many bytes (`0` at end of stream); otherwise stores `cx`'s waker
            /// and returns `Pending`.
            ///
            /// Only the task of the last call is woken: it shares the read
            /// direction's one waker slot with `poll_read` and
            /// `poll_read_ready`-style callers, as in tokio.
            ///
            /// # Errors
            ///
            /// The receive's error (never `WouldBlock`).
            pub fn poll_peek(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<usize>> {
                // SAFETY: the peek writes only initialised bytes into the unfilled
                // part; it never de-initialises any.
                let unfilled = unsafe { buf.unfilled_mut() };
                let count = std::task::ready!(self.socket().poll_peek(cx, unfilled))?;
                // SAFETY: the peek initialised the first `count` unfilled bytes.
                unsafe { buf.assume_init(count) };
                buf.advance(count);
                std::task::Poll::Ready(Ok(count))
            }
        }
    };
    (write: $type:ty) => {
        impl $type {
            /// Waits until the stream is writable (room in the send buffer, a closed
            /// write half or an error). Follow it with [`try_write`](Self::try_write)
            /// and wait again on `WouldBlock`.
            ///
            /// Cancel safe; any number of tasks may wait at once, and all are woken.
            ///
            /// # Errors
            ///
            /// A failure to wait (the runtime's I/O driver has shut down).
            pub async fn writable(&self) -> std::io::Result<()> {
                self.socket()
                    .ready($crate::net::socket_ready::Direction::Write)
                    .await
            }

            /// Writes as much of `buf` as the send buffer takes now, without waiting:
            /// one non-blocking send. Returns how many bytes were written, which may be
            /// fewer than `buf.len()`.
            ///
            /// Usually called after [`writable`](Self::writable) or
            /// [`ready`](Self::ready), going back to waiting on `WouldBlock`.
            ///
            /// # Errors
            ///
            /// `WouldBlock` when the send buffer is full: the readiness the stream had
            /// recorded is then cleared, so the next `writable().await` waits for room.
            /// Otherwise the send's error (`BrokenPipe` after the peer closed, ...).
            pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.socket().try_send(buf)
            }

            /// [`try_write`](Self::try_write) of several buffers, in order (one
            /// non-blocking `sendmsg`; at most 1024 buffers are used).
            ///
            /// # Errors
            ///
            /// As [`try_write`](Self::try_write).
            pub fn try_write_vectored(
                &self,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::io::Result<usize> {
                self.socket().try_send_vectored(bufs)
            }
        }
    };
    (poll: $type:ty) => {
        impl $type {
            /// Polls for read readiness: `Ready(Ok(()))` when a read would not block
            /// (data, end of stream, a pending error, or bytes a cancelled owned read
            /// kept), otherwise stores `cx`'s waker and returns `Pending`.
            ///
            /// Only the task of the last call is woken: there is one waker slot for
            /// read readiness, shared with the `AsyncRead` impls and `poll_peek`. Tasks
            /// that wait together use [`readable`](Self::readable) or
            /// [`ready`](Self::ready).
            pub fn poll_read_ready(
                &self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.socket()
                    .poll_ready(cx, $crate::net::socket_ready::Direction::Read)
            }

            /// Polls for write readiness: `Ready(Ok(()))` when a write would not block
            /// (room in the send buffer, or a closed write half or an error to report),
            /// otherwise stores `cx`'s waker and returns `Pending`.
            ///
            /// Only the task of the last call is woken: there is one waker slot for
            /// write readiness, shared with the `AsyncWrite` impls. Tasks that wait
            /// together use [`writable`](Self::writable) or [`ready`](Self::ready).
            pub fn poll_write_ready(
                &self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.socket()
                    .poll_ready(cx, $crate::net::socket_ready::Direction::Write)
            }
        }
    };
}

pub(crate) use impl_stream_readiness;

// Unix only: the tests drive socket pairs from `std::os::unix` (Windows has none).
#[cfg(all(test, unix, not(loom)))]
mod tests {
    //! Read readiness and the read leftovers, driven by hand: a cancelled read "in the
    //! kernel" is `note_abandoned`, its end `finish_abandoned`, as the ops do.

    use std::io::Write;
    use std::os::fd::OwnedFd;
    use std::pin::pin;
    use std::sync::atomic::Ordering::SeqCst;
    use std::task::{Context, Poll};

    use crate::io::Interest;
    use crate::net::socket::{Kind, Socket};
    use crate::net::socket_ready::Direction;
    use crate::op::leftovers::LeftoverTicket;
    use crate::op::recv::{KeepsReads, Received};
    use crate::runtime::{Backend, Builder};
    use crate::test_support::counting_waker;

    fn runtime(backend: Backend) -> crate::runtime::Runtime {
        Builder::new_current_thread()
            .backend(backend)
            .enable_all()
            .build()
            .unwrap()
    }

    fn kept(data: &[u8]) -> Option<Received> {
        Some(Received {
            data: data.to_vec(),
            from: None,
        })
    }

    /// Reads what the socket has with the readiness API, kept bytes first.
    async fn read_available(socket: &Socket, len: usize) -> Vec<u8> {
        let mut received = Vec::new();
        let mut buf = [0; 64];
        while received.len() < len {
            socket.ready(Direction::Read).await.unwrap();
            match socket.try_recv(&mut buf) {
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(error) => panic!("try_recv: {error}"),
            }
        }
        received
    }

    #[test]
    fn read_readiness_waits_for_a_cancelled_read_in_flight_then_its_bytes_come_first() {
        for backend in [Backend::IoUring, Backend::Mio] {
            runtime(backend).block_on(async {
                let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
                let socket = Socket::new(OwnedFd::from(ours), Kind::Stream).unwrap();
                peer.write_all(b"later").unwrap();
                // A cancelled read is still in the kernel: its bytes, if any, come
                // before "later", so the socket's readiness must not decide yet.
                socket.state().reads.note_abandoned();
                let (woken, waker) = counting_waker();
                let mut cx = Context::from_waker(&waker);
                let mut readable = pin!(socket.ready(Direction::Read));
                let mut ready = pin!(socket.ready_interest(Interest::READABLE));
                assert!(readable.as_mut().poll(&mut cx).is_pending(), "{backend}");
                assert!(ready.as_mut().poll(&mut cx).is_pending(), "{backend}");
                assert!(socket.poll_ready(&mut cx, Direction::Read).is_pending());
                let error = socket.try_recv(&mut [0; 8]).unwrap_err();
                assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock);
                // Its completion lands with bytes: every wait is woken and ready.
                socket.state().reads.finish_abandoned(kept(b"first "));
                assert!(woken.0.load(SeqCst) > 0, "{backend}: the waits were woken");
                assert!(matches!(
                    readable.as_mut().poll(&mut cx),
                    Poll::Ready(Ok(()))
                ));
                match ready.as_mut().poll(&mut cx) {
                    Poll::Ready(Ok(ready)) => assert!(ready.is_readable(), "{ready:?}"),
                    other => panic!("{backend}: ready(READABLE) is {other:?}"),
                }
                assert!(matches!(
                    socket.poll_ready(&mut cx, Direction::Read),
                    Poll::Ready(Ok(()))
                ));
                assert_eq!(read_available(&socket, 11).await, b"first later");
            });
        }
    }

    #[test]
    fn a_cancelled_read_that_settles_empty_leaves_the_wait_to_the_socket() {
        for backend in [Backend::IoUring, Backend::Mio] {
            runtime(backend).block_on(async {
                let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
                let socket = Socket::new(OwnedFd::from(ours), Kind::Stream).unwrap();
                socket.state().reads.note_abandoned();
                let (_woken, waker) = counting_waker();
                let mut cx = Context::from_waker(&waker);
                let mut readable = pin!(socket.ready(Direction::Read));
                assert!(readable.as_mut().poll(&mut cx).is_pending());
                socket.state().reads.finish_abandoned(None);
                // Nothing kept and nothing in the socket: still waiting, now on it.
                assert!(readable.as_mut().poll(&mut cx).is_pending(), "{backend}");
                peer.write_all(b"data").unwrap();
                readable.await.unwrap();
                assert_eq!(read_available(&socket, 4).await, b"data");
            });
        }
    }

    /// io_uring: a wait already parked on the socket's `POLL_ADD` (nothing to read) is
    /// woken when a cancelled read's bytes are kept (the leftovers wake the direction),
    /// and then reports ready. (mio never keeps bytes.)
    #[test]
    fn bytes_kept_while_a_wait_is_parked_on_the_socket_wake_it() {
        runtime(Backend::IoUring).block_on(async {
            let (ours, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
            let socket = Socket::new(OwnedFd::from(ours), Kind::Stream).unwrap();
            let (woken, waker) = counting_waker();
            let mut cx = Context::from_waker(&waker);
            let mut readable = pin!(socket.ready(Direction::Read));
            let mut ready = pin!(socket.ready_interest(Interest::READABLE));
            assert!(readable.as_mut().poll(&mut cx).is_pending());
            assert!(ready.as_mut().poll(&mut cx).is_pending());
            assert!(socket.poll_ready(&mut cx, Direction::Read).is_pending());
            // A read dropped after its completion keeps its bytes.
            socket
                .state()
                .keep_late_read(&LeftoverTicket::default(), kept(b"kept"));
            assert!(woken.0.load(SeqCst) > 0, "keeping woke the parked waits");
            assert!(matches!(
                readable.as_mut().poll(&mut cx),
                Poll::Ready(Ok(()))
            ));
            assert!(matches!(ready.as_mut().poll(&mut cx), Poll::Ready(Ok(r)) if r.is_readable()));
            assert!(matches!(
                socket.poll_ready(&mut cx, Direction::Read),
                Poll::Ready(Ok(()))
            ));
            let mut peeked = [0; 8];
            assert_eq!(socket.peek(&mut peeked).await.unwrap(), 4);
            assert_eq!(&peeked[..4], b"kept");
            assert_eq!(read_available(&socket, 4).await, b"kept");
        });
    }
}
