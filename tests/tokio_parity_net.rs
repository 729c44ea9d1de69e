//! tokio parity of the stream types (issue 15): `peek`/`poll_peek`, `try_read_buf`,
//! the borrowed `split()` halves and the readiness API of every half, and read
//! readiness that counts bytes a cancelled owned read kept (io_uring). Each test runs
//! on `TcpStream` and `UnixStream`, on io_uring and mio, current thread and 4 workers
//! (`stream_test!` over `backend_test!`). Loopback and socket pairs only; nothing
//! waits on a sleep.

#![cfg(target_os = "linux")]

mod rt_common;

use std::future::{Future, poll_fn};
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned, Interest};
use ringtide::net::{TcpListener, TcpStream, UnixStream};
use ringtide::time::timeout;
use rt_common::LatePaths;

/// How long a wait the test expects to end may take before the test calls it stuck.
const WATCHDOG: Duration = Duration::from_secs(10);

/// A connected loopback TCP pair.
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(address), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

/// Runs the body once with a TCP pair and once with a Unix pair (`$a`, `$b`), each on
/// both backends and both flavours.
macro_rules! stream_test {
    ($(#[$attr:meta])* fn $name:ident($a:ident, $b:ident, $backend:ident) $body:block) => {
        $(#[$attr])*
        mod $name {
            use super::*;

            backend_test! {
                fn tcp(rt, multi) {
                    let $backend = rt.backend();
                    rt.block_on(async {
                        #[allow(unused_mut)]
                        let (mut $a, mut $b) = tcp_pair().await;
                        $body
                    });
                }
            }

            backend_test! {
                fn unix(rt, multi) {
                    let $backend = rt.backend();
                    rt.block_on(async {
                        #[allow(unused_mut)]
                        let (mut $a, mut $b) = UnixStream::pair().unwrap();
                        $body
                    });
                }
            }
        }
    };
}

/// The tokio idiom: `readable().await` then `try_read` until `len` bytes are in.
macro_rules! read_with_try_read {
    ($stream:expr, $len:expr) => {{
        let stream = $stream;
        let mut received = Vec::new();
        let mut buf = [0; 256];
        while received.len() < $len {
            timeout(WATCHDOG, stream.readable())
                .await
                .expect("readable() returns")
                .unwrap();
            match stream.try_read(&mut buf) {
                Ok(0) => panic!("end of stream after {} bytes", received.len()),
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_read: {e}"),
            }
        }
        received
    }};
}

stream_test! {
    fn peek_shows_bytes_without_taking_them_and_zero_at_end_of_stream(a, b, backend) {
        let message = b"hello, peek";
        let (result, _) = b.write_all_owned(message.to_vec()).await;
        result.unwrap();
        let mut first = [0; 64];
        let seen = a.peek(&mut first).await.unwrap();
        assert!(seen > 0 && seen <= message.len());
        assert_eq!(&first[..seen], &message[..seen], "a peek returns the stream's start");
        // Peeking again returns the same bytes (at least as many: more may have come).
        let mut again = [0; 64];
        let seen_again = a.peek(&mut again).await.unwrap();
        assert!(seen_again >= seen);
        assert_eq!(&again[..seen_again], &message[..seen_again]);
        // A small buffer takes only what fits.
        let mut two = [0; 2];
        assert_eq!(a.peek(&mut two).await.unwrap(), 2);
        assert_eq!(&two, b"he");
        // An empty buffer returns at once.
        assert_eq!(a.peek(&mut []).await.unwrap(), 0);
        // Nothing was taken: the reads return every byte.
        let received = read_with_try_read!(&a, message.len());
        assert_eq!(received, message);
        // End of stream: peek returns 0, and keeps doing so.
        b.shutdown_with(std::net::Shutdown::Write).await.unwrap();
        assert_eq!(a.peek(&mut first).await.unwrap(), 0);
        assert_eq!(a.peek(&mut first).await.unwrap(), 0);
        let _ = backend;
    }
}

stream_test! {
    fn peek_waits_for_data_and_a_cancelled_peek_loses_nothing(a, b, backend) {
        // Nothing to read: a peek waits (and, dropped by the timeout, takes nothing).
        let mut buf = [0; 16];
        assert!(timeout(Duration::from_millis(1), a.peek(&mut buf)).await.is_err());
        let (peeked, written) = futures::join!(a.peek(&mut buf), async {
            ringtide::task::yield_now().await;
            b.write_all_owned(b"late".to_vec()).await.0
        });
        written.unwrap();
        let peeked = peeked.unwrap();
        assert_eq!(&buf[..peeked], &b"late"[..peeked]);
        assert_eq!(read_with_try_read!(&a, 4), b"late");
        let _ = backend;
    }
}

stream_test! {
    fn poll_peek_fills_the_read_buf_and_leaves_the_bytes(a, b, backend) {
        let (result, _) = b.write_all_owned(b"poll peek".to_vec()).await;
        result.unwrap();
        let mut storage = [0; 32];
        let mut read_buf = tokio::io::ReadBuf::new(&mut storage);
        let count = poll_fn(|cx| a.poll_peek(cx, &mut read_buf)).await.unwrap();
        assert!(count > 0);
        assert_eq!(read_buf.filled(), &b"poll peek"[..count]);
        assert_eq!(read_with_try_read!(&a, 9), b"poll peek");
        let _ = backend;
    }
}

stream_test! {
    fn owned_halves_have_the_readiness_api_and_peek(a, b, backend) {
        let (read_half, write_half) = a.into_split();
        let ready = write_half.ready(Interest::WRITABLE).await.unwrap();
        assert!(ready.is_writable());
        write_half.writable().await.unwrap();
        let mut sent = 0;
        while sent == 0 {
            write_half.writable().await.unwrap();
            match write_half.try_write(b"to b") {
                Ok(n) => sent = n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("try_write: {e}"),
            }
        }
        assert_eq!(sent, 4, "a fresh stream takes four bytes at once");
        let (result, buf) = b.read_exact_owned(Vec::with_capacity(4)).await;
        result.unwrap();
        assert_eq!(buf, b"to b");

        let (result, _) = b.write_all_owned(b"to a".to_vec()).await;
        result.unwrap();
        let ready = read_half.ready(Interest::READABLE).await.unwrap();
        assert!(ready.is_readable());
        let mut peeked = [0; 4];
        let count = read_half.peek(&mut peeked).await.unwrap();
        assert_eq!(&peeked[..count], &b"to a"[..count]);
        assert_eq!(read_with_try_read!(&read_half, 4), b"to a");
        let mut vectored = [0; 1];
        let (result, _) = b.write_all_owned(b"v".to_vec()).await;
        result.unwrap();
        read_half.readable().await.unwrap();
        let count = loop {
            match read_half.try_read_vectored(&mut [io::IoSliceMut::new(&mut vectored)]) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => read_half.readable().await.unwrap(),
                other => break other.unwrap(),
            }
        };
        assert_eq!((count, vectored), (1, *b"v"));

        // tokio's `OwnedWriteHalf::reunite` puts the stream back together too.
        let mut stream = write_half.reunite(read_half).unwrap();
        let (result, _) = stream.write_all_owned(b"whole".to_vec()).await;
        result.unwrap();
        let (result, buf) = b.read_exact_owned(Vec::with_capacity(5)).await;
        result.unwrap();
        assert_eq!(buf, b"whole");
        let _ = backend;
    }
}

stream_test! {
    fn borrowed_halves_read_and_write_at_once_in_one_task(a, b, backend) {
        let (mut read_half, mut write_half) = a.split();
        assert_eq!(read_half.local_addr().is_ok(), write_half.local_addr().is_ok());
        // Both halves in one `join!`: an owned read on one, an owned write on the other.
        let ((read, buf), (written, _), (echoed, _)) = futures::join!(
            read_half.read_exact_owned(Vec::with_capacity(5)),
            write_half.write_all_owned(b"from a".to_vec()),
            b.write_all_owned(b"hello".to_vec()),
        );
        read.unwrap();
        written.unwrap();
        echoed.unwrap();
        assert_eq!(buf, b"hello");
        let (result, buf) = b.read_exact_owned(Vec::with_capacity(6)).await;
        result.unwrap();
        assert_eq!(buf, b"from a");

        // The readiness API on the borrowed halves.
        assert!(write_half.ready(Interest::WRITABLE).await.unwrap().is_writable());
        write_half.writable().await.unwrap();
        let (result, _) = b.write_all_owned(b"xy".to_vec()).await;
        result.unwrap();
        assert!(read_half.ready(Interest::READABLE).await.unwrap().is_readable());
        let mut peeked = [0; 2];
        let count = read_half.peek(&mut peeked).await.unwrap();
        assert_eq!(&peeked[..count], &b"xy"[..count]);
        assert_eq!(read_with_try_read!(&read_half, 2), b"xy");
        let sent = loop {
            write_half.writable().await.unwrap();
            match write_half.try_write(b"z") {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => break other.unwrap(),
            }
        };
        assert_eq!(sent, 1);
        let (result, buf) = b.read_exact_owned(Vec::with_capacity(1)).await;
        result.unwrap();
        assert_eq!(buf, b"z");

        // The borrowed halves are done with (their borrow ends here): they shut
        // nothing down, and the stream still works both ways.
        let (result, _) = a.write_all_owned(b"still".to_vec()).await;
        result.unwrap();
        let (result, buf) = b.read_exact_owned(Vec::with_capacity(5)).await;
        result.unwrap();
        assert_eq!(buf, b"still");
        let _ = backend;
    }
}

stream_test! {
    /// tokio's `io::copy` between the borrowed halves of one stream: an echo server in one
    /// task, as tokio's own examples write it. The write half's `shutdown()` ends the
    /// stream for the peer.
    #[cfg(feature = "tokio-io")]
    fn tokio_copy_between_borrowed_halves_echoes(a, b, backend) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        let server = async move {
            let (mut reader, mut writer) = a.split();
            let copied = tokio::io::copy(&mut reader, &mut writer).await.unwrap();
            writer.shutdown().await.unwrap();
            copied
        };
        let client = async move {
            let (mut reader, mut writer) = b.split();
            let send = async {
                writer.write_all(&data).await.unwrap();
                writer.shutdown().await.unwrap();
            };
            let mut echoed = Vec::new();
            let receive = reader.read_to_end(&mut echoed);
            let ((), received) = futures::join!(send, receive);
            received.unwrap();
            echoed
        };
        let (copied, echoed) = futures::join!(server, client);
        assert_eq!(copied, expected.len() as u64);
        assert!(echoed == expected, "the echo is intact and in order");
        let _ = backend;
    }
}

