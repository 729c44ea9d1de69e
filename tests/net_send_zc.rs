//! Zero-copy sends (issue 17 goal 3): `write_zc`/`write_all_zc` on the streams,
//! `UdpSocket::send_zc`/`send_to_zc`. Each test runs on both backends and both flavours
//! (`backend_test!`). On io_uring they are `SEND_ZC`/`SENDMSG_ZC` (two CQEs: the
//! result, then the notification that frees the buffer); on mio plain sends.
//!
//! Which path ran is checked with `ringtide::__private::zero_copy_counts` when the test
//! has its process to itself (nextest): zero-copy results on io_uring and none on mio,
//! a notification after a dropped future, one plain fallback for a Unix socket.
//! Loopback only; no sleeps; timeouts only turn a hang into a failure.

#![cfg(target_os = "linux")]

mod rt_common;

use std::future::Future;
use std::io::ErrorKind;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use ringtide::__private::{ZeroCopyCounts, zero_copy_counts};
use ringtide::io::{AsyncReadOwned, IoBuf};
use ringtide::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use ringtide::runtime::Backend;
use ringtide::time::timeout;
use rt_common::own_process;

/// Turns a hang into a failure (never a timing assertion).
const HANG: Duration = Duration::from_secs(20);

/// The counts since `before`.
fn since(before: ZeroCopyCounts) -> ZeroCopyCounts {
    let now = zero_copy_counts();
    ZeroCopyCounts {
        results: now.results - before.results,
        notifications_after_drop: now.notifications_after_drop - before.notifications_after_drop,
        plain_fallbacks: now.plain_fallbacks - before.plain_fallbacks,
    }
}

/// io_uring ran zero-copy sends; mio none (checked when the process is this test's).
#[track_caller]
fn assert_zero_copy_ran(backend: Backend, since: ZeroCopyCounts) {
    match backend {
        Backend::IoUring => assert!(
            since.results > 0,
            "io_uring: no SEND_ZC result arrived ({since:?}): the zero-copy path did not run"
        ),
        _ if own_process() => assert_eq!(
            since,
            ZeroCopyCounts::default(),
            "{backend}: mio has no zero-copy path"
        ),
        _ => {}
    }
}

/// Deterministic bytes for `len` and a seed.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

/// FNV-1a, to compare what arrived with what was sent.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    })
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(address), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

/// Reads exactly `len` bytes.
async fn read_len<R: AsyncReadOwned>(reader: &mut R, len: usize) -> Vec<u8> {
    let (result, buf) = reader.read_exact_owned(Vec::with_capacity(len)).await;
    result.unwrap();
    buf
}

backend_test! {
    fn tcp_round_trip_of_several_sizes(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async move {
            let before = zero_copy_counts();
            let (mut client, mut server) = tcp_pair().await;
            let sizes = [1, 4096, 65_536 + 7, 256 * 1024, 1 << 20];
            let reader = ringtide::spawn(async move {
                let mut sums = Vec::new();
                for len in sizes {
                    sums.push(checksum(&read_len(&mut server, len).await));
                }
                sums
            });
            for (index, len) in sizes.into_iter().enumerate() {
                let data = pattern(len, index as u8);
                let (result, back) = timeout(HANG, client.write_all_zc(data)).await.unwrap();
                result.unwrap();
                assert_eq!(back, pattern(len, index as u8), "the buffer comes back unchanged");
            }
            let sums = timeout(HANG, reader).await.unwrap().unwrap();
            let expected: Vec<u64> = sizes
                .iter()
                .enumerate()
                .map(|(index, &len)| checksum(&pattern(len, index as u8)))
                .collect();
            assert_eq!(sums, expected);
            assert_zero_copy_ran(backend, since(before));
        });
    }
}

