//! Unix signals as streams of arrivals: [`SignalKind`], [`signal`] and [`Signal`],
//! with tokio's `tokio::signal::unix` API.
//!
//! A [`Signal`] is a listener registered on the process-wide slot for its signal number
//! (see the [module docs](super) for the mechanism). It is bound to no runtime: its
//! waker is woken by ringtide's signal dispatcher thread, so it works on any runtime and
//! backend, and keeps working after the runtime it was created on is dropped.

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

use super::registry::slot_for;
use super::slot::Registration;

/// A Unix signal number, with constructors for the common ones (tokio's `SignalKind`).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal by number, e.g. a real-time one: `SignalKind::from_raw(libc::SIGRTMIN())`.
    pub const fn from_raw(signum: std::os::raw::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal number.
    pub const fn as_raw_value(&self) -> std::os::raw::c_int {
        self.0
    }

    /// `SIGALRM`: a timer set by `alarm(2)` expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`: a child process stopped or exited.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`: the terminal hung up; daemons often reload their configuration.
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT`: interrupt from the terminal (Ctrl-C).
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`: I/O is possible on a descriptor.
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`: a write to a pipe or socket with no reader.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`: quit from the terminal (Ctrl-\\).
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`: a request to terminate (the default of `kill(1)`).
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`: user-defined.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`: user-defined.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`: the terminal window changed size.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<std::os::raw::c_int> for SignalKind {
    fn from(signum: std::os::raw::c_int) -> SignalKind {
        SignalKind::from_raw(signum)
    }
}

impl From<SignalKind> for std::os::raw::c_int {
    fn from(kind: SignalKind) -> std::os::raw::c_int {
        kind.as_raw_value()
    }
}

/// A listener for one signal: a stream of (coalesced) arrivals.
///
/// Every listener for a signal sees every delivery. Deliveries coalesce: however many
/// arrive between two [`recv`](Signal::recv)s, the listener is notified at least once
/// (tokio's guarantee).
#[derive(Debug)]
pub struct Signal {
    registration: Registration,
    /// The slot generation this listener has consumed.
    seen: u64,
}

/// Listens for `kind`, installing the process-wide handler for it on the first call.
///
/// The listener is armed when this returns: a signal delivered after `signal` returns
/// and before the first [`recv`](Signal::recv) is not lost. The handler stays installed
/// for the rest of the process (see the [module docs](super)): once any listener for a
/// signal existed, that signal's default action (e.g. terminating on `SIGINT`) no longer
/// happens, even after every listener is dropped.
///
/// # Errors
///
/// `InvalidInput` for signal numbers out of range and for `SIGKILL`, `SIGSTOP`,
/// `SIGILL`, `SIGFPE` and `SIGSEGV`; the OS error if the handler, the self-pipe or the
/// dispatcher thread cannot be set up.
///
/// ```no_run
/// use ringtide::signal::unix::{signal, SignalKind};
///
/// #[ringtide::main]
/// async fn main() -> std::io::Result<()> {
///     let mut hangups = signal(SignalKind::hangup())?;
///     loop {
///         hangups.recv().await;
///         println!("SIGHUP: reloading the configuration");
///     }
/// }
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let slot = slot_for(kind.as_raw_value())?;
    let (registration, seen) = Registration::new(slot);
    Ok(Signal { registration, seen })
}

impl Signal {
    /// Waits for the next delivery (coalesced, see [`Signal`]). Always `Some(())`:
    /// ringtide's dispatcher never shuts down (tokio returns `None` when its driver
    /// does). Cancel-safe: dropping the future loses no delivery.
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery; on `Pending`, `cx`'s waker is woken by the next one.
    /// Only the waker of the most recent poll is kept.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if self.registration.poll_changed(&mut self.seen, cx.waker()) {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}
