//! `net::UdpSocket` tests, each run on both backends (io_uring and mio, current-thread
//! and 4 workers) through `rt_common`'s `backend_test!`. Loopback only.

#![cfg(target_os = "linux")]

mod rt_common;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use ringtide::net::UdpSocket;
use ringtide::time::timeout;
use rt_common::{LatePaths, poll_once_then_drop};

async fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// The pattern byte at `index` of a datagram of `size` bytes.
fn pattern(size: usize, index: usize) -> u8 {
    (size.wrapping_mul(31).wrapping_add(index) % 251) as u8
}

fn datagram(size: usize) -> Vec<u8> {
    (0..size).map(|index| pattern(size, index)).collect()
}

backend_test! {
    fn datagram_boundaries_are_kept(rt, multi) {
        rt.block_on(async {
            let (a, b) = (bind().await, bind().await);
            let sizes = [1, 700, 65, 1400];
            for size in sizes {
                let (sent, _) = a.send_to_owned(datagram(size), b.local_addr().unwrap()).await;
                assert_eq!(sent.unwrap(), size);
            }
            for size in sizes {
                let (received, buf) = b.recv_from_owned(Vec::with_capacity(4096)).await;
                let (count, from) = received.unwrap();
                assert_eq!(count, size, "one receive, one datagram");
                assert_eq!(buf, datagram(size));
                assert_eq!(from, a.local_addr().unwrap());
            }
        });
    }
}

backend_test! {
    fn a_datagram_longer_than_the_buffer_is_truncated(rt, multi) {
        rt.block_on(async {
            let (a, b) = (bind().await, bind().await);
            let to = b.local_addr().unwrap();
            a.send_to_owned(datagram(100), to).await.0.unwrap();
            a.send_to_owned(b"next".to_vec(), to).await.0.unwrap();
            a.send_to_owned(datagram(50), to).await.0.unwrap();
            a.send_to_owned(b"last".to_vec(), to).await.0.unwrap();

            let (received, buf) = b.recv_from_owned(Vec::with_capacity(10)).await;
            assert_eq!(received.unwrap().0, 10);
            assert_eq!(buf, datagram(100)[..10]);
            let (received, buf) = b.recv_from_owned(Vec::with_capacity(64)).await;
            assert_eq!(received.unwrap().0, 4, "the rest of the long datagram is gone");
            assert_eq!(buf, b"next");

            let (received, buf) = b.recv_owned(Vec::with_capacity(7)).await;
            assert_eq!(received.unwrap(), 7);
            assert_eq!(buf, datagram(50)[..7]);
            let (received, buf) = b.recv_owned(Vec::with_capacity(64)).await;
            assert_eq!(received.unwrap(), 4);
            assert_eq!(buf, b"last");
        });
    }
}

backend_test! {
    fn send_to_and_recv_from_report_addresses(rt, multi) {
        rt.block_on(async {
            let (a, b) = (bind().await, bind().await);
            let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            assert_ne!(a_addr.port(), 0);
            assert_eq!(a_addr.ip(), Ipv4Addr::LOCALHOST);

            // A string target goes through `ToSocketAddrs`.
            let (sent, buf) = a.send_to_owned(b"ping", b_addr.to_string()).await;
            assert_eq!((sent.unwrap(), buf), (4, b"ping"));
            let (received, buf) = b.recv_from_owned(Vec::with_capacity(16)).await;
            let (count, from) = received.unwrap();
            assert_eq!((count, &buf[..], from), (4, &b"ping"[..], a_addr));

            // Answer whoever sent it.
            b.send_to_owned(b"pong".to_vec(), from).await.0.unwrap();
            let (received, buf) = a.recv_from_owned(Vec::with_capacity(16)).await;
            let (count, from) = received.unwrap();
            assert_eq!((count, &buf[..], from), (4, &b"pong"[..], b_addr));

            // A failed resolution gives the buffer back.
            let (sent, buf) = a.send_to_owned(vec![1, 2, 3], "no port here").await;
            assert!(sent.is_err());
            assert_eq!(buf, [1, 2, 3]);
        });
    }
}

backend_test! {
    fn ipv6_loopback_when_available(rt, multi) {
        rt.block_on(async {
            if !rt_common::ipv6_loopback_configured() {
                eprintln!("skipped: this machine has no IPv6 loopback (no ::1 in /proc/net/if_inet6)");
                return;
            }
            let a = UdpSocket::bind("[::1]:0").await.expect("bind [::1]:0 with ::1 configured");
            let b = UdpSocket::bind("[::1]:0").await.unwrap();
            b.send_to_owned(b"six".to_vec(), a.local_addr().unwrap()).await.0.unwrap();
            let (received, buf) = a.recv_from_owned(Vec::with_capacity(8)).await;
            let (count, from) = received.unwrap();
            assert_eq!((count, &buf[..]), (3, &b"six"[..]));
            assert_eq!(from, b.local_addr().unwrap());
            assert!(from.is_ipv6());
        });
    }
}

