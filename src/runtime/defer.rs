//! Deferred wake-ups: how [`task::yield_now`](crate::task::yield_now) (and a spent
//! cooperative budget) make a task wait until its scheduler thread has polled its
//! driver, as in tokio ("yield defers until park").
//!
//! A task that yields by waking itself goes straight back into its run queue, so a task
//! that yields in a loop keeps the queue busy and its thread polls I/O and timers only
//! every `event_interval` ticks. Instead, [`defer`] keeps the waker in a per-thread list;
//! the task is then in no run queue, and the thread's next park step (never a blocking
//! one while the list is not empty, see [`has_deferred`]) polls the driver and then
//! wakes the list ([`wake_deferred`]). I/O completions and due timers thus always get
//! their turn before a yielding task runs again.
//!
//! # Where deferral is on
//!
//! Only on a thread running a scheduler core, for as long as it does ([`enable`]): a
//! multi-thread worker, the thread driving a current-thread runtime. Elsewhere (the
//! `block_on` thread of a multi-thread runtime, blocking threads, the closure of
//! `block_in_place` ([`suspend`]), outside runtimes) [`defer`] wakes at once, since no
//! park step of this thread would come to wake the list. Leaving a core ([`enable`]'s
//! guard dropped, [`suspend`]) wakes what is deferred, so no wake-up is lost.

use std::cell::{Cell, RefCell};
use std::task::Waker;

thread_local! {
    /// `Some` while deferral is on: the wakers waiting for this thread's next park step.
    static DEFERRED: RefCell<Option<Vec<Waker>>> = const { RefCell::new(None) };
    /// True while [`wake_deferred`] wakes the list.
    static WAKING: Cell<bool> = const { Cell::new(false) };
}

/// Wakes `waker` after this thread's next driver poll when it runs a scheduler core,
/// else at once.
pub(crate) fn defer(waker: &Waker) {
    let deferred = DEFERRED
        .try_with(|deferred| {
            let Ok(mut deferred) = deferred.try_borrow_mut() else {
                return false;
            };
            let Some(list) = deferred.as_mut() else {
                return false;
            };
            // A task that yields twice in a row (a `select!` of two yields) is woken
            // once.
            if !list.last().is_some_and(|last| last.will_wake(waker)) {
                list.push(waker.clone());
            }
            true
        })
        .unwrap_or(false);
    if !deferred {
        waker.wake_by_ref();
    }
}

/// Whether wake-ups wait for this thread's next park step (which must then not block).
pub(crate) fn has_deferred() -> bool {
    DEFERRED
        .try_with(|deferred| {
            deferred
                .try_borrow()
                .is_ok_and(|deferred| deferred.as_ref().is_some_and(|list| !list.is_empty()))
        })
        .unwrap_or(false)
}

/// Wakes every deferred waker (a park step just polled the driver).
pub(crate) fn wake_deferred() {
    // Only a non-empty list is taken, so the common case (nothing yielded) touches no
    // allocation.
    let list = DEFERRED
        .try_with(|deferred| {
            let mut deferred = deferred.try_borrow_mut().ok()?;
            let list = deferred.as_mut().filter(|list| !list.is_empty())?;
            Some(std::mem::take(list))
        })
        .ok()
        .flatten();
    let Some(mut list) = list else {
        return;
    };
    {
        struct Reset(bool);
        impl Drop for Reset {
            fn drop(&mut self) {
                WAKING.set(self.0);
            }
        }
        let _reset = Reset(WAKING.replace(true));
        // Woken with no borrow held: a wake-up may schedule, and so defer again.
        for waker in list.drain(..) {
            waker.wake();
        }
    }
    // Give the allocation back for the next yields, unless new ones started another.
    let _ = DEFERRED.try_with(|deferred| {
        if let Ok(mut deferred) = deferred.try_borrow_mut() {
            if let Some(current) = deferred.as_mut().filter(|current| current.is_empty()) {
                *current = list;
            }
        }
    });
}

/// Whether the wake-up being scheduled is a deferred one: the scheduler then queues the
/// task behind the others, as a yield (not in a worker's LIFO slot).
pub(crate) fn is_waking_deferred() -> bool {
    WAKING.get()
}

/// Restores the previous deferral state on drop, waking what is deferred meanwhile.
#[derive(Debug)]
pub(crate) struct DeferGuard {
    previous: Option<Vec<Waker>>,
}

impl Drop for DeferGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let current = DEFERRED
            .try_with(|deferred| deferred.replace(previous))
            .ok()
            .flatten();
        for waker in current.into_iter().flatten() {
            waker.wake();
        }
    }
}

/// Turns deferral on for this thread (it starts running a scheduler core) until the
/// guard drops.
pub(crate) fn enable() -> DeferGuard {
    replace(Some(Vec::new()))
}

/// Turns deferral off for this thread until the guard drops (`block_in_place`: the
/// thread leaves its core to block), waking what is deferred first.
pub(crate) fn suspend() -> DeferGuard {
    wake_deferred();
    replace(None)
}

fn replace(state: Option<Vec<Waker>>) -> DeferGuard {
    let previous = DEFERRED
        .try_with(|deferred| deferred.replace(state))
        .ok()
        .flatten();
    DeferGuard { previous }
}
