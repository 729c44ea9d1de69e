//! Task-local storage: the [`task_local!`](crate::task_local) macro, [`LocalKey`] and
//! the [`TaskLocalFuture`] that [`LocalKey::scope`] returns (tokio's API and
//! semantics).
//!
//! A key is a `thread_local!` slot of type `RefCell<Option<T>>`, `None` outside every
//! scope. A scope owns its value and lends it to the slot only while its code runs:
//!
//! ```text
//! TaskLocalFuture::poll:  swap(own value, slot)   the slot holds the value; the
//!                         poll the inner future    previous one (an outer scope's,
//!                         swap back (also on a     or None) waits in the future
//!                         panic: a drop guard)
//! ```
//!
//! so the value follows the future's polls from thread to thread, and between two
//! polls the thread's slot holds whatever it held before (another task's value, or
//! nothing). Nested scopes of the same key shadow the outer value and restore it
//! when they end. `sync_scope` does the same swap around one closure. A
//! `TaskLocalFuture` dropped before completing drops its future with the value in the
//! slot, so the future's destructors can still read it.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::LocalKey as ThreadLocalKey;

/// Declares task-local keys: `static`s of type [`LocalKey<T>`](crate::task::LocalKey).
///
/// ```
/// ringtide::task_local! {
///     /// The id of the request this task serves.
///     pub static REQUEST_ID: u64;
///     static USER: String;
/// }
///
/// # ringtide::runtime::Runtime::new().unwrap().block_on(async {
/// REQUEST_ID
///     .scope(7, async {
///         ringtide::task::yield_now().await;
///         assert_eq!(REQUEST_ID.get(), 7);
///     })
///     .await;
/// assert!(REQUEST_ID.try_get().is_err());
/// # });
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};

    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::__task_local_key!($(#[$attr])* $vis $name, $t);
        $crate::task_local!($($rest)*);
    };

    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::__task_local_key!($(#[$attr])* $vis $name, $t);
    };
}

/// One key of [`task_local!`]. Not API.
#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_key {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> = {
            ::std::thread_local! {
                static __RINGTIDE_TASK_LOCAL: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::task::LocalKey::__new(&__RINGTIDE_TASK_LOCAL)
        };
    };
}

/// A key to task-local storage, declared with [`task_local!`](crate::task_local).
///
/// A value is set for the duration of a future with [`scope`](LocalKey::scope) (or of
/// a closure with [`sync_scope`](LocalKey::sync_scope)) and read inside it with
/// [`with`](LocalKey::with), [`try_with`](LocalKey::try_with) or, for `Clone` values,
/// [`get`](LocalKey::get). Unlike a thread-local, the value travels with the future,
/// whichever worker polls it; a task spawned inside the scope does not inherit it.
pub struct LocalKey<T: 'static> {
    slot: &'static ThreadLocalKey<RefCell<Option<T>>>,
}

impl<T: 'static> LocalKey<T> {
    /// Used by [`task_local!`]. Not API.
    #[doc(hidden)]
    pub const fn __new(slot: &'static ThreadLocalKey<RefCell<Option<T>>>) -> LocalKey<T> {
        LocalKey { slot }
    }

    /// Runs `future` with `value` set for this key during each of its polls, and
    /// returns the future's output. The value is dropped with the returned future
    /// (or taken back with [`TaskLocalFuture::take_value`]).
    ///
    /// A scope inside another scope of the same key shadows the outer value until the
    /// inner future completes.
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            value: Some(value),
            future: Some(future),
            _pinned: PhantomPinned,
        }
    }

    /// Runs `f` with `value` set for this key, and returns its result.
    ///
    /// # Panics
    ///
    /// Panics when called inside [`with`](Self::with) of the same key (the value is
    /// borrowed), or while the thread is being torn down.
    #[track_caller]
    pub fn sync_scope<F, R>(&'static self, value: T, f: F) -> R
    where
        F: FnOnce() -> R,
    {
        let mut value = Some(value);
        match self.lend(&mut value, f) {
            Ok(output) => output,
            Err(error) => error.panic(),
        }
    }

    /// Calls `f` with a reference to the value set for this key.
    ///
    /// # Panics
    ///
    /// Panics outside every scope of this key; [`try_with`](Self::try_with) returns an
    /// error instead.
    #[track_caller]
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        match self.try_with(f) {
            Ok(output) => output,
            Err(_) => panic!("cannot access a task-local storage value without setting it first"),
        }
    }

    /// Calls `f` with a reference to the value set for this key, or returns an
    /// [`AccessError`] outside every scope of it.
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        let found = self.slot.try_with(|slot| slot.borrow().as_ref().map(f));
        match found {
            Ok(Some(output)) => Ok(output),
            Ok(None) | Err(_) => Err(AccessError { _private: () }),
        }
    }

    /// Swaps `value` into the slot, runs `f`, and swaps it back out (even if `f`
    /// panics): afterwards `value` and the slot hold what they held before.
    fn lend<F, R>(&'static self, value: &mut Option<T>, f: F) -> Result<R, ScopeError>
    where
        F: FnOnce() -> R,
    {
        struct Restore<'a, T: 'static> {
            key: &'static LocalKey<T>,
            value: &'a mut Option<T>,
        }

        impl<T: 'static> Drop for Restore<'_, T> {
            fn drop(&mut self) {
                // The slot was reachable and not borrowed when the value went in, and
                // every borrow made by `f` has ended.
                self.key
                    .slot
                    .with(|slot| mem::swap(self.value, &mut *slot.borrow_mut()));
            }
        }

        self.slot
            .try_with(|slot| {
                slot.try_borrow_mut()
                    .map(|mut slot| mem::swap(value, &mut *slot))
            })
            .map_err(|_| ScopeError::Destroyed)?
            .map_err(|_| ScopeError::Borrowed)?;
        let _restore = Restore { key: self, value };
        Ok(f())
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// A clone of the value set for this key.
    ///
    /// # Panics
    ///
    /// Panics outside every scope of this key; [`try_get`](Self::try_get) returns an
    /// error instead.
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }

    /// A clone of the value set for this key, or an [`AccessError`] outside every scope
    /// of it.
    pub fn try_get(&'static self) -> Result<T, AccessError> {
        self.try_with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("LocalKey { .. }")
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`LocalKey::scope`]: the inner future, polled with the
    /// key's value set.
    pub struct TaskLocalFuture<T, F>
    where
        T: 'static,
    {
        key: &'static LocalKey<T>,
        // `None` while lent to the slot (during a poll), or after `take_value`.
        value: Option<T>,
        // `None` once completed.
        #[pin]
        future: Option<F>,
        // The inner future may be `!Unpin`; keep this type `!Unpin` whatever `F` is,
        // as tokio's is.
        #[pin]
        _pinned: PhantomPinned,
    }

    impl<T, F> PinnedDrop for TaskLocalFuture<T, F>
    where
        T: 'static,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let mut future = this.future;
            if mem::needs_drop::<F>() && future.is_some() {
                // Dropped with the value set, so its destructors can read it. If the
                // slot is unusable (borrowed, or the thread is going away), it is
                // dropped without it.
                let _ = this.key.lend(this.value, || future.set(None));
            }
        }
    }
}

