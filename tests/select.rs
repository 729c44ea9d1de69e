//! The cancel-safety table of `ringtide::select`, claim by claim: each cancel-safe
//! method runs in a `select!` loop (tokio's, or futures' for some) against a branch
//! that keeps winning, so its futures are dropped again and again, and the test checks
//! that nothing was lost or duplicated. I/O claims run on both backends and both
//! flavours (`backend_test!`), the others on every flavour (`rt_test!`).
//!
//! The I/O loops are `biased` towards a `yield_now()` branch, which is pending at its
//! first poll and ready at its second: an operation that is ready at once wins, and one
//! that is not is dropped at the loop's next poll, after its op was submitted (io_uring)
//! or its readiness registered (mio). The sources are paced (1 ms between connections,
//! chunks, datagrams), so that happens often, sometimes after the kernel completed the
//! dropped op (io_uring's late-result path, `op::leftovers`).

#![cfg(target_os = "linux")]

#[macro_use]
mod rt_common;

use std::collections::BTreeSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::linux::net::SocketAddrExt;
use std::time::Duration;

use futures::FutureExt;
use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener};
use std::sync::Arc;

use ringtide::sync::{Mutex, Notify, RwLock, Semaphore, broadcast, mpsc, oneshot, watch};
use ringtide::task::{JoinSet, yield_now};
use ringtide::time::{self, Instant};

/// Connections in the accept tests.
const CONNECTIONS: u32 = 32;

/// A test pattern of `len` bytes that shows loss, duplication and reordering.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Connects `CONNECTIONS` blocking clients from a thread; each sends its number.
/// Returns the thread, whose result holds the client streams open.
fn tcp_clients(address: SocketAddr) -> std::thread::JoinHandle<Vec<std::net::TcpStream>> {
    std::thread::spawn(move || {
        (0..CONNECTIONS)
            .map(|number| {
                std::thread::sleep(Duration::from_millis(1));
                let mut stream = std::net::TcpStream::connect(address).unwrap();
                std::io::Write::write_all(&mut stream, &number.to_le_bytes()).unwrap();
                stream
            })
            .collect()
    })
}

/// Reads the client's number from an accepted stream.
async fn client_number(stream: &mut impl AsyncReadOwned) -> u32 {
    let (result, buf) = stream.read_exact_owned(Vec::with_capacity(4)).await;
    result.unwrap();
    u32::from_le_bytes(buf.try_into().unwrap())
}

backend_test! {
    /// `TcpListener::accept` in a `tokio::select!` loop: every connection is accepted
    /// once, none is lost to a dropped accept.
    fn tcp_accept_in_a_select_loop(rt, multi) {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let clients = tcp_clients(listener.local_addr().unwrap());
            let mut numbers = BTreeSet::new();
            let mut dropped = 0u32;
            while numbers.len() < CONNECTIONS as usize {
                tokio::select! {
                    biased;
                    _ = yield_now() => dropped += 1,
                    accepted = listener.accept() => {
                        let (mut stream, _) = accepted.unwrap();
                        assert!(numbers.insert(client_number(&mut stream).await), "accepted twice");
                    }
                }
            }
            assert!(dropped > 0, "the other branch never won: nothing was cancelled");
            assert_eq!(numbers, (0..CONNECTIONS).collect());
            drop(clients.join().unwrap());
        });
    }
}

