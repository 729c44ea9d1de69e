//! A runtime's drivers together: the I/O side ([`crate::driver::Handle`]: the backend
//! and every core's driver handle) and the timer ([`TimeHandle`]), and the park step
//! that composes them.
//!
//! A core's park step composes: next deadline from time → driver.park(timeout) → fire
//! due timers. Neither half knows the other: the I/O driver parks for whatever timeout
//! it is given, and the timer wakes cores through wakers built from their drivers'
//! unpark handles (so a timer registered earlier than the keeper's deadline, or while
//! nobody keeps, unparks the right core; see `time::driver`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::driver::{self, Backend, CoreDriver, Driver, RingConfig};
use crate::time::driver::TimeHandle;

/// The I/O handle and the timer of one runtime.
#[derive(Debug)]
pub(crate) struct Handle {
    io: driver::Handle,
    /// The timer, when the time driver is enabled.
    time: Option<Arc<TimeHandle>>,
}

impl Handle {
    /// Creates `count` core drivers for `selected` (condvar parkers when I/O is
    /// disabled), the runtime-wide I/O handle over them and, with `enable_time`, the
    /// timer (`timer_shards` wheels, see `Builder::timer_shards`) that wakes them.
    pub(crate) fn create(
        selected: Backend,
        enable_io: bool,
        enable_time: bool,
        count: usize,
        config: RingConfig,
        timer_shards: Option<usize>,
    ) -> io::Result<(Handle, Vec<CoreDriver>)> {
        let (io, drivers) = driver::Handle::create(selected, enable_io, count, config)?;
        let time = enable_time.then(|| {
            let cores = drivers
                .iter()
                .map(|driver| driver.unpark_handle().into_waker())
                .collect();
            Arc::new(TimeHandle::new(cores, timer_shards))
        });
        Ok((Handle { io, time }, drivers))
    }

    /// The I/O side: backend, cores' driver handles, counters.
    pub(crate) fn io(&self) -> &driver::Handle {
        &self.io
    }

    /// The runtime's timer, when enabled.
    pub(crate) fn time(&self) -> Option<&Arc<TimeHandle>> {
        self.time.as_ref()
    }

    /// Parks core `index` on `driver`, bounded by the timer (one core at a time sleeps
    /// with the timer's timeout, see `time::driver`), then fires due timers (its own
    /// shard's, and others' as `time::driver` says).
    /// `no_wait` only polls. A park that may wait is a `trace` event before and after
    /// (see `crate::trace`).
    pub(crate) fn park_core(&self, index: usize, driver: &mut CoreDriver, no_wait: bool) {
        let Some(time) = &self.time else {
            if no_wait {
                Driver::park(driver, Some(Duration::ZERO));
            } else {
                crate::trace::core_parks(index, None);
                Driver::park(driver, None);
                crate::trace::core_unparked(index);
            }
            return;
        };
        if no_wait {
            Driver::park(driver, Some(Duration::ZERO));
            time.process(index);
            return;
        }
        if time.clock().is_paused() && time.auto_advance() {
            // A paused clock: poll I/O once, then let time jump to the next timer.
            Driver::park(driver, Some(Duration::ZERO));
            time.process_all();
            return;
        }
        let timeout = time.before_park(index);
        crate::trace::core_parks(index, timeout);
        Driver::park(driver, timeout);
        crate::trace::core_unparked(index);
        time.after_park(index);
    }

    /// Polls `future` on this thread until it completes (a multi-thread runtime's
    /// `block_on`), see [`block_on_with_io`](crate::runtime::blocking_on::block_on_with_io).
    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        crate::runtime::blocking_on::block_on_with_io(&self.io, future)
    }
}
