//! `net::{UnixListener, UnixStream, UnixDatagram}` tests, each run on both backends
//! (io_uring and mio, current-thread and 4 workers) through `rt_common`'s
//! `backend_test!`. Paths live in the temp dir under unique names and are removed at
//! the end; abstract names (Linux) are unique per process and test.

#![cfg(target_os = "linux")]

mod rt_common;

use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{UnixDatagram, UnixListener, UnixStream};
use ringtide::time::timeout;
use rt_common::{LatePaths, poll_once_then_drop};

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "ringtide-{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A unique socket path in the temp dir, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(prefix: &str) -> TempPath {
        let path = std::env::temp_dir().join(format!("{}.sock", unique(prefix)));
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }
}

impl AsRef<Path> for TempPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A unique abstract name, as a path (leading NUL) and as its bytes.
fn abstract_name(prefix: &str) -> (String, Vec<u8>) {
    let name = unique(prefix);
    (format!("\0{name}"), name.into_bytes())
}

/// Reads until end of stream.
async fn read_to_end(stream: &mut impl AsyncReadOwned) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        let (result, buf) = stream.read_owned(Vec::with_capacity(7)).await;
        if result.unwrap() == 0 {
            return all;
        }
        all.extend_from_slice(&buf);
    }
}

/// Echoes one connection until its end of stream, then shuts the write side.
async fn echo(mut stream: UnixStream) {
    loop {
        let (result, buf) = stream.read_owned(Vec::with_capacity(5)).await;
        if result.unwrap() == 0 {
            break;
        }
        stream.write_all_owned(buf).await.0.unwrap();
    }
    stream.shutdown_with(Shutdown::Write).await.unwrap();
}

/// Connects to `listener` through `connect`, echoes a message and checks addresses.
async fn echo_round_trip<F: Future<Output = io::Result<UnixStream>>>(
    listener: UnixListener,
    connect: F,
) {
    let local = listener.local_addr().unwrap();
    let server = ringtide::spawn(async move {
        let (stream, peer) = listener.accept().await.unwrap();
        assert!(peer.is_unnamed(), "the client did not bind: {peer:?}");
        echo(stream).await;
    });
    let mut client = connect.await.unwrap();
    let peer = client.peer_addr().unwrap();
    assert_eq!(peer.as_pathname(), local.as_pathname());
    assert_eq!(peer.as_abstract_name(), local.as_abstract_name());
    assert!(client.local_addr().unwrap().is_unnamed());
    let message = b"hello over a unix socket, in several small reads".to_vec();
    client.write_all_owned(message.clone()).await.0.unwrap();
    client.shutdown_with(Shutdown::Write).await.unwrap();
    assert_eq!(read_to_end(&mut client).await, message);
    server.await.unwrap();
}

backend_test! {
    fn stream_echo_over_a_path(rt, multi) {
        rt.block_on(async {
            let path = TempPath::new("stream");
            let listener = UnixListener::bind(&path).unwrap();
            assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_ref()));
            echo_round_trip(listener, UnixStream::connect(&path)).await;

            // The file stays behind: binding it again fails until it is removed.
            assert_eq!(UnixListener::bind(&path).unwrap_err().kind(), io::ErrorKind::AddrInUse);
            std::fs::remove_file(&path).unwrap();
            let listener = UnixListener::bind_addr(&SocketAddr::from_pathname(&path).unwrap()).unwrap();
            let address = listener.local_addr().unwrap();
            echo_round_trip(listener, UnixStream::connect_addr(&address)).await;
        });
    }
}

backend_test! {
    fn stream_echo_over_an_abstract_name(rt, multi) {
        rt.block_on(async {
            let (path, name) = abstract_name("abstract-stream");
            let listener = UnixListener::bind(&path).unwrap();
            let local = listener.local_addr().unwrap();
            assert_eq!(local.as_abstract_name(), Some(&name[..]));
            assert!(local.as_pathname().is_none());
            echo_round_trip(listener, UnixStream::connect(&path)).await;

            let (_, name) = abstract_name("abstract-addr");
            let address = SocketAddr::from_abstract_name(&name).unwrap();
            let listener = UnixListener::bind_addr(&address).unwrap();
            assert_eq!(listener.local_addr().unwrap().as_abstract_name(), Some(&name[..]));
            echo_round_trip(listener, UnixStream::connect_addr(&address)).await;
        });
    }
}

