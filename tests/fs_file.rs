//! `fs::File`, `fs::OpenOptions` and the whole-file functions (`read`,
//! `read_to_string`, `write`, `copy`), on both backends and both runtime flavours:
//! round trips of every call, concurrent positional reads, cursor I/O, direct I/O with
//! `AlignedBuf`, errors by kind (against std's where std has the same call), and
//! cancellation and shutdown without fd leaks.
//!
//! Files live in a fresh directory under `CARGO_TARGET_TMPDIR` (the build's own disk,
//! so `O_DIRECT` meets a real file system rather than tmpfs), removed when the test
//! ends.
//!
//! The portable part of the `fs` API is also checked, on every target, by
//! `tests/portable.rs`.

// Unix only: file modes, `custom_flags`, `/proc/self/fd` fd counts, errno values,
// symlinks and `O_DIRECT` run through these tests.
#![cfg(unix)]

mod rt_common;

use std::io::{self, ErrorKind, SeekFrom};
use std::os::fd::{AsFd as _, AsRawFd as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ringtide::fs::{self, File, OpenOptions};
#[cfg(target_os = "linux")]
use ringtide::io::AlignedBuf;
use ringtide::io::{AsyncReadOwned, AsyncWriteOwned, IoBuf, IoBufMut};
use ringtide::runtime::Runtime;
use rt_common::poll_once_then_drop;

/// A directory of its own for one test, removed (with its contents) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "fs_file-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A file named `name` holding `contents` (written with std).
    fn file_with(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The byte at `offset` of the test pattern: every position has its own value, so a
/// read from the wrong offset shows.
fn pattern_byte(offset: u64) -> u8 {
    (offset.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8 ^ offset as u8
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len as u64).map(pattern_byte).collect()
}

/// Tests that count this process's fds hold this exclusively; every other test holds
/// it shared, so no test opens fds while a count is in progress (`cargo test` runs the
/// tests of this file as threads of one process).
static FD_COUNT: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn shared_fds() -> std::sync::RwLockReadGuard<'static, ()> {
    FD_COUNT.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive_fds() -> std::sync::RwLockWriteGuard<'static, ()> {
    FD_COUNT.write().unwrap_or_else(|e| e.into_inner())
}

/// A test on both backends and flavours, and once more on io_uring with inline file
/// I/O off (`uring_inline_file_io(false)`): by default a cached read or open completes
/// inline (`preadv2(RWF_NOWAIT)`, `openat2(RESOLVE_CACHED)`) before any SQE, so without
/// those variants the ring's file ops (and their cancellation) would never run here.
macro_rules! file_test {
    ($(#[$attr:meta])* guard: $guard:expr; fn $name:ident($rt:ident, $multi:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use ringtide::runtime::Backend;

            #[allow(unused_variables)]
            fn body($rt: ringtide::runtime::Runtime, $multi: bool) $body

            fn run(backend: Backend, workers: usize, inline_file_io: bool) {
                let _guard = $guard;
                crate::rt_common::with_timeout(
                    stringify!($name),
                    crate::rt_common::TEST_TIMEOUT,
                    move || {
                        let runtime = crate::rt_common::backend_builder(backend, workers)
                            .uring_inline_file_io(inline_file_io)
                            .build()
                            .expect("runtime builds");
                        assert_eq!(runtime.backend(), backend);
                        body(runtime, workers > 0)
                    },
                );
            }

            #[test]
            $(#[$attr])*
            fn io_uring_current_thread() {
                run(Backend::IoUring, 0, true);
            }

            #[test]
            $(#[$attr])*
            fn io_uring_multi_thread() {
                run(Backend::IoUring, 4, true);
            }

            #[test]
            $(#[$attr])*
            fn io_uring_ring_only_current_thread() {
                run(Backend::IoUring, 0, false);
            }

            #[test]
            $(#[$attr])*
            fn io_uring_ring_only_multi_thread() {
                run(Backend::IoUring, 4, false);
            }

            #[test]
            $(#[$attr])*
            fn mio_current_thread() {
                run(Backend::Mio, 0, true);
            }

            #[test]
            $(#[$attr])*
            fn mio_multi_thread() {
                run(Backend::Mio, 4, true);
            }
        }
    };
}

/// A [`file_test!`] that opens fds (so waits for fd counts).
macro_rules! fs_test {
    ($(#[$attr:meta])* fn $name:ident($rt:ident, $multi:ident) $body:block) => {
        file_test! {
            $(#[$attr])*
            guard: shared_fds();
            fn $name($rt, $multi) $body
        }
    };
}

/// A [`file_test!`] that counts this process's fds.
macro_rules! fd_count_test {
    ($(#[$attr:meta])* fn $name:ident($rt:ident, $multi:ident) $body:block) => {
        file_test! {
            $(#[$attr])*
            guard: exclusive_fds();
            fn $name($rt, $multi) $body
        }
    };
}

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Runs `body` with a fresh runtime like `rt` (same backend and flavour) on its own
/// thread, so every fd it creates (rings of its threads included) is gone when it
/// returns; asserts the process has as many fds after as before.
fn without_fd_leaks(rt: Runtime, multi: bool, body: impl FnOnce(Runtime) + Send + 'static) {
    let backend = rt.backend();
    drop(rt);
    let before = open_fds();
    std::thread::spawn(move || {
        body(rt_common::backend_runtime(
            backend,
            if multi { 4 } else { 0 },
        ));
    })
    .join()
    .unwrap_or_else(|payload| std::panic::resume_unwind(payload));
    // Fewer is not a leak (threads of runtimes dropped earlier may still be closing
    // their rings). More gets a bounded while to come down: a runtime's drop returns
    // once its threads are done, which is not the last instant of their teardown. A
    // real leak stays and fails.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let after = open_fds();
        if after <= before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fds leaked: {before} open before, {after} after"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A read buffer that reports its release and never really frees its memory: on drop
/// it is filled with [`RELEASED`] and parked in its ledger's graveyard. A kernel write
/// into it after its release (which ASan cannot see) shows as a byte that is no longer
/// `RELEASED`; a buffer never released shows in the count.
struct Tracked {
    bytes: Option<Box<[u8]>>,
    ledger: Arc<Ledger>,
}

const RELEASED: u8 = 0xDD;

#[derive(Default)]
struct Ledger {
    handed_out: AtomicUsize,
    released: AtomicUsize,
    graveyard: std::sync::Mutex<Vec<&'static mut [u8]>>,
}

impl Ledger {
    fn buffer(self: &Arc<Self>, len: usize) -> Tracked {
        self.handed_out.fetch_add(1, Ordering::SeqCst);
        Tracked {
            bytes: Some(vec![0u8; len].into_boxed_slice()),
            ledger: self.clone(),
        }
    }

    /// Every buffer was released exactly once, and none was written after.
    fn check(&self) {
        assert_eq!(
            self.released.load(Ordering::SeqCst),
            self.handed_out.load(Ordering::SeqCst),
            "every buffer released exactly once"
        );
        for (index, buf) in self.graveyard.lock().unwrap().iter().enumerate() {
            assert!(
                buf.iter().all(|&byte| byte == RELEASED),
                "buffer {index} was written after its release"
            );
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let bytes = Box::leak(self.bytes.take().expect("dropped once"));
        bytes.fill(RELEASED);
        self.ledger.graveyard.lock().unwrap().push(bytes);
        self.ledger.released.fetch_add(1, Ordering::SeqCst);
    }
}

impl std::ops::Deref for Tracked {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes.as_ref().expect("alive")
    }
}

// SAFETY: the bytes live in a heap allocation that never moves and is never freed
// while the value exists (nor after: `Drop` leaks it into the graveyard); all of them
// are initialised.
unsafe impl IoBuf for Tracked {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.as_ref().expect("alive").as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.bytes_total()
    }
    fn bytes_total(&self) -> usize {
        self.bytes.as_ref().expect("alive").len()
    }
}

// SAFETY: as above; the pointer comes from a `&mut [u8]` over all of the bytes.
unsafe impl IoBufMut for Tracked {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.as_mut().expect("alive").as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _pos: usize) {}
}

/// Polls `future` once (submitting its operation) and drops it.
async fn poll_once_and_drop<F: std::future::Future>(future: F) {
    let mut future = pin!(future);
    let _ = futures::poll!(future.as_mut());
}

fs_test! {
    fn positional_reads_and_writes_round_trip(rt, multi) {
        let dir = TempDir::new("positional");
        rt.block_on(async {
            let path = dir.path("data");
            let file = OpenOptions::new().read(true).write(true).create(true).open(&path).await.unwrap();
            let data = pattern(100_000);
            let (result, returned) = file.write_all_at(data.clone(), 0).await;
            result.unwrap();
            assert_eq!(returned, data, "the buffer comes back");
            // A write at an offset past the end leaves a hole of zeroes.
            let (written, _) = file.write_at(b"tail", 200_000).await;
            assert_eq!(written.unwrap(), 4);

            let (read, buf) = file.read_at(Vec::with_capacity(1000), 5000).await;
            assert_eq!(read.unwrap(), 1000);
            assert_eq!(buf, &data[5000..6000]);

            let (result, buf) = file.read_exact_at(vec![0u8; 50_000].into_boxed_slice(), 40_000).await;
            result.unwrap();
            assert_eq!(&buf[..], &data[40_000..90_000]);

            let (read, buf) = file.read_at(Vec::with_capacity(10), 150_000).await;
            assert_eq!(read.unwrap(), 10);
            assert_eq!(buf, [0; 10], "a hole reads as zeroes");
            let (read, buf) = file.read_at(Vec::with_capacity(10), 200_000).await;
            assert_eq!(read.unwrap(), 4);
            assert_eq!(buf, b"tail");
            let (read, buf) = file.read_at(Vec::with_capacity(10), 200_004).await;
            assert_eq!(read.unwrap(), 0, "the end of the file");
            assert!(buf.is_empty());

            // Past the end: `read_exact_at` fails, with what was there in the buffer.
            let (result, buf) = file.read_exact_at(Vec::with_capacity(8), 200_000).await;
            assert_eq!(result.unwrap_err().kind(), ErrorKind::UnexpectedEof);
            assert_eq!(buf, b"tail");

            // A zero-capacity buffer reads nothing.
            let (read, _) = file.read_at(Vec::new(), 0).await;
            assert_eq!(read.unwrap(), 0);

            // Positional I/O never moved the file position.
            let mut file = file;
            assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 0);
            file.close().await.unwrap();
            let on_disk = std::fs::read(&path).unwrap();
            assert_eq!(on_disk.len(), 200_004);
            assert_eq!(&on_disk[..100_000], &data[..]);
        });
    }
}

fs_test! {
    fn cursor_reads_writes_and_seeks_share_the_file_position(rt, multi) {
        let dir = TempDir::new("cursor");
        rt.block_on(async {
            let path = dir.path("cursor");
            let mut file = File::create_new(&path).await.unwrap();
            let (written, _) = file.write_owned(b"hello ").await;
            assert_eq!(written.unwrap(), 6);
            let (result, _) = file.write_all_owned(b"world".to_vec()).await;
            result.unwrap();
            let (written, _) = file
                .writev_owned(vec![b"! ".to_vec(), Vec::new(), b"bye".to_vec()])
                .await;
            assert_eq!(written.unwrap(), 5);
            assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 16);

            assert_eq!(file.seek(SeekFrom::Start(0)).await.unwrap(), 0);
            let (read, buf) = file.read_owned(Vec::with_capacity(5)).await;
            assert_eq!(read.unwrap(), 5);
            assert_eq!(buf, b"hello");
            let (result, buf) = file.read_exact_owned(vec![0u8; 6]).await;
            result.unwrap();
            assert_eq!(buf, b" world");
            let (read, bufs) = file
                .readv_owned(vec![Vec::with_capacity(2), Vec::with_capacity(10)])
                .await;
            assert_eq!(read.unwrap(), 5);
            assert_eq!(bufs[0], b"! ");
            assert_eq!(bufs[1], b"bye");
            let (read, _) = file.read_owned(Vec::with_capacity(4)).await;
            assert_eq!(read.unwrap(), 0, "at the end");
            let (result, _) = file.read_exact_owned(Vec::with_capacity(1)).await;
            assert_eq!(result.unwrap_err().kind(), ErrorKind::UnexpectedEof);

            assert_eq!(file.seek(SeekFrom::End(-3)).await.unwrap(), 13);
            let (read, buf) = file.read_owned(Vec::with_capacity(8)).await;
            assert_eq!((read.unwrap(), &buf[..]), (3, &b"bye"[..]));
            assert_eq!(file.seek(SeekFrom::Current(-9)).await.unwrap(), 7);
            let (_, buf) = file.read_owned(Vec::with_capacity(4)).await;
            assert_eq!(buf, b"orld");
            assert_eq!(
                file.seek(SeekFrom::Current(-100)).await.unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
            assert_eq!(
                file.seek(SeekFrom::Start(u64::MAX)).await.unwrap_err().kind(),
                ErrorKind::InvalidInput
            );

            // A clone shares the position (one open file description).
            let mut clone = file.try_clone().await.unwrap();
            assert_ne!(clone.as_raw_fd(), file.as_raw_fd());
            clone.seek(SeekFrom::Start(6)).await.unwrap();
            let (_, buf) = file.read_owned(Vec::with_capacity(5)).await;
            assert_eq!(buf, b"world");
            drop(clone);

            // Append mode: cursor writes go to the end, whatever the position.
            drop(file);
            let mut appending = OpenOptions::new().append(true).open(&path).await.unwrap();
            appending.seek(SeekFrom::Start(0)).await.unwrap();
            let (result, _) = appending.write_all_owned(b"+").await;
            result.unwrap();
            let (result, _) = appending.write_all_at(b"#", 0).await;
            result.unwrap();
            appending.close().await.unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"hello world! bye+#");
        });
    }
}

fs_test! {
    fn file_management_calls_round_trip(rt, multi) {
        let dir = TempDir::new("manage");
        rt.block_on(async {
            let path = dir.path("managed");
            let file = OpenOptions::new().read(true).write(true).create(true).open(&path).await.unwrap();
            let (result, _) = file.write_all_at(pattern(10_000), 0).await;
            result.unwrap();
            file.sync_data().await.unwrap();
            file.sync_all().await.unwrap();

            let metadata = file.metadata().await.unwrap();
            assert!(metadata.is_file());
            assert_eq!(metadata.len(), 10_000);

            file.set_len(4096).await.unwrap();
            assert_eq!(file.metadata().await.unwrap().len(), 4096);
            file.set_len(1 << 20).await.unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 20);
            assert_eq!(
                file.set_len(u64::MAX).await.unwrap_err().kind(),
                ErrorKind::InvalidInput
            );

            file.set_permissions(std::fs::Permissions::from_mode(0o640)).await.unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
            assert_eq!(file.metadata().await.unwrap().permissions().mode() & 0o777, 0o640);

            // AsFd/AsRawFd name the same fd; std can use it.
            assert_eq!(file.as_fd().as_raw_fd(), file.as_raw_fd());
            let std_view = file.as_fd().try_clone_to_owned().unwrap();
            assert_eq!(std::fs::File::from(std_view).metadata().unwrap().len(), 1 << 20);

            // To std and back; the position survives.
            let mut file = file;
            file.seek(SeekFrom::Start(100)).await.unwrap();
            let mut std_file = file.into_std().await;
            assert_eq!(io::Seek::stream_position(&mut std_file).unwrap(), 100);
            let file = File::from_std(std_file);
            let std_file = file.try_into_std().expect("no operation in flight");
            let file: File = std_file.into();
            let (read, buf) = file.read_at(Vec::with_capacity(4), 0).await;
            assert_eq!(read.unwrap(), 4);
            assert_eq!(buf, &pattern(4)[..]);
            file.close().await.unwrap();

            // Debug names the fd.
            let file = File::open(&path).await.unwrap();
            assert!(format!("{file:?}").contains(&file.as_raw_fd().to_string()));
        });
    }
}

fs_test! {
    fn open_options_round_trip(rt, multi) {
        let dir = TempDir::new("options");
        rt.block_on(async {
            let path = dir.path("opened");
            let file = File::options().write(true).create_new(true).mode(0o600).open(&path).await.unwrap();
            drop(file);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & !0o600, 0, "created with at most the mode asked for: {mode:o}");
            assert_ne!(mode & 0o600, 0);

            std::fs::write(&path, b"old contents").unwrap();
            let file = OpenOptions::new().write(true).open(&path).await.unwrap();
            let (result, _) = file.write_all_at(b"new", 0).await;
            result.unwrap();
            drop(file);
            assert_eq!(std::fs::read(&path).unwrap(), b"new contents", "no truncation");

            let file = OpenOptions::new().write(true).truncate(true).open(&path).await.unwrap();
            drop(file);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "truncated");

            let file = File::create(&path).await.unwrap();
            let (result, _) = file.write_all_at(b"created", 0).await;
            result.unwrap();
            let (read, _) = file.read_at(Vec::with_capacity(1), 0).await;
            assert_eq!(read.unwrap_err().raw_os_error(), Some(libc::EBADF), "create is write-only");
            drop(file);

            let file = OpenOptions::default().read(true).write(true).open(&path).await.unwrap();
            let (read, buf) = file.read_at(Vec::with_capacity(16), 0).await;
            assert_eq!(read.unwrap(), 7);
            assert_eq!(buf, b"created");

            // custom_flags: the access bits are ignored, others apply.
            let file = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_WRONLY | libc::O_NOFOLLOW)
                .open(&path)
                .await
                .unwrap();
            let (read, _) = file.read_at(Vec::with_capacity(1), 0).await;
            assert_eq!(read.unwrap(), 1, "still read-only: O_ACCMODE bits of custom_flags are ignored");
            let link = dir.path("link");
            std::os::unix::fs::symlink(&path, &link).unwrap();
            let refused = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(&link).await;
            assert_eq!(refused.unwrap_err().raw_os_error(), Some(libc::ELOOP));
            File::open(&link).await.expect("a symlink is followed by default");
        });
    }
}

fs_test! {
    /// Every combination of the six flags, on a missing and on an existing file: the
    /// same outcome as std (success, or the same error kind) and the same effect.
    fn open_options_decide_like_std(rt, multi) {
        let dir = TempDir::new("like-std");
        rt.block_on(async {
            for bits in 0..64u32 {
                let flag = |bit: u32| bits & (1 << bit) != 0;
                for exists in [false, true] {
                    let ours = dir.path(&format!("ours-{bits}-{exists}"));
                    let theirs = dir.path(&format!("std-{bits}-{exists}"));
                    if exists {
                        std::fs::write(&ours, b"abc").unwrap();
                        std::fs::write(&theirs, b"abc").unwrap();
                    }
                    let std_result = std::fs::OpenOptions::new()
                        .read(flag(0))
                        .write(flag(1))
                        .append(flag(2))
                        .truncate(flag(3))
                        .create(flag(4))
                        .create_new(flag(5))
                        .open(&theirs);
                    let our_result = OpenOptions::new()
                        .read(flag(0))
                        .write(flag(1))
                        .append(flag(2))
                        .truncate(flag(3))
                        .create(flag(4))
                        .create_new(flag(5))
                        .open(&ours)
                        .await;
                    let what = format!(
                        "read {} write {} append {} truncate {} create {} create_new {}, file exists: {exists}",
                        flag(0), flag(1), flag(2), flag(3), flag(4), flag(5)
                    );
                    assert_eq!(
                        our_result.as_ref().map(drop).map_err(io::Error::kind),
                        std_result.as_ref().map(drop).map_err(io::Error::kind),
                        "{what}"
                    );
                    assert_eq!(
                        std::fs::metadata(&ours).map(|m| m.len()).ok(),
                        std::fs::metadata(&theirs).map(|m| m.len()).ok(),
                        "{what}: the file afterwards"
                    );
                }
            }
        });
    }
}

fs_test! {
    fn whole_file_functions_round_trip(rt, multi) {
        let dir = TempDir::new("whole");
        rt.block_on(async {
            // Sizes around the first read's buffer (16 KiB) and its doublings.
            for len in [0, 1, 4096, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 64 * 1024, 1_000_003] {
                let path = dir.path(&format!("whole-{len}"));
                let data = pattern(len);
                fs::write(&path, &data).await.unwrap();
                assert_eq!(std::fs::read(&path).unwrap(), data, "write of {len} bytes");
                assert_eq!(fs::read(&path).await.unwrap(), data, "read of {len} bytes");
            }
            // `write` truncates what was there.
            let path = dir.path("text");
            fs::write(&path, "a longer text than the next").await.unwrap();
            fs::write(&path, String::from("héllo")).await.unwrap();
            assert_eq!(fs::read_to_string(&path).await.unwrap(), "héllo");

            // Files whose size says nothing about their contents read whole too.
            let ours = fs::read("/proc/self/status").await.unwrap();
            assert!(ours.starts_with(b"Name:"), "{}", String::from_utf8_lossy(&ours));
            let maps = fs::read_to_string("/proc/self/maps").await.unwrap();
            assert!(maps.lines().count() > 10, "all of /proc/self/maps, not one page: {maps}");

            // copy: contents and permission bits.
            let from = dir.file_with("copy-from", &pattern(300_000));
            std::fs::set_permissions(&from, std::fs::Permissions::from_mode(0o604)).unwrap();
            let to = dir.path("copy-to");
            assert_eq!(fs::copy(&from, &to).await.unwrap(), 300_000);
            assert_eq!(std::fs::read(&to).unwrap(), pattern(300_000));
            assert_eq!(std::fs::metadata(&to).unwrap().permissions().mode() & 0o777, 0o604);
        });
    }
}

fs_test! {
    /// 256 reads of one file in flight at once (spawned tasks, and futures joined in
    /// one task), each checked against the file's contents.
    fn concurrent_positional_reads_see_the_right_bytes(rt, multi) {
        const LEN: usize = 4 << 20;
        let dir = TempDir::new("concurrent");
        let path = dir.file_with("concurrent", &pattern(LEN));
        rt.block_on(async {
            let file = Arc::new(File::open(&path).await.unwrap());
            let spot = |index: usize| {
                let offset = (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D) % (LEN as u64 - 70_000);
                let len = 1 + (index * 7919) % 65_536;
                (offset, len)
            };
            let check = |index: usize, buf: &[u8]| {
                let (offset, len) = spot(index);
                assert_eq!(buf.len(), len, "read {index}");
                for (at, &byte) in buf.iter().enumerate() {
                    assert_eq!(byte, pattern_byte(offset + at as u64), "read {index}: byte {at} of {len} at {offset}");
                }
            };
            let tasks: Vec<_> = (0..128)
                .map(|index| {
                    let file = file.clone();
                    ringtide::spawn(async move {
                        let (offset, len) = spot(index);
                        let (result, buf) = file.read_exact_at(Vec::with_capacity(len), offset).await;
                        result.unwrap();
                        buf
                    })
                })
                .collect();
            let joined = futures::future::join_all((128..256).map(|index| {
                let file = &file;
                async move {
                    let (offset, len) = spot(index);
                    let (result, buf) = file.read_exact_at(vec![0u8; len], offset).await;
                    result.unwrap();
                    buf
                }
            }))
            .await;
            for (index, task) in tasks.into_iter().enumerate() {
                check(index, &task.await.unwrap());
            }
            for (index, buf) in joined.into_iter().enumerate() {
                check(128 + index, &buf);
            }
        });
    }
}

// `O_DIRECT` is Linux's (macOS has none; see `ringtide::fs`'s "Direct I/O").
#[cfg(target_os = "linux")]
fs_test! {
    fn direct_io_with_aligned_buffers(rt, multi) {
        const BLOCK: usize = 4096;
        let dir = TempDir::new("direct");
        rt.block_on(async {
            let path = dir.path("direct");
            let opened = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .custom_flags(libc::O_DIRECT)
                .open(&path)
                .await;
            let file = match opened {
                Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
                    eprintln!("SKIPPED: the file system under {} refuses O_DIRECT (EINVAL)", dir.0.display());
                    return;
                }
                opened => opened.unwrap(),
            };
            let mut out = AlignedBuf::new(4 * BLOCK, BLOCK);
            out.extend_from_slice(&pattern(4 * BLOCK));
            let (result, out) = file.write_all_at(out, 0).await;
            result.unwrap();
            let (result, input) = file.read_exact_at(AlignedBuf::new(2 * BLOCK, BLOCK), BLOCK as u64).await;
            result.unwrap();
            assert_eq!(&input[..], &out[BLOCK..3 * BLOCK]);
            // A cursor read, from the start.
            let mut file = file;
            let (read, input) = file.read_owned(AlignedBuf::zeroed(BLOCK, BLOCK)).await;
            assert_eq!(read.unwrap(), BLOCK);
            assert_eq!(&input[..], &out[..BLOCK]);
            file.sync_all().await.unwrap();
            file.close().await.unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), pattern(4 * BLOCK));
        });
    }
}

fs_test! {
    fn a_sparse_gigabyte_reads_at_high_offsets(rt, multi) {
        const GIB: u64 = 1 << 30;
        let dir = TempDir::new("sparse");
        rt.block_on(async {
            let path = dir.path("sparse");
            let file = OpenOptions::new().read(true).write(true).create(true).open(&path).await.unwrap();
            file.set_len(GIB).await.unwrap();
            assert_eq!(file.metadata().await.unwrap().len(), GIB);
            let marker = pattern(4096);
            let (result, _) = file.write_all_at(marker.clone(), GIB - 4096).await;
            result.unwrap();
            let (read, buf) = file.read_at(Vec::with_capacity(8192), GIB - 8192).await;
            assert_eq!(read.unwrap(), 8192);
            assert!(buf[..4096].iter().all(|&byte| byte == 0), "the hole reads as zeroes");
            assert_eq!(&buf[4096..], &marker[..]);
            let (read, buf) = file.read_at(Vec::with_capacity(4096), GIB - 100).await;
            assert_eq!(read.unwrap(), 100);
            assert_eq!(buf, &marker[4096 - 100..]);
            let (read, _) = file.read_at(Vec::with_capacity(4096), GIB).await;
            assert_eq!(read.unwrap(), 0);
            let (read, _) = file.read_at(Vec::with_capacity(4096), 1 << 62).await;
            assert_eq!(read.unwrap(), 0, "far past the end");
            assert_eq!(
                file.read_at(Vec::with_capacity(1), u64::MAX).await.0.unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "an offset above i64::MAX, as std's read_at"
            );

            // A buffer larger than u32::MAX: the length passed to the kernel is clamped,
            // never wrapped (u32::MAX + 11 would wrap to 10 and read 10 bytes). The
            // capacity is virtual memory only: 4096 bytes are left to read, so only
            // those pages are touched.
            let huge = Vec::<u8>::with_capacity(u32::MAX as usize + 11);
            let (read, huge) = file.read_at(huge, GIB - 4096).await;
            assert_eq!(read.unwrap(), 4096, "clamped, not wrapped");
            assert_eq!(&huge[..], &marker[..]);
        });
    }
}

fs_test! {
    fn errors_come_by_kind(rt, multi) {
        let dir = TempDir::new("errors");
        rt.block_on(async {
            let missing = dir.path("missing");
            assert_eq!(File::open(&missing).await.unwrap_err().kind(), ErrorKind::NotFound);
            assert_eq!(fs::read(&missing).await.unwrap_err().kind(), ErrorKind::NotFound);
            assert_eq!(fs::read_to_string(&missing).await.unwrap_err().kind(), ErrorKind::NotFound);
            assert_eq!(
                fs::write(dir.path("no-dir/file"), b"x").await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
            assert_eq!(
                fs::copy(&missing, dir.path("copy")).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );

            let existing = dir.file_with("existing", b"here");
            assert_eq!(File::create_new(&existing).await.unwrap_err().kind(), ErrorKind::AlreadyExists);
            assert_eq!(std::fs::read(&existing).unwrap(), b"here", "left as it was");

            // A directory: opened for writing, it refuses; opened for reading, reads do.
            let directory = dir.path("directory");
            std::fs::create_dir(&directory).unwrap();
            assert_eq!(
                OpenOptions::new().write(true).open(&directory).await.unwrap_err().kind(),
                ErrorKind::IsADirectory
            );
            assert_eq!(fs::write(&directory, b"x").await.unwrap_err().kind(), ErrorKind::IsADirectory);
            assert_eq!(fs::read(&directory).await.unwrap_err().kind(), ErrorKind::IsADirectory);
            let opened = File::open(&directory).await.expect("a directory opens for reading");
            assert_eq!(
                opened.read_at(Vec::with_capacity(8), 0).await.0.unwrap_err().kind(),
                ErrorKind::IsADirectory
            );
            assert!(opened.metadata().await.unwrap().is_dir());
            assert_eq!(
                fs::copy(&directory, dir.path("copy")).await.unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "as std::fs::copy"
            );

            // A regular file used as a directory.
            assert_eq!(
                File::open(existing.join("below")).await.unwrap_err().kind(),
                ErrorKind::NotADirectory
            );

            // The access mode is enforced by the kernel, on every path.
            let write_only = OpenOptions::new().write(true).open(&existing).await.unwrap();
            let (read, _) = write_only.read_at(Vec::with_capacity(4), 0).await;
            assert_eq!(read.unwrap_err().raw_os_error(), Some(libc::EBADF));
            let mut write_only = write_only;
            let (read, _) = write_only.read_owned(Vec::with_capacity(4)).await;
            assert_eq!(read.unwrap_err().raw_os_error(), Some(libc::EBADF));
            let read_only = File::open(&existing).await.unwrap();
            let (written, _) = read_only.write_at(b"x", 0).await;
            assert_eq!(written.unwrap_err().raw_os_error(), Some(libc::EBADF));
            assert_eq!(read_only.set_len(0).await.unwrap_err().kind(), ErrorKind::InvalidInput);
            assert_eq!(std::fs::read(&existing).unwrap(), b"here");

            // Invalid input.
            assert_eq!(
                File::open(dir.path("nul\0byte")).await.unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
            assert_eq!(
                OpenOptions::new().open(&existing).await.unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "no access mode"
            );
            let invalid = dir.file_with("invalid-utf8", &[0x66, 0x6f, 0xff, 0x6f]);
            assert_eq!(fs::read_to_string(&invalid).await.unwrap_err().kind(), ErrorKind::InvalidData);
            assert_eq!(fs::read(&invalid).await.unwrap(), [0x66, 0x6f, 0xff, 0x6f]);

            permission_denied(&dir).await;
        });
    }
}

/// `PermissionDenied`: a file without read permission (`EACCES`), or, as root (who
/// may read anything), an immutable file opened for writing (`EPERM`).
async fn permission_denied(dir: &TempDir) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let locked = dir.file_with("locked", b"secret");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        assert_eq!(
            File::open(&locked).await.unwrap_err().kind(),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            fs::read(&locked).await.unwrap_err().kind(),
            ErrorKind::PermissionDenied
        );
        return;
    }
    #[cfg(target_os = "linux")]
    permission_denied_as_root(dir).await;
    #[cfg(not(target_os = "linux"))]
    eprintln!("SKIPPED the PermissionDenied check: running as root, and no immutable flag here");
}

/// As root: an immutable file (Linux's `FS_IMMUTABLE_FL`) opened for writing (`EPERM`).
#[cfg(target_os = "linux")]
async fn permission_denied_as_root(dir: &TempDir) {
    const FS_IMMUTABLE_FL: libc::c_long = 0x10;
    let path = dir.file_with("immutable", b"fixed");
    let file = std::fs::File::open(&path).unwrap();
    let mut flags: libc::c_long = 0;
    // SAFETY: FS_IOC_GETFLAGS writes one `long` to the pointer passed.
    let got = unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) };
    let with_immutable = flags | FS_IMMUTABLE_FL;
    let set = got >= 0
        // SAFETY: FS_IOC_SETFLAGS reads one `long` from the pointer passed.
        && unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_SETFLAGS, &with_immutable) } >= 0;
    if !set {
        eprintln!(
            "SKIPPED the PermissionDenied check: running as root, and the immutable flag cannot be set here ({})",
            io::Error::last_os_error()
        );
        return;
    }
    let opened = OpenOptions::new().write(true).open(&path).await;
    let read_back = fs::read(&path).await;
    // SAFETY: as above; clears the flag so the directory can be removed.
    unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) };
    assert_eq!(opened.unwrap_err().kind(), ErrorKind::PermissionDenied);
    assert_eq!(read_back.unwrap(), b"fixed");
}

