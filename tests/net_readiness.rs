//! The streams' readiness API (tokio's `ready`/`try_read`/`try_write`/`poll_*_ready`),
//! on `TcpStream` and `UnixStream`, both backends and both flavours (`backend_test!`).
//! The peer is driven with the owned-buffer API; nothing waits on a sleep.

#![cfg(target_os = "linux")]

mod rt_common;

use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned, Interest};
use ringtide::net::{TcpListener, TcpStream, UnixStream};

const MIB: usize = 1 << 20;

/// A connected loopback TCP pair.
async fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let client = ringtide::spawn(TcpStream::connect(address));
    let (server, _) = listener.accept().await?;
    Ok((client.await.expect("connect task")?, server))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The tokio idiom: `readable().await` then `try_read` until end of stream.
macro_rules! read_to_end_with_try_read {
    ($stream:expr) => {{
        let stream = $stream;
        let mut received = Vec::new();
        let mut buf = vec![0; 16 * 1024];
        loop {
            stream.readable().await?;
            match stream.try_read(&mut buf) {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        received
    }};
}

/// The tokio idiom: `writable().await` then `try_write` until everything is sent.
macro_rules! write_all_with_try_write {
    ($stream:expr, $data:expr) => {{
        let stream = $stream;
        let data: &[u8] = $data;
        let mut sent = 0;
        while sent < data.len() {
            stream.writable().await?;
            match stream.try_write(&data[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }};
}

backend_test! {
    fn tcp_try_read_receives_a_mebibyte(rt, multi) {
        rt.block_on(async {
            let (client, mut server) = tcp_pair().await?;
            let data = pattern(MIB);
            let writer = ringtide::spawn(async move {
                let (result, _) = server.write_all_owned(pattern(MIB)).await;
                result?;
                server.shutdown_with(std::net::Shutdown::Write).await?;
                io::Result::Ok(server)
            });
            let received = read_to_end_with_try_read!(&client);
            writer.await.unwrap()?;
            assert_eq!(received.len(), data.len());
            assert!(received == data, "bytes arrive intact and in order");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    fn unix_try_read_receives_a_mebibyte(rt, multi) {
        rt.block_on(async {
            let (client, mut server) = UnixStream::pair()?;
            let data = pattern(MIB);
            let writer = ringtide::spawn(async move {
                let (result, _) = server.write_all_owned(pattern(MIB)).await;
                result?;
                drop(server);
                io::Result::Ok(())
            });
            let received = read_to_end_with_try_read!(&client);
            writer.await.unwrap()?;
            assert!(received == data, "bytes arrive intact and in order");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    fn tcp_try_write_sends_a_mebibyte(rt, multi) {
        rt.block_on(async {
            let (client, mut server) = tcp_pair().await?;
            let reader = ringtide::spawn(async move {
                let (result, buf) = server.read_exact_owned(Vec::with_capacity(MIB)).await;
                result?;
                io::Result::Ok(buf)
            });
            let data = pattern(MIB);
            write_all_with_try_write!(&client, &data);
            let received = reader.await.unwrap()?;
            assert!(received == data, "bytes arrive intact and in order");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    fn unix_try_write_sends_a_mebibyte(rt, multi) {
        rt.block_on(async {
            let (client, mut server) = UnixStream::pair()?;
            let reader = ringtide::spawn(async move {
                let (result, buf) = server.read_exact_owned(Vec::with_capacity(MIB)).await;
                result?;
                io::Result::Ok(buf)
            });
            let data = pattern(MIB);
            write_all_with_try_write!(&client, &data);
            let received = reader.await.unwrap()?;
            assert!(received == data, "bytes arrive intact and in order");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    fn ready_reports_writable_then_readable(rt, multi) {
        rt.block_on(async {
            let (client, mut server) = tcp_pair().await?;
            let both = Interest::READABLE | Interest::WRITABLE;
            let ready = client.ready(both).await?;
            assert!(ready.is_writable(), "a fresh connection is writable: {ready:?}");
            assert!(!ready.is_readable(), "nothing was sent yet: {ready:?}");
            assert!(!ready.is_read_closed());

            let (result, _) = server.write_all_owned(b"ping".to_vec()).await;
            result?;
            let ready = client.ready(Interest::READABLE).await?;
            assert!(ready.is_readable(), "{ready:?}");
            assert!(!ready.is_writable(), "only the interest's bits: {ready:?}");
            let mut buf = [0; 8];
            let n = loop {
                match client.try_read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        client.readable().await?;
                    }
                    result => break result?,
                }
            };
            assert_eq!(&buf[..n], b"ping");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    fn try_read_on_an_idle_socket_would_block(rt, multi) {
        rt.block_on(async {
            let (client, _server) = tcp_pair().await?;
            // Let the driver record what readiness there is (writable) first.
            client.writable().await?;
            let error = client.try_read(&mut [0; 16]).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
            let mut a = [0; 4];
            let mut b = [0; 4];
            let error = client
                .try_read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
                .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::WouldBlock);

            let (unix, _peer) = UnixStream::pair()?;
            unix.writable().await?;
            let error = unix.try_read(&mut [0; 16]).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    fn vectored_try_calls_move_bytes_in_order(rt, multi) {
        rt.block_on(async {
            let (client, server) = UnixStream::pair()?;
            let written = loop {
                client.writable().await?;
                match client.try_write_vectored(&[IoSlice::new(b"hello "), IoSlice::new(b"world")]) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    result => break result?,
                }
            };
            assert_eq!(written, 11);
            let mut a = [0; 6];
            let mut b = [0; 5];
            let read = loop {
                server.readable().await?;
                match server.try_read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)]) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    result => break result?,
                }
            };
            assert_eq!(read, 11);
            assert_eq!((&a, &b), (b"hello ", b"world"));
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    fn poll_read_ready_through_poll_fn(rt, multi) {
        rt.block_on(async {
            let (client, mut server) = tcp_pair().await?;
            poll_fn(|cx| client.poll_write_ready(cx)).await?;
            let (result, _) = server.write_all_owned(b"x".to_vec()).await;
            result?;
            let mut buf = [0; 4];
            let n = loop {
                poll_fn(|cx| client.poll_read_ready(cx)).await?;
                match client.try_read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    result => break result?,
                }
            };
            assert_eq!(&buf[..n], b"x");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    fn a_closed_peer_shows_as_read_closed(rt, multi) {
        rt.block_on(async {
            let (client, server) = tcp_pair().await?;
            drop(server);
            let ready = client.ready(Interest::READABLE).await?;
            assert!(ready.is_readable(), "{ready:?}");
            // Read-closed, or at least readable with end of stream to read.
            let n = loop {
                match client.try_read(&mut [0; 8]) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        client.readable().await?;
                    }
                    result => break result?,
                }
            };
            assert_eq!(n, 0, "end of stream");

            let (unix, peer) = UnixStream::pair()?;
            drop(peer);
            let ready = unix.ready(Interest::READABLE).await?;
            assert!(ready.is_read_closed(), "{ready:?}");
            assert_eq!(unix.try_read(&mut [0; 8])?, 0);
            io::Result::Ok(())
        })
        .unwrap();
    }
}