backend_test! {
    fn connect_and_bind_errors(rt, multi) {
        rt.block_on(async {
            let path = TempPath::new("missing");
            let error = UnixStream::connect(&path).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::NotFound);
            let (missing, _) = abstract_name("missing");
            let error = UnixStream::connect(&missing).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);

            // A path left by a closed listener refuses connections.
            drop(UnixListener::bind(&path).unwrap());
            let error = UnixStream::connect(&path).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);

            let too_long = "x".repeat(200);
            assert_eq!(UnixListener::bind(&too_long).unwrap_err().kind(), io::ErrorKind::InvalidInput);
            let unnamed = UnixDatagram::unbound().unwrap().local_addr().unwrap();
            assert!(unnamed.is_unnamed());
            assert_eq!(UnixListener::bind_addr(&unnamed).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        });
    }
}

backend_test! {
    fn stream_pair_both_ways(rt, multi) {
        rt.block_on(async {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            assert!(a.peer_addr().unwrap().is_unnamed());
            assert!(b.local_addr().unwrap().is_unnamed());
            a.write_all_owned(b"from a".to_vec()).await.0.unwrap();
            b.write_all_owned(b"from b!".to_vec()).await.0.unwrap();
            let (result, buf) = b.read_exact_owned(Vec::with_capacity(6)).await;
            result.unwrap();
            assert_eq!(buf, b"from a");
            let (result, buf) = a.read_exact_owned(Vec::with_capacity(7)).await;
            result.unwrap();
            assert_eq!(buf, b"from b!");

            let (written, _) = a.writev_owned(vec![b"ab".to_vec(), b"cd".to_vec()]).await;
            assert_eq!(written.unwrap(), 4);
            let (result, buf) = b.read_exact_owned(Vec::with_capacity(4)).await;
            result.unwrap();
            assert_eq!(buf, b"abcd");
        });
    }
}

backend_test! {
    fn half_close_then_read_to_end(rt, multi) {
        rt.block_on(async {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            a.write_all_owned(b"last words".to_vec()).await.0.unwrap();
            a.shutdown_with(Shutdown::Write).await.unwrap();
            assert_eq!(read_to_end(&mut b).await, b"last words");
            let (result, _) = b.read_owned(Vec::with_capacity(4)).await;
            assert_eq!(result.unwrap(), 0, "end of stream stays");

            // The other direction still works.
            b.write_all_owned(b"reply".to_vec()).await.0.unwrap();
            drop(b);
            assert_eq!(read_to_end(&mut a).await, b"reply");
            // Writing to a closed peer is an error, never a SIGPIPE.
            let (result, _) = a.write_all_owned(vec![0; 16]).await;
            let error = result.unwrap_err();
            assert!(
                matches!(error.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset),
                "{error:?}"
            );
        });
    }
}

backend_test! {
    fn split_halves_in_two_tasks(rt, multi) {
        rt.block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let (mut read, mut write) = a.into_split();
            assert!(read.peer_addr().unwrap().is_unnamed());
            let reader = ringtide::spawn(async move {
                let all = read_to_end(&mut read).await;
                (read, all)
            });
            let writer = ringtide::spawn(async move {
                write.write_all_owned(b"to b".to_vec()).await.0.unwrap();
                write
            });
            let write = writer.await.unwrap();
            let (result, buf) = b.read_exact_owned(Vec::with_capacity(4)).await;
            result.unwrap();
            assert_eq!(buf, b"to b");
            b.write_all_owned(b"to the read half".to_vec()).await.0.unwrap();
            b.shutdown_with(Shutdown::Write).await.unwrap();
            let (read, all) = reader.await.unwrap();
            assert_eq!(all, b"to the read half");

            // Dropping the write half shuts the write direction down.
            let (_other_read, other_write) = UnixStream::pair().unwrap().0.into_split();
            let ringtide::net::unix::ReuniteError(read, _) = read.reunite(other_write).unwrap_err();
            drop(write);
            assert_eq!(read_to_end(&mut b).await, b"", "while the read half is alive");
            drop(read);

            let (read, write) = UnixStream::pair().unwrap().0.into_split();
            let stream = read.reunite(write).unwrap();
            assert!(format!("{stream:?}").contains("UnixStream"));
        });
    }
}

