//! The load generator: a tokio multi-thread runtime (a client nobody doubts, as in the
//! bench crate) holding `connections` slots against the server under test.
//!
//! Each slot connects (spread over source addresses `127.0.0.1`–`127.0.0.8` with
//! `IP_BIND_ADDRESS_NO_PORT`, so that 10k connections and their `TIME_WAIT` churn do not
//! run out of ephemeral ports), exchanges 1–`max_messages` messages with a random pause
//! before each, then ends the connection one of four ways and connects again:
//!
//! * `HalfClose`: after the last echo, `shutdown(Write)`; the server must answer with
//!   its own end of stream and no extra byte.
//! * `HalfCloseMidMessage`: the last message is written, the write side shut down at
//!   once, and the echo must still arrive in full, then end of stream.
//! * `Drop`: a plain close after the last echo.
//! * `Reset`: part of the last message is written, then the socket is closed with a
//!   zero linger (an RST): counted in `resets_caused`, never as an error.
//!
//! Every message is a [`Pattern`] of a log-uniform size in 1 B–64 KiB, written and read
//! back at the same time; each chunk read is compared with the regenerated pattern, and
//! the checksums of what was written and what came back must match (`bytes_verified`
//! counts the bytes that passed both). A message that does not come back within
//! `exchange_timeout` is an error (a hang). The round trip of every message goes into
//! an HDR histogram.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error_log::ErrorLog;
use crate::pattern::{Checksum, Pattern, Random};

/// Chunk of a write or a read.
const CHUNK: usize = 4096;
/// Source addresses the slots spread over.
const SOURCE_ADDRESSES: u32 = 8;

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub server: SocketAddr,
    pub connections: usize,
    pub max_message: u64,
    pub max_messages: u64,
    pub max_pause: Duration,
    pub exchange_timeout: Duration,
    /// Connects in flight at once during the ramp-up.
    pub ramp_concurrency: usize,
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    HalfClose,
    HalfCloseMidMessage,
    Drop,
    Reset,
}

/// What every slot adds to.
#[derive(Default)]
pub struct ClientShared {
    stop: AtomicBool,
    /// Connections open now (connected, not yet closed).
    pub held: AtomicU64,
    pub peak_held: AtomicU64,
    /// Slots that have made their first connection.
    pub ramped: AtomicU64,
    pub connects: AtomicU64,
    pub messages: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_verified: AtomicU64,
    pub half_closes_verified: AtomicU64,
    pub resets_caused: AtomicU64,
    pub plain_closes: AtomicU64,
    errors: ErrorLog,
    latency: Mutex<Option<Histogram<u64>>>,
}

/// The client's figures after a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClientReport {
    pub connects: u64,
    pub peak_held: u64,
    pub messages: u64,
    pub bytes_sent: u64,
    pub bytes_verified: u64,
    pub half_closes_verified: u64,
    pub resets_caused: u64,
    pub plain_closes: u64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub latency_p50_us: u64,
    pub latency_p99_us: u64,
    pub latency_p999_us: u64,
    pub latency_max_us: u64,
}