backend_test! {
    fn connected_send_and_recv(rt, multi) {
        rt.block_on(async {
            let (a, b, stranger) = (bind().await, bind().await, bind().await);
            let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            assert_eq!(a.peer_addr().unwrap_err().kind(), io::ErrorKind::NotConnected);
            let (sent, _) = a.send_owned(b"nowhere").await;
            assert!(sent.is_err(), "send on an unconnected socket fails");

            a.connect(b_addr).await.unwrap();
            b.connect(a_addr).await.unwrap();
            assert_eq!(a.peer_addr().unwrap(), b_addr);
            assert_eq!(b.peer_addr().unwrap(), a_addr);

            // The kernel drops what a connected socket gets from anyone but its peer.
            stranger.send_to_owned(b"stranger".to_vec(), a_addr).await.0.unwrap();
            let (sent, _) = b.send_owned(b"hello".to_vec()).await;
            assert_eq!(sent.unwrap(), 5);
            let (received, buf) = a.recv_owned(Vec::with_capacity(64)).await;
            assert_eq!((received.unwrap(), &buf[..]), (5, &b"hello"[..]));

            a.send_owned(b"back".to_vec()).await.0.unwrap();
            let (received, buf) = b.recv_from_owned(Vec::with_capacity(64)).await;
            assert_eq!(received.unwrap(), (4, a_addr));
            assert_eq!(buf, b"back");

            // `connect` again re-targets.
            a.connect(stranger.local_addr().unwrap()).await.unwrap();
            a.send_owned(b"re".to_vec()).await.0.unwrap();
            let (received, buf) = stranger.recv_from_owned(Vec::with_capacity(64)).await;
            assert_eq!(received.unwrap(), (2, a_addr));
            assert_eq!(buf, b"re");
        });
    }
}

backend_test! {
    fn socket_options_round_trip(rt, multi) {
        rt.block_on(async {
            let socket = bind().await;
            assert!(!socket.broadcast().unwrap());
            socket.set_broadcast(true).unwrap();
            assert!(socket.broadcast().unwrap());
            socket.set_broadcast(false).unwrap();
            assert!(!socket.broadcast().unwrap());

            socket.set_ttl(17).unwrap();
            assert_eq!(socket.ttl().unwrap(), 17);
            socket.set_multicast_ttl_v4(3).unwrap();
            assert_eq!(socket.multicast_ttl_v4().unwrap(), 3);
            socket.set_multicast_loop_v4(false).unwrap();
            assert!(!socket.multicast_loop_v4().unwrap());
            socket.set_multicast_loop_v4(true).unwrap();
            assert!(socket.multicast_loop_v4().unwrap());
            assert!(socket.take_error().unwrap().is_none());

            // Joining needs a multicast-capable interface: a sandbox may have none.
            let group = Ipv4Addr::new(239, 255, 42, 99);
            match socket.join_multicast_v4(group, Ipv4Addr::UNSPECIFIED) {
                Ok(()) => socket.leave_multicast_v4(group, Ipv4Addr::UNSPECIFIED).unwrap(),
                Err(error) => eprintln!("join_multicast_v4: {error} (skipped)"),
            }
            assert!(socket.leave_multicast_v4(group, Ipv4Addr::UNSPECIFIED).is_err(), "not a member");
            if rt_common::ipv6_loopback_configured() {
                let six = UdpSocket::bind("[::1]:0").await.expect("bind [::1]:0 with ::1 configured");
                six.set_multicast_loop_v6(false).unwrap();
                assert!(!six.multicast_loop_v6().unwrap());
                let group = "ff02::1:2".parse().unwrap();
                match six.join_multicast_v6(&group, 0) {
                    Ok(()) => six.leave_multicast_v6(&group, 0).unwrap(),
                    Err(error) => eprintln!("join_multicast_v6: {error} (skipped)"),
                }
            } else {
                eprintln!("no IPv6 loopback: the IPv6 options were not checked");
            }
        });
    }
}