backend_test! {
    fn write_zc_returns_the_count_and_the_buffer(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = tcp_pair().await;
            let data = pattern(10_000, 7);
            let (result, back) = client.write_zc(data).await;
            let count = result.unwrap();
            assert!(count > 0 && count <= 10_000, "a send writes part or all: {count}");
            assert_eq!(back.len(), 10_000);
            let got = read_len(&mut server, count).await;
            assert_eq!(got, pattern(10_000, 7)[..count]);
        });
    }
}

/// A buffer that reports, when it is dropped, the zero-copy counts at that moment.
struct Tracked {
    data: Vec<u8>,
    on_drop: Arc<Mutex<Option<ringtide::sync::oneshot::Sender<ZeroCopyCounts>>>>,
}

// SAFETY: the pointer and lengths are the inner `Vec`'s, whose heap memory does not
// move when `Tracked` moves and is not changed while the buffer is lent out.
unsafe impl IoBuf for Tracked {
    fn stable_ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.data.len()
    }
    fn bytes_total(&self) -> usize {
        self.data.capacity()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(sender) = self.on_drop.lock().unwrap().take() {
            let _ = sender.send(zero_copy_counts());
        }
    }
}

backend_test! {
    fn a_dropped_future_keeps_the_buffer_until_the_notification(rt, multi) {
        let backend = rt.backend();
        // In a task: on a worker, whose ring takes the SQE at the first poll (a
        // multi-thread `block_on` thread may hand it to a worker's queue instead).
        let task = rt.spawn(async move {
            let (mut client, mut server) = tcp_pair().await;
            let (sender, dropped) = ringtide::sync::oneshot::channel();
            let buf = Tracked {
                data: pattern(64 * 1024, 3),
                on_drop: Arc::new(Mutex::new(Some(sender))),
            };
            let before = zero_copy_counts();
            // Poll the send once (io_uring: its SQE is now with the ring) and drop its
            // future while the kernel owns the buffer.
            let mut send = Box::pin(client.write_zc(buf));
            let sent = std::future::poll_fn(|cx| Poll::Ready(send.as_mut().poll(cx))).await;
            let sent = match sent {
                Poll::Ready((result, buf)) => {
                    // mio: the send ran at once, as a plain send.
                    assert_ne!(backend, Backend::IoUring, "a SEND_ZC completed inside its first poll");
                    let count = result.unwrap();
                    drop(buf);
                    Some(count)
                }
                Poll::Pending => None,
            };
            drop(send);
            let at_drop = timeout(HANG, dropped).await.unwrap().unwrap();
            let at_drop = ZeroCopyCounts {
                results: at_drop.results - before.results,
                notifications_after_drop: at_drop.notifications_after_drop
                    - before.notifications_after_drop,
                plain_fallbacks: at_drop.plain_fallbacks - before.plain_fallbacks,
            };
            match backend {
                Backend::IoUring => {
                    assert!(sent.is_none());
                    assert_eq!(
                        at_drop.notifications_after_drop, 1,
                        "the buffer was freed before its notification arrived ({at_drop:?})"
                    );
                    assert_eq!(at_drop.results, 1, "the send ran as SEND_ZC ({at_drop:?})");
                }
                _ => {
                    if own_process() {
                        assert_eq!(at_drop, ZeroCopyCounts::default());
                    }
                }
            }
            // What the kernel sent (all of it: the send ran before the cancellation
            // reached it, or part of it) arrives intact.
            drop(client);
            let (result, got) = read_to_end(&mut server).await;
            result.unwrap();
            if let Some(count) = sent {
                assert_eq!(got.len(), count);
            }
            assert_eq!(got, pattern(64 * 1024, 3)[..got.len()]);
        });
        rt.block_on(task).unwrap();
    }
}

/// Reads until end of stream.
async fn read_to_end<R: AsyncReadOwned>(reader: &mut R) -> (std::io::Result<()>, Vec<u8>) {
    let mut all = Vec::new();
    loop {
        let (result, buf) = timeout(HANG, reader.read_owned(Vec::with_capacity(64 * 1024)))
            .await
            .unwrap();
        match result {
            Ok(0) => return (Ok(()), all),
            Ok(_) => all.extend_from_slice(&buf),
            Err(error) => return (Err(error), all),
        }
    }
}

