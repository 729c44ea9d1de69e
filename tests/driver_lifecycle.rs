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

use ringtide::io::{AsyncFd, AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpStream};
use ringtide::runtime::Backend;
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

/// An accept abandoned in flight, then a retiring ring: the next accept must still
/// see new connections. With multishot accept and with single accepts (forced), whose
/// count of abandoned accepts is the one that could stay up.
#[test]
fn accept_after_timeout_then_block_in_place_does_not_hang() {
    for (backend, multishot) in [
        (Backend::IoUring, true),
        (Backend::IoUring, false),
        (Backend::Mio, true),
    ] {
        rt_common::with_timeout(
            "accept_timeout_then_block_in_place",
            rt_common::TEST_TIMEOUT,
            move || {
                let rt = rt_common::backend_builder(backend, 2)
                    .uring_multishot_accept(multishot)
                    .build()
                    .unwrap();
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

/// Item 4: ops the kernel has not returned when the detach deadline passes are
/// stranded on the ring that submitted them; only that ring's thread can reap them. A
/// zero deadline strands every op: a read in flight when its worker enters
/// `block_in_place` must still complete once the data comes.
#[test]
fn ops_stranded_by_a_detach_complete_after_block_in_place() {
    for backend in BACKENDS {
        rt_common::with_timeout(
            "stranded_block_in_place",
            rt_common::TEST_TIMEOUT,
            move || {
                let rt = rt_common::backend_builder(backend, 2)
                    .uring_detach_deadline(Duration::ZERO)
                    .build()
                    .unwrap();
                rt.block_on(async {
                    ringtide::spawn(async {
                        let (reader, writer) = pipe();
                        for round in 0..20u8 {
                            let mut read = std::pin::pin!(reader.read_owned(vec![0u8; 1]));
                            assert!(futures::poll!(read.as_mut()).is_pending());
                            ringtide::task::block_in_place(|| {});
                            let (written, _) = writer.write_owned(vec![round]).await;
                            assert_eq!(written.unwrap(), 1);
                            let (result, buf) = timeout(HANG, read)
                                .await
                                .unwrap_or_else(|_| panic!("round {round}: a stranded read hangs"));
                            assert_eq!(result.unwrap(), 1);
                            assert_eq!(buf[0], round);
                        }
                    })
                    .await
                    .unwrap();
                });
            },
        );
    }
}

/// Item 4, at thread exit: a worker whose ring still holds stranded ops when the
/// runtime shuts down reaps them before its thread ends, so their fds close (no leak).
#[test]
fn stranded_ops_are_reaped_when_the_runtime_shuts_down() {
    let _fds = exclusive_fds();
    for backend in BACKENDS {
        rt_common::with_timeout("stranded_at_shutdown", rt_common::TEST_TIMEOUT, move || {
            // This thread's own ring (a multi-thread `block_on` caller keeps one for
            // its life) is not what is counted: create it first.
            rt_common::backend_builder(backend, 2)
                .build()
                .unwrap()
                .block_on(async {});
            let before = open_fds();
            let rt = rt_common::backend_builder(backend, 2)
                .uring_detach_deadline(Duration::ZERO)
                .build()
                .unwrap();
            rt.block_on(async {
                let (submitted, mut all_submitted) = futures::channel::mpsc::unbounded();
                for _ in 0..8 {
                    let submitted = submitted.clone();
                    ringtide::spawn(async move {
                        // A socket's fd closes only once every op using it is back
                        // from the kernel: a stranded read that is never reaped
                        // leaks it.
                        let (mut reader, _writer) = pair().await;
                        let mut read = std::pin::pin!(reader.read_owned(vec![0u8; 1]));
                        assert!(futures::poll!(read.as_mut()).is_pending());
                        submitted.unbounded_send(()).unwrap();
                        let _ = read.await;
                    });
                }
                for _ in 0..8 {
                    futures::StreamExt::next(&mut all_submitted).await.unwrap();
                }
            });
            drop(rt);
            let after = open_fds();
            assert!(
                after <= before,
                "{backend}: {} fds leaked by ops stranded at shutdown",
                after - before
            );
        });
    }
}

/// Item 5: every ring the builder asks for is set up by `build()`, so a ring the
/// kernel refuses (here: more entries than io_uring allows) is an error there for an
/// explicit io_uring choice, and a fallback to mio for an automatic one, never a
/// runtime whose I/O hangs.
#[test]
fn a_ring_the_kernel_refuses_fails_the_build_or_falls_back() {
    for workers in [0, 2] {
        let error = rt_common::backend_builder(Backend::IoUring, workers)
            .uring_entries(1 << 20)
            .build()
            .expect_err("io_uring refuses rings of 2^20 entries");
        assert!(
            error.to_string().contains("io_uring"),
            "the error names the backend: {error}"
        );
        let rt = rt_common::backend_builder(Backend::Auto, workers)
            .uring_entries(1 << 20)
            .build()
            .expect("auto falls back to mio");
        assert_eq!(rt.backend(), Backend::Mio);
        rt.block_on(async {
            let (reader, writer) = pipe();
            let (written, _) = writer.write_owned(b"mio".to_vec()).await;
            assert_eq!(written.unwrap(), 3);
            let (result, buf) = reader.read_owned(vec![0u8; 3]).await;
            assert_eq!(result.unwrap(), 3);
            assert_eq!(buf, b"mio");
        });
        // One runtime's refused settings say nothing about the kernel: the next
        // runtime of this process, with settings the kernel accepts, gets io_uring.
        let rt = rt_common::backend_builder(Backend::IoUring, workers)
            .build()
            .expect("a refused ring must not poison later runtimes");
        assert_eq!(rt.backend(), Backend::IoUring);
    }
}

/// Item 6: without `IORING_FEAT_EXT_ARG` (kernels before 5.11) a timed park cannot
/// pass its timeout to `io_uring_enter`; the ring bounds it with a TIMEOUT SQE instead.
/// Timers fire, I/O completes, and an idle runtime waiting for a timer parks a few
/// times, not in a busy loop (which is what passing the timeout anyway did: every
/// timed park returned EINVAL at once).
#[test]
fn parking_without_ext_arg_fires_timers_without_spinning() {
    for workers in [0, 2] {
        rt_common::with_timeout("without_ext_arg", rt_common::TEST_TIMEOUT, move || {
            let rt = rt_common::backend_builder(Backend::IoUring, workers)
                .uring_park_without_ext_arg()
                .build()
                .unwrap();
            rt.block_on(async {
                let (reader, writer) = pipe();
                let read = ringtide::spawn(async move {
                    let (result, buf) = reader.read_owned(vec![0u8; 2]).await;
                    assert_eq!(result.unwrap(), 2);
                    buf
                });
                let parks_before = parks();
                for _ in 0..10 {
                    ringtide::time::sleep(Duration::from_millis(20)).await;
                }
                let parks = parks() - parks_before;
                // 10 sleeps of 20 ms: a handful of parks each (one per timer, plus
                // wake-ups); a spinning park makes tens of thousands.
                assert!(parks < 2_000, "{parks} parks for 10 sleeps: the park spins");
                let (written, _) = writer.write_owned(b"ok".to_vec()).await;
                assert_eq!(written.unwrap(), 2);
                assert_eq!(read.await.unwrap(), b"ok");
            });
        });
    }
}

/// Item 5: a core whose thread could not set up a ring (here: no fd left for the
/// ring a new thread needs after `block_in_place`) parks on its eventfd and runs no
/// ops, so none may be routed to it: ops from its tasks and from other threads go to a
/// core that has a ring. In a child process, since it exhausts the process's fds.
#[test]
fn ops_never_go_to_a_core_without_a_ring() {
    const NAME: &str = "ops_never_go_to_a_core_without_a_ring";
    if let Ok(backend) = std::env::var(CHILD_ENV) {
        ringless_core_scenario(backend.parse().unwrap());
        return;
    }
    for backend in BACKENDS {
        run_child(NAME, backend);
    }
}

const NO_RING: &str = "no io_uring ring for this thread";

fn ringless_core_scenario(backend: Backend) {
    static LOG: Logger = Logger(std::sync::Mutex::new(Vec::new()));
    let logged = || LOG.0.lock().unwrap().join("\n");
    log::set_logger(&LOG).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let rt = rt_common::backend_builder(backend, 2).build().unwrap();
    rt.block_on(async {
        // Everything the test uses exists before the fds run out.
        let pipes: Vec<_> = (0..8).map(|_| std::sync::Arc::new(pipe())).collect();
        let pipes_for_task = pipes.clone();
        ringtide::spawn(async move {
            let limit = exhaust_fds();
            // This worker's core moves to a new thread, whose ring cannot be created.
            // Stay inside `block_in_place` until that thread drives the core: this
            // thread (which keeps its ring) must not be the one that takes it over.
            ringtide::task::block_in_place(|| {
                let deadline = std::time::Instant::now() + HANG;
                while backend == Backend::IoUring && !logged().contains(NO_RING) {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "no core ended up without a ring; log:\n{}",
                        logged()
                    );
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            let mut tasks = Vec::new();
            for (index, pipe) in pipes_for_task.into_iter().enumerate() {
                tasks.push(ringtide::spawn(async move {
                    for round in 0..16u8 {
                        let (written, _) = pipe.1.write_owned(vec![round]).await;
                        assert_eq!(written.unwrap(), 1);
                        let (result, buf) = timeout(HANG, pipe.0.read_owned(vec![0u8; 1]))
                            .await
                            .unwrap_or_else(|_| panic!("pipe {index} round {round} hangs"));
                        assert_eq!(result.unwrap(), 1);
                        assert_eq!(buf[0], round);
                        ringtide::task::yield_now().await;
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            restore_fds(limit);
        })
        .await
        .unwrap();
        drop(pipes);
    });
    println!("\n{RESULT_MARK} ok");
}

/// Collects log lines (the child's proof that a path ran).
struct Logger(std::sync::Mutex<Vec<String>>);

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.0.lock().unwrap().push(record.args().to_string());
    }
    fn flush(&self) {}
}

/// Lowers `RLIMIT_NOFILE` so that no new fd can be opened; returns the old limit.
fn exhaust_fds() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write only the structs passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        // Zero: no fd can be opened at all, whichever numbers get freed meanwhile.
        let lowered = libc::rlimit {
            rlim_cur: 0,
            rlim_max: limit.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lowered), 0);
    }
    assert!(
        std::fs::File::open("/dev/null").is_err(),
        "fds are not exhausted"
    );
    limit
}

fn restore_fds(limit: libc::rlimit) {
    // SAFETY: setrlimit reads only the struct passed.
    unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0) };
}

/// Names the backend a child process runs its scenario on; unset in the parent.
const CHILD_ENV: &str = "RINGTIDE_DRIVER_LIFECYCLE_CHILD";
/// Starts the line a child prints when its scenario succeeded.
const RESULT_MARK: &str = "RINGTIDE_DRIVER_LIFECYCLE_RESULT";

/// Re-runs this test binary for the test `name` alone, as a child on `backend`, and
/// asserts that it succeeded (a hang is killed and reported).
fn run_child(name: &str, backend: Backend) {
    let output = rt_common::run_child_test(
        name,
        &[(CHILD_ENV, backend.as_str())],
        rt_common::TEST_TIMEOUT,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(RESULT_MARK),
        "child `{name}` on {backend} failed ({})\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The runtime's park count, summed over its workers.
fn parks() -> u64 {
    let metrics = ringtide::runtime::Handle::current().metrics();
    rt_common::sum_workers(&metrics, |worker| metrics.worker_park_count(worker))
}

fn pipe() -> (AsyncFd<std::io::PipeReader>, AsyncFd<std::io::PipeWriter>) {
    let (reader, writer) = std::io::pipe().unwrap();
    (AsyncFd::new(reader).unwrap(), AsyncFd::new(writer).unwrap())
}

/// Tests that count this process's fds hold this exclusively; the others do not open
/// fds while a count is in progress because `cargo test` runs tests as threads.
static FD_COUNT: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn exclusive_fds() -> std::sync::RwLockWriteGuard<'static, ()> {
    FD_COUNT.write().unwrap_or_else(|e| e.into_inner())
}

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}
