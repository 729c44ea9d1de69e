//! I/O driver tests, each run on BOTH backends.
//!
//! [`io_test!`] expands a body into four tests: io_uring and mio, each on a
//! current-thread runtime and a 4-worker multi-thread runtime. Simpler cases use
//! `#[ringtide::test(backend = "both")]`. Pipes (`std::io::pipe`) stand in for any fd.

#![cfg(target_os = "linux")]

mod rt_common;

use std::collections::HashMap;
use std::io::Write as _;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use ringtide::io::{AsyncFd, IoBuf, IoBufMut};
use ringtide::runtime::{Backend, Builder, Runtime};

/// [`backend_test!`] for I/O: the body gets the runtime, and the test holds the fd lock
/// shared (see [`FD_COUNT`]).
macro_rules! io_test {
    ($(#[$attr:meta])* fn $name:ident($rt:ident) $body:block) => {
        backend_test! {
            $(#[$attr])*
            guard: shared_fds();
            fn $name($rt, multi) $body
        }
    };
}

fn runtime(backend: Backend, workers: usize) -> Runtime {
    rt_common::backend_runtime(backend, workers)
}

fn pipe() -> (AsyncFd<std::io::PipeReader>, AsyncFd<std::io::PipeWriter>) {
    let (reader, writer) = std::io::pipe().unwrap();
    (AsyncFd::new(reader).unwrap(), AsyncFd::new(writer).unwrap())
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

/// Every open descriptor of this process with what it refers to (`/proc/self/fd/N`'s
/// link), for the message of a failed fd-count check: a leak names itself
/// (`anon_inode:[io_uring]`, a pipe, a socket). The listing's own directory handle is
/// one of the entries.
/// Pipes this process shares with a child process: under ThreadSanitizer, the first
/// report it symbolizes (a suppressed one included) starts `llvm-symbolizer` as a child
/// and keeps two pipe ends to it open (seen: `pipe:[…]` at fds 517 and 520, in exactly
/// the runs where a suppression matched during the test). Nothing in these tests starts
/// a process, so such a pipe is the sanitizer's, not the runtime's.
/// Maps each such pipe to the child's command name.
fn pipes_shared_with_children() -> std::collections::BTreeMap<String, String> {
    let mut pipes = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return pipes;
    };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace() {
            let Ok(fds) = std::fs::read_dir(format!("/proc/{child}/fd")) else {
                continue;
            };
            let command = std::fs::read_to_string(format!("/proc/{child}/comm"))
                .map(|command| command.trim().to_owned())
                .unwrap_or_default();
            for fd in fds.flatten() {
                if let Ok(target) = std::fs::read_link(fd.path()) {
                    let target = target.display().to_string();
                    if target.starts_with("pipe:") {
                        pipes.insert(target, command.clone());
                    }
                }
            }
        }
    }
    pipes
}

fn fd_table() -> std::collections::BTreeMap<u32, String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path())
                .map(|target| target.display().to_string())
                .unwrap_or_else(|error| format!("(closed while listed: {error})"));
            Some((fd, target))
        })
        .collect()
}

io_test! {
    fn pipe_round_trip(rt) {
        rt.block_on(async {
            let (reader, writer) = pipe();
            let read = ringtide::spawn(async move {
                let (result, buf) = reader.read_owned(Vec::with_capacity(64)).await;
                let n = result.unwrap();
                buf[..n].to_vec()
            });
            let (written, buf) = writer.write_owned(b"ringtide".to_vec()).await;
            assert_eq!(written.unwrap(), 8);
            assert_eq!(buf, b"ringtide", "the buffer comes back unchanged");
            assert_eq!(read.await.unwrap(), b"ringtide");
        });
    }
}

