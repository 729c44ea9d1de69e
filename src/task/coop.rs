//! Cooperative scheduling budget.
//!
//! A task gets [`BUDGET`] units each time the scheduler polls it. Every poll of a
//! runtime resource (a `JoinHandle`, later an I/O operation or a timer) that could make
//! progress spends one unit through [`poll_proceed`]; once the budget is spent those
//! resources return `Pending` and wake the task as `yield_now` does (after the thread's
//! next driver poll), so it is rescheduled behind the other tasks and the I/O poll
//! instead of monopolising its worker. Code outside
//! a scheduled task (and [`unconstrained`] futures) has an unlimited budget.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls of runtime resources a task may make per scheduling (tokio uses the same).
pub(crate) const BUDGET: u8 = 128;

thread_local! {
    static CURRENT: Cell<Budget> = const { Cell::new(Budget::UNCONSTRAINED) };
}

#[derive(Clone, Copy, Debug)]
struct Budget(Option<u8>);

impl Budget {
    const UNCONSTRAINED: Budget = Budget(None);
}

/// Runs `f` with a fresh budget, restoring the previous one afterwards.
pub(crate) fn budget<R>(f: impl FnOnce() -> R) -> R {
    with_budget(Budget(Some(BUDGET)), f)
}

fn with_budget<R>(budget: Budget, f: impl FnOnce() -> R) -> R {
    struct Reset(Budget);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = CURRENT.try_with(|cell| cell.set(self.0));
        }
    }
    let previous = CURRENT.with(|cell| cell.replace(budget));
    let _reset = Reset(previous);
    f()
}

/// Returns true while the current task still has budget left.
pub(crate) fn has_budget_remaining() -> bool {
    CURRENT
        .try_with(|cell| cell.get().0 != Some(0))
        .unwrap_or(true)
}

/// Spends one unit of the current task's budget, or returns `Pending` (after waking
/// the task) when it is exhausted. Resources call this before doing work.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    let spent = CURRENT
        .try_with(|cell| {
            let Budget(remaining) = cell.get();
            match remaining {
                None => true,
                Some(0) => false,
                Some(n) => {
                    cell.set(Budget(Some(n - 1)));
                    true
                }
            }
        })
        .unwrap_or(true);
    if spent {
        Poll::Ready(())
    } else {
        // Like a yield: back after the driver's next poll (see `runtime::defer`).
        crate::runtime::defer::defer(cx.waker());
        Poll::Pending
    }
}

/// Spends one unit of budget, yielding to the scheduler if it is exhausted.
///
/// Call this in a loop that does a lot of work without touching runtime resources, so
/// the loop still yields to other tasks every so often.
pub async fn consume_budget() {
    std::future::poll_fn(poll_proceed).await
}

/// Runs a future with the cooperative budget disabled: the resources it polls never
/// force it to yield.
///
/// This is an escape hatch for futures that must not be interrupted; a future that
/// never yields can starve the other tasks on its worker.
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

pin_project_lite::pin_project! {
    /// Future returned by [`unconstrained`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Unconstrained<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let future = self.project().future;
        with_budget(Budget::UNCONSTRAINED, || future.poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn budget_is_spent_then_pending() {
        let mut cx = Context::from_waker(Waker::noop());
        budget(|| {
            for _ in 0..BUDGET {
                assert!(poll_proceed(&mut cx).is_ready());
            }
            assert!(poll_proceed(&mut cx).is_pending());
            assert!(!has_budget_remaining());
        });
        // Outside a task: unlimited.
        for _ in 0..1000 {
            assert!(poll_proceed(&mut cx).is_ready());
        }
    }
}
