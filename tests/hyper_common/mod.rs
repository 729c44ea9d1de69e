//! Helpers shared by the HTTP tests (`hyper_server`, `hyper_client`, `axum`):
//!
//! * [`TestServer`]: a hyper-util `auto` server (HTTP/1.1 with upgrades, and h2c) on
//!   ringtide, with graceful shutdown, counters, and the routes of [`route`].
//! * Clients: [`http1`] and [`http2`] (hyper's connection-level clients on ringtide),
//!   [`pooled_client`] (hyper-util's pooled client with ringtide's connector).
//! * Bodies: [`pattern_body`] (a streamed body of a known pattern), [`Checksum`].
//! * [`curl`]: runs `/usr/bin/curl` (or whichever `curl` is on `PATH`), or says why it
//!   is skipped.
//!
//! Each test binary includes this module and uses part of it, hence `dead_code`.

#![allow(dead_code, unused_imports)]

use std::convert::Infallible;
use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use ringtide::hyper::{Connector, Executor, Io, Timer};
use ringtide::net::{TcpListener, TcpStream};
use ringtide::sync::{Semaphore, oneshot, watch};
use ringtide::task::JoinHandle;

pub type BoxError = Box<dyn StdError + Send + Sync>;
/// The body type of every request and response here.
pub type Body = BoxBody<Bytes, BoxError>;

pub const MIB: u64 = 1 << 20;
/// The streamed-body chunk size.
pub const CHUNK: usize = 64 << 10;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

// ---------------------------------------------------------------------------------------
// The byte pattern and its checksum
// ---------------------------------------------------------------------------------------

/// The pattern's 8-byte word number `index` (splitmix64).
fn pattern_word(index: u64) -> u64 {
    let mut z = index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The pattern's bytes `offset..offset + len` (`offset` a multiple of 8).
pub fn pattern(offset: u64, len: usize) -> Bytes {
    assert_eq!(offset % 8, 0);
    let mut out = Vec::with_capacity(len + 8);
    let mut word = offset / 8;
    while out.len() < len {
        out.extend_from_slice(&pattern_word(word).to_le_bytes());
        word += 1;
    }
    out.truncate(len);
    out.into()
}

/// A body of the pattern's first `len` bytes, produced in `CHUNK`-sized frames as
/// the peer takes them (never all in memory).
pub fn pattern_body(len: u64) -> Body {
    let chunks = futures::stream::unfold(0u64, move |offset| async move {
        if offset >= len {
            return None;
        }
        let size = (len - offset).min(CHUNK as u64) as usize;
        let chunk = pattern(offset, size);
        Some((Ok::<_, BoxError>(Frame::data(chunk)), offset + size as u64))
    });
    StreamBody::new(chunks).boxed()
}

/// An order-sensitive checksum over a byte stream, however it is split.
#[derive(Clone, Debug, Default)]
pub struct Checksum {
    hash: u64,
    len: u64,
    partial: [u8; 8],
    partial_len: usize,
}

impl Checksum {
    fn mix(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    pub fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if self.partial_len > 0 {
            let take = (8 - self.partial_len).min(bytes.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&bytes[..take]);
            self.partial_len += take;
            bytes = &bytes[take..];
            if self.partial_len < 8 {
                return;
            }
            self.mix(u64::from_le_bytes(self.partial));
            self.partial_len = 0;
        }
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.mix(u64::from_le_bytes(word.try_into().unwrap()));
        }
        let rest = words.remainder();
        self.partial[..rest.len()].copy_from_slice(rest);
        self.partial_len = rest.len();
    }

    /// (length, hash).
    pub fn finish(mut self) -> (u64, u64) {
        if self.partial_len > 0 {
            let mut last = [0u8; 8];
            last[..self.partial_len].copy_from_slice(&self.partial[..self.partial_len]);
            self.mix(u64::from_le_bytes(last));
        }
        let len = self.len;
        self.mix(len);
        (len, self.hash)
    }

    /// The checksum of the pattern's first `len` bytes.
    pub fn of_pattern(len: u64) -> (u64, u64) {
        let mut checksum = Checksum::default();
        let mut offset = 0;
        while offset < len {
            let size = (len - offset).min(CHUNK as u64) as usize;
            checksum.update(&pattern(offset, size));
            offset += size as u64;
        }
        checksum.finish()
    }
}