io_test! {
    fn many_concurrent_reads_complete(rt) {
        rt.block_on(async {
            let mut writers = Vec::new();
            let mut reads = Vec::new();
            for index in 0..200u8 {
                let (reader, writer) = pipe();
                writers.push(writer);
                reads.push(ringtide::spawn(async move {
                    let (result, buf) = reader.read_owned(vec![0u8; 4]).await;
                    assert_eq!(result.unwrap(), 1);
                    assert_eq!(buf[0], index);
                }));
            }
            for (index, writer) in writers.iter().enumerate() {
                let (written, _) = writer.write_owned(vec![index as u8]).await;
                assert_eq!(written.unwrap(), 1);
            }
            for read in reads {
                read.await.unwrap();
            }
        });
    }
}

io_test! {
    fn ping_pong_between_tasks(rt) {
        // Two tasks bounce a counter through two pipes; on the multi-thread runtime
        // they run on (and move between) different workers while ops are in flight.
        rt.block_on(async {
            let (a_reader, a_writer) = pipe();
            let (b_reader, b_writer) = pipe();
            let ponger = ringtide::spawn(async move {
                loop {
                    let (result, buf) = a_reader.read_owned(vec![0u8; 8]).await;
                    if result.unwrap() == 0 {
                        return;
                    }
                    let value = u64::from_le_bytes(buf[..8].try_into().unwrap()) + 1;
                    let (written, _) = b_writer.write_owned(value.to_le_bytes().to_vec()).await;
                    assert_eq!(written.unwrap(), 8);
                }
            });
            let mut value = 0u64;
            for _ in 0..500 {
                let (written, _) = a_writer.write_owned(value.to_le_bytes().to_vec()).await;
                assert_eq!(written.unwrap(), 8);
                let (result, buf) = b_reader.read_owned(vec![0u8; 8]).await;
                assert_eq!(result.unwrap(), 8);
                let next = u64::from_le_bytes(buf[..8].try_into().unwrap());
                assert_eq!(next, value + 1);
                value = next;
            }
            drop(a_writer);
            ponger.await.unwrap();
        });
    }
}

io_test! {
    fn eof_and_broken_pipe_are_errors_not_panics(rt) {
        rt.block_on(async {
            let (reader, writer) = pipe();
            drop(writer);
            let (result, buf) = reader.read_owned(Vec::with_capacity(8)).await;
            assert_eq!(result.unwrap(), 0, "EOF reads 0");
            assert!(buf.is_empty());

            let (reader, writer) = pipe();
            drop(reader);
            let (result, _) = writer.write_owned(b"x".to_vec()).await;
            assert_eq!(result.unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
        });
    }
}

io_test! {
    fn zero_length_buffers(rt) {
        rt.block_on(async {
            let (reader, writer) = pipe();
            let (result, buf) = writer.write_owned(Vec::new()).await;
            assert_eq!(result.unwrap(), 0);
            assert!(buf.is_empty());
            let (result, buf) = reader.read_owned(Vec::new()).await;
            assert_eq!(result.unwrap(), 0, "a zero-capacity read returns at once");
            assert!(buf.is_empty());
        });
    }
}

io_test! {
    fn buffer_larger_than_u32_max_is_clamped_not_wrapped(rt) {
        // `u32::MAX + 10` wrapped to u32 would be 9 bytes. The pipe is non-blocking,
        // so the write stops when the pipe is full (64 KiB): more than 9 bytes.
        rt.block_on(async {
            let (reader, writer) = std::io::pipe().unwrap();
            // SAFETY: fcntl on an fd we own.
            unsafe {
                let flags = libc::fcntl(writer.as_raw_fd(), libc::F_GETFL);
                libc::fcntl(writer.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
            }
            let writer = AsyncFd::new(writer).unwrap();
            let huge = vec![0u8; u32::MAX as usize + 10]; // zero pages, not touched
            let (result, huge) = writer.write_owned(huge).await;
            let written = result.unwrap();
            assert!(written > 9, "wrapped length: wrote {written}");
            assert!(written <= u32::MAX as usize);
            drop(huge);
            drop(reader);
        });
    }
}

io_test! {
    fn invalid_fd_is_an_error(rt) {
        struct Bogus;
        impl AsRawFd for Bogus {
            fn as_raw_fd(&self) -> RawFd {
                // Far above any fd this process opens.
                19_999
            }
        }
        rt.block_on(async {
            match AsyncFd::new(Bogus) {
                // mio: epoll_ctl refuses the fd.
                Err(error) => assert_eq!(error.raw_os_error(), Some(libc::EBADF)),
                // io_uring registers nothing: the op fails.
                Ok(fd) => {
                    let (result, _) = fd.read_owned(vec![0u8; 4]).await;
                    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EBADF));
                }
            }
        });
    }
}

