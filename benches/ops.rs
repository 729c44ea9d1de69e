//! I/O operation benchmarks: the per-operation overhead of ringtide's drivers, against a
//! raw io_uring loop (no runtime) and tokio.
//!
//! Every case runs one operation at a time, sequentially: submit, wait, complete,
//! repeat. Each criterion iteration is one operation (64 in the batch group), and the
//! cases of a group do the same work per iteration, so their times compare directly.
//! The cases use `iter_custom`: all the iterations of a sample run inside ONE
//! `block_on` (or one spawned task), timed from inside, so building the runtime,
//! entering `block_on`, creating the pipes and spawning tasks are not measured.
//!
//! Groups, with the functions in each:
//!
//! - `nop`: one operation that does nothing.
//!   - `raw_io_uring`: one `IoUring::new(256)`, push a NOP, `submit_and_wait(1)`, pop
//!     the CQE: one `io_uring_enter` per op, as the runtime does when it has nothing
//!     else to do. The reference for the io_uring cases.
//!   - `raw_io_uring_defer`: the same loop on a ring set up with the flags ringtide
//!     tries first (`SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG | SUBMIT_ALL`), to
//!     tell the cost of the ring configuration from the runtime's own.
//!   - `ringtide_io_uring_current`: `ringtide::io::nop()` directly in `block_on` on a
//!     current-thread io_uring runtime.
//!   - `ringtide_io_uring_multi1`: the same in a task spawned on a multi-thread io_uring
//!     runtime with 1 worker (`block_on` itself has no ring, so ops polled there would
//!     go through a worker's remote queue).
//!   - `ringtide_mio_current`: `nop()` on a current-thread mio runtime, where it
//!     completes at once without a syscall: the cost of the op future alone.
//! - `pipe_read_1b`: one pipe; each op writes 1 byte to the write end with a plain
//!   blocking `write` (std `Write`, not timed separately), then reads that byte from the
//!   read end through the runtime, into a reused 1-byte buffer.
//!   - `raw_io_uring`, `raw_io_uring_defer`: the write, then a READ SQE on the read
//!     end, `submit_and_wait(1)`, pop the CQE.
//!   - `ringtide_io_uring_current`, `ringtide_io_uring_multi1`, `ringtide_mio_current`,
//!     `ringtide_mio_multi1`: `AsyncFd::read_owned` with an owned `Box<[u8]>`, placed as in
//!     `nop`.
//!   - `tokio_current`, `tokio_multi1`: `tokio::net::unix::pipe::Receiver` and
//!     `AsyncReadExt::read` into a `[u8; 1]`, on a current-thread runtime and in a task
//!     spawned on a 1-worker multi-thread runtime. The tokio reference.
//! - `pipe_read_1b_batch64`: 64 tasks, each with its own pipe, each doing the
//!   `pipe_read_1b` round trip in a loop, all on one current-thread runtime. One
//!   iteration is 64 round trips (one per task), so this shows how much the driver
//!   batches submissions and completions across tasks.
//!   - `raw_io_uring`, `raw_io_uring_defer`: per iteration, write 1 byte to each of the
//!     64 pipes, push 64 READ SQEs, one `submit_and_wait(64)`, pop the 64 CQEs.
//!   - `ringtide_io_uring_current`, `ringtide_mio_current`, `tokio_current`.
//!
//! Criterion reports time per iteration and ops/s (`thrpt`). The io_uring cases are
//! skipped, with a message, where io_uring is unavailable (seccomp,
//! `kernel.io_uring_disabled`); off Linux the groups have no `raw_io_uring*` functions.
//!
//! Run it with:
//!
//! ```text
//! cargo bench --bench ops -- --noplot
//! RINGTIDE_BENCH_QUICK=1 cargo bench --bench ops -- --noplot   # smoke run
//! cargo bench --bench ops -- --noplot 'pipe_read_1b/'          # one group
//! ```
//!
//! The default settings (20 samples, 0.5 s warm-up, 2 s measurement per function) keep
//! a full run to about a minute; `RINGTIDE_BENCH_QUICK=1` drops to 10 samples, 0.2 s of
//! warm-up and 0.5 s of measurement. Command-line options (`--sample-size`,
//! `--measurement-time`, ...) override both.
//!
//! `RINGTIDE_OPS_PROBE=nop:20000` (or `nop_no_timer:N`, `pipe:N`) runs N ops once
//! instead, for instruction counts under callgrind (see `probe`).
//!
//! # Per-op cost (latest figures)
//!
//! User-space instructions per op (callgrind, the probe's N = 40000 minus N = 20000,
//! current-thread io_uring runtime; independent of the machine's load), before and
//! after the timer's park fast path (`time::driver`) and the injector's look-first:
//! `nop` 1824 → 1588, `nop` without the timer (`enable_io()` only) 1529 → 1489, the
//! 1-byte pipe read 2081 → 1845. The timer's share of a park went from ~280 to ~85
//! instructions (no clock read, no sleeper announcement, no deadline published while
//! no timer is armed). Time ratios to `raw_io_uring` (`RINGTIDE_BENCH_QUICK=1`, the
//! two binaries alternated 5 times, medians, 2-core VM at load 4–6.6, so they spread
//! widely): nop current-thread 2.31× → 1.97×, 1 worker 2.10× → 1.96×; pipe read
//! current-thread 1.63× → 1.47×, 1 worker 1.46× → 1.29×. The rest of the gap is spread
//! over the op cell (an `Arc` allocation, its mutex, Arc and waker clones: the next
//! candidates), the ring's submit and reap, and the scheduler's tick and park steps
//! (see `notes/opcost2-readme.md`).
//!
//! The pipe groups are Unix only (`AsyncFd`, tokio's Unix pipes); elsewhere only `nop`
//! runs.

