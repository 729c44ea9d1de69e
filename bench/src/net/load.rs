//! The load generator, the same for every server: a tokio runtime on the client CPUs
//! (current-thread when there is one client CPU: more threads would only add cross-thread
//! wake-ups), one task per connection (two for the fixed-rate echo: a writer and a
//! reader).
//!
//! * Ping-pong: each connection sends a message and waits for its whole echo before
//!   sending the next: one message in flight per connection (a fixed window of one).
//!   Throughput: round trips per second in the measured window; latency: each round
//!   trip's time.
//! * Fixed-rate echo: each connection's writer sends on a schedule (the offered rate
//!   split evenly, connections staggered) whatever the echoes do (open loop); every
//!   message carries its send time, and the reader records echo time − send time for the
//!   messages sent inside the window. Throughput: messages sent and echoed per second
//!   (the offered rate unless the client fell behind).
//!
//! Both read the server's CPU time for the window (`STOP`) and divide it by the
//! requests the server echoed in it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::control::{ServerProcess, Window};
use crate::cpu;
use crate::report::{Percentiles, Sample};

/// The client's runtime.
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

/// A histogram of nanosecond latencies up to a minute.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

fn merge(latencies: Vec<Vec<u32>>) -> Option<Percentiles> {
    let mut histogram = histogram();
    for nanos in latencies.into_iter().flatten() {
        histogram.saturating_record(u64::from(nanos.max(1)));
    }
    Percentiles::of_nanos(&histogram)
}

fn nanos_u32(duration: Duration) -> u32 {
    u32::try_from(duration.as_nanos()).unwrap_or(u32::MAX)
}

async fn connect(
    server: std::net::SocketAddr,
    connections: usize,
) -> std::io::Result<Vec<tokio::net::TcpStream>> {
    let mut streams = Vec::with_capacity(connections);
    for _ in 0..connections {
        let stream = tokio::net::TcpStream::connect(server).await?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    Ok(streams)
}

/// The figures of one window: client-side counts plus the server's report.
fn sample(
    operations: u64,
    elapsed: Duration,
    client_cpu: Duration,
    window: Window,
    size: usize,
    latency: Option<Percentiles>,
) -> Sample {
    let seconds = elapsed.as_secs_f64();
    let requests = (window.echoed_bytes / size as u64).max(1);
    Sample {
        throughput: operations as f64 / seconds,
        latency_us: latency,
        cpu_per_op_us: Some(window.cpu.as_secs_f64() * 1e6 / requests as f64),
        server_busy: Some(window.cpu.as_secs_f64() / seconds),
        client_busy: Some(client_cpu.as_secs_f64() / seconds),
    }
}

/// One ping-pong run against `server`.
pub fn ping_pong(
    runtime: &tokio::runtime::Runtime,
    server: &mut ServerProcess,
    size: usize,
    connections: usize,
    warm_up: Duration,
    window: Duration,
) -> Result<Sample, String> {
    let round_trips = Arc::new(AtomicU64::new(0));
    let recording = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let addr = server.addr;
    let mut tasks = runtime.block_on(async {
        let streams = connect(addr, connections)
            .await
            .map_err(|error| format!("connect: {error}"))?;
        let mut tasks = tokio::task::JoinSet::new();
        for mut stream in streams {
            let (round_trips, recording, stop) =
                (round_trips.clone(), recording.clone(), stop.clone());
            tasks.spawn(async move {
                let message = vec![7u8; size];
                let mut echo = vec![0u8; size];
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    stream.write_all(&message).await?;
                    stream.read_exact(&mut echo).await?;
                    if recording.load(Ordering::Relaxed) {
                        latencies.push(nanos_u32(sent.elapsed()));
                    }
                    round_trips.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, std::io::Error>(latencies)
            });
        }
        tokio::time::sleep(warm_up).await;
        Ok::<_, String>(tasks)
    })?;

    // With a current-thread client, the load pauses while the commands are exchanged
    // (outside `block_on`), the same way for every server.
    let outcome = (|| {
        server.start_window()?;
        recording.store(true, Ordering::Relaxed);
        let start = (
            Instant::now(),
            cpu::process_time(),
            round_trips.load(Ordering::Relaxed),
        );
        runtime.block_on(async { tokio::time::sleep(window).await });
        let elapsed = start.0.elapsed();
        let client_cpu = cpu::process_time().saturating_sub(start.1);
        let done = round_trips.load(Ordering::Relaxed) - start.2;
        recording.store(false, Ordering::Relaxed);
        let stopped = server.stop_window()?;
        Ok::<_, String>((done, elapsed, client_cpu, stopped))
    })();
    stop.store(true, Ordering::Relaxed);
    let latencies = runtime.block_on(async {
        let mut latencies = Vec::new();
        let mut failure = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(recorded)) => latencies.push(recorded),
                Ok(Err(error)) => failure = Some(format!("connection: {error}")),
                Err(error) => failure = Some(format!("connection task: {error}")),
            }
        }
        failure.map_or(Ok(latencies), Err)
    });
    let (done, elapsed, client_cpu, stopped) = outcome?;
    Ok(sample(
        done,
        elapsed,
        client_cpu,
        stopped,
        size,
        merge(latencies?),
    ))
}

