//! How an io_uring op polled on a thread without a ring of its own (a blocking-pool
//! thread, a foreign thread, a core whose thread could not set one up) finds a ring:
//! [`current_runtime_ring`], the `RingRoute` every io_uring op future of this crate is
//! built with (see `driver::uring::remote::submit`). The driver calls it only on that
//! slow path; ops submitted on a thread with an attached ring never do.

use std::sync::Arc;

use crate::driver::{self, uring::remote::RingShared};
use crate::runtime::context;

/// A ring of a core of the runtime this thread is in (round robin, skipping cores whose
/// thread has no ring), or `None` outside a runtime with io_uring.
pub(crate) fn current_runtime_ring() -> Option<Arc<RingShared>> {
    context::with_io(|io| io.and_then(driver::Handle::pick_ring))
}
