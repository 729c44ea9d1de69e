//! A static file server: `fs` and `net` together. Each connection sends HTTP/1.x
//! requests (`GET /path`); the server answers with the file under the root directory,
//! read with positional owned-buffer reads (`File::read_at`) and written to the socket
//! with `write_all_owned`, reusing one 64 KiB buffer per connection. Keep-alive until
//! the client closes or sends `Connection: close`.
//!
//! ```sh
//! cargo run --release --example file_server -- --root . --addr 127.0.0.1:8080
//! curl -s http://127.0.0.1:8080/Cargo.toml     # in another terminal
//! ```
//!
//! `--backend` is `io_uring`, `mio` or `auto` (default: `RINGTIDE_BACKEND`, then
//! `auto`). Paths with `..` components, or that do not name a regular file under the
//! root, get a 404.

use std::io;
use std::path::{Component, Path, PathBuf};

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpStream};
use ringtide::runtime::{Backend, Builder};

/// The largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// The read and write buffer per connection.
const CHUNK: usize = 64 * 1024;

fn main() {
    if let Err(error) = run() {
        eprintln!("file_server: {error}");
        std::process::exit(1);
    }
}

fn run() -> io::Result<()> {
    let mut backend = None;
    let mut addr = String::from("127.0.0.1:8080");
    let mut root = PathBuf::from(".");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| invalid(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--backend" => backend = Some(value()?.parse::<Backend>()?),
            "--addr" => addr = value()?,
            "--root" => root = PathBuf::from(value()?),
            _ => {
                return Err(invalid(format!(
                    "unknown argument {arg:?}; usage: file_server [--backend io_uring|mio|auto] \
                     [--addr HOST:PORT] [--root DIR]"
                )));
            }
        }
    }
    let root = std::fs::canonicalize(&root)?;

    let mut builder = Builder::new_multi_thread();
    if let Some(backend) = backend {
        builder.backend(backend);
    }
    let runtime = builder.enable_all().build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!(
            "serving {} on http://{} with the {} backend",
            root.display(),
            listener.local_addr()?,
            runtime.backend()
        );
        loop {
            let (stream, peer) = listener.accept().await?;
            let root = root.clone();
            ringtide::spawn(async move {
                if let Err(error) = serve(stream, &root).await {
                    eprintln!("{peer}: {error}");
                }
            });
        }
    })
}

/// Answers the requests of one connection until it closes.
async fn serve(mut stream: TcpStream, root: &Path) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut head = Vec::with_capacity(MAX_HEAD);
    let mut buf = Vec::with_capacity(CHUNK);
    loop {
        // Read until the end of the request head (a blank line).
        let end = loop {
            if let Some(end) = find_head_end(&head) {
                break end;
            }
            if head.len() >= MAX_HEAD {
                return respond_status(&mut stream, 431, "request head too large").await;
            }
            buf.clear();
            let (read, returned) = stream.read_owned(buf).await;
            buf = returned;
            match read? {
                0 => return Ok(()),
                _ => head.extend_from_slice(&buf),
            }
        };
        let request = String::from_utf8_lossy(&head[..end]).into_owned();
        head.drain(..end);
        let mut lines = request.lines();
        let mut words = lines.next().unwrap_or("").split_whitespace();
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let close = lines.any(|line| line.eq_ignore_ascii_case("connection: close"));
        if method != "GET" {
            respond_status(&mut stream, 405, "only GET is served").await?;
        } else {
            match resolve(root, target) {
                Some(path) => buf = send_file(&mut stream, &path, buf).await?,
                None => respond_status(&mut stream, 404, "not found").await?,
            }
        }
        if close {
            return Ok(());
        }
    }
}

/// The index just past the blank line that ends a request head, if it is all here.
fn find_head_end(head: &[u8]) -> Option<usize> {
    head.windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|position| position + 4)
}

/// The file a request target names under `root`: no `..`, no absolute escapes.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let relative = Path::new(target.split('?').next()?.trim_start_matches('/'));
    if relative
        .components()
        .any(|component| !matches!(component, Component::Normal(_)))
    {
        return None;
    }
    Some(root.join(relative))
}

/// Sends `path` as a 200 response (or a 404 when it is not a readable regular file),
/// streaming it in `buf`-sized positional reads; gives the buffer back.
async fn send_file(stream: &mut TcpStream, path: &Path, mut buf: Vec<u8>) -> io::Result<Vec<u8>> {
    let file = match ringtide::fs::File::open(path).await {
        Ok(file) => file,
        Err(_) => {
            respond_status(stream, 404, "not found").await?;
            return Ok(buf);
        }
    };
    let metadata = file.metadata().await?;
    if !metadata.is_file() {
        respond_status(stream, 404, "not found").await?;
        return Ok(buf);
    }
    let length = metadata.len();
    let header = format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n");
    let (written, _) = stream.write_all_owned(header.into_bytes()).await;
    written?;
    let mut offset = 0u64;
    while offset < length {
        // An empty Vec with CHUNK bytes of capacity: the read fills it from the start.
        buf.clear();
        let (read, returned) = file.read_at(buf, offset).await;
        buf = returned;
        let count = read?;
        if count == 0 {
            // The file shrank while being sent: the response cannot be completed.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while being sent", path.display()),
            ));
        }
        let (written, returned) = stream.write_all_owned(buf).await;
        buf = returned;
        written?;
        offset += count as u64;
    }
    Ok(buf)
}

async fn respond_status(stream: &mut TcpStream, status: u16, reason: &str) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n\r\n{reason}\n",
        reason.len() + 1
    );
    let (written, _) = stream.write_all_owned(response.into_bytes()).await;
    written
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}
