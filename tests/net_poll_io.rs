//! tokio's and futures' `AsyncRead`/`AsyncWrite` on TCP streams and their halves
//! (features `tokio-io` and `futures-io`), each test on both backends and both
//! flavours (`backend_test!`).

#![cfg(all(feature = "tokio-io", feature = "futures-io"))]

mod rt_common;

use std::time::Duration;

use ringtide::io::AsyncReadOwned;
use ringtide::net::{TcpListener, TcpStream};

/// A connected pair over loopback: (client, server side).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(address), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

/// `len` bytes of a pattern that does not repeat every power of two.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 13) as u8)
        .collect()
}

/// FNV-1a.
fn checksum(hash: &mut u64, bytes: &[u8]) {
    for &byte in bytes {
        *hash ^= u64::from(byte);
        *hash = hash.wrapping_mul(0x100_0000_01b3);
    }
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

backend_test! {
    fn tokio_copy_through_an_echo_server(rt, multi) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        rt.block_on(async {
            let (client, server) = pair().await;
            let echo = ringtide::spawn(async move {
                let (mut reader, mut writer) = server.into_split();
                let copied = tokio::io::copy(&mut reader, &mut writer).await.unwrap();
                writer.shutdown().await.unwrap();
                copied
            });
            let data = pattern(300_000);
            let (mut reader, mut writer) = client.into_split();
            let sent = data.clone();
            let send = ringtide::spawn(async move {
                writer.write_all(&sent).await.unwrap();
                writer.shutdown().await.unwrap();
                writer
            });
            let mut received = Vec::new();
            reader.read_to_end(&mut received).await.unwrap();
            assert_eq!(received.len(), data.len());
            assert!(received == data, "echoed bytes differ");
            assert_eq!(echo.await.unwrap(), data.len() as u64);
            let writer = send.await.unwrap();
            reader.reunite(writer).unwrap();
        });
    }
}

backend_test! {
    fn buf_reader_read_line(rt, multi) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

        rt.block_on(async {
            let (client, mut server) = pair().await;
            let writer = ringtide::spawn(async move {
                server.write_all(b"first line\nsecond").await.unwrap();
                server.write_all(b" line\n\nlast, unterminated").await.unwrap();
                server.shutdown().await.unwrap();
            });
            let mut lines = tokio::io::BufReader::new(client);
            let mut line = String::new();
            let mut seen = Vec::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap() == 0 {
                    break;
                }
                seen.push(line.clone());
            }
            assert_eq!(seen, ["first line\n", "second line\n", "\n", "last, unterminated"]);
            writer.await.unwrap();
        });
    }
}

backend_test! {
    fn framed_lines_codec(rt, multi) {
        use futures::{SinkExt, StreamExt};
        use tokio_util::codec::{Framed, LinesCodec};

        rt.block_on(async {
            let (client, server) = pair().await;
            let server = ringtide::spawn(async move {
                let mut frames = Framed::new(server, LinesCodec::new());
                let mut count = 0;
                while let Some(line) = frames.next().await {
                    frames.send(line.unwrap().to_uppercase()).await.unwrap();
                    count += 1;
                }
                count
            });
            let mut frames = Framed::new(client, LinesCodec::new());
            for i in 0..200 {
                frames.send(format!("frame {i} {}", "x".repeat(i * 7))).await.unwrap();
            }
            for i in 0..200 {
                let line = frames.next().await.unwrap().unwrap();
                assert_eq!(line, format!("FRAME {i} {}", "X".repeat(i * 7)));
            }
            // Closing the sink shuts the write side down: the server sees the end.
            SinkExt::<String>::close(&mut frames).await.unwrap();
            assert!(frames.next().await.is_none());
            assert_eq!(server.await.unwrap(), 200);
        });
    }
}

