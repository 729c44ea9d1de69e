//! Stand-in for the mio backend when the `mio` feature is off. Its types are
//! uninhabited: nothing can create them, so every method is unreachable.

use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::driver::IoCounters;

/// Uninhabited: there is no mio driver in this build.
#[derive(Debug)]
pub(crate) enum Driver {}

/// Uninhabited.
#[derive(Debug)]
pub(crate) enum Shared {}

/// Uninhabited.
#[derive(Debug)]
pub(crate) enum Registration {}

/// Never created (only an uninhabited `Registration` makes one). Inhabited itself, so
/// that code after `Registration::waiter` still counts as reachable for the lints.
#[derive(Debug)]
pub(crate) struct ReadinessWaiter<'a>(std::marker::PhantomData<&'a Registration>);

impl ReadinessWaiter<'_> {
    pub(crate) fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        unreachable!("there is no mio registration in this build")
    }
}

/// Readiness bits (kept so callers compile without the feature; never observed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ready(usize);

impl Ready {
    pub(crate) const READABLE: Ready = Ready(1 << 0);
    pub(crate) const WRITABLE: Ready = Ready(1 << 1);
    pub(crate) const READ_CLOSED: Ready = Ready(1 << 2);
    pub(crate) const WRITE_CLOSED: Ready = Ready(1 << 3);
    pub(crate) const ERROR: Ready = Ready(1 << 4);

    pub(crate) fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Observed readiness (kept so callers compile without the feature; never created).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent(Ready);

impl ReadyEvent {
    pub(crate) fn ready(&self) -> Ready {
        self.0
    }
}

/// A readiness direction (kept so callers compile without the feature).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Driver {
    pub(crate) fn new(_events: usize) -> io::Result<Driver> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "ringtide was built without the mio backend",
        ))
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        match *self {}
    }

    pub(crate) fn attach(&mut self) {
        match *self {}
    }

    pub(crate) fn detach(&mut self) {
        match *self {}
    }

    pub(crate) fn park(&mut self, _timeout: Option<Duration>) {
        match *self {}
    }
}

impl Shared {
    pub(crate) fn unpark(&self) {
        match *self {}
    }

    pub(crate) fn register_raw(
        self: &Arc<Self>,
        _fd: crate::sys::RawSocket,
    ) -> io::Result<Registration> {
        match **self {}
    }
}

impl Registration {
    pub(crate) fn deregister(&self) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn try_io<R>(&self, _call: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        match *self {}
    }

    pub(crate) fn short_read_drains(&self) -> bool {
        match *self {}
    }

    pub(crate) fn poll_ready(
        &self,
        _cx: &mut Context<'_>,
        _direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        match *self {}
    }

    pub(crate) fn clear_readiness(&self, _event: ReadyEvent) {
        match *self {}
    }

    pub(crate) fn ready_event(&self, _direction: Direction) -> Option<io::Result<ReadyEvent>> {
        match *self {}
    }

    pub(crate) fn waiter(&self, _direction: Direction) -> ReadinessWaiter<'_> {
        match *self {}
    }

    #[allow(dead_code, reason = "net's poll path runs its own loop")]
    pub(crate) fn poll_io<R>(
        &self,
        _cx: &mut Context<'_>,
        _direction: Direction,
        _operation: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        match *self {}
    }
}

pub(crate) fn current_shared() -> Option<Arc<Shared>> {
    None
}

pub(crate) fn counters(shared: &Shared) -> IoCounters {
    match *shared {}
}
