//! An axum app on ringtide: a `Router` with a JSON route, a path parameter and shared
//! state, served by hyper-util's server (HTTP/1.1 and h2c on one port) instead of
//! `axum::serve`.
//!
//! ```sh
//! cargo run --example axum --features hyper -- --addr 127.0.0.1:3000
//! curl http://127.0.0.1:3000/health                 # {"backend":"io_uring","status":"ok"}
//! curl http://127.0.0.1:3000/users/7                # {"id":7,"name":"user 7"}
//! curl -X POST -H 'content-type: application/json' \
//!      -d '{"name":"ada"}' http://127.0.0.1:3000/users   # {"id":1,"name":"ada"}
//! curl --http2-prior-knowledge http://127.0.0.1:3000/users/1
//! ```
//!
//! Bringing an existing axum app over: keep the `Router` as it is and replace
//! `axum::serve(listener, app)` with the accept loop below: each connection is served
//! by `hyper_util::server::conn::auto::Builder` (with `ringtide::hyper::Executor` and
//! `Timer`) over `ringtide::hyper::Io`, and the `Router` becomes a hyper service
//! through `hyper_util::service::TowerToHyperService`.
//!
//! axum is used with its default features off (here `json` only). What needs tokio's
//! runtime and so does not work on ringtide: the `tokio` feature (`axum::serve` and
//! its `ListenerExt`, built on `tokio::net`), and `ws` (`WebSocketUpgrade`, which
//! turns on `tokio` and runs tokio-tungstenite over hyper-util's `TokioIo`); `ConnectInfo`
//! is filled in by `axum::serve`, so with this loop a handler that wants the peer's
//! address gets it from a request extension the loop inserts. Routing, extractors,
//! `Json`, `Form`/`Query`, `State` and `tower` middleware are runtime-agnostic.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use ringtide::hyper::{Executor, Io, Timer};
use ringtide::net::TcpListener;
use ringtide::runtime::Backend;
use serde::{Deserialize, Serialize};

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    next_id: Arc<AtomicU64>,
    backend: Backend,
}

#[derive(Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
}

fn app(backend: Backend) -> Router {
    let state = AppState {
        next_id: Arc::new(AtomicU64::new(1)),
        backend,
    };
    Router::new()
        .route("/health", get(health))
        .route("/users/{id}", get(user))
        .route("/users", post(create_user))
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "backend": state.backend.to_string() }))
}

async fn user(Path(id): Path<u64>) -> Json<User> {
    Json(User {
        id,
        name: format!("user {id}"),
    })
}

async fn create_user(
    State(state): State<AppState>,
    Json(new): Json<NewUser>,
) -> (StatusCode, Json<User>) {
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    (StatusCode::CREATED, Json(User { id, name: new.name }))
}

fn main() {
    if let Err(error) = run() {
        eprintln!("axum: {error}");
        std::process::exit(1);
    }
}

fn run() -> io::Result<()> {
    let mut addr = String::from("127.0.0.1:3000");
    let mut backend = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| invalid(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--addr" => addr = value()?,
            "--backend" => backend = Some(value()?.parse::<Backend>()?),
            _ => {
                return Err(invalid(format!(
                    "unknown argument {arg:?}; usage: axum [--backend io_uring|mio|auto] [--addr HOST:PORT]"
                )));
            }
        }
    }
    let mut builder = ringtide::runtime::Builder::new_multi_thread();
    if let Some(backend) = backend {
        builder.backend(backend);
    }
    let runtime = builder.enable_all().build()?;
    let backend = runtime.backend();
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!(
            "axum on ringtide ({backend}) at http://{}",
            listener.local_addr()?
        );
        let service = TowerToHyperService::new(app(backend));
        let mut server = auto::Builder::new(Executor::new());
        server.http1().timer(Timer::new());
        server.http2().timer(Timer::new());
        loop {
            let (stream, peer) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let service = service.clone();
            let server = server.clone();
            ringtide::spawn(async move {
                if let Err(error) = server.serve_connection(Io::new(stream), service).await {
                    eprintln!("{peer}: {error}");
                }
            });
        }
    })
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}
