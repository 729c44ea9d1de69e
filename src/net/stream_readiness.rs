//! The readiness API of the stream types ([`TcpStream`](crate::net::TcpStream),
//! [`UnixStream`](crate::net::UnixStream)), with tokio's names and meaning: `ready`,
//! `poll_read_ready`/`poll_write_ready`, and the non-waiting `try_read`/`try_write`
//! and their vectored forms. [`impl_stream_readiness!`] adds them to a type with a
//! `socket()` accessor; the work is `Socket`'s (`net::socket_try_io`,
//! `net::socket_ready`).

/// Adds the readiness API to `$type`, which has a `socket()` accessor returning its
/// `Socket`.
macro_rules! impl_stream_readiness {
    ($type:ty) => {
        impl $type {
            /// Waits until the stream is ready for any part of `interest` and returns
            /// what it is ready for, which has at least one bit `interest` asks about.
            ///
            /// Readiness is a hint: follow it with [`try_read`](Self::try_read) or
            /// [`try_write`](Self::try_write), and go back to waiting when they say
            /// `WouldBlock`. A peer that shut down its write side shows as
            /// [`Ready::is_read_closed`](crate::io::Ready::is_read_closed) (reads then
            /// return `Ok(0)` once the buffered bytes are read).
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

            /// Polls for read readiness: `Ready(Ok(()))` when a read would not block
            /// (data, end of stream or a pending error), otherwise stores `cx`'s waker
            /// and returns `Pending`.
            ///
            /// Only the task of the last call is woken: there is one waker slot for
            /// read readiness, shared with the `AsyncRead` impls. Tasks that wait
            /// together use [`readable`](Self::readable) or [`ready`](Self::ready).
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
}

pub(crate) use impl_stream_readiness;
