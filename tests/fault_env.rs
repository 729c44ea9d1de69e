//! Environment faults, each in a child process (see `fault_common`): seccomp filters
//! that make the io_uring syscalls fail, and a tiny `RLIMIT_NOFILE`.
//!
//! What each proves (on a current-thread and a 2-worker runtime):
//!
//! * `io_uring_setup` failing with `ENOSYS` (a kernel without io_uring): `Auto` uses
//!   mio and works; explicit `IoUring` is an `Unsupported` error saying so; explicit
//!   `Mio` works. (`EPERM` is `driver_select`'s seccomp test.)
//! * `io_uring_enter` or `io_uring_register` denied while `io_uring_setup` works: the
//!   same, with the error naming the syscall.
//! * The same filters installed *after* a first io_uring runtime of the process ran
//!   (the probe's answer is cached): the next `build()` still falls back or errors,
//!   never builds rings whose I/O hangs (the probe's live re-check).
//! * A worker thread (one, or every one) whose ring cannot be enabled
//!   (`io_uring_register` denied on that thread only, from `on_thread_start`): the
//!   warning is logged and every op of every task still completes, through the cores
//!   that have a ring. On mio the same workload runs for parity.
//! * `RLIMIT_NOFILE` just above the open fds, for 0..=24 more fds: every build either
//!   works (and its I/O does) or fails with an error, never panics or hangs; no fd is
//!   left behind by a failed build (rings already created for earlier cores are
//!   closed: at some limit one ring fits but a 2-worker runtime's second does not);
//!   wherever an explicit backend builds, `Auto` builds too; and `Auto`'s fallback
//!   after a failed ring setup ran (its warning is logged). (Here mio needs more fds
//!   than io_uring, so that fallback itself runs out of fds too.)

#![cfg(target_os = "linux")]

mod fault_common;
mod rt_common;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fault_common::{
    IO_URING_ENTER, IO_URING_REGISTER, IO_URING_SETUP, child_role, deny_syscalls, logged, report,
    round_trips, run_child, skip,
};
use ringtide::runtime::{Backend, Builder};

const FLAVORS: [usize; 2] = [0, 2];

fn builder(backend: Backend, workers: usize) -> Builder {
    rt_common::backend_builder(backend, workers)
}

/// Under a fault that makes io_uring unusable: `Auto` falls back to mio and works,
/// explicit `Mio` works, explicit `IoUring` fails with `Unsupported` and a message
/// containing `expected` and how to switch to mio. Returns that message.
fn expect_fallback(expected: &str) -> String {
    let mut message = String::new();
    for workers in FLAVORS {
        let rt = builder(Backend::Auto, workers)
            .build()
            .unwrap_or_else(|error| panic!("Auto with {workers} workers: {error}"));
        assert_eq!(rt.backend(), Backend::Mio, "Auto must fall back to mio");
        round_trips(&rt);
        drop(rt);
        let rt = builder(Backend::Mio, workers)
            .build()
            .expect("explicit mio");
        round_trips(&rt);
        drop(rt);
        let error = match builder(Backend::IoUring, workers).build() {
            Ok(rt) => panic!(
                "explicit io_uring built with {} under the fault",
                rt.backend()
            ),
            Err(error) => error,
        };
        assert_eq!(error.kind(), io::ErrorKind::Unsupported, "{error}");
        message = error.to_string();
        assert!(
            message.contains(expected),
            "the error does not say `{expected}`: {message}"
        );
        assert!(
            message.contains("Backend::Mio") || message.contains("RINGTIDE_BACKEND=mio"),
            "the error does not say how to use mio: {message}"
        );
    }
    let warnings: Vec<_> = logged()
        .into_iter()
        .filter(|line| line.contains("using mio instead"))
        .collect();
    assert!(!warnings.is_empty(), "the fallback was not logged");
    message
}

/// Runs `scenario` in a child, or is that child.
fn in_child(test: &str, scenario: fn() -> Option<String>) -> Option<String> {
    if child_role().is_some() {
        fault_common::install_logger();
        if let Some(result) = scenario() {
            report(&result);
        }
        return None;
    }
    run_child(test, "child")
}

/// Installs the filter, or skips the child (returning `None`).
fn filter(rules: &[(libc::c_long, i32)]) -> Option<()> {
    match deny_syscalls(rules) {
        Ok(()) => Some(()),
        Err(why) => {
            skip(&why);
            None
        }
    }
}

#[test]
fn setup_enosys_falls_back_to_mio() {
    in_child("setup_enosys_falls_back_to_mio", || {
        filter(&[(IO_URING_SETUP, libc::ENOSYS)])?;
        Some(expect_fallback("ENOSYS"))
    });
}

