//! Missing kernel opcodes and features, simulated with the probe's test-only override
//! (`ringtide::__private::pretend_missing`; see `driver::uring::probe`), each in a
//! child process (the override is process-wide and permanent). A seccomp filter cannot
//! fail single opcodes, so this is how every fallback path gets to run here.
//!
//! * A required opcode (NOP, READ, WRITE, POLL_ADD, ASYNC_CANCEL, TIMEOUT) or feature
//!   (NODROP, FAST_POLL) missing: `Auto` uses mio and works, explicit `IoUring` is an
//!   `Unsupported` error naming what is missing.
//! * `IORING_FEAT_EXT_ARG` missing: io_uring is still chosen; timed parks queue a
//!   TIMEOUT SQE (proven by its counter), timers fire and I/O completes.
//! * Every optional opcode the runtime submits through `op::run` missing at once
//!   (CONNECT, RECV, SEND, SHUTDOWN, SENDMSG, RECVMSG, OPENAT, CLOSE, FSYNC, FTRUNCATE,
//!   MKDIRAT, RENAMEAT, LINKAT, SYMLINKAT, UNLINKAT, READV, WRITEV): a TCP, UDP and
//!   file-system workload gives the right results on io_uring, and the override's
//!   counter proves each of those opcodes took its readiness/blocking fallback. The
//!   same workload runs on mio for parity.
//! * Multishot accept rejected by the kernel at run time (`EINVAL`, as before Linux
//!   5.19; the probe does not check it): a listener made to accept in the ring (the
//!   hidden `uring_multishot_accept` knob) switches to single accepts and takes every
//!   connection, `accept` and `poll_accept`; the fallback ran once (its counter), and
//!   listeners made afterwards use single accepts from the start. The kernel really
//!   fails the SQE: under the override it carries an accept flag the kernel does not
//!   know. The same workload runs on mio for parity.

#![cfg(all(target_os = "linux", feature = "io-uring"))]

mod fault_common;
mod rt_common;

use std::io;

use fault_common::{child_role, report, round_trips, run_child};
use io_uring::opcode;
use ringtide::__private::{Pretend, PretendedFeature, pretend_missing, pretended_fallbacks};
use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::runtime::{Backend, Runtime};

/// Roles: `opcode:<code>:<name>`, `feature:<name>`.
fn pretend(role: &str) -> String {
    let mut parts = role.split(':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("opcode"), Some(code), Some(name)) => {
            pretend_missing(Pretend::Opcode(code.parse().unwrap()));
            name.to_owned()
        }
        (Some("feature"), Some(name), None) => {
            let feature = match name {
                "NODROP" => PretendedFeature::NoDrop,
                "FAST_POLL" => PretendedFeature::FastPoll,
                "EXT_ARG" => PretendedFeature::ExtArg,
                "MULTISHOT_ACCEPT" => PretendedFeature::MultishotAccept,
                other => panic!("unknown feature {other}"),
            };
            pretend_missing(Pretend::Feature(feature));
            name.to_owned()
        }
        _ => panic!("bad role {role}"),
    }
}

/// With `missing` pretended missing: Auto falls back to mio, explicit io_uring fails
/// naming it.
fn required_missing(missing: &str) -> String {
    fault_common::install_logger();
    for workers in [0, 2] {
        let rt = rt_common::backend_builder(Backend::Auto, workers)
            .build()
            .unwrap();
        assert_eq!(
            rt.backend(),
            Backend::Mio,
            "{missing} missing: Auto must use mio"
        );
        round_trips(&rt);
        let error = rt_common::backend_builder(Backend::IoUring, workers)
            .build()
            .expect_err("explicit io_uring with a required opcode or feature missing");
        assert_eq!(error.kind(), io::ErrorKind::Unsupported, "{error}");
        assert!(error.to_string().contains(missing), "{error}");
    }
    assert!(
        fault_common::logged()
            .iter()
            .any(|l| l.contains("using mio instead") && l.contains(missing)),
        "the fallback warning does not name {missing}: {:?}",
        fault_common::logged()
    );
    format!("fell back without {missing}")
}