backend_test! {
    fn stream_read_dropped_after_the_kernel_took_bytes_loses_none(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async {
            let late = LatePaths::start();
            let (mut a, mut b) = UnixStream::pair().unwrap();
            a.write_all_owned(b"0123456789".to_vec()).await.0.unwrap();
            let mut got = Vec::new();
            if let Some((result, buf)) = poll_once_then_drop(b.read_owned(Vec::with_capacity(4))).await {
                assert_eq!(result.unwrap(), 4);
                got.extend_from_slice(&buf);
            }
            a.shutdown_with(Shutdown::Write).await.unwrap();
            got.extend(read_to_end(&mut b).await);
            assert_eq!(got, b"0123456789");
            eprintln!("late results kept: {:?}", late.since());
            late.assert_ran(backend, "a dropped read", |late| late.reads);
        });
    }
}

/// A thread makes 300 connections, each sending its number, as fast as the backlog
/// takes them, while the runtime accepts them with `accept`s dropped by 0 ms timers
/// (on io_uring the op may run in the kernel anyway, before its cancellation), by 1 ms
/// timers, or not at all: every connection is accepted exactly once, in order.
async fn accept_race() {
    const COUNT: u32 = 300;
    let (path, name) = abstract_name("accept-race");
    let listener = UnixListener::bind(&path).unwrap();
    let address = SocketAddr::from_abstract_name(name).unwrap();
    let client = std::thread::spawn(move || {
        let mut streams = Vec::new();
        for number in 0..COUNT {
            let mut stream = std::os::unix::net::UnixStream::connect_addr(&address).unwrap();
            std::io::Write::write_all(&mut stream, &number.to_le_bytes()).unwrap();
            streams.push(stream);
        }
        streams
    });
    let mut attempt = 0u32;
    for expected in 0..COUNT {
        let mut stream = loop {
            attempt += 1;
            let result = match attempt % 3 {
                0 => Ok(listener.accept().await),
                1 => timeout(Duration::ZERO, listener.accept()).await,
                _ => timeout(Duration::from_millis(1), listener.accept()).await,
            };
            if let Ok(accepted) = result {
                break accepted.unwrap().0;
            }
        };
        let (result, buf) = stream.read_exact_owned(Vec::with_capacity(4)).await;
        result.unwrap();
        assert_eq!(
            buf,
            expected.to_le_bytes(),
            "accepted exactly once, in order"
        );
    }
    let streams = client.join().unwrap();
    assert_eq!(streams.len(), COUNT as usize);
}

/// How many rounds of a cancel-safety scenario may run before the late-result path
/// it is about must have run at least once.
const LATE_PATH_ROUNDS: usize = 20;

/// Runs `scenario` on a runtime with multishot accept (the default), then on one with
/// single accepts, until a cancelled single accept's connection took the late-result
/// path (io_uring; at most [`LATE_PATH_ROUNDS`] rounds). With multishot accept a dropped
/// `accept` leaves its connection in the listener's armed request instead.
fn on_both_accept_kinds<F: Future<Output = ()>>(
    rt: ringtide::runtime::Runtime,
    multi: bool,
    scenario: impl Fn() -> F,
) {
    let backend = rt.backend();
    rt.block_on(scenario());
    drop(rt);
    let rt = rt_common::single_accept_runtime(backend, if multi { 4 } else { 0 });
    let late = LatePaths::start();
    for _ in 0..LATE_PATH_ROUNDS {
        rt.block_on(scenario());
        if backend != ringtide::runtime::Backend::IoUring || late.hit(|late| late.accepts) {
            break;
        }
    }
    eprintln!("single accepts: late results kept: {:?}", late.since());
    late.assert_ran(backend, "cancelled single accepts", |late| late.accepts);
}