fd_count_test! {
    /// Reads and opens whose futures are dropped after submitting (io_uring: in the
    /// kernel; mio: on the pool, or done inline), or once their result arrived but
    /// before they collect it: no fd leaks, every buffer is released exactly once and
    /// never written after its release, and the file keeps working.
    fn dropped_reads_and_opens_leak_nothing(rt, multi) {
        const ROUNDS: usize = 100;
        let dir = TempDir::new("dropped");
        let path = dir.file_with("dropped", &pattern(1 << 20));
        let ledger = Arc::new(Ledger::default());
        let buffers = ledger.clone();
        without_fd_leaks(rt, multi, move |rt| {
            rt.block_on(async move {
                let file = File::open(&path).await.unwrap();
                for round in 0..ROUNDS {
                    let offset = (round * 9973) as u64;
                    poll_once_and_drop(file.read_at(buffers.buffer(16_384), offset)).await;
                    if let Some((result, buf)) =
                        poll_once_then_drop(file.read_at(buffers.buffer(4096), offset)).await
                    {
                        assert_eq!(result.unwrap(), 4096);
                        assert_eq!(&buf[..], &pattern(4096 + offset as usize)[offset as usize..]);
                    }
                    let reading = file.read_exact_at(buffers.buffer(32_768), offset);
                    let _ = ringtide::time::timeout(Duration::ZERO, reading).await;

                    poll_once_and_drop(File::open(&path)).await;
                    if let Some(opened) = poll_once_then_drop(File::open(&path)).await {
                        opened.unwrap();
                    }
                    // Opens that create go to the pool on mio (no inline form).
                    let created = dir_path(&path, round);
                    poll_once_and_drop(File::create(&created)).await;
                    let _ = poll_once_then_drop(OpenOptions::new().write(true).create(true).open(&created)).await;
                    let opening = File::open(&path);
                    let _ = ringtide::time::timeout(Duration::ZERO, opening).await;
                }
                // Dropped with reads in flight: it closes once they completed.
                for round in 0..ROUNDS {
                    poll_once_and_drop(file.read_at(buffers.buffer(8192), round as u64)).await;
                }
                drop(file);
                // The file still reads correctly from a new fd.
                let again = File::open(&path).await.unwrap();
                let (result, buf) = again.read_exact_at(vec![0u8; 1000], 5000).await;
                result.unwrap();
                assert_eq!(buf, &pattern(6000)[5000..]);
                again.close().await.unwrap();
            });
            // The runtime goes (its rings and pool threads with it) when this returns.
        });
        ledger.check();
    }
}