#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use std::future::Future;
use std::io::{PipeReader, PipeWriter, Write};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group};
#[cfg(unix)]
use ringtide::io::AsyncFd;
use ringtide::runtime::{Backend, Runtime};

/// Concurrent tasks (and pipes) in `pipe_read_1b_batch64`.
const BATCH_TASKS: usize = 64;

/// The shape of a ringtide or tokio runtime under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    /// A current-thread runtime; the measured loop runs directly in `block_on`.
    CurrentThread,
    /// A multi-thread runtime with one worker; the measured loop runs in a spawned task.
    MultiThread1,
}

/// A ringtide runtime of `flavor` on `backend`, or `None` (with a message saying why)
/// when that backend cannot be used here.
fn ringtide_runtime(flavor: Flavor, backend: Backend) -> Option<Runtime> {
    let mut builder = match flavor {
        Flavor::CurrentThread => ringtide::runtime::Builder::new_current_thread(),
        Flavor::MultiThread1 => {
            let mut builder = ringtide::runtime::Builder::new_multi_thread();
            builder.worker_threads(1);
            builder
        }
    };
    match builder.backend(backend).enable_all().build() {
        Ok(rt) => {
            assert_eq!(rt.backend(), backend, "the runtime picked another backend");
            Some(rt)
        }
        Err(error) => {
            eprintln!("skipping the ringtide {backend} {flavor:?} cases: {error}");
            None
        }
    }
}

/// A tokio runtime of `flavor`.
fn tokio_runtime(flavor: Flavor) -> tokio::runtime::Runtime {
    let mut builder = match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread1 => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(1);
            builder
        }
    };
    builder
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}

/// Runs the timed future `make()` on `rt`: directly in `block_on` on a current-thread
/// runtime, in a spawned task on a multi-thread one. Returns what the future measured.
fn ringtide_timed<F, Fut>(rt: &Runtime, flavor: Flavor, make: F) -> Duration
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Duration> + Send + 'static,
{
    match flavor {
        Flavor::CurrentThread => rt.block_on(make()),
        Flavor::MultiThread1 => rt.block_on(async {
            ringtide::spawn(make())
                .await
                .expect("the measured task panicked")
        }),
    }
}

/// [`ringtide_timed`] for tokio.
fn tokio_timed<F, Fut>(rt: &tokio::runtime::Runtime, flavor: Flavor, make: F) -> Duration
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Duration> + Send + 'static,
{
    match flavor {
        Flavor::CurrentThread => rt.block_on(make()),
        Flavor::MultiThread1 => rt.block_on(async {
            tokio::spawn(make())
                .await
                .expect("the measured task panicked")
        }),
    }
}

/// Adds the function `name` to `group`, each sample running `run(iters)` once (an
/// untimed call with 1 iteration first) and taking the time it returns.
fn bench_custom(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mut run: impl FnMut(u64) -> Duration,
) {
    run(1);
    group.bench_function(name, |b| b.iter_custom(&mut run));
}