backend_test! {
    /// `UnixListener::accept` in a `futures::select_biased!` loop (futures' macros need
    /// `.fuse()`).
    fn unix_accept_in_a_futures_select_loop(rt, multi) {
        rt.block_on(async {
            let name = format!("ringtide-select-{}-{}", std::process::id(), multi);
            let listener = UnixListener::bind(format!("\0{name}")).unwrap();
            let address = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
            let clients = std::thread::spawn(move || {
                (0..CONNECTIONS)
                    .map(|number| {
                        std::thread::sleep(Duration::from_millis(1));
                        let mut stream =
                            std::os::unix::net::UnixStream::connect_addr(&address).unwrap();
                        std::io::Write::write_all(&mut stream, &number.to_le_bytes()).unwrap();
                        stream
                    })
                    .collect::<Vec<_>>()
            });
            let mut numbers = BTreeSet::new();
            let mut dropped = 0u32;
            while numbers.len() < CONNECTIONS as usize {
                futures::select_biased! {
                    _ = yield_now().fuse() => dropped += 1,
                    accepted = listener.accept().fuse() => {
                        let (mut stream, _) = accepted.unwrap();
                        assert!(numbers.insert(client_number(&mut stream).await), "accepted twice");
                    }
                }
            }
            assert!(dropped > 0, "the other branch never won: nothing was cancelled");
            assert_eq!(numbers, (0..CONNECTIONS).collect());
            drop(clients.join().unwrap());
        });
    }
}

/// One read of up to 97 bytes, plain or vectored; returns the bytes.
async fn read_some(stream: &mut TcpStream, vectored: bool) -> io::Result<Vec<u8>> {
    if vectored {
        let (result, bufs) = stream
            .readv_owned(vec![Vec::with_capacity(50), Vec::with_capacity(47)])
            .await;
        result?;
        Ok(bufs.concat())
    } else {
        let (result, buf) = stream.read_owned(Vec::with_capacity(97)).await;
        result?;
        Ok(buf)
    }
}

/// A connected pair: the accepted side and a task writing `data` to the other side in
/// 1000-byte chunks, 1 ms apart, then closing it.
async fn stream_with_writer(data: Vec<u8>) -> (TcpStream, ringtide::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let writer = ringtide::spawn(async move {
        let mut stream = TcpStream::connect(address).await.unwrap();
        for chunk in data.chunks(1000) {
            stream.write_all_owned(chunk.to_vec()).await.0.unwrap();
            time::sleep(Duration::from_millis(1)).await;
        }
    });
    let (stream, _) = listener.accept().await.unwrap();
    (stream, writer)
}

backend_test! {
    /// `read_owned` and `readv_owned` in a `select!` loop: the bytes arrive complete and
    /// in order, though many reads are dropped (each with its buffer).
    fn stream_reads_in_a_select_loop(rt, multi) {
        rt.block_on(async {
            let data = pattern(64 * 1024);
            let (mut stream, writer) = stream_with_writer(data.clone()).await;
            let mut received = Vec::new();
            let mut dropped = 0u32;
            let mut reads = 0u32;
            while received.len() < data.len() {
                tokio::select! {
                    biased;
                    _ = yield_now() => dropped += 1,
                    bytes = read_some(&mut stream, reads % 2 == 1) => {
                        let bytes = bytes.unwrap();
                        assert!(!bytes.is_empty(), "end of stream after {} bytes", received.len());
                        received.extend_from_slice(&bytes);
                        reads += 1;
                    }
                }
            }
            writer.await.unwrap();
            assert!(dropped > 0, "the other branch never won: nothing was cancelled");
            assert!(received == data, "bytes lost, duplicated or reordered");
            // The end of the stream, outside the loop: on io_uring a read needs its op's
            // round trip through the kernel unless a dropped read left bytes, and this
            // loop drops every read at its second poll (see `ringtide::select`).
            assert!(read_some(&mut stream, false).await.unwrap().is_empty());
        });
    }
}

