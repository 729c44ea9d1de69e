//! `yield_now`: give the worker to other tasks, and to its I/O driver, once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields execution back to the scheduler.
///
/// As in tokio, the task runs again only after its thread has polled its I/O driver
/// and timers, and after every task already queued there: a task that yields in a loop
/// waiting for I/O (an accept, a read, a timer) lets that I/O complete, on either
/// flavour, even with a single worker. (Where no scheduler core runs on this thread,
/// in a multi-thread runtime's `block_on` or outside a runtime, the task is simply
/// woken again at once.)
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Duration;
///
/// let runtime = ringtide::runtime::Builder::new_current_thread()
///     .enable_all()
///     .build()
///     .unwrap();
/// runtime.block_on(async {
///     let fired = Arc::new(AtomicBool::new(false));
///     let flag = fired.clone();
///     ringtide::spawn(async move {
///         ringtide::time::sleep(Duration::from_millis(1)).await;
///         flag.store(true, Ordering::SeqCst);
///     });
///     // Busy-waiting with `yield_now` lets the timer fire.
///     while !fired.load(Ordering::SeqCst) {
///         ringtide::task::yield_now().await;
///     }
/// });
/// ```
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
        crate::runtime::defer::defer(cx.waker());
        Poll::Pending
    }
}