// The guard is a test-level lock against fd-counting tests, never taken by a task.
#[allow(clippy::await_holding_lock)]
#[ringtide::test(backend = "both")]
async fn nop_round_trips() {
    let _fds = shared_fds();
    for _ in 0..1000 {
        ringtide::io::nop().await.unwrap();
    }
}

#[test]
fn io_outside_a_runtime_is_an_error() {
    let _fds = shared_fds();
    let error = AsyncFd::new(std::io::pipe().unwrap().0).unwrap_err();
    assert!(error.to_string().contains("enable_io"), "{error}");
    let runtime = Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        let error = ringtide::io::nop().await.unwrap_err();
        assert!(error.to_string().contains("enable_io"), "{error}");
    });
}

#[test]
fn block_in_place_hands_in_flight_ops_to_the_new_thread() {
    let _fds = shared_fds();
    for backend in [Backend::IoUring, Backend::Mio] {
        let rt = runtime(backend, 2);
        rt.block_on(async {
            ringtide::spawn(async {
                let (reader, writer) = pipe();
                let mut read = std::pin::pin!(reader.read_owned(vec![0u8; 4]));
                // Submit the read on this worker's ring.
                assert!(futures::poll!(read.as_mut()).is_pending());
                // This thread gives its core away: its ring cancels the read, which is
                // resubmitted wherever this task is polled next.
                ringtide::task::block_in_place(|| {});
                let (written, _) = writer.write_owned(b"ok".to_vec()).await;
                assert_eq!(written.unwrap(), 2);
                let (result, buf) = read.await;
                assert_eq!(result.unwrap(), 2);
                assert_eq!(&buf[..2], b"ok");
            })
            .await
            .unwrap();
        });
    }
}

#[test]
fn runtime_drop_with_a_pending_read_returns() {
    let _fds = shared_fds();
    // A drop that hangs is caught by the watchdog.
    rt_common::with_timeout(
        "runtime_drop",
        rt_common::TEST_TIMEOUT,
        runtime_drop_with_a_pending_read,
    );
}

fn runtime_drop_with_a_pending_read() {
    for backend in [Backend::IoUring, Backend::Mio] {
        for workers in [0, 2] {
            let rt = runtime(backend, workers);
            let (reader, writer) = rt.block_on(async { pipe() });
            let (polled_tx, polled_rx) = futures::channel::oneshot::channel();
            let task = rt.spawn(async move {
                let mut read = std::pin::pin!(reader.read_owned(vec![0u8; 16]));
                assert!(futures::poll!(read.as_mut()).is_pending());
                polled_tx.send(()).unwrap();
                let (result, _) = read.await;
                panic!("no data is ever written, yet the read completed: {result:?}");
            });
            // The read is queued (io_uring) or waiting for readiness (mio).
            rt.block_on(polled_rx).unwrap();
            drop(rt);
            // The task was cancelled by the drop, not finished (nor panicked).
            let error = futures::executor::block_on(task).unwrap_err();
            assert!(error.is_cancelled(), "{backend}/{workers}: {error:?}");
            drop(writer);
        }
    }
}

/// A buffer that reports its release and never really frees its memory: on drop it
/// is filled with [`RELEASED`] and parked in a global list. Any later kernel write into
/// it (a write after release, which ASan cannot see) shows up as a byte that is no
/// longer `RELEASED`.
struct TrackedBuf {
    id: usize,
    bytes: Option<Box<[u8]>>,
    ledger: Arc<Ledger>,
}

