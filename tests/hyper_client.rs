//! hyper-util's pooled client (`legacy::Client`) on ringtide, with
//! `ringtide::hyper::Connector`, against the test server; and the `rt` adapters
//! themselves (`Executor::on`, `Timer`'s reset, `Io` over a Unix stream). Each test on
//! both backends and both runtime flavours (`backend_test!`).

#![cfg(feature = "hyper")]

mod hyper_common;
mod rt_common;

use std::error::Error as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::future::join_all;
use hyper::StatusCode;
use hyper_common::*;
use ringtide::hyper::{Executor, Io, Timer};

/// The chain of an error's messages, outermost first.
fn messages(error: &dyn std::error::Error) -> String {
    let mut all = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        all.push_str(": ");
        all.push_str(&inner.to_string());
        source = inner.source();
    }
    all
}

backend_test! {
    fn pooled_http1_reuses_idle_connections(rt, multi) {
        rt.block_on(async {
            const REQUESTS: usize = 100;
            let server = TestServer::start().await;
            let client = pooled_client(false);
            let url = server.url("/hello");
            for _ in 0..REQUESTS {
                let response = client.request(get(&url)).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                assert_eq!(&body_bytes(response.into_body()).await[..], b"hello, world\n");
            }
            assert_eq!(server.state.requests.load(Ordering::SeqCst), REQUESTS);
            // Without keep-alive every request would open a connection.
            let connections = server.state.connections.load(Ordering::SeqCst);
            assert!(connections < REQUESTS / 2, "{connections} connections for {REQUESTS} requests");
            drop(client);
            server.stop().await;
        });
    }
}

backend_test! {
    fn pooled_http1_thousand_concurrent_then_reused(rt, multi) {
        rt.block_on(async {
            const CONCURRENT: usize = 1000;
            let server = TestServer::start().await;
            let client = pooled_client(false);
            let url = server.url("/hello");
            let wave = || {
                join_all((0..CONCURRENT).map(|_| {
                    let client = client.clone();
                    let url = url.clone();
                    ringtide::spawn(async move {
                        let response = client.request(get(&url)).await.unwrap();
                        assert_eq!(response.status(), StatusCode::OK);
                        body_bytes(response.into_body()).await
                    })
                }))
            };
            for body in wave().await {
                assert_eq!(&body.unwrap()[..], b"hello, world\n");
            }
            let after_first = server.state.connections.load(Ordering::SeqCst);
            assert!(after_first <= CONCURRENT);
            // The second wave finds the first wave's connections idle in the pool.
            for body in wave().await {
                assert_eq!(&body.unwrap()[..], b"hello, world\n");
            }
            let total = server.state.connections.load(Ordering::SeqCst);
            assert!(
                total < 2 * CONCURRENT,
                "no connection was reused: {total} connections for {} requests",
                2 * CONCURRENT
            );
            assert_eq!(server.state.requests.load(Ordering::SeqCst), 2 * CONCURRENT);
            drop(client);
            server.stop().await;
        });
    }
}

backend_test! {
    fn pooled_h2c_shares_one_connection(rt, multi) {
        rt.block_on(async {
            let server = TestServer::start().await;
            let client = pooled_client(true);
            let url = server.url("/hello");
            let response = client.request(get(&url)).await.unwrap();
            assert_eq!(response.version(), hyper::Version::HTTP_2);
            body_bytes(response.into_body()).await;
            // Once the connection is pooled, 1,000 concurrent requests multiplex on it.
            let requests = (0..1000).map(|_| {
                let client = client.clone();
                let url = url.clone();
                ringtide::spawn(async move {
                    let response = client.request(get(&url)).await.unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                    body_bytes(response.into_body()).await
                })
            });
            for body in join_all(requests).await {
                assert_eq!(&body.unwrap()[..], b"hello, world\n");
            }
            assert_eq!(server.state.connections.load(Ordering::SeqCst), 1);
            drop(client);
            server.stop().await;
        });
    }
}