backend_test! {
    fn accept_cancelled_by_timers_loses_no_connection(rt, multi) {
        on_both_accept_kinds(rt, multi, accept_race);
    }
}

/// Two connections wait; an accept is polled once, its completion arrives (io_uring),
/// and it is dropped: both connections are still accepted, in order.
async fn accept_dropped_after_completion() {
    let path = TempPath::new("accept-kept");
    let listener = UnixListener::bind(&path).unwrap();
    let mut first = UnixStream::connect(&path).await.unwrap();
    let mut second = UnixStream::connect(&path).await.unwrap();
    first.write_all_owned(b"1".to_vec()).await.0.unwrap();
    second.write_all_owned(b"2".to_vec()).await.0.unwrap();
    let mut accepted = Vec::new();
    if let Some(result) = poll_once_then_drop(listener.accept()).await {
        accepted.push(result.unwrap().0);
    }
    while accepted.len() < 2 {
        accepted.push(listener.accept().await.unwrap().0);
    }
    for (mut stream, expected) in accepted.into_iter().zip([b"1", b"2"]) {
        let (result, buf) = stream.read_exact_owned(Vec::with_capacity(1)).await;
        result.unwrap();
        assert_eq!(buf, expected, "accepted in order");
    }
}

backend_test! {
    fn accept_dropped_after_the_kernel_accepted_keeps_the_connection(rt, multi) {
        on_both_accept_kinds(rt, multi, accept_dropped_after_completion);
    }
}

backend_test! {
    fn stream_from_std_and_into_std(rt, multi) {
        rt.block_on(async {
            let path = TempPath::new("std");
            let listener = UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path).unwrap()).unwrap();
            let std_client = std::os::unix::net::UnixStream::connect(&path).unwrap();
            let (accepted, _) = listener.accept().await.unwrap();
            let mut client = UnixStream::from_std(std_client).unwrap();
            client.write_all_owned(b"std".to_vec()).await.0.unwrap();

            let mut accepted = accepted.into_std().unwrap();
            let mut buf = [0; 3];
            accepted.set_nonblocking(false).unwrap();
            std::io::Read::read_exact(&mut accepted, &mut buf).unwrap();
            assert_eq!(&buf, b"std");
            accepted.set_nonblocking(true).unwrap();
            assert_eq!(
                std::io::Read::read(&mut accepted, &mut buf).unwrap_err().kind(),
                io::ErrorKind::WouldBlock
            );
            let std_listener = listener.into_std().unwrap();
            assert_eq!(std_listener.local_addr().unwrap().as_pathname(), Some(path.as_ref()));
        });
    }
}

backend_test! {
    fn datagrams_over_paths(rt, multi) {
        rt.block_on(async {
            let (path_a, path_b) = (TempPath::new("dgram-a"), TempPath::new("dgram-b"));
            let a = UnixDatagram::bind(&path_a).unwrap();
            let b = UnixDatagram::bind(&path_b).unwrap();
            assert_eq!(a.local_addr().unwrap().as_pathname(), Some(path_a.as_ref()));
            let sizes = [3, 900, 0, 40];
            for size in sizes {
                let (sent, _) = a.send_to_owned(vec![size as u8; size], &path_b).await;
                assert_eq!(sent.unwrap(), size);
            }
            for size in sizes {
                let (received, buf) = b.recv_from_owned(Vec::with_capacity(1024)).await;
                let (count, from) = received.unwrap();
                assert_eq!(count, size, "one receive, one datagram");
                assert_eq!(buf, vec![size as u8; size]);
                assert_eq!(from.as_pathname(), Some(path_a.as_ref()));
            }

            // Truncation: the rest of a long datagram is discarded.
            a.send_to_owned(b"0123456789".to_vec(), &path_b).await.0.unwrap();
            a.send_to_owned(b"next".to_vec(), &path_b).await.0.unwrap();
            let (received, buf) = b.recv_from_owned(Vec::with_capacity(4)).await;
            assert_eq!(received.unwrap().0, 4);
            assert_eq!(buf, b"0123");
            let (received, buf) = b.recv_owned(Vec::with_capacity(64)).await;
            assert_eq!((received.unwrap(), &buf[..]), (4, &b"next"[..]));

            let nobody = TempPath::new("nobody");
            let (sent, buf) = a.send_to_owned(b"x".to_vec(), &nobody).await;
            assert_eq!(sent.unwrap_err().kind(), io::ErrorKind::NotFound);
            assert_eq!(buf, b"x", "the buffer comes back");
            assert_eq!(a.connect(&nobody).unwrap_err().kind(), io::ErrorKind::NotFound);

            // Connected.
            a.connect(&path_b).unwrap();
            assert_eq!(a.peer_addr().unwrap().as_pathname(), Some(path_b.as_ref()));
            a.send_owned(b"connected".to_vec()).await.0.unwrap();
            let (received, buf) = b.recv_owned(Vec::with_capacity(64)).await;
            assert_eq!((received.unwrap(), &buf[..]), (9, &b"connected"[..]));

        });
    }
}

