//! File reads (from `benches/fs.rs`): 4 KiB reads at random 4 KiB-aligned offsets of
//! one large file at queue depth 1 and 32, and whole-file reads of 4 KiB files at QD1
//! and QD32, page cache hot, on current-thread runtimes in this process: ringtide (both
//! backends), `tokio::fs`, monoio (io_uring driver) and a raw io_uring loop (for the
//! small files a linked OPENAT → READ → CLOSE chain into a registered file slot).
//!
//! QD32 is 32 concurrent loops on one runtime (the raw loop keeps 32 SQEs or chains in
//! flight). Every implementation reads the same offsets (one xorshift sequence per
//! lane) and the same files. `benches/fs.rs` keeps the cases this suite does not run
//! (sequential 1 MiB reads, 64 KiB files, `metadata`, `spawn_blocking`, a synchronous
//! floor).

use std::io;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cpu;
use crate::report::{Implementation, Sample};

const BLOCK: usize = 4096;
const QD: usize = 32;

/// The implementations these cases run on.
pub const IMPLEMENTATIONS: [Implementation; 5] = Implementation::ALL;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    Rand4kQd1,
    Rand4kQd32,
    Small4kQd1,
    Small4kQd32,
}

impl Case {
    pub const ALL: [Case; 4] = [
        Case::Rand4kQd1,
        Case::Rand4kQd32,
        Case::Small4kQd1,
        Case::Small4kQd32,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Case::Rand4kQd1 => "4 KiB random reads, QD1",
            Case::Rand4kQd32 => "4 KiB random reads, QD32",
            Case::Small4kQd1 => "read 4 KiB files, QD1",
            Case::Small4kQd32 => "read 4 KiB files, QD32",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Case::Rand4kQd1 | Case::Rand4kQd32 => "reads/s",
            Case::Small4kQd1 | Case::Small4kQd32 => "files/s",
        }
    }

    fn depth(self) -> usize {
        match self {
            Case::Rand4kQd32 | Case::Small4kQd32 => QD,
            Case::Rand4kQd1 | Case::Small4kQd1 => 1,
        }
    }

    fn random(self) -> bool {
        matches!(self, Case::Rand4kQd1 | Case::Rand4kQd32)
    }
}

/// The files every case reads, in a temporary directory removed on drop.
pub struct Fixture {
    dir: PathBuf,
    big: PathBuf,
    big_len: u64,
    small: Arc<Vec<PathBuf>>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixture {
    /// Writes a `big_len`-byte file (rounded down to MiB, at least 1 MiB) and
    /// `small_files` 4 KiB files, then reads all of them once (page cache hot).
    pub fn create(big_len: u64, small_files: usize) -> io::Result<Fixture> {
        use std::io::Write;
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "ringtide-bench-files-{}-{unique}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("small"))?;
        let fixture = Fixture {
            big: dir.join("big"),
            big_len: (big_len >> 20).max(1) << 20,
            small: Arc::new(
                (0..small_files.max(1))
                    .map(|index| dir.join("small").join(index.to_string()))
                    .collect(),
            ),
            dir,
        };
        let mut file = io::BufWriter::new(std::fs::File::create(&fixture.big)?);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut chunk = vec![0u8; 1 << 20];
        for _ in 0..fixture.big_len >> 20 {
            for byte in chunk.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = state as u8;
            }
            file.write_all(&chunk)?;
        }
        file.into_inner()
            .map_err(|error| error.into_error())?
            .sync_all()?;
        let content = vec![7u8; BLOCK];
        for path in fixture.small.iter() {
            std::fs::write(path, &content)?;
        }
        for path in std::iter::once(&fixture.big).chain(fixture.small.iter()) {
            std::fs::read(path)?;
        }
        Ok(fixture)
    }
}

/// The same offsets for every implementation: a small xorshift generator per lane.
struct Offsets(u64, u64);

