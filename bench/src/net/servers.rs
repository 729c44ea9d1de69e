//! The echo servers: ringtide (io_uring, mio) and tokio as multi-thread runtimes with
//! one worker per server CPU; monoio and the raw loop as one thread per server CPU, each
//! with its own `SO_REUSEPORT` listener (their thread-per-core model). Each connection
//! echoes what it reads through a 4 KiB buffer until the peer closes. ringtide runs it
//! twice per backend: with its owned-buffer traits (`read_owned`/`write_all_owned`) and
//! with tokio's `AsyncReadExt`/`AsyncWriteExt` over its streams (the poll path).

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;

use super::{ECHOED_BYTES, SERVER_BUFFER};
use crate::report::Implementation;

/// A running server: dropping it (or the process exiting) ends it.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// What it runs on, for the report.
    pub description: String,
    /// The runtime or threads to keep alive.
    _keep: Box<dyn Send>,
}

/// Starts `implementation` on `threads` threads.
pub fn start(implementation: Implementation, threads: usize) -> std::io::Result<RunningServer> {
    let per_thread = matches!(
        implementation,
        Implementation::Monoio | Implementation::RawUring
    );
    let listeners = listeners(if per_thread { threads } else { 1 })?;
    let addr = listeners[0].local_addr()?;
    let (keep, description): (Box<dyn Send>, String) = match implementation {
        Implementation::RingtideUring => {
            ringtide(listeners, threads, ringtide::runtime::Backend::IoUring)?
        }
        Implementation::RingtideMio => {
            ringtide(listeners, threads, ringtide::runtime::Backend::Mio)?
        }
        Implementation::RingtideUringPoll => ringtide_poll(
            listeners,
            threads,
            ringtide::runtime::Backend::IoUring,
            false,
        )?,
        Implementation::RingtideUringPollMulti => ringtide_poll(
            listeners,
            threads,
            ringtide::runtime::Backend::IoUring,
            true,
        )?,
        Implementation::RingtideMioPoll => {
            ringtide_poll(listeners, threads, ringtide::runtime::Backend::Mio, false)?
        }
        Implementation::Tokio => tokio(listeners, threads)?,
        #[cfg(target_os = "linux")]
        Implementation::Monoio => monoio(listeners)?,
        #[cfg(target_os = "linux")]
        Implementation::RawUring => super::raw_server::start(listeners)?,
        #[cfg(not(target_os = "linux"))]
        Implementation::Monoio | Implementation::RawUring => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "io_uring is Linux only",
            ));
        }
    };
    Ok(RunningServer {
        addr,
        description,
        _keep: keep,
    })
}

/// `count` listeners on one loopback port (`SO_REUSEPORT`, so the kernel spreads new
/// connections over them), each with a backlog of 1024 for the 1000-connection case.
fn listeners(count: usize) -> std::io::Result<Vec<TcpListener>> {
    use socket2::{Domain, Socket, Type};
    let mut addr: SocketAddr = "127.0.0.1:0".parse().expect("a loopback address");
    let mut listeners = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        #[cfg(unix)]
        socket.set_reuse_port(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        let listener: TcpListener = socket.into();
        addr = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

fn ringtide(
    listeners: Vec<TcpListener>,
    threads: usize,
    backend: ringtide::runtime::Backend,
) -> std::io::Result<(Box<dyn Send>, String)> {
    use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};

    let runtime = ringtide::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .backend(backend)
        .enable_all()
        .build()?;
    let description = format!(
        "Runtime::backend() = {}, {threads} worker(s)",
        runtime.backend()
    );
    for listener in listeners {
        listener.set_nonblocking(true)?;
        runtime.spawn(async move {
            let listener = ringtide::net::TcpListener::from_std(listener).expect("from_std");
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                ringtide::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let mut buf = Vec::with_capacity(SERVER_BUFFER);
                    loop {
                        buf.clear();
                        let (result, read_buf) = stream.read_owned(buf).await;
                        let read = match result {
                            Ok(0) | Err(_) => return,
                            Ok(read) => read,
                        };
                        let (result, written_buf) = stream.write_all_owned(read_buf).await;
                        if result.is_err() {
                            return;
                        }
                        ECHOED_BYTES.fetch_add(read as u64, Ordering::Relaxed);
                        buf = written_buf;
                    }
                });
            }
        });
    }
    Ok((Box::new(runtime), description))
}

