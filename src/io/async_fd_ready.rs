//! The readiness API of [`AsyncFd`], with tokio's names and meaning: wait for readiness
//! (`readable`, `writable`, `ready`, their `_mut` forms, `poll_read_ready`,
//! `poll_write_ready`), get a guard ([`AsyncFdReadyGuard`], [`AsyncFdReadyMutGuard`])
//! that holds the readiness it observed, and run the syscall through the guard's
//! `try_io`, which clears that readiness when the syscall says `WouldBlock` (or clear
//! it by hand). `AsyncFd::async_io` and `AsyncFd::try_io` wrap the loop.
//!
//! The record being cleared is `io::fd_readiness`'s, per direction: a guard of
//! `ready(READABLE | WRITABLE)` holds up to one observation of each direction, and
//! clearing one direction leaves the other's recorded.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::AsRawFd;
use std::task::{Context, Poll, ready};

use super::async_fd::AsyncFd;
use super::fd_poll::PollDirection;
use super::fd_readiness::{FdReadiness, FdReadyEvent};
use super::{Interest, Ready};

/// What one wait observed: per direction (read, write), its readiness event.
#[derive(Debug, Default)]
struct Observed([Option<FdReadyEvent>; 2]);

impl Observed {
    fn one(event: FdReadyEvent) -> Observed {
        let mut observed = Observed::default();
        observed.0[event.direction() as usize] = Some(event);
        observed
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    fn ready(&self) -> Ready {
        let mut ready = Ready::EMPTY;
        for event in self.0.iter().flatten() {
            ready |= event.ready();
        }
        ready
    }

    fn clear(&mut self, readiness: &FdReadiness) {
        for event in self.0.iter_mut().filter_map(Option::take) {
            readiness.clear(event);
        }
    }

    /// Clears the bits of `ready` from the record, and forgets them here; an
    /// observation left with no bit is dropped.
    fn clear_matching(&mut self, readiness: &FdReadiness, ready: Ready) {
        for slot in &mut self.0 {
            let Some(event) = *slot else { continue };
            let matching = event.ready() - (event.ready() - ready);
            if matching.is_empty() {
                continue;
            }
            readiness.clear(event.with_ready(matching));
            let left = event.ready() - ready;
            *slot = (!left.is_empty()).then(|| event.with_ready(left));
        }
    }
}

/// The directions of `interest` that `fd` was created for, or `InvalidInput` when
/// there are none.
fn directions<T: AsRawFd>(fd: &AsyncFd<T>, interest: Interest) -> io::Result<[bool; 2]> {
    let read = interest.is_readable() && fd.interest.is_readable();
    let write = interest.is_writable() && fd.interest.is_writable();
    if read || write {
        return Ok([read, write]);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "this AsyncFd was created for {:?} only (see AsyncFd::with_interest); it \
             cannot wait for {interest:?}",
            fd.interest
        ),
    ))
}

const DIRECTIONS: [PollDirection; 2] = [PollDirection::Read, PollDirection::Write];