/// A per-round file next to `path`.
fn dir_path(path: &Path, round: usize) -> PathBuf {
    path.with_file_name(format!("created-{round}"))
}

fd_count_test! {
    /// `close` and `into_std` wait for operations whose futures were dropped, and
    /// `close` reports `close(2)`'s error.
    fn close_waits_for_dropped_ops_and_reports_errors(rt, multi) {
        let dir = TempDir::new("close");
        let path = dir.file_with("close", &pattern(1 << 20));
        without_fd_leaks(rt, multi, move |rt| {
            rt.block_on(async move {
                for round in 0..50 {
                    let file = File::open(&path).await.unwrap();
                    for index in 0..8u64 {
                        poll_once_and_drop(file.read_at(vec![0u8; 65_536], index * 65_536)).await;
                    }
                    if round % 2 == 0 {
                        file.close().await.unwrap();
                    } else {
                        let mut std_file = file.into_std().await;
                        let mut byte = [0u8; 1];
                        io::Read::read_exact(&mut std_file, &mut byte).unwrap();
                        assert_eq!(byte[0], pattern_byte(0));
                    }
                }
                // The fd closed behind the file's back: `close` reports EBADF. (This
                // test holds the fd count lock, and the runtime opens nothing meanwhile,
                // so the number is not reused before the close runs.)
                let file = File::open(&path).await.unwrap();
                // SAFETY: closes the fd the file owns, on purpose: the file's own close
                // must then fail.
                assert_eq!(unsafe { libc::close(file.as_raw_fd()) }, 0);
                assert_eq!(file.close().await.unwrap_err().raw_os_error(), Some(libc::EBADF));
            });
        });
    }
}