const RELEASED: u8 = 0xDD;
const PAYLOAD: u8 = 0xAB;

#[derive(Default)]
struct Ledger {
    releases: Mutex<HashMap<usize, usize>>,
    graveyard: Mutex<Vec<&'static mut [u8]>>,
}

impl TrackedBuf {
    fn new(id: usize, ledger: &Arc<Ledger>) -> TrackedBuf {
        TrackedBuf {
            id,
            bytes: Some(vec![0u8; 16].into_boxed_slice()),
            ledger: ledger.clone(),
        }
    }
}

// SAFETY: the bytes live in a heap allocation that never moves and is never freed
// while the value exists (nor after: `Drop` leaks it into the graveyard).
unsafe impl IoBuf for TrackedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.as_ref().unwrap().as_ptr()
    }
    fn bytes_init(&self) -> usize {
        16
    }
    fn bytes_total(&self) -> usize {
        16
    }
}

// SAFETY: as above; all 16 bytes are always initialised.
unsafe impl IoBufMut for TrackedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.as_mut().unwrap().as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _pos: usize) {}
}

impl Drop for TrackedBuf {
    fn drop(&mut self) {
        *self
            .ledger
            .releases
            .lock()
            .unwrap()
            .entry(self.id)
            .or_default() += 1;
        let bytes = Box::leak(self.bytes.take().unwrap());
        bytes.fill(RELEASED);
        self.ledger.graveyard.lock().unwrap().push(bytes);
    }
}

/// Drops 10k in-flight reads at random points and checks the buffer protocol.
fn drop_in_flight_reads(backend: Backend, workers: usize) {
    const PIPES: usize = 250;
    const ROUNDS: usize = 40;
    let ledger = Arc::new(Ledger::default());
    let _fds = exclusive_fds();
    let fds_before = fd_table();
    // A dedicated thread, so its thread-local ring is closed when it ends.
    let thread_ledger = ledger.clone();
    std::thread::spawn(move || {
        let ledger = thread_ledger;
        let rt = runtime(backend, workers);
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let returned = Arc::new(AtomicUsize::new(0));
        let mut id = 0;
        for _ in 0..ROUNDS {
            // Fresh pipes each round: a dropped read whose cancellation is still on its
            // way may take data written later (reads are not cancel-safe), which must
            // not starve the next round's reads.
            let pipes: Vec<_> = rt.block_on(async { (0..PIPES).map(|_| pipe()).collect() });
            let pipes = Arc::new(pipes);
            let choices: Vec<u64> = (0..PIPES).map(|_| next()).collect();
            let round_pipes = pipes.clone();
            let ledger = ledger.clone();
            let returned = returned.clone();
            let first_id = id;
            id += PIPES;
            rt.block_on(async move {
                let mut tasks = Vec::new();
                for (index, choice) in choices.into_iter().enumerate() {
                    let pipes = round_pipes.clone();
                    let ledger = ledger.clone();
                    let returned = returned.clone();
                    tasks.push(ringtide::spawn(async move {
                        let (reader, writer) = &pipes[index];
                        let buf = TrackedBuf::new(first_id + index, &ledger);
                        let mut read = std::pin::pin!(reader.read_owned(buf));
                        let polls = choice % 4;
                        for _ in 0..polls {
                            if let Poll::Ready((result, buf)) = futures::poll!(read.as_mut()) {
                                result.unwrap();
                                returned.fetch_add(1, Ordering::SeqCst);
                                drop(buf);
                                return;
                            }
                            ringtide::task::yield_now().await;
                        }
                        match (choice >> 8) % 3 {
                            // Data arrives before the drop: the read may complete.
                            0 => {
                                let _ = writer.write_owned(vec![PAYLOAD; 4]).await;
                            }
                            // Finish normally.
                            1 => {
                                let _ = writer.write_owned(vec![PAYLOAD; 4]).await;
                                let (result, buf) = read.await;
                                result.unwrap();
                                returned.fetch_add(1, Ordering::SeqCst);
                                drop(buf);
                            }
                            // Drop with nothing to read.
                            _ => {}
                        }
                        // `read` drops here, possibly in flight.
                    }));
                }
                for task in tasks {
                    task.await.unwrap();
                }
            });
            // Data after the drops: a read that were still in flight would take it
            // (and write into its buffer) now.
            rt.block_on(async {
                for (_, writer) in pipes.iter() {
                    let _ = writer.write_owned(vec![PAYLOAD; 4]).await;
                }
                // Until every cancelled read has its final completion: from then on the
                // kernel touches none of their buffers.
                let metrics = ringtide::runtime::Handle::current().metrics();
                yield_until("every dropped read's final completion", || {
                    metrics.io().in_flight == 0
                })
                .await;
            });
        }
        let metrics = rt.metrics().io();
        drop(rt);
        if backend == Backend::IoUring {
            assert!(metrics.submitted >= (PIPES * ROUNDS) as u64, "{metrics:?}");
        }
    })
    .join()
    .expect("test thread");

    let releases = ledger.releases.lock().unwrap();
    assert_eq!(releases.len(), PIPES * ROUNDS, "every buffer was released");
    for (id, count) in releases.iter() {
        assert_eq!(*count, 1, "buffer {id} released {count} times");
    }
    for bytes in ledger.graveyard.lock().unwrap().iter() {
        assert!(
            bytes.iter().all(|&b| b == RELEASED),
            "the kernel wrote into a released buffer"
        );
    }
    let mut fds_after = fd_table();
    let sanitizer_pipes = pipes_shared_with_children();
    fds_after.retain(|fd, target| {
        let child = sanitizer_pipes
            .get(target.as_str())
            .filter(|_| !fds_before.contains_key(fd));
        if let Some(child) = child {
            println!("not counted: fd {fd} ({target}) is shared with child process {child:?}");
        }
        child.is_none()
    });
    assert_eq!(
        fds_after.len(),
        fds_before.len(),
        "file descriptors leaked: before {fds_before:?}, after {fds_after:?}"
    );
}