impl<T: AsRawFd> AsyncFd<T> {
    /// Waits for readiness in any direction of `interest` (and of the `AsyncFd`'s
    /// own interest); spends one unit of the task's cooperative budget first.
    async fn wait_ready(&self, interest: Interest) -> io::Result<Observed> {
        let wanted = directions(self, interest)?;
        poll_fn(crate::task::coop::poll_proceed).await;
        let mut waiters = DIRECTIONS
            .map(|direction| wanted[direction as usize].then(|| self.readiness.waiter(direction)));
        poll_fn(|cx| {
            let mut observed = Observed::default();
            for (slot, waiter) in observed.0.iter_mut().zip(&mut waiters) {
                if let Some(waiter) = waiter
                    && let Poll::Ready(event) = waiter.poll_ready(cx)
                {
                    *slot = Some(event?);
                }
            }
            if observed.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(Ok(observed))
            }
        })
        .await
    }

    /// Polls for readiness in `direction`, in its one `poll_*` waker slot.
    fn poll_direction(
        &self,
        cx: &mut Context<'_>,
        direction: PollDirection,
    ) -> Poll<io::Result<Observed>> {
        let interest = match direction {
            PollDirection::Read => Interest::READABLE,
            PollDirection::Write => Interest::WRITABLE,
        };
        directions(self, interest)?;
        ready!(crate::task::coop::poll_proceed(cx));
        let event = ready!(self.readiness.poll_ready(cx, direction))?;
        Poll::Ready(Ok(Observed::one(event)))
    }

    /// Waits until the fd is ready for any part of `interest` and returns a guard
    /// holding what it is ready for. Returns at once while readiness is recorded (it is
    /// until a guard clears it).
    ///
    /// Cancel safe; any number of tasks may wait at once, and all are woken.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `interest` has no direction the `AsyncFd` was created for
    /// (see [`with_interest`](AsyncFd::with_interest)); a failure of the driver (it
    /// shut down).
    pub async fn ready(&self, interest: Interest) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        let observed = self.wait_ready(interest).await?;
        Ok(AsyncFdReadyGuard {
            async_fd: self,
            observed,
        })
    }

    /// [`ready`](AsyncFd::ready) with a guard that gives `&mut` access to the
    /// `AsyncFd`.
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub async fn ready_mut(
        &mut self,
        interest: Interest,
    ) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        let observed = self.wait_ready(interest).await?;
        Ok(AsyncFdReadyMutGuard {
            async_fd: self,
            observed,
        })
    }

    /// Waits until the fd is readable (data, end of file, or an error to report); see
    /// [`ready`](AsyncFd::ready).
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Interest::READABLE).await
    }

    /// [`readable`](AsyncFd::readable) with a `&mut` guard.
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub async fn readable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::READABLE).await
    }

    /// Waits until the fd is writable (room, a closed reader, or an error to report);
    /// see [`ready`](AsyncFd::ready).
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub async fn writable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Interest::WRITABLE).await
    }

    /// [`writable`](AsyncFd::writable) with a `&mut` guard.
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub async fn writable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::WRITABLE).await
    }

    /// Polls for read readiness: a guard once the fd is readable, otherwise `cx` is
    /// stored and `Pending`.
    ///
    /// Only the task of the last call is woken: there is one waker slot for read
    /// readiness (shared with the `AsyncRead` impls of types built on an `AsyncFd`).
    /// Tasks that wait together use [`readable`](AsyncFd::readable).
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub fn poll_read_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        let observed = ready!(self.poll_direction(cx, PollDirection::Read))?;
        Poll::Ready(Ok(AsyncFdReadyGuard {
            async_fd: self,
            observed,
        }))
    }

    /// [`poll_read_ready`](AsyncFd::poll_read_ready) with a `&mut` guard.
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub fn poll_read_ready_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        let observed = ready!(self.poll_direction(cx, PollDirection::Read))?;
        Poll::Ready(Ok(AsyncFdReadyMutGuard {
            async_fd: self,
            observed,
        }))
    }

    /// Polls for write readiness (one waker slot, as
    /// [`poll_read_ready`](AsyncFd::poll_read_ready)).
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub fn poll_write_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        let observed = ready!(self.poll_direction(cx, PollDirection::Write))?;
        Poll::Ready(Ok(AsyncFdReadyGuard {
            async_fd: self,
            observed,
        }))
    }

    /// [`poll_write_ready`](AsyncFd::poll_write_ready) with a `&mut` guard.
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready).
    pub fn poll_write_ready_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        let observed = ready!(self.poll_direction(cx, PollDirection::Write))?;
        Poll::Ready(Ok(AsyncFdReadyMutGuard {
            async_fd: self,
            observed,
        }))
    }

    /// Runs `f` (a non-blocking syscall on the wrapped value) until it does not say
    /// `WouldBlock`, waiting for readiness in `interest` before each try and clearing
    /// it after each `WouldBlock`: tokio's `readable().await` + `try_io` loop in one
    /// call.
    ///
    /// Cancel safe as far as this method goes: `f` runs only inside a poll.
    ///
    /// # Errors
    ///
    /// As [`ready`](AsyncFd::ready), or the first error of `f` that is not
    /// `WouldBlock`.
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let mut guard = self.ready(interest).await?;
            if let Ok(result) = guard.try_io(|fd| f(fd.get_ref())) {
                return result;
            }
        }
    }

    /// [`async_io`](AsyncFd::async_io) with `&mut` access to the wrapped value.
    ///
    /// # Errors
    ///
    /// As [`async_io`](AsyncFd::async_io).
    pub async fn async_io_mut<R>(
        &mut self,
        interest: Interest,
        mut f: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let mut guard = self.ready_mut(interest).await?;
            if let Ok(result) = guard.try_io(|fd| f(fd.get_mut())) {
                return result;
            }
        }
    }

    /// Runs `f` now if readiness in `interest` is recorded, clearing it when `f` says
    /// `WouldBlock`; without recorded readiness returns `WouldBlock` without calling
    /// `f`. Never waits.
    ///
    /// # Errors
    ///
    /// `WouldBlock` as described; `InvalidInput` as in [`ready`](AsyncFd::ready); or
    /// `f`'s error.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut observed = self.recorded(interest)?;
        match f(self.get_ref()) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                observed.clear(&self.readiness);
                Err(error)
            }
            result => result,
        }
    }

    /// [`try_io`](AsyncFd::try_io) with `&mut` access to the wrapped value.
    ///
    /// # Errors
    ///
    /// As [`try_io`](AsyncFd::try_io).
    pub fn try_io_mut<R>(
        &mut self,
        interest: Interest,
        f: impl FnOnce(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut observed = self.recorded(interest)?;
        match f(self.get_mut()) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                observed.clear(&self.readiness);
                Err(error)
            }
            result => result,
        }
    }

    /// The readiness recorded now for the directions of `interest`; `WouldBlock` when
    /// there is none.
    fn recorded(&self, interest: Interest) -> io::Result<Observed> {
        let wanted = directions(self, interest)?;
        let mut observed = Observed::default();
        for direction in DIRECTIONS {
            if wanted[direction as usize]
                && let Some(event) = self.readiness.ready_event(direction)
            {
                observed.0[direction as usize] = Some(event?);
            }
        }
        if observed.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(observed)
    }
}

