//! Windows console control events as streams of arrivals, with tokio's
//! `tokio::signal::windows` API: [`ctrl_c`], [`ctrl_break`], [`ctrl_close`],
//! [`ctrl_logoff`], [`ctrl_shutdown`].
//!
//! Each listener is registered on the process-wide slot of its event (see the [module
//! docs](super) and `signal::console`): bound to no runtime, woken by the thread
//! Windows starts for the event. While at least one listener of an event exists, the
//! event counts as handled (Ctrl-C no longer ends the process); once none is left,
//! Windows' default action runs again. Deliveries between two `recv`s coalesce into
//! one notification, as on Unix.
//!
//! Windows sends no Unix signals: these console events are what Ctrl-C, Ctrl-Break,
//! closing the console and the end of a session deliver to a process.

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

use super::console::slot_for;
use super::slot::Registration;
use crate::sys::console;

/// A listener for one console event (what every public type wraps).
#[derive(Debug)]
struct Listener {
    registration: Registration,
    /// The slot generation this listener has consumed.
    seen: u64,
}

impl Listener {
    fn new(event: u32) -> io::Result<Listener> {
        let slot = slot_for(event)?;
        let (registration, seen) = Registration::new(slot);
        Ok(Listener { registration, seen })
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if self.registration.poll_changed(&mut self.seen, cx.waker()) {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

/// Defines a listener type for one console event and the function that creates it.
macro_rules! console_listener {
    ($(#[$type_docs:meta])* $name:ident, $(#[$fn_docs:meta])* $function:ident, $event:expr) => {
        $(#[$type_docs])*
        #[derive(Debug)]
        pub struct $name {
            inner: Listener,
        }

        $(#[$fn_docs])*
        ///
        /// The listener is armed when this returns: an event after it returns and
        /// before the first `recv` is not lost.
        ///
        /// # Errors
        ///
        /// The OS error if the console control handler cannot be installed.
        pub fn $function() -> io::Result<$name> {
            Ok($name {
                inner: Listener::new($event)?,
            })
        }

        impl $name {
            /// Waits for the next event (coalesced). Always `Some(())`: ringtide's
            /// handler never goes away (tokio returns `None` when its driver shuts
            /// down). Cancel-safe: dropping the future loses no event.
            pub async fn recv(&mut self) -> Option<()> {
                poll_fn(|cx| self.poll_recv(cx)).await
            }

            /// Polls for the next event; on `Pending`, `cx`'s waker is woken by the next
            /// one. Only the waker of the most recent poll is kept.
            pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
                self.inner.poll_recv(cx)
            }
        }
    };
}

console_listener!(
    /// A listener for Ctrl-C (`CTRL_C_EVENT`).
    CtrlC,
    /// Listens for Ctrl-C.
    ctrl_c,
    console::CTRL_C_EVENT
);

console_listener!(
    /// A listener for Ctrl-Break (`CTRL_BREAK_EVENT`).
    CtrlBreak,
    /// Listens for Ctrl-Break.
    ctrl_break,
    console::CTRL_BREAK_EVENT
);

console_listener!(
    /// A listener for the console window closing (`CTRL_CLOSE_EVENT`). Windows ends
    /// the process shortly after the event, whatever the listener does.
    CtrlClose,
    /// Listens for the console window closing.
    ctrl_close,
    console::CTRL_CLOSE_EVENT
);

console_listener!(
    /// A listener for the user logging off (`CTRL_LOGOFF_EVENT`; usually only services
    /// receive it). Windows ends the process shortly after the event.
    CtrlLogoff,
    /// Listens for the user logging off.
    ctrl_logoff,
    console::CTRL_LOGOFF_EVENT
);

console_listener!(
    /// A listener for the system shutting down (`CTRL_SHUTDOWN_EVENT`; usually only
    /// services receive it). Windows ends the process shortly after the event.
    CtrlShutdown,
    /// Listens for the system shutting down.
    ctrl_shutdown,
    console::CTRL_SHUTDOWN_EVENT
);
