//! The multishot receive queue of the poll path (`Builder::uring_recv_multishot`,
//! `net::recv_queue`): on io_uring a stream's `poll_read` engages it once it finds the
//! socket empty, and from then on bytes arrive through a per-stream queue of ring
//! buffers. Every read API on the stream must see those bytes first, in order, and a
//! dropped read must lose none. Each test runs on io_uring (mode on) and on mio (the
//! option is ignored there: the same ordering must hold), current-thread and 2
//! workers. io_uring runs also prove through `__private` counters that the queue ran.

#![cfg(all(target_os = "linux", feature = "tokio-io"))]

mod rt_common;

use std::future::poll_fn;
use std::io::IoSliceMut;
use std::task::Poll;
use std::time::Duration;

use ringtide::io::{AsyncReadOwned, BufPool, Interest};
use ringtide::net::{TcpListener, TcpStream, UnixStream};
use ringtide::runtime::{Backend, Runtime};
use ringtide::time::timeout;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

const HANG: Duration = Duration::from_secs(20);

/// Runs `body(runtime, backend)` on io_uring with the mode on and on mio, current-thread
/// and with 2 workers.
macro_rules! queue_test {
    ($(#[$attr:meta])* fn $name:ident($rt:ident, $backend:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(unused_variables)]
            fn body($rt: Runtime, $backend: Backend) $body

            fn run(backend: Backend, workers: usize) {
                rt_common::with_timeout(stringify!($name), rt_common::TEST_TIMEOUT, move || {
                    let runtime = rt_common::backend_builder(backend, workers)
                        .uring_recv_multishot(true)
                        .build()
                        .expect("runtime builds");
                    assert_eq!(runtime.backend(), backend);
                    body(runtime, backend)
                });
            }

            #[cfg(target_os = "linux")]
            #[test]
            $(#[$attr])*
            fn io_uring_current_thread() {
                run(Backend::IoUring, 0);
            }

            #[cfg(target_os = "linux")]
            #[test]
            $(#[$attr])*
            fn io_uring_multi_thread() {
                run(Backend::IoUring, 2);
            }

            #[test]
            $(#[$attr])*
            fn mio_current_thread() {
                run(Backend::Mio, 0);
            }

            #[test]
            $(#[$attr])*
            fn mio_multi_thread() {
                run(Backend::Mio, 2);
            }
        }
    };
}

/// A connected TCP pair over loopback: (client, server side).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(address), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

fn armed() -> u64 {
    ringtide::__private::recv_multishot_counts().0
}

/// Engages the mode on `stream` (io_uring): a poll-path read that finds the socket
/// empty (polled once, then dropped: it took nothing). Then `peer` writes `data`, and
/// `readable()` waits until it is there (queued, on io_uring).
async fn engage_then_send<R, W>(stream: &mut R, peer: &mut W, data: &[u8], backend: Backend)
where
    R: AsyncRead + Unpin + Readable,
    W: tokio::io::AsyncWrite + Unpin,
{
    let before = armed();
    let mut byte = [0u8; 1];
    let mut buf = ReadBuf::new(&mut byte);
    let first =
        poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut *stream).poll_read(cx, &mut buf))).await;
    assert!(
        first.is_pending(),
        "the socket was empty, the read must wait"
    );
    if backend == Backend::IoUring {
        assert!(
            armed() > before,
            "the empty read armed the multishot receive"
        );
    }
    peer.write_all(data).await.unwrap();
    timeout(HANG, stream.wait_readable())
        .await
        .expect("readable")
        .unwrap();
}

/// `readable()` for the stream types.
trait Readable {
    fn wait_readable(&self) -> impl std::future::Future<Output = std::io::Result<()>>;
}

impl Readable for TcpStream {
    fn wait_readable(&self) -> impl std::future::Future<Output = std::io::Result<()>> {
        self.readable()
    }
}

impl Readable for UnixStream {
    fn wait_readable(&self) -> impl std::future::Future<Output = std::io::Result<()>> {
        self.readable()
    }
}

/// The socket's `SO_RCVBUF`.
fn receive_buffer(stream: &TcpStream) -> usize {
    use std::os::fd::AsRawFd;
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writes for the whole call.
    let result = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    assert_eq!(result, 0, "getsockopt(SO_RCVBUF)");
    value as usize
}

/// Runs `body(runtime, backend)` on io_uring (mode on) and mio, current-thread and 2
/// workers, in a child process of its own: for tests that read process-wide gauges,
/// which other tests of the same process (`cargo test` runs them in threads) move.
fn in_child_process(test: &str, body: impl Fn(Runtime, Backend)) {
    const CHILD: &str = "RINGTIDE_RECV_MULTI_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let output = rt_common::run_child_test(test, &[(CHILD, "1")], Duration::from_secs(120));
        assert!(
            output.status.success(),
            "child failed\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }
    let backends: &[Backend] = if cfg!(target_os = "linux") {
        &[Backend::IoUring, Backend::Mio]
    } else {
        &[Backend::Mio]
    };
    for &backend in backends {
        for workers in [0, 2] {
            let runtime = rt_common::backend_builder(backend, workers)
                .uring_recv_multishot(true)
                .build()
                .expect("runtime builds");
            assert_eq!(runtime.backend(), backend);
            body(runtime, backend);
        }
    }
}

/// Reads exactly `len` bytes through the poll path.
async fn read_rest<R: tokio::io::AsyncRead + Unpin>(stream: &mut R, len: usize) -> Vec<u8> {
    let mut rest = vec![0u8; len];
    timeout(HANG, stream.read_exact(&mut rest))
        .await
        .expect("read_exact hung")
        .unwrap();
    rest
}

queue_test! {
    /// An echo through the poll path, 300 round trips of 100 bytes: every byte in
    /// order; on io_uring the receive is armed and the SQEs stay a handful (no `recv`
    /// per read, no SQE per read).
    fn a_ping_pong_reads_through_the_queue(rt, backend) {
        rt.block_on(async move {
            let (mut client, mut server) = tcp_pair().await;
            let before = armed();
            let submitted_before = ringtide::runtime::Handle::current().metrics().io().submitted;
            let echo = ringtide::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    let read = server.read(&mut buf).await.unwrap();
                    if read == 0 {
                        return;
                    }
                    server.write_all(&buf[..read]).await.unwrap();
                }
            });
            let mut reply = [0u8; 100];
            for round in 0..300usize {
                let message = [round as u8; 100];
                client.write_all(&message).await.unwrap();
                timeout(HANG, client.read_exact(&mut reply)).await.unwrap().unwrap();
                assert_eq!(reply, message, "round {round}");
            }
            let submitted =
                ringtide::runtime::Handle::current().metrics().io().submitted - submitted_before;
            drop(client);
            echo.await.unwrap();
            if backend == Backend::IoUring {
                assert!(armed() > before, "no multishot receive was armed");
                assert!(submitted <= 16, "{submitted} SQEs for 300 round trips");
            }
        });
    }
}

