//! Accept failing for lack of fds (`EMFILE`, `ENFILE`), each scenario in a child process
//! (see `fault_common`), on both backends, current-thread and 2 workers.
//!
//! What tokio users expect, and what is checked: `TcpListener::accept` (and
//! `poll_accept`) returns the error, it neither retries behind the caller's back nor
//! hangs nor panics; the server loop that got it keeps running, other tasks progress
//! meanwhile, and the listener keeps working: once fds are available again, the very
//! connection that was waiting is accepted.
//!
//! * seccomp making `accept4` fail with `EMFILE` or `ENFILE`: both backends accept with
//!   `accept4` (mio, and io_uring listeners by default: readiness of the listener's
//!   epoll instance, then `accept4`; see `net::listener_readiness`). A filter cannot be
//!   removed, so this checks the error, the loop that keeps getting it while the
//!   connection stays queued, and the other tasks. (Listeners made to accept in the
//!   ring, the hidden `uring_multishot_accept` knob, make no `accept4` call: the next
//!   scenario covers them.)
//! * `RLIMIT_NOFILE` lowered to 0 while a connection is queued: the kernel's own
//!   `EMFILE`, for every way a listener accepts (io_uring by readiness, by multishot
//!   accept and by single accepts in the ring; mio); then the limit is restored and the
//!   same listener accepts that connection.

#![cfg(target_os = "linux")]

mod fault_common;
mod rt_common;

use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fault_common::{child_role, deny_syscalls, report, run_child, skip};
use ringtide::net::{TcpListener, TcpStream};
use ringtide::runtime::{Backend, Runtime};

const FLAVORS: [usize; 2] = [0, 2];
/// Errors the server loop takes (and goes on after) before it stops.
const ERRORS: usize = 5;

fn errno_named(name: &str) -> i32 {
    match name {
        "EMFILE" => libc::EMFILE,
        "ENFILE" => libc::ENFILE,
        other => panic!("unknown errno {other}"),
    }
}

/// Asserts `result` is the accept error `errno`, and says it.
fn expect_errno<T: std::fmt::Debug>(result: io::Result<T>, errno: i32, what: &str) -> io::Error {
    let error = result.expect_err(what);
    assert_eq!(error.raw_os_error(), Some(errno), "{what}: {error}");
    error
}

