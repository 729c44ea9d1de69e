//! Zero-copy send against plain send, bulk TCP streaming over loopback (issue 17 goal 3).
//!
//! One run streams `TOTAL` bytes over a fresh loopback connection in messages of one
//! size: the sender is a current-thread ringtide runtime (io_uring) on the main thread,
//! writing the same buffer again and again; the receiver is a plain blocking std thread
//! reading into a 1 MiB buffer until it has everything. Modes, interleaved per size
//! (A B C, A B C, ...), `REPEATS` times:
//!
//! * `plain`: `write_all_owned` (io_uring `SEND`);
//! * `zc`: `write_all_zc` (io_uring `SEND_ZC`, the future completes after the
//!   notification);
//! * `tokio`: tokio's `write_all` on a current-thread tokio runtime (epoll), the
//!   reference.
//!
//! Reported per mode and size: throughput (GB/s), and CPU time per MiB of the whole
//! process (`getrusage(RUSAGE_SELF)`: sender, receiver and any io_uring worker
//! threads) and of the receiving thread alone (`RUSAGE_THREAD`), so the sending side's
//! share is the difference. Medians with min..max.
//!
//! A loopback caveat the numbers show: the kernel copies anyway. A looped `MSG_ZEROCOPY`
//! packet is copied before it reaches the receiving socket (so a slow reader cannot hold
//! the sender's pages), so `SEND_ZC` saves no copy there and pays the page pinning and
//! the extra notification. The `copied` line at the start proves it: one `SEND_ZC` with
//! `IORING_SEND_ZC_REPORT_USAGE` on a raw ring, whose notification reports whether the
//! data was copied.
//!
//! `cargo bench --bench send_zc` (`RINGTIDE_BENCH_QUICK=1`: a smoke run with 1 repeat
//! and 16 MiB per run).

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("send_zc: io_uring zero-copy send exists on Linux only");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::Read as _;
    use std::net::{TcpListener, TcpStream as StdTcpStream};
    use std::os::fd::AsRawFd;
    use std::time::Instant;

    use ringtide::io::AsyncWriteOwned;
    use ringtide::net::TcpStream;
    use ringtide::runtime::{Backend, Builder, Runtime};

    const SIZES: [usize; 4] = [4 << 10, 64 << 10, 256 << 10, 1 << 20];

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Mode {
        Plain,
        Zc,
        Tokio,
    }

    struct Sample {
        seconds: f64,
        process_cpu: f64,
        receiver_cpu: f64,
    }

    fn cpu(who: i32) -> f64 {
        // SAFETY: `usage` is a valid out-pointer for getrusage.
        let usage = unsafe {
            let mut usage = std::mem::zeroed::<libc::rusage>();
            assert_eq!(libc::getrusage(who, &mut usage), 0);
            usage
        };
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Reads `total` bytes from a connection accepted on `listener`; returns the
    /// thread's CPU time.
    fn receiver(listener: TcpListener, total: usize) -> std::thread::JoinHandle<f64> {
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let start = cpu(libc::RUSAGE_THREAD);
            let mut buf = vec![0u8; 1 << 20];
            let mut got = 0;
            while got < total {
                let count = stream.read(&mut buf).unwrap();
                assert!(count > 0, "the sender closed early");
                got += count;
            }
            cpu(libc::RUSAGE_THREAD) - start
        })
    }

    fn run_once(
        runtime: &Runtime,
        tokio: &tokio::runtime::Runtime,
        mode: Mode,
        size: usize,
        total: usize,
    ) -> Sample {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let messages = total / size;
        let reader = receiver(listener, messages * size);
        let buf = vec![0x5au8; size];
        let start_cpu = cpu(libc::RUSAGE_SELF);
        let start = Instant::now();
        match mode {
            Mode::Plain | Mode::Zc => runtime.block_on(async {
                let mut stream = TcpStream::connect(address).await.unwrap();
                let mut buf = buf;
                for _ in 0..messages {
                    let (result, back) = if mode == Mode::Zc {
                        stream.write_all_zc(buf).await
                    } else {
                        stream.write_all_owned(buf).await
                    };
                    result.unwrap();
                    buf = back;
                }
            }),
            Mode::Tokio => tokio.block_on(async {
                use tokio::io::AsyncWriteExt;
                let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
                for _ in 0..messages {
                    stream.write_all(&buf).await.unwrap();
                }
            }),
        }
        let receiver_cpu = reader.join().unwrap();
        let seconds = start.elapsed().as_secs_f64();
        Sample {
            seconds,
            process_cpu: cpu(libc::RUSAGE_SELF) - start_cpu,
            receiver_cpu,
        }
    }

    /// One `SEND_ZC` with usage reporting on a raw ring: did the kernel copy?
    fn loopback_copies() -> std::io::Result<bool> {
        use io_uring::{IoUring, opcode, types};
        const REPORT_USAGE: u16 = 1 << 3; // IORING_SEND_ZC_REPORT_USAGE
        const USAGE_COPIED: u32 = 1 << 31; // IORING_NOTIF_USAGE_ZC_COPIED
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = StdTcpStream::connect(listener.local_addr()?)?;
        let (_server, _) = listener.accept()?;
        let mut ring = IoUring::new(8)?;
        let data = vec![1u8; 64 << 10];
        let entry = opcode::SendZc::new(
            types::Fd(client.as_raw_fd()),
            data.as_ptr(),
            data.len() as u32,
        )
        .zc_flags(REPORT_USAGE)
        .build();
        // SAFETY: `data` and the socket outlive the op: we wait for both CQEs below.
        unsafe { ring.submission().push(&entry) }.expect("queue has room");
        let mut copied = None;
        while copied.is_none() {
            ring.submit_and_wait(1)?;
            for cqe in ring.completion() {
                if io_uring::cqueue::notif(cqe.flags()) {
                    copied = Some(cqe.result() as u32 & USAGE_COPIED != 0);
                } else if cqe.result() < 0 {
                    return Err(std::io::Error::from_raw_os_error(-cqe.result()));
                }
            }
        }
        Ok(copied.unwrap())
    }

    fn median_spread(mut values: Vec<f64>) -> (f64, f64, f64) {
        values.sort_by(f64::total_cmp);
        (
            values[values.len() / 2],
            values[0],
            values[values.len() - 1],
        )
    }

    pub fn main() {
        let quick = std::env::var_os("RINGTIDE_BENCH_QUICK").is_some();
        let repeats = if quick { 1 } else { 7 };
        let total: usize = if quick { 16 << 20 } else { 256 << 20 };
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "send_zc: {total} bytes per run, {repeats} repeats, load {}",
            load.trim()
        );
        match loopback_copies() {
            Ok(copied) => println!("loopback SEND_ZC notification: copied = {copied}"),
            Err(error) => println!("loopback SEND_ZC usage check failed: {error}"),
        }
        let runtime = Builder::new_current_thread()
            .backend(Backend::IoUring)
            .enable_all()
            .build()
            .expect("an io_uring runtime");
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let modes = [Mode::Plain, Mode::Zc, Mode::Tokio];
        let mut samples: Vec<Vec<Vec<Sample>>> = SIZES
            .iter()
            .map(|_| modes.iter().map(|_| Vec::new()).collect())
            .collect();
        // Warm-up (connections, page faults, autotuning).
        for &mode in &modes {
            run_once(&runtime, &tokio, mode, 64 << 10, 16 << 20);
        }
        for _ in 0..repeats {
            for (s, &size) in SIZES.iter().enumerate() {
                for (m, &mode) in modes.iter().enumerate() {
                    samples[s][m].push(run_once(&runtime, &tokio, mode, size, total));
                }
            }
        }
        println!(
            "{:>8} {:>6} {:>22} {:>26} {:>26}",
            "size",
            "mode",
            "GB/s med (min..max)",
            "proc CPU ms/MiB med (min..max)",
            "recv CPU ms/MiB med (min..max)"
        );
        for (s, &size) in SIZES.iter().enumerate() {
            for (m, mode) in modes.iter().enumerate() {
                let runs = &samples[s][m];
                let mib = (total / size * size) as f64 / (1 << 20) as f64;
                let rate = median_spread(
                    runs.iter()
                        .map(|r| mib * 1.048_576e-3 / r.seconds)
                        .collect(),
                );
                let process =
                    median_spread(runs.iter().map(|r| r.process_cpu * 1e3 / mib).collect());
                let receiver =
                    median_spread(runs.iter().map(|r| r.receiver_cpu * 1e3 / mib).collect());
                println!(
                    "{:>7}K {:>6} {:>6.2} ({:.2}..{:.2}) {:>12.3} ({:.3}..{:.3}) {:>12.3} ({:.3}..{:.3})",
                    size >> 10,
                    format!("{mode:?}").to_lowercase(),
                    rate.0,
                    rate.1,
                    rate.2,
                    process.0,
                    process.1,
                    process.2,
                    receiver.0,
                    receiver.1,
                    receiver.2,
                );
            }
        }
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!("load at the end {}", load.trim());
    }
}