#[test]
fn enter_denied_after_setup_falls_back_to_mio() {
    in_child("enter_denied_after_setup_falls_back_to_mio", || {
        filter(&[(IO_URING_ENTER, libc::EPERM)])?;
        Some(expect_fallback("io_uring_enter"))
    });
}

#[test]
fn register_denied_after_setup_falls_back_to_mio() {
    in_child("register_denied_after_setup_falls_back_to_mio", || {
        filter(&[(IO_URING_REGISTER, libc::EPERM)])?;
        let message = expect_fallback("io_uring_register");
        assert!(
            message.contains("seccomp"),
            "EPERM should point at a sandbox: {message}"
        );
        Some(message)
    });
}

/// A first runtime proves io_uring works (the probe's answer is cached), then the
/// filter goes in: later builds must notice.
fn sandboxed_after_first_runtime(rules: &[(libc::c_long, i32)], expected: &str) -> Option<String> {
    let rt = builder(Backend::IoUring, 2)
        .build()
        .expect("io_uring before the filter");
    round_trips(&rt);
    drop(rt);
    filter(rules)?;
    let message = expect_fallback(expected);
    assert!(message.contains("earlier"), "{message}");
    Some(message)
}

#[test]
fn enter_denied_after_a_first_runtime_falls_back_to_mio() {
    in_child(
        "enter_denied_after_a_first_runtime_falls_back_to_mio",
        || sandboxed_after_first_runtime(&[(IO_URING_ENTER, libc::EPERM)], "io_uring_enter"),
    );
}

#[test]
fn register_denied_after_a_first_runtime_falls_back_to_mio() {
    in_child(
        "register_denied_after_a_first_runtime_falls_back_to_mio",
        || sandboxed_after_first_runtime(&[(IO_URING_REGISTER, libc::EPERM)], "io_uring_register"),
    );
}

