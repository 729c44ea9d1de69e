//! File I/O: ringtide (io_uring and mio) against `tokio::fs`, a `spawn_blocking(pread)`
//! pool round trip, a raw io_uring loop (the limit) and a synchronous `pread` loop (the
//! floor), side by side in one process.
//!
//! Workloads (page cache hot: every file is written and read once before it is
//! measured):
//!
//! * `rand4k qd1` / `rand4k qd32`: 4 KiB reads at random 4 KiB-aligned offsets of one
//!   large file (1 GiB; 64 MiB with `RINGTIDE_BENCH_QUICK=1`), one at a time, or 32 in
//!   flight (32 concurrent loops on one runtime; the raw loop keeps 32 SQEs in flight).
//! * `seq1m qd1`: 1 MiB sequential reads of the large file, wrapping at its end.
//! * `read4k qd1` / `read4k qd32` / `read64k qd1`: whole-file `fs::read` of small files
//!   (the raw loop: a linked OPENAT → READ → CLOSE chain per file).
//! * `metadata qd1`: `fs::metadata` of 10 000 files (1 000 quick), one at a time.
//!
//! Every runtime is a current-thread one (tokio's file I/O goes to its blocking pool
//! either way). Each case runs every implementation for a fixed window, in an order
//! that rotates from round to round (the host's speed drifts), for `rounds` rounds;
//! the table shows the median operations per second with the min–max, and the ratios
//! to the raw loop and to `tokio::fs`, computed from the medians.
//!
//! ```text
//! cargo bench --bench fs                          # 0.5 s windows, 5 rounds
//! RINGTIDE_BENCH_QUICK=1 cargo bench --bench fs   # smoke run: 0.1 s windows, 3 rounds
//! ```
//!
//! Targets (issue 12): io_uring random reads ≥ 0.8× the raw loop at QD1 and QD32;
//! small-file `read` ≥ 2× `tokio::fs::read` at QD1 and ≥ 0.8× the linked chain at QD32;
//! mio random reads ≥ 5× `tokio::fs` (the `RWF_NOWAIT` path).