backend_test! {
    fn datagrams_over_abstract_names(rt, multi) {
        rt.block_on(async {
            let (path_a, name_a) = abstract_name("dgram-abstract-a");
            let (_, name_b) = abstract_name("dgram-abstract-b");
            let address_b = SocketAddr::from_abstract_name(&name_b).unwrap();
            let a = UnixDatagram::bind(&path_a).unwrap();
            let b = UnixDatagram::bind_addr(&address_b).unwrap();
            assert_eq!(b.local_addr().unwrap().as_abstract_name(), Some(&name_b[..]));
            a.send_to_addr_owned(b"abstract".to_vec(), &address_b).await.0.unwrap();
            let (received, buf) = b.recv_from_owned(Vec::with_capacity(64)).await;
            let (count, from) = received.unwrap();
            assert_eq!((count, &buf[..]), (8, &b"abstract"[..]));
            assert_eq!(from.as_abstract_name(), Some(&name_a[..]));
            // Answer whoever sent it.
            b.send_to_addr_owned(b"back".to_vec(), &from).await.0.unwrap();
            let (received, buf) = a.recv_owned(Vec::with_capacity(64)).await;
            assert_eq!((received.unwrap(), &buf[..]), (4, &b"back"[..]));
            b.connect_addr(&from).unwrap();
            assert_eq!(b.peer_addr().unwrap().as_abstract_name(), Some(&name_a[..]));
        });
    }
}

backend_test! {
    fn datagram_pair_and_unbound_sender(rt, multi) {
        rt.block_on(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            a.send_owned(b"one".to_vec()).await.0.unwrap();
            a.send_owned(Vec::new()).await.0.unwrap();
            b.send_owned(b"two!".to_vec()).await.0.unwrap();
            let (received, buf) = b.recv_owned(Vec::with_capacity(8)).await;
            assert_eq!((received.unwrap(), &buf[..]), (3, &b"one"[..]));
            let (received, from) = {
                let (received, _) = b.recv_from_owned(Vec::with_capacity(8)).await;
                let (count, from) = received.unwrap();
                (count, from)
            };
            assert_eq!(received, 0, "an empty datagram");
            assert!(from.is_unnamed());
            let (received, buf) = a.recv_owned(Vec::with_capacity(8)).await;
            assert_eq!((received.unwrap(), &buf[..]), (4, &b"two!"[..]));

            // An unbound socket sends from an unnamed address.
            let path = TempPath::new("dgram-unbound");
            let receiver = UnixDatagram::bind(&path).unwrap();
            let unbound = UnixDatagram::unbound().unwrap();
            assert!(unbound.local_addr().unwrap().is_unnamed());
            unbound.send_to_owned(b"anonymous".to_vec(), &path).await.0.unwrap();
            let (received, buf) = receiver.recv_from_owned(Vec::with_capacity(64)).await;
            let (count, from) = received.unwrap();
            assert_eq!((count, &buf[..]), (9, &b"anonymous"[..]));
            assert!(from.is_unnamed(), "{from:?}");
            unbound.connect(&path).unwrap();
            unbound.send_owned(b"again".to_vec()).await.0.unwrap();
            let (received, _) = receiver.recv_owned(Vec::with_capacity(64)).await;
            assert_eq!(received.unwrap(), 5);

            // Datagrams from a peer that went away: the socket reports it.
            drop(b);
            let (sent, _) = a.send_owned(b"gone".to_vec()).await;
            assert!(sent.is_err(), "the peer is closed");
        });
    }
}

