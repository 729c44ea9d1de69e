//! The portable API, used only through what every target has: TCP, UDP, files and
//! paths, timers and the runtime, with the platform's raw-handle traits (`AsRawFd` on
//! Unix, `AsRawSocket`/`AsRawHandle` on Windows). Nothing here is Unix-only, so
//! `ci/cross.sh` type-checks it for macOS, FreeBSD and Windows too (on Windows most
//! other test files are Unix-only); on Linux every test runs on both backends and both
//! flavours (`backend_test!`). Only Linux runs them here: see the README's platform
//! table for what that leaves untested elsewhere.
//!
//! Loopback only; files live in a fresh directory under `CARGO_TARGET_TMPDIR`. No
//! sleeps as synchronisation and no timing claims.

mod rt_common;

use std::io::{ErrorKind, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ringtide::fs::{self, File, OpenOptions};
use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpStream, UdpSocket};
use ringtide::task::JoinSet;

/// A directory of its own for one test, removed (with its contents) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "portable-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` bytes of a pattern that shows misplaced or repeated chunks.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|index| (index % 251) as u8).collect()
}

/// The stream's handle number through each of the platform's two borrowing traits;
/// they must name the same socket.
fn raw_handles_agree(stream: &TcpStream) {
    #[cfg(unix)]
    {
        use std::os::fd::{AsFd, AsRawFd};
        assert!(stream.as_raw_fd() >= 0);
        assert_eq!(stream.as_fd().as_raw_fd(), stream.as_raw_fd());
    }
    #[cfg(windows)]
    {
        use std::os::windows::io::{AsRawSocket, AsSocket};
        assert_eq!(stream.as_socket().as_raw_socket(), stream.as_raw_socket());
    }
}

/// A connected pair: (the client's end, the server's end).
async fn connected_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connecting = ringtide::spawn(async move { TcpStream::connect(address).await });
    let (server, peer) = listener.accept().await.unwrap();
    let client = connecting.await.unwrap().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(client.peer_addr().unwrap(), address);
    (client, server)
}

backend_test! {
    fn tcp_carries_bytes_both_ways_in_order_then_end_of_stream(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = connected_pair().await;
            raw_handles_agree(&client);
            raw_handles_agree(&server);

            let (written, _) = client.write_all_owned(b"ping").await;
            written.unwrap();
            let (read, buf) = server.read_exact_owned(vec![0u8; 4]).await;
            read.unwrap();
            assert_eq!(buf, b"ping");

            // More than one socket buffer's worth, read in whatever pieces arrive.
            let sent = pattern(512 * 1024);
            let writer = ringtide::spawn({
                let sent = sent.clone();
                async move {
                    let (written, _) = server.write_all_owned(sent).await;
                    written.unwrap();
                    server
                }
            });
            let mut received = Vec::with_capacity(sent.len());
            while received.len() < sent.len() {
                let (read, buf) = client.read_owned(Vec::with_capacity(16 * 1024)).await;
                assert!(read.unwrap() > 0, "end of stream after {} bytes", received.len());
                received.extend_from_slice(&buf);
            }
            assert_eq!(received, sent);
            let mut server = writer.await.unwrap();

            client.shutdown_with(std::net::Shutdown::Write).await.unwrap();
            let (read, _) = server.read_owned(Vec::with_capacity(8)).await;
            assert_eq!(read.unwrap(), 0, "the client's shutdown ends the server's stream");
        });
    }
}

backend_test! {
    fn tcp_connecting_to_a_closed_port_is_refused(rt, multi) {
        rt.block_on(async {
            // A port that was just free: bound, then closed.
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            drop(listener);
            let error = TcpStream::connect(address).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error}");
        });
    }
}

backend_test! {
    fn udp_datagrams_keep_their_boundaries_and_senders(rt, multi) {
        rt.block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b_address = b.local_addr().unwrap();
            for size in [1usize, 700, 1400] {
                let (sent, _) = a.send_to_owned(pattern(size), b_address).await;
                assert_eq!(sent.unwrap(), size);
            }
            for size in [1usize, 700, 1400] {
                let (received, buf) = b.recv_from_owned(Vec::with_capacity(2048)).await;
                let (count, from): (usize, SocketAddr) = received.unwrap();
                assert_eq!(count, size, "one receive, one datagram");
                assert_eq!(buf, pattern(size));
                assert_eq!(from, a.local_addr().unwrap());
            }

            a.connect(b_address).await.unwrap();
            assert_eq!(a.peer_addr().unwrap(), b_address);
            // The borrowed-buffer forms (tokio's signatures).
            assert_eq!(a.send(b"connected").await.unwrap(), 9);
            let mut buf = [0u8; 64];
            let (count, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, a.local_addr().unwrap());
            assert_eq!(&buf[..count], b"connected");
        });
    }
}

