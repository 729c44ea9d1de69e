//! A TCP echo server: one task per connection, echoing with the owned-buffer API and
//! reusing one buffer per connection.
//!
//! ```sh
//! cargo run --release --example echo -- --backend io_uring --addr 127.0.0.1:7878
//! nc 127.0.0.1 7878        # in another terminal: every line you type comes back
//! ```
//!
//! `--backend` is `io_uring`, `mio` or `auto`; without it the environment variable
//! `RINGTIDE_BACKEND` decides, and without that, `auto`. `--addr` defaults to
//! `127.0.0.1:7878`.

use std::io;

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpStream};
use ringtide::runtime::{Backend, Builder};

fn main() {
    if let Err(error) = run() {
        eprintln!("echo: {error}");
        std::process::exit(1);
    }
}

fn run() -> io::Result<()> {
    let mut backend = None;
    let mut addr = String::from("127.0.0.1:7878");
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
                    "unknown argument {arg:?}; usage: echo [--backend io_uring|mio|auto] [--addr HOST:PORT]"
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
        println!(
            "echoing on {} with the {} backend",
            listener.local_addr()?,
            runtime.backend()
        );
        loop {
            let (stream, peer) = listener.accept().await?;
            ringtide::spawn(async move {
                if let Err(error) = echo(stream).await {
                    eprintln!("{peer}: {error}");
                }
            });
        }
    })
}

/// Sends back everything `stream` receives until the peer closes it.
async fn echo(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        let (result, read_buf) = stream.read_owned(buf).await;
        if result? == 0 {
            return Ok(());
        }
        let (result, written_buf) = stream.write_all_owned(read_buf).await;
        result?;
        buf = written_buf;
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}
