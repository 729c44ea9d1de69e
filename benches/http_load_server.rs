//! The server of the HTTP load benchmark (`benches/http_load.sh`): one hyper service
//! (`GET /` answers `hello, world\n`), served by hyper-util's `auto` builder either
//! on ringtide (`ringtide::hyper`, io_uring or mio) or on tokio with hyper-util's tokio
//! adapters (`TokioIo`, `TokioExecutor`, `TokioTimer`), so the two runtimes run the
//! same protocol code and differ only in the runtime underneath.
//!
//! ```sh
//! cargo build --release --features hyper --bench http_load_server
//! target/release/deps/http_load_server-* --runtime ringtide-io_uring --addr 127.0.0.1:8080 --workers 2
//! ```
//!
//! It prints `listening on ADDR` once bound and serves until killed.

use std::convert::Infallible;
use std::io;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::server::conn::auto;

async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"hello, world\n",
    ))))
}

fn main() -> io::Result<()> {
    let mut runtime = String::from("ringtide-io_uring");
    let mut addr = String::from("127.0.0.1:8080");
    let mut workers = 2usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| io::Error::other(format!("{arg} needs a value")))?;
        match arg.as_str() {
            "--runtime" => runtime = value,
            "--addr" => addr = value,
            "--workers" => workers = value.parse().map_err(io::Error::other)?,
            _ => {
                return Err(io::Error::other(format!(
                    "unknown argument {arg:?}; usage: --runtime ringtide-io_uring|ringtide-mio|tokio --addr HOST:PORT --workers N"
                )));
            }
        }
    }
    match runtime.as_str() {
        "ringtide-io_uring" => ringtide_server(ringtide::runtime::Backend::IoUring, &addr, workers),
        "ringtide-mio" => ringtide_server(ringtide::runtime::Backend::Mio, &addr, workers),
        "tokio" => tokio_server(&addr, workers),
        other => Err(io::Error::other(format!("unknown runtime {other:?}"))),
    }
}

fn ringtide_server(
    backend: ringtide::runtime::Backend,
    addr: &str,
    workers: usize,
) -> io::Result<()> {
    use ringtide::hyper::{Executor, Io, Timer};

    let runtime = ringtide::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .backend(backend)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = ringtide::net::TcpListener::bind(addr).await?;
        println!("listening on {}", listener.local_addr()?);
        let mut builder = auto::Builder::new(Executor::new());
        builder.http1().timer(Timer::new());
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let builder = builder.clone();
            ringtide::spawn(async move {
                let _ = builder
                    .serve_connection(Io::new(stream), hyper::service::service_fn(hello))
                    .await;
            });
        }
    })
}

fn tokio_server(addr: &str, workers: usize) -> io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("listening on {}", listener.local_addr()?);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new());
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let builder = builder.clone();
            tokio::spawn(async move {
                let _ = builder
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello))
                    .await;
            });
        }
    })
}