fd_count_test! {
    /// A runtime dropped while tasks have file operations in flight (reads, writes,
    /// syncs, opens, truncation) shuts down without hanging, and leaks no fd.
    fn a_runtime_dropped_with_file_ops_in_flight_neither_hangs_nor_leaks(rt, multi) {
        const TASKS: usize = 32;
        let dir = TempDir::new("shutdown");
        let path = dir.file_with("shutdown", &pattern(1 << 20));
        let scratch = dir.path("scratch");
        without_fd_leaks(rt, multi, move |rt| {
            let (started, mut starts) = futures::channel::mpsc::unbounded::<()>();
            for task in 0..TASKS {
                let (path, scratch, started) = (path.clone(), scratch.with_extension(task.to_string()), started.clone());
                rt.spawn(async move {
                    let file = File::open(&path).await.unwrap();
                    let out = File::create(&scratch).await.unwrap();
                    let mut round = 0u64;
                    loop {
                        let (result, _) = file.read_at(Vec::with_capacity(65_536), round * 4096 % (1 << 20)).await;
                        result.unwrap();
                        let (result, _) = out.write_all_at(vec![7u8; 4096], round * 4096).await;
                        result.unwrap();
                        if round == 0 {
                            let _ = started.unbounded_send(());
                        }
                        match round % 4 {
                            0 => out.sync_data().await.unwrap(),
                            1 => drop(File::open(&path).await.unwrap()),
                            2 => out.set_len(round * 4096).await.unwrap(),
                            _ => drop(fs::read(&path).await.unwrap()),
                        }
                        round += 1;
                    }
                });
            }
            rt.block_on(async {
                use futures::StreamExt as _;
                for _ in 0..TASKS {
                    starts.next().await.expect("every task starts");
                }
            });
            drop(rt);
        });
    }
}

