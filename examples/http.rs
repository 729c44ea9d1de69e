//! A hyper server on ringtide: HTTP/1.1 and h2c on one port (hyper-util's `auto`
//! builder), with graceful shutdown on Ctrl-C or SIGTERM.
//!
//! ```sh
//! cargo run --release --example http --features hyper -- --addr 127.0.0.1:8080
//! curl http://127.0.0.1:8080/                                  # hello
//! curl --data-binary @some-file http://127.0.0.1:8080/echo     # the body comes back
//! curl -o /dev/null http://127.0.0.1:8080/stream/1073741824    # 1 GiB, streamed
//! curl --http2-prior-knowledge http://127.0.0.1:8080/          # the same over h2c
//! cargo run --example http_client --features hyper             # the pooled client
//! kill -TERM <pid>                                             # or Ctrl-C
//! ```
//!
//! Routes: `GET /` says hello; `POST /echo` streams the request body back as it
//! arrives (never holding it whole); `GET /stream/<bytes>` streams that many bytes in
//! 64 KiB chunks, made as the client reads them.
//!
//! On a shutdown signal the listener is closed at once (new connections are refused),
//! open connections finish the requests they have in flight (HTTP/1.1 without
//! keep-alive from then on, HTTP/2 after a GOAWAY) and close, and the server exits; it
//! gives them `GRACE`, then exits anyway.
//!
//! Options: `--backend io_uring|mio|auto`, `--addr HOST:PORT`, `--workers N`.

use std::convert::Infallible;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use ringtide::hyper::{Executor, Io, Timer};
use ringtide::net::TcpListener;
use ringtide::runtime::{Backend, Builder};
#[cfg(unix)]
use ringtide::signal::unix::{SignalKind, signal};

/// The name of the request to terminate (see `terminate` below).
const TERMINATE: &str = if cfg!(unix) { "SIGTERM" } else { "Ctrl-Break" };

/// How long open connections get after a shutdown signal.
const GRACE: Duration = Duration::from_secs(10);
/// The chunk size of `/stream`.
const CHUNK: usize = 64 << 10;

type Body = BoxBody<Bytes, hyper::Error>;

fn main() {
    if let Err(error) = run() {
        eprintln!("http: {error}");
        std::process::exit(1);
    }
}

fn run() -> io::Result<()> {
    let mut backend = None;
    let mut workers = None;
    let mut addr = String::from("127.0.0.1:8080");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| invalid(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--backend" => backend = Some(value()?.parse::<Backend>()?),
            "--addr" => addr = value()?,
            "--workers" => {
                let count = value()?;
                workers = Some(count.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(
                    || invalid(format!("--workers {count:?}: not a positive number")),
                )?);
            }
            _ => {
                return Err(invalid(format!(
                    "unknown argument {arg:?}; usage: http [--backend io_uring|mio|auto] [--addr HOST:PORT] [--workers N]"
                )));
            }
        }
    }

    let mut builder = Builder::new_multi_thread();
    if let Some(backend) = backend {
        builder.backend(backend);
    }
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    let runtime = builder.enable_all().build()?;
    let backend = runtime.backend();
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr.as_str()).await?;
        // Registered before the first connection: a signal from now on is never lost.
        // Unix: SIGTERM and Ctrl-C (SIGINT); Windows, which has console events instead
        // of signals: Ctrl-Break and Ctrl-C.
        #[cfg(unix)]
        let (mut terminate, mut interrupt) = (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        );
        #[cfg(windows)]
        let (mut terminate, mut interrupt) = (
            ringtide::signal::windows::ctrl_break()?,
            ringtide::signal::windows::ctrl_c()?,
        );
        println!(
            "serving http://{} (HTTP/1.1 and h2c) with the {backend} backend (pid {}); Ctrl-C or SIGTERM stops it",
            listener.local_addr()?,
            std::process::id()
        );
        let mut server = auto::Builder::new(Executor::new());
        server.http1().timer(Timer::new());
        server.http2().timer(Timer::new());
        let graceful = GracefulShutdown::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        // Out of file descriptors, say: keep serving the open connections.
                        Err(error) => {
                            eprintln!("accept: {error}");
                            continue;
                        }
                    };
                    stream.set_nodelay(true)?;
                    let hello = format!("hello from ringtide ({backend})\n");
                    let service = hyper::service::service_fn(move |request| {
                        route(request, hello.clone())
                    });
                    let connection = server
                        .serve_connection_with_upgrades(Io::new(stream), service)
                        .into_owned();
                    let connection = graceful.watch(connection);
                    ringtide::spawn(async move {
                        if let Err(error) = connection.await {
                            eprintln!("{peer}: {error}");
                        }
                    });
                }
                _ = terminate.recv() => {
                    println!("{TERMINATE}: shutting down");
                    break;
                }
                _ = interrupt.recv() => {
                    println!("Ctrl-C: shutting down");
                    break;
                }
            }
        }
        // Refuse new connections from here on.
        drop(listener);
        let open = graceful.count();
        match ringtide::time::timeout(GRACE, graceful.shutdown()).await {
            Ok(()) => println!("{open} open connection(s) finished; bye"),
            Err(_) => println!("connections still open after {GRACE:?}; exiting anyway"),
        }
        Ok(())
    })
}

async fn route(request: Request<Incoming>, hello: String) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path();
    Ok(match (request.method(), path) {
        (&Method::GET, "/") => Response::new(full(hello)),
        (&Method::POST, "/echo") => Response::new(request.into_body().boxed()),
        (&Method::GET, path) if path.starts_with("/stream/") => {
            match path["/stream/".len()..].parse::<u64>() {
                Ok(len) => Response::new(streamed(len)),
                Err(_) => status(
                    StatusCode::BAD_REQUEST,
                    "/stream/<bytes>: bytes is a number\n",
                ),
            }
        }
        _ => status(
            StatusCode::NOT_FOUND,
            "routes: GET /, POST /echo, GET /stream/<bytes>\n",
        ),
    })
}

/// `len` bytes (a repeating `0..=255`), one chunk at a time as hyper asks for them.
fn streamed(len: u64) -> Body {
    let chunk = Bytes::from((0..CHUNK).map(|i| i as u8).collect::<Vec<u8>>());
    let frames = futures::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        async move {
            if sent >= len {
                return None;
            }
            let size = (len - sent).min(CHUNK as u64) as usize;
            Some((Ok(Frame::data(chunk.slice(..size))), sent + size as u64))
        }
    });
    StreamBody::new(frames).boxed()
}

fn full(text: impl Into<Bytes>) -> Body {
    Full::new(text.into())
        .map_err(|never| match never {})
        .boxed()
}

fn status(code: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(full(text));
    *response.status_mut() = code;
    response
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}