backend_test! {
    fn zero_length_datagrams(rt, multi) {
        rt.block_on(async {
            let (a, b) = (bind().await, bind().await);
            let to = b.local_addr().unwrap();
            let (sent, _) = a.send_to_owned(Vec::new(), to).await;
            assert_eq!(sent.unwrap(), 0);
            a.send_to_owned(b"x".to_vec(), to).await.0.unwrap();
            let (received, buf) = b.recv_from_owned(Vec::with_capacity(16)).await;
            assert_eq!(received.unwrap(), (0, a.local_addr().unwrap()), "an empty datagram");
            assert!(buf.is_empty());
            let (received, buf) = b.recv_from_owned(Vec::with_capacity(16)).await;
            assert_eq!(received.unwrap().0, 1);
            assert_eq!(buf, b"x");

            // Connected: an empty send is a datagram too, and a zero-capacity receive
            // takes (and discards) one datagram, as recv(2) does.
            a.connect(to).await.unwrap();
            a.send_owned(Vec::new()).await.0.unwrap();
            let (received, _) = b.recv_owned(Vec::with_capacity(16)).await;
            assert_eq!(received.unwrap(), 0);
            a.send_owned(b"dropped".to_vec()).await.0.unwrap();
            a.send_owned(b"kept".to_vec()).await.0.unwrap();
            let (received, buf) = b.recv_owned(Vec::new()).await;
            assert_eq!((received.unwrap(), buf.len()), (0, 0));
            let (received, buf) = b.recv_owned(Vec::with_capacity(16)).await;
            assert_eq!(received.unwrap(), 4);
            assert_eq!(buf, b"kept");
        });
    }
}

backend_test! {
    fn recv_from_cancelled_by_a_timer_loses_nothing(rt, multi) {
        rt.block_on(async {
            let (a, b) = (bind().await, bind().await);
            let to = b.local_addr().unwrap();
            let cancelled = timeout(Duration::from_millis(20), b.recv_from_owned(Vec::with_capacity(64))).await;
            assert!(cancelled.is_err(), "nothing was sent yet");
            let cancelled = timeout(Duration::ZERO, b.recv_owned(Vec::with_capacity(64))).await;
            assert!(cancelled.is_err(), "nothing was sent yet");

            a.send_to_owned(b"after".to_vec(), to).await.0.unwrap();
            let (received, buf) = b.recv_from_owned(Vec::with_capacity(64)).await;
            assert_eq!(received.unwrap(), (5, a.local_addr().unwrap()));
            assert_eq!(buf, b"after");
        });
    }
}

backend_test! {
    /// A receive dropped after the kernel gave it a datagram (io_uring) hands the
    /// datagram, with its sender, to the next receive; the order of the rest is kept.
    fn a_datagram_taken_by_a_dropped_receive_comes_next(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async {
            let late = LatePaths::start();
            let (a, b) = (bind().await, bind().await);
            let (a_addr, to) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            for message in [&b"first"[..], b"", b"third"] {
                a.send_to_owned(message, to).await.0.unwrap();
            }
            let mut expected = vec![&b"first"[..], b"", b"third"].into_iter();
            // recv_from, then recv: both feed and take the same kept datagrams.
            if let Some((received, buf)) = poll_once_then_drop(b.recv_from_owned(Vec::with_capacity(16))).await {
                assert_eq!(received.unwrap(), (5, a_addr));
                assert_eq!(buf, expected.next().unwrap());
            }
            if let Some((received, buf)) = poll_once_then_drop(b.recv_owned(Vec::with_capacity(16))).await {
                let next = expected.next().unwrap();
                assert_eq!((received.unwrap(), &buf[..]), (next.len(), next));
            }
            for next in expected {
                let (received, buf) = b.recv_from_owned(Vec::with_capacity(16)).await;
                assert_eq!(received.unwrap(), (next.len(), a_addr));
                assert_eq!(buf, next);
            }
            a.send_to_owned(b"after", to).await.0.unwrap();
            let (received, buf) = b.recv_owned(Vec::with_capacity(16)).await;
            assert_eq!((received.unwrap(), &buf[..]), (5, &b"after"[..]));
            late.assert_ran(backend, "dropped receives", |late| late.reads);
        });
    }
}