/// Reads a body frame by frame into a checksum (the body is never kept whole).
pub async fn checksum_body<B>(mut body: B) -> Result<(u64, u64), BoxError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let mut checksum = Checksum::default();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(Into::into)?.into_data() {
            checksum.update(&data);
        }
    }
    Ok(checksum.finish())
}

pub async fn body_bytes<B>(body: B) -> Bytes
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    body.collect().await.expect("reading a body").to_bytes()
}

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

/// What the server counts, and the gate of `/wait`.
#[derive(Debug)]
pub struct ServerState {
    /// Connections accepted so far.
    pub connections: AtomicUsize,
    /// Requests that reached a handler.
    pub requests: AtomicUsize,
    /// Connections that ended with an error.
    pub connection_errors: AtomicUsize,
    /// One permit per `/wait` request that has arrived.
    pub waiting: Semaphore,
    /// `/wait` requests answer once this is `true`.
    pub release: watch::Sender<bool>,
}

/// A running test server: `auto` (HTTP/1.1 with upgrades, h2c by prior knowledge),
/// each connection watched by a `GracefulShutdown`.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<ServerState>,
    shutdown: Option<oneshot::Sender<()>>,
    stopped_accepting: Option<oneshot::Receiver<()>>,
    finished: Option<JoinHandle<()>>,
}

