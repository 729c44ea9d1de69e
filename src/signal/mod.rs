//! Asynchronous signal handling: [`ctrl_c`] and, in `unix`, listeners for any signal,
//! with tokio's `tokio::signal` API; on Windows, `windows` has the console control
//! events (Ctrl-C, Ctrl-Break, close, logoff, shutdown) instead, as tokio's
//! `signal::windows` does.
//!
//! ```no_run
//! #[ringtide::main]
//! async fn main() -> std::io::Result<()> {
//!     ringtide::signal::ctrl_c().await?;
//!     println!("Ctrl-C: shutting down");
//!     Ok(())
//! }
//! ```
//!
//! # Mechanism (Unix)
//!
//! A process-wide `sigaction` handler per signal, installed through
//! `signal-hook-registry` (the crate tokio uses; it chains with handlers other code
//! installed through it, and saves `errno`), sets a per-signal pending flag and writes
//! one byte to a self-pipe. Both are async-signal-safe (an atomic store and
//! `write(2)`). A dedicated thread, `ringtide-signal`, started with the first listener,
//! blocks reading the pipe; for each pending signal it bumps that signal's generation
//! and wakes its listeners. A listener ([`unix::Signal`]) is ready when the generation
//! differs from the one it last saw, so deliveries between two `recv`s coalesce into one
//! notification, every listener sees every delivery, and a listener is armed the moment
//! it registers (it records the generation then): nothing delivered afterwards is lost.
//!
//! Why not signalfd: a signalfd only receives a signal that is blocked in *every*
//! thread, including threads the user, a library or the blocking pool start later;
//! an unblocked thread takes the signal with its normal disposition instead. That fights
//! user code (and child processes inherit the blocked mask), so ringtide does what tokio
//! does and uses a handler with a self-pipe.
//!
//! Why a thread instead of reading the pipe through a runtime's driver: signal
//! dispositions are process-wide but runtimes come and go. Tokio reads its pipe inside
//! runtimes' I/O drivers, so its listeners need a runtime with the signal driver and
//! deliveries wait for such a driver to be polled. ringtide's dispatcher belongs to no
//! runtime: a listener works on any
//! runtime and either backend (its waker is all it needs), keeps working after the
//! runtime it was created on is dropped, and several runtimes never race for one pipe's
//! bytes. The thread sleeps in `read(2)` and costs nothing between signals.
//!
//! # What stays installed
//!
//! Runtimes change nothing here, so dropping a runtime (with listeners or not) has
//! nothing to restore. What the first listener for a signal sets up stays for the life
//! of the process: the handler (signal-hook-registry handlers cannot be uninstalled;
//! tokio has the same property), the self-pipe and the dispatcher thread. So once a
//! listener for, say, `SIGINT` has existed, Ctrl-C no longer terminates the process by
//! default, even after all listeners are dropped; deliveries with no listener are
//! simply discarded. Dropping a listener removes only its own registration.
//!
//! # Windows
//!
//! A console control handler (`SetConsoleCtrlHandler`), installed with the first
//! listener, runs on a thread Windows starts for each event and wakes that event's
//! listeners directly (the same per-event slots, generations and coalescing as on
//! Unix; see `signal::console`). An event is handled only while a listener for it
//! exists: with none left, Windows' default action (ending the process) runs again.
//! Type-checked from Linux only, never run (see the README's platform table).

#[cfg(windows)]
mod console;
#[cfg(unix)]
mod registry;
mod slot;
#[cfg(unix)]
pub mod unix;
#[cfg(windows)]
pub mod windows;

use std::io;

/// Completes on the next `SIGINT` (Ctrl-C) delivered after the call (on Windows: the
/// next `CTRL_C_EVENT`).
///
/// The listener is registered on the first poll, so a Ctrl-C before the future is
/// polled is not seen; to not miss one, create a listener early with
/// `unix::signal(unix::SignalKind::interrupt())` (Windows: `windows::ctrl_c()`) and
/// `recv` on it. After the first call Ctrl-C no longer terminates the process (see
/// [What stays installed](self#what-stays-installed); on Windows only while a
/// listener exists).
///
/// # Errors
///
/// The OS error if the handler, the self-pipe or the dispatcher thread cannot be set up.
///
/// ```no_run
/// #[ringtide::main]
/// async fn main() {
///     ringtide::signal::ctrl_c().await.expect("listen for Ctrl-C");
///     println!("received Ctrl-C");
/// }
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    #[cfg(unix)]
    let mut interrupts = unix::signal(unix::SignalKind::interrupt())?;
    #[cfg(windows)]
    let mut interrupts = windows::ctrl_c()?;
    interrupts.recv().await;
    Ok(())
}