#[cfg(feature = "tokio-io")]
backend_test! {
    /// tokio's `AsyncReadExt::read` (the poll traits, feature `tokio-io`) in a `select!`
    /// loop, mixed with `read_owned`: nothing is lost either.
    fn poll_reads_in_a_select_loop(rt, multi) {
        use tokio::io::AsyncReadExt;
        rt.block_on(async {
            let data = pattern(64 * 1024);
            let (mut stream, writer) = stream_with_writer(data.clone()).await;
            let mut received = Vec::new();
            let mut dropped = 0u32;
            let mut buf = [0u8; 89];
            loop {
                tokio::select! {
                    biased;
                    _ = yield_now() => dropped += 1,
                    count = stream.read(&mut buf) => {
                        let count = count.unwrap();
                        if count == 0 {
                            break;
                        }
                        received.extend_from_slice(&buf[..count]);
                        // Then an owned read (it may be dropped too).
                        tokio::select! {
                            biased;
                            _ = yield_now() => dropped += 1,
                            bytes = read_some(&mut stream, false) => {
                                received.extend_from_slice(&bytes.unwrap());
                            }
                        }
                    }
                }
            }
            writer.await.unwrap();
            assert!(dropped > 0, "the other branch never won: nothing was cancelled");
            assert!(received == data, "bytes lost, duplicated or reordered");
        });
    }
}

/// Datagrams in the datagram tests.
const DATAGRAMS: u32 = 64;

backend_test! {
    /// `UdpSocket::recv_from` and `recv` (connected) in a `select!` loop: every datagram
    /// is received once.
    fn udp_receives_in_a_select_loop(rt, multi) {
        rt.block_on(async {
            let localhost = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            let sender = UdpSocket::bind(localhost).await.unwrap();
            let receiver = UdpSocket::bind(localhost).await.unwrap();
            receiver.connect(sender.local_addr().unwrap()).await.unwrap();
            let target = receiver.local_addr().unwrap();
            let sending = ringtide::spawn(async move {
                for number in 0..DATAGRAMS {
                    sender.send_to_owned(number.to_le_bytes().to_vec(), target).await.0.unwrap();
                    time::sleep(Duration::from_millis(1)).await;
                }
            });
            let mut numbers = BTreeSet::new();
            let mut dropped = 0u32;
            while numbers.len() < DATAGRAMS as usize {
                let connected = numbers.len() % 2 == 1;
                tokio::select! {
                    biased;
                    _ = yield_now() => dropped += 1,
                    buf = async {
                        if connected {
                            let (result, buf) = receiver.recv_owned(Vec::with_capacity(16)).await;
                            assert_eq!(result.unwrap(), 4);
                            buf
                        } else {
                            let (result, buf) = receiver.recv_from_owned(Vec::with_capacity(16)).await;
                            assert_eq!(result.unwrap().0, 4);
                            buf
                        }
                    } => {
                        let number = u32::from_le_bytes(buf.try_into().unwrap());
                        assert!(numbers.insert(number), "datagram {number} received twice");
                    }
                }
            }
            sending.await.unwrap();
            assert!(dropped > 0, "the other branch never won: nothing was cancelled");
            assert_eq!(numbers, (0..DATAGRAMS).collect());
        });
    }
}

backend_test! {
    /// `UnixDatagram::recv` in a `select!` loop.
    fn unix_datagram_recv_in_a_select_loop(rt, multi) {
        rt.block_on(async {
            let (sender, receiver) = UnixDatagram::pair().unwrap();
            let sending = ringtide::spawn(async move {
                for number in 0..DATAGRAMS {
                    sender.send_owned(number.to_le_bytes().to_vec()).await.0.unwrap();
                    time::sleep(Duration::from_millis(1)).await;
                }
            });
            let mut numbers = BTreeSet::new();
            let mut dropped = 0u32;
            while numbers.len() < DATAGRAMS as usize {
                tokio::select! {
                    biased;
                    _ = yield_now() => dropped += 1,
                    received = receiver.recv_owned(Vec::with_capacity(16)) => {
                        let (result, buf) = received;
                        assert_eq!(result.unwrap(), 4);
                        let number = u32::from_le_bytes(buf.try_into().unwrap());
                        assert!(numbers.insert(number), "datagram {number} received twice");
                    }
                }
            }
            sending.await.unwrap();
            assert!(dropped > 0, "the other branch never won: nothing was cancelled");
            assert_eq!(numbers, (0..DATAGRAMS).collect());
        });
    }
}