backend_test! {
    fn pooled_client_streams_bodies_both_ways(rt, multi) {
        rt.block_on(async {
            const LEN: u64 = 8 * MIB + 1;
            let server = TestServer::start().await;
            for http2_only in [false, true] {
                let client = pooled_client(http2_only);
                let response = client
                    .request(post(&server.url("/checksum"), pattern_body(LEN)))
                    .await
                    .unwrap();
                let (len, hash) = Checksum::of_pattern(LEN);
                assert_eq!(body_bytes(response.into_body()).await, format!("{len} {hash}"));
                let response = client
                    .request(get(&server.url(&format!("/stream/{LEN}"))))
                    .await
                    .unwrap();
                assert_eq!(checksum_body(response.into_body()).await.unwrap(), (len, hash));
                let response = client
                    .request(post(&server.url("/echo"), pattern_body(LEN)))
                    .await
                    .unwrap();
                assert_eq!(checksum_body(response.into_body()).await.unwrap(), (len, hash));
            }
            server.stop().await;
        });
    }
}

backend_test! {
    fn pooled_client_over_ipv6_loopback(rt, multi) {
        rt.block_on(async {
            let listener = match ringtide::net::TcpListener::bind("[::1]:0").await {
                Ok(listener) => listener,
                Err(error) => {
                    eprintln!("SKIP pooled_client_over_ipv6_loopback: no ::1 here ({error})");
                    return;
                }
            };
            let addr = listener.local_addr().unwrap();
            let server = ringtide::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let service = hyper::service::service_fn(|request: hyper::Request<_>| async move {
                    let host = request.headers()[hyper::header::HOST].to_str().unwrap().to_owned();
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(full(host)))
                });
                server_builder().serve_connection(Io::new(stream), service).await.unwrap();
            });
            let client = pooled_client(false);
            let url = format!("http://[::1]:{}/", addr.port());
            let response = client.request(get(&url)).await.unwrap();
            let host = body_bytes(response.into_body()).await;
            assert_eq!(host, format!("[::1]:{}", addr.port()));
            drop(client);
            server.await.unwrap();
        });
    }
}

backend_test! {
    fn connector_errors_say_what_went_wrong(rt, multi) {
        rt.block_on(async {
            let client = pooled_client(false);
            let https = client.request(get("https://127.0.0.1:9/")).await.unwrap_err();
            assert!(https.is_connect(), "{https:?}");
            assert!(messages(&https).contains("plain http only"), "{}", messages(&https));
            // A port nobody listens on: bind one, learn it, close it.
            let closed = {
                let listener = ringtide::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                listener.local_addr().unwrap()
            };
            let refused = client.request(get(&format!("http://{closed}/"))).await.unwrap_err();
            assert!(refused.is_connect(), "{refused:?}");
            let io_error = refused
                .source()
                .and_then(|source| source.downcast_ref::<std::io::Error>())
                .unwrap_or_else(|| panic!("not an io::Error inside: {}", messages(&refused)));
            assert_eq!(io_error.kind(), std::io::ErrorKind::ConnectionRefused);
        });
    }
}

backend_test! {
    fn connector_timeout_is_an_error(rt, multi) {
        rt.block_on(async {
            // A listener with a backlog of 0 queues one connection; while that one is not
            // accepted, Linux drops further SYNs, so the next connect cannot finish.
            let socket = ringtide::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let listener = socket.listen(0).unwrap();
            let addr = listener.local_addr().unwrap();
            let _queued = ringtide::net::TcpStream::connect(addr).await.unwrap();
            let mut connector = ringtide::hyper::Connector::new();
            connector.set_connect_timeout(Some(Duration::from_millis(100)));
            let uri = format!("http://{addr}/").parse().unwrap();
            let error = tower_service::Service::call(&mut connector, uri).await.unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::TimedOut, "{error}");
            assert!(error.to_string().contains("took longer than 100ms"), "{error}");
            drop(listener);
        });
    }
}