queue_test! {
    /// The first bytes are in the socket before the first read (so no read ever sees
    /// `EAGAIN`): the read that then has to wait engages the mode all the same, and the
    /// echo goes through the queue.
    fn a_stream_whose_first_read_finds_data_engages_when_it_must_wait(rt, backend) {
        rt.block_on(async move {
            // The client is a blocking std socket on its own thread, so that only the
            // server's reads can arm a receive.
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let client = std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut client = std::net::TcpStream::connect(address).unwrap();
                client.set_read_timeout(Some(HANG)).unwrap();
                let mut reply = [0u8; 100];
                for round in 0..50usize {
                    let message = [round as u8; 100];
                    client.write_all(&message).unwrap();
                    client.read_exact(&mut reply).unwrap();
                    assert_eq!(reply, message, "round {round}");
                }
            });
            let (mut server, _) = listener.accept().await.unwrap();
            // The first message is in the socket before the first read.
            server.readable().await.unwrap();
            let before = armed();
            // Each read is short (the buffer is larger than a message), so it clears
            // the readiness and the next read waits instead of trying a `recv`.
            let mut buf = [0u8; 4096];
            loop {
                let read = timeout(HANG, server.read(&mut buf)).await.unwrap().unwrap();
                if read == 0 {
                    break;
                }
                server.write_all(&buf[..read]).await.unwrap();
            }
            client.join().unwrap();
            // (The count is process-wide: on mio nothing is asserted, as other tests of
            // this binary may arm receives meanwhile under `cargo test`.)
            if backend == Backend::IoUring {
                assert!(armed() > before, "the waiting read armed no multishot receive");
            }
        });
    }
}