backend_test! {
    fn a_unix_socket_refuses_zero_copy_and_gets_a_plain_send(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async move {
            let before = zero_copy_counts();
            let (mut a, mut b) = UnixStream::pair().unwrap();
            let reader = ringtide::spawn(async move {
                let first = read_len(&mut b, 100_000).await;
                let second = read_len(&mut b, 5).await;
                (first, second)
            });
            let (result, _) = timeout(HANG, a.write_all_zc(pattern(100_000, 1))).await.unwrap();
            result.unwrap();
            let (result, _) = timeout(HANG, a.write_zc(b"again".to_vec())).await.unwrap();
            assert_eq!(result.unwrap(), 5);
            let (first, second) = timeout(HANG, reader).await.unwrap().unwrap();
            assert_eq!(first, pattern(100_000, 1));
            assert_eq!(second, b"again");
            let since = since(before);
            match backend {
                // EOPNOTSUPP once; the socket remembers, so later sends go plain at once.
                Backend::IoUring => assert_eq!(
                    since.plain_fallbacks, 1,
                    "io_uring: the EOPNOTSUPP fallback did not run exactly once ({since:?})"
                ),
                _ if own_process() => assert_eq!(since, ZeroCopyCounts::default()),
                _ => {}
            }
        });
    }
}

backend_test! {
    fn a_closed_or_reset_peer_is_an_error(rt, multi) {
        rt.block_on(async {
            for reset in [false, true] {
                let (mut client, server) = tcp_pair().await;
                if reset {
                    // Linger zero: the close sends an RST.
                    server.set_zero_linger().unwrap();
                }
                drop(server);
                let mut error = None;
                // The first sends may still be accepted by the kernel; once the peer's
                // RST is in, they fail.
                for _ in 0..1000 {
                    let (result, _) =
                        timeout(HANG, client.write_all_zc(pattern(64 * 1024, 0))).await.unwrap();
                    if let Err(e) = result {
                        error = Some(e);
                        break;
                    }
                }
                let error = error.expect("writes to a closed peer kept succeeding");
                assert!(
                    matches!(error.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
                    "reset {reset}: unexpected error {error:?}"
                );
            }
        });
    }
}

backend_test! {
    fn zero_length_buffers(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = tcp_pair().await;
            let (result, back) = client.write_zc(Vec::new()).await;
            assert_eq!(result.unwrap(), 0);
            assert!(back.is_empty());
            let (result, _) = client.write_all_zc(Vec::new()).await;
            result.unwrap();
            // The stream still works after them.
            let (result, _) = client.write_all_zc(b"after".to_vec()).await;
            result.unwrap();
            assert_eq!(read_len(&mut server, 5).await, b"after");

            // A zero-length datagram is a datagram.
            let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let to = receiver.local_addr().unwrap();
            let (result, _) = sender.send_to_zc(Vec::new(), to).await;
            assert_eq!(result.unwrap(), 0);
            let (result, _) = timeout(HANG, receiver.recv_from_owned(Vec::with_capacity(16)))
                .await
                .unwrap();
            let (count, from) = result.unwrap();
            assert_eq!((count, from), (0, sender.local_addr().unwrap()));
        });
    }
}