backend_test! {
    fn datagram_receives_cancelled_lose_nothing(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async {
            let late = LatePaths::start();
            let (a, b) = UnixDatagram::pair().unwrap();
            let cancelled = timeout(Duration::from_millis(10), b.recv_from_owned(Vec::with_capacity(16))).await;
            assert!(cancelled.is_err(), "nothing was sent yet");
            a.send_owned(b"after".to_vec()).await.0.unwrap();
            let (received, buf) = b.recv_owned(Vec::with_capacity(16)).await;
            assert_eq!((received.unwrap(), &buf[..]), (5, &b"after"[..]));

            for message in [&b"first"[..], b"second"] {
                a.send_owned(message).await.0.unwrap();
            }
            let mut got = Vec::new();
            if let Some((received, buf)) = poll_once_then_drop(b.recv_from_owned(Vec::with_capacity(16))).await {
                received.unwrap();
                got.push(buf);
            }
            while got.len() < 2 {
                let (received, buf) = b.recv_from_owned(Vec::with_capacity(16)).await;
                assert!(received.unwrap().1.is_unnamed());
                got.push(buf);
            }
            assert_eq!(got, [b"first".to_vec(), b"second".to_vec()]);
            eprintln!("late results kept: {:?}", late.since());
            late.assert_ran(backend, "a dropped receive", |late| late.reads);
        });
    }
}

