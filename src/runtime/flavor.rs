//! `RuntimeFlavor`: which scheduler a runtime runs (tokio's `runtime::RuntimeFlavor`).

/// The scheduler a runtime runs, as reported by
/// [`Handle::runtime_flavor`](crate::runtime::Handle::runtime_flavor).
///
/// Marked `#[non_exhaustive]` as tokio's is: match it with a wildcard arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuntimeFlavor {
    /// [`Builder::new_current_thread`](crate::runtime::Builder::new_current_thread): every
    /// task runs on the thread inside `block_on`.
    CurrentThread,
    /// [`Builder::new_multi_thread`](crate::runtime::Builder::new_multi_thread): work-stealing
    /// worker threads.
    MultiThread,
}