const REQUIRED: [(u8, &str); 6] = [
    (opcode::Nop::CODE, "NOP"),
    (opcode::Read::CODE, "READ"),
    (opcode::Write::CODE, "WRITE"),
    (opcode::PollAdd::CODE, "POLL_ADD"),
    (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
    (opcode::Timeout::CODE, "TIMEOUT"),
];

#[test]
fn a_missing_required_opcode_or_feature_falls_back_to_mio() {
    if let Some(role) = child_role() {
        let missing = pretend(&role);
        report(&required_missing(&missing));
        return;
    }
    let mut roles: Vec<String> = REQUIRED
        .iter()
        .map(|(code, name)| format!("opcode:{code}:{name}"))
        .collect();
    roles.push("feature:NODROP".to_owned());
    roles.push("feature:FAST_POLL".to_owned());
    for role in roles {
        run_child(
            "a_missing_required_opcode_or_feature_falls_back_to_mio",
            &role,
        )
        .expect("the override cannot be skipped");
    }
}

#[test]
fn without_ext_arg_timed_parks_use_a_timeout_sqe() {
    if let Some(role) = child_role() {
        pretend(&role);
        for workers in [0, 2] {
            let rt = rt_common::backend_runtime(Backend::IoUring, workers);
            let before = ringtide::__private::uring_park_timeouts();
            rt.block_on(async {
                let (reader, writer) = fault_common::pipe();
                let read = ringtide::spawn(async move {
                    let (result, buf) = reader.read_owned(vec![0u8; 2]).await;
                    assert_eq!(result.unwrap(), 2);
                    buf
                });
                for _ in 0..5 {
                    ringtide::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                let (written, _) = writer.write_owned(b"ok".to_vec()).await;
                assert_eq!(written.unwrap(), 2);
                assert_eq!(read.await.unwrap(), b"ok");
            });
            round_trips(&rt);
            let queued = ringtide::__private::uring_park_timeouts() - before;
            assert!(
                queued > 0,
                "{workers} workers: no timed park queued a TIMEOUT SQE"
            );
        }
        report("timeout sqes queued");
        return;
    }
    run_child(
        "without_ext_arg_timed_parks_use_a_timeout_sqe",
        "feature:EXT_ARG",
    )
    .expect("the override cannot be skipped");
}

/// The optional opcodes the workload below submits through `op::run`.
const OPTIONAL: [(u8, &str); 17] = [
    (opcode::Connect::CODE, "CONNECT"),
    (opcode::Recv::CODE, "RECV"),
    (opcode::Send::CODE, "SEND"),
    (opcode::Shutdown::CODE, "SHUTDOWN"),
    (opcode::SendMsg::CODE, "SENDMSG"),
    (opcode::RecvMsg::CODE, "RECVMSG"),
    (opcode::OpenAt::CODE, "OPENAT"),
    (opcode::Close::CODE, "CLOSE"),
    (opcode::Fsync::CODE, "FSYNC"),
    (opcode::Ftruncate::CODE, "FTRUNCATE"),
    (opcode::MkDirAt::CODE, "MKDIRAT"),
    (opcode::RenameAt::CODE, "RENAMEAT"),
    (opcode::LinkAt::CODE, "LINKAT"),
    (opcode::SymlinkAt::CODE, "SYMLINKAT"),
    (opcode::UnlinkAt::CODE, "UNLINKAT"),
    (opcode::Readv::CODE, "READV"),
    (opcode::Writev::CODE, "WRITEV"),
];

/// TCP, UDP and file-system work whose every result is checked.
fn workload(rt: &Runtime, dir: &std::path::Path) {
    rt.block_on(async {
        // TCP: connect, send, receive, vectored both ways, shutdown.
        let listener = ringtide::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let address = listener.local_addr().unwrap();
        let server = ringtide::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let (read, buf) = stream.read_exact_owned(vec![0u8; 5]).await;
            read.unwrap();
            assert_eq!(buf, b"hello");
            let (written, _) = stream
                .writev_owned(vec![b"wor".to_vec(), b"ld".to_vec()])
                .await;
            assert_eq!(written.unwrap(), 5);
            let (read, buf) = stream.read_owned(vec![0u8; 8]).await;
            assert_eq!(read.unwrap(), 0, "end of stream after the peer's shutdown");
            drop(buf);
        });
        let mut client = ringtide::net::TcpStream::connect(address).await.unwrap();
        let (written, _) = client.write_all_owned(b"hello".to_vec()).await;
        written.unwrap();
        let (read, bufs) = client.readv_owned(vec![vec![0u8; 3], vec![0u8; 2]]).await;
        let mut got = read.unwrap();
        let mut bytes: Vec<u8> = bufs.concat();
        while got < 5 {
            let (read, buf) = client.read_owned(vec![0u8; 5 - got]).await;
            let count = read.unwrap();
            bytes.truncate(got);
            bytes.extend_from_slice(&buf[..count]);
            got += count;
        }
        assert_eq!(&bytes[..5], b"world");
        client
            .shutdown_with(std::net::Shutdown::Write)
            .await
            .unwrap();
        server.await.unwrap();

        // UDP: send_to/recv_from (SENDMSG/RECVMSG).
        let a = ringtide::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = ringtide::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (sent, _) = a
            .send_to_owned(b"datagram".to_vec(), b.local_addr().unwrap())
            .await;
        assert_eq!(sent.unwrap(), 8);
        let (received, buf) = b.recv_from_owned(vec![0u8; 16]).await;
        let (count, from) = received.unwrap();
        assert_eq!(
            (&buf[..count], from),
            (&b"datagram"[..], a.local_addr().unwrap())
        );

        // Files and directories.
        let sub = dir.join("sub");
        ringtide::fs::create_dir(&sub).await.unwrap();
        let path = sub.join("file");
        let mut file = ringtide::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        // Vectored, at the file position (WRITEV, then READV after a reopen).
        let (written, _) = file
            .writev_owned(vec![b"ab".to_vec(), b"cd".to_vec()])
            .await;
        assert_eq!(written.unwrap(), 4);
        let (written, _) = file.write_all_at(b"0123456789".to_vec(), 0).await;
        written.unwrap();
        file.set_len(4).await.unwrap();
        file.sync_all().await.unwrap();
        file.sync_data().await.unwrap();
        file.close().await.unwrap();
        assert_eq!(ringtide::fs::read(&path).await.unwrap(), b"0123");
        let mut reopened = ringtide::fs::File::open(&path).await.unwrap();
        let (read, bufs) = reopened.readv_owned(vec![vec![0u8; 1], vec![0u8; 3]]).await;
        assert_eq!(read.unwrap(), 4);
        assert_eq!(bufs.concat(), b"0123");
        drop(reopened);
        let renamed = sub.join("renamed");
        ringtide::fs::rename(&path, &renamed).await.unwrap();
        ringtide::fs::hard_link(&renamed, sub.join("hard"))
            .await
            .unwrap();
        ringtide::fs::symlink(&renamed, sub.join("soft"))
            .await
            .unwrap();
        assert_eq!(ringtide::fs::read(sub.join("soft")).await.unwrap(), b"0123");
        for name in ["renamed", "hard", "soft"] {
            ringtide::fs::remove_file(sub.join(name)).await.unwrap();
        }
        ringtide::fs::remove_dir(&sub).await.unwrap();
    });
}