impl Offsets {
    fn new(lane: usize, len: u64) -> Offsets {
        Offsets(
            (lane as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
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

fn short_read(read: usize) -> io::Result<()> {
    if read == BLOCK {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "short read: {read} of {BLOCK} bytes"
        )))
    }
}

/// What one timed body did: the clock and the CPU start after the runtime (or ring) is
/// built, so its setup is not measured.
struct Timed {
    ops: u64,
    elapsed: Duration,
    cpu: Duration,
}

/// Runs `body` with the deadline `window` from now, and times it.
fn timed(window: Duration, body: impl FnOnce(Instant) -> io::Result<u64>) -> io::Result<Timed> {
    let cpu_start = cpu::process_time();
    let start = Instant::now();
    let ops = body(start + window)?;
    Ok(Timed {
        ops,
        elapsed: start.elapsed(),
        cpu: cpu::process_time().saturating_sub(cpu_start),
    })
}

/// One run of `case` on `implementation` for `window` (every lane does at least one
/// operation).
pub fn run(
    case: Case,
    implementation: Implementation,
    fixture: &Fixture,
    window: Duration,
) -> Result<Sample, String> {
    let timed = match implementation {
        Implementation::RingtideUring => {
            ringtide(ringtide::runtime::Backend::IoUring, case, fixture, window)
        }
        Implementation::RingtideMio => {
            ringtide(ringtide::runtime::Backend::Mio, case, fixture, window)
        }
        Implementation::Tokio => tokio(case, fixture, window),
        #[cfg(target_os = "linux")]
        Implementation::Monoio => monoio(case, fixture, window),
        #[cfg(target_os = "linux")]
        Implementation::RawUring => raw::run(case, fixture, window),
        #[cfg(not(target_os = "linux"))]
        Implementation::Monoio | Implementation::RawUring => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "io_uring is Linux only",
        )),
        Implementation::RingtideUringPoll
        | Implementation::RingtideUringPollMulti
        | Implementation::RingtideMioPoll => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the poll-trait servers are network-only",
        )),
    }
    .map_err(|error| error.to_string())?;
    Ok(Sample {
        throughput: timed.ops as f64 / timed.elapsed.as_secs_f64(),
        cpu_per_op_us: Some(timed.cpu.as_secs_f64() * 1e6 / timed.ops.max(1) as f64),
        ..Sample::default()
    })
}

fn ringtide(
    backend: ringtide::runtime::Backend,
    case: Case,
    fixture: &Fixture,
    window: Duration,
) -> io::Result<Timed> {
    let runtime = ringtide::runtime::Builder::new_current_thread()
        .backend(backend)
        .enable_all()
        .build()?;
    let (big, len, small) = (fixture.big.clone(), fixture.big_len, fixture.small.clone());
    timed(window, |deadline| {
        runtime.block_on(async move {
            let file = Rc::new(ringtide::fs::File::open(&big).await?);
            let lanes = (0..case.depth()).map(|lane| {
                let (file, small) = (file.clone(), small.clone());
                async move {
                    let mut offsets = Offsets::new(lane, len);
                    let mut buf = vec![0u8; BLOCK];
                    let mut ops = 0u64;
                    let mut index = lane;
                    while ops == 0 || Instant::now() < deadline {
                        if case.random() {
                            let (result, returned) = file.read_at(buf, offsets.next()).await;
                            short_read(result?)?;
                            buf = returned;
                        } else {
                            let data = ringtide::fs::read(&small[index % small.len()]).await?;
                            short_read(data.len())?;
                            index += case.depth();
                        }
                        ops += 1;
                    }
                    Ok::<u64, io::Error>(ops)
                }
            });
            futures::future::join_all(lanes).await.into_iter().sum()
        })
    })
}

fn tokio(case: Case, fixture: &Fixture, window: Duration) -> io::Result<Timed> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (big, len, small) = (fixture.big.clone(), fixture.big_len, fixture.small.clone());
    timed(window, |deadline| {
        runtime.block_on(async move {
            let lanes = (0..case.depth()).map(|lane| {
                let (big, small) = (big.clone(), small.clone());
                async move {
                    let mut offsets = Offsets::new(lane, len);
                    // tokio::fs::File runs one operation at a time: one per lane.
                    let mut file = tokio::fs::File::open(&big).await?;
                    let mut buf = vec![0u8; BLOCK];
                    let mut ops = 0u64;
                    let mut index = lane;
                    while ops == 0 || Instant::now() < deadline {
                        if case.random() {
                            file.seek(io::SeekFrom::Start(offsets.next())).await?;
                            file.read_exact(&mut buf).await?;
                        } else {
                            let data = tokio::fs::read(&small[index % small.len()]).await?;
                            short_read(data.len())?;
                            index += case.depth();
                        }
                        ops += 1;
                    }
                    Ok::<u64, io::Error>(ops)
                }
            });
            futures::future::join_all(lanes).await.into_iter().sum()
        })
    })
}

