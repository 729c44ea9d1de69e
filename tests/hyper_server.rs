//! hyper's servers on ringtide (`ringtide::hyper`): hyper-util's `auto` builder serving
//! HTTP/1.1 and h2c, tested with hyper's own clients on ringtide and with curl, each
//! test on both backends and both runtime flavours (`backend_test!`): keep-alive with
//! 1,000 concurrent requests, 64 MiB bodies streamed each way, an upgrade, graceful
//! shutdown, hyper's timer.

#![cfg(feature = "hyper")]

mod hyper_common;
mod rt_common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::future::join_all;
use hyper::StatusCode;
use hyper_common::*;
use ringtide::hyper::{Executor, Io, Timer};
use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpStream};

/// The `x-connection` header of a `/hello` response.
fn connection_number<B>(response: &hyper::Response<B>) -> usize {
    response.headers()["x-connection"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

backend_test! {
    fn http1_hello_echo_and_keep_alive(rt, multi) {
        rt.block_on(async {
            let server = TestServer::start().await;
            let mut sender = http1(server.addr).await;
            for _ in 0..3 {
                sender.ready().await.unwrap();
                let response = sender.send_request(get(&server.url("/hello"))).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                assert_eq!(response.version(), hyper::Version::HTTP_11);
                assert_eq!(connection_number(&response), 1);
                assert_eq!(&body_bytes(response.into_body()).await[..], b"hello, world\n");
            }
            // The body is streamed back while it is still being sent.
            sender.ready().await.unwrap();
            let len = 3 * MIB + 5;
            let response = sender
                .send_request(post(&server.url("/echo"), pattern_body(len)))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(checksum_body(response.into_body()).await.unwrap(), Checksum::of_pattern(len));
            sender.ready().await.unwrap();
            let response = sender.send_request(get(&server.url("/nowhere"))).await.unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
            assert_eq!(server.state.connections.load(Ordering::SeqCst), 1, "keep-alive");
            assert_eq!(server.state.requests.load(Ordering::SeqCst), 5);
            drop(sender);
            server.stop().await;
        });
    }
}

backend_test! {
    fn h2c_hello_and_echo(rt, multi) {
        rt.block_on(async {
            let server = TestServer::start().await;
            let mut sender = http2(server.addr).await;
            let response = sender.send_request(get(&server.url("/hello"))).await.unwrap();
            assert_eq!(response.version(), hyper::Version::HTTP_2);
            assert_eq!(&body_bytes(response.into_body()).await[..], b"hello, world\n");
            let len = 3 * MIB + 5;
            let response = sender
                .send_request(post(&server.url("/echo"), pattern_body(len)))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(checksum_body(response.into_body()).await.unwrap(), Checksum::of_pattern(len));
            assert_eq!(server.state.connections.load(Ordering::SeqCst), 1);
            drop(sender);
            server.stop().await;
        });
    }
}

/// curl against the server: hello, an echoed body, a streamed 1 MiB response.
async fn curl_round_trips(version_flag: &str, expect_version: &str) {
    let server = TestServer::start().await;
    let hello = curl(&[
        version_flag,
        "--write-out",
        " %{http_version}",
        &server.url("/hello"),
    ])
    .await;
    assert_eq!(
        String::from_utf8(hello).unwrap(),
        format!("hello, world\n {expect_version}")
    );
    let echoed = curl(&[
        version_flag,
        "--data-binary",
        "ringtide speaks HTTP",
        &server.url("/echo"),
    ])
    .await;
    assert_eq!(&echoed[..], b"ringtide speaks HTTP");
    let streamed = curl(&[version_flag, &server.url(&format!("/stream/{}", MIB + 3))]).await;
    let mut checksum = Checksum::default();
    checksum.update(&streamed);
    assert_eq!(checksum.finish(), Checksum::of_pattern(MIB + 3));
    let mut requests = 3;
    let mut connections = 3;
    if expect_version == "1.1" {
        // Two URLs in one curl run share the connection. (Not checked on h2c: curl
        // 7.88, Debian 12's, fails to reuse a prior-knowledge connection, curl#10634.)
        let twice = curl(&[version_flag, &server.url("/hello"), &server.url("/hello")]).await;
        assert_eq!(&twice[..], b"hello, world\nhello, world\n");
        requests += 2;
        connections += 1;
    }
    assert_eq!(server.state.requests.load(Ordering::SeqCst), requests);
    assert_eq!(server.state.connections.load(Ordering::SeqCst), connections);
    server.stop().await;
}

backend_test! {
    fn curl_http1(rt, multi) {
        if !curl_available("curl_http1", false) {
            return;
        }
        rt.block_on(curl_round_trips("--http1.1", "1.1"));
    }
}

backend_test! {
    fn curl_h2c_prior_knowledge(rt, multi) {
        if !curl_available("curl_h2c_prior_knowledge", true) {
            return;
        }
        rt.block_on(curl_round_trips("--http2-prior-knowledge", "2"));
    }
}

backend_test! {
    fn thousand_concurrent_http1_requests_with_keep_alive(rt, multi) {
        rt.block_on(async {
            const CONNECTIONS: usize = 1000;
            let server = TestServer::start().await;
            let url = server.url("/hello");
            let addr = server.addr;
            // 1,000 requests in flight at once, one per connection; then a second one on
            // each connection, which keep-alive must carry.
            let clients = (0..CONNECTIONS).map(|_| {
                let url = url.clone();
                ringtide::spawn(async move {
                    let mut sender = http1(addr).await;
                    let mut seen = Vec::new();
                    for _ in 0..2 {
                        sender.ready().await.unwrap();
                        let response = sender.send_request(get(&url)).await.unwrap();
                        assert_eq!(response.status(), StatusCode::OK);
                        seen.push(connection_number(&response));
                        assert_eq!(&body_bytes(response.into_body()).await[..], b"hello, world\n");
                    }
                    seen
                })
            });
            let mut numbers = Vec::new();
            for seen in join_all(clients).await {
                let seen = seen.unwrap();
                assert_eq!(seen[0], seen[1], "the second request used the same connection");
                numbers.push(seen[0]);
            }
            numbers.sort_unstable();
            assert_eq!(numbers, (1..=CONNECTIONS).collect::<Vec<_>>());
            assert_eq!(server.state.requests.load(Ordering::SeqCst), 2 * CONNECTIONS);
            assert_eq!(server.state.connections.load(Ordering::SeqCst), CONNECTIONS);
            server.stop().await;
        });
    }
}

backend_test! {
    fn thousand_concurrent_h2c_requests_on_one_connection(rt, multi) {
        rt.block_on(async {
            let server = TestServer::start().await;
            let sender = http2(server.addr).await;
            let url = server.url("/hello");
            let requests = (0..1000).map(|_| {
                let mut sender = sender.clone();
                let url = url.clone();
                ringtide::spawn(async move {
                    let response = sender.send_request(get(&url)).await.unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                    body_bytes(response.into_body()).await
                })
            });
            for body in join_all(requests).await {
                assert_eq!(&body.unwrap()[..], b"hello, world\n");
            }
            assert_eq!(server.state.requests.load(Ordering::SeqCst), 1000);
            assert_eq!(server.state.connections.load(Ordering::SeqCst), 1);
            drop(sender);
            server.stop().await;
        });
    }
}

const LARGE: u64 = 64 * MIB;

backend_test! {
    fn upload_64_mib_streamed_http1_and_h2c(rt, multi) {
        rt.block_on(async {
            let server = TestServer::start().await;
            let expected = Checksum::of_pattern(LARGE);
            let expected = format!("{} {}", expected.0, expected.1);
            let mut h1 = http1(server.addr).await;
            let response = h1
                .send_request(post(&server.url("/checksum"), pattern_body(LARGE)))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(body_bytes(response.into_body()).await, expected);
            let mut h2 = http2(server.addr).await;
            let response = h2
                .send_request(post(&server.url("/checksum"), pattern_body(LARGE)))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(body_bytes(response.into_body()).await, expected);
            drop((h1, h2));
            server.stop().await;
        });
    }
}

backend_test! {
    fn download_64_mib_streamed_http1_and_h2c(rt, multi) {
        rt.block_on(async {
            let server = TestServer::start().await;
            let expected = Checksum::of_pattern(LARGE);
            let url = server.url(&format!("/stream/{LARGE}"));
            let mut h1 = http1(server.addr).await;
            let response = h1.send_request(get(&url)).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(checksum_body(response.into_body()).await.unwrap(), expected);
            let mut h2 = http2(server.addr).await;
            let response = h2.send_request(get(&url)).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(checksum_body(response.into_body()).await.unwrap(), expected);
            drop((h1, h2));
            server.stop().await;
        });
    }
}

backend_test! {
    fn upgrade_round_trip(rt, multi) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        rt.block_on(async {
            let server = TestServer::start().await;
            let mut sender = http1(server.addr).await;
            let request = hyper::Request::get(server.url("/upgrade"))
                .header(hyper::header::CONNECTION, "upgrade")
                .header(hyper::header::UPGRADE, "echo")
                .body(empty())
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
            assert_eq!(response.headers()[hyper::header::UPGRADE], "echo");
            let upgraded = hyper::upgrade::on(response).await.expect("the upgrade");
            let mut io = Io::new(upgraded);
            // Messages of growing size, each echoed back whole before the next.
            for size in [1usize, 100, 10_000, 300_000] {
                let message = pattern(0, size);
                io.write_all(&message).await.unwrap();
                let mut echoed = vec![0; size];
                io.read_exact(&mut echoed).await.unwrap();
                assert!(echoed == message, "{size}-byte message echoed wrong");
            }
            io.shutdown().await.unwrap();
            let mut rest = Vec::new();
            io.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty(), "the echo closed after our shutdown, with nothing extra");
            // A plain request is refused an upgrade it did not ask for.
            let mut sender = http1(server.addr).await;
            let response = sender.send_request(get(&server.url("/upgrade"))).await.unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            drop(sender);
            server.stop().await;
        });
    }
}

