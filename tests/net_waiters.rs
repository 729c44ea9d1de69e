//! Several tasks waiting for the same direction of one I/O object (trust issue 10,
//! item 2): every waiter whose direction becomes ready is woken, on both backends
//! (io_uring and mio × current-thread and 4 workers, through `backend_test!`).
//!
//! Each waiter is counted once its first poll has returned, i.e. once it has
//! registered; the event that should wake them is only produced after every waiter
//! is counted, so a waiter that replaced another one's wake-up leaves that one hanging.
//! [`WATCHDOG`] turns such a hang into a failure with a message. Loopback only.

#![cfg(target_os = "linux")]

mod rt_common;

use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::AsRawFd;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::Poll;
use std::time::Duration;

use ringtide::io::{AsyncFd, AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpStream, UdpSocket};
use ringtide::runtime::Backend;
use ringtide::task::JoinHandle;
use ringtide::time::timeout;

/// How long a waiter may take to be woken before the test calls it lost. A passing
/// run never gets near it; it only bounds how long a lost wake-up takes to fail.
const WATCHDOG: Duration = Duration::from_secs(10);

/// The numbers of concurrent waiters each scenario runs with.
const WAITER_COUNTS: [usize; 2] = [2, 8];

/// Awaits `future`, adding one to `polled` as soon as its first poll returned: from
/// then on a pending `future` is registered as a waiter.
async fn counted<F: Future>(polled: &AtomicUsize, future: F) -> F::Output {
    let mut future = pin!(future);
    let mut first = true;
    poll_fn(|cx| {
        let poll = future.as_mut().poll(cx);
        if std::mem::take(&mut first) {
            polled.fetch_add(1, SeqCst);
        }
        poll
    })
    .await
}

/// Yields until `polled` reaches `expected` (the spawned waiters have registered).
async fn until_polled(polled: &AtomicUsize, expected: usize) {
    while polled.load(SeqCst) < expected {
        ringtide::task::yield_now().await;
    }
}

/// Polls `future` once and drops it: a waiter that registers, then goes away.
async fn poll_once_and_drop<F: Future>(future: F) {
    let mut future = pin!(future);
    let first = poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
    assert!(first.is_pending(), "nothing is ready yet");
}

/// Awaits every waiter under the watchdog; a waiter that is never woken fails the test.
async fn join_all<T>(what: &str, waiters: Vec<JoinHandle<T>>) -> Vec<T> {
    let count = waiters.len();
    let mut outputs = Vec::with_capacity(count);
    for (index, waiter) in waiters.into_iter().enumerate() {
        let output = timeout(WATCHDOG, waiter)
            .await
            .unwrap_or_else(|_| panic!("{what}: waiter {index} of {count} was never woken"))
            .expect("the waiter task does not panic");
        outputs.push(output);
    }
    outputs
}

async fn bind_udp() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// A connected TCP pair: (client, server).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(address), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