queue_test! {
    /// Reads dropped while waiting (before and after bytes are queued) lose nothing,
    /// and a read with a small buffer leaves the rest of a queued buffer for the next.
    fn dropped_reads_lose_no_bytes(rt, backend) {
        rt.block_on(async move {
            let (mut client, mut server) = tcp_pair().await;
            engage_then_send(&mut server, &mut client, b"hello, queue", backend).await;
            // A read future created and dropped without being polled to completion.
            {
                let mut buf = [0u8; 5];
                let read = server.read(&mut buf);
                drop(read);
            }
            let mut small = [0u8; 5];
            let read = server.read(&mut small).await.unwrap();
            assert_eq!(&small[..read], &b"hello"[..read]);
            let rest = read_rest(&mut server, 12 - read).await;
            assert_eq!(&rest, &b"hello, queue"[read..]);
            // Waiting reads dropped ten times, then the bytes come.
            for _ in 0..10 {
                let mut buf = [0u8; 8];
                let read = server.read(&mut buf);
                futures::pin_mut!(read);
                assert!(futures::poll!(read).is_pending());
            }
            client.write_all(b"after drops").await.unwrap();
            assert_eq!(read_rest(&mut server, 11).await, b"after drops");
        });
    }
}

queue_test! {
    /// try_read, try_read_vectored, peek, poll_peek, ready, poll_read_ready and
    /// try_read_buf each see the queued bytes first, in order with the poll path.
    fn readiness_apis_see_queued_bytes_first(rt, backend) {
        rt.block_on(async move {
            let (mut client, mut server) = tcp_pair().await;
            engage_then_send(&mut server, &mut client, b"abcdefghijklmnop", backend).await;
            let mut buf = [0u8; 4];
            let mut peeked = [0u8; 2];
            assert_eq!(server.peek(&mut peeked).await.unwrap(), 2);
            assert_eq!(&peeked, b"ab");
            let mut peeked = [0u8; 2];
            let mut peek_buf = ReadBuf::new(&mut peeked);
            poll_fn(|cx| server.poll_peek(cx, &mut peek_buf)).await.unwrap();
            assert_eq!(peek_buf.filled(), b"ab");
            assert_eq!(server.try_read(&mut buf).unwrap(), 4);
            assert_eq!(&buf, b"abcd");
            let ready = server.ready(Interest::READABLE).await.unwrap();
            assert!(ready.is_readable());
            poll_fn(|cx| server.poll_read_ready(cx)).await.unwrap();
            let (mut first, mut second) = ([0u8; 2], [0u8; 3]);
            let count = server
                .try_read_vectored(&mut [IoSliceMut::new(&mut first), IoSliceMut::new(&mut second)])
                .unwrap();
            assert_eq!(count, 5);
            assert_eq!((&first, &second), (b"ef", b"ghi"));
            let mut uninit = Vec::with_capacity(3);
            assert_eq!(server.try_read_buf(&mut uninit).unwrap(), 3);
            assert_eq!(uninit, b"jkl");
            assert_eq!(read_rest(&mut server, 4).await, b"mnop");
            // Nothing queued now: try_read says WouldBlock (armed on io_uring: the
            // bytes would come through the queue).
            assert_eq!(
                server.try_read(&mut buf).unwrap_err().kind(),
                std::io::ErrorKind::WouldBlock
            );
        });
    }
}