impl<T: 'static, F> TaskLocalFuture<T, F> {
    /// Takes the value out of the scope (`None` if already taken). Polling the future
    /// afterwards runs it with the key unset.
    pub fn take_value(self: Pin<&mut Self>) -> Option<T> {
        self.project().value.take()
    }
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut future = this.future;
        let polled = this.key.lend(this.value, || {
            let inner = future.as_mut().as_pin_mut()?;
            let poll = inner.poll(cx);
            if poll.is_ready() {
                future.set(None);
            }
            Some(poll)
        });
        match polled {
            Ok(Some(poll)) => poll,
            Ok(None) => panic!("`TaskLocalFuture` polled after completion"),
            Err(error) => error.panic(),
        }
    }
}

impl<T: fmt::Debug + 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Value<'a, T>(&'a Option<T>);
        impl<T: fmt::Debug> fmt::Debug for Value<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    Some(value) => value.fmt(f),
                    None => f.pad("<missing>"),
                }
            }
        }
        f.debug_struct("TaskLocalFuture")
            .field("value", &Value(&self.value))
            .finish()
    }
}

/// Returned by [`LocalKey::try_with`] and [`LocalKey::try_get`] outside every scope of
/// the key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError {
    _private: (),
}

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessError").finish()
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set")
    }
}

impl Error for AccessError {}

/// Why a scope could not lend its value to the slot.
enum ScopeError {
    /// Inside `with` of the same key: the slot is borrowed.
    Borrowed,
    /// The thread's locals are being destroyed.
    Destroyed,
}

impl ScopeError {
    #[track_caller]
    fn panic(&self) -> ! {
        match self {
            ScopeError::Borrowed => {
                panic!("cannot enter a task-local scope while the task-local storage is borrowed")
            }
            ScopeError::Destroyed => panic!(
                "cannot enter a task-local scope during or after destruction of the \
                 underlying thread-local"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::task_local! {
        static NUMBER: u32;
        static NAME: String;
    }

    #[test]
    fn sync_scopes_nest_and_restore() {
        assert!(NUMBER.try_get().is_err());
        NUMBER.sync_scope(1, || {
            assert_eq!(NUMBER.get(), 1);
            NUMBER.sync_scope(2, || assert_eq!(NUMBER.get(), 2));
            assert_eq!(NUMBER.get(), 1);
            NAME.sync_scope("x".to_owned(), || {
                assert_eq!(NAME.with(String::len), 1);
                assert_eq!(NUMBER.get(), 1);
            });
        });
        assert_eq!(NUMBER.try_with(|n| *n), Err(AccessError { _private: () }));
    }

    #[test]
    fn a_panic_in_a_scope_restores_the_slot() {
        let result = std::panic::catch_unwind(|| NUMBER.sync_scope(5, || panic!("inside")));
        assert!(result.is_err());
        assert!(NUMBER.try_get().is_err());
    }

    #[test]
    #[should_panic(expected = "cannot access a task-local storage value without setting it first")]
    fn with_outside_a_scope_panics() {
        NUMBER.with(|_| ());
    }

    #[test]
    #[should_panic(expected = "while the task-local storage is borrowed")]
    fn a_scope_inside_with_panics() {
        NUMBER.sync_scope(1, || NUMBER.with(|_| NUMBER.sync_scope(2, || ())));
    }

    #[test]
    fn access_error_reads_as_tokio_does() {
        let error = NUMBER.try_get().unwrap_err();
        assert_eq!(error.to_string(), "task-local value not set");
        assert_eq!(format!("{error:?}"), "AccessError");
    }
}
