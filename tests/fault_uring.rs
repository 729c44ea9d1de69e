//! Faults inside the driver, on both backends (where the fault exists on one only, the
//! same workload runs on the other for parity):
//!
//! * a full submission queue: 64 ops submitted in one poll to a 4-entry ring; the
//!   flush-and-retry path runs (its counter moves) and every op completes with its own
//!   data (the CQ-overflow half is `io_driver::tiny_rings_flush_full_queues_and_lose_no_completion`);
//! * a task that panics while it and other tasks have ops in flight: the panic is the
//!   task's `JoinError`, its ops are cancelled (nothing is left in flight), the other
//!   tasks' ops complete, and the runtime keeps working;
//! * the `block_on` future panicking with ops in flight: the panic reaches the caller,
//!   and the runtime works afterwards;
//! * `io_uring_enter` denied (a seccomp filter installed while the runtime runs, in a
//!   child process) on the thread whose ring runs the ops: the ring breaks instead of
//!   retrying forever: the next ops fail with `EPERM`, nothing hangs, and the runtime
//!   shuts down. On mio the same workload, under the same filter, just works.

#![cfg(target_os = "linux")]

mod fault_common;
mod rt_common;

use fault_common::{
    IO_URING_ENTER, child_role, deny_syscalls, pipe, report, round_trips, run_child, skip,
};
use ringtide::runtime::Backend;

async fn yield_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + rt_common::TEST_TIMEOUT;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        ringtide::task::yield_now().await;
    }
}

/// 64 reads polled in one go, then fed with plain syscalls; each gets its own bytes.
#[cfg(feature = "io-uring")]
fn many_reads_in_one_poll(rt: &ringtide::runtime::Runtime) {
    use std::io::Write as _;
    rt.block_on(async {
        ringtide::spawn(async {
            let pipes: Vec<_> = (0..64).map(|_| pipe()).collect();
            let reads = pipes
                .iter()
                .map(|(reader, _)| reader.read_owned(vec![0u8; 8]));
            let mut all = std::pin::pin!(futures::future::join_all(reads));
            // One poll submits all 64: far more than the submission queue holds.
            assert!(futures::poll!(all.as_mut()).is_pending());
            for (index, (_, writer)) in pipes.iter().enumerate() {
                writer
                    .get_ref()
                    .write_all(&(index as u64).to_le_bytes())
                    .unwrap();
            }
            for (index, (result, buf)) in all.await.into_iter().enumerate() {
                assert_eq!(result.unwrap(), 8);
                assert_eq!(
                    u64::from_le_bytes(buf[..8].try_into().unwrap()),
                    index as u64
                );
            }
        })
        .await
        .unwrap();
    });
}

// The counter exists where io_uring is compiled in.
#[cfg(feature = "io-uring")]
#[test]
fn a_full_submission_queue_is_flushed_and_every_op_completes() {
    rt_common::with_timeout("full_sq", rt_common::TEST_TIMEOUT, || {
        for workers in [0, 2] {
            let rt = rt_common::backend_builder(Backend::IoUring, workers)
                .uring_entries(4)
                .build()
                .unwrap();
            let before = ringtide::__private::uring_sq_full_flushes();
            many_reads_in_one_poll(&rt);
            let flushes = ringtide::__private::uring_sq_full_flushes() - before;
            assert!(
                flushes > 0,
                "{workers} workers: the submission queue was never full"
            );
            assert_eq!(rt.metrics().io().in_flight, 0);
            round_trips(&rt);
            // mio has no submission queue: the same workload, for parity.
            many_reads_in_one_poll(&rt_common::backend_runtime(Backend::Mio, workers));
        }
    });
}

backend_test! {
    fn a_task_panicking_with_ops_in_flight_leaves_the_runtime_working(rt, multi) {
        let backend = rt.backend();
        let panic = rt.block_on(async move {
            let metrics = ringtide::runtime::Handle::current().metrics();
            // Another task's read, in flight across the panic.
            let (survivor_reader, survivor_writer) = pipe();
            let (polled, polled_rx) = futures::channel::oneshot::channel();
            let survivor = ringtide::spawn(async move {
                let mut read = std::pin::pin!(survivor_reader.read_owned(vec![0u8; 4]));
                assert!(futures::poll!(read.as_mut()).is_pending());
                polled.send(()).unwrap();
                let (result, buf) = read.await;
                assert_eq!(result.unwrap(), 4);
                buf
            });
            polled_rx.await.unwrap();
            // The task that panics with eight reads of its own in flight.
            let (started, started_rx) = futures::channel::oneshot::channel();
            let panicking = ringtide::spawn(async move {
                let pipes: Vec<_> = (0..8).map(|_| pipe()).collect();
                let reads = pipes.iter().map(|(reader, _)| reader.read_owned(vec![0u8; 4]));
                let mut all = std::pin::pin!(futures::future::join_all(reads));
                assert!(futures::poll!(all.as_mut()).is_pending());
                started.send(()).unwrap();
                ringtide::task::yield_now().await;
                panic!("injected panic with 8 reads in flight");
            });
            started_rx.await.unwrap();
            let error = panicking.await.expect_err("the task panicked");
            assert!(error.is_panic(), "{error:?}");
            // Its reads were cancelled; the survivor's is the only one left.
            if backend == Backend::IoUring {
                yield_until("the panicked task's reads leave the ring", || {
                    metrics.io().in_flight <= 1
                })
                .await;
            }
            let (written, _) = survivor_writer.write_owned(b"live".to_vec()).await;
            assert_eq!(written.unwrap(), 4);
            assert_eq!(survivor.await.unwrap(), b"live");
            yield_until("nothing in flight", || metrics.io().in_flight == 0).await;
            rt_common::panic_message(&*error.into_panic())
        });
        assert!(panic.contains("injected panic"), "{panic}");
        round_trips(&rt);
    }
}

