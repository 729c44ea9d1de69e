//! `Handle`: a cloneable reference to a runtime, usable from any thread.

use std::fmt;
use std::future::Future;

use crate::runtime::{RuntimeMetrics, context, scheduler};
use crate::task::JoinHandle;

/// A cloneable reference to a runtime: spawns tasks on it from any thread, blocks on
/// it, or enters it so that `ringtide::spawn` works on the current thread.
///
/// A handle does not keep the runtime running: once the [`Runtime`](crate::runtime::Runtime)
/// is dropped, spawned tasks are cancelled at once.
#[derive(Clone)]
pub struct Handle {
    pub(crate) inner: scheduler::Handle,
}

/// Returned by [`Handle::try_current`] outside a runtime.
#[derive(Debug)]
pub struct TryCurrentError {
    _private: (),
}

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "there is no ringtide runtime on this thread: call this from a task, from \
             inside `Runtime::block_on`, or after `Handle::enter`",
        )
    }
}

impl std::error::Error for TryCurrentError {}

impl Handle {
    /// The handle of the runtime this thread is in (a task, `block_on`, a runtime
    /// thread, or after [`enter`](Self::enter)).
    ///
    /// # Panics
    ///
    /// Panics outside a runtime, with a message saying how to enter one; use
    /// [`try_current`](Self::try_current) to get an error instead.
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(handle) => handle,
            Err(error) => panic!("{error}"),
        }
    }

    /// The handle of the runtime this thread is in, or an error outside a runtime.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current_handle()
            .map(|inner| Handle { inner })
            .ok_or(TryCurrentError { _private: () })
    }

    /// The I/O backend this runtime uses: [`Backend::IoUring`](crate::runtime::Backend)
    /// or [`Backend::Mio`](crate::runtime::Backend), never `Auto`.
    pub fn backend(&self) -> crate::runtime::Backend {
        self.inner.driver().io().selected()
    }

    /// The runtime's id: unique among the runtimes of this process, the same for every
    /// handle of one runtime.
    ///
    /// ```
    /// let a = ringtide::runtime::Builder::new_current_thread().build().unwrap();
    /// let b = ringtide::runtime::Builder::new_current_thread().build().unwrap();
    /// assert_eq!(a.handle().id(), a.handle().clone().id());
    /// assert_ne!(a.handle().id(), b.handle().id());
    /// ```
    pub fn id(&self) -> crate::runtime::Id {
        self.inner.common().id
    }

    /// The runtime's name, as given to [`Builder::name`](crate::runtime::Builder::name);
    /// `None` for an unnamed runtime.
    pub fn name(&self) -> Option<&str> {
        self.inner.common().name.as_deref()
    }

    /// Spawns a future on the runtime. See [`crate::spawn`].
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.spawn(future)
    }

    /// Runs a blocking closure on the runtime's blocking pool. See
    /// [`task::spawn_blocking`](crate::task::spawn_blocking).
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, func: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        crate::task::blocking::spawn_blocking_on(&self.inner, func)
    }

    /// Blocks the current thread until `future` completes, with this runtime entered.
    ///
    /// On a current-thread runtime the calling thread also runs the runtime's tasks
    /// (if no other thread is doing so).
    ///
    /// # Panics
    ///
    /// Panics when called from a thread that is driving a runtime (inside a task or
    /// another `block_on`): blocking there would stall the tasks that thread runs.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.inner.block_on(future)
    }

    /// Makes this runtime the current one for this thread until the guard is dropped,
    /// so `ringtide::spawn` and `Handle::current` work outside of tasks.
    ///
    /// # Panics
    ///
    /// Dropping guards in another order than the reverse of their creation panics, as
    /// in tokio (the runtime that would be restored is not the one that was current).
    /// The guard is `!Send`: it restores the thread it was created on.
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _guard: context::set_current(&self.inner),
            _handle: std::marker::PhantomData,
        }
    }

    /// The runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(self.inner.clone())
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flavor = match &self.inner {
            scheduler::Handle::CurrentThread(_) => "current_thread",
            scheduler::Handle::MultiThread(_) => "multi_thread",
        };
        f.debug_struct("Handle")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("flavor", &flavor)
            .finish()
    }
}

/// Keeps a runtime entered on this thread; see [`Handle::enter`]. Not `Send`, and
/// guards must be dropped in the reverse order of their creation.
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let runtime = ringtide::runtime::Builder::new_current_thread().build().unwrap();
/// assert_send(runtime.enter());
/// ```
#[derive(Debug)]
#[must_use = "the runtime is only entered while the guard is alive"]
pub struct EnterGuard<'a> {
    _guard: context::SetCurrentGuard,
    _handle: std::marker::PhantomData<&'a Handle>,
}
