//! The Windows console-event registry: one [`SignalSlot`] (`signal::slot`) per console
//! control event that `signal::windows` listens for, and the handler routine
//! (`SetConsoleCtrlHandler`, through `sys::console`) that dispatches them.
//!
//! Protocol:
//!
//! 1. The first listener installs the handler routine (once per process; it stays).
//! 2. Windows runs the routine on a thread of its own for each event (not in an
//!    interrupted thread, as a Unix signal handler runs), so the routine dispatches
//!    the event's slot directly: it bumps the generation and wakes the listeners (no
//!    self-pipe, no dispatcher thread).
//! 3. The routine returns `TRUE` (handled) when the slot had a listener, so the
//!    default action (terminating the process) does not run; with no listener it
//!    returns `FALSE`, and the next handler, in the end the default one, runs (what
//!    tokio does too). Unlike the Unix handler, then, nothing changes for the process
//!    once every listener is gone.
//!
//! For `CTRL_CLOSE_EVENT`, `CTRL_LOGOFF_EVENT` and `CTRL_SHUTDOWN_EVENT` Windows ends
//! the process after the routine returns whatever it says (it waits a few seconds at
//! most): a listener learns of the event but cannot delay the exit.

use std::io;
use std::sync::OnceLock;

use super::slot::SignalSlot;
use crate::sys::console;

/// The console events listened for, in slot order.
const EVENTS: [u32; 5] = [
    console::CTRL_C_EVENT,
    console::CTRL_BREAK_EVENT,
    console::CTRL_CLOSE_EVENT,
    console::CTRL_LOGOFF_EVENT,
    console::CTRL_SHUTDOWN_EVENT,
];

/// One slot per entry of [`EVENTS`].
static SLOTS: [SignalSlot; EVENTS.len()] = [const { SignalSlot::new() }; EVENTS.len()];

/// Whether the handler routine is installed: `Err` holds the OS error of a failed
/// installation, which every later listener reports too.
static INSTALLED: OnceLock<Result<(), i32>> = OnceLock::new();

/// The handler routine: dispatches `event`'s slot; handled when it had a listener.
unsafe extern "system" fn handle_event(event: u32) -> windows_sys::core::BOOL {
    match EVENTS.iter().position(|&known| known == event) {
        Some(index) => i32::from(SLOTS[index].dispatch()),
        None => 0,
    }
}

/// The slot for `event` (one of the `CTRL_*_EVENT`s), with the handler routine
/// installed.
pub(crate) fn slot_for(event: u32) -> io::Result<&'static SignalSlot> {
    let index = EVENTS
        .iter()
        .position(|&known| known == event)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no listener for console event {event}"),
            )
        })?;
    INSTALLED
        .get_or_init(|| {
            console::add_handler(handle_event).map_err(|error| error.raw_os_error().unwrap_or(0))
        })
        .as_ref()
        .map_err(|&code| io::Error::from_raw_os_error(code))?;
    Ok(&SLOTS[index])
}