/// Writes the byte that one round trip then reads.
fn write_byte(writer: &mut PipeWriter) {
    writer.write_all(&[1]).expect("writing to the pipe");
}

/// A fresh pipe.
fn pipe() -> (PipeReader, PipeWriter) {
    std::io::pipe().expect("creating a pipe")
}

// ---------------------------------------------------------------------------------------
// Workloads: ringtide.
// ---------------------------------------------------------------------------------------

/// `iters` sequential `nop()`s; returns their total time.
async fn ringtide_nops(iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        ringtide::io::nop().await.expect("nop failed");
    }
    start.elapsed()
}

/// `iters` pipe round trips (blocking 1-byte write, then a 1-byte `AsyncFd::read_owned`).
/// Setting up the pipe is not timed.
#[cfg(unix)]
async fn ringtide_pipe_reads(iters: u64) -> Duration {
    let (reader, mut writer) = pipe();
    let reader = AsyncFd::new(reader).expect("registering the pipe");
    let start = Instant::now();
    ringtide_pipe_loop(&reader, &mut writer, iters).await;
    start.elapsed()
}

/// The round-trip loop shared by `pipe_read_1b` and the batch group.
#[cfg(unix)]
async fn ringtide_pipe_loop(reader: &AsyncFd<PipeReader>, writer: &mut PipeWriter, iters: u64) {
    let mut buf: Box<[u8]> = Box::new([0]);
    for _ in 0..iters {
        write_byte(writer);
        let (read, returned) = reader.read_owned(buf).await;
        assert_eq!(read.expect("reading the pipe"), 1);
        buf = returned;
    }
}

/// `BATCH_TASKS` tasks doing `iters` round trips each on their own pipe; the pipes are
/// registered and the tasks spawned before the clock starts (on a current-thread
/// runtime they start running only once this future awaits them).
#[cfg(unix)]
async fn ringtide_pipe_batch(iters: u64) -> Duration {
    let pipes: Vec<_> = (0..BATCH_TASKS)
        .map(|_| {
            let (reader, writer) = pipe();
            (AsyncFd::new(reader).expect("registering the pipe"), writer)
        })
        .collect();
    let tasks: Vec<_> = pipes
        .into_iter()
        .map(|(reader, mut writer)| {
            ringtide::spawn(async move { ringtide_pipe_loop(&reader, &mut writer, iters).await })
        })
        .collect();
    let start = Instant::now();
    for task in tasks {
        task.await.expect("a batch task panicked");
    }
    start.elapsed()
}

// ---------------------------------------------------------------------------------------
// Workloads: tokio.
// ---------------------------------------------------------------------------------------

/// A tokio pipe receiver for the read end of `reader`.
#[cfg(unix)]
fn tokio_receiver(reader: PipeReader) -> tokio::net::unix::pipe::Receiver {
    tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into())
        .expect("registering the pipe with tokio")
}

/// The tokio version of [`ringtide_pipe_loop`].
#[cfg(unix)]
async fn tokio_pipe_loop(
    reader: &mut tokio::net::unix::pipe::Receiver,
    writer: &mut PipeWriter,
    iters: u64,
) {
    use tokio::io::AsyncReadExt;

    let mut buf = [0u8; 1];
    for _ in 0..iters {
        write_byte(writer);
        let read = reader.read(&mut buf).await.expect("reading the pipe");
        assert_eq!(read, 1);
    }
}

/// The tokio version of [`ringtide_pipe_reads`].
#[cfg(unix)]
async fn tokio_pipe_reads(iters: u64) -> Duration {
    let (reader, mut writer) = pipe();
    let mut reader = tokio_receiver(reader);
    let start = Instant::now();
    tokio_pipe_loop(&mut reader, &mut writer, iters).await;
    start.elapsed()
}

/// The tokio version of [`ringtide_pipe_batch`].
#[cfg(unix)]
async fn tokio_pipe_batch(iters: u64) -> Duration {
    let pipes: Vec<_> = (0..BATCH_TASKS)
        .map(|_| {
            let (reader, writer) = pipe();
            (tokio_receiver(reader), writer)
        })
        .collect();
    let tasks: Vec<_> = pipes
        .into_iter()
        .map(|(mut reader, mut writer)| {
            tokio::spawn(async move { tokio_pipe_loop(&mut reader, &mut writer, iters).await })
        })
        .collect();
    let start = Instant::now();
    for task in tasks {
        task.await.expect("a batch task panicked");
    }
    start.elapsed()
}