fs_test! {
    /// On mio, reads and opens that the caches can serve run inline
    /// (`preadv2(RWF_NOWAIT)`, `openat2(RESOLVE_CACHED)`): no blocking-pool thread is
    /// ever started for them. On io_uring nothing goes to the pool either.
    fn cached_opens_and_reads_never_use_the_pool(rt, multi) {
        let dir = TempDir::new("nowait");
        let path = dir.file_with("cached", &pattern(256 * 1024));
        // Warm the page cache and the dentry cache.
        assert_eq!(std::fs::read(&path).unwrap().len(), 256 * 1024);
        let metrics = rt.metrics();
        rt.block_on(async {
            for round in 0..100u64 {
                let file = File::open(&path).await.unwrap();
                let (read, buf) = file.read_at(Vec::with_capacity(4096), round * 1000).await;
                assert_eq!(read.unwrap(), 4096);
                assert_eq!(buf, &pattern(4096 + round as usize * 1000)[round as usize * 1000..]);
                let mut file = file;
                let (read, _) = file.read_owned(Vec::with_capacity(100)).await;
                assert_eq!(read.unwrap(), 100);
                assert_eq!(fs::read(&path).await.unwrap().len(), 256 * 1024);
            }
        });
        assert_eq!(
            metrics.num_blocking_threads(),
            0,
            "{}: a cached open or read went to the blocking pool",
            rt.backend()
        );
    }
}