backend_test! {
    fn udp_send_to_zc_and_send_zc(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async move {
            let before = zero_copy_counts();
            let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let to = receiver.local_addr().unwrap();
            for (seed, len) in [1usize, 1400, 8000, 60_000].into_iter().enumerate() {
                let (result, back) = sender.send_to_zc(pattern(len, seed as u8), to).await;
                assert_eq!(result.unwrap(), len);
                assert_eq!(back.len(), len);
                let (result, got) = timeout(HANG, receiver.recv_from_owned(Vec::with_capacity(65_536)))
                    .await
                    .unwrap();
                let (count, from) = result.unwrap();
                assert_eq!(from, sender.local_addr().unwrap());
                assert_eq!(count, len);
                assert_eq!(checksum(&got), checksum(&pattern(len, seed as u8)));
            }
            // Connected: SEND_ZC without an address.
            sender.connect(to).await.unwrap();
            let (result, _) = sender.send_zc(b"connected".to_vec()).await;
            assert_eq!(result.unwrap(), 9);
            let (result, got) = timeout(HANG, receiver.recv_from_owned(Vec::with_capacity(64)))
                .await
                .unwrap();
            assert_eq!(result.unwrap().0, 9);
            assert_eq!(got, b"connected");
            assert_zero_copy_ran(backend, since(before));
        });
    }
}

backend_test! {
    fn split_write_halves(rt, multi) {
        rt.block_on(async {
            // Written and read at once: a send larger than the socket buffers waits for
            // the reader.
            let (client, mut server) = tcp_pair().await;
            let (_read, mut write) = client.into_split();
            let (sent, got) = futures::join!(
                write.write_all_zc(pattern(300_000, 9)),
                read_len(&mut server, 300_000)
            );
            sent.0.unwrap();
            assert_eq!(got, pattern(300_000, 9));

            let (mut client, mut server) = tcp_pair().await;
            let (_read, mut write) = client.split();
            let (sent, got) =
                futures::join!(write.write_all_zc(pattern(1000, 2)), read_len(&mut server, 1000));
            sent.0.unwrap();
            assert_eq!(got, pattern(1000, 2));

            let (a, mut b) = UnixStream::pair().unwrap();
            let (_read, mut write) = a.into_split();
            let (sent, got) = futures::join!(
                write.write_all_zc(pattern(300_000, 4)),
                read_len(&mut b, 300_000)
            );
            sent.0.unwrap();
            assert_eq!(got, pattern(300_000, 4));
        });
    }
}

backend_test! {
    fn the_builder_threshold_makes_plain_writes_zero_copy(rt, multi) {
        let backend = rt.backend();
        drop(rt);
        let workers = if multi { 4 } else { 0 };
        let rt = rt_common::backend_builder(backend, workers)
            .uring_send_zc_threshold(Some(32 * 1024))
            .build()
            .unwrap();
        rt.block_on(async move {
            use ringtide::io::AsyncWriteOwned;
            let (mut client, mut server) = tcp_pair().await;
            // Below the threshold: a plain send.
            let before = zero_copy_counts();
            let (sent, got) =
                futures::join!(client.write_all_owned(pattern(1000, 5)), read_len(&mut server, 1000));
            sent.0.unwrap();
            assert_eq!(got, pattern(1000, 5));
            if own_process() {
                assert_eq!(since(before).results, 0, "a send below the threshold went zero-copy");
            }
            // At and above it: zero copy on io_uring.
            let before = zero_copy_counts();
            let (sent, got) = futures::join!(
                client.write_all_owned(pattern(256 * 1024, 6)),
                read_len(&mut server, 256 * 1024)
            );
            sent.0.unwrap();
            assert_eq!(got, pattern(256 * 1024, 6));
            assert_zero_copy_ran(backend, since(before));

            // Datagrams too.
            let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let before = zero_copy_counts();
            let (result, _) = sender
                .send_to_owned(pattern(65_000, 7), receiver.local_addr().unwrap())
                .await;
            assert_eq!(result.unwrap(), 65_000);
            let (result, got) = timeout(HANG, receiver.recv_from_owned(Vec::with_capacity(65_536)))
                .await
                .unwrap();
            assert_eq!(result.unwrap().0, 65_000);
            assert_eq!(got, pattern(65_000, 7));
            assert_zero_copy_ran(backend, since(before));
        });
    }
}