/// Fills `stream`'s send buffer (and its peer's receive buffer): afterwards a write
/// would block until the peer reads. Returns the number of bytes queued.
async fn fill_send_buffer(stream: &mut TcpStream) -> usize {
    let chunk = [0x5a_u8; 64 * 1024];
    let mut queued = 0;
    loop {
        // SAFETY: `send` reads `chunk.len()` bytes from a live array; the fd is open.
        let sent = unsafe {
            libc::send(
                stream.as_raw_fd(),
                chunk.as_ptr().cast(),
                chunk.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if sent < 0 {
            let error = io::Error::last_os_error();
            assert_eq!(
                error.kind(),
                io::ErrorKind::WouldBlock,
                "send failed: {error}"
            );
            break;
        }
        queued += sent as usize;
    }
    assert!(queued > 0, "a fresh stream takes some bytes");
    if stream.backend() == Backend::Mio {
        // mio keeps the last readiness it saw until a syscall made through the
        // registration reports `WouldBlock`: make one, so `writable()` really waits.
        poll_once_and_drop(stream.write_owned(vec![0x5a_u8; 1])).await;
    }
    queued
}

backend_test! {
    fn every_readable_waiter_of_a_udp_socket_wakes(rt, multi) {
        rt.block_on(async {
            for waiters in WAITER_COUNTS {
                let socket = Arc::new(bind_udp().await);
                let polled = Arc::new(AtomicUsize::new(0));
                let handles = (0..waiters)
                    .map(|_| {
                        let (socket, polled) = (socket.clone(), polled.clone());
                        ringtide::spawn(async move { counted(&polled, socket.readable()).await })
                    })
                    .collect();
                until_polled(&polled, waiters).await;
                let sender = bind_udp().await;
                let target = socket.local_addr().unwrap();
                assert_eq!(sender.send_to_owned(b"one".to_vec(), target).await.0.unwrap(), 3);
                for result in join_all("UdpSocket::readable", handles).await {
                    result.unwrap();
                }
                // One datagram woke them all; it is still there.
                let (received, buf) = socket.recv_owned(Vec::with_capacity(8)).await;
                assert_eq!(received.unwrap(), 3);
                assert_eq!(buf, b"one");
            }
        });
    }
}

backend_test! {
    fn every_readable_waiter_of_a_tcp_stream_wakes(rt, multi) {
        rt.block_on(async {
            for waiters in WAITER_COUNTS {
                let (mut client, server) = tcp_pair().await;
                let server = Arc::new(server);
                let polled = Arc::new(AtomicUsize::new(0));
                let handles = (0..waiters)
                    .map(|_| {
                        let (server, polled) = (server.clone(), polled.clone());
                        ringtide::spawn(async move { counted(&polled, server.readable()).await })
                    })
                    .collect();
                until_polled(&polled, waiters).await;
                client.write_all_owned(b"x".to_vec()).await.0.unwrap();
                for result in join_all("TcpStream::readable", handles).await {
                    result.unwrap();
                }
            }
        });
    }
}

backend_test! {
    fn every_writable_waiter_of_a_full_tcp_stream_wakes(rt, multi) {
        rt.block_on(async {
            for waiters in WAITER_COUNTS {
                let (mut client, mut server) = tcp_pair().await;
                let queued = fill_send_buffer(&mut client).await;
                let client = Arc::new(client);
                let polled = Arc::new(AtomicUsize::new(0));
                let handles = (0..waiters)
                    .map(|_| {
                        let (client, polled) = (client.clone(), polled.clone());
                        ringtide::spawn(async move { counted(&polled, client.writable()).await })
                    })
                    .collect();
                until_polled(&polled, waiters).await;
                // The peer reads everything: the send buffer empties.
                let (read, buf) = server.read_exact_owned(Vec::with_capacity(queued)).await;
                read.unwrap();
                assert_eq!(buf.len(), queued);
                for result in join_all("TcpStream::writable", handles).await {
                    result.unwrap();
                }
            }
        });
    }
}

backend_test! {
    fn two_tasks_receiving_on_one_udp_socket_both_get_a_datagram(rt, multi) {
        rt.block_on(async {
            let socket = Arc::new(bind_udp().await);
            let polled = Arc::new(AtomicUsize::new(0));
            let handles = (0..2)
                .map(|_| {
                    let (socket, polled) = (socket.clone(), polled.clone());
                    ringtide::spawn(async move {
                        let (received, buf) =
                            counted(&polled, socket.recv_owned(Vec::with_capacity(8))).await;
                        received.unwrap();
                        buf
                    })
                })
                .collect();
            until_polled(&polled, 2).await;
            let sender = bind_udp().await;
            let target = socket.local_addr().unwrap();
            for datagram in [b"a", b"b"] {
                sender.send_to_owned(datagram.to_vec(), target).await.0.unwrap();
            }
            let mut received = join_all("UdpSocket::recv", handles).await;
            received.sort();
            assert_eq!(received, [b"a".to_vec(), b"b".to_vec()]);
        });
    }
}

backend_test! {
    fn tasks_accepting_on_one_listener_are_all_served(rt, multi) {
        rt.block_on(async {
            for waiters in WAITER_COUNTS {
                let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
                let address = listener.local_addr().unwrap();
                let polled = Arc::new(AtomicUsize::new(0));
                let handles = (0..waiters)
                    .map(|_| {
                        let (listener, polled) = (listener.clone(), polled.clone());
                        ringtide::spawn(async move {
                            let (_stream, peer) = counted(&polled, listener.accept()).await.unwrap();
                            peer
                        })
                    })
                    .collect();
                until_polled(&polled, waiters).await;
                let mut clients = Vec::new();
                for _ in 0..waiters {
                    clients.push(TcpStream::connect(address).await.unwrap());
                }
                let mut peers = join_all("TcpListener::accept", handles).await;
                let mut expected: Vec<_> =
                    clients.iter().map(|client| client.local_addr().unwrap()).collect();
                peers.sort();
                expected.sort();
                assert_eq!(peers, expected, "every connection is accepted once");
            }
        });
    }
}

backend_test! {
    fn two_tasks_reading_one_async_fd_pipe_both_get_a_byte(rt, multi) {
        rt.block_on(async {
            let (reader, mut writer) = std::io::pipe().unwrap();
            let reader = Arc::new(AsyncFd::new(reader).unwrap());
            let polled = Arc::new(AtomicUsize::new(0));
            let handles = (0..2)
                .map(|_| {
                    let (reader, polled) = (reader.clone(), polled.clone());
                    ringtide::spawn(async move {
                        let (read, buf) = counted(&polled, reader.read_owned(Vec::with_capacity(1))).await;
                        assert_eq!(read.unwrap(), 1);
                        buf
                    })
                })
                .collect();
            until_polled(&polled, 2).await;
            std::io::Write::write_all(&mut writer, b"ab").unwrap();
            let mut bytes = join_all("AsyncFd::read", handles).await.concat();
            bytes.sort();
            assert_eq!(bytes, b"ab");
        });
    }
}

backend_test! {
    fn dropped_readable_waiters_do_not_strand_the_others(rt, multi) {
        rt.block_on(async {
            let socket = Arc::new(bind_udp().await);
            let polled = Arc::new(AtomicUsize::new(0));
            let handles = (0..2)
                .map(|_| {
                    let (socket, polled) = (socket.clone(), polled.clone());
                    ringtide::spawn(async move { counted(&polled, socket.readable()).await })
                })
                .collect();
            until_polled(&polled, 2).await;
            // Later waiters that register and go away (as `timeout(readable())` does).
            for _ in 0..100 {
                poll_once_and_drop(socket.readable()).await;
            }
            let sender = bind_udp().await;
            let target = socket.local_addr().unwrap();
            sender.send_to_owned(b"late".to_vec(), target).await.0.unwrap();
            for result in join_all("UdpSocket::readable after dropped waiters", handles).await {
                result.unwrap();
            }
        });
    }
}

backend_test! {
    fn a_dropped_first_waiter_does_not_strand_a_later_one(rt, multi) {
        rt.block_on(async {
            let socket = Arc::new(bind_udp().await);
            // The first waiter (on io_uring: the one that armed the socket's POLL_ADD)
            // goes away before the event.
            poll_once_and_drop(socket.readable()).await;
            let polled = Arc::new(AtomicUsize::new(0));
            let handle = {
                let (socket, polled) = (socket.clone(), polled.clone());
                ringtide::spawn(async move { counted(&polled, socket.readable()).await })
            };
            until_polled(&polled, 1).await;
            let sender = bind_udp().await;
            sender
                .send_to_owned(b"x".to_vec(), socket.local_addr().unwrap())
                .await
                .0
                .unwrap();
            for result in join_all("UdpSocket::readable after the first waiter left", vec![handle]).await {
                result.unwrap();
            }
        });
    }
}