#[test]
fn drop_10k_in_flight_reads_io_uring_current_thread() {
    drop_in_flight_reads(Backend::IoUring, 0);
}

#[test]
fn drop_10k_in_flight_reads_io_uring_multi_thread() {
    drop_in_flight_reads(Backend::IoUring, 4);
}

#[test]
fn drop_10k_in_flight_reads_mio_current_thread() {
    drop_in_flight_reads(Backend::Mio, 0);
}

#[test]
fn drop_10k_in_flight_reads_mio_multi_thread() {
    drop_in_flight_reads(Backend::Mio, 4);
}

/// Yields until `done()` holds; fails with `what` after a bound (no clock involved:
/// each round lets the runtime poll its driver once more). On a multi-thread runtime
/// the workers' rings progress on their own threads, meanwhile, so the bound is generous:
/// a cheap yield loop (a few hundred ns a round) must not run out of rounds while the
/// workers are still reaping their cancellations (a few ms in a debug build).
async fn yield_until(what: &str, mut done: impl FnMut() -> bool) {
    const ROUNDS: usize = 1_000_000;
    for _ in 0..ROUNDS {
        if done() {
            return;
        }
        ringtide::task::yield_now().await;
    }
    panic!("{what}: not reached after {ROUNDS} yields");
}

#[test]
fn forgetting_an_in_flight_read_never_frees_its_buffer() {
    let _fds = shared_fds();
    for backend in [Backend::IoUring, Backend::Mio] {
        let ledger = Arc::new(Ledger::default());
        let rt = runtime(backend, 0);
        let address = rt.block_on(async {
            let (reader, writer) = pipe();
            let buf = TrackedBuf::new(0, &ledger);
            let address = buf.stable_ptr() as usize;
            let mut read = Box::pin(reader.read_owned(buf));
            assert!(futures::poll!(read.as_mut()).is_pending());
            let metrics = ringtide::runtime::Handle::current().metrics();
            let completed = metrics.io().completed;
            std::mem::forget(read);
            let (written, _) = writer.write_owned(vec![PAYLOAD; 4]).await;
            assert_eq!(written.unwrap(), 4);
            if backend == Backend::IoUring {
                // The forgotten read was in the kernel: the data completes it (the write
                // is one more completion).
                yield_until("the forgotten read's completion", || {
                    metrics.io().completed >= completed + 2
                })
                .await;
            }
            // The pipe keeps its reader open: the forgotten future owns it.
            drop(writer);
            address
        });
        drop(rt);
        assert!(
            ledger.releases.lock().unwrap().is_empty(),
            "{backend}: the buffer of a forgotten read was released"
        );
        assert!(ledger.graveyard.lock().unwrap().is_empty());
        // SAFETY: the buffer was never freed (no release above): it belongs to the leaked
        // future, which nothing polls or drops any more, and the kernel has finished
        // with it (its read completed, io_uring) or never had it (mio).
        let head = unsafe { std::slice::from_raw_parts(address as *const u8, 4) };
        let expected = if backend == Backend::IoUring {
            [PAYLOAD; 4]
        } else {
            [0; 4]
        };
        assert_eq!(
            head, expected,
            "{backend}: io_uring's in-flight read fills the forgotten buffer, mio's never ran"
        );
    }
}