stream_test! {
    /// futures' `AsyncRead`/`AsyncWrite` on the borrowed halves.
    #[cfg(feature = "futures-io")]
    fn futures_io_on_borrowed_halves(a, b, backend) {
        use futures::io::{AsyncReadExt, AsyncWriteExt};
        let (mut reader, mut writer) = a.split();
        writer.write_all(b"futures").await.unwrap();
        writer.close().await.unwrap();
        let (result, buf) = b.read_exact_owned(Vec::with_capacity(7)).await;
        result.unwrap();
        assert_eq!(buf, b"futures");
        let (result, _) = b.write_all_owned(b"back".to_vec()).await;
        result.unwrap();
        let mut back = [0; 4];
        reader.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"back");
        let _ = backend;
    }
}

stream_test! {
    /// `try_read_buf` (feature `bytes`) grows a `Vec` and a `BytesMut` as it reads.
    #[cfg(feature = "bytes")]
    fn try_read_buf_reads_into_spare_capacity(a, b, backend) {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 241) as u8).collect();
        let (result, _) = b.write_all_owned(data.clone()).await;
        result.unwrap();
        b.shutdown_with(std::net::Shutdown::Write).await.unwrap();
        let mut vec = Vec::new();
        let mut bytes = bytes::BytesMut::new();
        loop {
            timeout(WATCHDOG, a.readable()).await.expect("readable() returns").unwrap();
            // Alternate the two buffers; each keeps what it read.
            let into_vec = vec.len() <= bytes.len();
            let result = if into_vec {
                vec.reserve(1000);
                a.try_read_buf(&mut vec)
            } else {
                bytes.reserve(1000);
                a.try_read_buf(&mut bytes)
            };
            match result {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_read_buf: {e}"),
            }
        }
        assert_eq!(vec.len() + bytes.len(), data.len());
        assert!(!vec.is_empty(), "the Vec was read into");
        let _ = backend;
    }
}

