//! `yield_now`: give the worker to other tasks once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields execution back to the scheduler.
///
/// The task is rescheduled at the back of its worker's queue (not in the LIFO slot),
/// so every task already queued runs before it resumes.
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Waking ourselves while running marks the wake-up as a yield for the scheduler.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