fs_test! {
    /// File operations need a runtime: outside one they fail with an error that
    /// says so, never panic. (The runtime of this test is not entered.)
    fn outside_a_runtime_file_operations_fail_cleanly(rt, multi) {
        drop(rt);
        let dir = TempDir::new("outside");
        let path = dir.file_with("outside", b"data");
        let opened = futures::executor::block_on(File::open(&path));
        assert!(opened.unwrap_err().to_string().contains("runtime"));
        let file = File::from_std(std::fs::File::open(&path).unwrap());
        let (read, _) = futures::executor::block_on(file.read_at(Vec::with_capacity(4), 0));
        assert!(read.unwrap_err().to_string().contains("runtime"));
        let metadata = futures::executor::block_on(file.metadata());
        assert!(metadata.unwrap_err().to_string().contains("runtime"));
    }
}

/// On io_uring, cached reads complete inline by default (no SQE), and through the ring
/// with `uring_inline_file_io(false)`: so the `io_uring_ring_only_*` variants above run
/// the ring's file ops (and their cancellation), and the default variants the inline
/// path.
#[test]
fn io_uring_file_reads_run_inline_or_in_the_ring_as_configured() {
    let _guard = shared_fds();
    let dir = TempDir::new("inline");
    let path = dir.file_with("cached", &pattern(64 * 1024));
    // Warm the page cache.
    assert_eq!(std::fs::read(&path).unwrap().len(), 64 * 1024);
    for inline in [true, false] {
        let rt = rt_common::backend_builder(ringtide::runtime::Backend::IoUring, 0)
            .uring_inline_file_io(inline)
            .build()
            .expect("runtime builds");
        let metrics = rt.metrics();
        let file = rt.block_on(File::open(&path)).unwrap();
        let before = metrics.io().submitted;
        rt.block_on(async {
            for round in 0..100u64 {
                let (read, buf) = file.read_at(Vec::with_capacity(512), round * 512).await;
                assert_eq!(read.unwrap(), 512);
                assert_eq!(buf[0], pattern_byte(round * 512));
            }
        });
        let submitted = metrics.io().submitted - before;
        if inline {
            assert!(submitted < 10, "inline reads submitted {submitted} SQEs");
        } else {
            assert!(
                submitted >= 100,
                "ring reads submitted only {submitted} SQEs"
            );
        }
        drop(file);
    }
}