backend_test! {
    /// tokio's borrowed-buffer `UdpSocket::recv_from`, `recv` and `peek_from` in a
    /// `select!` loop: a dropped receive takes nothing, so every datagram is received
    /// once (and a peek sees the datagram the next receive takes).
    fn udp_borrowed_receives_in_a_select_loop(rt, multi) {
        rt.block_on(async {
            let localhost = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            let sender = UdpSocket::bind(localhost).await.unwrap();
            let receiver = UdpSocket::bind(localhost).await.unwrap();
            receiver.connect(sender.local_addr().unwrap()).await.unwrap();
            let target = receiver.local_addr().unwrap();
            let sending = ringtide::spawn(async move {
                for number in 0..DATAGRAMS {
                    sender.send_to(&number.to_le_bytes(), target).await.unwrap();
                    time::sleep(Duration::from_millis(1)).await;
                }
            });
            let mut numbers = BTreeSet::new();
            let mut dropped = 0u32;
            let mut buf = [0u8; 16];
            while numbers.len() < DATAGRAMS as usize {
                let round = numbers.len() % 3;
                tokio::select! {
                    biased;
                    _ = yield_now() => dropped += 1,
                    len = async {
                        match round {
                            0 => receiver.recv(&mut buf).await.unwrap(),
                            1 => receiver.recv_from(&mut buf).await.unwrap().0,
                            _ => {
                                let (peeked, _) = receiver.peek_from(&mut buf).await.unwrap();
                                let peeked_number = buf[..4].to_vec();
                                assert_eq!(receiver.try_recv(&mut buf).unwrap(), peeked);
                                assert_eq!(&buf[..4], &peeked_number[..], "the peeked datagram comes next");
                                peeked
                            }
                        }
                    } => {
                        assert_eq!(len, 4);
                        let number = u32::from_le_bytes(buf[..4].try_into().unwrap());
                        assert!(numbers.insert(number), "datagram {number} received twice");
                    }
                }
            }
            sending.await.unwrap();
            assert!(dropped > 0, "the other branch never won: nothing was cancelled");
            assert_eq!(numbers, (0..DATAGRAMS).collect());
        });
    }
}

backend_test! {
    /// tokio's borrowed-buffer `UnixDatagram::send` in a `select!` loop against a slow
    /// receiver (its queue fills, so sends wait): a dropped send sent nothing, so every
    /// number arrives exactly once.
    fn unix_datagram_borrowed_send_in_a_select_loop(rt, multi) {
        rt.block_on(async {
            let (sender, receiver) = UnixDatagram::pair().unwrap();
            let receiving = ringtide::spawn(async move {
                let mut numbers = Vec::new();
                let mut buf = [0u8; 16];
                while numbers.len() < DATAGRAMS as usize * 4 {
                    assert_eq!(receiver.recv(&mut buf).await.unwrap(), 4);
                    numbers.push(u32::from_le_bytes(buf[..4].try_into().unwrap()));
                    time::sleep(Duration::from_millis(1)).await;
                }
                numbers
            });
            let mut dropped = 0u32;
            let mut number = 0;
            while number < DATAGRAMS * 4 {
                let bytes = number.to_le_bytes();
                tokio::select! {
                    biased;
                    _ = yield_now() => dropped += 1,
                    sent = sender.send(&bytes) => {
                        assert_eq!(sent.unwrap(), 4);
                        number += 1;
                    }
                }
            }
            let numbers = receiving.await.unwrap();
            assert!(dropped > 0, "the other branch never won: nothing was cancelled");
            assert_eq!(numbers, (0..DATAGRAMS * 4).collect::<Vec<_>>(), "each once, in order");
        });
    }
}

