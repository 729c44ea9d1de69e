//! The user-facing clock controls: [`pause`], [`advance`], [`resume`], and the
//! runtime's adjusted time for [`Instant::now`](crate::time::Instant::now).
//!
//! They act on the clock of the runtime this thread is in (see `time::clock` for how a
//! paused clock behaves): [`Instant::now`](crate::time::Instant::now) reads the paused
//! clock on threads of that runtime.
//!
//! Only current-thread runtimes can be paused: on a multi-thread runtime, other
//! workers would observe time jumping under them.

use std::time::Duration;

use crate::time::clock::Clock;

/// The time of the runtime this thread is in, if its clock differs from the system's.
pub(crate) fn adjusted_now() -> Option<std::time::Instant> {
    crate::runtime::context::with_handle(|handle| {
        let time = handle?.driver().time()?;
        time.clock().is_adjusted().then(|| time.clock().now())
    })
}

#[track_caller]
fn with_clock<R>(what: &str, f: impl FnOnce(&Clock) -> R) -> R {
    crate::runtime::context::with_handle(|handle| {
        let Some(handle) = handle else {
            panic!("time::{what} must be called inside a ringtide runtime");
        };
        if !matches!(handle, crate::runtime::scheduler::Handle::CurrentThread(_)) {
            panic!(
                "time::{what} only works on a current-thread runtime (`flavor = \
                 \"current_thread\"`, the default of `#[ringtide::test]`)"
            );
        }
        let Some(time) = handle.driver().time() else {
            panic!("time::{what} needs the time driver: build the runtime with `enable_time()`");
        };
        f(time.clock())
    })
}

/// Pauses the clock of the current (current-thread) runtime: time stands still except
/// for [`advance`] and for auto-advance to the next timer when the runtime is idle.
///
/// # Panics
///
/// Panics outside a current-thread runtime with the time driver enabled.
#[track_caller]
pub fn pause() {
    with_clock("pause", Clock::pause);
}

/// Resumes a paused clock: time runs again from where it stood.
///
/// # Panics
///
/// As [`pause`].
#[track_caller]
pub fn resume() {
    with_clock("resume", Clock::resume);
}

/// Moves a paused clock forward by `duration` and lets the timers that became due
/// fire before returning.
///
/// # Panics
///
/// As [`pause`]; also if the clock is not paused.
#[track_caller]
pub fn advance(duration: Duration) -> impl std::future::Future<Output = ()> {
    with_clock("advance", |clock| {
        assert!(
            clock.is_paused(),
            "time::advance needs a paused clock: call time::pause() first"
        );
        clock.advance(duration);
    });
    async {
        if let Some(time) = crate::runtime::context::with_handle(|handle| {
            handle.and_then(|handle| handle.driver().time().cloned())
        }) {
            time.process_all();
        }
        crate::task::yield_now().await;
    }
}
