//! Console control events (`SetConsoleCtrlHandler`): the Windows counterpart of the
//! signals `signal::windows` listens for (Ctrl-C, Ctrl-Break, the console window
//! closing, logoff, shutdown).
//!
//! Windows runs a handler routine on a new thread of its own for each event, not in an
//! interrupted thread as a Unix signal handler runs, so the routine may lock and wake
//! freely. It returns whether it handled the event: `TRUE` stops the default action
//! (terminating the process); `FALSE` passes the event on to the next handler, and in
//! the end to the default one.

use std::io;

pub(crate) use windows_sys::Win32::System::Console::{
    CTRL_BREAK_EVENT, CTRL_C_EVENT, CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT,
};

/// A handler routine: called with the event's number, returns whether it handled it.
pub(crate) type Handler = unsafe extern "system" fn(event: u32) -> windows_sys::core::BOOL;

/// Adds `handler` to the process's list of console control handlers (the last added
/// runs first). It stays for the life of the process.
pub(crate) fn add_handler(handler: Handler) -> io::Result<()> {
    // SAFETY: `handler` is a valid routine for the life of the process (a fn item);
    // `1` (TRUE) adds it.
    if unsafe { windows_sys::Win32::System::Console::SetConsoleCtrlHandler(Some(handler), 1) } == 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