backend_test! {
    fn a_file_round_trips_positional_and_cursor_io(rt, multi) {
        let dir = TempDir::new("file");
        let path = dir.path("data");
        rt.block_on(async {
            let mut file = File::create(&path).await.unwrap();
            let (written, _) = file.write_all_owned(pattern(10_000)).await;
            written.unwrap();
            file.sync_all().await.unwrap();
            file.close().await.unwrap();

            let file = OpenOptions::new().read(true).write(true).open(&path).await.unwrap();
            let (read, buf) = file.read_at(Vec::with_capacity(100), 5000).await;
            assert_eq!(read.unwrap(), 100);
            assert_eq!(buf, pattern(10_000)[5000..5100]);
            let (written, _) = file.write_at(b"HERE".to_vec(), 20).await;
            assert_eq!(written.unwrap(), 4);
            file.set_len(4096).await.unwrap();
            assert_eq!(file.metadata().await.unwrap().len(), 4096);

            // Positional I/O may move the position (it does on Windows): seek first.
            let mut file = file;
            assert_eq!(file.seek(SeekFrom::Start(16)).await.unwrap(), 16);
            let (read, buf) = file.read_exact_owned(vec![0u8; 8]).await;
            read.unwrap();
            let mut expected = pattern(24)[16..24].to_vec();
            expected[4..8].copy_from_slice(b"HERE");
            assert_eq!(buf, expected);
            assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 24);
            file.close().await.unwrap();

            let mut expected = pattern(4096);
            expected[20..24].copy_from_slice(b"HERE");
            assert_eq!(fs::read(&path).await.unwrap(), expected);
        });
    }
}

backend_test! {
    fn whole_file_and_path_functions_round_trip(rt, multi) {
        let dir = TempDir::new("paths");
        rt.block_on(async {
            let nested = dir.path("a").join("b");
            fs::create_dir_all(&nested).await.unwrap();
            fs::write(nested.join("note"), "portable").await.unwrap();
            assert_eq!(fs::read_to_string(nested.join("note")).await.unwrap(), "portable");

            let error = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(nested.join("note"))
                .await
                .unwrap_err();
            assert_eq!(error.kind(), ErrorKind::AlreadyExists);

            fs::rename(nested.join("note"), nested.join("renamed")).await.unwrap();
            fs::hard_link(nested.join("renamed"), nested.join("linked")).await.unwrap();
            fs::create_dir(nested.join("empty")).await.unwrap();
            let mut names = Vec::new();
            let mut entries = fs::read_dir(&nested).await.unwrap();
            while let Some(entry) = entries.next_entry().await.unwrap() {
                names.push(entry.file_name().into_string().unwrap());
            }
            names.sort();
            assert_eq!(names, ["empty", "linked", "renamed"]);
            assert!(fs::metadata(nested.join("empty")).await.unwrap().is_dir());

            fs::remove_file(nested.join("linked")).await.unwrap();
            fs::remove_dir(nested.join("empty")).await.unwrap();
            let gone = fs::metadata(nested.join("linked")).await.unwrap_err();
            assert_eq!(gone.kind(), ErrorKind::NotFound);
            assert_eq!(fs::read(nested.join("renamed")).await.unwrap(), b"portable");
            fs::remove_dir_all(dir.path("a")).await.unwrap();
            assert!(!fs::try_exists(dir.path("a")).await.unwrap());
        });
    }
}

backend_test! {
    fn timers_and_the_blocking_pool_work_beside_io(rt, multi) {
        rt.block_on(async {
            ringtide::time::sleep(Duration::from_millis(1)).await;
            let never = std::future::pending::<()>();
            let timed_out = ringtide::time::timeout(Duration::from_millis(1), never).await;
            assert!(timed_out.is_err(), "a pending future times out");

            let mut tasks = JoinSet::new();
            for index in 0..8u64 {
                tasks.spawn(async move {
                    ringtide::task::spawn_blocking(move || index * 2).await.unwrap()
                });
            }
            let mut sum = 0;
            while let Some(done) = tasks.join_next().await {
                sum += done.unwrap();
            }
            assert_eq!(sum, (0..8).map(|index| index * 2).sum::<u64>());
        });
    }
}
