//! [`Budgeted`] and [`poll_budgeted`]: ringtide's cooperative budget
//! (`crate::task::coop`) applied to tokio's synchronisation futures and poll methods.
//!
//! tokio's types spend tokio's budget, which exists only inside a tokio runtime; under
//! ringtide they would never make a task yield. Every waiting operation of
//! `ringtide::sync` goes through here instead:
//!
//! ```text
//! poll ──► budget spent? ── yes ──► wake the task, Pending (the inner future is not
//!             │ no                   polled: nothing is taken, nothing is lost)
//!             ▼
//!          poll the inner future ── Pending ──► Pending (no unit spent)
//!             │ Ready
//!             ▼
//!          spend one unit, Ready
//! ```
//!
//! Only a completed poll spends a unit, as in tokio (which gives the unit back when the
//! poll was `Pending`). The spent-budget case returns before the inner future is
//! polled, so a value that was ready stays in the channel (or the permit with the
//! waiter that was granted it) for the next poll.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::task::coop;

/// Polls through `poll` under the current task's budget; see the module documentation.
pub(crate) fn poll_budgeted<T>(
    cx: &mut Context<'_>,
    poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    if !coop::has_budget_remaining() {
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    let output = ready!(poll(cx));
    // At least one unit was left above, so this spends it and is `Ready`.
    let _spent = coop::poll_proceed(cx);
    Poll::Ready(output)
}

pin_project_lite::pin_project! {
    /// A future that completes as `future` does, under the current task's budget.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub(crate) struct Budgeted<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Budgeted<F> {
    pub(crate) fn new(future: F) -> Budgeted<F> {
        Budgeted { future }
    }
}

impl<F: Future> Future for Budgeted<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let future = self.project().future;
        poll_budgeted(cx, |cx| future.poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    #[test]
    fn a_ready_poll_spends_one_unit_and_a_spent_budget_is_pending() {
        let mut cx = Context::from_waker(Waker::noop());
        coop::budget(|| {
            let mut polls = 0;
            while poll_budgeted(&mut cx, |_| Poll::Ready(())).is_ready() {
                polls += 1;
            }
            assert_eq!(polls, coop::BUDGET as usize);
            // Spent: the inner poll does not even run.
            let polled = std::cell::Cell::new(false);
            let result = poll_budgeted(&mut cx, |_| {
                polled.set(true);
                Poll::Ready(())
            });
            assert!(result.is_pending());
            assert!(!polled.get());
        });
    }

    #[test]
    fn a_pending_poll_spends_nothing() {
        let mut cx = Context::from_waker(Waker::noop());
        coop::budget(|| {
            for _ in 0..1000 {
                assert!(poll_budgeted(&mut cx, |_| Poll::<()>::Pending).is_pending());
            }
            assert!(coop::has_budget_remaining());
        });
    }

    #[test]
    fn outside_a_task_the_budget_is_unlimited() {
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..1000 {
            assert!(poll_budgeted(&mut cx, |_| Poll::Ready(())).is_ready());
        }
    }
}