// ---------------------------------------------------------------------------------------
// Workloads: a raw io_uring loop, no runtime.
// ---------------------------------------------------------------------------------------

#[cfg(target_os = "linux")]
mod raw {
    //! The same operations on a bare `io_uring::IoUring`, one `submit_and_wait` per op
    //! (or per batch).

    use std::io::PipeWriter;
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    use io_uring::{IoUring, cqueue, opcode, squeue, types};

    use super::{BATCH_TASKS, pipe, write_byte};

    /// Ring size, as ringtide's default.
    const ENTRIES: u32 = 256;

    /// A fresh ring with no setup flags (`IoUring::new`), or `None` (with a message
    /// saying why) when io_uring is unavailable.
    pub(super) fn plain_ring() -> Option<IoUring> {
        checked(IoUring::new(ENTRIES), "raw_io_uring")
    }

    /// A fresh ring with the setup flags ringtide tries first (`SINGLE_ISSUER |
    /// DEFER_TASKRUN | TASKRUN_FLAG | SUBMIT_ALL`), or `None` when the kernel refuses
    /// them. Used on the bench thread only, which is the ring's single issuer.
    pub(super) fn ringtide_flags_ring() -> Option<IoUring> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_taskrun_flag()
            .setup_submit_all()
            .build(ENTRIES);
        checked(ring, "raw_io_uring_defer")
    }

    fn checked(ring: std::io::Result<IoUring>, name: &str) -> Option<IoUring> {
        match ring {
            Ok(ring) => Some(ring),
            Err(error) => {
                eprintln!("skipping the {name} cases: {error}");
                None
            }
        }
    }

    /// Pops one CQE, which must be there after `submit_and_wait`.
    fn pop(ring: &mut IoUring) -> cqueue::Entry {
        ring.completion()
            .next()
            .expect("submit_and_wait returned without a completion")
    }

    /// `iters` NOPs, one `submit_and_wait(1)` each.
    pub(super) fn nops(ring: &mut IoUring, iters: u64) -> Duration {
        let nop = opcode::Nop::new().build().user_data(1);
        let start = Instant::now();
        for _ in 0..iters {
            // SAFETY: a NOP points at no memory.
            unsafe { ring.submission().push(&nop) }.expect("submission queue full");
            ring.submit_and_wait(1).expect("io_uring_enter failed");
            assert!(pop(ring).result() >= 0, "NOP failed");
        }
        start.elapsed()
    }

    /// `iters` pipe round trips: a blocking 1-byte write, then a 1-byte READ SQE on the
    /// read end, `submit_and_wait(1)`.
    pub(super) fn pipe_reads(ring: &mut IoUring, iters: u64) -> Duration {
        let (reader, mut writer) = pipe();
        let mut buf = [0u8; 1];
        // Offset -1 (the fd's position), as ringtide's READ.
        let read = opcode::Read::new(types::Fd(reader.as_raw_fd()), buf.as_mut_ptr(), 1)
            .offset(u64::MAX)
            .build()
            .user_data(2);
        let start = Instant::now();
        for _ in 0..iters {
            write_byte(&mut writer);
            // SAFETY: the SQE points into `buf` and uses `reader`'s fd, which both live
            // (and are not otherwise touched) until the CQE is popped below.
            unsafe { ring.submission().push(&read) }.expect("submission queue full");
            ring.submit_and_wait(1).expect("io_uring_enter failed");
            assert_eq!(pop(ring).result(), 1, "READ failed");
        }
        let elapsed = start.elapsed();
        drop(reader);
        elapsed
    }

    /// `iters` rounds of: write 1 byte to each of `BATCH_TASKS` pipes, push one READ
    /// per pipe, one `submit_and_wait(BATCH_TASKS)`, pop every CQE.
    pub(super) fn pipe_batch(ring: &mut IoUring, iters: u64) -> Duration {
        let mut writers: Vec<PipeWriter> = Vec::with_capacity(BATCH_TASKS);
        let mut readers = Vec::with_capacity(BATCH_TASKS);
        for _ in 0..BATCH_TASKS {
            let (reader, writer) = pipe();
            readers.push(reader);
            writers.push(writer);
        }
        let mut bufs = vec![0u8; BATCH_TASKS];
        let base = bufs.as_mut_ptr();
        let reads: Vec<squeue::Entry> = readers
            .iter()
            .enumerate()
            .map(|(index, reader)| {
                // `wrapping_add` keeps this free of `unsafe`; `index < bufs.len()`.
                opcode::Read::new(types::Fd(reader.as_raw_fd()), base.wrapping_add(index), 1)
                    .offset(u64::MAX)
                    .build()
                    .user_data(index as u64)
            })
            .collect();
        let start = Instant::now();
        for _ in 0..iters {
            for writer in &mut writers {
                write_byte(writer);
            }
            // SAFETY: each SQE points at its own byte of `bufs` and uses one of
            // `readers`' fds; both live (and are not otherwise touched) until every CQE
            // is popped below.
            unsafe { ring.submission().push_multiple(&reads) }.expect("submission queue full");
            ring.submit_and_wait(BATCH_TASKS)
                .expect("io_uring_enter failed");
            let mut completed = 0;
            while completed < BATCH_TASKS {
                // More than one enter may be needed if some CQEs were posted late.
                if ring.completion().is_empty() {
                    ring.submit_and_wait(1).expect("io_uring_enter failed");
                }
                for cqe in ring.completion() {
                    assert_eq!(cqe.result(), 1, "READ failed");
                    completed += 1;
                }
            }
        }
        let elapsed = start.elapsed();
        drop((readers, bufs));
        elapsed
    }
}