backend_test! {
    fn a_block_on_future_panicking_with_ops_in_flight_leaves_the_runtime_working(rt, multi) {
        let (reader, _writer) = rt.block_on(async { pipe() });
        let message = rt_common::expect_panic(|| {
            rt.block_on(async {
                let mut read = std::pin::pin!(reader.read_owned(vec![0u8; 4]));
                assert!(futures::poll!(read.as_mut()).is_pending());
                panic!("injected panic in block_on with a read in flight");
            })
        });
        assert!(message.contains("injected panic"), "{message}");
        let metrics = rt.metrics();
        rt.block_on(yield_until("the abandoned read leaves the ring", || {
            metrics.io().in_flight == 0
        }));
        round_trips(&rt);
    }
}

/// Ops on the current thread's runtime once `io_uring_enter` is denied there: each
/// one's result, as `ok` or the errno. A nop and a pipe read run first, unfiltered.
async fn ops_after_enter_is_denied(backend: Backend) -> Result<Vec<String>, String> {
    use std::io::Write as _;
    let (reader, writer) = pipe();
    writer.get_ref().write_all(b"x").unwrap();
    let (count, _) = reader.read_owned(vec![0u8; 1]).await;
    assert_eq!(count.unwrap(), 1, "{backend}: before the filter");
    ringtide::io::nop().await.expect("nop before the filter");
    deny_syscalls(&[(IO_URING_ENTER, libc::EPERM)])?;
    let outcome = |result: std::io::Result<usize>| match result {
        Ok(_) => "ok".to_owned(),
        Err(error) => format!("errno{}", error.raw_os_error().unwrap_or(-1)),
    };
    let mut results = Vec::new();
    for _ in 0..2 {
        results.push(outcome(ringtide::io::nop().await.map(|()| 0)));
        writer.get_ref().write_all(b"y").unwrap();
        let (count, _) = reader.read_owned(vec![0u8; 1]).await;
        results.push(outcome(count));
    }
    Ok(results)
}

/// The child's scenario: on a fresh thread per runtime (the filter stays with the
/// thread that installed it and the threads it starts), a current-thread runtime
/// (filtered in `block_on`) and a 1-worker runtime (filtered in a task, on the
/// worker), on each backend.
fn enter_denied_while_running() -> Option<String> {
    let mut summary = Vec::new();
    for backend in [Backend::IoUring, Backend::Mio] {
        for workers in [0, 1] {
            let results = std::thread::spawn(move || {
                let rt = rt_common::backend_runtime(backend, workers);
                let results = if workers == 0 {
                    rt.block_on(ops_after_enter_is_denied(backend))
                } else {
                    rt.block_on(async move {
                        ringtide::spawn(ops_after_enter_is_denied(backend))
                            .await
                            .unwrap()
                    })
                };
                // Shutting down with a broken ring must not hang either.
                drop(rt);
                results
            })
            .join()
            .unwrap();
            let results = match results {
                Ok(results) => results,
                Err(why) => {
                    skip(&why);
                    return None;
                }
            };
            let expected = if backend == Backend::IoUring {
                format!("errno{}", libc::EPERM)
            } else {
                "ok".to_owned()
            };
            assert!(
                results.iter().all(|result| *result == expected),
                "{backend} with {workers} workers: {results:?}"
            );
            summary.push(format!("{backend}/{workers}:{}", results.join(",")));
        }
    }
    Some(summary.join(" "))
}

#[test]
fn enter_denied_while_running_fails_the_ops_instead_of_hanging() {
    const NAME: &str = "enter_denied_while_running_fails_the_ops_instead_of_hanging";
    if child_role().is_some() {
        if let Some(result) = enter_denied_while_running() {
            report(&result);
        }
        return;
    }
    run_child(NAME, "child");
}
