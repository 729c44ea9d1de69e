//! tokio parity of the socket options (issue 15): `TcpSocket`'s options before it
//! connects or listens, `TcpStream`'s and `TcpListener`'s on live sockets, what
//! `set_zero_linger` does to the peer, `UnixStream::peer_cred`, and the `TryFrom` std
//! conversions. Options are set and read back through the kernel; the sockets then
//! carry a connection on io_uring and mio (current thread and 4 workers). Loopback
//! only.

#![cfg(target_os = "linux")]

mod rt_common;

use std::io::{self, ErrorKind};
use std::time::Duration;

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpSocket, TcpStream, UnixListener, UnixStream};

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(address), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

/// Both ends carry bytes both ways.
async fn exchange(a: &mut TcpStream, b: &mut TcpStream) {
    let (result, _) = a.write_all_owned(b"ping".to_vec()).await;
    result.unwrap();
    let (result, buf) = b.read_exact_owned(Vec::with_capacity(4)).await;
    result.unwrap();
    assert_eq!(buf, b"ping");
    let (result, _) = b.write_all_owned(b"pong".to_vec()).await;
    result.unwrap();
    let (result, buf) = a.read_exact_owned(Vec::with_capacity(4)).await;
    result.unwrap();
    assert_eq!(buf, b"pong");
}

backend_test! {
    fn tcp_socket_options_are_set_read_back_and_the_socket_connects(rt, multi) {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let socket = TcpSocket::new_v4().unwrap();

            for on in [true, false] {
                socket.set_keepalive(on).unwrap();
                assert_eq!(socket.keepalive().unwrap(), on);
                socket.set_nodelay(on).unwrap();
                assert_eq!(socket.nodelay().unwrap(), on);
                socket.set_reuseaddr(on).unwrap();
                assert_eq!(socket.reuseaddr().unwrap(), on);
                socket.set_reuseport(on).unwrap();
                assert_eq!(socket.reuseport().unwrap(), on);
            }
            assert_eq!(socket.linger().unwrap(), None, "off by default");
            socket.set_zero_linger().unwrap();
            assert_eq!(socket.linger().unwrap(), Some(Duration::ZERO));
            #[allow(deprecated)]
            socket.set_linger(None).unwrap();
            assert_eq!(socket.linger().unwrap(), None);

            // IP_TOS keeps the DSCP/ECN byte as given (0xb8: EF).
            socket.set_tos_v4(0xb8).unwrap();
            assert_eq!(socket.tos_v4().unwrap(), 0xb8);
            #[allow(deprecated)]
            {
                socket.set_tos(0x20).unwrap();
                assert_eq!(socket.tos().unwrap(), 0x20);
            }

            // The kernel doubles the buffer sizes (and applies its minimum).
            socket.set_send_buffer_size(64 * 1024).unwrap();
            assert!(socket.send_buffer_size().unwrap() >= 64 * 1024);
            socket.set_recv_buffer_size(64 * 1024).unwrap();
            assert!(socket.recv_buffer_size().unwrap() >= 64 * 1024);

            assert_eq!(socket.device().unwrap(), None, "not bound to a device");
            match socket.bind_device(Some(b"lo")) {
                Ok(()) => assert_eq!(socket.device().unwrap().as_deref(), Some(&b"lo"[..])),
                Err(error) if error.raw_os_error() == Some(libc::EPERM) => {
                    println!("skip bind_device(lo): needs CAP_NET_RAW here ({error})");
                }
                Err(error) => panic!("bind_device(lo): {error}"),
            }
            assert_eq!(
                socket.bind_device(Some(b"no-such-if0")).unwrap_err().raw_os_error(),
                Some(libc::ENODEV),
                "an unknown interface is an error, not a panic"
            );

            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let local = socket.local_addr().unwrap();
            assert!(local.ip().is_loopback() && local.port() != 0);
            assert!(socket.take_error().unwrap().is_none());
            let (client, accepted) =
                futures::join!(socket.connect(address), listener.accept());
            let mut client = client.unwrap();
            let (mut server, peer) = accepted.unwrap();
            assert_eq!(peer, local);
            assert_eq!(client.local_addr().unwrap(), local);
            // The options travel with the socket.
            assert!(!client.nodelay().unwrap());
            exchange(&mut client, &mut server).await;
        });
    }
}

backend_test! {
    fn tcp_socket_traffic_class_on_ipv6(rt, multi) {
        rt.block_on(async {
            if !rt_common::ipv6_loopback_configured() {
                println!("skip: no IPv6 loopback (::1) on this machine");
                return;
            }
            let listener = TcpListener::bind("[::1]:0").await.unwrap();
            let socket = TcpSocket::new_v6().unwrap();
            socket.set_tclass_v6(0x28).unwrap();
            assert_eq!(socket.tclass_v6().unwrap(), 0x28);
            let (client, accepted) =
                futures::join!(socket.connect(listener.local_addr().unwrap()), listener.accept());
            let mut client = client.unwrap();
            let (mut server, _) = accepted.unwrap();
            exchange(&mut client, &mut server).await;
        });
    }
}

