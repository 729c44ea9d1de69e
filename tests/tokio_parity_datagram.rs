//! tokio's datagram API on `UdpSocket` and `UnixDatagram` (borrowed buffers: `send`,
//! `recv`, `send_to`, `recv_from`, their `try_*` and `poll_*` forms, `peek*`, `ready`),
//! written the way tokio's documentation uses it, on both backends and both flavours
//! (`backend_test!`). Loopback only; nothing waits on a sleep.

#![cfg(target_os = "linux")]

mod rt_common;

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use ringtide::io::Interest;
use ringtide::net::{UdpSocket, UnixDatagram};
use ringtide::runtime::Backend;
use ringtide::time::timeout;
use rt_common::{LatePaths, poll_once_then_drop};
use tokio::io::ReadBuf;

async fn bind() -> io::Result<UdpSocket> {
    UdpSocket::bind("127.0.0.1:0").await
}

/// A datagram of `size` bytes whose content depends on its size.
fn datagram(size: usize) -> Vec<u8> {
    (0..size).map(|i| (size * 7 + i) as u8).collect()
}

/// Whether the next poll of `poll` is `Pending` (it is polled once, with the task's
/// waker, and dropped).
async fn is_pending<T>(mut poll: impl FnMut(&mut std::task::Context<'_>) -> Poll<T>) -> bool {
    poll_fn(|cx| Poll::Ready(poll(cx).is_pending())).await
}

fn would_block<T>(result: &io::Result<T>) -> bool {
    matches!(result, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

backend_test! {
    /// tokio's echo server: `recv_from` then `send_to` the same bytes back, for
    /// datagrams of many sizes, the empty one included.
    fn udp_echo_with_recv_from_and_send_to(rt, multi) {
        rt.block_on(async {
            let server = Arc::new(bind().await?);
            let server_addr = server.local_addr()?;
            let sizes = [0, 1, 17, 512, 1400, 8192, 0, 60000];
            let echo = ringtide::spawn({
                let server = server.clone();
                async move {
                    let mut buf = vec![0; 65536];
                    for _ in 0..sizes.len() {
                        let (len, peer) = server.recv_from(&mut buf).await?;
                        assert_eq!(server.send_to(&buf[..len], peer).await?, len);
                    }
                    io::Result::Ok(())
                }
            });
            let client = bind().await?;
            let mut buf = vec![0; 65536];
            for size in sizes {
                assert_eq!(client.send_to(&datagram(size), server_addr).await?, size);
                let (len, from) = client.recv_from(&mut buf).await?;
                assert_eq!(from, server_addr);
                assert_eq!(len, size);
                assert!(buf[..len] == datagram(size), "size {size}: the echo is intact");
            }
            echo.await.expect("echo task")?;
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// tokio's readiness loops: `writable` + `try_send_to`, `readable` + `try_recv_from`,
    /// going back to waiting on `WouldBlock`.
    fn udp_try_loops_after_readiness(rt, multi) {
        rt.block_on(async {
            let (a, b) = (bind().await?, bind().await?);
            let b_addr = b.local_addr()?;
            for round in 0..50usize {
                let message = datagram(round * 13);
                loop {
                    a.writable().await?;
                    match a.try_send_to(&message, b_addr) {
                        Ok(sent) => break assert_eq!(sent, message.len()),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        Err(e) => return Err(e),
                    }
                }
                let mut buf = [0; 1024];
                let (len, from) = loop {
                    b.readable().await?;
                    match b.try_recv_from(&mut buf) {
                        Ok(received) => break received,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        Err(e) => return Err(e),
                    }
                };
                assert_eq!(from, a.local_addr()?);
                assert_eq!(&buf[..len], &message[..]);
            }
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// Nothing queued: every `try_*` receive says `WouldBlock`, and after one did,
    /// `poll_recv_ready` waits (no readiness is left recorded).
    fn try_receives_would_block_when_idle(rt, multi) {
        rt.block_on(async {
            let socket = bind().await?;
            socket.connect(socket.local_addr()?).await?;
            let mut buf = [0; 16];
            assert!(would_block(&socket.try_recv(&mut buf)));
            assert!(would_block(&socket.try_recv_from(&mut buf)));
            assert!(would_block(&socket.try_peek(&mut buf)));
            assert!(would_block(&socket.try_peek_from(&mut buf)));
            assert!(would_block(&socket.try_peek_sender()));
            assert!(is_pending(|cx| socket.poll_recv_ready(cx)).await);

            // One datagram: it is received once, then the socket is idle again.
            socket.send(b"one").await?;
            socket.readable().await?;
            assert_eq!(socket.try_recv(&mut buf)?, 3);
            assert!(would_block(&socket.try_recv(&mut buf)));
            assert!(
                is_pending(|cx| socket.poll_recv_ready(cx)).await,
                "the WouldBlock cleared the readiness"
            );
            socket.send(b"two").await?;
            poll_fn(|cx| socket.poll_recv_ready(cx)).await?;
            assert_eq!(socket.try_recv(&mut buf)?, 3);
            assert_eq!(&buf[..3], b"two");

            let (a, b) = UnixDatagram::pair()?;
            assert!(would_block(&b.try_recv(&mut buf)));
            assert!(would_block(&b.try_recv_from(&mut buf)));
            assert!(is_pending(|cx| b.poll_recv_ready(cx)).await);
            a.send(b"unix").await?;
            b.readable().await?;
            assert_eq!(b.try_recv(&mut buf)?, 4);
            assert!(would_block(&b.try_recv(&mut buf)));
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// On mio a `try_*` call makes no syscall while the driver has recorded no
    /// readiness (tokio's behaviour): a datagram that is already queued when the socket
    /// is registered is not seen until the driver reports it. On io_uring the
    /// non-blocking syscall runs at once.
    fn mio_try_recv_needs_recorded_readiness(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async {
            let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
            let sender = std::net::UdpSocket::bind("127.0.0.1:0")?;
            sender.send_to(b"queued", std_socket.local_addr()?)?;
            let socket = UdpSocket::from_std(std_socket)?;
            let mut buf = [0; 16];
            let first = socket.try_recv_from(&mut buf);
            match backend {
                // With one thread the driver cannot have polled since the registration.
                Backend::Mio if !multi => assert!(would_block(&first), "{first:?}"),
                Backend::IoUring => assert_eq!(first.as_ref().map(|(len, _)| *len).ok(), Some(6)),
                _ => {}
            }
            if would_block(&first) {
                socket.readable().await?;
                assert_eq!(socket.try_recv_from(&mut buf)?, (6, sender.local_addr()?));
            }
            assert_eq!(&buf[..6], b"queued");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// `poll_recv`/`poll_recv_from`/`poll_peek`/`poll_peek_from` fill a `ReadBuf`'s
    /// unfilled part (keeping what was filled), truncate to it, and an empty datagram
    /// leaves the buffer as it was; `poll_send`/`poll_send_to` send.
    fn poll_methods_with_read_buf(rt, multi) {
        rt.block_on(async {
            let (a, b) = (bind().await?, bind().await?);
            let (a_addr, b_addr) = (a.local_addr()?, b.local_addr()?);
            b.connect(a_addr).await?;
            for message in [&b"hello world"[..], b"", b"0123456789"] {
                let sent = poll_fn(|cx| a.poll_send_to(cx, message, b_addr)).await?;
                assert_eq!(sent, message.len());
            }

            let mut storage = [0u8; 8];
            let mut buf = ReadBuf::new(&mut storage);
            buf.put_slice(b">");
            // Peeking leaves the datagram queued.
            let from = poll_fn(|cx| b.poll_peek_from(cx, &mut buf)).await?;
            assert_eq!((from, buf.filled()), (a_addr, &b">hello w"[..]));
            buf.set_filled(1);
            poll_fn(|cx| b.poll_peek(cx, &mut buf)).await?;
            assert_eq!(buf.filled(), b">hello w");
            buf.set_filled(1);
            let from = poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await?;
            assert_eq!((from, buf.filled()), (a_addr, &b">hello w"[..]), "cut to the room left");

            // The empty datagram: nothing is added, but it is taken.
            buf.clear();
            poll_fn(|cx| b.poll_recv(cx, &mut buf)).await?;
            assert!(buf.filled().is_empty());
            poll_fn(|cx| b.poll_recv(cx, &mut buf)).await?;
            assert_eq!(buf.filled(), b"01234567");

            // Connected sends, and the Unix socket's forms.
            let sent = poll_fn(|cx| b.poll_send(cx, b"back")).await?;
            assert_eq!(sent, 4);
            let mut back = [0; 8];
            assert_eq!(a.recv_from(&mut back).await?, (4, b_addr));

            let (x, y) = UnixDatagram::pair()?;
            assert_eq!(poll_fn(|cx| x.poll_send(cx, b"unix")).await?, 4);
            let mut storage = [0u8; 16];
            let mut buf = ReadBuf::new(&mut storage);
            let from = poll_fn(|cx| y.poll_recv_from(cx, &mut buf)).await?;
            assert!(from.is_unnamed());
            assert_eq!(buf.filled(), b"unix");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// `peek_from`, `peek`, `try_peek_from` and `peek_sender` leave the datagram
    /// queued: the next receive returns it whole, even after a truncating peek.
    fn peek_does_not_consume(rt, multi) {
        rt.block_on(async {
            let (a, b) = (bind().await?, bind().await?);
            let a_addr = a.local_addr()?;
            a.send_to(b"first datagram", b.local_addr()?).await?;
            a.send_to(b"second", b.local_addr()?).await?;

            let mut small = [0; 5];
            assert_eq!(b.peek_from(&mut small).await?, (5, a_addr));
            assert_eq!(&small, b"first");
            assert_eq!(b.peek_sender().await?, a_addr);
            assert_eq!(b.try_peek_sender()?, a_addr);
            let mut buf = [0; 64];
            assert_eq!(b.try_peek_from(&mut buf)?, (14, a_addr));
            assert_eq!(b.peek(&mut buf).await?, 14);
            assert_eq!(b.recv_from(&mut buf).await?, (14, a_addr));
            assert_eq!(&buf[..14], b"first datagram");
            assert_eq!(b.try_peek(&mut buf)?, 6);
            assert_eq!(b.recv(&mut buf).await?, 6);
            assert_eq!(&buf[..6], b"second");
            assert!(would_block(&b.try_peek_from(&mut buf)));
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// An empty datagram is a datagram: sent by `send_to`/`try_send`/`send`, received
    /// as `Ok(0)` with its sender; a receive into an empty buffer takes (and discards)
    /// a whole non-empty datagram.
    fn zero_length_datagrams(rt, multi) {
        rt.block_on(async {
            let (a, b) = (bind().await?, bind().await?);
            let (a_addr, b_addr) = (a.local_addr()?, b.local_addr()?);
            assert_eq!(a.send_to(&[], b_addr).await?, 0);
            let mut buf = [0; 16];
            assert_eq!(b.recv_from(&mut buf).await?, (0, a_addr));
            a.send_to(b"discarded", b_addr).await?;
            a.send_to(b"kept", b_addr).await?;
            assert_eq!(b.recv(&mut []).await?, 0);
            assert_eq!(b.recv(&mut buf).await?, 4);
            assert_eq!(&buf[..4], b"kept");

            let (x, y) = UnixDatagram::pair()?;
            x.writable().await?;
            assert_eq!(x.try_send(&[])?, 0);
            assert_eq!(x.send(b"").await?, 0);
            x.send(b"after").await?;
            assert_eq!(y.recv(&mut buf).await?, 0);
            let (len, from) = y.recv_from(&mut buf).await?;
            assert_eq!(len, 0);
            assert!(from.is_unnamed());
            assert_eq!(y.recv(&mut buf).await?, 5);
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// Unconnected sockets cannot `send`; connected ones filter other senders, and a
    /// UDP peer with nothing listening shows up as `ConnectionRefused`.
    fn connected_and_unconnected_sockets(rt, multi) {
        rt.block_on(async {
            let (a, b, stranger) = (bind().await?, bind().await?, bind().await?);
            let error = a.send(b"nowhere").await.unwrap_err();
            assert_eq!(error.raw_os_error(), Some(libc::EDESTADDRREQ), "{error}");
            a.writable().await?;
            let error = a.try_send(b"nowhere").unwrap_err();
            assert_eq!(error.raw_os_error(), Some(libc::EDESTADDRREQ), "{error}");
            assert_eq!(a.peer_addr().unwrap_err().kind(), io::ErrorKind::NotConnected);

            a.connect(b.local_addr()?).await?;
            b.connect(a.local_addr()?).await?;
            stranger.send_to(b"filtered", a.local_addr()?).await?;
            b.send(b"peer").await?;
            let mut buf = [0; 16];
            assert_eq!(a.recv_from(&mut buf).await?, (4, b.local_addr()?));
            assert_eq!(&buf[..4], b"peer");

            let closed: SocketAddr = bind().await?.local_addr()?;
            let lonely = bind().await?;
            lonely.connect(closed).await?;
            lonely.send(b"anyone?").await?;
            // The ICMP error arrives at once on loopback; the timer turns a kernel that
            // sends none into a failure instead of a hang.
            let received = timeout(Duration::from_secs(10), lonely.recv(&mut buf))
                .await
                .expect("no ICMP port unreachable arrived within 10 s");
            assert_eq!(received.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);

            let unbound = UnixDatagram::unbound()?;
            assert_eq!(unbound.send(b"x").await.unwrap_err().kind(), io::ErrorKind::NotConnected);
            let missing = std::env::temp_dir().join(format!("ringtide-missing-{}", std::process::id()));
            assert_eq!(
                unbound.send_to(b"x", &missing).await.unwrap_err().kind(),
                io::ErrorKind::NotFound
            );
            let (x, y) = UnixDatagram::pair()?;
            drop(y);
            assert_eq!(x.send(b"gone").await.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// Unix datagrams by path: `send_to`/`try_send_to`/`poll_send_to` and `recv_from`
    /// report the bound sender; `shutdown(Write)` makes sends fail.
    fn unix_datagrams_by_path(rt, multi) {
        rt.block_on(async {
            let dir = std::env::temp_dir().join(format!(
                "ringtide-parity-dgram-{}-{}",
                std::process::id(),
                if multi { "multi" } else { "current" }
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            let (path_a, path_b) = (dir.join("a"), dir.join("b"));
            let a = UnixDatagram::bind(&path_a)?;
            let b = UnixDatagram::bind(&path_b)?;
            assert_eq!(a.send_to(b"one", &path_b).await?, 3);
            a.writable().await?;
            assert_eq!(a.try_send_to(b"two", &path_b)?, 3);
            assert_eq!(poll_fn(|cx| a.poll_send_to(cx, b"three", &path_b)).await?, 5);
            let mut buf = [0; 16];
            for expected in [&b"one"[..], b"two", b"three"] {
                let (len, from) = b.recv_from(&mut buf).await?;
                assert_eq!(&buf[..len], expected);
                assert_eq!(from.as_pathname(), Some(path_a.as_path()));
            }
            b.send_to_addr(b"reply", &a.local_addr()?).await?;
            assert_eq!(a.recv(&mut buf).await?, 5);

            a.connect(&path_b)?;
            a.shutdown(std::net::Shutdown::Write)?;
            assert_eq!(a.send(b"late").await.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
            std::fs::remove_dir_all(&dir)?;
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// Several tasks `recv` on one shared socket at once (each is a listed waiter, not
    /// the one `poll_*` slot): every one gets a datagram, none hangs.
    fn many_tasks_receive_on_one_socket(rt, multi) {
        rt.block_on(async {
            const TASKS: usize = 6;
            let socket = Arc::new(bind().await?);
            let address = socket.local_addr()?;
            let (started, mut all_started) = ringtide::sync::mpsc::channel(TASKS);
            let receivers: Vec<_> = (0..TASKS)
                .map(|_| {
                    let socket = socket.clone();
                    let started = started.clone();
                    ringtide::spawn(async move {
                        let mut buf = [0; 8];
                        let len = {
                            let mut receive = std::pin::pin!(socket.recv(&mut buf));
                            // Poll once (so the task is waiting), then report it.
                            let first =
                                poll_fn(|cx| Poll::Ready(receive.as_mut().poll(cx))).await;
                            started.send(()).await.unwrap();
                            match first {
                                Poll::Ready(result) => result?,
                                Poll::Pending => receive.await?,
                            }
                        };
                        io::Result::Ok(buf[..len].to_vec())
                    })
                })
                .collect();
            for _ in 0..TASKS {
                all_started.recv().await.unwrap();
            }
            let sender = bind().await?;
            for index in 0..TASKS {
                sender.send_to(&[index as u8], address).await?;
            }
            let mut received = Vec::new();
            for receiver in receivers {
                received.extend(receiver.await.expect("receiver task")?);
            }
            received.sort_unstable();
            assert_eq!(received, (0..TASKS as u8).collect::<Vec<_>>());
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// `ready(interest)` reports at least one asked-for bit and none other.
    fn ready_reports_the_interest(rt, multi) {
        rt.block_on(async {
            let socket = bind().await?;
            socket.connect(socket.local_addr()?).await?;
            let ready = socket.ready(Interest::WRITABLE).await?;
            assert!(ready.is_writable() && !ready.is_readable(), "{ready:?}");
            socket.send(b"self").await?;
            let ready = socket.ready(Interest::READABLE).await?;
            assert!(ready.is_readable() && !ready.is_writable(), "{ready:?}");
            let ready = socket.ready(Interest::READABLE | Interest::WRITABLE).await?;
            assert!(ready.is_readable() || ready.is_writable(), "{ready:?}");
            poll_fn(|cx| socket.poll_send_ready(cx)).await?;

            let (x, _y) = UnixDatagram::pair()?;
            assert!(x.ready(Interest::WRITABLE).await?.is_writable());
            poll_fn(|cx| x.poll_send_ready(cx)).await?;
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// A datagram an owned receive took before it was dropped (io_uring) is the next
    /// one for the borrowed API too: `peek_from` sees it without taking it, then
    /// `recv_from` returns it with its sender.
    fn a_kept_datagram_comes_first_for_borrowed_receives(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async {
            let late = LatePaths::start();
            let (a, b) = (bind().await?, bind().await?);
            let a_addr = a.local_addr()?;
            a.send_to(b"first", b.local_addr()?).await?;
            a.send_to(b"second", b.local_addr()?).await?;
            let mut expected = [&b"first"[..], b"second"].into_iter();
            if let Some((received, buf)) = poll_once_then_drop(b.recv_from_owned(Vec::with_capacity(16))).await {
                assert_eq!(received?, (5, a_addr));
                assert_eq!(&buf[..], expected.next().unwrap());
            }
            let next = expected.next().unwrap();
            let mut buf = [0; 16];
            assert_eq!(b.peek_from(&mut buf).await?, (next.len(), a_addr));
            assert_eq!(b.recv_from(&mut buf).await?, (next.len(), a_addr));
            assert_eq!(&buf[..next.len()], next);
            for rest in expected {
                assert_eq!(b.recv(&mut buf).await?, rest.len());
                assert_eq!(&buf[..rest.len()], rest);
            }
            late.assert_ran(backend, "a dropped owned receive", |late| late.reads);
            io::Result::Ok(())
        })
        .unwrap();
    }
}

#[cfg(feature = "bytes")]
backend_test! {
    /// `recv_buf`/`recv_buf_from`/`try_recv_buf*` append to a `BufMut`.
    fn recv_buf_appends_to_a_buf_mut(rt, multi) {
        rt.block_on(async {
            let (a, b) = (bind().await?, bind().await?);
            let a_addr = a.local_addr()?;
            a.send_to(b"abc", b.local_addr()?).await?;
            a.send_to(b"def", b.local_addr()?).await?;
            let mut buf = bytes::BytesMut::with_capacity(16);
            buf.extend_from_slice(b">");
            assert_eq!(b.recv_buf_from(&mut buf).await?, (3, a_addr));
            b.readable().await?;
            let len = loop {
                match b.try_recv_buf(&mut buf) {
                    Ok(len) => break len,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => b.readable().await?,
                    Err(e) => return Err(e),
                }
            };
            assert_eq!(len, 3);
            assert_eq!(&buf[..], b">abcdef");

            let (x, y) = UnixDatagram::pair()?;
            x.send(b"unix").await?;
            let mut vec = Vec::new();
            assert_eq!(y.recv_buf(&mut vec).await?, 4);
            assert_eq!(vec, b"unix");
            assert!(would_block(&y.try_recv_buf_from(&mut vec)));
            io::Result::Ok(())
        })
        .unwrap();
    }
}