backend_test! {
    /// `AsyncFd::readable` in a `select!` loop: a dropped wait loses nothing (the
    /// readiness stays recorded), so the guard's `try_io` reads every byte once.
    fn async_fd_readable_in_a_select_loop(rt, multi) {
        rt.block_on(async {
            let (reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
            reader.set_nonblocking(true).unwrap();
            let reader = ringtide::io::unix::AsyncFd::new(reader).unwrap();
            let writing = std::thread::spawn(move || {
                for number in 0..DATAGRAMS {
                    std::io::Write::write_all(&mut &writer, &number.to_le_bytes()).unwrap();
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            let expected: Vec<u8> = (0..DATAGRAMS).flat_map(u32::to_le_bytes).collect();
            let mut received = Vec::new();
            let mut dropped = 0u32;
            let mut buf = [0u8; 64];
            while received.len() < expected.len() {
                tokio::select! {
                    biased;
                    _ = yield_now() => dropped += 1,
                    guard = reader.readable() => {
                        let mut guard = guard.unwrap();
                        if let Ok(read) = guard.try_io(|fd| std::io::Read::read(&mut fd.get_ref(), &mut buf)) {
                            let len = read.unwrap();
                            received.extend_from_slice(&buf[..len]);
                        }
                    }
                }
            }
            writing.join().unwrap();
            assert!(dropped > 0, "the other branch never won: nothing was cancelled");
            assert!(received == expected, "every byte once, in order");
        });
    }
}

rt_test! {
    /// A `Sleep` pinned outside the loop and polled as `&mut sleep` keeps its deadline
    /// however often the other branch wins.
    fn pinned_sleep_keeps_its_deadline(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let start = Instant::now();
            let sleep = time::sleep(Duration::from_millis(30));
            tokio::pin!(sleep);
            let mut ticker = time::interval(Duration::from_millis(1));
            let mut ticks = 0u32;
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    _ = ticker.tick() => ticks += 1,
                }
            }
            assert!(start.elapsed() >= Duration::from_millis(30));
            assert!(ticks > 1, "the other branch won {ticks} times");
        });
    }
}

rt_test! {
    /// The other side of the same claim: a `sleep(..)` created inside the loop starts
    /// over each time, so it never completes while another branch keeps winning first.
    fn a_sleep_made_in_the_loop_restarts(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let start = Instant::now();
            let mut ticker = time::interval(Duration::from_millis(1));
            let mut fired = false;
            while start.elapsed() < Duration::from_millis(250) {
                tokio::select! {
                    _ = time::sleep(Duration::from_millis(150)) => fired = true,
                    _ = ticker.tick() => {}
                }
            }
            assert!(!fired, "a sleep re-created every millisecond completed");
        });
    }
}

rt_test! {
    /// `Interval::tick` in a `select!` loop: every scheduled tick comes back once, at its
    /// scheduled instant, none lost to a dropped `tick`.
    fn interval_ticks_in_a_select_loop(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let period = Duration::from_millis(3);
            let start = Instant::now();
            let mut interval = time::interval_at(start, period);
            let mut ticks = Vec::new();
            let mut dropped = 0u32;
            while ticks.len() < 10 {
                tokio::select! {
                    tick = interval.tick() => ticks.push(tick),
                    _ = yield_now() => dropped += 1,
                }
            }
            assert!(dropped > 0);
            let expected: Vec<Instant> = (0..10).map(|k| start + period * k).collect();
            assert_eq!(ticks, expected);
        });
    }
}

rt_test! {
    /// `timeout` is as cancel-safe as the future it wraps: `recv`s dropped when their
    /// timeout elapses, or with the timeout when the other branch wins, lose no value.
    fn timeout_around_recv_in_a_select_loop(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let (tx, mut rx) = mpsc::channel(4);
            ringtide::spawn(async move {
                for value in 0..10u32 {
                    time::sleep(Duration::from_millis(10)).await;
                    tx.send(value).await.unwrap();
                }
            });
            let mut ticker = time::interval(Duration::from_millis(5));
            let mut values = Vec::new();
            let (mut timeouts, mut ticks) = (0u32, 0u32);
            loop {
                tokio::select! {
                    received = time::timeout(Duration::from_millis(1), rx.recv()) => {
                        match received {
                            Ok(Some(value)) => values.push(value),
                            Ok(None) => break,
                            Err(_) => timeouts += 1,
                        }
                    }
                    _ = ticker.tick() => ticks += 1,
                }
            }
            assert!(timeouts > 0, "no receive timed out");
            assert!(ticks > 0, "the other branch never won");
            assert_eq!(values, (0..10).collect::<Vec<_>>());
        });
    }
}

