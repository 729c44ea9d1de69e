//! [`Builder`]: spawning with options (a name), as tokio's unstable `task::Builder`.

use std::future::Future;
use std::io;
use std::sync::Arc;

use crate::runtime::Handle;
use crate::task::blocking::try_spawn_blocking_on;
use crate::task::join::JoinHandle;
use crate::task::local::LocalSet;
use crate::task::name::{Named, run_named};

/// Spawns a task with options: for now its name, which the task reads back with
/// [`task::try_name`](crate::task::try_name) (for logs and diagnostics).
///
/// The same API as tokio's `task::Builder` (unstable there): each `spawn*` method
/// returns `io::Result<JoinHandle<_>>`. Only the blocking variants can fail: when not a
/// single thread can be started to run the closure (where
/// [`spawn_blocking`](crate::task::spawn_blocking) panics).
///
/// ```
/// use ringtide::task;
///
/// # ringtide::runtime::Runtime::new().unwrap().block_on(async {
/// let handle = task::Builder::new()
///     .name("worker-7")
///     .spawn(async { task::try_name().unwrap().len() })?;
/// assert_eq!(handle.await.unwrap(), 8);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct Builder<'a> {
    name: Option<&'a str>,
}

impl<'a> Builder<'a> {
    /// A builder with no options set.
    pub fn new() -> Builder<'a> {
        Builder::default()
    }

    /// Names the task.
    pub fn name(&self, name: &'a str) -> Builder<'a> {
        Builder { name: Some(name) }
    }

    /// Spawns `future` on the current runtime, as [`crate::spawn`].
    ///
    /// # Panics
    ///
    /// Panics when called outside a runtime.
    #[track_caller]
    pub fn spawn<Fut>(self, future: Fut) -> io::Result<JoinHandle<Fut::Output>>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        Ok(match self.name {
            Some(name) => crate::spawn(Named::new(name, future)),
            None => crate::spawn(future),
        })
    }

    /// Spawns `future` on the runtime behind `handle`, as [`Handle::spawn`].
    pub fn spawn_on<Fut>(self, future: Fut, handle: &Handle) -> io::Result<JoinHandle<Fut::Output>>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        Ok(match self.name {
            Some(name) => handle.spawn(Named::new(name, future)),
            None => handle.spawn(future),
        })
    }

    /// Spawns a `!Send` future on the [`LocalSet`] running on this thread, as
    /// [`task::spawn_local`](crate::task::spawn_local).
    ///
    /// # Panics
    ///
    /// Panics when no `LocalSet` is running on (or entered on) this thread.
    #[track_caller]
    pub fn spawn_local<Fut>(self, future: Fut) -> io::Result<JoinHandle<Fut::Output>>
    where
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        Ok(match self.name {
            Some(name) => crate::task::spawn_local(Named::new(name, future)),
            None => crate::task::spawn_local(future),
        })
    }

    /// Spawns a `!Send` future on `local_set`, as [`LocalSet::spawn_local`].
    pub fn spawn_local_on<Fut>(
        self,
        future: Fut,
        local_set: &LocalSet,
    ) -> io::Result<JoinHandle<Fut::Output>>
    where
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        Ok(match self.name {
            Some(name) => local_set.spawn_local(Named::new(name, future)),
            None => local_set.spawn_local(future),
        })
    }

    /// Runs a blocking closure on the current runtime's blocking pool, as
    /// [`task::spawn_blocking`](crate::task::spawn_blocking).
    ///
    /// # Errors
    ///
    /// When not a single thread can be started to run the closure.
    ///
    /// # Panics
    ///
    /// Panics when called outside a runtime.
    #[track_caller]
    pub fn spawn_blocking<Function, Output>(
        self,
        function: Function,
    ) -> io::Result<JoinHandle<Output>>
    where
        Function: FnOnce() -> Output + Send + 'static,
        Output: Send + 'static,
    {
        self.spawn_blocking_on(function, &Handle::current())
    }

    /// Runs a blocking closure on the blocking pool of the runtime behind `handle`, as
    /// [`Handle::spawn_blocking`].
    ///
    /// # Errors
    ///
    /// When not a single thread can be started to run the closure.
    pub fn spawn_blocking_on<Function, Output>(
        self,
        function: Function,
        handle: &Handle,
    ) -> io::Result<JoinHandle<Output>>
    where
        Function: FnOnce() -> Output + Send + 'static,
        Output: Send + 'static,
    {
        match self.name {
            Some(name) => {
                let name: Arc<str> = Arc::from(name);
                try_spawn_blocking_on(&handle.inner, move || run_named(&name, function))
            }
            None => try_spawn_blocking_on(&handle.inner, function),
        }
    }
}
