//! tokio parity, timers: `sleep`, `sleep_until`, `timeout`, `timeout_at`, `interval`
//! and `interval_at` panic where they are *created* outside a runtime (or in one
//! without the time driver), as tokio's do, with a message saying what to do; a timer
//! created under `Handle::enter` belongs to that runtime. Runtime tests run on both
//! backends, current-thread and multi-thread (1 and 4 workers).

#[macro_use]
mod rt_common;
#[macro_use]
mod parity_common;

use std::time::Duration;

use ringtide::runtime::Builder;
use ringtide::time::{self, Instant};
use rt_common::{backend_runtime, expect_panic};

const OUTSIDE: &str = "ringtide timers must be used inside a ringtide runtime";
const WITHOUT_TIME: &str = "ringtide timers need the time driver";

/// Creates (does not poll) one kind of timer.
type CreateTimer = Box<dyn Fn()>;

/// Each way to create a timer, by name.
fn create_each_timer() -> [(&'static str, CreateTimer); 6] {
    let ms = Duration::from_millis(1);
    [
        ("sleep", Box::new(move || drop(time::sleep(ms)))),
        (
            "sleep_until",
            Box::new(move || drop(time::sleep_until(Instant::now() + ms))),
        ),
        (
            "timeout",
            Box::new(move || drop(time::timeout(ms, async {}))),
        ),
        (
            "timeout_at",
            Box::new(move || drop(time::timeout_at(Instant::now(), async {}))),
        ),
        ("interval", Box::new(move || drop(time::interval(ms)))),
        (
            "interval_at",
            Box::new(move || drop(time::interval_at(Instant::now(), ms))),
        ),
    ]
}

#[test]
fn timers_created_outside_a_runtime_panic_at_creation() {
    for (what, create) in create_each_timer() {
        let message = expect_panic(create);
        assert!(message.contains(OUTSIDE), "{what}: {message}");
        assert!(message.contains("Handle::enter"), "{what}: {message}");
    }
}

#[test]
fn timers_created_in_a_runtime_without_the_time_driver_panic_at_creation() {
    let rt = Builder::new_current_thread().enable_io().build().unwrap();
    let _entered = rt.enter();
    for (what, create) in create_each_timer() {
        let message = expect_panic(create);
        assert!(message.contains(WITHOUT_TIME), "{what}: {message}");
        assert!(message.contains("enable_time()"), "{what}: {message}");
    }
}

/// `runtime.block_on(sleep(..))` evaluates `sleep` before `block_on` enters the
/// runtime: it panics, on tokio as here.
#[test]
fn block_on_of_a_timer_created_outside_panics_as_in_tokio() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let message = expect_panic(|| rt.block_on(time::sleep(Duration::from_millis(1))));
    assert!(message.contains(OUTSIDE), "{message}");

    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let message = expect_panic(|| tokio.block_on(tokio::time::sleep(Duration::from_millis(1))));
    assert!(message.contains("there is no reactor running"), "{message}");
}

each_runtime! {
    /// Under `Handle::enter` a timer can be created outside a task; it belongs to that
    /// runtime, and fires when the runtime drives it.
    fn timers_created_under_an_enter_guard_belong_to_that_runtime(backend, workers) {
        let rt = backend_runtime(backend, workers);
        let start = Instant::now();
        let (sleep, timeout) = {
            let _entered = rt.enter();
            (
                time::sleep(Duration::from_millis(5)),
                time::timeout(Duration::from_millis(5), std::future::pending::<()>()),
            )
        };
        rt.block_on(sleep);
        assert!(rt.block_on(timeout).is_err(), "the timeout elapsed");
        assert!(start.elapsed() >= Duration::from_millis(5));
    }
}