impl ClientShared {
    pub fn new() -> Arc<ClientShared> {
        let shared = ClientShared::default();
        *shared.latency.lock().expect("not poisoned") =
            Some(Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"));
        Arc::new(shared)
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn error(&self, what: String) {
        self.errors.record(what);
    }

    pub fn report(&self) -> ClientReport {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let latency = self.latency.lock().expect("not poisoned");
        let latency = latency.as_ref().expect("created in new");
        ClientReport {
            connects: load(&self.connects),
            peak_held: load(&self.peak_held),
            messages: load(&self.messages),
            bytes_sent: load(&self.bytes_sent),
            bytes_verified: load(&self.bytes_verified),
            half_closes_verified: load(&self.half_closes_verified),
            resets_caused: load(&self.resets_caused),
            plain_closes: load(&self.plain_closes),
            errors: self.errors.count(),
            error_samples: self.errors.samples(),
            latency_p50_us: latency.value_at_quantile(0.5),
            latency_p99_us: latency.value_at_quantile(0.99),
            latency_p999_us: latency.value_at_quantile(0.999),
            latency_max_us: latency.max(),
        }
    }
}

/// Runs every slot until [`ClientShared::stop`]; returns when all have closed.
pub async fn run(config: ClientConfig, shared: Arc<ClientShared>) {
    let ramp = Arc::new(tokio::sync::Semaphore::new(config.ramp_concurrency));
    let mut slots = tokio::task::JoinSet::new();
    for slot in 0..config.connections {
        let config = config.clone();
        let shared = shared.clone();
        let ramp = ramp.clone();
        slots.spawn(async move {
            let first = ramp.acquire_owned().await.expect("never closed");
            run_slot(slot, config, shared, Some(first)).await;
        });
    }
    while let Some(result) = slots.join_next().await {
        if let Err(error) = result {
            shared.error(format!("slot task: {error}"));
        }
    }
}

/// Decrements `held` when a connection is closed (or its slot ends).
struct Held<'a>(&'a ClientShared);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn run_slot(
    slot: usize,
    config: ClientConfig,
    shared: Arc<ClientShared>,
    mut ramp_permit: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let mut random = Random::new(config.seed ^ (slot as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let source = Ipv4Addr::from(u32::from(Ipv4Addr::LOCALHOST) + slot as u32 % SOURCE_ADDRESSES);
    while !shared.stopping() {
        let stream = match connect(source, config.server).await {
            Ok(stream) => stream,
            Err(error) => {
                shared.error(format!("connect from {source}: {error}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.connects.fetch_add(1, Ordering::Relaxed);
        let held = shared.held.fetch_add(1, Ordering::Relaxed) + 1;
        shared.peak_held.fetch_max(held, Ordering::Relaxed);
        let _held = Held(&shared);
        if ramp_permit.take().is_some() {
            shared.ramped.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(error) = connection(stream, &config, &shared, &mut random).await {
            shared.error(error);
        }
    }
    if ramp_permit.is_some() {
        shared.ramped.fetch_add(1, Ordering::Relaxed);
    }
}

async fn connect(source: Ipv4Addr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    set_bind_address_no_port(&socket)?;
    socket.bind(SocketAddr::V4(SocketAddrV4::new(source, 0)))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// `IP_BIND_ADDRESS_NO_PORT`: the port is picked at `connect` from the whole 4-tuple,
/// not at `bind` from the source address alone.
fn set_bind_address_no_port(socket: &tokio::net::TcpSocket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: the descriptor is the socket's own, open for the call; the option value
    // points to a live `c_int` whose size is passed.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// One connection's life; an `Err` is an error message.
async fn connection(
    mut stream: TcpStream,
    config: &ClientConfig,
    shared: &ClientShared,
    random: &mut Random,
) -> Result<(), String> {
    let ending = match random.range(0, 99) {
        0..=34 => Ending::HalfClose,
        35..=54 => Ending::HalfCloseMidMessage,
        55..=74 => Ending::Drop,
        _ => Ending::Reset,
    };
    let messages = random.range(1, config.max_messages);
    for index in 0..messages {
        let pause = random.range(0, config.max_pause.as_millis() as u64);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let last = index + 1 == messages || shared.stopping();
        let size = random.log_uniform(1, config.max_message) as usize;
        let seed = random.next_u64();
        if last && ending == Ending::Reset {
            let partial = random.range(1, size as u64) as usize;
            let mut pattern = Pattern::new(seed);
            let mut bytes = vec![0u8; partial];
            pattern.fill(&mut bytes);
            stream
                .write_all(&bytes)
                .await
                .map_err(|error| format!("write before the reset: {error}"))?;
            stream
                .set_zero_linger()
                .map_err(|error| format!("SO_LINGER: {error}"))?;
            drop(stream);
            shared.resets_caused.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let shut_down_early = last && ending == Ending::HalfCloseMidMessage;
        let started = Instant::now();
        let (mut reader, mut writer) = stream.split();
        let exchange = exchange(&mut reader, &mut writer, size, seed, shut_down_early);
        match tokio::time::timeout(config.exchange_timeout, exchange).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(format!("message of {size} B: {error}")),
            Err(_) => {
                return Err(format!(
                    "message of {size} B not echoed within {:?}",
                    config.exchange_timeout
                ));
            }
        }
        let micros = started.elapsed().as_micros() as u64;
        if let Some(histogram) = shared.latency.lock().expect("not poisoned").as_mut() {
            histogram.saturating_record(micros.max(1));
        }
        shared.messages.fetch_add(1, Ordering::Relaxed);
        shared.bytes_sent.fetch_add(size as u64, Ordering::Relaxed);
        shared
            .bytes_verified
            .fetch_add(size as u64, Ordering::Relaxed);
        if last {
            break;
        }
    }
    match ending {
        Ending::HalfClose | Ending::Reset => {
            // (A reset ending reaches here only when the slot was told to stop first.)
            stream
                .shutdown()
                .await
                .map_err(|error| format!("shutdown(Write): {error}"))?;
            expect_end_of_stream(&mut stream, config.exchange_timeout).await?;
            shared.half_closes_verified.fetch_add(1, Ordering::Relaxed);
        }
        Ending::HalfCloseMidMessage => {
            expect_end_of_stream(&mut stream, config.exchange_timeout).await?;
            shared.half_closes_verified.fetch_add(1, Ordering::Relaxed);
        }
        Ending::Drop => {
            shared.plain_closes.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

async fn expect_end_of_stream(stream: &mut TcpStream, timeout: Duration) -> Result<(), String> {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(timeout, stream.read(&mut byte)).await {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(_)) => Err("a byte after the last echo, where end of stream was due".into()),
        Ok(Err(error)) => Err(format!("reading the end of stream: {error}")),
        Err(_) => Err(format!(
            "no end of stream within {timeout:?} after the half-close"
        )),
    }
}

/// Writes `size` bytes of the pattern `seed` while reading the echo back and comparing
/// it; with `shut_down_early`, the write side is shut down right after the last byte.
/// Generic over the halves, so the mixed workload checks ringtide's own streams with it.
pub async fn exchange<R, W>(
    reader: &mut R,
    writer: &mut W,
    size: usize,
    seed: u64,
    shut_down_early: bool,
) -> std::io::Result<()>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let write = async {
        let mut pattern = Pattern::new(seed);
        let mut checksum = Checksum::default();
        let mut chunk = vec![0u8; CHUNK.min(size)];
        let mut sent = 0;
        while sent < size {
            let length = CHUNK.min(size - sent);
            pattern.fill(&mut chunk[..length]);
            checksum.update(&chunk[..length]);
            writer.write_all(&chunk[..length]).await?;
            sent += length;
        }
        if shut_down_early {
            writer.shutdown().await?;
        }
        Ok::<_, std::io::Error>(checksum)
    };
    let read = async {
        let mut pattern = Pattern::new(seed);
        let mut checksum = Checksum::default();
        let mut chunk = vec![0u8; CHUNK.min(size)];
        let mut expected = vec![0u8; CHUNK.min(size)];
        let mut received = 0;
        while received < size {
            let want = CHUNK.min(size - received);
            let read = reader.read(&mut chunk[..want]).await?;
            if read == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("end of stream after {received} of {size} echoed bytes"),
                ));
            }
            pattern.fill(&mut expected[..read]);
            if chunk[..read] != expected[..read] {
                let at = (0..read).find(|&i| chunk[i] != expected[i]).unwrap_or(0);
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("echoed byte {} differs from the byte sent", received + at),
                ));
            }
            checksum.update(&chunk[..read]);
            received += read;
        }
        Ok::<_, std::io::Error>(checksum)
    };
    let (written, echoed) = futures::join!(write, read);
    let (written, echoed) = (written?, echoed?);
    if written != echoed || echoed.length() != size as u64 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the checksum of the echo differs from the checksum of what was sent",
        ));
    }
    Ok(())
}
