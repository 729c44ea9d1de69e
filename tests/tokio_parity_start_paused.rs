//! tokio's paused test clock at start: `Builder::start_paused(true)` and
//! `#[ringtide::test(start_paused = true)]`, on both backends.
//!
//! A runtime that starts paused behaves as if its first act were `time::pause()`: a
//! long sleep returns at once in wall time while the runtime's `Instant` moves by the
//! whole duration (auto-advance when idle), and `time::advance` works from the start.
//! Only current-thread runtimes with the time driver can start paused.

mod rt_common;

use std::io;
use std::time::Duration;

use ringtide::runtime::{Backend, Builder};
use ringtide::time::{self, Instant};

const HOUR: Duration = Duration::from_secs(3600);

/// Generous: a paused sleep of an hour takes microseconds, but the machine is shared.
const WALL_BOUND: Duration = Duration::from_secs(10);

/// Checks the runtime's clock runs with the system's: a paused one stands still.
fn assert_clock_runs() {
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(5));
    assert!(
        start.elapsed() >= Duration::from_millis(5),
        "the clock is paused"
    );
}

/// Sleeps an hour on the runtime's clock and checks it took no real time.
async fn sleep_an_hour() {
    let wall = std::time::Instant::now();
    let start = Instant::now();
    time::sleep(HOUR).await;
    assert!(start.elapsed() >= HOUR, "{:?}", start.elapsed());
    assert!(wall.elapsed() < WALL_BOUND, "{:?}", wall.elapsed());
}

#[ringtide::test(start_paused = true, backend = "both")]
async fn macro_start_paused_sleeps_an_hour_at_once() {
    sleep_an_hour().await;
}

#[ringtide::test(start_paused = true)]
async fn macro_start_paused_on_the_default_backend() {
    sleep_an_hour().await;
}

#[ringtide::main(flavor = "current_thread", start_paused = true)]
async fn paused_main() -> Duration {
    let start = Instant::now();
    time::sleep(HOUR).await;
    start.elapsed()
}

#[test]
fn main_macro_start_paused() {
    let wall = std::time::Instant::now();
    assert!(paused_main() >= HOUR);
    assert!(wall.elapsed() < WALL_BOUND, "{:?}", wall.elapsed());
}

#[ringtide::test(start_paused = true, backend = "both")]
async fn macro_start_paused_advance_works_from_the_start() {
    let start = Instant::now();
    let mut sleep = Box::pin(time::sleep(Duration::from_secs(5)));
    assert!(futures::poll!(sleep.as_mut()).is_pending());
    time::advance(Duration::from_secs(4)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(4), "time stands still");
    assert!(futures::poll!(sleep.as_mut()).is_pending());
    time::advance(Duration::from_secs(1)).await;
    assert!(futures::poll!(sleep.as_mut()).is_ready());
}

#[ringtide::test(start_paused = false, backend = "both")]
async fn macro_start_paused_false_runs_real_time() {
    assert_clock_runs();
    // Pausing is still the test's to do.
    let start = Instant::now();
    time::pause();
    time::advance(HOUR).await;
    assert!(start.elapsed() >= HOUR);
}

#[test]
fn builder_start_paused_on_current_thread() {
    for backend in [Backend::IoUring, Backend::Mio] {
        let rt = rt_common::backend_builder(backend, 0)
            .start_paused(true)
            .build()
            .expect("a paused current-thread runtime builds");
        assert_eq!(rt.backend(), backend);
        rt.block_on(async {
            sleep_an_hour().await;
            // Timers in spawned tasks fire in deadline order on the paused clock.
            let start = Instant::now();
            let late = ringtide::spawn(time::sleep(2 * HOUR));
            let early = ringtide::spawn(async move {
                time::sleep(HOUR).await;
                start.elapsed()
            });
            assert_eq!(early.await.unwrap(), HOUR);
            late.await.unwrap();
            assert_eq!(start.elapsed(), 2 * HOUR);
        });
    }
}

#[test]
fn builder_start_paused_false_is_the_default() {
    for backend in [Backend::IoUring, Backend::Mio] {
        let rt = rt_common::backend_builder(backend, 0)
            .start_paused(false)
            .build()
            .expect("runtime builds");
        rt.block_on(async { assert_clock_runs() });
    }
}

#[test]
fn builder_start_paused_on_multi_thread_is_an_error() {
    for backend in [Backend::IoUring, Backend::Mio] {
        let error = rt_common::backend_builder(backend, 2)
            .start_paused(true)
            .build()
            .map(drop)
            .expect_err("a multi-thread runtime cannot start paused");
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("current-thread"), "{error}");
    }
    // `false` is fine anywhere.
    let rt = rt_common::backend_builder(Backend::Mio, 2)
        .start_paused(false)
        .build()
        .expect("runtime builds");
    rt.block_on(async { time::sleep(Duration::from_millis(1)).await });
}

#[test]
fn builder_start_paused_without_the_time_driver_is_an_error() {
    let error = Builder::new_current_thread()
        .enable_io()
        .start_paused(true)
        .build()
        .map(drop)
        .expect_err("no clock to pause");
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("enable_time"), "{error}");
}