/// The readiness an [`AsyncFd`] was found to have, from
/// [`readable`](AsyncFd::readable), [`writable`](AsyncFd::writable),
/// [`ready`](AsyncFd::ready) or a `poll_*_ready` method.
///
/// Dropping the guard keeps the readiness recorded (the next wait returns at once);
/// [`clear_ready`](AsyncFdReadyGuard::clear_ready) forgets it, so the next wait waits
/// for new readiness. Clear it only after a syscall said `WouldBlock`, which is what
/// [`try_io`](AsyncFdReadyGuard::try_io) does.
#[must_use = "the readiness stays recorded unless the guard clears it (`try_io`, `clear_ready`)"]
pub struct AsyncFdReadyGuard<'a, T: AsRawFd> {
    async_fd: &'a AsyncFd<T>,
    observed: Observed,
}

impl<'a, T: AsRawFd> AsyncFdReadyGuard<'a, T> {
    /// Clears the readiness this guard observed, unless newer readiness arrived since
    /// (the closed bits stay: a hang-up is final).
    pub fn clear_ready(&mut self) {
        self.observed.clear(&self.async_fd.readiness);
    }

    /// Clears only the bits of `ready` (say [`Ready::WRITABLE`] of a guard that saw
    /// both directions), and forgets them in [`ready`](AsyncFdReadyGuard::ready).
    pub fn clear_ready_matching(&mut self, ready: Ready) {
        self.observed
            .clear_matching(&self.async_fd.readiness, ready);
    }