backend_test! {
    fn executor_on_a_handle_spawns_from_any_thread(rt, multi) {
        let handle = rt.handle().clone();
        let executor = Executor::on(handle);
        let (sent, received) = ringtide::sync::oneshot::channel();
        // A thread outside every runtime: `ringtide::spawn` would panic here.
        std::thread::spawn(move || {
            hyper::rt::Executor::execute(&executor, async move {
                let _ = sent.send(ringtide::runtime::Handle::current().backend());
            });
        })
        .join()
        .unwrap();
        let backend = rt.block_on(received).unwrap();
        assert_eq!(backend, rt.handle().backend());
    }
}

backend_test! {
    fn timer_sleeps_reset_in_place_and_replace_foreign_ones(rt, multi) {
        use hyper::rt::Timer as _;

        rt.block_on(async {
            let timer = Timer::new();
            let now = timer.now();
            let mut sleep = timer.sleep(Duration::from_secs(3600));
            assert!(sleep.is::<ringtide::hyper::TimerSleep>());
            // Polled once: registered on the wheel an hour out.
            assert!(futures::poll!(sleep.as_mut()).is_pending());
            let address = &*sleep as *const dyn hyper::rt::Sleep as *const ();
            timer.reset(&mut sleep, now);
            let after = &*sleep as *const dyn hyper::rt::Sleep as *const ();
            assert_eq!(address, after, "reset replaced our own sleep instead of moving it");
            sleep.as_mut().await;
            let deadline = sleep
                .as_mut()
                .downcast_mut_pin::<ringtide::hyper::TimerSleep>()
                .unwrap()
                .deadline();
            assert_eq!(deadline, now);

            // A sleep of another timer is replaced by one of ours.
            struct Foreign;
            impl std::future::Future for Foreign {
                type Output = ();
                fn poll(
                    self: std::pin::Pin<&mut Self>,
                    _cx: &mut std::task::Context<'_>,
                ) -> std::task::Poll<()> {
                    std::task::Poll::Pending
                }
            }
            impl hyper::rt::Sleep for Foreign {}
            let mut foreign: std::pin::Pin<Box<dyn hyper::rt::Sleep>> = Box::pin(Foreign);
            timer.reset(&mut foreign, timer.now());
            assert!(foreign.is::<ringtide::hyper::TimerSleep>());
            foreign.await;
        });
    }
}

// Unix only: Windows has no `net::UnixStream`.
#[cfg(unix)]
backend_test! {
    fn http1_over_a_unix_stream(rt, multi) {
        rt.block_on(async {
            let directory = std::env::temp_dir().join(format!(
                "ringtide-hyper-{}-{:?}-{}",
                std::process::id(),
                rt.handle().backend(),
                if multi { "multi" } else { "current" }
            ));
            let _ = std::fs::remove_dir_all(&directory);
            std::fs::create_dir_all(&directory).unwrap();
            let path = directory.join("http.sock");
            let listener = ringtide::net::UnixListener::bind(&path).unwrap();
            let server = ringtide::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let service = hyper::service::service_fn(|request: hyper::Request<_>| async move {
                    let body = body_bytes(request.into_body()).await;
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(full(body)))
                });
                server_builder().serve_connection(Io::new(stream), service).await.unwrap();
            });
            let stream = ringtide::net::UnixStream::connect(&path).await.unwrap();
            let (mut sender, connection) = hyper::client::conn::http1::handshake(Io::new(stream))
                .await
                .unwrap();
            let driver = ringtide::spawn(connection);
            let response = sender
                .send_request(post("http://localhost/", full("over a unix socket")))
                .await
                .unwrap();
            assert_eq!(&body_bytes(response.into_body()).await[..], b"over a unix socket");
            drop(sender);
            driver.await.unwrap().unwrap();
            server.await.unwrap();
            std::fs::remove_dir_all(&directory).unwrap();
        });
    }
}