/// ringtide's streams through tokio's `AsyncReadExt`/`AsyncWriteExt` (feature
/// `tokio-io`): the same loop as the tokio server, on ringtide's poll path.
fn ringtide_poll(
    listeners: Vec<TcpListener>,
    threads: usize,
    backend: ringtide::runtime::Backend,
    recv_multishot: bool,
) -> std::io::Result<(Box<dyn Send>, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let runtime = ringtide::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .backend(backend)
        .uring_recv_multishot(recv_multishot)
        .enable_all()
        .build()?;
    let description = format!(
        "Runtime::backend() = {}, {threads} worker(s), tokio's AsyncRead/AsyncWrite{}",
        runtime.backend(),
        if recv_multishot {
            ", uring_recv_multishot(true)"
        } else {
            ""
        }
    );
    for listener in listeners {
        listener.set_nonblocking(true)?;
        runtime.spawn(async move {
            let listener = ringtide::net::TcpListener::from_std(listener).expect("from_std");
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                ringtide::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let mut buf = vec![0; SERVER_BUFFER];
                    loop {
                        let read = match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => read,
                        };
                        if stream.write_all(&buf[..read]).await.is_err() {
                            return;
                        }
                        ECHOED_BYTES.fetch_add(read as u64, Ordering::Relaxed);
                    }
                });
            }
        });
    }
    Ok((Box::new(runtime), description))
}

fn tokio(listeners: Vec<TcpListener>, threads: usize) -> std::io::Result<(Box<dyn Send>, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    for listener in listeners {
        listener.set_nonblocking(true)?;
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("from_std");
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let mut buf = vec![0; SERVER_BUFFER];
                    loop {
                        let read = match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => read,
                        };
                        if stream.write_all(&buf[..read]).await.is_err() {
                            return;
                        }
                        ECHOED_BYTES.fetch_add(read as u64, Ordering::Relaxed);
                    }
                });
            }
        });
    }
    Ok((
        Box::new(runtime),
        format!("multi_thread, {threads} worker(s)"),
    ))
}

/// One monoio runtime (io_uring driver) per listener, each on its own thread.
#[cfg(target_os = "linux")]
fn monoio(listeners: Vec<TcpListener>) -> std::io::Result<(Box<dyn Send>, String)> {
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};

    let threads = listeners.len();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    for listener in listeners {
        let started_tx = started_tx.clone();
        std::thread::spawn(move || {
            let runtime = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .with_entries(4096)
                .build();
            let mut runtime = match runtime {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = started_tx.send(Err(error));
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match monoio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(error) => {
                        let _ = started_tx.send(Err(error));
                        return;
                    }
                };
                let _ = started_tx.send(Ok(()));
                loop {
                    let Ok((mut stream, _)) = listener.accept().await else {
                        continue;
                    };
                    monoio::spawn(async move {
                        let _ = stream.set_nodelay(true);
                        let mut buf = Vec::with_capacity(SERVER_BUFFER);
                        loop {
                            buf.clear();
                            let (result, read_buf) = stream.read(buf).await;
                            let read = match result {
                                Ok(0) | Err(_) => return,
                                Ok(read) => read,
                            };
                            let (result, written_buf) = stream.write_all(read_buf).await;
                            if result.is_err() {
                                return;
                            }
                            ECHOED_BYTES.fetch_add(read as u64, Ordering::Relaxed);
                            buf = written_buf;
                        }
                    });
                }
            });
        });
    }
    drop(started_tx);
    for _ in 0..threads {
        match started_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err(std::io::Error::other("a monoio thread exited early")),
        }
    }
    Ok((Box::new(()), format!("IoUringDriver, {threads} thread(s)")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn every_server_echoes_what_each_connection_sends() {
        for implementation in Implementation::NETWORK {
            // Two threads: monoio and the raw loop get two SO_REUSEPORT listeners.
            let server = start(implementation, 2)
                .unwrap_or_else(|error| panic!("{implementation:?}: {error}"));
            assert!(!server.description.is_empty());
            let before = ECHOED_BYTES.load(Ordering::Relaxed);
            for connection in 0..4u8 {
                let mut stream = std::net::TcpStream::connect(server.addr).expect("connect");
                // More than one server buffer, so reads and sends are split.
                let message: Vec<u8> = (0..3 * SERVER_BUFFER + 17)
                    .map(|index| (index as u8).wrapping_add(connection))
                    .collect();
                stream.write_all(&message).expect("write");
                let mut echo = vec![0u8; message.len()];
                stream.read_exact(&mut echo).expect("read the echo");
                assert!(echo == message, "{implementation:?} echoed other bytes");
            }
            // The counter is bumped after each write completes; the last echo was read,
            // so its write has returned, but the bump may trail it by a moment.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while ECHOED_BYTES.load(Ordering::Relaxed) - before
                < 4 * (3 * SERVER_BUFFER as u64 + 17)
                && std::time::Instant::now() < deadline
            {
                std::thread::yield_now();
            }
            assert!(
                ECHOED_BYTES.load(Ordering::Relaxed) - before
                    >= 4 * (3 * SERVER_BUFFER as u64 + 17),
                "{implementation:?} did not count its echoed bytes"
            );
        }
    }
}
