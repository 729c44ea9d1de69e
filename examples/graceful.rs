//! Graceful shutdown: a TCP echo server that, on Ctrl-C or SIGTERM (Windows: Ctrl-C or
//! Ctrl-Break), stops accepting
//! (new connections are refused at once), tells every open connection to finish the
//! message it is echoing and close, waits for them for up to five seconds, aborts
//! whatever is left, and exits.
//!
//! ```sh
//! cargo run --release --example graceful -- --addr 127.0.0.1:7879
//! nc 127.0.0.1 7879                  # in another terminal; type lines, they come back
//! kill -TERM <pid>                   # or Ctrl-C in the server's terminal
//! ```
//!
//! It uses `tokio::select!` (tokio's `macros` feature, runtime-agnostic) the way a tokio
//! program would: `TcpListener::accept`, `read_owned` and `Signal::recv` are cancel-safe
//! on both backends (see `ringtide::select`), so losing a `select!` race loses nothing.

use std::io;
use std::time::Duration;

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpStream};
use ringtide::runtime::{Backend, Builder};
use ringtide::sync::watch;
use ringtide::task::JoinSet;

/// How long open connections get to finish after a shutdown signal.
const GRACE: Duration = Duration::from_secs(5);

/// The requests to shut down: SIGTERM and Ctrl-C (`SIGINT`) on Unix, Ctrl-C and
/// Ctrl-Break on Windows (which has console events instead of signals).
struct ShutdownRequests {
    #[cfg(unix)]
    terminate: ringtide::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: ringtide::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: ringtide::signal::windows::CtrlC,
    #[cfg(windows)]
    ctrl_break: ringtide::signal::windows::CtrlBreak,
}

impl ShutdownRequests {
    /// Listens from now on: a request after this returns is never lost.
    #[cfg(unix)]
    fn new() -> io::Result<ShutdownRequests> {
        use ringtide::signal::unix::{SignalKind, signal};
        Ok(ShutdownRequests {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    #[cfg(windows)]
    fn new() -> io::Result<ShutdownRequests> {
        use ringtide::signal::windows::{ctrl_break, ctrl_c};
        Ok(ShutdownRequests {
            ctrl_c: ctrl_c()?,
            ctrl_break: ctrl_break()?,
        })
    }

    /// The next request's name. Cancel-safe (each `recv` is).
    #[cfg(unix)]
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "Ctrl-C",
        }
    }

    #[cfg(windows)]
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.ctrl_c.recv() => "Ctrl-C",
            _ = self.ctrl_break.recv() => "Ctrl-Break",
        }
    }
}

fn main() {
    if let Err(error) = run() {
        eprintln!("graceful: {error}");
        std::process::exit(1);
    }
}

fn run() -> io::Result<()> {
    let mut backend = None;
    let mut addr = String::from("127.0.0.1:7879");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| invalid(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--backend" => backend = Some(value()?.parse::<Backend>()?),
            "--addr" => addr = value()?,
            _ => {
                return Err(invalid(format!(
                    "unknown argument {arg:?}; usage: graceful [--backend io_uring|mio|auto] [--addr HOST:PORT]"
                )));
            }
        }
    }

    let mut builder = Builder::new_multi_thread();
    if let Some(backend) = backend {
        builder.backend(backend);
    }
    let runtime = builder.enable_all().build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(addr.as_str()).await?;
        // Registered before the first connection: a signal from now on is never lost.
        let mut shutdown = ShutdownRequests::new()?;
        println!(
            "echoing on {} with the {} backend (pid {}); Ctrl-C or SIGTERM stops it",
            listener.local_addr()?,
            runtime.backend(),
            std::process::id()
        );
        let (stop, stopping) = watch::channel(false);
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = accepted?;
                    let stopping = stopping.clone();
                    connections.spawn(async move {
                        if let Err(error) = echo(stream, stopping).await {
                            eprintln!("{peer}: {error}");
                        }
                    });
                }
                Some(finished) = connections.join_next(), if !connections.is_empty() => {
                    if let Err(error) = finished {
                        eprintln!("a connection task failed: {error}");
                    }
                }
                request = shutdown.recv() => {
                    println!("{request}: shutting down");
                    break;
                }
            }
        }
        // Stop accepting: from here connection attempts are refused.
        drop(listener);
        let open = connections.len();
        let _ = stop.send(true);
        let drained = ringtide::time::timeout(GRACE, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        match drained {
            Ok(()) => println!("{open} open connection(s) finished; bye"),
            Err(_) => {
                println!(
                    "{} connection(s) still open after {GRACE:?}: aborting them",
                    connections.len()
                );
                connections.shutdown().await;
            }
        }
        Ok(())
    })
}

/// Echoes until the peer closes or a shutdown is announced (then the message being
/// echoed is finished first: a read that loses the race keeps its bytes for the next).
async fn echo(mut stream: TcpStream, mut stopping: watch::Receiver<bool>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        tokio::select! {
            (read, returned) = stream.read_owned(buf) => {
                buf = returned;
                if read? == 0 {
                    return Ok(());
                }
                let (written, returned) = stream.write_all_owned(buf).await;
                buf = returned;
                written?;
            }
            _ = stopping.changed() => {
                let (written, _) = stream.write_all_owned(b"server shutting down\n".to_vec()).await;
                return written;
            }
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}