fn scratch_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ringtide-fault-{}-{label}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_optional_opcode_missing_takes_its_fallback() {
    if child_role().is_some() {
        for (code, _) in OPTIONAL {
            pretend_missing(Pretend::Opcode(code));
        }
        for workers in [0, 2] {
            let dir = scratch_dir(&format!("mio{workers}"));
            workload(&rt_common::backend_runtime(Backend::Mio, workers), &dir);
            std::fs::remove_dir_all(&dir).unwrap();
        }
        let after_mio: Vec<u64> = OPTIONAL
            .iter()
            .map(|(c, _)| pretended_fallbacks(*c))
            .collect();
        let mut counts = Vec::new();
        for workers in [0, 2] {
            let before: Vec<u64> = OPTIONAL
                .iter()
                .map(|(c, _)| pretended_fallbacks(*c))
                .collect();
            let dir = scratch_dir(&format!("uring{workers}"));
            workload(&rt_common::backend_runtime(Backend::IoUring, workers), &dir);
            std::fs::remove_dir_all(&dir).unwrap();
            for (index, (code, name)) in OPTIONAL.iter().enumerate() {
                let ran = pretended_fallbacks(*code) - before[index];
                assert!(
                    ran > 0,
                    "io_uring/{workers}: {name} never took its fallback"
                );
                counts.push(format!("{name}={ran}"));
            }
        }
        report(&format!(
            "mio consulted the probe {} times; io_uring fallbacks {}",
            after_mio.iter().sum::<u64>(),
            counts.join(",")
        ));
        return;
    }
    run_child(
        "every_optional_opcode_missing_takes_its_fallback",
        "optional",
    )
    .expect("the override cannot be skipped");
}

