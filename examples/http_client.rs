//! hyper-util's pooled client on ringtide, fetching from `examples/http.rs`.
//!
//! ```sh
//! cargo run --release --example http --features hyper &         # the server
//! cargo run --release --example http_client --features hyper -- --requests 10000 --concurrency 64
//! cargo run --release --example http_client --features hyper -- --http2
//! ```
//!
//! It says hello, echoes a 1 MiB body through `/echo` and checks it, streams 64 MiB
//! from `/stream`, then sends `--requests` GETs, `--concurrency` at a time, through
//! one pooled `Client` (HTTP/1.1 connections kept alive and re-used, or one h2c
//! connection with `--http2`), and prints the rate.
//!
//! Options: `--url http://HOST:PORT` (default `http://127.0.0.1:8080`), `--http2`,
//! `--requests N`, `--concurrency N`, `--backend io_uring|mio|auto`.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use ringtide::hyper::{Connector, Executor, Timer};
use ringtide::runtime::{Backend, Builder};
use ringtide::sync::Semaphore;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    if let Err(error) = run() {
        eprintln!("http_client: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let mut url = String::from("http://127.0.0.1:8080");
    let mut http2 = false;
    let mut requests = 1000usize;
    let mut concurrency = 32usize;
    let mut backend = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| invalid(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--url" => url = value()?.trim_end_matches('/').to_owned(),
            "--http2" => http2 = true,
            "--requests" => requests = value()?.parse()?,
            "--concurrency" => concurrency = value()?.parse::<usize>()?.max(1),
            "--backend" => backend = Some(value()?.parse::<Backend>()?),
            _ => {
                return Err(invalid(format!(
                    "unknown argument {arg:?}; usage: http_client [--url http://HOST:PORT] [--http2] [--requests N] [--concurrency N] [--backend B]"
                ))
                .into());
            }
        }
    }
    let mut builder = Builder::new_multi_thread();
    if let Some(backend) = backend {
        builder.backend(backend);
    }
    let runtime = builder.enable_all().build()?;
    runtime.block_on(async move {
        let client: Client<Connector, Full<Bytes>> = Client::builder(Executor::new())
            .timer(Timer::new())
            .pool_timer(Timer::new())
            .http2_only(http2)
            .build(Connector::new());

        let response = client.get(format!("{url}/").parse()?).await?;
        let version = response.version();
        let hello = response.into_body().collect().await?.to_bytes();
        print!("{version:?} {url}/: {}", String::from_utf8_lossy(&hello));

        let payload: Bytes = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect::<Vec<_>>().into();
        let echo = Request::post(format!("{url}/echo")).body(Full::new(payload.clone()))?;
        let echoed = client.request(echo).await?.into_body().collect().await?.to_bytes();
        if echoed != payload {
            return Err(invalid("/echo sent back different bytes".into()).into());
        }
        println!("echoed {} bytes intact", echoed.len());

        let started = Instant::now();
        let mut body = client.get(format!("{url}/stream/{}", 64 << 20).parse()?).await?.into_body();
        let mut received = 0usize;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                received += data.len();
            }
        }
        println!("streamed {received} bytes in {:?}", started.elapsed());

        let limit = Arc::new(Semaphore::new(concurrency));
        let started = Instant::now();
        let mut tasks = ringtide::task::JoinSet::new();
        for _ in 0..requests {
            let permit = limit.clone().acquire_owned().await?;
            let client = client.clone();
            let uri: hyper::Uri = format!("{url}/").parse()?;
            tasks.spawn(async move {
                let response = client.get(uri).await?;
                let status = response.status();
                response.into_body().collect().await?;
                drop(permit);
                Ok::<_, Error>(status)
            });
        }
        let mut failed = 0;
        while let Some(result) = tasks.join_next().await {
            match result? {
                Ok(status) if status.is_success() => {}
                Ok(status) => {
                    failed += 1;
                    eprintln!("status {status}");
                }
                Err(error) => {
                    failed += 1;
                    eprintln!("request: {error}");
                }
            }
        }
        let elapsed = started.elapsed();
        println!(
            "{requests} requests ({concurrency} at a time, {failed} failed) in {elapsed:?}: {:.0} requests/s",
            requests as f64 / elapsed.as_secs_f64()
        );
        Ok(())
    })
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}