backend_test! {
    fn graceful_shutdown_finishes_in_flight_requests_and_refuses_new_ones(rt, multi) {
        rt.block_on(async {
            const HTTP1_IN_FLIGHT: usize = 10;
            const HTTP2_IN_FLIGHT: usize = 10;
            let mut server = TestServer::start().await;
            let url = server.url("/wait");
            let mut in_flight = Vec::new();
            for _ in 0..HTTP1_IN_FLIGHT {
                let mut sender = http1(server.addr).await;
                let url = url.clone();
                in_flight.push(ringtide::spawn(async move {
                    let response = sender.send_request(get(&url)).await?;
                    let status = response.status();
                    Ok::<_, hyper::Error>((status, body_bytes(response.into_body()).await))
                }));
            }
            let h2 = http2(server.addr).await;
            for _ in 0..HTTP2_IN_FLIGHT {
                let mut sender = h2.clone();
                let url = url.clone();
                in_flight.push(ringtide::spawn(async move {
                    let response = sender.send_request(get(&url)).await?;
                    let status = response.status();
                    Ok::<_, hyper::Error>((status, body_bytes(response.into_body()).await))
                }));
            }
            drop(h2);
            // An idle keep-alive connection: graceful shutdown closes it.
            let (mut idle, idle_driver) = http1_with_driver(server.addr).await;
            let response = idle.send_request(get(&server.url("/hello"))).await.unwrap();
            body_bytes(response.into_body()).await;
            // Every waiting request has reached its handler.
            let arrived = server
                .state
                .waiting
                .acquire_many((HTTP1_IN_FLIGHT + HTTP2_IN_FLIGHT) as u32)
                .await
                .unwrap();
            arrived.forget();

            server.shutdown().await;
            let refused = TcpStream::connect(server.addr).await.expect_err("the listener is closed");
            assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused, "{refused}");
            // The idle connection is closed by the server...
            idle_driver.await.unwrap().expect("the idle connection closed cleanly");
            assert!(idle.is_closed(), "an idle connection outlived the shutdown");
            // ... while the requests in flight still get their answers.
            server.state.release.send_replace(true);
            for request in in_flight {
                let (status, body) = request.await.unwrap().expect("an in-flight request was lost");
                assert_eq!(status, StatusCode::OK);
                assert_eq!(&body[..], b"released");
            }
            server.finished().await;
            assert_eq!(server.state.connection_errors.load(Ordering::SeqCst), 0);
            assert_eq!(
                server.state.connections.load(Ordering::SeqCst),
                HTTP1_IN_FLIGHT + 2
            );
        });
    }
}

