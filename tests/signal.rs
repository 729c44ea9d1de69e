//! `ringtide::signal`: `ctrl_c`, several listeners, coalescing, no loss between
//! registration and the first `recv`, graceful shutdown on SIGTERM, and listeners that
//! outlive their runtime; on both backends.
//!
//! Signal dispositions are process-wide, so every scenario runs in a child process of
//! its own: the test re-runs this binary for itself with `CHILD_ENV` set, and the child
//! runs the scenario (see `rt_common::run_child_test`).

// Unix only: Unix signals (`signal::unix`, `kill(2)`); Windows has console events
// (`signal::windows`), which cannot be raised from a test process.
#![cfg(unix)]

mod rt_common;

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::pin::pin;
use std::process::{Command, Stdio};
use std::task::Poll;

use ringtide::runtime::Runtime;
use ringtide::signal::unix::{SignalKind, signal};

/// Set in a child process that runs one scenario; unset in the parent.
const CHILD_ENV: &str = "RINGTIDE_SIGNAL_TEST_CHILD";
/// The line a child prints when its scenario succeeded.
const RESULT_MARK: &str = "RINGTIDE_SIGNAL_TEST_RESULT";
/// The line the graceful-shutdown child prints once its SIGTERM listener is armed.
const READY_MARK: &str = "RINGTIDE_SIGNAL_TEST_READY";
/// The line the graceful-shutdown child prints after it shut down cleanly.
const GRACEFUL_MARK: &str = "RINGTIDE_SIGNAL_TEST_GRACEFUL";

fn in_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// The full name of the `backend_test!` test `name` running on `rt`.
fn test_name(name: &str, rt: &Runtime, multi: bool) -> String {
    let flavor = if multi {
        "multi_thread"
    } else {
        "current_thread"
    };
    format!(
        "{name}::{}_{flavor}",
        rt.backend().as_str().replace('-', "_")
    )
}

/// In the child, runs `scenario` on `rt` and prints the result mark; in the parent,
/// re-runs this test as a child and asserts that the child succeeded.
fn run_scenario(name: &str, rt: Runtime, multi: bool, scenario: impl FnOnce(Runtime)) {
    if in_child() {
        scenario(rt);
        println!("{RESULT_MARK}");
        return;
    }
    let test = test_name(name, &rt, multi);
    drop(rt);
    let output = rt_common::run_child_test(&test, &[(CHILD_ENV, "1")], rt_common::TEST_TIMEOUT);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(RESULT_MARK),
        "child `{test}` failed ({})\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Sends `signum` to this process.
fn kill_self(signum: libc::c_int) {
    // SAFETY: kill() touches no memory of ours.
    assert_eq!(unsafe { libc::kill(libc::getpid(), signum) }, 0);
}

/// Polls `future` once and asserts that it is pending (so a listener it creates on its
/// first poll is armed).
async fn assert_pending<F: Future>(future: std::pin::Pin<&mut F>) {
    let mut future = future;
    std::future::poll_fn(|cx| {
        assert!(
            future.as_mut().poll(cx).is_pending(),
            "ready before any signal"
        );
        Poll::Ready(())
    })
    .await;
}

backend_test! {
    fn ctrl_c(rt, multi) {
        run_scenario("ctrl_c", rt, multi, |rt| {
            rt.block_on(async {
                let mut ctrl_c = pin!(ringtide::signal::ctrl_c());
                assert_pending(ctrl_c.as_mut()).await;
                kill_self(libc::SIGINT);
                ctrl_c.await.unwrap();
            });
        });
    }
}

backend_test! {
    fn two_listeners_both_see_one_delivery(rt, multi) {
        run_scenario("two_listeners_both_see_one_delivery", rt, multi, |rt| {
            rt.block_on(async {
                let mut first = signal(SignalKind::user_defined1()).unwrap();
                let mut second = signal(SignalKind::user_defined1()).unwrap();
                // The second listener waits on another task (another worker when multi).
                let second = ringtide::spawn(async move { second.recv().await });
                kill_self(libc::SIGUSR1);
                assert_eq!(first.recv().await, Some(()));
                assert_eq!(second.await.unwrap(), Some(()));
            });
        });
    }
}

backend_test! {
    fn deliveries_coalesce(rt, multi) {
        run_scenario("deliveries_coalesce", rt, multi, |rt| {
            rt.block_on(async {
                let mut listener = signal(SignalKind::user_defined2()).unwrap();
                for _ in 0..3 {
                    kill_self(libc::SIGUSR2);
                }
                // At least one notification for the three (tokio's guarantee); the
                // listener does not need to drain one per delivery.
                assert_eq!(listener.recv().await, Some(()));
                // It keeps working: a later delivery is seen again.
                kill_self(libc::SIGUSR2);
                assert_eq!(listener.recv().await, Some(()));
            });
        });
    }
}

backend_test! {
    fn delivery_between_registration_and_first_recv_is_kept(rt, multi) {
        run_scenario("delivery_between_registration_and_first_recv_is_kept", rt, multi, |rt| {
            // Registered outside any runtime task and never polled before the delivery.
            let mut listener = signal(SignalKind::hangup()).unwrap();
            kill_self(libc::SIGHUP);
            rt.block_on(async move {
                assert_eq!(listener.recv().await, Some(()));
            });
        });
    }
}

backend_test! {
    fn listener_outlives_its_runtime(rt, multi) {
        run_scenario("listener_outlives_its_runtime", rt, multi, |rt| {
            let backend = rt.backend();
            let mut old = rt.block_on(async { signal(SignalKind::window_change()).unwrap() });
            drop(rt);
            let rt = rt_common::backend_runtime(backend, if multi { 4 } else { 0 });
            rt.block_on(async move {
                let mut new = signal(SignalKind::window_change()).unwrap();
                kill_self(libc::SIGWINCH);
                assert_eq!(new.recv().await, Some(()));
                assert_eq!(old.recv().await, Some(()));
            });
        });
    }
}

backend_test! {
    fn sigterm_shuts_a_child_down_gracefully(rt, multi) {
        let name = "sigterm_shuts_a_child_down_gracefully";
        if in_child() {
            // A small server-like program: a worker task runs until told to stop; on
            // SIGTERM the main task tells it, waits for it to finish, and exits.
            rt.block_on(async {
                let mut terminate = signal(SignalKind::terminate()).unwrap();
                let (stop_tx, stop_rx) = ringtide::sync::oneshot::channel::<()>();
                let worker = ringtide::spawn(async move {
                    let _ = stop_rx.await;
                    "worker finished"
                });
                println!("{READY_MARK}");
                terminate.recv().await;
                stop_tx.send(()).unwrap();
                assert_eq!(worker.await.unwrap(), "worker finished");
                println!("{GRACEFUL_MARK}");
            });
            return;
        }
        let test = test_name(name, &rt, multi);
        drop(rt);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &test, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = Vec::new();
        loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("child exited before it was ready: {seen:?}"))
                .unwrap();
            let ready = line.contains(READY_MARK);
            seen.push(line);
            if ready {
                break;
            }
        }
        // SAFETY: kill() touches no memory of ours; the child is not reaped yet.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0);
        seen.extend(lines.map(Result::unwrap));
        let status = child.wait().unwrap();
        assert!(
            status.success() && seen.iter().any(|line| line.contains(GRACEFUL_MARK)),
            "child `{test}` did not shut down gracefully ({status}): {seen:?}"
        );
    }
}