queue_test! {
    /// The owned reads (read_owned, readv_owned, read_pooled) take the queued bytes
    /// first, at most their buffer's room, in order with the poll path.
    fn owned_and_pooled_reads_see_queued_bytes_first(rt, backend) {
        rt.block_on(async move {
            let (mut client, mut server) = tcp_pair().await;
            engage_then_send(&mut server, &mut client, b"0123456789", backend).await;
            let (result, buf) = server.read_owned(Vec::with_capacity(3)).await;
            assert_eq!(result.unwrap(), 3);
            assert_eq!(buf, b"012");
            let pool = BufPool::new(4, 2).unwrap();
            let pooled = timeout(HANG, server.read_pooled(&pool)).await.unwrap().unwrap();
            assert_eq!(&pooled[..], b"34");
            drop(pooled);
            let (result, bufs) = server
                .readv_owned(vec![Vec::with_capacity(2), Vec::with_capacity(8)])
                .await;
            let count = result.unwrap();
            assert!(count >= 2, "{count}");
            let got: Vec<u8> = bufs.concat();
            assert_eq!(&got[..], &b"56789"[..count]);
            let rest = read_rest(&mut server, 5 - count).await;
            assert_eq!(&rest[..], &b"56789"[count..]);
            // With nothing queued, an owned read waits for the next bytes, in order.
            let reader = async {
                let (result, buf) = server.read_owned(Vec::with_capacity(16)).await;
                result.unwrap();
                buf
            };
            let (buf, ()) = futures::join!(reader, async {
                client.write_all(b"next").await.unwrap();
            });
            assert_eq!(buf, b"next");
        });
    }
}

queue_test! {
    /// Split halves share the queue: the owned read half reads the queued bytes first.
    fn split_halves_share_the_queue(rt, backend) {
        rt.block_on(async move {
            let (mut client, mut server) = tcp_pair().await;
            engage_then_send(&mut server, &mut client, b"split me", backend).await;
            let (mut read_half, write_half) = server.into_split();
            assert_eq!(read_rest(&mut read_half, 5).await, b"split");
            let mut borrowed = read_half.reunite(write_half).unwrap();
            let (mut read, _write) = borrowed.split();
            assert_eq!(read_rest(&mut read, 3).await, b" me");
        });
    }
}

queue_test! {
    /// into_std refuses while bytes are queued (they would be lost) and works once
    /// they are read; the std stream then reads the peer's next bytes.
    fn into_std_refuses_queued_bytes_then_hands_over(rt, backend) {
        rt.block_on(async move {
            let (mut client, mut server) = tcp_pair().await;
            engage_then_send(&mut server, &mut client, b"kept", backend).await;
            if backend == Backend::IoUring {
                let error = server.into_std().unwrap_err();
                assert!(error.to_string().contains("queued"), "{error}");
                return;
            }
            assert_eq!(read_rest(&mut server, 4).await, b"kept");
            let std_stream = server.into_std().unwrap();
            drop(std_stream);
        });
    }
}

queue_test! {
    /// Read everything queued, then into_std: nothing is lost, the std stream reads
    /// what the peer sends next (the receive was cancelled).
    fn into_std_after_reading_the_queue_loses_nothing(rt, backend) {
        rt.block_on(async move {
            let (mut client, mut server) = tcp_pair().await;
            engage_then_send(&mut server, &mut client, b"first", backend).await;
            assert_eq!(read_rest(&mut server, 5).await, b"first");
            let std_stream = server.into_std().unwrap();
            // Bytes a receive takes before its cancellation lands are lost (documented):
            // wait until the runtime has no request left in the kernel (the receive's
            // final CQE came) before the peer sends.
            let handle = ringtide::runtime::Handle::current();
            let mut yields = 0u64;
            while handle.metrics().io().in_flight > 0 {
                yields += 1;
                assert!(yields < 10_000_000, "the cancelled receive never ended");
                ringtide::task::yield_now().await;
            }
            client.write_all(b"second").await.unwrap();
            let got = ringtide::task::spawn_blocking(move || {
                use std::io::Read;
                std_stream.set_nonblocking(false).unwrap();
                let mut got = [0u8; 6];
                let mut stream = std_stream;
                stream.read_exact(&mut got).map(|()| got)
            })
            .await
            .unwrap();
            assert_eq!(&got.unwrap(), b"second");
        });
    }
}

