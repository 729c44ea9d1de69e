//! Pooled reads (`read_pooled` with a `BufPool`, issue 17): each test runs on BOTH
//! backends and both flavours through `backend_test!` (io_uring and mio ×
//! current-thread and 4 workers).
//!
//! Loopback only, no sleeps as synchronisation, no timing assertions. Rare paths prove
//! they ran through the hidden `ringtide::__private` counters (exhaustion waits,
//! `ENOBUFS` completions, kept late reads).

#![cfg(target_os = "linux")]

mod rt_common;

use std::io::ErrorKind;
use std::time::Duration;

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned, BufPool, MAX_POOL_BUFFERS, PooledBuf};
use ringtide::net::{TcpListener, TcpStream, UnixStream};
use ringtide::runtime::Backend;
use ringtide::time::timeout;
use rt_common::{LatePaths, poll_once_then_drop};

/// A hang guard for awaits that must finish (a passing run never gets near it).
const HANG: Duration = Duration::from_secs(20);

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(addr), listener.accept());
    (client.expect("connect"), accepted.expect("accept").0)
}

async fn send<W: AsyncWriteOwned>(writer: &mut W, data: &[u8]) {
    let (result, _) = writer.write_all_owned(data.to_vec()).await;
    result.expect("write_all_owned");
}

/// The bytes `seed` numbers: a position-dependent pattern, so reordering shows.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Pooled reads until `len` bytes arrived; each buffer is dropped at once.
async fn read_pooled_exactly(
    stream: &TcpStream,
    pool: &BufPool,
    mut got: Vec<u8>,
    len: usize,
) -> Vec<u8> {
    while got.len() < len {
        let buf = timeout(HANG, stream.read_pooled(pool))
            .await
            .expect("a pooled read hung")
            .expect("read_pooled");
        assert!(
            !buf.is_empty(),
            "end of stream after {} of {len} bytes",
            got.len()
        );
        assert!(buf.len() <= pool.buffer_size());
        got.extend_from_slice(&buf);
    }
    got
}

backend_test! {
    fn pooled_reads_round_trip_on_every_stream_type(rt, multi) {
        rt.block_on(async {
            // Not a power of two: the io_uring ring rounds up.
            let pool = BufPool::new(3, 16).unwrap();
            assert_eq!((pool.count(), pool.buffer_size()), (3, 16));

            let (mut client, server) = tcp_pair().await;
            send(&mut client, b"hello").await;
            let buf = server.read_pooled(&pool).await.unwrap();
            assert_eq!(&buf[..], b"hello");
            drop(buf);
            // More than one buffer's worth comes in buffer-sized pieces, in order.
            let data = pattern(1, 100);
            send(&mut client, &data).await;
            assert_eq!(read_pooled_exactly(&server, &pool, Vec::new(), 100).await, data);
            drop(client);
            assert!(server.read_pooled(&pool).await.unwrap().is_empty(), "end of stream");

            // TCP's owned read half.
            let (mut client, server) = tcp_pair().await;
            let (read_half, _write_half) = server.into_split();
            send(&mut client, b"half").await;
            assert_eq!(&read_half.read_pooled(&pool).await.unwrap()[..], b"half");

            // Unix streams and their owned read half.
            let (mut left, right) = UnixStream::pair().unwrap();
            send(&mut left, b"unix").await;
            assert_eq!(&right.read_pooled(&pool).await.unwrap()[..], b"unix");
            let (read_half, _write_half) = right.into_split();
            send(&mut left, b"unix half").await;
            assert_eq!(&read_half.read_pooled(&pool).await.unwrap()[..], b"unix half");
            drop(left);
            assert!(read_half.read_pooled(&pool).await.unwrap().is_empty());
        });
    }
}

backend_test! {
    fn an_exhausted_pool_makes_reads_wait_never_fail(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async {
            const LEN: usize = 1_000;
            // 2 buffers for 4 connections. Everything runs in this one task (the
            // `block_on` future, on one thread), so on io_uring every read goes through
            // the same ring and its 2 buffers (each ring has its own).
            let pool = BufPool::new(2, 64).unwrap();
            let mut clients = Vec::new();
            let mut servers = Vec::new();
            for _ in 0..4 {
                let (client, server) = tcp_pair().await;
                clients.push(client);
                servers.push(server);
            }
            let data: Vec<Vec<u8>> = (0..4).map(|i| pattern(i as u8 * 50, LEN)).collect();
            for (client, data) in clients.iter_mut().zip(&data) {
                send(client, data).await;
            }
            // Connections 0 and 1 take both buffers and hold them.
            let held: Vec<PooledBuf> = vec![
                servers[0].read_pooled(&pool).await.unwrap(),
                servers[1].read_pooled(&pool).await.unwrap(),
            ];
            let firsts: Vec<Vec<u8>> = held.iter().map(|buf| buf.to_vec()).collect();
            let waits = ringtide::__private::pooled_read_waits();
            let enobufs = ringtide::__private::pooled_read_enobufs();
            // Connections 2 and 3 find no buffer and wait; once one of them is seen
            // waiting, the held buffers go back and every connection reads everything.
            let release = async move {
                while ringtide::__private::pooled_read_waits() == waits {
                    ringtide::task::yield_now().await;
                }
                drop(held);
            };
            let (got, ()) = futures::join!(
                futures::future::join_all(servers.iter().zip(firsts.into_iter().chain([
                    Vec::new(),
                    Vec::new(),
                ])).map(|(server, first)| read_pooled_exactly(server, &pool, first, LEN))),
                release,
            );
            assert_eq!(got, data, "every connection got all its bytes, in order");
            assert!(ringtide::__private::pooled_read_waits() > waits);
            if backend == Backend::IoUring {
                assert!(
                    ringtide::__private::pooled_read_enobufs() > enobufs,
                    "io_uring: the kernel never reported ENOBUFS"
                );
            }
            eprintln!(
                "waits {}, ENOBUFS {}",
                ringtide::__private::pooled_read_waits() - waits,
                ringtide::__private::pooled_read_enobufs() - enobufs
            );
        });
    }
}