/// Accepts `CONNECTIONS` connections on a new listener of the current runtime, half
/// with `accept` and half with `poll_accept`, each checked by its peer address and one
/// byte echoed back.
async fn accept_workload() {
    const CONNECTIONS: usize = 6;
    let listener = ringtide::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    for index in 0..CONNECTIONS {
        // Queued before the first accept, and arriving while one waits.
        let client = if index % 3 == 0 {
            Some(ringtide::net::TcpStream::connect(address).await.unwrap())
        } else {
            None
        };
        let connect = ringtide::spawn(async move {
            match client {
                Some(client) => client,
                None => ringtide::net::TcpStream::connect(address).await.unwrap(),
            }
        });
        let (mut server, peer) = if index % 2 == 0 {
            listener.accept().await.unwrap()
        } else {
            std::future::poll_fn(|cx| listener.poll_accept(cx))
                .await
                .unwrap()
        };
        let mut client = connect.await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap(), "connection {index}");
        let (written, _) = client.write_owned(vec![index as u8]).await;
        assert_eq!(written.unwrap(), 1);
        let (read, buf) = server.read_owned(vec![0u8; 1]).await;
        assert_eq!(read.unwrap(), 1);
        assert_eq!(buf, [index as u8]);
    }
}

#[test]
fn multishot_accept_rejected_at_run_time_falls_back_to_single_accepts() {
    if let Some(role) = child_role() {
        pretend(&role);
        let mut ran = Vec::new();
        for (index, workers) in [0, 2].into_iter().enumerate() {
            let rt = rt_common::backend_builder(Backend::IoUring, workers)
                .uring_multishot_accept(true)
                .build()
                .unwrap();
            assert_eq!(rt.backend(), Backend::IoUring);
            rt.block_on(accept_workload());
            rt.block_on(async { ringtide::spawn(accept_workload()).await.unwrap() });
            // The first listener of the process met the kernel's EINVAL and switched;
            // every later one starts with single accepts (the kernel lacks it).
            assert_eq!(
                ringtide::__private::multishot_accept_fallbacks(),
                1,
                "io_uring with {workers} workers (runtime {index})"
            );
            ran.push(format!("io_uring/{workers}"));
        }
        // Parity: the same workload on mio, which has no multishot accept.
        for workers in [0, 2] {
            let rt = rt_common::backend_runtime(Backend::Mio, workers);
            rt.block_on(accept_workload());
            rt.block_on(async { ringtide::spawn(accept_workload()).await.unwrap() });
            ran.push(format!("mio/{workers}"));
        }
        assert_eq!(ringtide::__private::multishot_accept_fallbacks(), 1);
        report(&format!(
            "one fallback to single accepts; accepted on {}",
            ran.join(", ")
        ));
        return;
    }
    run_child(
        "multishot_accept_rejected_at_run_time_falls_back_to_single_accepts",
        "feature:MULTISHOT_ACCEPT",
    )
    .expect("the override cannot be skipped");
}

/// Without the override, multishot accept in the ring takes connections and never
/// falls back (the kernel here has it: the probe passed on Linux 5.19+), so the
/// fallback above is the override's doing.
#[test]
fn multishot_accept_in_the_ring_needs_no_fallback_here() {
    if child_role().is_some() {
        let rt = rt_common::backend_builder(Backend::IoUring, 2)
            .uring_multishot_accept(true)
            .build()
            .unwrap();
        rt.block_on(accept_workload());
        assert_eq!(ringtide::__private::multishot_accept_fallbacks(), 0);
        report("no fallback");
        return;
    }
    run_child(
        "multishot_accept_in_the_ring_needs_no_fallback_here",
        "plain",
    )
    .expect("nothing to skip");
}