backend_test! {
    fn datagram_from_std_and_into_std(rt, multi) {
        rt.block_on(async {
            let (std_a, std_b) = std::os::unix::net::UnixDatagram::pair().unwrap();
            let a = UnixDatagram::from_std(std_a).unwrap();
            a.send_owned(b"x".to_vec()).await.0.unwrap();
            let b = UnixDatagram::from_std(std_b).unwrap();
            let (received, _) = b.recv_owned(Vec::with_capacity(4)).await;
            assert_eq!(received.unwrap(), 1);
            let std_b = b.into_std().unwrap();
            let mut buf = [0; 4];
            assert_eq!(std_b.recv(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
            a.send_owned(b"yz".to_vec()).await.0.unwrap();
            std_b.set_nonblocking(false).unwrap();
            assert_eq!(std_b.recv(&mut buf).unwrap(), 2);
            assert!(format!("{a:?}").contains("UnixDatagram"));
        });
    }
}

backend_test! {
    /// A thread sends 2000 numbered datagrams as fast as the socket takes them (Unix
    /// datagrams are reliable: the sender waits while the queue is full) while the
    /// runtime receives them with receives dropped by 0 ms timers (on io_uring the op
    /// may run in the kernel anyway, before its cancellation), by 1 ms timers, or not
    /// at all: every datagram arrives exactly once, in order.
    fn datagrams_survive_receives_dropped_at_any_point(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async {
            let late = LatePaths::start();
            const COUNT: u32 = 2000;
            let (std_sender, receiver) = std::os::unix::net::UnixDatagram::pair().unwrap();
            let receiver = UnixDatagram::from_std(receiver).unwrap();
            let sender = std::thread::spawn(move || {
                for number in 0..COUNT {
                    std_sender.send(&number.to_le_bytes()).unwrap();
                }
                std_sender
            });
            let mut attempt = 0u32;
            for expected in 0..COUNT {
                let buf = loop {
                    attempt += 1;
                    let receive = receiver.recv_from_owned(Vec::with_capacity(8));
                    let result = match attempt % 3 {
                        0 => Ok(receive.await),
                        1 => timeout(Duration::ZERO, receive).await,
                        _ => timeout(Duration::from_millis(1), receive).await,
                    };
                    if let Ok((received, buf)) = result {
                        assert_eq!(received.unwrap().0, 4);
                        break buf;
                    }
                };
                assert_eq!(buf, expected.to_le_bytes(), "exactly once, in order");
            }
            let _sender = sender.join().unwrap();
            eprintln!("late results kept: {:?}", late.since());
            late.assert_ran(backend, "receives dropped by timers", |late| late.reads);
        });
    }
}

backend_test! {
    /// Dropping a datagram socket frees its abstract name at once, and its connected
    /// peer sees it gone at once.
    fn dropping_a_datagram_socket_frees_its_name_at_once(rt, multi) {
        rt.block_on(async {
            let (path, _) = abstract_name("dgram-rebind");
            drop(UnixDatagram::bind(&path).unwrap());
            let again = UnixDatagram::bind(&path).expect("the name is free after the drop");
            let (a, b) = UnixDatagram::pair().unwrap();
            drop(b);
            let (sent, _) = a.send_owned(b"anyone?".to_vec()).await;
            assert!(sent.is_err(), "the peer is gone");
            drop(again);
        });
    }
}

/// Yields until every op of the current runtime has its final completion (io_uring:
/// a dropped listener's cancelled accept has left the kernel); bounded.
async fn until_no_op_in_flight() {
    let metrics = ringtide::runtime::Handle::current().metrics();
    for _ in 0..10_000 {
        if metrics.io().in_flight == 0 {
            return;
        }
        ringtide::task::yield_now().await;
    }
    panic!("ops still in flight after 10000 yields: {:?}", metrics.io());
}

backend_test! {
    /// A listener whose fd was duplicated (a std `try_clone` before `from_std`, or the
    /// listener's `AsFd`) goes on listening on the duplicate after the ringtide listener
    /// is dropped with its accept armed.
    fn a_duplicated_listener_keeps_accepting_after_the_ringtide_listener_is_dropped(rt, multi) {
        use std::os::fd::AsFd as _;
        rt.block_on(async {
            for through_as_fd in [false, true] {
                let (_, name) = abstract_name("dup");
                let address = SocketAddr::from_abstract_name(&name).unwrap();
                let std_listener = std::os::unix::net::UnixListener::bind_addr(&address).unwrap();
                let mut duplicate = Some(std_listener.try_clone().unwrap());
                let listener = UnixListener::from_std(std_listener).unwrap();
                if through_as_fd {
                    duplicate = Some(std::os::unix::net::UnixListener::from(
                        listener.as_fd().try_clone_to_owned().unwrap(),
                    ));
                }
                let duplicate = duplicate.unwrap();
                let armed = std::os::unix::net::UnixStream::connect_addr(&address).unwrap();
                let (_server, _) = listener.accept().await.unwrap();
                drop(listener);
                // The dropped listener's accept is cancelled asynchronously: until that
                // has landed, its kernel request could still take a connection.
                until_no_op_in_flight().await;
                duplicate.set_nonblocking(false).unwrap();
                let mut client = std::os::unix::net::UnixStream::connect_addr(&address)
                    .expect("the duplicate still listens");
                let (mut server, _) = duplicate.accept().expect("accept on the duplicate");
                std::io::Write::write_all(&mut client, b"dup").unwrap();
                let mut buf = [0u8; 3];
                std::io::Read::read_exact(&mut server, &mut buf).unwrap();
                assert_eq!(&buf, b"dup", "through_as_fd: {through_as_fd}");
                drop(armed);
            }
        });
    }
}

backend_test! {
    /// Dropping a bound listener (its fd never lent out) with its accept armed stops
    /// listening at once: the next connection attempt is refused. (Binding the name
    /// again works only once the cancelled accept has left the kernel, which holds the
    /// socket until then.)
    fn dropping_an_armed_listener_refuses_connections_at_once(rt, multi) {
        rt.block_on(async {
            let (path, name) = abstract_name("armed");
            let listener = UnixListener::bind(&path).unwrap();
            let address = SocketAddr::from_abstract_name(&name).unwrap();
            let armed = std::os::unix::net::UnixStream::connect_addr(&address).unwrap();
            let (_server, _) = listener.accept().await.unwrap();
            drop(listener);
            let error = std::os::unix::net::UnixStream::connect_addr(&address)
                .expect_err("nobody listens any more");
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error:?}");
            drop(armed);
        });
    }
}