backend_test! {
    fn buffers_on_loan_outlive_their_connection(rt, multi) {
        rt.block_on(async {
            let pool = BufPool::new(2, 32).unwrap();
            let (mut client, server) = tcp_pair().await;
            send(&mut client, b"first").await;
            let first = server.read_pooled(&pool).await.unwrap();
            send(&mut client, b"second").await;
            let second = server.read_pooled(&pool).await.unwrap();
            // Both buffers on loan; the connection goes away (both ends).
            drop(server);
            drop(client);
            assert_eq!(&first[..], b"first");
            assert_eq!(&second[..], b"second");
            drop((first, second));
            // Both came back: a new connection reads twice more while holding both.
            let (mut client, server) = tcp_pair().await;
            send(&mut client, b"again").await;
            let again = timeout(HANG, server.read_pooled(&pool)).await.unwrap().unwrap();
            send(&mut client, b"more").await;
            let more = timeout(HANG, server.read_pooled(&pool)).await.unwrap().unwrap();
            assert_eq!((&again[..], &more[..]), (&b"again"[..], &b"more"[..]));
        });
    }
}

backend_test! {
    fn a_buffer_dropped_on_another_thread_or_after_the_runtime_goes_back(rt, multi) {
        let pool = BufPool::new(1, 16).unwrap();
        let (kept, client) = rt.block_on(async {
            let (mut client, server) = tcp_pair().await;
            send(&mut client, b"one").await;
            let buf = server.read_pooled(&pool).await.unwrap();
            std::thread::spawn(move || {
                assert_eq!(&buf[..], b"one");
                drop(buf);
            })
            .join()
            .unwrap();
            // The only buffer is back: the next read gets it.
            send(&mut client, b"two").await;
            let buf = timeout(HANG, server.read_pooled(&pool)).await.unwrap().unwrap();
            (buf, client)
        });
        drop(rt);
        drop(client);
        assert_eq!(&kept[..], b"two", "a buffer outlives the runtime");
        drop(kept);
        drop(pool);
    }
}

backend_test! {
    fn dropped_pooled_reads_lose_no_bytes(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async {
            let late = LatePaths::start();
            let pool = BufPool::new(4, 64).unwrap();
            let (mut client, mut server) = tcp_pair().await;
            let mut sent = Vec::new();
            let mut got = Vec::new();
            for round in 0..50u8 {
                // A read cancelled with nothing to read.
                assert!(timeout(Duration::ZERO, server.read_pooled(&pool)).await.is_err());
                // Data, taken by a read that is dropped once the kernel completed it
                // (io_uring): the bytes must reach the next read.
                let data = pattern(round, 1 + round as usize * 3);
                send(&mut client, &data).await;
                sent.extend_from_slice(&data);
                if let Some(buf) = poll_once_then_drop(server.read_pooled(&pool)).await {
                    got.extend_from_slice(&buf.unwrap());
                }
                // The rest with pooled and owned reads alternating.
                while got.len() < sent.len() {
                    if round % 2 == 0 {
                        let buf = timeout(HANG, server.read_pooled(&pool)).await.unwrap().unwrap();
                        assert!(!buf.is_empty());
                        got.extend_from_slice(&buf);
                    } else {
                        let (result, buf) = server.read_owned(Vec::with_capacity(64)).await;
                        assert!(result.unwrap() > 0);
                        got.extend_from_slice(&buf);
                    }
                }
                assert_eq!(got, sent, "round {round}: bytes lost or reordered");
            }
            drop(client);
            assert!(server.read_pooled(&pool).await.unwrap().is_empty());
            eprintln!("late results kept: {:?}", late.since());
            late.assert_ran(backend, "dropped pooled reads", |late| late.reads);
        });
    }
}

#[test]
fn bad_pool_shapes_are_clear_errors() {
    for (count, size) in [
        (0, 4096),
        (MAX_POOL_BUFFERS + 1, 4096),
        (4, 0),
        (4, u32::MAX as usize + 1),
    ] {
        let error = BufPool::new(count, size).unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::InvalidInput,
            "{count} × {size}: {error}"
        );
        assert!(!error.to_string().is_empty());
    }
    BufPool::new(MAX_POOL_BUFFERS, 1).expect("the largest count is fine");
}