/// Under a filter failing `accept4` with `errno`: a server loop on a listener with a
/// connection queued gets the error `ERRORS` times (going on after each, backing off
/// 1 ms as a server would), while another task runs timers and pipe round trips;
/// `poll_accept` returns it too; the listener's address is still there.
fn accept_errors_surface(rt: &Runtime, errno: i32) -> String {
    let backend = rt.backend();
    rt.block_on(async move {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let address = listener.local_addr().unwrap();
        // The handshake completes in the kernel: the connection is queued.
        let client = TcpStream::connect(address).await.unwrap();
        let progress = Arc::new(AtomicUsize::new(0));
        let other = ringtide::spawn({
            let progress = progress.clone();
            async move {
                for _ in 0..ERRORS {
                    ringtide::time::sleep(Duration::from_millis(1)).await;
                    fault_common::round_trip(backend).await;
                    progress.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let server = ringtide::spawn({
            let listener = listener.clone();
            async move {
                let mut first = None;
                for _ in 0..ERRORS {
                    let error =
                        expect_errno(listener.accept().await, errno, "accept with accept4 denied");
                    first.get_or_insert(error.to_string());
                    ringtide::time::sleep(Duration::from_millis(1)).await;
                }
                first.unwrap()
            }
        });
        let message = server.await.expect("the server loop ran to its end");
        other.await.expect("the other task ran to its end");
        assert_eq!(progress.load(Ordering::SeqCst), ERRORS);
        expect_errno(
            poll_fn(|cx| listener.poll_accept(cx)).await,
            errno,
            "poll_accept with accept4 denied",
        );
        assert_eq!(listener.local_addr().unwrap(), address);
        drop(client);
        message
    })
}

#[test]
fn accept4_denied_with_emfile_or_enfile_returns_the_error() {
    if let Some(role) = child_role() {
        let errno = errno_named(&role);
        // Before any runtime: the filter applies to the threads started from here on.
        if let Err(why) = deny_syscalls(&[(libc::SYS_accept4, errno)]) {
            skip(&why);
            return;
        }
        let mut message = String::new();
        for backend in [Backend::IoUring, Backend::Mio] {
            for workers in FLAVORS {
                let rt = rt_common::backend_runtime(backend, workers);
                message = accept_errors_surface(&rt, errno);
                eprintln!("{backend}/{workers} workers: {message}");
            }
        }
        report(&format!("{role} returned by accept: {message}"));
        return;
    }
    for errno in ["EMFILE", "ENFILE"] {
        if run_child(
            "accept4_denied_with_emfile_or_enfile_returns_the_error",
            errno,
        )
        .is_none()
        {
            eprintln!("seccomp is not available here: the {errno} accept scenario did not run");
        }
    }
}

/// How a listener accepts, per runtime.
#[derive(Clone, Copy, Debug)]
enum AcceptPath {
    /// The default (io_uring: epoll readiness and `accept4`).
    Default,
    /// io_uring's multishot accept in the ring.
    Multishot,
    /// io_uring's single accepts in the ring.
    Single,
}

fn runtime(backend: Backend, workers: usize, path: AcceptPath) -> Runtime {
    let mut builder = rt_common::backend_builder(backend, workers);
    match path {
        AcceptPath::Default => {}
        AcceptPath::Multishot => {
            builder.uring_multishot_accept(true);
        }
        AcceptPath::Single => {
            builder.uring_multishot_accept(false);
        }
    }
    let rt = builder.build().unwrap();
    assert_eq!(rt.backend(), backend);
    rt
}

/// With no fd to spare (`RLIMIT_NOFILE` 0) and a connection queued: `accept` returns
/// `EMFILE` (twice: the second one after the first, as a server loop would); once the
/// limit is back, the same listener accepts that connection, and then a new one.
fn accept_at_the_fd_limit(rt: &Runtime) -> String {
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let client = TcpStream::connect(address).await.unwrap();
        // The timer and the listener's readiness were set up above; taking fds away
        // now leaves accept the only call that needs one.
        let limit = fault_common::set_nofile(0);
        let first = listener.accept().await;
        let second = listener.accept().await;
        fault_common::restore_nofile(limit);
        let error = expect_errno(first, libc::EMFILE, "accept without fds");
        expect_errno(second, libc::EMFILE, "accept without fds, again");
        let (_, peer) = listener.accept().await.expect("accept with fds again");
        assert_eq!(peer, client.local_addr().unwrap(), "the queued connection");
        let late = TcpStream::connect(address).await.unwrap();
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, late.local_addr().unwrap());
        error.to_string()
    })
}

#[test]
fn accept_at_the_fd_limit_errors_then_takes_the_waiting_connection() {
    if child_role().is_some() {
        let mut message = String::new();
        let mut ran = Vec::new();
        for (backend, path) in [
            (Backend::IoUring, AcceptPath::Default),
            (Backend::IoUring, AcceptPath::Multishot),
            (Backend::IoUring, AcceptPath::Single),
            (Backend::Mio, AcceptPath::Default),
        ] {
            for workers in FLAVORS {
                let rt = runtime(backend, workers, path);
                message = accept_at_the_fd_limit(&rt);
                ran.push(format!("{backend}/{path:?}/{workers}"));
            }
        }
        report(&format!(
            "EMFILE ({message}) then accepted on {}",
            ran.join(", ")
        ));
        return;
    }
    run_child(
        "accept_at_the_fd_limit_errors_then_takes_the_waiting_connection",
        "child",
    )
    .expect("a resource limit cannot be skipped");
}