backend_test! {
    fn futures_io_round_trip(rt, multi) {
        use futures::io::{AsyncReadExt as _, AsyncWriteExt as _};

        rt.block_on(async {
            let (client, server) = pair().await;
            let echo = ringtide::spawn(async move {
                let (reader, mut writer) = server.into_split();
                let copied = futures::io::copy(reader, &mut writer).await.unwrap();
                writer.close().await.unwrap();
                copied
            });
            let (mut reader, mut writer) = client.into_split();
            let data = pattern(70_000);
            let sent = data.clone();
            let send = ringtide::spawn(async move {
                writer.write_all(&sent[..10]).await.unwrap();
                let slices = [
                    std::io::IoSlice::new(&sent[10..1000]),
                    std::io::IoSlice::new(&sent[1000..]),
                ];
                let written = 10 + writer.write_vectored(&slices).await.unwrap();
                writer.write_all(&sent[written..]).await.unwrap();
                writer.flush().await.unwrap();
                writer.close().await.unwrap();
            });
            let mut exact = [0u8; 10];
            reader.read_exact(&mut exact).await.unwrap();
            assert_eq!(exact, data[..10]);
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest).await.unwrap();
            assert!(rest == data[10..], "echoed bytes differ");
            send.await.unwrap();
            assert_eq!(echo.await.unwrap(), data.len() as u64);
        });
    }
}

backend_test! {
    fn eight_mib_with_checksum(rt, multi) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        const TOTAL: usize = 8 << 20;

        rt.block_on(async {
            let (mut client, server) = pair().await;
            let receive = ringtide::spawn(async move {
                let (mut reader, _writer) = server.into_split();
                let mut hash = FNV_START;
                let mut total = 0;
                // `read_buf` hands poll_read a `ReadBuf` over uninitialised capacity.
                let mut buf = Vec::with_capacity(100_003);
                loop {
                    buf.clear();
                    if reader.read_buf(&mut buf).await.unwrap() == 0 {
                        break;
                    }
                    checksum(&mut hash, &buf);
                    total += buf.len();
                }
                (total, hash)
            });
            let data = pattern(TOTAL);
            let mut expected = FNV_START;
            checksum(&mut expected, &data);
            // Odd chunk sizes, plain and vectored.
            let mut offset = 0;
            let mut step = 1;
            while offset < TOTAL {
                let end = (offset + step * 4099).min(TOTAL);
                if step % 2 == 0 {
                    let middle = offset + (end - offset) / 3;
                    let slices = [
                        std::io::IoSlice::new(&data[offset..middle]),
                        std::io::IoSlice::new(&data[middle..end]),
                    ];
                    offset += client.write_vectored(&slices).await.unwrap();
                } else {
                    client.write_all(&data[offset..end]).await.unwrap();
                    offset = end;
                }
                step = step % 40 + 1;
            }
            client.shutdown().await.unwrap();
            assert_eq!(receive.await.unwrap(), (TOTAL, expected));
        });
    }
}

backend_test! {
    fn shutdown_gives_the_peer_end_of_stream(rt, multi) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        rt.block_on(async {
            // tokio's poll_shutdown on a stream; the stream still reads afterwards.
            let (mut client, mut server) = pair().await;
            client.write_all(b"bye").await.unwrap();
            client.shutdown().await.unwrap();
            let mut received = Vec::new();
            server.read_to_end(&mut received).await.unwrap();
            assert_eq!(received, b"bye");
            assert_eq!(server.read(&mut [0; 8]).await.unwrap(), 0);
            server.write_all(b"reply").await.unwrap();
            drop(server);
            let mut reply = Vec::new();
            client.read_to_end(&mut reply).await.unwrap();
            assert_eq!(reply, b"reply");

            // futures' poll_close on a write half.
            let (client, mut server) = pair().await;
            let (_reader, mut writer) = client.into_split();
            futures::io::AsyncWriteExt::write_all(&mut writer, b"x").await.unwrap();
            futures::io::AsyncWriteExt::close(&mut writer).await.unwrap();
            let mut received = Vec::new();
            futures::io::AsyncReadExt::read_to_end(&mut server, &mut received).await.unwrap();
            assert_eq!(received, b"x");
        });
    }
}