/// The routes of the test server:
///
/// * `GET /hello`: `hello, world\n`, with `x-connection: <n>` (the connection's
///   number, from 1 in accept order).
/// * `POST /echo`: the request body, streamed back as it arrives.
/// * `POST /checksum`: reads the request body frame by frame; answers `<len> <hash>`.
/// * `GET /stream/<len>`: `len` bytes of the pattern, streamed.
/// * `GET /wait`: arrives (one `waiting` permit), then answers `released` once
///   `release` is `true`.
/// * `GET /upgrade` with `upgrade: echo`: `101`, then echoes the upgraded connection.
pub async fn route(
    state: Arc<ServerState>,
    connection: usize,
    mut request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let path = request.uri().path().to_owned();
    let response = match (request.method().clone(), path.as_str()) {
        (Method::GET, "/hello") => {
            let mut response = Response::new(full("hello, world\n"));
            response
                .headers_mut()
                .insert("x-connection", connection.to_string().parse().unwrap());
            response
        }
        (Method::POST, "/echo") => Response::new(request.into_body().map_err(Into::into).boxed()),
        (Method::POST, "/checksum") => match checksum_body(request.into_body()).await {
            Ok((len, hash)) => Response::new(full(format!("{len} {hash}"))),
            Err(error) => status(StatusCode::BAD_REQUEST, format!("body: {error}")),
        },
        (Method::GET, path) if path.starts_with("/stream/") => {
            match path["/stream/".len()..].parse::<u64>() {
                Ok(len) => Response::new(pattern_body(len)),
                Err(_) => status(StatusCode::BAD_REQUEST, "bad length".into()),
            }
        }
        (Method::GET, "/wait") => {
            state.waiting.add_permits(1);
            let mut release = state.release.subscribe();
            let _ = release.wait_for(|released| *released).await;
            Response::new(full("released"))
        }
        (Method::GET, "/upgrade") => {
            let wants_echo = request
                .headers()
                .get(hyper::header::UPGRADE)
                .is_some_and(|protocol| protocol == "echo");
            if !wants_echo {
                return Ok(status(StatusCode::BAD_REQUEST, "upgrade: echo only".into()));
            }
            let upgrade = hyper::upgrade::on(&mut request);
            ringtide::spawn(async move {
                match upgrade.await {
                    Ok(upgraded) => {
                        let (mut reader, mut writer) = tokio::io::split(Io::new(upgraded));
                        let copied = tokio::io::copy(&mut reader, &mut writer).await;
                        let shut = tokio::io::AsyncWriteExt::shutdown(&mut writer).await;
                        if copied.is_err() || shut.is_err() {
                            eprintln!("upgraded echo: {copied:?} {shut:?}");
                        }
                    }
                    Err(error) => eprintln!("upgrade failed: {error}"),
                }
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header(hyper::header::CONNECTION, "upgrade")
                .header(hyper::header::UPGRADE, "echo")
                .body(empty())
                .unwrap()
        }
        _ => status(StatusCode::NOT_FOUND, format!("no route {path}")),
    };
    Ok(response)
}

fn status(code: StatusCode, message: String) -> Response<Body> {
    Response::builder()
        .status(code)
        .body(full(message))
        .unwrap()
}

/// The server builder used by every test server: a timer for HTTP/1's header timeout
/// and HTTP/2's keep-alive, and room for 1,000 concurrent HTTP/2 streams.
pub fn server_builder() -> auto::Builder<Executor> {
    let mut builder = auto::Builder::new(Executor::new());
    builder.http1().timer(Timer::new());
    builder
        .http2()
        .timer(Timer::new())
        .max_concurrent_streams(1000);
    builder
}

/// Whether a connection's error is only `shutdown(2)`'s `ENOTCONN` because the peer
/// had already closed: an HTTP/2 client that has its answers may close as soon as
/// it reads the server's GOAWAY, and on loopback its close can beat the server's
/// own shutdown of the socket (hyper#3070; tokio's streams report it the same way).
/// Nothing is lost then, so the tests do not count it as an error.
fn peer_gone_at_shutdown(error: &(dyn StdError + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::NotConnected;
        }
        source = error.source();
    }
    false
}

impl TestServer {
    /// Binds 127.0.0.1 on a free port and serves [`route`] until [`shutdown`](Self::shutdown).
    pub async fn start() -> TestServer {
        let state = Arc::new(ServerState {
            connections: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
            connection_errors: AtomicUsize::new(0),
            waiting: Semaphore::new(0),
            release: watch::channel(false).0,
        });
        let route_state = state.clone();
        TestServer::start_with(state, move |connection| {
            let state = route_state.clone();
            hyper::service::service_fn(move |request| route(state.clone(), connection, request))
        })
        .await
    }

    /// Serves the service that `make_service(connection_number)` builds for each
    /// connection.
    pub async fn start_with<S, B, M>(state: Arc<ServerState>, make_service: M) -> TestServer
    where
        M: Fn(usize) -> S + Send + 'static,
        S: hyper::service::Service<Request<Incoming>, Response = Response<B>>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, mut shutdown_rx) = oneshot::channel::<()>();
        let (stopped_tx, stopped_accepting) = oneshot::channel();
        let server_state = state.clone();
        let finished = ringtide::spawn(async move {
            let builder = server_builder();
            let graceful = GracefulShutdown::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let (stream, _peer) = accepted.expect("accept");
                        stream.set_nodelay(true).unwrap();
                        let number = server_state.connections.fetch_add(1, Ordering::SeqCst) + 1;
                        let connection = builder
                            .serve_connection_with_upgrades(Io::new(stream), make_service(number))
                            .into_owned();
                        let connection = graceful.watch(connection);
                        let state = server_state.clone();
                        ringtide::spawn(async move {
                            if let Err(error) = connection.await {
                                if !peer_gone_at_shutdown(&*error) {
                                    eprintln!("server connection {number}: {error:?}");
                                    state.connection_errors.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                        });
                    }
                    _ = &mut shutdown_rx => break,
                }
            }
            // From here new connections are refused.
            drop(listener);
            let _ = stopped_tx.send(());
            graceful.shutdown().await;
        });
        TestServer {
            addr,
            state,
            shutdown: Some(shutdown),
            stopped_accepting: Some(stopped_accepting),
            finished: Some(finished),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Starts a graceful shutdown and waits until the listener is closed (the open
    /// connections are still finishing). [`finished`](Self::finished) waits for them.
    pub async fn shutdown(&mut self) {
        let _ = self.shutdown.take().expect("shut down twice").send(());
        self.stopped_accepting
            .take()
            .unwrap()
            .await
            .expect("the server task ended without closing its listener");
    }

    /// Waits until every connection has finished after [`shutdown`](Self::shutdown).
    pub async fn finished(&mut self) {
        self.finished
            .take()
            .unwrap()
            .await
            .expect("the server task panicked");
    }

    /// Shuts down and waits for every connection.
    pub async fn stop(mut self) {
        self.shutdown().await;
        self.finished().await;
    }
}

// ---------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------

/// An HTTP/1.1 connection (upgrades allowed) to `addr`; its driver runs as a task.
pub async fn http1(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Body> {
    http1_with_driver(addr).await.0
}

/// [`http1`], with the task that drives the connection: it ends (with the
/// connection's result) when the connection closes.
pub async fn http1_with_driver(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http1::SendRequest<Body>,
    JoinHandle<Result<(), hyper::Error>>,
) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(Io::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    let driver = ringtide::spawn(async move { connection.with_upgrades().await });
    (sender, driver)
}

/// An h2c (prior knowledge) connection to `addr`; its driver runs as a task.
pub async fn http2(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<Body> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    let (sender, connection) = hyper::client::conn::http2::Builder::new(Executor::new())
        .timer(Timer::new())
        .handshake(Io::new(stream))
        .await
        .expect("HTTP/2 handshake");
    ringtide::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("client HTTP/2 connection: {error}");
        }
    });
    sender
}