queue_test! {
    /// End of stream and a reset are delivered after the bytes queued before them.
    fn end_of_stream_and_errors_come_after_the_data(rt, backend) {
        rt.block_on(async move {
            let (mut client, mut server) = tcp_pair().await;
            engage_then_send(&mut server, &mut client, b"last words", backend).await;
            client.shutdown().await.unwrap();
            assert_eq!(read_rest(&mut server, 10).await, b"last words");
            let mut buf = [0u8; 8];
            assert_eq!(timeout(HANG, server.read(&mut buf)).await.unwrap().unwrap(), 0);
            assert_eq!(timeout(HANG, server.read(&mut buf)).await.unwrap().unwrap(), 0);

            let (mut client, mut server) = tcp_pair().await;
            engage_then_send(&mut server, &mut client, b"reset", backend).await;
            client.set_zero_linger().unwrap();
            drop(client);
            // The data was taken before the reset (queued on io_uring; in the socket
            // on mio): it comes first, then the reset.
            let mut got = Vec::new();
            let error = loop {
                let mut buf = [0u8; 8];
                match timeout(HANG, server.read(&mut buf)).await.unwrap() {
                    Ok(0) => panic!("end of stream instead of a reset, after {got:?}"),
                    Ok(count) => got.extend_from_slice(&buf[..count]),
                    Err(error) => break error,
                }
            };
            if backend == Backend::IoUring {
                assert_eq!(got, b"reset", "queued bytes come before the error");
            }
            assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
        });
    }
}

/// A slow reader: the peer sends 2 MiB while nobody reads. The queue stops at its
/// limit (io_uring: backpressure counted), then every byte is read in order.
#[test]
fn backpressure_bounds_the_queue_and_loses_nothing() {
    in_child_process(
        "backpressure_bounds_the_queue_and_loses_nothing",
        |rt, backend| {
            rt.block_on(async move {
                let (mut client, mut server) = tcp_pair().await;
                engage_then_send(&mut server, &mut client, b"go", backend).await;
                let stopped_before = ringtide::__private::recv_multishot_counts().1;
                let total = 2 << 20;
                let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
                let sent = data.clone();
                let writer = ringtide::spawn(async move {
                    client.write_all(&sent).await.unwrap();
                    client
                });
                if backend == Backend::IoUring {
                    // Wait (yielding) until the queue stopped the receive.
                    let mut yields = 0u64;
                    while ringtide::__private::recv_multishot_counts().1 == stopped_before {
                        yields += 1;
                        assert!(yields < 50_000_000, "the queue never stopped its receive");
                        ringtide::task::yield_now().await;
                    }
                    // Bounded: the limit, plus what the kernel filled from the socket's
                    // receive buffer before the cancel landed (at most SO_RCVBUF bytes, in
                    // buffers of at least 1 KiB on loopback).
                    let queued = ringtide::__private::recv_multishot_counts().3 as usize;
                    let bound = ringtide::__private::recv_multishot_queue_limit()
                        + receive_buffer(&server) / 1024;
                    assert!(queued <= bound, "{queued} buffers queued, bound {bound}");
                }
                assert_eq!(read_rest(&mut server, 2).await, b"go");
                let got = read_rest(&mut server, total).await;
                assert!(got == data, "the bytes differ");
                drop(writer.await.unwrap());
            });
        },
    );
}

/// A stream dropped with buffers queued gives them back to the ring at once.
#[test]
fn a_closed_stream_returns_its_queued_buffers() {
    in_child_process(
        "a_closed_stream_returns_its_queued_buffers",
        |rt, backend| {
            rt.block_on(async move {
                for _ in 0..20 {
                    let (mut client, mut server) = tcp_pair().await;
                    engage_then_send(&mut server, &mut client, &[7u8; 40_000], backend).await;
                    if backend == Backend::IoUring {
                        assert!(
                            ringtide::__private::recv_multishot_counts().3 > 0,
                            "nothing queued"
                        );
                    }
                    drop(server);
                    assert_eq!(
                        ringtide::__private::recv_multishot_counts().3,
                        0,
                        "the dropped stream's buffers went back"
                    );
                    drop(client);
                }
            });
        },
    );
}

