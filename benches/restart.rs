//! Restart (issue 19): what the io_uring listener's accept design costs, and how long
//! a killed server's port stays taken, side by side with the in-ring accepts it
//! replaced, the mio backend and tokio, in one run, interleaved.
//!
//! Accept throughput (connections per second; loopback, the server on a
//! current-thread runtime in this process, std clients on one thread):
//!
//! * `sequential`: the client connects, the server accepts and drops the connection,
//!   the client reads the end of stream, closes, and connects again: one connection
//!   in flight, so every accept waits (the wake-up path).
//! * `burst64`: the client opens 64 connections, the server accepts all 64 and drops
//!   them, the client reads each end of stream; again. Accepts find connections queued.
//!
//! Cases: `uring_readiness` (the default: the listener's epoll instance polled by the
//! ring, then `accept4`), `uring_multishot` (the former default: one multishot
//! `ACCEPT`, forced with the hidden `uring_multishot_accept(true)`), `uring_single`
//! (single `ACCEPT`s), `mio`, `tokio`.
//!
//! Restart window: a child process (this binary, re-run with [`CHILD_ENV`]) binds port
//! 0, serves one connection with a read in flight, leaves a task waiting in `accept`
//! (its request in the kernel, proved by a completed ring op), and prints its port; the
//! parent `SIGKILL`s it, reaps it, and binds the port in a loop: the time from the
//! reap to the first successful bind, and the failed tries.
//!
//! `cargo bench --bench restart` (`RINGTIDE_RESTART_RUNS`, default 11, sets the
//! interleaved runs; medians are printed, with the load).

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("restart: measures how io_uring listeners free their port; Linux only");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::net::{SocketAddr, TcpStream as StdStream};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use ringtide::io::AsyncReadOwned;
    use ringtide::runtime::{Backend, Runtime};

    /// Names the child's case; unset in the parent.
    const CHILD_ENV: &str = "RINGTIDE_RESTART_BENCH_CHILD";
    /// Starts the child's ready line.
    const READY_MARK: &str = "RINGTIDE_RESTART_READY";
    /// Connections per run of `sequential`.
    const SEQUENTIAL: usize = 5000;
    /// Bursts per run of `burst64`, and the connections per burst.
    const BURSTS: usize = 80;
    const BURST: usize = 64;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Case {
        UringReadiness,
        UringMultishot,
        UringSingle,
        Mio,
        Tokio,
    }

    impl Case {
        const ALL: [Case; 5] = [
            Case::UringReadiness,
            Case::UringMultishot,
            Case::UringSingle,
            Case::Mio,
            Case::Tokio,
        ];

        fn name(self) -> &'static str {
            match self {
                Case::UringReadiness => "uring_readiness",
                Case::UringMultishot => "uring_multishot",
                Case::UringSingle => "uring_single",
                Case::Mio => "mio",
                Case::Tokio => "tokio",
            }
        }

        fn parse(name: &str) -> Case {
            Case::ALL
                .into_iter()
                .find(|case| case.name() == name)
                .unwrap_or_else(|| panic!("unknown case {name}"))
        }

        fn ringtide(self) -> Runtime {
            let mut builder = ringtide::runtime::Builder::new_current_thread();
            builder.enable_all();
            match self {
                Case::UringReadiness => builder.backend(Backend::IoUring),
                Case::UringMultishot => builder
                    .backend(Backend::IoUring)
                    .uring_multishot_accept(true),
                Case::UringSingle => builder
                    .backend(Backend::IoUring)
                    .uring_multishot_accept(false),
                Case::Mio => builder.backend(Backend::Mio),
                Case::Tokio => unreachable!("not ringtide"),
            };
            builder.build().expect("runtime")
        }
    }

    #[derive(Clone, Copy, Debug)]
    enum Shape {
        Sequential,
        Burst,
    }

    /// The client side of one run: returns when every connection saw its end of stream.
    fn clients(address: SocketAddr, shape: Shape) {
        let mut buf = [0u8; 1];
        let finish = |mut stream: StdStream, buf: &mut [u8; 1]| {
            assert_eq!(stream.read(buf).unwrap(), 0, "the server sends nothing");
        };
        match shape {
            Shape::Sequential => {
                for _ in 0..SEQUENTIAL {
                    finish(StdStream::connect(address).unwrap(), &mut buf);
                }
            }
            Shape::Burst => {
                for _ in 0..BURSTS {
                    let streams: Vec<_> = (0..BURST)
                        .map(|_| StdStream::connect(address).unwrap())
                        .collect();
                    for stream in streams {
                        finish(stream, &mut buf);
                    }
                }
            }
        }
    }

    fn connections(shape: Shape) -> usize {
        match shape {
            Shape::Sequential => SEQUENTIAL,
            Shape::Burst => BURSTS * BURST,
        }
    }

    /// One run: connections per second.
    fn run(case: Case, shape: Shape) -> f64 {
        let count = connections(shape);
        if std::env::var_os("RINGTIDE_RESTART_VERBOSE").is_some() {
            eprintln!("run {} {shape:?}", case.name());
        }
        let elapsed = if case == Case::Tokio {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let address = listener.local_addr().unwrap();
                let client = std::thread::spawn(move || clients(address, shape));
                let start = Instant::now();
                for _ in 0..count {
                    drop(listener.accept().await.unwrap());
                }
                let elapsed = start.elapsed();
                client.join().unwrap();
                elapsed
            })
        } else {
            case.ringtide().block_on(async {
                let listener = ringtide::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .unwrap();
                let address = listener.local_addr().unwrap();
                let client = std::thread::spawn(move || clients(address, shape));
                let start = Instant::now();
                for _ in 0..count {
                    drop(listener.accept().await.unwrap());
                }
                let elapsed = start.elapsed();
                // Off the runtime's thread: on io_uring the last dropped connection is
                // closed by a ring op, which must be submitted for the client to finish.
                ringtide::task::spawn_blocking(move || client.join().unwrap())
                    .await
                    .unwrap();
                elapsed
            })
        };
        count as f64 / elapsed.as_secs_f64()
    }

    fn median(values: &mut [f64]) -> f64 {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    }

    fn load() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .map(|text| text.split(' ').take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "?".into())
    }

    // ---------------------------------------------------------------------------------
    // The restart window
    // ---------------------------------------------------------------------------------

    /// The child: a server with a task waiting in `accept`; never returns.
    fn child(case: Case) {
        if case == Case::Tokio {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let address = listener.local_addr().unwrap();
                let (ready, accepted) = tokio::sync::oneshot::channel();
                tokio::spawn(async move {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    tokio::spawn(async move {
                        use tokio::io::AsyncReadExt as _;
                        let _ = stream.read(&mut [0u8; 64]).await;
                    });
                    ready.send(()).unwrap();
                    let _ = listener.accept().await;
                });
                let _client = tokio::net::TcpStream::connect(address).await.unwrap();
                accepted.await.unwrap();
                tokio::task::yield_now().await;
                println!("{READY_MARK} {address}");
                std::future::pending::<()>().await;
            });
            return;
        }
        case.ringtide().block_on(async {
            let listener = ringtide::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            let address = listener.local_addr().unwrap();
            let (ready, accepted) = ringtide::sync::oneshot::channel();
            ringtide::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                ringtide::spawn(async move {
                    let _ = stream.read_owned(vec![0u8; 64]).await;
                });
                ready.send(()).unwrap();
                let _ = listener.accept().await;
            });
            let _client = ringtide::net::TcpStream::connect(address).await.unwrap();
            accepted.await.unwrap();
            // A ring op pushed after the waiting accept's request completes only once the
            // ring has entered the kernel with both.
            let udp = ringtide::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            udp.send_to(b"x", udp.local_addr().unwrap()).await.unwrap();
            let (result, _) = udp.recv_from_owned(vec![0u8; 8]).await;
            result.unwrap();
            println!("{READY_MARK} {address}");
            std::future::pending::<()>().await;
        });
    }

    /// One restart: the time from the reap to the first bind that works, and the tries
    /// that failed with `EADDRINUSE` before it.
    fn window(case: Case) -> (Duration, usize) {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_ENV, case.name())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let address: SocketAddr = loop {
            let line = lines.next().expect("the child printed its port").unwrap();
            if let Some(rest) = line.strip_prefix(READY_MARK) {
                break rest.trim().parse().unwrap();
            }
        };
        // SAFETY: kill() touches no memory of ours; the child is not reaped yet.
        let killed = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(killed, 0);
        child.wait().unwrap();
        let reaped = Instant::now();
        let mut failed = 0;
        loop {
            match std::net::TcpListener::bind(address) {
                Ok(_) => return (reaped.elapsed(), failed),
                Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => failed += 1,
                Err(error) => panic!("bind {address}: {error}"),
            }
            assert!(
                reaped.elapsed() < Duration::from_secs(5),
                "the port stays taken"
            );
        }
    }

    pub(super) fn main() {
        if let Ok(case) = std::env::var(CHILD_ENV) {
            child(Case::parse(&case));
            return;
        }
        if std::env::args().any(|arg| arg == "--list") {
            return;
        }
        let runs: usize = std::env::var("RINGTIDE_RESTART_RUNS")
            .ok()
            .and_then(|runs| runs.parse().ok())
            .unwrap_or(11);
        if let Ok(case) = std::env::var("RINGTIDE_RESTART_ONLY") {
            // One case, one shape, once (for debugging).
            let case = Case::parse(&case);
            for shape in [Shape::Sequential, Shape::Burst] {
                println!("{} {shape:?}: {:.0} conn/s", case.name(), run(case, shape));
            }
            return;
        }
        let uring = ringtide::runtime::Builder::new_current_thread()
            .backend(Backend::IoUring)
            .enable_all()
            .build();
        let cases: Vec<Case> = match uring {
            Ok(_) => Case::ALL.to_vec(),
            Err(error) => {
                println!("io_uring unavailable ({error}): only the mio and tokio cases run");
                vec![Case::Mio, Case::Tokio]
            }
        };
        println!("load before: {}", load());
        for shape in [Shape::Sequential, Shape::Burst] {
            let mut results: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
            for round in 0..runs {
                // Interleaved, the order rotated each round.
                for offset in 0..cases.len() {
                    let index = (round + offset) % cases.len();
                    results[index].push(run(cases[index], shape));
                }
            }
            let reference = median(&mut results[0].clone());
            println!(
                "accept {shape:?} ({} connections per run, {runs} runs, load {}):",
                connections(shape),
                load()
            );
            for (case, values) in cases.iter().zip(&mut results) {
                let median = median(values);
                println!(
                    "  {:16} median {:>9.0} conn/s  ({} / this: {:.2})  min {:.0} max {:.0}",
                    case.name(),
                    median,
                    cases[0].name(),
                    reference / median,
                    values[0],
                    values[values.len() - 1]
                );
            }
        }
        let mut windows: Vec<Vec<(Duration, usize)>> = vec![Vec::new(); cases.len()];
        for round in 0..runs {
            for offset in 0..cases.len() {
                let index = (round + offset) % cases.len();
                windows[index].push(window(cases[index]));
            }
        }
        println!(
            "restart window after SIGKILL + waitpid ({runs} runs, load {}):",
            load()
        );
        for (case, values) in cases.iter().zip(&mut windows) {
            values.sort();
            let failed: Vec<usize> = values.iter().map(|(_, failed)| *failed).collect();
            println!(
                "  {:16} median {:>8.3} ms  max {:>8.3} ms  failed binds per run {:?}",
                case.name(),
                values[values.len() / 2].0.as_secs_f64() * 1e3,
                values[values.len() - 1].0.as_secs_f64() * 1e3,
                failed
            );
        }
    }
}