backend_test! {
    /// A thread sends 2000 numbered datagrams in windows of 50 (each window after the
    /// runtime acknowledged the previous one, so the socket buffer never overflows and
    /// loopback loses nothing) while the runtime receives them with `recv_from`s and
    /// `recv`s dropped by 0 ms timers (on io_uring the op may run in the kernel anyway,
    /// before its cancellation), by 1 ms timers, or not at all: every datagram arrives
    /// exactly once, in order, with its sender.
    fn datagrams_survive_receives_dropped_at_any_point(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async {
            let late = LatePaths::start();
            const COUNT: u32 = 2000;
            const WINDOW: u32 = 50;
            let receiver = bind().await;
            let receiver_addr = receiver.local_addr().unwrap();
            let std_sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let sender_addr = std_sender.local_addr().unwrap();
            receiver.connect(sender_addr).await.unwrap();
            let sender = std::thread::spawn(move || {
                let mut ack = [0; 4];
                for number in 0..COUNT {
                    std_sender.send_to(&number.to_le_bytes(), receiver_addr).unwrap();
                    if (number + 1).is_multiple_of(WINDOW) {
                        let (count, _) = std_sender.recv_from(&mut ack).unwrap();
                        assert_eq!(ack[..count], number.to_le_bytes());
                    }
                }
            });
            let mut attempt = 0u32;
            for expected in 0..COUNT {
                let (count, buf, from) = loop {
                    attempt += 1;
                    let wait = match attempt % 3 {
                        0 => None,
                        1 => Some(Duration::ZERO),
                        _ => Some(Duration::from_millis(1)),
                    };
                    // recv_from and (connected) recv share the kept datagrams.
                    if attempt.is_multiple_of(2) {
                        let receive = receiver.recv_from_owned(Vec::with_capacity(8));
                        let result = match wait {
                            None => Ok(receive.await),
                            Some(wait) => timeout(wait, receive).await,
                        };
                        if let Ok((received, buf)) = result {
                            let (count, from) = received.unwrap();
                            break (count, buf, from);
                        }
                    } else {
                        let receive = receiver.recv_owned(Vec::with_capacity(8));
                        let result = match wait {
                            None => Ok(receive.await),
                            Some(wait) => timeout(wait, receive).await,
                        };
                        if let Ok((received, buf)) = result {
                            break (received.unwrap(), buf, sender_addr);
                        }
                    }
                };
                assert_eq!((count, from), (4, sender_addr));
                assert_eq!(buf, expected.to_le_bytes(), "exactly once, in order");
                if (expected + 1).is_multiple_of(WINDOW) {
                    receiver.send_owned(expected.to_le_bytes().to_vec()).await.0.unwrap();
                }
            }
            sender.join().unwrap();
            eprintln!("late results kept: {:?}", late.since());
            late.assert_ran(backend, "receives dropped by timers", |late| late.reads);
        });
    }
}

backend_test! {
    /// Linux: a datagram to a closed loopback port draws an ICMP "port unreachable",
    /// which a connected socket reports as `ConnectionRefused` on its next receive.
    fn connected_socket_reports_connection_refused(rt, multi) {
        rt.block_on(async {
            let closed: SocketAddr = {
                let socket = bind().await;
                socket.local_addr().unwrap()
            };
            let socket = bind().await;
            socket.connect(closed).await.unwrap();
            socket.send_owned(b"anyone?".to_vec()).await.0.unwrap();
            // The receive ends with the error as soon as the ICMP arrives (Linux never
            // rate-limits ICMP to loopback destinations); the timer turns a kernel that
            // sends none into a failure instead of a hang.
            match timeout(Duration::from_secs(10), socket.recv_owned(Vec::with_capacity(16))).await {
                Ok((result, _)) => {
                    assert_eq!(result.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
                }
                Err(_) => panic!("no ICMP port unreachable arrived within 10 s"),
            }
        });
    }
}

backend_test! {
    fn from_std_and_into_std(rt, multi) {
        rt.block_on(async {
            let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let address = std_socket.local_addr().unwrap();
            let socket = UdpSocket::from_std(std_socket).unwrap();
            assert_eq!(socket.local_addr().unwrap(), address);
            let other = bind().await;
            other.send_to_owned(b"in".to_vec(), address).await.0.unwrap();
            let (received, buf) = socket.recv_from_owned(Vec::with_capacity(8)).await;
            assert_eq!(received.unwrap(), (2, other.local_addr().unwrap()));
            assert_eq!(buf, b"in");

            let std_socket = socket.into_std().unwrap();
            let mut buf = [0; 8];
            assert_eq!(
                std_socket.recv_from(&mut buf).unwrap_err().kind(),
                io::ErrorKind::WouldBlock,
                "into_std leaves the socket non-blocking"
            );
            other.send_to_owned(b"std".to_vec(), address).await.0.unwrap();
            std_socket.set_nonblocking(false).unwrap();
            let (count, from) = std_socket.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..count], from), (&b"std"[..], other.local_addr().unwrap()));
            let debug = format!("{other:?}");
            assert!(debug.contains("UdpSocket"), "{debug}");
        });
    }
}

backend_test! {
    fn readable_and_writable(rt, multi) {
        rt.block_on(async {
            let (a, b) = (bind().await, bind().await);
            a.writable().await.unwrap();
            a.send_to_owned(b"r".to_vec(), b.local_addr().unwrap()).await.0.unwrap();
            b.readable().await.unwrap();
            let (received, _) = b.recv_owned(Vec::with_capacity(4)).await;
            assert_eq!(received.unwrap(), 1);
        });
    }
}

backend_test! {
    /// Dropping a socket frees its port at once: binding it again right away works,
    /// and a datagram sent there right away draws "port unreachable" (as with tokio).
    fn dropping_a_socket_frees_its_port_at_once(rt, multi) {
        rt.block_on(async {
            let socket = bind().await;
            let address = socket.local_addr().unwrap();
            drop(socket);
            let again = UdpSocket::bind(address).await.expect("the port is free after the drop");
            assert_eq!(again.local_addr().unwrap(), address);
        });
    }
}
