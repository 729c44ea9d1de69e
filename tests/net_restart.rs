//! Restart (issue 19): a server process killed while a task waits for a connection
//! frees its port by the time its parent has reaped it, so a supervisor (or a test
//! harness) that starts the server again at once can bind the same address on the
//! first try. On both backends, for a task waiting in `accept()` and one waiting in
//! `poll_accept` (tokio style), killed by `SIGKILL` and by `SIGTERM` (default action),
//! for TCP and for a Unix listener with an abstract name (released with the socket,
//! like a port).
//!
//! The child is this test binary re-run with [`CHILD_ENV`] naming the scenario (as
//! `tests/fault_common`'s child runner does): it binds port 0, serves one connection
//! with a read in flight on it (as a server has), leaves a task waiting for the next
//! connection, proves with a completed ring op that its requests reached the kernel,
//! and prints [`READY_MARK`] with the address. The parent kills it, reaps it
//! (`waitpid`) and binds the same address once: no retry loop, which would hide the
//! window (`benches/restart.rs` measures it).
//!
//! The parent binds with std, which sets `SO_REUSEADDR` on the TCP listener (as
//! ringtide's and tokio's `TcpListener::bind` do), so the accepted connection left in
//! the kernel does not block the bind: only a socket still listening does.

#![cfg(target_os = "linux")]

mod rt_common;

use std::io::{BufRead as _, BufReader};
use std::os::linux::net::SocketAddrExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ringtide::io::AsyncReadOwned;
use ringtide::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use ringtide::runtime::Backend;

/// Names the child's scenario: `backend wait family`; unset in the parent.
const CHILD_ENV: &str = "RINGTIDE_RESTART_CHILD";
/// Starts the line the child prints once a task waits for a connection.
const READY_MARK: &str = "RINGTIDE_RESTART_READY";
/// Turns a child that never gets ready into a failure; never reached by a passing run.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// How the server's task waits for the next connection.
#[derive(Clone, Copy, Debug)]
enum Wait {
    /// An `accept()` future.
    Accept,
    /// `poll_accept` from a hand-written future (tokio style).
    PollAccept,
}

/// What the server listens on.
#[derive(Clone, Copy, Debug)]
enum Family {
    Tcp,
    /// A Unix listener with an abstract name (a path would stay taken by its file).
    UnixAbstract,
}

/// The entry point of child processes; does nothing unless [`CHILD_ENV`] is set.
#[test]
fn child_entry() {
    let Ok(scenario) = std::env::var(CHILD_ENV) else {
        eprintln!("not a child process ({CHILD_ENV} unset): nothing to run");
        return;
    };
    let mut words = scenario.split(' ');
    let backend: Backend = words.next().unwrap().parse().unwrap();
    let wait = match words.next().unwrap() {
        "accept" => Wait::Accept,
        "poll_accept" => Wait::PollAccept,
        other => panic!("unknown wait `{other}`"),
    };
    let family = match words.next().unwrap() {
        "tcp" => Family::Tcp,
        "unix" => Family::UnixAbstract,
        other => panic!("unknown family `{other}`"),
    };
    let rt = rt_common::backend_runtime(backend, 0);
    rt.block_on(serve(wait, family));
}

/// The child's server: never returns (the parent kills the process).
async fn serve(wait: Wait, family: Family) {
    let (ready, accepted) = ringtide::sync::oneshot::channel();
    let (address, _client) = match family {
        Family::Tcp => {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            ringtide::spawn(async move {
                let (stream, _) = accept_tcp(&listener, wait).await.unwrap();
                ringtide::spawn(read_forever(stream));
                ready.send(()).unwrap();
                let next = accept_tcp(&listener, wait).await;
                panic!("nobody else connects: {:?}", next.map(|(_, peer)| peer));
            });
            let client = TcpStream::connect(address).await.unwrap();
            (address.to_string(), Client::Tcp(client))
        }
        Family::UnixAbstract => {
            let name = format!("ringtide-restart-{}", std::process::id());
            let address = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
            let listener = UnixListener::bind_addr(&address).unwrap();
            ringtide::spawn(async move {
                let (stream, _) = accept_unix(&listener, wait).await.unwrap();
                ringtide::spawn(read_forever(stream));
                ready.send(()).unwrap();
                let next = accept_unix(&listener, wait).await;
                panic!("nobody else connects: {:?}", next.map(|(_, peer)| peer));
            });
            let client = UnixStream::connect_addr(&address).await.unwrap();
            (name, Client::Unix(client))
        }
    };
    // The client stays connected (silent): the server's read stays in flight.
    accepted.await.unwrap();
    // The server task is waiting for the next connection (current-thread runtime: it
    // ran until it waited before this task was woken). A ring op pushed after its
    // request completes only once the ring has entered the kernel with both.
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(b"x", udp.local_addr().unwrap()).await.unwrap();
    let (result, _) = udp.recv_from_owned(vec![0u8; 8]).await;
    result.unwrap();
    let io = ringtide::runtime::Handle::current().metrics().io();
    if ringtide::runtime::Handle::current().backend() == Backend::IoUring {
        // The waiting accept's request (on the listener's epoll instance, or in the
        // ring on the listener) and the server's read, both in the kernel.
        assert!(io.in_flight >= 2, "{io:?}");
    }
    println!("\n{READY_MARK} {address} in_flight={}", io.in_flight);
    std::future::pending::<()>().await;
}