// ---------------------------------------------------------------------------------------
// Groups.
// ---------------------------------------------------------------------------------------

/// The ringtide cases of a group: `workload` on each (backend, flavor) pair, placed as
/// [`ringtide_timed`] says. Each runtime is built for its function and dropped after.
fn ringtide_cases<Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    cases: &[(&str, Backend, Flavor)],
    workload: fn(u64) -> Fut,
) where
    Fut: Future<Output = Duration> + Send + 'static,
{
    for &(name, backend, flavor) in cases {
        let Some(rt) = ringtide_runtime(flavor, backend) else {
            continue;
        };
        bench_custom(group, name, |iters| {
            ringtide_timed(&rt, flavor, || workload(iters))
        });
        drop(rt);
    }
}

/// The tokio cases of a group, as [`ringtide_cases`].
fn tokio_cases<Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    cases: &[(&str, Flavor)],
    workload: fn(u64) -> Fut,
) where
    Fut: Future<Output = Duration> + Send + 'static,
{
    for &(name, flavor) in cases {
        let rt = tokio_runtime(flavor);
        bench_custom(group, name, |iters| {
            tokio_timed(&rt, flavor, || workload(iters))
        });
        drop(rt);
    }
}

/// The raw io_uring cases of a group: `workload` on a plain ring (`raw_io_uring`),
/// then on a ring with ringtide's setup flags (`raw_io_uring_defer`), each built for
/// its function. (Linux only: elsewhere the groups have no raw cases.)
#[cfg(target_os = "linux")]
fn raw_cases(
    group: &mut BenchmarkGroup<'_, WallTime>,
    workload: fn(&mut io_uring::IoUring, u64) -> Duration,
) {
    type MakeRing = fn() -> Option<io_uring::IoUring>;
    let rings: [(&str, MakeRing); 2] = [
        ("raw_io_uring", raw::plain_ring),
        ("raw_io_uring_defer", raw::ringtide_flags_ring),
    ];
    for (name, make_ring) in rings {
        if let Some(mut ring) = make_ring() {
            bench_custom(group, name, |iters| workload(&mut ring, iters));
        }
    }
}

/// The ringtide cases of the `nop` and `pipe_read_1b` groups.
const RINGTIDE_SINGLE: [(&str, Backend, Flavor); 4] = [
    (
        "ringtide_io_uring_current",
        Backend::IoUring,
        Flavor::CurrentThread,
    ),
    (
        "ringtide_io_uring_multi1",
        Backend::IoUring,
        Flavor::MultiThread1,
    ),
    ("ringtide_mio_current", Backend::Mio, Flavor::CurrentThread),
    ("ringtide_mio_multi1", Backend::Mio, Flavor::MultiThread1),
];

