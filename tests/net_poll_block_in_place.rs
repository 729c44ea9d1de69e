//! The poll path (tokio's `AsyncRead` on ringtide's streams) across `block_in_place`:
//! a read waiting for readiness while its worker hands its core to another thread
//! (the worker's ring retires) must still complete when the bytes come, and must not
//! spin. Found by the soak's mixed workload (`ringtide-soak`, scenario 2): on io_uring
//! both workers spun at 100 % CPU in `poll_recv` (`recv` → `EAGAIN` → readiness still
//! set → `recv` again) and the echo never finished.
//!
//! The fix: in `uring_readiness.rs`'s `poll_event`, a `-ECANCELED` result (the
//! retired ring cancelled the request) ends the request, and the next wait re-arms it
//! on its own ring, instead of marking the direction CLOSED for good. Before it, the
//! io_uring cases hung until the watchdog.
//!
//! Both backends (one test each, so the failing one is named), a multi-thread runtime
//! of 2 workers, under a watchdog (the spin never yields, so the 10 s `timeout` inside
//! cannot fire; the watchdog ends the test).

#![cfg(all(target_os = "linux", feature = "tokio-io"))]

mod rt_common;

use std::time::Duration;

use ringtide::io::AsyncWriteOwned;
use ringtide::net::{TcpListener, TcpStream};
use ringtide::runtime::Backend;
use ringtide::time::timeout;

/// Bounds a read that should complete at once.
const HANG: Duration = Duration::from_secs(10);

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(address), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

/// A poll-path read left pending (its readiness armed on this worker's ring), then
/// `block_in_place`, then the peer writes: the read must return the bytes.
fn pending_poll_read_then_block_in_place(backend: Backend) {
    {
        rt_common::with_timeout(
            &format!("pending_poll_read_then_block_in_place on {backend}"),
            rt_common::TEST_TIMEOUT,
            move || {
                let rt = rt_common::backend_runtime(backend, 2);
                rt.block_on(async {
                    ringtide::spawn(async move {
                        use tokio::io::AsyncReadExt;
                        let (mut reader, mut writer) = pair().await;
                        for round in 0..50u64 {
                            let mut buf = [0u8; 8];
                            let mut read = std::pin::pin!(reader.read(&mut buf));
                            assert!(
                                futures::poll!(read.as_mut()).is_pending(),
                                "{backend} round {round}: nothing was sent yet"
                            );
                            ringtide::task::block_in_place(|| {});
                            let message = round.to_le_bytes();
                            let (written, _) = writer.write_all_owned(message.to_vec()).await;
                            written.unwrap();
                            let read = timeout(HANG, read).await.unwrap_or_else(|_| {
                                panic!("{backend} round {round}: the read hangs")
                            });
                            assert_eq!(read.unwrap(), 8, "{backend} round {round}");
                            assert_eq!(buf, message, "{backend} round {round}");
                        }
                    })
                    .await
                    .unwrap();
                });
            },
        );
    }
}

/// The soak's shape: an echo through the poll path runs in one task while another
/// task on the same runtime calls `block_in_place` over and over.
fn poll_echoes_while_blocking_in_place(backend: Backend) {
    {
        rt_common::with_timeout(
            &format!("poll_echoes_while_blocking_in_place on {backend}"),
            rt_common::TEST_TIMEOUT,
            move || {
                let rt = rt_common::backend_runtime(backend, 2);
                rt.block_on(async {
                    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let address = listener.local_addr().unwrap();
                    let server = ringtide::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        loop {
                            let (mut stream, _) = listener.accept().await.unwrap();
                            ringtide::spawn(async move {
                                let mut buf = vec![0u8; 4096];
                                loop {
                                    let read = stream.read(&mut buf).await.unwrap();
                                    if read == 0 {
                                        return;
                                    }
                                    stream.write_all(&buf[..read]).await.unwrap();
                                }
                            });
                        }
                    });
                    let mut tasks = Vec::new();
                    for client in 0..8u8 {
                        tasks.push(ringtide::spawn(async move {
                            use tokio::io::{AsyncReadExt, AsyncWriteExt};
                            for round in 0..20usize {
                                let echo = ringtide::spawn(async move {
                                    let mut stream = TcpStream::connect(address).await.unwrap();
                                    let message = vec![client; 1 + round * 997];
                                    let (mut reader, mut writer) = stream.split();
                                    let mut echoed = vec![0u8; message.len()];
                                    let (written, read) = futures::join!(
                                        writer.write_all(&message),
                                        reader.read_exact(&mut echoed)
                                    );
                                    written.unwrap();
                                    read.unwrap();
                                    assert!(echoed == message);
                                });
                                ringtide::task::block_in_place(|| {
                                    std::thread::sleep(Duration::from_millis(1));
                                });
                                timeout(HANG, echo)
                                    .await
                                    .unwrap_or_else(|_| {
                                        panic!("{backend} client {client} round {round}: the echo hangs")
                                    })
                                    .unwrap();
                            }
                        }));
                    }
                    for task in tasks {
                        task.await.unwrap();
                    }
                    server.abort();
                });
            },
        );
    }
}

#[test]
fn a_pending_poll_read_survives_block_in_place_on_io_uring() {
    pending_poll_read_then_block_in_place(Backend::IoUring);
}

#[test]
fn a_pending_poll_read_survives_block_in_place_on_mio() {
    pending_poll_read_then_block_in_place(Backend::Mio);
}

#[test]
fn poll_echoes_finish_while_another_task_blocks_in_place_on_io_uring() {
    poll_echoes_while_blocking_in_place(Backend::IoUring);
}

#[test]
fn poll_echoes_finish_while_another_task_blocks_in_place_on_mio() {
    poll_echoes_while_blocking_in_place(Backend::Mio);
}