backend_test! {
    fn poll_read_returns_bytes_kept_from_a_cancelled_owned_read_first(rt, multi) {
        use std::future::Future;

        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        rt.block_on(async {
            // A read cancelled by a timeout, with nothing to read.
            let (mut client, mut server) = pair().await;
            let timed_out =
                ringtide::time::timeout(Duration::from_millis(5), server.read_owned(vec![0; 64]))
                    .await;
            assert!(timed_out.is_err());
            client.write_all(b"after the timeout").await.unwrap();
            client.shutdown().await.unwrap();
            let mut received = Vec::new();
            server.read_to_end(&mut received).await.unwrap();
            assert_eq!(received, b"after the timeout");

            // A read dropped after its data arrived: on io_uring the kernel has taken the
            // bytes, which are kept for the next read. The read is polled once, then the
            // task waits for its wake-up (the completion) without polling it again.
            let (mut client, mut server) = pair().await;
            client.write_all(b"kept").await.unwrap();
            let mut received = Vec::new();
            {
                let mut read = std::pin::pin!(server.read_owned(vec![0u8; 64]));
                let mut first = true;
                std::future::poll_fn(|cx| {
                    if !std::mem::take(&mut first) {
                        return std::task::Poll::Ready(());
                    }
                    match read.as_mut().poll(cx) {
                        // mio reads at once (the data is there); a dropped mio read
                        // never takes anything.
                        std::task::Poll::Ready((result, buf)) => {
                            received.extend_from_slice(&buf[..result.unwrap()]);
                            std::task::Poll::Ready(())
                        }
                        std::task::Poll::Pending => std::task::Poll::Pending,
                    }
                })
                .await;
            }
            if server.backend() == ringtide::runtime::Backend::IoUring {
                assert!(received.is_empty(), "the read was polled once: it is in flight");
            }
            client.write_all(b" then more").await.unwrap();
            client.shutdown().await.unwrap();
            server.read_to_end(&mut received).await.unwrap();
            assert_eq!(received, b"kept then more");
        });
    }
}

// Unix only: Windows has no `net::UnixStream`.
#[cfg(unix)]
backend_test! {
    fn unix_stream_tokio_copy_and_futures_round_trip(rt, multi) {
        rt.block_on(async {
            // tokio: an echo through split halves of one end of a pair.
            let (client, server) = ringtide::net::UnixStream::pair().unwrap();
            let echo = ringtide::spawn(async move {
                let (mut reader, mut writer) = server.into_split();
                let copied = tokio::io::copy(&mut reader, &mut writer).await.unwrap();
                tokio::io::AsyncWriteExt::shutdown(&mut writer).await.unwrap();
                copied
            });
            let data = pattern(200_000);
            let (mut reader, mut writer) = client.into_split();
            let sent = data.clone();
            let send = ringtide::spawn(async move {
                tokio::io::AsyncWriteExt::write_all(&mut writer, &sent).await.unwrap();
                tokio::io::AsyncWriteExt::shutdown(&mut writer).await.unwrap();
            });
            let mut received = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut received)
                .await
                .unwrap();
            assert!(received == data, "echoed bytes differ");
            assert_eq!(echo.await.unwrap(), data.len() as u64);
            send.await.unwrap();

            // futures: a round trip on a whole stream.
            let (mut left, mut right) = ringtide::net::UnixStream::pair().unwrap();
            futures::AsyncWriteExt::write_all(&mut left, b"over futures-io")
                .await
                .unwrap();
            let mut buf = [0u8; 15];
            futures::AsyncReadExt::read_exact(&mut right, &mut buf)
                .await
                .unwrap();
            assert_eq!(&buf, b"over futures-io");
        });
    }
}