#[cfg(target_os = "linux")]
fn monoio(case: Case, fixture: &Fixture, window: Duration) -> io::Result<Timed> {
    let mut runtime = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build()?;
    let (big, len, small) = (fixture.big.clone(), fixture.big_len, fixture.small.clone());
    timed(window, |deadline| {
        runtime.block_on(async move {
            let file = Rc::new(monoio::fs::File::open(&big).await?);
            let lanes = (0..case.depth()).map(|lane| {
                let (file, small) = (file.clone(), small.clone());
                async move {
                    let mut offsets = Offsets::new(lane, len);
                    let mut buf = vec![0u8; BLOCK];
                    let mut ops = 0u64;
                    let mut index = lane;
                    while ops == 0 || Instant::now() < deadline {
                        if case.random() {
                            let (result, returned) = file.read_at(buf, offsets.next()).await;
                            short_read(result?)?;
                            buf = returned;
                        } else {
                            let data = monoio::fs::read(&small[index % small.len()]).await?;
                            short_read(data.len())?;
                            index += case.depth();
                        }
                        ops += 1;
                    }
                    Ok::<u64, io::Error>(ops)
                }
            });
            futures::future::join_all(lanes).await.into_iter().sum()
        })
    })
}

/// The raw io_uring loops: no runtime, one ring, the setup flags ringtide tries first.
#[cfg(target_os = "linux")]
mod raw {
    use super::*;
    use io_uring::{IoUring, opcode, squeue, types};
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;

    fn ring() -> io::Result<IoUring> {
        IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(256)
            .or_else(|_| IoUring::new(256))
    }

    pub(super) fn run(case: Case, fixture: &Fixture, window: Duration) -> io::Result<Timed> {
        let mut ring = ring()?;
        timed(window, |deadline| {
            if case.random() {
                reads(&mut ring, case, fixture, deadline)
            } else {
                whole_files(&mut ring, case, fixture, deadline)
            }
        })
    }

    /// Reaps every completion after waiting for at least one.
    fn reap(ring: &mut IoUring) -> io::Result<Vec<(u64, i32)>> {
        ring.submit_and_wait(1)?;
        Ok(ring
            .completion()
            .map(|cqe| (cqe.user_data(), cqe.result()))
            .collect())
    }

    fn reads(
        ring: &mut IoUring,
        case: Case,
        fixture: &Fixture,
        deadline: Instant,
    ) -> io::Result<u64> {
        let file = std::fs::File::open(&fixture.big)?;
        let fd = types::Fd(file.as_raw_fd());
        let depth = case.depth();
        let mut bufs: Vec<Vec<u8>> = (0..depth).map(|_| vec![0u8; BLOCK]).collect();
        let mut offsets: Vec<Offsets> = (0..depth)
            .map(|lane| Offsets::new(lane, fixture.big_len))
            .collect();
        let (mut ops, mut in_flight) = (0u64, 0usize);
        let mut push = |ring: &mut IoUring, lane: usize| {
            let entry = opcode::Read::new(fd, bufs[lane].as_mut_ptr(), BLOCK as u32)
                .offset(offsets[lane].next())
                .build()
                .user_data(lane as u64);
            // SAFETY: the buffer lives (and is not touched) until its CQE is reaped; the
            // ring has room for `depth` (≤ 32) entries.
            unsafe { ring.submission().push(&entry) }.map_err(|_| io::Error::other("SQ full"))
        };
        for lane in 0..depth {
            push(ring, lane)?;
            in_flight += 1;
        }
        while in_flight > 0 {
            let keep_going = Instant::now() < deadline;
            for (lane, result) in reap(ring)? {
                in_flight -= 1;
                if result < 0 {
                    return Err(io::Error::from_raw_os_error(-result));
                }
                short_read(result as usize)?;
                ops += 1;
                if keep_going {
                    push(ring, lane as usize)?;
                    in_flight += 1;
                }
            }
        }
        Ok(ops)
    }