#[test]
fn dropping_an_op_on_another_thread_cancels_it_on_its_ring() {
    let _fds = shared_fds();
    rt_common::with_timeout(
        "cancel_from_another_thread",
        rt_common::TEST_TIMEOUT,
        cancel_from_another_thread,
    );
}

fn cancel_from_another_thread() {
    let rt = runtime(Backend::IoUring, 0);
    let ledger = Arc::new(Ledger::default());
    rt.block_on(async {
        let (reader, writer) = pipe();
        let reader = Arc::new(reader);
        let mut read = {
            let reader = reader.clone();
            let ledger = ledger.clone();
            Box::pin(async move { reader.read_owned(TrackedBuf::new(7, &ledger)).await })
        };
        assert!(futures::poll!(read.as_mut()).is_pending());
        assert_eq!(
            ringtide::runtime::Handle::current()
                .metrics()
                .io()
                .in_flight,
            1
        );
        // Drop it on a thread without a ring: the cancel goes through the remote queue.
        std::thread::spawn(move || drop(read)).join().unwrap();
        let metrics = ringtide::runtime::Handle::current().metrics();
        yield_until("the cancelled read's final completion", || {
            metrics.io().in_flight == 0
        })
        .await;
        assert_eq!(metrics.io().cancelled, 1);
        // Data written now stays in the pipe for the next read.
        let _ = writer.write_owned(b"next".to_vec()).await;
        let (result, buf) = reader.read_owned(vec![0u8; 8]).await;
        assert_eq!(result.unwrap(), 4);
        assert_eq!(&buf[..4], b"next");
    });
    assert_eq!(ledger.releases.lock().unwrap().get(&7), Some(&1));
    for bytes in ledger.graveyard.lock().unwrap().iter() {
        assert!(bytes.iter().all(|&b| b == RELEASED));
    }
    let _ = std::io::stdout().flush();
}