/// A waker that records that it was woken, then wakes the task it wraps.
struct Flag {
    woken: AtomicBool,
    task: Mutex<Waker>,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, SeqCst);
        self.task.lock().unwrap().wake_by_ref();
    }
}

/// Polls `future` once (it must be pending), runs `between`, then waits until the
/// future's waker fires and drops it without polling it again. For an owned read on
/// io_uring, the read's completion then goes to the kept-results path: the bytes it took
/// are kept for the next read. On mio a dropped read has taken nothing.
async fn poll_act_then_drop_when_woken<F: Future>(future: F, between: impl Future) {
    let mut future = pin!(future);
    let flag = Arc::new(Flag {
        woken: AtomicBool::new(false),
        task: Mutex::new(Waker::noop().clone()),
    });
    let waker = Waker::from(flag.clone());
    let first = future.as_mut().poll(&mut Context::from_waker(&waker));
    assert!(
        first.is_pending(),
        "nothing to read before `between` writes"
    );
    between.await;
    poll_fn(|cx| {
        *flag.task.lock().unwrap() = cx.waker().clone();
        if flag.woken.load(SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

stream_test! {
    /// Issue 15, item 5: on io_uring a cancelled owned read that completed keeps its
    /// bytes for the next read, and the socket itself is then empty. `readable()`,
    /// `ready(READABLE)`, `poll_read_ready` and `peek` must see those bytes (before the
    /// fix they waited on the socket, forever), and `try_read` must return them. The
    /// kept-read path is proven to have run on io_uring; on mio the same calls find
    /// the bytes in the socket.
    fn readiness_counts_bytes_a_cancelled_read_kept(a, b, backend) {
        let late = LatePaths::start();
        let message = b"kept bytes";
        poll_act_then_drop_when_woken(a.read_owned(Vec::with_capacity(64)), async {
            let (result, _) = b.write_all_owned(message.to_vec()).await;
            result.unwrap();
        })
        .await;
        timeout(WATCHDOG, a.readable())
            .await
            .expect("readable() returns while bytes are kept")
            .unwrap();
        let ready = timeout(WATCHDOG, a.ready(Interest::READABLE | Interest::WRITABLE))
            .await
            .expect("ready(READABLE) returns while bytes are kept")
            .unwrap();
        assert!(ready.is_readable(), "{ready:?}");
        timeout(WATCHDOG, poll_fn(|cx| a.poll_read_ready(cx)))
            .await
            .expect("poll_read_ready is ready while bytes are kept")
            .unwrap();
        let mut peeked = [0; 64];
        let count = timeout(WATCHDOG, a.peek(&mut peeked))
            .await
            .expect("peek shows kept bytes")
            .unwrap();
        assert!(count > 0);
        assert_eq!(&peeked[..count], &message[..count]);
        assert_eq!(read_with_try_read!(&a, message.len()), message);
        late.assert_ran(backend, "bytes kept by a cancelled read", |late| late.reads);
    }
}

stream_test! {
    /// The kept bytes also come first for tokio-style readers of the owned read half.
    fn the_read_half_sees_bytes_a_cancelled_read_kept(a, b, backend) {
        let late = LatePaths::start();
        let (mut read_half, _write_half) = a.into_split();
        poll_act_then_drop_when_woken(read_half.read_owned(Vec::with_capacity(64)), async {
            let (result, _) = b.write_all_owned(b"half".to_vec()).await;
            result.unwrap();
        })
        .await;
        assert_eq!(read_with_try_read!(&read_half, 4), b"half");
        late.assert_ran(backend, "bytes kept by a cancelled read", |late| late.reads);
    }
}