    /// OPENAT → READ → CLOSE, linked, per file. A linked READ cannot name the fd the
    /// OPENAT before it returns, so each lane opens into a registered file slot of its
    /// own (a direct descriptor) and reads and closes that slot.
    fn whole_files(
        ring: &mut IoUring,
        case: Case,
        fixture: &Fixture,
        deadline: Instant,
    ) -> io::Result<u64> {
        const OPEN: u64 = u64::MAX;
        const READ: u64 = u64::MAX - 1;
        let depth = case.depth();
        ring.submitter().register_files_sparse(depth as u32)?;
        let paths: Vec<CString> = fixture
            .small
            .iter()
            .map(|path| CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other))
            .collect::<io::Result<_>>()?;
        let mut bufs: Vec<Vec<u8>> = (0..depth).map(|_| vec![0u8; BLOCK]).collect();
        let (mut next, mut ops, mut in_flight) = (0usize, 0u64, 0usize);
        let mut push = |ring: &mut IoUring, lane: usize, next: &mut usize| {
            let path = &paths[*next % paths.len()];
            *next += 1;
            let slot = types::DestinationSlot::try_from_slot_target(lane as u32)
                .map_err(|_| io::Error::other("bad file slot"))?;
            let open = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
                // A direct descriptor takes no O_CLOEXEC (EINVAL): it is not an fd.
                .flags(libc::O_RDONLY)
                .file_index(Some(slot))
                .build()
                .flags(squeue::Flags::IO_LINK)
                .user_data(OPEN);
            let read = opcode::Read::new(
                types::Fixed(lane as u32),
                bufs[lane].as_mut_ptr(),
                BLOCK as u32,
            )
            .offset(0)
            .build()
            .flags(squeue::Flags::IO_LINK)
            .user_data(READ);
            let close = opcode::Close::new(types::Fixed(lane as u32))
                .build()
                .user_data(lane as u64);
            // SAFETY: the path and buffer live until the chain's CQEs are reaped; the
            // ring has room for `depth` (≤ 32) chains of 3 entries.
            unsafe {
                let mut sq = ring.submission();
                for entry in [&open, &read, &close] {
                    sq.push(entry).map_err(|_| io::Error::other("SQ full"))?;
                }
            }
            Ok::<(), io::Error>(())
        };
        for lane in 0..depth {
            push(ring, lane, &mut next)?;
            in_flight += 1;
        }
        while in_flight > 0 {
            let keep_going = Instant::now() < deadline;
            for (user_data, result) in reap(ring)? {
                if result < 0 {
                    return Err(io::Error::from_raw_os_error(-result));
                }
                match user_data {
                    READ => short_read(result as usize)?,
                    OPEN => {}
                    lane => {
                        ops += 1;
                        in_flight -= 1;
                        if keep_going {
                            push(ring, lane as usize, &mut next)?;
                            in_flight += 1;
                        }
                    }
                }
            }
        }
        Ok(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_reads_real_data_on_every_implementation() {
        let fixture = Fixture::create(1 << 20, 8).expect("fixture");
        for case in Case::ALL {
            for implementation in IMPLEMENTATIONS {
                let sample = run(case, implementation, &fixture, Duration::from_millis(5))
                    .unwrap_or_else(|error| panic!("{case:?} on {implementation:?}: {error}"));
                assert!(sample.throughput > 0.0, "{case:?} on {implementation:?}");
            }
        }
    }

    #[test]
    fn offsets_are_aligned_in_range_and_the_same_per_lane() {
        let mut a = Offsets::new(3, 1 << 20);
        let mut b = Offsets::new(3, 1 << 20);
        for _ in 0..1000 {
            let offset = a.next();
            assert_eq!(offset, b.next());
            assert_eq!(offset % BLOCK as u64, 0);
            assert!(offset + BLOCK as u64 <= 1 << 20);
        }
    }

    #[test]
    fn the_fixture_is_removed_on_drop() {
        let fixture = Fixture::create(0, 1).expect("fixture");
        let dir = fixture.dir.clone();
        assert_eq!(std::fs::metadata(&fixture.big).unwrap().len(), 1 << 20);
        drop(fixture);
        assert!(!dir.exists());
    }
}