rt_test! {
    /// `&mut JoinHandle` in a `select!` loop yields the output once the task finishes;
    /// `JoinSet::join_next` loses no finished task.
    fn join_handles_in_a_select_loop(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let mut handle = ringtide::spawn(async {
                time::sleep(Duration::from_millis(5)).await;
                7
            });
            let mut dropped = 0u32;
            let output = loop {
                tokio::select! {
                    output = &mut handle => break output.unwrap(),
                    _ = yield_now() => dropped += 1,
                }
            };
            assert_eq!(output, 7);
            assert!(dropped > 0);

            let mut set = JoinSet::new();
            for i in 0..50u32 {
                set.spawn(async move {
                    for _ in 0..i % 5 {
                        yield_now().await;
                    }
                    i
                });
            }
            let mut outputs = BTreeSet::new();
            loop {
                tokio::select! {
                    next = set.join_next() => match next {
                        Some(output) => assert!(outputs.insert(output.unwrap())),
                        None => break,
                    },
                    _ = yield_now() => {}
                }
            }
            assert_eq!(outputs, (0..50).collect());
        });
    }
}

rt_test! {
    /// `mpsc` and `broadcast` `recv` in one `select!` loop (futures' this time): every
    /// value of both arrives, in order.
    fn channel_receives_in_a_select_loop(flavor) {
        const COUNT: u32 = 500;
        let rt = flavor.rt();
        rt.block_on(async {
            let (mpsc_tx, mut mpsc_rx) = mpsc::channel(8);
            let (broadcast_tx, mut broadcast_rx) = broadcast::channel(COUNT as usize);
            ringtide::spawn(async move {
                for value in 0..COUNT {
                    mpsc_tx.send(value).await.unwrap();
                    broadcast_tx.send(value).unwrap();
                    if value % 50 == 0 {
                        // A pause: the receivers find their channels empty.
                        time::sleep(Duration::from_millis(1)).await;
                    }
                }
            });
            let (mut from_mpsc, mut from_broadcast) = (Vec::new(), Vec::new());
            let (mut mpsc_open, mut broadcast_open) = (true, true);
            let mut dropped = 0u32;
            while mpsc_open || broadcast_open {
                futures::select! {
                    value = mpsc_rx.recv().fuse() => match value {
                        Some(value) => from_mpsc.push(value),
                        None => mpsc_open = false,
                    },
                    value = broadcast_rx.recv().fuse() => match value {
                        Ok(value) => from_broadcast.push(value),
                        Err(broadcast::error::RecvError::Closed) => broadcast_open = false,
                        Err(lagged) => panic!("{lagged}"),
                    },
                    _ = yield_now().fuse() => dropped += 1,
                }
                if !mpsc_open && !broadcast_open {
                    break;
                }
            }
            assert!(dropped > 0);
            assert_eq!(from_mpsc, (0..COUNT).collect::<Vec<_>>());
            assert_eq!(from_broadcast, (0..COUNT).collect::<Vec<_>>());
        });
    }
}

rt_test! {
    /// `watch::Receiver::changed` and `&mut oneshot::Receiver` in a `select!` loop: the
    /// last value is always seen (intermediate ones may be skipped, as `watch` does),
    /// and the oneshot value arrives.
    fn watch_and_oneshot_in_a_select_loop(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let (watch_tx, mut watch_rx) = watch::channel(0u32);
            let (once_tx, mut once_rx) = oneshot::channel();
            ringtide::spawn(async move {
                for value in 1..=50 {
                    watch_tx.send(value).unwrap();
                    yield_now().await;
                }
                once_tx.send("done").unwrap();
            });
            let mut seen = Vec::new();
            let mut watching = true;
            let mut done = None;
            while watching || done.is_none() {
                tokio::select! {
                    changed = watch_rx.changed(), if watching => match changed {
                        Ok(()) => seen.push(*watch_rx.borrow_and_update()),
                        Err(_) => watching = false,
                    },
                    value = &mut once_rx, if done.is_none() => done = Some(value.unwrap()),
                    _ = yield_now() => {}
                }
            }
            assert_eq!(done, Some("done"));
            // `changed` reports a change before it reports the closed channel.
            assert_eq!(seen.last(), Some(&50));
            assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "{seen:?}");
        });
    }
}