/// Many tasks each doing pipe round trips, from several threads' cores; each task's
/// first I/O error, if any.
fn io_workload(rt: &ringtide::runtime::Runtime) -> Vec<Result<(), String>> {
    rt.block_on(async {
        let mut tasks = Vec::new();
        for index in 0..32u8 {
            tasks.push(ringtide::spawn(async move {
                let (reader, writer) = fault_common::pipe();
                for round in 0..8u8 {
                    let (written, _) = writer.write_owned(vec![index, round]).await;
                    assert_eq!(written.map_err(|e| e.to_string())?, 2);
                    let (read, buf) = ringtide::time::timeout(
                        rt_common::TEST_TIMEOUT,
                        reader.read_owned(vec![0u8; 2]),
                    )
                    .await
                    .unwrap_or_else(|_| panic!("task {index} round {round}: the read hangs"));
                    assert_eq!(read.map_err(|e| e.to_string())?, 2);
                    assert_eq!(buf, [index, round]);
                    ringtide::task::yield_now().await;
                }
                Ok::<(), String>(())
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    })
}

/// `io_uring_register` denied on worker threads (the first one started, or all of
/// them): their rings cannot be enabled. With one ringless worker every op still
/// completes (through the cores that have a ring); with none left, the workers' ops
/// fail with an error saying no ring can run them (never hang), while `block_on`'s
/// own thread, which has a ring, still does I/O.
fn ringless_workers(all: bool) -> Option<String> {
    let mut results = Vec::new();
    for backend in [Backend::IoUring, Backend::Mio] {
        let started = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(std::sync::Mutex::new(None::<String>));
        let rt = {
            let started = started.clone();
            let failed = failed.clone();
            builder(backend, 3)
                .on_thread_start(move || {
                    if started.fetch_add(1, Ordering::SeqCst) == 0 || all {
                        if let Err(why) = deny_syscalls(&[(IO_URING_REGISTER, libc::EPERM)]) {
                            *failed.lock().unwrap() = Some(why);
                        }
                    }
                })
                .build()
                .unwrap_or_else(|error| panic!("{backend}: {error}"))
        };
        assert_eq!(rt.backend(), backend);
        if let Some(why) = failed.lock().unwrap().take() {
            skip(&why);
            return None;
        }
        let outcomes = io_workload(&rt);
        let failures: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
        if all && backend == Backend::IoUring {
            for failure in &failures {
                assert!(
                    failure.contains("no io_uring ring"),
                    "unclear error: {failure}"
                );
            }
            // block_on's thread is not a worker: its ring works.
            rt.block_on(fault_common::round_trip(backend));
        } else {
            assert!(failures.is_empty(), "{backend}: {failures:?}");
            round_trips(&rt);
        }
        drop(rt);
        let warned = logged()
            .iter()
            .any(|line| line.contains("no io_uring ring for this thread"));
        if backend == Backend::IoUring {
            assert!(warned, "no worker ended up without a ring: {:?}", logged());
        }
        results.push(format!(
            "{backend}:{}/{}_tasks_failed",
            failures.len(),
            outcomes.len()
        ));
    }
    Some(results.join(" "))
}

#[test]
fn a_worker_whose_ring_cannot_be_enabled_runs_no_ops() {
    in_child("a_worker_whose_ring_cannot_be_enabled_runs_no_ops", || {
        ringless_workers(false)
    });
}

#[test]
fn workers_whose_rings_cannot_be_enabled_still_complete_every_op() {
    in_child(
        "workers_whose_rings_cannot_be_enabled_still_complete_every_op",
        || ringless_workers(true),
    );
}

/// What a build under a fd limit gave.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Built(Backend),
    Failed(String),
}

#[test]
fn tiny_nofile_limit_builds_or_errors_and_leaks_nothing() {
    in_child(
        "tiny_nofile_limit_builds_or_errors_and_leaks_nothing",
        || {
            let (mut uring_failed, mut uring_built) = (Vec::new(), Vec::new());
            let mut table = Vec::new();
            // Process-wide state a first runtime sets up is not a leak of later builds.
            for backend in [Backend::IoUring, Backend::Mio] {
                for workers in FLAVORS {
                    round_trips(&builder(backend, workers).build().unwrap());
                }
            }
            for workers in FLAVORS {
                for extra in 0..=24usize {
                    let mut outcomes = Vec::new();
                    for backend in [Backend::IoUring, Backend::Mio, Backend::Auto] {
                        let before = fault_common::open_fds();
                        // `open_fds` counts the fd it lists `/proc/self/fd` with, too.
                        let limit = fault_common::set_nofile((before - 1 + extra) as libc::rlim_t);
                        let built = std::panic::catch_unwind(|| builder(backend, workers).build());
                        fault_common::restore_nofile(limit);
                        let outcome = match built {
                            Err(_) => {
                                panic!("{backend}/{workers} with {extra} fds: build() panicked")
                            }
                            Ok(Ok(rt)) => {
                                // The runtime is whole: its I/O works (with fds to spare).
                                round_trips(&rt);
                                let backend = rt.backend();
                                drop(rt);
                                Outcome::Built(backend)
                            }
                            Ok(Err(error)) => {
                                let message = error.to_string();
                                assert!(!message.is_empty());
                                Outcome::Failed(message)
                            }
                        };
                        assert_eq!(
                            fault_common::open_fds(),
                            before,
                            "{backend}/{workers} with {extra} fds ({outcome:?}) left fds behind"
                        );
                        outcomes.push(outcome);
                    }
                    table.push(format!("{workers}w+{extra}: {outcomes:?}"));
                    let [uring, mio, auto] = <[Outcome; 3]>::try_from(outcomes).unwrap();
                    if let Outcome::Failed(message) = &uring {
                        assert!(message.contains("io_uring"), "{message}");
                    }
                    let built = |outcome: &Outcome| matches!(outcome, Outcome::Built(_));
                    if built(&uring) || built(&mio) {
                        assert!(
                            built(&auto),
                            "{workers} workers, {extra} fds: an explicit backend builds but Auto \
                         fails: {auto:?}"
                        );
                    }
                    if matches!(uring, Outcome::Failed(_)) {
                        uring_failed.push((workers, extra));
                    }
                    if built(&uring) {
                        uring_built.push((workers, extra));
                    }
                    if extra == 24 {
                        assert_eq!(uring, Outcome::Built(Backend::IoUring), "{workers} workers");
                        assert_eq!(auto, Outcome::Built(Backend::IoUring), "{workers} workers");
                    }
                }
            }
            // A fd limit under which one ring fits (a current-thread runtime builds) but a
            // 2-worker runtime's second ring does not: that build failed part-way, and the
            // fd check above shows it closed the ring it had set up.
            let partial: Vec<usize> = uring_failed
                .iter()
                .filter(|(workers, extra)| *workers == 2 && uring_built.contains(&(0, *extra)))
                .map(|(_, extra)| *extra)
                .collect();
            assert!(
                !partial.is_empty(),
                "no partial ring setup was seen:\n{}",
                table.join("\n")
            );
            assert!(
                logged()
                    .iter()
                    .any(|line| line.contains("rings could not be set up")),
                "the fallback after a failed ring setup was not logged"
            );
            Some(format!(
                "2-worker io_uring failed part-way with {partial:?} spare fds"
            ))
        },
    );
}