fn main() {
    #[cfg(target_os = "linux")]
    linux::run();
    #[cfg(not(target_os = "linux"))]
    eprintln!("benches/fs.rs measures Linux file I/O; nothing to do on this platform");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::CString;
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileExt;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use ringtide::runtime::{Backend, Runtime};

    const BLOCK: usize = 4096;
    const QD: usize = 32;

    struct Settings {
        big_file_len: u64,
        small_files: usize,
        metadata_files: usize,
        window: Duration,
        rounds: usize,
    }

    /// The files every case reads, in a temporary directory removed on drop.
    struct Fixture {
        dir: PathBuf,
        big: PathBuf,
        big_len: u64,
        small4k: Vec<PathBuf>,
        small64k: Vec<PathBuf>,
        many: Vec<PathBuf>,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn fixture(settings: &Settings) -> Fixture {
        let dir = std::env::temp_dir().join(format!("ringtide-fs-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the bench directory");
        let big = dir.join("big");
        {
            let mut file = std::fs::File::create(&big).expect("creating the big file");
            let mut chunk = vec![0u8; 1 << 20];
            let mut state = 0x9E37_79B9_7F4A_7C15u64;
            for _ in 0..settings.big_file_len / chunk.len() as u64 {
                for byte in chunk.iter_mut() {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    *byte = state as u8;
                }
                file.write_all(&chunk).expect("writing the big file");
            }
        }
        let make = |name: &str, count: usize, len: usize| -> Vec<PathBuf> {
            let sub = dir.join(name);
            std::fs::create_dir(&sub).expect("creating a file directory");
            let content = vec![7u8; len];
            (0..count)
                .map(|index| {
                    let path = sub.join(format!("{index}"));
                    std::fs::write(&path, &content).expect("writing a small file");
                    path
                })
                .collect()
        };
        let small4k = make("small4k", settings.small_files, 4096);
        let small64k = make("small64k", settings.small_files, 64 * 1024);
        let many = make("many", settings.metadata_files, 0);
        // Page cache hot: read everything once.
        let mut sink = Vec::new();
        for path in std::iter::once(&big).chain(&small4k).chain(&small64k) {
            sink.clear();
            std::io::Read::read_to_end(&mut std::fs::File::open(path).unwrap(), &mut sink).unwrap();
        }
        Fixture {
            dir,
            big,
            big_len: settings.big_file_len,
            small4k,
            small64k,
            many,
        }
    }

    /// A small xorshift generator: the same offsets for every implementation.
    struct Offsets(u64, u64);

    impl Offsets {
        fn new(seed: u64, len: u64) -> Offsets {
            Offsets(
                seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
                len / BLOCK as u64,
            )
        }

        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % self.1) * BLOCK as u64
        }
    }

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Case {
        Rand4kQd1,
        Rand4kQd32,
        Seq1mQd1,
        Read4kQd1,
        Read4kQd32,
        Read64kQd1,
        MetadataQd1,
    }

    impl Case {
        const ALL: [Case; 7] = [
            Case::Rand4kQd1,
            Case::Rand4kQd32,
            Case::Seq1mQd1,
            Case::Read4kQd1,
            Case::Read4kQd32,
            Case::Read64kQd1,
            Case::MetadataQd1,
        ];

        fn name(self) -> &'static str {
            match self {
                Case::Rand4kQd1 => "rand4k qd1",
                Case::Rand4kQd32 => "rand4k qd32",
                Case::Seq1mQd1 => "seq1m qd1",
                Case::Read4kQd1 => "read4k qd1",
                Case::Read4kQd32 => "read4k qd32",
                Case::Read64kQd1 => "read64k qd1",
                Case::MetadataQd1 => "metadata qd1",
            }
        }

        fn depth(self) -> usize {
            match self {
                Case::Rand4kQd32 | Case::Read4kQd32 => QD,
                _ => 1,
            }
        }
    }

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Implementation {
        RingtideUring,
        RingtideMio,
        TokioFs,
        TokioSpawnBlocking,
        RawUring,
        SyncPread,
    }

    impl Implementation {
        const ALL: [Implementation; 6] = [
            Implementation::RingtideUring,
            Implementation::RingtideMio,
            Implementation::TokioFs,
            Implementation::TokioSpawnBlocking,
            Implementation::RawUring,
            Implementation::SyncPread,
        ];

        fn name(self) -> &'static str {
            match self {
                Implementation::RingtideUring => "ringtide io_uring",
                Implementation::RingtideMio => "ringtide mio",
                Implementation::TokioFs => "tokio::fs",
                Implementation::TokioSpawnBlocking => "tokio spawn_blocking",
                Implementation::RawUring => "raw io_uring",
                Implementation::SyncPread => "sync (floor)",
            }
        }
    }

    fn ringtide_runtime(backend: Backend) -> Option<Runtime> {
        match ringtide::runtime::Builder::new_current_thread()
            .backend(backend)
            .enable_all()
            .build()
        {
            Ok(rt) => Some(rt),
            Err(error) => {
                eprintln!("skipping ringtide {backend}: {error}");
                None
            }
        }
    }

    struct Runtimes {
        uring: Option<Runtime>,
        mio: Option<Runtime>,
        tokio: tokio::runtime::Runtime,
    }

    /// Runs `case` on `implementation` for `window`; returns operations per second, or
    /// `None` when the combination does not exist (a skipped backend).
    fn measure(
        case: Case,
        implementation: Implementation,
        runtimes: &Runtimes,
        fixture: &Fixture,
        window: Duration,
    ) -> Option<f64> {
        let (ops, elapsed) = match implementation {
            Implementation::RingtideUring => {
                ringtide_case(runtimes.uring.as_ref()?, case, fixture, window)
            }
            Implementation::RingtideMio => {
                ringtide_case(runtimes.mio.as_ref()?, case, fixture, window)
            }
            Implementation::TokioFs => tokio_case(&runtimes.tokio, case, fixture, window, false),
            Implementation::TokioSpawnBlocking => {
                tokio_case(&runtimes.tokio, case, fixture, window, true)
            }
            Implementation::RawUring => raw::case(case, fixture, window)?,
            Implementation::SyncPread => sync_case(case, fixture, window),
        };
        Some(ops as f64 / elapsed.as_secs_f64())
    }

    fn seq_offset(index: u64, len: u64) -> u64 {
        (index * (1 << 20)) % (len - (1 << 20) + 1)
    }

    fn ringtide_case(
        rt: &Runtime,
        case: Case,
        fixture: &Fixture,
        window: Duration,
    ) -> (u64, Duration) {
        let big = fixture.big.clone();
        let len = fixture.big_len;
        let small4k = fixture.small4k.clone();
        let small64k = fixture.small64k.clone();
        let many = fixture.many.clone();
        rt.block_on(async move {
            let start = Instant::now();
            let deadline = start + window;
            let ops = match case {
                Case::Rand4kQd1 | Case::Rand4kQd32 => {
                    let file = Arc::new(ringtide::fs::File::open(&big).await.expect("open"));
                    let loops = (0..case.depth()).map(|lane| {
                        let file = file.clone();
                        async move {
                            let mut offsets = Offsets::new(lane as u64 + 1, len);
                            let mut buf = vec![0u8; BLOCK];
                            let mut ops = 0u64;
                            while Instant::now() < deadline {
                                let (result, returned) = file.read_at(buf, offsets.next()).await;
                                assert_eq!(result.expect("read_at"), BLOCK);
                                buf = returned;
                                ops += 1;
                            }
                            ops
                        }
                    });
                    futures::future::join_all(loops).await.into_iter().sum()
                }
                Case::Seq1mQd1 => {
                    let file = ringtide::fs::File::open(&big).await.expect("open");
                    let mut buf = vec![0u8; 1 << 20];
                    let mut ops = 0u64;
                    while Instant::now() < deadline {
                        let (result, returned) = file.read_at(buf, seq_offset(ops, len)).await;
                        assert_eq!(result.expect("read_at"), 1 << 20);
                        buf = returned;
                        ops += 1;
                    }
                    ops
                }
                Case::Read4kQd1 | Case::Read4kQd32 | Case::Read64kQd1 => {
                    let (files, expected) = if case == Case::Read64kQd1 {
                        (small64k, 64 * 1024)
                    } else {
                        (small4k, 4096)
                    };
                    let files = Arc::new(files);
                    let loops = (0..case.depth()).map(|lane| {
                        let files = files.clone();
                        async move {
                            let mut ops = 0u64;
                            let mut index = lane;
                            while Instant::now() < deadline {
                                let data = ringtide::fs::read(&files[index % files.len()])
                                    .await
                                    .expect("fs::read");
                                assert_eq!(data.len(), expected);
                                index += case.depth();
                                ops += 1;
                            }
                            ops
                        }
                    });
                    futures::future::join_all(loops).await.into_iter().sum()
                }
                Case::MetadataQd1 => {
                    let mut ops = 0u64;
                    while Instant::now() < deadline {
                        let metadata = ringtide::fs::metadata(&many[ops as usize % many.len()])
                            .await
                            .expect("fs::metadata");
                        assert!(metadata.is_file());
                        ops += 1;
                    }
                    ops
                }
            };
            (ops, start.elapsed())
        })
    }

    fn tokio_case(
        rt: &tokio::runtime::Runtime,
        case: Case,
        fixture: &Fixture,
        window: Duration,
        spawn_blocking: bool,
    ) -> (u64, Duration) {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let big = fixture.big.clone();
        let len = fixture.big_len;
        let small4k = Arc::new(fixture.small4k.clone());
        let small64k = Arc::new(fixture.small64k.clone());
        let many = fixture.many.clone();
        rt.block_on(async move {
            let start = Instant::now();
            let deadline = start + window;
            let ops = match case {
                Case::Rand4kQd1 | Case::Rand4kQd32 | Case::Seq1mQd1 if spawn_blocking => {
                    let file = Arc::new(std::fs::File::open(&big).expect("open"));
                    let size = if case == Case::Seq1mQd1 {
                        1 << 20
                    } else {
                        BLOCK
                    };
                    let loops = (0..case.depth()).map(|lane| {
                        let file = file.clone();
                        async move {
                            let mut offsets = Offsets::new(lane as u64 + 1, len);
                            let mut buf = vec![0u8; size];
                            let mut ops = 0u64;
                            while Instant::now() < deadline {
                                let offset = if case == Case::Seq1mQd1 {
                                    seq_offset(ops, len)
                                } else {
                                    offsets.next()
                                };
                                let file = file.clone();
                                buf = tokio::task::spawn_blocking(move || {
                                    file.read_exact_at(&mut buf, offset).expect("pread");
                                    buf
                                })
                                .await
                                .unwrap();
                                ops += 1;
                            }
                            ops
                        }
                    });
                    futures::future::join_all(loops).await.into_iter().sum()
                }
                Case::Rand4kQd1 | Case::Rand4kQd32 | Case::Seq1mQd1 => {
                    let size = if case == Case::Seq1mQd1 {
                        1 << 20
                    } else {
                        BLOCK
                    };
                    let loops = (0..case.depth()).map(|lane| {
                        let big = big.clone();
                        async move {
                            // tokio::fs::File runs one operation at a time: one per lane.
                            let mut file = tokio::fs::File::open(&big).await.expect("open");
                            let mut offsets = Offsets::new(lane as u64 + 1, len);
                            let mut buf = vec![0u8; size];
                            let mut ops = 0u64;
                            while Instant::now() < deadline {
                                let offset = if case == Case::Seq1mQd1 {
                                    seq_offset(ops, len)
                                } else {
                                    offsets.next()
                                };
                                file.seek(std::io::SeekFrom::Start(offset))
                                    .await
                                    .expect("seek");
                                file.read_exact(&mut buf).await.expect("read");
                                ops += 1;
                            }
                            ops
                        }
                    });
                    futures::future::join_all(loops).await.into_iter().sum()
                }
                Case::Read4kQd1 | Case::Read4kQd32 | Case::Read64kQd1 => {
                    let (files, expected) = if case == Case::Read64kQd1 {
                        (small64k, 64 * 1024)
                    } else {
                        (small4k, 4096)
                    };
                    let loops = (0..case.depth()).map(|lane| {
                        let files = files.clone();
                        async move {
                            let mut ops = 0u64;
                            let mut index = lane;
                            while Instant::now() < deadline {
                                let path = files[index % files.len()].clone();
                                let data = if spawn_blocking {
                                    tokio::task::spawn_blocking(move || std::fs::read(path))
                                        .await
                                        .unwrap()
                                } else {
                                    tokio::fs::read(path).await
                                }
                                .expect("read");
                                assert_eq!(data.len(), expected);
                                index += case.depth();
                                ops += 1;
                            }
                            ops
                        }
                    });
                    futures::future::join_all(loops).await.into_iter().sum()
                }
                Case::MetadataQd1 => {
                    let mut ops = 0u64;
                    while Instant::now() < deadline {
                        let path = many[ops as usize % many.len()].clone();
                        let metadata = if spawn_blocking {
                            tokio::task::spawn_blocking(move || std::fs::metadata(path))
                                .await
                                .unwrap()
                        } else {
                            tokio::fs::metadata(path).await
                        }
                        .expect("metadata");
                        assert!(metadata.is_file());
                        ops += 1;
                    }
                    ops
                }
            };
            (ops, start.elapsed())
        })
    }

    /// The floor: the same work with blocking calls on this thread (QD32 cases run
    /// their 32 lanes one after the other, which is what a single thread can do).
    fn sync_case(case: Case, fixture: &Fixture, window: Duration) -> (u64, Duration) {
        let start = Instant::now();
        let deadline = start + window;
        let mut ops = 0u64;
        match case {
            Case::Rand4kQd1 | Case::Rand4kQd32 | Case::Seq1mQd1 => {
                let file = std::fs::File::open(&fixture.big).expect("open");
                let size = if case == Case::Seq1mQd1 {
                    1 << 20
                } else {
                    BLOCK
                };
                let mut offsets = Offsets::new(1, fixture.big_len);
                let mut buf = vec![0u8; size];
                while Instant::now() < deadline {
                    let offset = if case == Case::Seq1mQd1 {
                        seq_offset(ops, fixture.big_len)
                    } else {
                        offsets.next()
                    };
                    file.read_exact_at(&mut buf, offset).expect("pread");
                    ops += 1;
                }
            }
            Case::Read4kQd1 | Case::Read4kQd32 | Case::Read64kQd1 => {
                let files = if case == Case::Read64kQd1 {
                    &fixture.small64k
                } else {
                    &fixture.small4k
                };
                while Instant::now() < deadline {
                    let data = std::fs::read(&files[ops as usize % files.len()]).expect("read");
                    assert!(!data.is_empty());
                    ops += 1;
                }
            }
            Case::MetadataQd1 => {
                while Instant::now() < deadline {
                    let metadata =
                        std::fs::metadata(&fixture.many[ops as usize % fixture.many.len()])
                            .expect("metadata");
                    assert!(metadata.is_file());
                    ops += 1;
                }
            }
        }
        (ops, start.elapsed())
    }

    fn c_path(path: &Path) -> CString {
        CString::new(path.as_os_str().as_bytes()).expect("a path without NUL")
    }

    /// The raw io_uring loops: no runtime, one ring, the same setup flags ringtide tries
    /// first.
    mod raw {
        use super::*;
        use io_uring::{IoUring, opcode, squeue, types};
        use std::os::fd::AsRawFd;

        fn ring() -> Option<IoUring> {
            match IoUring::builder()
                .setup_single_issuer()
                .setup_defer_taskrun()
                .setup_submit_all()
                .build(256)
            {
                Ok(ring) => Some(ring),
                Err(error) => {
                    eprintln!("skipping the raw io_uring loop: {error}");
                    None
                }
            }
        }

        pub(super) fn case(
            case: Case,
            fixture: &Fixture,
            window: Duration,
        ) -> Option<(u64, Duration)> {
            let mut ring = ring()?;
            let start = Instant::now();
            let deadline = start + window;
            let ops = match case {
                Case::Rand4kQd1 | Case::Rand4kQd32 | Case::Seq1mQd1 => {
                    reads(&mut ring, case, fixture, deadline)
                }
                Case::Read4kQd1 | Case::Read4kQd32 | Case::Read64kQd1 => {
                    whole_files(&mut ring, case, fixture, deadline)
                }
                Case::MetadataQd1 => statx(&mut ring, fixture, deadline),
            };
            Some((ops, start.elapsed()))
        }

        fn reads(ring: &mut IoUring, case: Case, fixture: &Fixture, deadline: Instant) -> u64 {
            let file = std::fs::File::open(&fixture.big).expect("open");
            let fd = types::Fd(file.as_raw_fd());
            let size = if case == Case::Seq1mQd1 {
                1 << 20
            } else {
                BLOCK
            };
            let depth = case.depth();
            let mut bufs: Vec<Vec<u8>> = (0..depth).map(|_| vec![0u8; size]).collect();
            let mut offsets = Offsets::new(1, fixture.big_len);
            let mut ops = 0u64;
            let mut issued = 0u64;
            let mut push = |ring: &mut IoUring, lane: usize, issued: &mut u64| {
                let offset = if case == Case::Seq1mQd1 {
                    seq_offset(*issued, fixture.big_len)
                } else {
                    offsets.next()
                };
                let entry = opcode::Read::new(fd, bufs[lane].as_mut_ptr(), size as u32)
                    .offset(offset)
                    .build()
                    .user_data(lane as u64);
                // SAFETY: the buffer lives (and is not touched) until its CQE is reaped.
                unsafe { ring.submission().push(&entry).expect("SQ full") };
                *issued += 1;
            };
            for lane in 0..depth {
                push(ring, lane, &mut issued);
            }
            loop {
                ring.submit_and_wait(1).expect("io_uring_enter");
                let done: Vec<(usize, i32)> = ring
                    .completion()
                    .map(|cqe| (cqe.user_data() as usize, cqe.result()))
                    .collect();
                let keep_going = Instant::now() < deadline;
                for (lane, result) in done {
                    assert_eq!(result, size as i32, "raw read");
                    ops += 1;
                    if keep_going {
                        push(ring, lane, &mut issued);
                    }
                }
                if issued == ops {
                    return ops;
                }
            }
        }

        /// OPENAT → READ → CLOSE, linked, per file; QD32 keeps 32 chains in flight. A
        /// linked READ cannot name an fd the OPENAT before it returns, so each lane opens
        /// into a registered file slot of its own (a direct descriptor) and reads and
        /// closes that slot.
        fn whole_files(
            ring: &mut IoUring,
            case: Case,
            fixture: &Fixture,
            deadline: Instant,
        ) -> u64 {
            let (files, size) = if case == Case::Read64kQd1 {
                (&fixture.small64k, 64 * 1024)
            } else {
                (&fixture.small4k, 4096)
            };
            let depth = case.depth();
            ring.submitter()
                .register_files_sparse(depth as u32)
                .expect("registering file slots");
            let paths: Vec<CString> = files.iter().map(|path| c_path(path)).collect();
            let mut bufs: Vec<Vec<u8>> = (0..depth).map(|_| vec![0u8; size]).collect();
            let mut next = 0usize;
            let mut ops = 0u64;
            let mut in_flight = 0usize;
            let mut push = |ring: &mut IoUring, lane: usize, next: &mut usize| {
                let path = &paths[*next % paths.len()];
                *next += 1;
                let slot = types::DestinationSlot::try_from_slot_target(lane as u32).unwrap();
                let open = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
                    // A direct descriptor takes no O_CLOEXEC (EINVAL): it is not an fd.
                    .flags(libc::O_RDONLY)
                    .file_index(Some(slot))
                    .build()
                    .flags(squeue::Flags::IO_LINK)
                    .user_data(u64::MAX);
                let read = opcode::Read::new(
                    types::Fixed(lane as u32),
                    bufs[lane].as_mut_ptr(),
                    size as u32,
                )
                .offset(0)
                .build()
                .flags(squeue::Flags::IO_LINK)
                .user_data(u64::MAX - 1);
                let close = opcode::Close::new(types::Fixed(lane as u32))
                    .build()
                    .user_data(lane as u64);
                // SAFETY: the path and buffer live until the chain's CQEs are reaped.
                unsafe {
                    let mut sq = ring.submission();
                    sq.push(&open).expect("SQ full");
                    sq.push(&read).expect("SQ full");
                    sq.push(&close).expect("SQ full");
                }
            };
            for lane in 0..depth {
                push(ring, lane, &mut next);
                in_flight += 1;
            }
            loop {
                ring.submit_and_wait(1).expect("io_uring_enter");
                let done: Vec<(u64, i32)> = ring
                    .completion()
                    .map(|cqe| (cqe.user_data(), cqe.result()))
                    .collect();
                let keep_going = Instant::now() < deadline;
                for (user_data, result) in done {
                    if user_data == u64::MAX - 1 {
                        assert_eq!(result, size as i32, "raw chained read");
                        continue;
                    }
                    if user_data == u64::MAX {
                        assert!(result >= 0, "raw chained open: {result}");
                        continue;
                    }
                    assert!(result >= 0, "raw chained close: {result}");
                    ops += 1;
                    in_flight -= 1;
                    if keep_going {
                        push(ring, user_data as usize, &mut next);
                        in_flight += 1;
                    }
                }
                if in_flight == 0 {
                    return ops;
                }
            }
        }

        fn statx(ring: &mut IoUring, fixture: &Fixture, deadline: Instant) -> u64 {
            let paths: Vec<CString> = fixture.many.iter().map(|path| c_path(path)).collect();
            // SAFETY: all zeroes is a valid `statx` buffer.
            let mut buf: libc::statx = unsafe { std::mem::zeroed() };
            let mut ops = 0u64;
            while Instant::now() < deadline {
                let path = &paths[ops as usize % paths.len()];
                let entry = opcode::Statx::new(
                    types::Fd(libc::AT_FDCWD),
                    path.as_ptr(),
                    (&raw mut buf).cast(),
                )
                .mask(libc::STATX_BASIC_STATS)
                .build();
                // SAFETY: the path and the buffer live until the CQE is reaped below.
                unsafe { ring.submission().push(&entry).expect("SQ full") };
                ring.submit_and_wait(1).expect("io_uring_enter");
                let result = ring.completion().next().expect("a CQE").result();
                assert_eq!(result, 0, "raw statx");
                ops += 1;
            }
            ops
        }
    }

    fn median(values: &mut [f64]) -> f64 {
        values.sort_by(|a, b| a.total_cmp(b));
        values[values.len() / 2]
    }

    pub(super) fn run() {
        let quick = std::env::var("RINGTIDE_BENCH_QUICK").is_ok_and(|value| value == "1");
        let settings = if quick {
            Settings {
                big_file_len: 64 << 20,
                small_files: 256,
                metadata_files: 1000,
                window: Duration::from_millis(100),
                rounds: 3,
            }
        } else {
            Settings {
                big_file_len: 1 << 30,
                small_files: 1000,
                metadata_files: 10_000,
                window: Duration::from_millis(500),
                rounds: 5,
            }
        };
        let fixture = fixture(&settings);
        let runtimes = Runtimes {
            uring: ringtide_runtime(Backend::IoUring),
            mio: ringtide_runtime(Backend::Mio),
            tokio: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime"),
        };
        println!(
            "file I/O, page cache hot, {} MiB file, {} small files, {} for metadata; \
             median of {} rounds × {:?} windows, implementations rotated per round",
            settings.big_file_len >> 20,
            settings.small_files,
            settings.metadata_files,
            settings.rounds,
            settings.window
        );
        println!(
            "\n{:<13} {:<21} {:>12} {:>25} {:>9} {:>9}",
            "case", "implementation", "ops/s", "min–max", "vs raw", "vs tokio"
        );
        for case in Case::ALL {
            let mut samples: Vec<Vec<f64>> =
                Implementation::ALL.iter().map(|_| Vec::new()).collect();
            // Warm-up, not recorded.
            for implementation in Implementation::ALL {
                measure(
                    case,
                    implementation,
                    &runtimes,
                    &fixture,
                    settings.window / 4,
                );
            }
            for round in 0..settings.rounds {
                for offset in 0..Implementation::ALL.len() {
                    let index = (round + offset) % Implementation::ALL.len();
                    if let Some(rate) = measure(
                        case,
                        Implementation::ALL[index],
                        &runtimes,
                        &fixture,
                        settings.window,
                    ) {
                        samples[index].push(rate);
                    }
                }
            }
            let medians: Vec<Option<f64>> = samples
                .iter_mut()
                .map(|values| (!values.is_empty()).then(|| median(values)))
                .collect();
            let raw = medians[4];
            let tokio = medians[2];
            for (index, implementation) in Implementation::ALL.into_iter().enumerate() {
                let Some(rate) = medians[index] else {
                    continue;
                };
                let values = &samples[index];
                let range = format!("{:.0}–{:.0}", values[0], values[values.len() - 1]);
                let ratio = |reference: Option<f64>| {
                    reference.map_or("-".to_owned(), |reference| {
                        format!("{:.2}×", rate / reference)
                    })
                };
                println!(
                    "{:<13} {:<21} {:>12.0} {:>25} {:>9} {:>9}",
                    case.name(),
                    implementation.name(),
                    rate,
                    range,
                    ratio(raw),
                    ratio(tokio)
                );
            }
        }
    }
}