pub type PooledClient = hyper_util::client::legacy::Client<Connector, Body>;

/// hyper-util's pooled client on ringtide (`http2_only` for h2c).
pub fn pooled_client(http2_only: bool) -> PooledClient {
    hyper_util::client::legacy::Client::builder(Executor::new())
        .timer(Timer::new())
        .pool_timer(Timer::new())
        .http2_only(http2_only)
        .build(Connector::new())
}

pub fn get(url: &str) -> Request<Body> {
    Request::get(url).body(empty()).unwrap()
}

pub fn post(url: &str, body: Body) -> Request<Body> {
    Request::post(url).body(body).unwrap()
}

// ---------------------------------------------------------------------------------------
// curl
// ---------------------------------------------------------------------------------------

/// What `curl --version` says, once per process; `None` (after printing why) when
/// there is no curl.
fn curl_version() -> Option<&'static str> {
    static VERSION: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    VERSION
        .get_or_init(
            || match std::process::Command::new("curl").arg("--version").output() {
                Ok(output) if output.status.success() => {
                    Some(String::from_utf8_lossy(&output.stdout).into_owned())
                }
                Ok(output) => {
                    eprintln!("curl --version failed: {}", output.status);
                    None
                }
                Err(error) => {
                    eprintln!("curl not runnable: {error}");
                    None
                }
            },
        )
        .as_deref()
}

/// Whether curl can be used for `test` (and, with `http2`, speaks HTTP/2); prints a
/// SKIP line saying why not.
pub fn curl_available(test: &str, http2: bool) -> bool {
    match curl_version() {
        None => {
            eprintln!("SKIP {test}: curl is not installed (apt-get install -y curl; .ci/run does)");
            false
        }
        Some(version)
            if http2
                && !version
                    .lines()
                    .any(|l| l.starts_with("Features:") && l.contains("HTTP2")) =>
        {
            eprintln!("SKIP {test}: this curl has no HTTP2 in `curl --version`'s features");
            false
        }
        Some(_) => true,
    }
}

/// Runs curl (silent, failing on HTTP errors) with `args`, on ringtide's process API
/// (on Windows, which has none, std's on the blocking pool), and returns its standard
/// output; panics with curl's stderr on failure.
pub async fn curl(args: &[&str]) -> Vec<u8> {
    const FLAGS: [&str; 5] = ["--silent", "--show-error", "--fail", "--max-time", "30"];
    #[cfg(unix)]
    let output = ringtide::process::Command::new("curl")
        .args(FLAGS)
        .args(args)
        .output()
        .await
        .expect("running curl");
    #[cfg(windows)]
    let output = {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        ringtide::task::spawn_blocking(move || {
            std::process::Command::new("curl")
                .args(FLAGS)
                .args(args)
                .output()
        })
        .await
        .expect("the curl thread")
        .expect("running curl")
    };
    assert!(
        output.status.success(),
        "curl {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
