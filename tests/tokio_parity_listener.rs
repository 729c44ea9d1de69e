//! tokio parity of the listeners (issue 15): `TcpListener::poll_accept` and
//! `UnixListener::poll_accept`, many tasks accepting on one listener, and connecting
//! to a Unix listener that was dropped. Every test runs on io_uring and mio (current
//! thread and 4 workers); the ones about accepts that stay in the kernel also run with
//! single accepts (io_uring's multishot accept off). Loopback and temp-dir sockets
//! only; nothing waits on a sleep.

#![cfg(target_os = "linux")]

mod rt_common;

use std::future::{Future, poll_fn};
use std::io;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::Poll;
use std::time::Duration;

use ringtide::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use ringtide::runtime::{Backend, Runtime};
use ringtide::time::timeout;
use rt_common::{LatePaths, poll_once_then_drop};

/// How long a task may wait for what the test expects before it is called stuck. A
/// passing run never gets near it.
const WATCHDOG: Duration = Duration::from_secs(10);

/// A fresh socket path in the temp dir, unique per test, runtime and call.
fn socket_path(test: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "ringtide-{test}-{}-{}.sock",
        std::process::id(),
        NEXT.fetch_add(1, SeqCst)
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// Awaits `future`, adding one to `polled` once its first poll returned (from then on
/// a pending accept is waiting).
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

async fn until_polled(polled: &AtomicUsize, expected: usize) {
    while polled.load(SeqCst) < expected {
        ringtide::task::yield_now().await;
    }
}

/// Runs `body` on each backend × {current thread, 4 workers} with single accepts (on
/// io_uring: no multishot accept, so a dropped accept's op stays in the kernel until
/// its cancellation lands).
fn on_single_accept_runtimes(name: &'static str, body: fn(Runtime)) {
    for backend in [Backend::IoUring, Backend::Mio] {
        for workers in [0, 4] {
            rt_common::with_timeout(name, rt_common::TEST_TIMEOUT, move || {
                body(rt_common::single_accept_runtime(backend, workers))
            });
        }
    }
}

const ACCEPTORS: usize = 50;

backend_test! {
    /// The report: 50 tasks in `accept()` on one TCP listener; each connection must be
    /// taken by one of them, and all must be served. (On mio this fails on the tree
    /// before the per-direction waiter lists, commit 785cda0: acceptors are never
    /// served. It passes since.)
    fn fifty_tasks_accepting_on_one_tcp_listener_are_all_served(rt, multi) {
        rt.block_on(async {
            let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
            let address = listener.local_addr().unwrap();
            let polled = Arc::new(AtomicUsize::new(0));
            let mut acceptors: Vec<_> = (0..ACCEPTORS)
                .map(|_| {
                    let (listener, polled) = (listener.clone(), polled.clone());
                    ringtide::spawn(async move {
                        counted(&polled, listener.accept()).await.unwrap().1
                    })
                })
                .collect();
            until_polled(&polled, ACCEPTORS).await;

            // One connection wakes (at least) one of the 50.
            let first = TcpStream::connect(address).await.unwrap();
            let served = timeout(WATCHDOG, async {
                loop {
                    if let Some(index) = acceptors.iter().position(|task| task.is_finished()) {
                        return index;
                    }
                    ringtide::task::yield_now().await;
                }
            })
            .await
            .expect("a connection to a listener with 50 waiting acceptors woke none of them");
            let mut peers = vec![acceptors.swap_remove(served).await.unwrap()];
            let mut clients = vec![first];
            for _ in 1..ACCEPTORS {
                clients.push(TcpStream::connect(address).await.unwrap());
            }
            for (index, acceptor) in acceptors.into_iter().enumerate() {
                let peer = timeout(WATCHDOG, acceptor)
                    .await
                    .unwrap_or_else(|_| panic!("acceptor {index} was never served"))
                    .unwrap();
                peers.push(peer);
            }
            let mut expected: Vec<_> =
                clients.iter().map(|client| client.local_addr().unwrap()).collect();
            peers.sort();
            expected.sort();
            assert_eq!(peers, expected, "every connection is accepted exactly once");
        });
    }
}

backend_test! {
    fn fifty_tasks_accepting_on_one_unix_listener_are_all_served(rt, multi) {
        rt.block_on(async {
            let path = socket_path("fifty");
            let listener = Arc::new(UnixListener::bind(&path).unwrap());
            let polled = Arc::new(AtomicUsize::new(0));
            let acceptors: Vec<_> = (0..ACCEPTORS)
                .map(|_| {
                    let (listener, polled) = (listener.clone(), polled.clone());
                    ringtide::spawn(async move {
                        let (stream, _) = counted(&polled, listener.accept()).await.unwrap();
                        stream
                    })
                })
                .collect();
            until_polled(&polled, ACCEPTORS).await;
            let mut clients = Vec::new();
            for _ in 0..ACCEPTORS {
                clients.push(UnixStream::connect(&path).await.unwrap());
            }
            for (index, acceptor) in acceptors.into_iter().enumerate() {
                timeout(WATCHDOG, acceptor)
                    .await
                    .unwrap_or_else(|_| panic!("acceptor {index} was never served"))
                    .unwrap();
            }
            std::fs::remove_file(&path).unwrap();
        });
    }
}

/// Connecting to the path of a Unix listener that was dropped: refused, whether the
/// listener never accepted, or had an accept in flight that was dropped (a `timeout`
/// that expired) just before the listener.
async fn connect_after_drop_is_refused() {
    for cancelled_accept in [false, true] {
        let path = socket_path("refused");
        let listener = UnixListener::bind(&path).unwrap();
        if cancelled_accept {
            let waited = timeout(Duration::from_millis(1), listener.accept()).await;
            assert!(waited.is_err(), "nothing connects, so the accept times out");
        }
        drop(listener);
        let result = UnixStream::connect(&path).await;
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            result.map(|_| ()).map_err(|error| error.kind()),
            Err(io::ErrorKind::ConnectionRefused),
            "connect after the listener was dropped (cancelled accept: {cancelled_accept})"
        );
    }
}