#[test]
fn unlistenable_signals_are_errors() {
    for signum in [0, -1, 1000, libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV] {
        let error = signal(SignalKind::from_raw(signum)).unwrap_err();
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::InvalidInput,
            "signal {signum}"
        );
    }
}

#[test]
fn signal_kinds_are_the_libc_numbers() {
    assert_eq!(SignalKind::interrupt().as_raw_value(), libc::SIGINT);
    assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
    assert_eq!(SignalKind::hangup().as_raw_value(), libc::SIGHUP);
    assert_eq!(SignalKind::quit().as_raw_value(), libc::SIGQUIT);
    assert_eq!(SignalKind::user_defined1().as_raw_value(), libc::SIGUSR1);
    assert_eq!(SignalKind::user_defined2().as_raw_value(), libc::SIGUSR2);
    assert_eq!(SignalKind::child().as_raw_value(), libc::SIGCHLD);
    assert_eq!(SignalKind::alarm().as_raw_value(), libc::SIGALRM);
    assert_eq!(SignalKind::pipe().as_raw_value(), libc::SIGPIPE);
    assert_eq!(SignalKind::window_change().as_raw_value(), libc::SIGWINCH);
    // Real-time signals are Linux's (and FreeBSD's; macOS has none).
    #[cfg(target_os = "linux")]
    assert_eq!(
        SignalKind::from_raw(libc::SIGRTMIN()).as_raw_value(),
        libc::SIGRTMIN()
    );
}

backend_test! {
    fn recv_is_cancel_safe_in_select(rt, multi) {
        run_scenario("recv_is_cancel_safe_in_select", rt, multi, |rt| {
            rt.block_on(async {
                let mut listener = signal(SignalKind::quit()).unwrap();
                let (tx, mut rx) = ringtide::sync::mpsc::unbounded_channel();
                for round in 0..3 {
                    tx.send(round).unwrap();
                }
                // `recv` is polled (pending, waker stored) and dropped each time the
                // channel wins.
                for round in 0..3 {
                    tokio::select! {
                        biased;
                        _ = listener.recv() => panic!("no SIGQUIT was sent yet"),
                        value = rx.recv() => assert_eq!(value, Some(round)),
                    }
                }
                kill_self(libc::SIGQUIT);
                // The delivery stays for the next `recv`, even across dropped ones.
                loop {
                    tokio::select! {
                        received = listener.recv() => {
                            assert_eq!(received, Some(()));
                            break;
                        }
                        _ = ringtide::time::sleep(std::time::Duration::from_millis(1)) => {}
                    }
                }
            });
        });
    }
}