backend_test! {
    fn header_read_timeout_runs_on_ringtide_timer(rt, multi) {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = ringtide::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(empty()))
                });
                hyper::server::conn::http1::Builder::new()
                    .timer(Timer::new())
                    .header_read_timeout(Duration::from_millis(50))
                    .serve_connection(Io::new(stream), service)
                    .await
            });
            let mut client = TcpStream::connect(addr).await.unwrap();
            // Half a request head, and then nothing.
            let (written, _) = client.write_all_owned(b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec()).await;
            written.unwrap();
            let error = server.await.unwrap().expect_err("the header read timed out");
            assert!(error.is_timeout(), "not a timeout: {error}");
            let mut rest = Vec::new();
            loop {
                let (read, buf) = client.read_owned(Vec::with_capacity(1024)).await;
                if read.unwrap() == 0 {
                    break;
                }
                rest.extend_from_slice(&buf);
            }
            // hyper answers 408 or just closes; either way the connection ends.
            let rest = String::from_utf8_lossy(&rest);
            assert!(rest.is_empty() || rest.starts_with("HTTP/1.1 408"), "{rest}");
        });
    }
}

backend_test! {
    fn http1_only_and_http2_only_builders(rt, multi) {
        rt.block_on(async {
            // hyper's version-specific server builders with ringtide's executor and timer.
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = ringtide::spawn(async move {
                for http2_only in [false, true] {
                    let (stream, _) = listener.accept().await.unwrap();
                    let service = hyper::service::service_fn(|request: hyper::Request<_>| async move {
                        let version = format!("{:?}", request.version());
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(full(version)))
                    });
                    if http2_only {
                        hyper::server::conn::http2::Builder::new(Executor::new())
                            .timer(Timer::new())
                            .serve_connection(Io::new(stream), service)
                            .await
                            .unwrap();
                    } else {
                        hyper::server::conn::http1::Builder::new()
                            .timer(Timer::new())
                            .serve_connection(Io::new(stream), service)
                            .await
                            .unwrap();
                    }
                }
            });
            let url = format!("http://{addr}/");
            let mut h1 = http1(addr).await;
            let response = h1.send_request(get(&url)).await.unwrap();
            assert_eq!(&body_bytes(response.into_body()).await[..], b"HTTP/1.1");
            drop(h1);
            let mut h2 = http2(addr).await;
            let response = h2.send_request(get(&url)).await.unwrap();
            assert_eq!(&body_bytes(response.into_body()).await[..], b"HTTP/2.0");
            drop(h2);
            server.await.unwrap();
        });
    }
}