backend_test! {
    fn unix_connect_after_the_listener_is_dropped_is_refused(rt, multi) {
        rt.block_on(connect_after_drop_is_refused());
    }
}

/// The reported failure: with single accepts, the dropped accept's op kept the socket
/// listening until its cancellation landed, so the connect succeeded.
#[test]
fn unix_connect_after_the_listener_is_dropped_is_refused_with_single_accepts() {
    on_single_accept_runtimes("unix_refused_single_accepts", |rt| {
        rt.block_on(connect_after_drop_is_refused())
    });
}

/// The same for TCP: a connection to the port of a dropped listener is refused.
#[test]
fn tcp_connect_after_the_listener_is_dropped_is_refused_with_single_accepts() {
    on_single_accept_runtimes("tcp_refused_single_accepts", |rt| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let waited = timeout(Duration::from_millis(1), listener.accept()).await;
            assert!(waited.is_err(), "nothing connects, so the accept times out");
            drop(listener);
            let result = TcpStream::connect(address).await;
            assert_eq!(
                result.map(|_| ()).map_err(|error| error.kind()),
                Err(io::ErrorKind::ConnectionRefused)
            );
        })
    });
}

/// `poll_accept` through `poll_fn`: pending while nobody connects (the waker is
/// stored), then woken by the connection, which it returns with the peer's address.
async fn tcp_poll_accept_waits_then_returns_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let mut polls = 0;
    let accepting = poll_fn(|cx| {
        polls += 1;
        listener.poll_accept(cx)
    });
    let connecting = async {
        // Connect only once the accept has been polled (and found nothing).
        ringtide::task::yield_now().await;
        TcpStream::connect(address).await.unwrap()
    };
    let (accepted, client) = futures::join!(accepting, connecting);
    let (server, peer) = accepted.unwrap();
    assert!(
        polls >= 2,
        "the first poll found no connection and was woken"
    );
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    assert_eq!(server.backend(), listener.backend());
    // Several queued connections come out one per call, in order.
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(TcpStream::connect(address).await.unwrap());
    }
    for client in &clients {
        let (_, peer) = timeout(WATCHDOG, poll_fn(|cx| listener.poll_accept(cx)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    }
}

backend_test! {
    fn tcp_poll_accept_waits_for_and_returns_connections(rt, multi) {
        rt.block_on(tcp_poll_accept_waits_then_returns_the_connection());
    }
}

#[test]
fn tcp_poll_accept_waits_for_and_returns_connections_with_single_accepts() {
    on_single_accept_runtimes("tcp_poll_accept_single", |rt| {
        rt.block_on(tcp_poll_accept_waits_then_returns_the_connection())
    });
}

async fn unix_poll_accept_returns_a_working_stream() {
    use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
    let path = socket_path("poll-accept");
    let listener = UnixListener::bind(&path).unwrap();
    let (accepted, client) = futures::join!(poll_fn(|cx| listener.poll_accept(cx)), async {
        ringtide::task::yield_now().await;
        UnixStream::connect(&path).await.unwrap()
    });
    let (mut server, peer) = accepted.unwrap();
    assert!(peer.is_unnamed(), "the client did not bind");
    let mut client = client;
    let (result, _) = client.write_all_owned(b"ping".to_vec()).await;
    result.unwrap();
    let (result, buf) = server.read_exact_owned(Vec::with_capacity(4)).await;
    result.unwrap();
    assert_eq!(buf, b"ping");
    std::fs::remove_file(&path).unwrap();
}

backend_test! {
    fn unix_poll_accept_returns_a_working_stream(rt, multi) {
        rt.block_on(unix_poll_accept_returns_a_working_stream());
    }
}

#[test]
fn unix_poll_accept_returns_a_working_stream_with_single_accepts() {
    on_single_accept_runtimes("unix_poll_accept_single", |rt| {
        rt.block_on(unix_poll_accept_returns_a_working_stream())
    });
}

/// A connection an `accept()` future took from the kernel just before it was dropped
/// (io_uring single accepts: the op completed, its result was kept) is the one
/// `poll_accept` returns next; on mio the dropped future took nothing and `poll_accept`
/// takes the connection from the kernel. The same connection either way, and on
/// io_uring the kept-connection path is proven to have run.
#[test]
fn poll_accept_returns_the_connection_a_cancelled_accept_kept() {
    on_single_accept_runtimes("poll_accept_kept", |rt| {
        let backend = rt.backend();
        rt.block_on(async {
            let late = LatePaths::start();
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let connecting = ringtide::spawn(async move { TcpStream::connect(address).await });
            let (_server, peer) = match poll_once_then_drop(listener.accept()).await {
                // mio: the connection was already there at the first poll.
                Some(accepted) => accepted.unwrap(),
                None => timeout(WATCHDOG, poll_fn(|cx| listener.poll_accept(cx)))
                    .await
                    .expect("poll_accept returns the kept connection")
                    .unwrap(),
            };
            let client = connecting.await.unwrap().unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            late.assert_ran(backend, "a connection a cancelled accept took", |late| {
                late.accepts
            });
        });
    });
}

/// Dropping a listener while `poll_accept` keeps a single accept in flight cancels it
/// and closes the listener: a later connect is refused, and nothing hangs.
#[test]
fn dropping_a_listener_with_a_pending_poll_accept_closes_it() {
    on_single_accept_runtimes("poll_accept_drop", |rt| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let first = poll_fn(|cx| Poll::Ready(listener.poll_accept(cx))).await;
            assert!(first.is_pending(), "nobody connected yet");
            drop(listener);
            let result = TcpStream::connect(address).await;
            assert_eq!(
                result.map(|_| ()).map_err(|error| error.kind()),
                Err(io::ErrorKind::ConnectionRefused)
            );
        });
    });
}
