//! `#[ringtide::test]` (current-thread by default, or multi-thread with a worker count).
//! `#[ringtide::main]` is exercised by the examples.
//!
//! The macro owns the test function, so each body arms a process-wide watchdog instead
//! of running under `with_timeout`.

mod rt_common;

use std::thread;
use std::time::Duration;

use ringtide::runtime::Handle;
use ringtide::task;

const LIMIT: Duration = Duration::from_secs(60);

#[ringtide::test]
async fn default_flavor_is_current_thread() {
    rt_common::process_watchdog(LIMIT);
    let outer = thread::current().id();
    let inner = ringtide::spawn(async { thread::current().id() })
        .await
        .unwrap();
    assert_eq!(inner, outer, "current-thread tasks run on the test thread");
    assert_eq!(Handle::current().metrics().num_workers(), 1);
    let error = ringtide::spawn(async { task::block_in_place(|| ()) })
        .await
        .unwrap_err();
    assert!(
        error.is_panic(),
        "block_in_place must panic on a current-thread runtime"
    );
}

#[ringtide::test(flavor = "current_thread")]
async fn explicit_current_thread() {
    rt_common::process_watchdog(LIMIT);
    assert_eq!(Handle::current().metrics().num_workers(), 1);
    assert_eq!(task::spawn_blocking(|| 3).await.unwrap(), 3);
}

#[ringtide::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_two_workers() {
    rt_common::process_watchdog(LIMIT);
    let metrics = Handle::current().metrics();
    assert_eq!(metrics.num_workers(), 2);
    let outer = thread::current().id();
    let inner = ringtide::spawn(async { thread::current().id() })
        .await
        .unwrap();
    assert_ne!(inner, outer, "multi-thread tasks run on worker threads");
    let handles: Vec<_> = (0..1_000u64)
        .map(|i| ringtide::spawn(async move { i }))
        .collect();
    let mut sum = 0;
    for handle in handles {
        sum += handle.await.unwrap();
    }
    assert_eq!(sum, 499_500);
    let value = ringtide::spawn(async { task::block_in_place(|| 5) })
        .await
        .unwrap();
    assert_eq!(value, 5);
}

#[ringtide::test]
async fn returns_result() -> Result<(), std::io::Error> {
    rt_common::process_watchdog(LIMIT);
    let value = ringtide::spawn(async { 1 }).await?;
    assert_eq!(value, 1);
    Ok(())
}

#[ringtide::test]
#[should_panic(expected = "panic inside a macro test")]
async fn should_panic_works() {
    rt_common::process_watchdog(LIMIT);
    panic!("panic inside a macro test");
}

#[ringtide::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "propagated from a task")]
async fn task_panic_propagates_through_unwrap() {
    rt_common::process_watchdog(LIMIT);
    let error = ringtide::spawn(async { panic!("propagated from a task") })
        .await
        .unwrap_err();
    std::panic::resume_unwind(error.into_panic());
}