#[test]
fn tiny_rings_flush_full_queues_and_lose_no_completion() {
    // 4 SQ entries (8 CQ entries) for 300 reads in flight at once: submission queue
    // full (flushed and retried) and completion queue overflow (fetched back from the
    // kernel's overflow list) both happen.
    let _fds = shared_fds();
    rt_common::with_timeout("tiny_rings", rt_common::TEST_TIMEOUT, || {
        for workers in [0, 2] {
            let rt = rt_common::backend_builder(Backend::IoUring, workers)
                .uring_entries(4)
                .build()
                .unwrap();
            const ROUNDS: usize = 20;
            let overflowed_in = rt.block_on(async {
                let metrics = ringtide::runtime::Handle::current().metrics();
                let before = metrics.io();
                for round in 0..ROUNDS {
                    let round_start = metrics.io();
                    let mut writers = Vec::new();
                    let mut reads = Vec::new();
                    for index in 0..300usize {
                        let (reader, writer) = pipe();
                        writers.push(writer);
                        reads.push(ringtide::spawn(async move {
                            let (result, buf) = reader.read_owned(vec![0u8; 8]).await;
                            assert_eq!(result.unwrap(), 8);
                            assert_eq!(usize::from_le_bytes(buf[..8].try_into().unwrap()), index);
                        }));
                    }
                    // Every read reaches the kernel before any data arrives.
                    yield_until("300 reads submitted", || {
                        metrics.io().submitted >= round_start.submitted + 300
                    })
                    .await;
                    // Plain syscalls, without yielding: the 300 reads complete in the
                    // kernel while this thread does not reap (current-thread: this is
                    // the ring's thread), far more than the 8 CQ entries hold.
                    for (index, writer) in writers.iter().enumerate() {
                        let mut writer = writer.get_ref();
                        writer.write_all(&index.to_le_bytes()).unwrap();
                    }
                    for read in reads {
                        read.await.unwrap();
                    }
                    let io = metrics.io();
                    assert_eq!(io.in_flight, 0, "{io:?}");
                    assert!(io.submitted >= round_start.submitted + 300, "{io:?}");
                    if io.cq_overflow > before.cq_overflow {
                        return Some(round);
                    }
                }
                None
            });
            let io = rt.metrics().io();
            let round = overflowed_in.unwrap_or_else(|| {
                panic!(
                    "{workers} workers: the completion queue never overflowed in {ROUNDS} rounds \
                     of 300 reads, so the overflow path this test is about did not run: {io:?}"
                )
            });
            eprintln!("{workers} workers: completion queue overflow in round {round}: {io:?}");
        }
    });
}

#[test]
fn sqpoll_rings_work() {
    let _fds = shared_fds();
    rt_common::with_timeout("sqpoll", rt_common::TEST_TIMEOUT, || {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .backend(Backend::IoUring)
            .uring_sqpoll(Duration::from_millis(20))
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            ringtide::spawn(async {
                let (reader, writer) = pipe();
                for round in 0..100u8 {
                    let (written, _) = writer.write_owned(vec![round]).await;
                    assert_eq!(written.unwrap(), 1);
                    let (result, buf) = reader.read_owned(vec![0u8; 1]).await;
                    assert_eq!(result.unwrap(), 1);
                    assert_eq!(buf[0], round);
                }
            })
            .await
            .unwrap();
        });
    });
}

#[test]
fn op_submitted_on_a_worker_completes_when_awaited_on_another_thread() {
    // The read is submitted by a task on a worker (its ring, or its poll on mio), then
    // the future moves to the `block_on` thread, which awaits it: the completion on the
    // worker must wake the other thread.
    let _fds = shared_fds();
    for backend in [Backend::IoUring, Backend::Mio] {
        rt_common::with_timeout("migrate", rt_common::TEST_TIMEOUT, move || {
            let rt = runtime(backend, 2);
            rt.block_on(async {
                let (reader, writer) = pipe();
                let reader = Arc::new(reader);
                let (tx, rx) = futures::channel::oneshot::channel();
                let worker_thread = ringtide::spawn({
                    let reader = reader.clone();
                    async move {
                        let mut read =
                            Box::pin(async move { reader.read_owned(vec![0u8; 8]).await });
                        assert!(futures::poll!(read.as_mut()).is_pending());
                        let _ = tx.send(read);
                        std::thread::current().id()
                    }
                })
                .await
                .unwrap();
                assert_ne!(worker_thread, std::thread::current().id());
                let read = rx.await.unwrap();
                let (written, _) = writer.write_owned(b"moved".to_vec()).await;
                assert_eq!(written.unwrap(), 5);
                let (result, buf) = read.await;
                assert_eq!(result.unwrap(), 5);
                assert_eq!(&buf[..5], b"moved");
            });
        });
    }
}