    /// Keeps the readiness recorded (what dropping the guard does too).
    pub fn retain_ready(&mut self) {}

    /// The readiness this guard observed (and has not cleared).
    pub fn ready(&self) -> Ready {
        self.observed.ready()
    }

    /// Runs `f` (a non-blocking syscall on the fd): when it says `WouldBlock`, clears
    /// the readiness and returns `Err(TryIoError)` (wait again); otherwise returns its
    /// result.
    ///
    /// # Errors
    ///
    /// [`TryIoError`] when `f` said `WouldBlock`.
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&'a AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        match f(self.async_fd) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError(()))
            }
            result => Ok(result),
        }
    }

    /// The `AsyncFd`.
    pub fn get_ref(&self) -> &'a AsyncFd<T> {
        self.async_fd
    }

    /// The wrapped value.
    pub fn get_inner(&self) -> &'a T {
        self.async_fd.get_ref()
    }
}

/// [`AsyncFdReadyGuard`] with `&mut` access to the [`AsyncFd`], from
/// [`readable_mut`](AsyncFd::readable_mut), [`writable_mut`](AsyncFd::writable_mut),
/// [`ready_mut`](AsyncFd::ready_mut) or a `poll_*_ready_mut` method.
#[must_use = "the readiness stays recorded unless the guard clears it (`try_io`, `clear_ready`)"]
pub struct AsyncFdReadyMutGuard<'a, T: AsRawFd> {
    async_fd: &'a mut AsyncFd<T>,
    observed: Observed,
}

impl<T: AsRawFd> AsyncFdReadyMutGuard<'_, T> {
    /// As [`AsyncFdReadyGuard::clear_ready`].
    pub fn clear_ready(&mut self) {
        self.observed.clear(&self.async_fd.readiness);
    }

    /// As [`AsyncFdReadyGuard::clear_ready_matching`].
    pub fn clear_ready_matching(&mut self, ready: Ready) {
        self.observed
            .clear_matching(&self.async_fd.readiness, ready);
    }

    /// Keeps the readiness recorded (what dropping the guard does too).
    pub fn retain_ready(&mut self) {}

    /// The readiness this guard observed (and has not cleared).
    pub fn ready(&self) -> Ready {
        self.observed.ready()
    }

    /// As [`AsyncFdReadyGuard::try_io`], with `&mut` access.
    ///
    /// # Errors
    ///
    /// [`TryIoError`] when `f` said `WouldBlock`.
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&mut AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        match f(self.async_fd) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError(()))
            }
            result => Ok(result),
        }
    }

    /// The `AsyncFd`.
    pub fn get_ref(&self) -> &AsyncFd<T> {
        self.async_fd
    }

    /// The `AsyncFd`, mutably.
    pub fn get_mut(&mut self) -> &mut AsyncFd<T> {
        self.async_fd
    }

    /// The wrapped value.
    pub fn get_inner(&self) -> &T {
        self.async_fd.get_ref()
    }

    /// The wrapped value, mutably.
    pub fn get_inner_mut(&mut self) -> &mut T {
        self.async_fd.get_mut()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFdReadyGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyGuard")
            .field("async_fd", self.async_fd)
            .field("ready", &self.ready())
            .finish()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFdReadyMutGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyMutGuard")
            .field("async_fd", &*self.async_fd)
            .field("ready", &self.ready())
            .finish()
    }
}

/// The error of a guard's `try_io`: the operation said `WouldBlock`, and the guard
/// cleared the readiness; wait for readiness again.
#[derive(Debug)]
pub struct TryIoError(());

impl fmt::Display for TryIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operation would block; the readiness was cleared")
    }
}

impl std::error::Error for TryIoError {}
