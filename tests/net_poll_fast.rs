//! The poll path's readiness (tokio's `AsyncRead`/`AsyncWrite` and the readiness API
//! on TCP streams): on io_uring one multishot `POLL_ADD` per socket direction, armed
//! once; on both backends readiness cleared by `WouldBlock` and by a short read, with
//! the end of stream never lost behind a short read. Each test on both backends and
//! both flavours (`backend_test!`).

#![cfg(feature = "tokio-io")]

mod rt_common;

use std::task::Poll;

use ringtide::net::{TcpListener, TcpStream};
use ringtide::runtime::{Backend, Handle};

/// A connected pair over loopback: (client, server side).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(address), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

const ROUND_TRIPS: usize = 300;

backend_test! {
    /// io_uring: a ping-pong of 300 round trips submits at most a handful of SQEs (one
    /// multishot `POLL_ADD` per socket's read direction; the write side never waits),
    /// where one `POLL_ADD` per wait would submit at least one per round trip. Both
    /// backends: every byte is echoed in order.
    fn a_ping_pong_arms_one_poll_per_socket_direction(rt, multi) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let backend = rt.backend();
        rt.block_on(async move {
            let (mut client, mut server) = pair().await;
            let before = Handle::current().metrics().io().submitted;
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
            for round in 0..ROUND_TRIPS {
                let message = [round as u8; 100];
                client.write_all(&message).await.unwrap();
                client.read_exact(&mut reply).await.unwrap();
                assert_eq!(reply, message, "round {round}");
            }
            let submitted = Handle::current().metrics().io().submitted - before;
            drop(client);
            echo.await.unwrap();
            if backend == Backend::IoUring {
                assert!(
                    submitted <= 8,
                    "{submitted} SQEs for {ROUND_TRIPS} round trips: waits submit SQEs"
                );
            }
        });
    }
}

backend_test! {
    /// The peer writes and shuts down while the reader waits: the read that takes the
    /// data comes back short (which clears the readiness), and the end of stream must
    /// still be seen (io_uring: the poll's hang-up bit stays set), each of 40 times.
    fn end_of_stream_behind_a_short_read_is_seen(rt, multi) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        rt.block_on(async {
            for round in 0..40u8 {
                let (mut client, mut server) = pair().await;
                let writer = ringtide::spawn(async move {
                    ringtide::task::yield_now().await;
                    server.write_all(&[round; 10]).await.unwrap();
                    server.shutdown().await.unwrap();
                    server
                });
                let mut received = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let read = client.read(&mut buf).await.unwrap();
                    if read == 0 {
                        break;
                    }
                    received.extend_from_slice(&buf[..read]);
                }
                assert_eq!(received, [round; 10], "round {round}");
                drop(writer.await.unwrap());
            }
        });
    }
}

backend_test! {
    /// `try_read` that says `WouldBlock` clears the recorded readiness: the next
    /// `readable()` waits for new data (it does not report the readiness the bytes
    /// already read had set), then completes when data comes.
    fn would_block_clears_readiness_so_readable_waits_for_new_data(rt, multi) {
        use tokio::io::AsyncWriteExt;

        rt.block_on(async {
            let (client, mut server) = pair().await;
            server.write_all(b"abc").await.unwrap();
            let mut buf = [0u8; 16];
            let mut received = 0;
            while received < 3 {
                client.readable().await.unwrap();
                match client.try_read(&mut buf[received..]) {
                    Ok(read) => received += read,
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(error) => panic!("try_read: {error}"),
                }
            }
            assert_eq!(&buf[..3], b"abc");
            let error = client.try_read(&mut buf).unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock);
            let mut readable = std::pin::pin!(client.readable());
            assert!(
                matches!(futures::poll!(readable.as_mut()), Poll::Pending),
                "readiness was cleared by WouldBlock"
            );
            server.write_all(b"d").await.unwrap();
            readable.await.unwrap();
            assert_eq!(client.try_read(&mut buf).unwrap(), 1);
            assert_eq!(buf[0], b'd');
        });
    }
}

backend_test! {
    /// A `poll_read` dropped while it waits takes nothing: the bytes that arrive after
    /// are all there for the next read (the poll path keeps no buffer of its own).
    fn a_dropped_waiting_read_loses_no_bytes(rt, multi) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        rt.block_on(async {
            let (mut client, mut server) = pair().await;
            for round in 0..20u8 {
                let mut buf = [0u8; 64];
                {
                    let mut read = std::pin::pin!(client.read(&mut buf));
                    assert!(matches!(futures::poll!(read.as_mut()), Poll::Pending));
                }
                server.write_all(&[round; 32]).await.unwrap();
                let mut got = [0u8; 32];
                client.read_exact(&mut got).await.unwrap();
                assert_eq!(got, [round; 32], "round {round}");
            }
        });
    }
}