/// `nop`: raw loop, then ringtide (io_uring current/multi1, mio current).
fn nop(c: &mut Criterion) {
    let mut group = c.benchmark_group("nop");
    group.throughput(Throughput::Elements(1));
    #[cfg(target_os = "linux")]
    raw_cases(&mut group, raw::nops);
    ringtide_cases(&mut group, &RINGTIDE_SINGLE[..3], ringtide_nops);
    group.finish();
}

/// `pipe_read_1b`: raw loop, ringtide (io_uring and mio, current and multi1), tokio.
#[cfg(unix)]
fn pipe_read_1b(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipe_read_1b");
    group.throughput(Throughput::Elements(1));
    #[cfg(target_os = "linux")]
    raw_cases(&mut group, raw::pipe_reads);
    ringtide_cases(&mut group, &RINGTIDE_SINGLE, ringtide_pipe_reads);
    tokio_cases(
        &mut group,
        &[
            ("tokio_current", Flavor::CurrentThread),
            ("tokio_multi1", Flavor::MultiThread1),
        ],
        tokio_pipe_reads,
    );
    group.finish();
}

/// `pipe_read_1b_batch64`: raw loop, ringtide (io_uring and mio), tokio, all
/// current-thread.
#[cfg(unix)]
fn pipe_read_1b_batch64(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipe_read_1b_batch64");
    group.throughput(Throughput::Elements(BATCH_TASKS as u64));
    #[cfg(target_os = "linux")]
    raw_cases(&mut group, raw::pipe_batch);
    ringtide_cases(
        &mut group,
        &[
            (
                "ringtide_io_uring_current",
                Backend::IoUring,
                Flavor::CurrentThread,
            ),
            ("ringtide_mio_current", Backend::Mio, Flavor::CurrentThread),
        ],
        ringtide_pipe_batch,
    );
    tokio_cases(
        &mut group,
        &[("tokio_current", Flavor::CurrentThread)],
        tokio_pipe_batch,
    );
    group.finish();
}

/// Criterion settings: modest by default, smaller with `RINGTIDE_BENCH_QUICK=1`.
fn config() -> Criterion {
    let quick = std::env::var("RINGTIDE_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (samples, warm_up, measurement) = if quick {
        (10, Duration::from_millis(200), Duration::from_millis(500))
    } else {
        (20, Duration::from_millis(500), Duration::from_secs(2))
    };
    Criterion::default()
        .sample_size(samples)
        .warm_up_time(warm_up)
        .measurement_time(measurement)
}

#[cfg(unix)]
criterion_group! {
    name = benches;
    config = config();
    targets = nop, pipe_read_1b, pipe_read_1b_batch64
}
// The pipe groups read through `AsyncFd` and tokio's Unix pipes: Unix only.
#[cfg(not(unix))]
criterion_group! {
    name = benches;
    config = config();
    targets = nop
}

/// `RINGTIDE_OPS_PROBE=<case>:<count>`: instead of benchmarking, runs `count`
/// sequential ops of `case` in one `block_on` on a current-thread io_uring runtime and
/// exits, for instruction counts under `valgrind --tool=callgrind` (run it with two
/// counts; the difference divided by the difference of the counts is the cost of one
/// op, without the runtime's setup and teardown). Cases: `nop`, `nop_no_timer` (a
/// runtime built with `enable_io()` only), `pipe` (the `pipe_read_1b` round trip).
fn probe(spec: &str) {
    let (case, count) = spec
        .split_once(':')
        .expect("RINGTIDE_OPS_PROBE is <case>:<count>");
    let count: u64 = count.parse().expect("the probe's count is a number");
    let mut builder = ringtide::runtime::Builder::new_current_thread();
    builder.backend(Backend::IoUring);
    if case == "nop_no_timer" {
        builder.enable_io();
    } else {
        builder.enable_all();
    }
    let rt = builder.build().expect("an io_uring current-thread runtime");
    let elapsed = match case {
        "nop" | "nop_no_timer" => rt.block_on(ringtide_nops(count)),
        #[cfg(unix)]
        "pipe" => rt.block_on(ringtide_pipe_reads(count)),
        other => panic!("unknown probe case {other:?} (nop, nop_no_timer, pipe)"),
    };
    println!("{case}: {count} ops in {elapsed:?}");
}

fn main() {
    if let Ok(spec) = std::env::var("RINGTIDE_OPS_PROBE") {
        probe(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
