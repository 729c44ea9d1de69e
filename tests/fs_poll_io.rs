//! tokio's and futures' poll traits on `fs::File` (features `tokio-io` and
//! `futures-io`; see `src/fs/poll_io.rs`), each test on both backends and both
//! flavours (`backend_test!`): `tokio::io::copy` to a socket, `BufReader::lines`,
//! write-behind with `flush`, seeks interleaved with reads, futures-io's helpers, a
//! write error, and a `File` dropped with an op in flight (no fd leak).

#![cfg(all(feature = "tokio-io", feature = "futures-io"))]

mod rt_common;

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ringtide::fs::File;
use ringtide::net::{TcpListener, TcpStream};

/// A directory of its own for one test, removed (with its contents) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "fs_poll_io-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// A file named `name` holding `contents` (written with std).
    fn file_with(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` bytes where every position has its own value (a wrong offset shows).
fn pattern(len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8 ^ i as u8)
        .collect()
}

/// The fd-counting test holds this exclusively, every other test shared.
static FD_COUNT: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn shared_fds() -> std::sync::RwLockReadGuard<'static, ()> {
    FD_COUNT.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive_fds() -> std::sync::RwLockWriteGuard<'static, ()> {
    FD_COUNT.write().unwrap_or_else(|e| e.into_inner())
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

backend_test! {
    guard: shared_fds();
    fn tokio_copy_file_to_socket(rt, multi) {
        use tokio::io::AsyncReadExt;

        let dir = TempDir::new("copy");
        let data = pattern(1 << 20);
        let path = dir.file_with("source", &data);
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let sender = ringtide::spawn(async move {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut file = File::open(&path).await.unwrap();
                let copied = tokio::io::copy(&mut file, &mut socket).await.unwrap();
                tokio::io::AsyncWriteExt::shutdown(&mut socket).await.unwrap();
                copied
            });
            let mut peer = TcpStream::connect(address).await.unwrap();
            let mut received = Vec::new();
            peer.read_to_end(&mut received).await.unwrap();
            assert_eq!(sender.await.unwrap(), data.len() as u64);
            assert_eq!(received.len(), data.len());
            assert!(received == data, "the copy differs from the file");
        });
    }
}

backend_test! {
    guard: shared_fds();
    fn tokio_buf_reader_lines(rt, multi) {
        use tokio::io::AsyncBufReadExt;

        let dir = TempDir::new("lines");
        let text: String = (0..10_000).map(|i| format!("line number {i}\n")).collect();
        let path = dir.file_with("lines", text.as_bytes());
        rt.block_on(async move {
            let file = File::open(&path).await.unwrap();
            let mut lines = tokio::io::BufReader::new(file).lines();
            let mut count = 0;
            while let Some(line) = lines.next_line().await.unwrap() {
                assert_eq!(line, format!("line number {count}"));
                count += 1;
            }
            assert_eq!(count, 10_000);
            // The file's own AsyncBufRead, without a BufReader around it.
            let mut lines = File::open(&path).await.unwrap().lines();
            let mut count = 0;
            while let Some(line) = lines.next_line().await.unwrap() {
                assert_eq!(line, format!("line number {count}"));
                count += 1;
            }
            assert_eq!(count, 10_000);
        });
    }
}

backend_test! {
    guard: shared_fds();
    fn tokio_write_all_flush_then_std_reads_it(rt, multi) {
        use tokio::io::AsyncWriteExt;

        let dir = TempDir::new("write");
        let path = dir.file_with("written", b"");
        let data = pattern(3 << 20 | 12_345);
        let expected = data.clone();
        let written = path.clone();
        rt.block_on(async move {
            let mut file = File::create(&written).await.unwrap();
            for chunk in data.chunks(100_000) {
                file.write_all(chunk).await.unwrap();
            }
            file.flush().await.unwrap();
            assert!(std::fs::read(&written).unwrap() == expected);
            file.write_all(b"tail").await.unwrap();
            file.shutdown().await.unwrap();
            file.close().await.unwrap();
        });
        let mut expected = pattern(3 << 20 | 12_345);
        expected.extend_from_slice(b"tail");
        assert!(std::fs::read(&path).unwrap() == expected);
    }
}

backend_test! {
    guard: shared_fds();
    fn tokio_seeks_interleaved_with_reads(rt, multi) {
        use std::io::{Read as _, Seek as _};
        use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

        let dir = TempDir::new("seek");
        let data = pattern(300_000);
        let path = dir.file_with("seek", &data);
        rt.block_on(async move {
            let mut file = File::options().read(true).write(true).open(&path).await.unwrap();
            let mut reference = std::fs::File::open(&path).unwrap();
            let seeks = [
                SeekFrom::Start(10),
                SeekFrom::Current(5),
                SeekFrom::Current(-7),
                SeekFrom::End(-1000),
                SeekFrom::Current(-200_000),
                SeekFrom::Start(0),
                SeekFrom::Current(150_000),
                SeekFrom::End(0),
                SeekFrom::Current(-1),
            ];
            for (round, seek) in seeks.into_iter().enumerate() {
                // Read a little first, so read-ahead is buffered when the seek comes.
                let mut ours = vec![0u8; 100 + round * 37];
                let mut theirs = vec![0u8; ours.len()];
                let got = file.read(&mut ours).await.unwrap();
                let want = reference.read(&mut theirs).unwrap();
                assert_eq!(&ours[..got], &theirs[..got], "round {round}");
                assert!(got <= want);
                // std may read more in one call: catch ours up.
                let mut rest = vec![0u8; want - got];
                file.read_exact(&mut rest).await.unwrap();
                assert_eq!(rest, &theirs[got..want], "round {round}");
                assert_eq!(
                    file.seek(seek).await.unwrap(),
                    reference.seek(seek).unwrap(),
                    "round {round}: {seek:?}"
                );
                assert_eq!(file.stream_position().await.unwrap(), reference.stream_position().unwrap());
            }
            // A write after reads lands at the logical position, not after the read-ahead.
            file.seek(SeekFrom::Start(1000)).await.unwrap();
            let mut first = [0u8; 10];
            file.read_exact(&mut first).await.unwrap();
            assert_eq!(first, data[1000..1010]);
            file.write_all(b"XYZ").await.unwrap();
            file.flush().await.unwrap();
            let mut after = [0u8; 5];
            file.read_exact(&mut after).await.unwrap();
            assert_eq!(after, data[1013..1018]);
            let on_disk = std::fs::read(&path).unwrap();
            assert_eq!(&on_disk[1010..1013], b"XYZ");
            assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 1018);
            // Before the start: an error, and the position stays.
            assert!(file.seek(SeekFrom::Current(-5000)).await.is_err());
            assert_eq!(file.stream_position().await.unwrap(), 1018);
        });
    }
}

backend_test! {
    guard: shared_fds();
    fn futures_read_to_end_and_seek(rt, multi) {
        use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

        let dir = TempDir::new("futures");
        let data = pattern(700_000);
        let path = dir.file_with("futures", &data);
        rt.block_on(async move {
            let mut file = File::options().read(true).write(true).open(&path).await.unwrap();
            let mut all = Vec::new();
            assert_eq!(file.read_to_end(&mut all).await.unwrap(), data.len());
            assert!(all == data);
            assert_eq!(file.seek(SeekFrom::Start(123)).await.unwrap(), 123);
            let mut some = [0u8; 77];
            file.read_exact(&mut some).await.unwrap();
            assert_eq!(some, data[123..200]);
            assert_eq!(file.seek(SeekFrom::Current(-100)).await.unwrap(), 100);
            let buffered = file.fill_buf().await.unwrap();
            assert_eq!(buffered[..50], data[100..150]);
            file.consume_unpin(50);
            assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 150);
            assert_eq!(file.seek(SeekFrom::End(-10)).await.unwrap(), data.len() as u64 - 10);
            file.write_all(b"0123456789!").await.unwrap();
            AsyncWriteExt::close(&mut file).await.unwrap();
            AsyncSeekExt::seek(&mut file, SeekFrom::Start(0)).await.unwrap();
            let mut all = Vec::new();
            file.read_to_end(&mut all).await.unwrap();
            assert_eq!(&all[data.len() - 10..], b"0123456789!");
        });
    }
}

backend_test! {
    guard: shared_fds();
    fn write_error_comes_back(rt, multi) {
        use tokio::io::AsyncWriteExt;

        let dir = TempDir::new("readonly");
        let path = dir.file_with("readonly", b"unchanged");
        rt.block_on(async move {
            let mut file = File::open(&path).await.unwrap();
            let result = async {
                file.write_all(b"no").await?;
                file.flush().await
            }
            .await;
            let error = result.unwrap_err();
            assert_eq!(error.raw_os_error(), Some(libc::EBADF), "{error}");
            // Reported once; the file still reads.
            file.flush().await.unwrap();
            let mut back = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut file, &mut back).await.unwrap();
            assert_eq!(back, "unchanged");
        });
    }
}

backend_test! {
    guard: exclusive_fds();
    fn dropped_with_an_op_in_flight_leaks_no_fd(rt, multi) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let dir = TempDir::new("dropped");
        let data = pattern(4 << 20);
        let path = dir.file_with("dropped", &data);
        let target = dir.file_with("target", b"");
        rt.block_on(async move {
            // The runtime's own fds (rings, pool) exist by now.
            let before = open_fds();
            for _ in 0..20 {
                let mut file = File::open(&path).await.unwrap();
                let mut buf = vec![0u8; 1 << 20];
                // One poll: the read is started (maybe done inline), then the file goes.
                let _ = futures::poll!(std::pin::pin!(file.read(&mut buf)));
                drop(file);

                let mut file = File::options().write(true).open(&target).await.unwrap();
                // Returns at once with the 2 MiB write in flight.
                assert_eq!(file.write(&data).await.unwrap(), 2 << 20);
                drop(file);
            }
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while open_fds() > before {
                assert!(std::time::Instant::now() < deadline, "fds leaked: {} > {before}", open_fds());
                ringtide::time::sleep(Duration::from_millis(10)).await;
            }
        });
    }
}
