//! Task names: what [`Builder::name`](crate::task::Builder::name) records, read back
//! inside the task with [`try_name`].
//!
//! A named task's future (or blocking closure) is wrapped in [`Named`], which makes
//! the name this thread's current one, tagged with the polling task's id, for the
//! duration of each poll (and restores the previous one afterwards). [`try_name`]
//! answers only when the tag is the id of the task being polled now, so a task that a
//! named task polls from inside its own poll (a `LocalSet`'s, for instance) is not
//! taken for the named one. Unnamed tasks carry no wrapper and cost nothing.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::task::current_id;
use crate::task::id::Id;

thread_local! {
    /// The name of the named task being polled on this thread, with its id.
    static CURRENT: RefCell<Option<(Id, Arc<str>)>> = const { RefCell::new(None) };
}

/// The name of the task being polled, as given to
/// [`Builder::name`](crate::task::Builder::name); `None` outside a task or in a task
/// spawned without a name.
///
/// ```
/// use ringtide::task;
///
/// # ringtide::runtime::Runtime::new().unwrap().block_on(async {
/// let handle = task::Builder::new()
///     .name("indexer")
///     .spawn(async { task::try_name() })
///     .unwrap();
/// assert_eq!(handle.await.unwrap().as_deref(), Some("indexer"));
/// assert_eq!(ringtide::spawn(async { task::try_name() }).await.unwrap(), None);
/// # });
/// ```
pub fn try_name() -> Option<Arc<str>> {
    let id = current_id::try_id()?;
    CURRENT
        .try_with(|current| match &*current.borrow() {
            Some((named, name)) if *named == id => Some(name.clone()),
            _ => None,
        })
        .ok()
        .flatten()
}

/// Runs `f` with `name` as the current task's name.
pub(crate) fn run_named<R>(name: &Arc<str>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<(Id, Arc<str>)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
        }
    }
    let tagged = current_id::try_id().map(|id| (id, name.clone()));
    let previous = CURRENT
        .try_with(|current| current.replace(tagged))
        .unwrap_or(None);
    let _restore = Restore(previous);
    f()
}

pin_project_lite::pin_project! {
    /// A task's future with its name (see the module documentation).
    pub(crate) struct Named<F> {
        name: Arc<str>,
        #[pin]
        future: F,
    }
}

impl<F> Named<F> {
    pub(crate) fn new(name: &str, future: F) -> Named<F> {
        Named {
            name: Arc::from(name),
            future,
        }
    }
}

impl<F: Future> Future for Named<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let future = this.future;
        run_named(this.name, || future.poll(cx))
    }
}