/// The connected client, kept open until the process dies.
#[allow(dead_code, reason = "held, never used")]
enum Client {
    Tcp(TcpStream),
    Unix(UnixStream),
}

async fn read_forever<S: AsyncReadOwned>(mut stream: S) {
    let (result, _) = stream.read_owned(vec![0u8; 64]).await;
    panic!("the client sends nothing and stays: {result:?}");
}

async fn accept_tcp(
    listener: &TcpListener,
    wait: Wait,
) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
    match wait {
        Wait::Accept => listener.accept().await,
        Wait::PollAccept => std::future::poll_fn(|cx| listener.poll_accept(cx)).await,
    }
}

async fn accept_unix(
    listener: &UnixListener,
    wait: Wait,
) -> std::io::Result<(UnixStream, std::os::unix::net::SocketAddr)> {
    match wait {
        Wait::Accept => listener.accept().await,
        Wait::PollAccept => std::future::poll_fn(|cx| listener.poll_accept(cx)).await,
    }
}

/// Starts the child for `scenario` and reads its stdout up to the ready line; returns
/// the child and the address it printed.
fn start_server(scenario: &str) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, scenario)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child server");
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix(READY_MARK) {
                let _ = send.send(rest.trim().to_string());
            }
        }
    });
    let Ok(ready) = receive.recv_timeout(CHILD_TIMEOUT) else {
        // SAFETY: kill() touches no memory of ours; the child is not reaped yet.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        let status = child.wait();
        panic!("child `{scenario}` never got ready ({status:?})");
    };
    eprintln!("child `{scenario}`: {ready}");
    let address = ready.split(' ').next().unwrap().to_string();
    (child, address)
}

/// Kills the child with `signal` and reaps it (`waitpid`, through `Child::wait`).
fn kill_and_reap(mut child: Child, signal: libc::c_int) {
    // SAFETY: kill() touches no memory of ours; the child is not reaped yet.
    let killed = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(killed, 0);
    let status = child.wait().expect("waitpid");
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(status.signal(), Some(signal), "{status:?}");
}

fn restart(backend: Backend, wait: Wait, family: Family, signal: libc::c_int) {
    let scenario = format!(
        "{} {} {}",
        backend,
        match wait {
            Wait::Accept => "accept",
            Wait::PollAccept => "poll_accept",
        },
        match family {
            Family::Tcp => "tcp",
            Family::UnixAbstract => "unix",
        }
    );
    let (child, address) = start_server(&scenario);
    kill_and_reap(child, signal);
    // At once, once: the new server must get the address on its first try.
    match family {
        Family::Tcp => {
            let bound = std::net::TcpListener::bind(&address);
            assert!(
                bound.is_ok(),
                "{scenario}: binding {address} right after the server was reaped: {bound:?}"
            );
        }
        Family::UnixAbstract => {
            let name = std::os::unix::net::SocketAddr::from_abstract_name(&address).unwrap();
            let bound = std::os::unix::net::UnixListener::bind_addr(&name);
            assert!(
                bound.is_ok(),
                "{scenario}: binding @{address} right after the server was reaped: {bound:?}"
            );
        }
    }
}

macro_rules! restart_tests {
    ($($name:ident: $wait:expr, $family:expr, $signal:expr;)*) => {
        mod io_uring {
            use super::*;
            $(#[test] fn $name() { restart(Backend::IoUring, $wait, $family, $signal) })*
        }
        mod mio {
            use super::*;
            $(#[test] fn $name() { restart(Backend::Mio, $wait, $family, $signal) })*
        }
    };
}

restart_tests! {
    tcp_accept_sigkill: Wait::Accept, Family::Tcp, libc::SIGKILL;
    tcp_accept_sigterm: Wait::Accept, Family::Tcp, libc::SIGTERM;
    tcp_poll_accept_sigkill: Wait::PollAccept, Family::Tcp, libc::SIGKILL;
    tcp_poll_accept_sigterm: Wait::PollAccept, Family::Tcp, libc::SIGTERM;
    unix_abstract_accept_sigkill: Wait::Accept, Family::UnixAbstract, libc::SIGKILL;
    unix_abstract_poll_accept_sigkill: Wait::PollAccept, Family::UnixAbstract, libc::SIGKILL;
}