/// One fixed-rate echo run: `rate` messages per second over `connections`.
pub fn fixed_rate(
    runtime: &tokio::runtime::Runtime,
    server: &mut ServerProcess,
    size: usize,
    connections: usize,
    rate: u64,
    warm_up: Duration,
    window: Duration,
) -> Result<Sample, String> {
    assert!(size >= 8, "a message carries its 8-byte send time");
    let base = Instant::now();
    // The window in nanoseconds since `base`; nothing counts until it is set.
    let window_start = Arc::new(AtomicU64::new(u64::MAX));
    let window_end = Arc::new(AtomicU64::new(u64::MAX));
    let echoed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let interval = Duration::from_secs_f64(connections as f64 / rate.max(1) as f64);
    let addr = server.addr;
    let mut tasks = runtime.block_on(async {
        let streams = connect(addr, connections)
            .await
            .map_err(|error| format!("connect: {error}"))?;
        let mut tasks = tokio::task::JoinSet::new();
        for (index, stream) in streams.into_iter().enumerate() {
            let (mut reader, mut writer) = stream.into_split();
            let stop = stop.clone();
            let first =
                tokio::time::Instant::now() + interval.mul_f64(index as f64 / connections as f64);
            tasks.spawn(async move {
                let mut message = vec![7u8; size];
                let mut next = first;
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep_until(next).await;
                    let now = tokio::time::Instant::now();
                    while next <= now {
                        let stamp = base.elapsed().as_nanos() as u64;
                        message[..8].copy_from_slice(&stamp.to_le_bytes());
                        writer.write_all(&message).await?;
                        next += interval;
                    }
                }
                // The server closes once it has echoed everything, which ends the reader.
                writer.shutdown().await?;
                Ok::<_, std::io::Error>(Vec::new())
            });
            let (window_start, window_end, echoed) =
                (window_start.clone(), window_end.clone(), echoed.clone());
            tasks.spawn(async move {
                let mut echo = vec![0u8; size];
                let mut latencies = Vec::new();
                loop {
                    match reader.read_exact(&mut echo).await {
                        Ok(_) => {}
                        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => break,
                        Err(error) => return Err(error),
                    }
                    let now = base.elapsed().as_nanos() as u64;
                    let stamp = u64::from_le_bytes(echo[..8].try_into().expect("8 bytes"));
                    let in_window = stamp >= window_start.load(Ordering::Relaxed)
                        && stamp < window_end.load(Ordering::Relaxed);
                    if in_window {
                        latencies
                            .push(u32::try_from(now.saturating_sub(stamp)).unwrap_or(u32::MAX));
                        echoed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(latencies)
            });
        }
        tokio::time::sleep(warm_up).await;
        Ok::<_, String>(tasks)
    })?;

    let outcome = (|| {
        server.start_window()?;
        let client_cpu_start = cpu::process_time();
        window_start.store(base.elapsed().as_nanos() as u64, Ordering::Relaxed);
        let start = Instant::now();
        runtime.block_on(async { tokio::time::sleep(window).await });
        window_end.store(base.elapsed().as_nanos() as u64, Ordering::Relaxed);
        let elapsed = start.elapsed();
        let client_cpu = cpu::process_time().saturating_sub(client_cpu_start);
        let stopped = server.stop_window()?;
        Ok::<_, String>((elapsed, client_cpu, stopped))
    })();
    stop.store(true, Ordering::Relaxed);
    let latencies = runtime.block_on(async {
        let mut latencies = Vec::new();
        let mut failure = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(recorded)) => latencies.push(recorded),
                Ok(Err(error)) => failure = Some(format!("connection: {error}")),
                Err(error) => failure = Some(format!("connection task: {error}")),
            }
        }
        failure.map_or(Ok(latencies), Err)
    });
    let (elapsed, client_cpu, stopped) = outcome?;
    Ok(sample(
        echoed.load(Ordering::Relaxed),
        elapsed,
        client_cpu,
        stopped,
        size,
        merge(latencies?),
    ))
}
