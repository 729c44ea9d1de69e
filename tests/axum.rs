//! An axum `Router` (JSON in and out, a path parameter, shared state, a fallback)
//! served by hyper-util's `auto` server on ringtide through `TowerToHyperService`, as
//! `examples/axum.rs` does; fetched with hyper-util's pooled client (HTTP/1.1 and h2c)
//! and with curl. Each test on both backends and both runtime flavours.

#![cfg(feature = "hyper")]

mod hyper_common;
mod rt_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axum::extract::{Path, State};
use axum::routing;
use axum::{Json, Router};
use futures::future::join_all;
use hyper::StatusCode;
use hyper_common::*;
use hyper_util::service::TowerToHyperService;
use ringtide::sync::{Semaphore, watch};
use serde::{Deserialize, Serialize};

#[derive(Clone)]
struct AppState {
    next_id: Arc<AtomicU64>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
}

fn app() -> Router {
    Router::new()
        .route(
            "/health",
            routing::get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route(
            "/users/{id}",
            routing::get(|Path(id): Path<u64>| async move {
                Json(User {
                    id,
                    name: format!("user {id}"),
                })
            }),
        )
        .route(
            "/users",
            routing::post(
                |State(state): State<AppState>, Json(new): Json<NewUser>| async move {
                    let id = state.next_id.fetch_add(1, Ordering::SeqCst);
                    (StatusCode::CREATED, Json(User { id, name: new.name }))
                },
            ),
        )
        .with_state(AppState {
            next_id: Arc::new(AtomicU64::new(1)),
        })
}

async fn start() -> TestServer {
    let state = Arc::new(ServerState {
        connections: AtomicUsize::new(0),
        requests: AtomicUsize::new(0),
        connection_errors: AtomicUsize::new(0),
        waiting: Semaphore::new(0),
        release: watch::channel(false).0,
    });
    let service = TowerToHyperService::new(app());
    TestServer::start_with(state, move |_connection| service.clone()).await
}

fn json_post(url: &str, json: &str) -> hyper::Request<Body> {
    hyper::Request::post(url)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(full(json.to_owned()))
        .unwrap()
}

backend_test! {
    fn axum_routes_with_the_pooled_client(rt, multi) {
        rt.block_on(async {
            let server = start().await;
            for http2_only in [false, true] {
                let client = pooled_client(http2_only);
                let response = client.request(get(&server.url("/health"))).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                assert_eq!(response.headers()[hyper::header::CONTENT_TYPE], "application/json");
                let health: serde_json::Value =
                    serde_json::from_slice(&body_bytes(response.into_body()).await).unwrap();
                assert_eq!(health, serde_json::json!({ "status": "ok" }));

                let response = client.request(get(&server.url("/users/42"))).await.unwrap();
                let user: User = serde_json::from_slice(&body_bytes(response.into_body()).await).unwrap();
                assert_eq!(user, User { id: 42, name: "user 42".into() });

                let response = client.request(get(&server.url("/users/forty-two"))).await.unwrap();
                assert_eq!(response.status(), StatusCode::BAD_REQUEST, "a bad path parameter");
                let response = client.request(get(&server.url("/nowhere"))).await.unwrap();
                assert_eq!(response.status(), StatusCode::NOT_FOUND);
                let response = client
                    .request(json_post(&server.url("/users"), "{\"name\": 3}"))
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "bad JSON");
            }
            server.stop().await;
        });
    }
}

backend_test! {
    fn axum_shared_state_under_concurrent_posts(rt, multi) {
        rt.block_on(async {
            const POSTS: u64 = 200;
            let server = start().await;
            let client = pooled_client(false);
            let url = server.url("/users");
            let posts = (0..POSTS).map(|i| {
                let client = client.clone();
                let url = url.clone();
                ringtide::spawn(async move {
                    let body = format!("{{\"name\": \"user-{i}\"}}");
                    let response = client.request(json_post(&url, &body)).await.unwrap();
                    assert_eq!(response.status(), StatusCode::CREATED);
                    let user: User =
                        serde_json::from_slice(&body_bytes(response.into_body()).await).unwrap();
                    assert_eq!(user.name, format!("user-{i}"));
                    user.id
                })
            });
            let mut ids: Vec<u64> = join_all(posts).await.into_iter().map(Result::unwrap).collect();
            ids.sort_unstable();
            // One counter shared by every connection and worker: each id given once.
            assert_eq!(ids, (1..=POSTS).collect::<Vec<_>>());
            drop(client);
            server.stop().await;
        });
    }
}

async fn curl_axum(version_flag: &str) {
    let server = start().await;
    let health = curl(&[version_flag, &server.url("/health")]).await;
    assert_eq!(&health[..], br#"{"status":"ok"}"#);
    let user = curl(&[version_flag, &server.url("/users/7")]).await;
    assert_eq!(&user[..], br#"{"id":7,"name":"user 7"}"#);
    let created = curl(&[
        version_flag,
        "--header",
        "content-type: application/json",
        "--data",
        r#"{"name":"ada"}"#,
        &server.url("/users"),
    ])
    .await;
    assert_eq!(&created[..], br#"{"id":1,"name":"ada"}"#);
    server.stop().await;
}

backend_test! {
    fn axum_with_curl_http1(rt, multi) {
        if !curl_available("axum_with_curl_http1", false) {
            return;
        }
        rt.block_on(curl_axum("--http1.1"));
    }
}

backend_test! {
    fn axum_with_curl_h2c(rt, multi) {
        if !curl_available("axum_with_curl_h2c", true) {
            return;
        }
        rt.block_on(curl_axum("--http2-prior-knowledge"));
    }
}