backend_test! {
    fn tcp_stream_and_listener_options(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = tcp_pair().await;
            for on in [true, false] {
                client.set_nodelay(on).unwrap();
                assert_eq!(client.nodelay().unwrap(), on);
            }
            client.set_ttl(17).unwrap();
            assert_eq!(client.ttl().unwrap(), 17);
            // TCP_QUICKACK reads back as set right after it is set (the kernel may
            // clear it later on its own).
            client.set_quickack(true).unwrap();
            assert!(client.quickack().unwrap());
            assert_eq!(client.linger().unwrap(), None);
            #[allow(deprecated)]
            client.set_linger(Some(Duration::from_secs(3))).unwrap();
            assert_eq!(client.linger().unwrap(), Some(Duration::from_secs(3)));
            #[allow(deprecated)]
            client.set_linger(None).unwrap();
            assert!(client.take_error().unwrap().is_none());
            exchange(&mut client, &mut server).await;

            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.set_ttl(9).unwrap();
            assert_eq!(listener.ttl().unwrap(), 9);
        });
    }
}

backend_test! {
    /// `set_zero_linger` makes the close an abortive one: the peer's next read fails
    /// with `ConnectionReset` instead of returning end of stream.
    fn a_stream_with_zero_linger_resets_its_peer_when_dropped(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = tcp_pair().await;
            exchange(&mut client, &mut server).await;
            server.set_zero_linger().unwrap();
            assert_eq!(server.linger().unwrap(), Some(Duration::ZERO));
            drop(server);
            let (result, _) = client.read_owned(Vec::with_capacity(8)).await;
            assert_eq!(result.unwrap_err().kind(), ErrorKind::ConnectionReset);

            // Without it, the peer reads end of stream.
            let (mut client, server) = tcp_pair().await;
            drop(server);
            let (result, _) = client.read_owned(Vec::with_capacity(8)).await;
            assert_eq!(result.unwrap(), 0);
        });
    }
}

backend_test! {
    fn unix_peer_cred_names_this_process(rt, multi) {
        rt.block_on(async {
            // SAFETY: these calls read the process's ids; they have no preconditions.
            let (uid, gid, pid) = unsafe { (libc::getuid(), libc::getgid(), libc::getpid()) };
            let (a, b) = UnixStream::pair().unwrap();
            for stream in [&a, &b] {
                let cred = stream.peer_cred().unwrap();
                assert_eq!((cred.uid(), cred.gid(), cred.pid()), (uid, gid, Some(pid)));
            }
            // Through a listener too (the credentials of the connecting process).
            let path = std::env::temp_dir()
                .join(format!("ringtide-peer-cred-{}-{multi}.sock", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let listener = UnixListener::bind(&path).unwrap();
            let (client, accepted) = futures::join!(UnixStream::connect(&path), listener.accept());
            let (server, _) = accepted.unwrap();
            assert_eq!(server.peer_cred().unwrap().pid(), Some(pid));
            assert_eq!(client.unwrap().peer_cred().unwrap().uid(), uid);
            std::fs::remove_file(&path).unwrap();
        });
    }
}

backend_test! {
    fn std_sockets_convert_with_try_from(rt, multi) {
        rt.block_on(async {
            let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = std_listener.local_addr().unwrap();
            let listener = TcpListener::try_from(std_listener).unwrap();
            let std_client = std::net::TcpStream::connect(address).unwrap();
            let mut client = TcpStream::try_from(std_client).unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            exchange(&mut client, &mut server).await;

            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            let (mut a, mut b) = (UnixStream::try_from(a).unwrap(), UnixStream::try_from(b).unwrap());
            let (result, _) = a.write_all_owned(b"unix".to_vec()).await;
            result.unwrap();
            let (result, buf) = b.read_exact_owned(Vec::with_capacity(4)).await;
            result.unwrap();
            assert_eq!(buf, b"unix");

            let path = std::env::temp_dir()
                .join(format!("ringtide-try-from-{}-{multi}.sock", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let listener = UnixListener::try_from(std::os::unix::net::UnixListener::bind(&path).unwrap())
                .unwrap();
            let (client, accepted) = futures::join!(UnixStream::connect(&path), listener.accept());
            client.unwrap();
            accepted.unwrap();
            std::fs::remove_file(&path).unwrap();
            io::Result::Ok(())
        })
        .unwrap();
    }
}