queue_test! {
    /// Unix streams: the same queue, ping-pong and a dropped read.
    fn unix_streams_read_through_the_queue(rt, backend) {
        rt.block_on(async move {
            let (mut client, mut server) = UnixStream::pair().unwrap();
            engage_then_send(&mut server, &mut client, b"unix bytes", backend).await;
            let mut byte = [0u8; 1];
            assert_eq!(server.try_read(&mut byte).unwrap(), 1);
            assert_eq!(&byte, b"u");
            assert_eq!(read_rest(&mut server, 9).await, b"nix bytes");
            for round in 0..50u8 {
                client.write_all(&[round; 64]).await.unwrap();
                assert_eq!(read_rest(&mut server, 64).await, [round; 64]);
            }
            drop(client);
            let mut buf = [0u8; 4];
            assert_eq!(timeout(HANG, server.read(&mut buf)).await.unwrap().unwrap(), 0);
        });
    }
}

/// The ring's exhaustion: with a tiny group (4 buffers of 64 bytes, set in a child
/// process before any receive), one stream's queue holds every buffer; a second
/// stream's receive then ends with `ENOBUFS` and its reads fall back to readiness +
/// `recv`, never failing; once the first stream's buffers come back, it is re-armed.
#[cfg(target_os = "linux")]
#[test]
fn buffer_ring_exhaustion_falls_back_and_never_fails() {
    const CHILD: &str = "RINGTIDE_RECV_MULTI_TINY_RING";
    if std::env::var_os(CHILD).is_none() {
        let output = rt_common::run_child_test(
            "buffer_ring_exhaustion_falls_back_and_never_fails",
            &[(CHILD, "1")],
            Duration::from_secs(60),
        );
        assert!(
            output.status.success(),
            "child failed\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }
    ringtide::__private::set_recv_multishot_group_shape(4, 64);
    let runtime = rt_common::backend_builder(Backend::IoUring, 0)
        .uring_recv_multishot(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let (mut hog_peer, mut hog) = tcp_pair().await;
        engage_then_send(&mut hog, &mut hog_peer, &[1u8; 256], Backend::IoUring).await;
        // Wait until the hog's queue holds the whole ring.
        let mut yields = 0u64;
        while ringtide::__private::recv_multishot_counts().3 < 4 {
            yields += 1;
            assert!(yields < 10_000_000, "the ring never filled");
            ringtide::task::yield_now().await;
        }
        let enobufs_before = ringtide::__private::pooled_read_enobufs();
        let (mut peer, mut stream) = tcp_pair().await;
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        let first =
            poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut stream).poll_read(cx, &mut buf)))
                .await;
        assert!(first.is_pending());
        let data: Vec<u8> = (0..1000).map(|i| (i % 200) as u8).collect();
        peer.write_all(&data).await.unwrap();
        let got = read_rest(&mut stream, 1000).await;
        assert_eq!(got, data);
        assert!(
            ringtide::__private::pooled_read_enobufs() > enobufs_before,
            "the second receive never saw ENOBUFS"
        );
        assert!(
            ringtide::__private::recv_multishot_counts().2 > 0,
            "no read fell back to recv"
        );
        // The hog reads its bytes; its buffers go back and both streams work on.
        assert_eq!(read_rest(&mut hog, 256).await, vec![1u8; 256]);
        for round in 0..20u8 {
            peer.write_all(&[round; 100]).await.unwrap();
            assert_eq!(read_rest(&mut stream, 100).await, vec![round; 100]);
            hog_peer.write_all(&[round; 10]).await.unwrap();
            assert_eq!(read_rest(&mut hog, 10).await, vec![round; 10]);
        }
    });
}