rt_test! {
    /// The queued waits (`Mutex::lock`, `RwLock::write`, `Semaphore::acquire`,
    /// `Notify::notified`, `mpsc::Sender::reserve`) in `select!` loops while another task holds what they
    /// wait for: dropped waits leak nothing, and the wait that stays gets it (a
    /// notification or permit handed to a dropped waiter passes on).
    fn queued_waits_in_a_select_loop(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let mutex = Arc::new(Mutex::new(0u32));
            let lock = Arc::new(RwLock::new(0u32));
            let semaphore = Arc::new(Semaphore::new(1));
            let notify = Arc::new(Notify::new());
            let (tx, mut rx) = mpsc::channel(1);
            tx.send(0u32).await.unwrap();
            let holder = {
                let (mutex, semaphore, notify) = (mutex.clone(), semaphore.clone(), notify.clone());
                let (guard, permit) = (mutex.lock_owned().await, semaphore.acquire_owned().await);
                let read = lock.clone().read_owned().await;
                ringtide::spawn(async move {
                    time::sleep(Duration::from_millis(5)).await;
                    drop((guard, permit, read));
                    notify.notify_one();
                    // Frees the channel's one slot.
                    rx.recv().await.unwrap();
                    rx.recv().await
                })
            };
            let mut dropped = 0u32;
            let mut guard = loop {
                tokio::select! {
                    guard = mutex.lock() => break guard,
                    _ = yield_now() => dropped += 1,
                }
            };
            *guard += 1;
            drop(guard);
            let mut write = loop {
                tokio::select! {
                    write = lock.write() => break write,
                    _ = yield_now() => dropped += 1,
                }
            };
            *write += 1;
            drop(write);
            let permit = loop {
                tokio::select! {
                    permit = semaphore.acquire() => break permit.unwrap(),
                    _ = yield_now() => dropped += 1,
                }
            };
            drop(permit);
            loop {
                tokio::select! {
                    _ = notify.notified() => break,
                    _ = yield_now() => dropped += 1,
                }
            }
            let permit = loop {
                tokio::select! {
                    permit = tx.reserve() => break permit.unwrap(),
                    _ = yield_now() => dropped += 1,
                }
            };
            permit.send(1);
            assert_eq!(holder.await.unwrap(), Some(1));
            assert!(dropped > 0);
            assert_eq!(*mutex.try_lock().unwrap(), 1);
            assert_eq!(*lock.try_read().unwrap(), 1);
            assert_eq!(semaphore.available_permits(), 1);
        });
    }
}

backend_test! {
    /// `Child::wait` in a `select!` loop: dropped again and again while the child runs
    /// (its exit watch stays armed with the `Child`), it still returns the child's
    /// status once it exits, and the status is kept for the next `wait`.
    fn child_wait_in_a_select_loop(rt, multi) {
        rt.block_on(async {
            for code in [0, 3, 7] {
                let mut child = ringtide::process::Command::new("sh")
                    .args(["-c", &format!("sleep 0.05; exit {code}")])
                    .spawn()
                    .unwrap();
                let mut dropped = 0u32;
                let status = loop {
                    tokio::select! {
                        biased;
                        status = child.wait() => break status.unwrap(),
                        _ = yield_now() => dropped += 1,
                    }
                };
                assert_eq!(status.code(), Some(code));
                assert!(dropped > 0, "the wait future was never dropped");
                assert_eq!(child.wait().await.unwrap().code(), Some(code));
            }
        });
    }
}
