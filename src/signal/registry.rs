//! The process-wide Unix signal registry: one [`SignalSlot`] (`signal::slot`) per signal
//! number with its `pending` flag, the `sigaction` handler (installed through
//! `signal-hook-registry`), the self-pipe and the dispatcher thread that turns handler
//! runs into listener wake-ups.
//!
//! Protocol, per signal number:
//!
//! 1. The first [`slot_for`] call for a signal installs the handler (once per process;
//!    it is never uninstalled). The handler is async-signal-safe: it sets the slot's
//!    `pending` flag (an atomic store) and writes one byte to the non-blocking write end
//!    of the self-pipe (`write(2)`; a full pipe already holds a wake-up, so a failed
//!    write loses nothing).
//! 2. The dispatcher thread (`ringtide-signal`, started with the registry) blocks in
//!    `read(2)` on the pipe's read end. After each read it swaps every slot's `pending`
//!    flag to false and, for each one that was set, bumps the slot's `generation` and
//!    wakes the listeners' registered wakers, all under the slot's mutex.
//! 3. A listener remembers the generation it has seen. It is notified when the slot's
//!    generation differs; several deliveries between two polls coalesce into one
//!    notification (the flag and the generation both absorb repeats).
//!
//! A delivery that happens after a listener registered (read the generation) sets
//! `pending` after the handler was installed, so the dispatcher's next pass bumps the
//! generation past the one the listener saw: no delivery after registration is lost.
//! A delivery shortly before registration may still be dispatched after it and so be
//! seen too (tokio has the same property).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use super::slot::SignalSlot;
use crate::sys::pipe::pipe_cloexec;

/// Signal numbers are below this (Linux's `_NSIG`; the highest real-time signal is 64).
const SIGNAL_LIMIT: usize = 65;

/// One signal number's slot, and the flag its handler sets.
#[derive(Debug, Default)]
struct HandledSlot {
    /// Set by the handler, cleared by the dispatcher.
    pending: AtomicBool,
    slot: SignalSlot,
}

/// The process-wide registry, created by the first listener.
struct Registry {
    slots: [HandledSlot; SIGNAL_LIMIT],
    /// Whether the handler for the signal number is installed. Guarded by this mutex so
    /// that two first listeners do not install it twice.
    installed: Mutex<[bool; SIGNAL_LIMIT]>,
    /// The self-pipe's write end (non-blocking), written by the handler. Never closed.
    wake_write: RawFd,
}

static REGISTRY: OnceLock<Result<&'static Registry, i32>> = OnceLock::new();

/// The registry, created (pipe and dispatcher thread) on first use.
fn registry() -> io::Result<&'static Registry> {
    REGISTRY
        .get_or_init(|| {
            create_registry().map_err(|error| error.raw_os_error().unwrap_or(libc::EIO))
        })
        .as_ref()
        .map(|&registry| registry)
        .map_err(|&errno| io::Error::from_raw_os_error(errno))
}

fn create_registry() -> io::Result<&'static Registry> {
    let (read_end, write_end) = pipe_cloexec()?;
    // SAFETY: fcntl on an fd we own; F_SETFL takes an int flag argument.
    if unsafe { libc::fcntl(write_end.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let registry: &'static Registry = Box::leak(Box::new(Registry {
        slots: std::array::from_fn(|_| HandledSlot::default()),
        installed: Mutex::new([false; SIGNAL_LIMIT]),
        wake_write: write_end.as_raw_fd(),
    }));
    std::thread::Builder::new()
        .name("ringtide-signal".to_owned())
        .spawn(move || dispatch_loop(registry, read_end))?;
    // The write end lives as long as the process (the handler may run at any time).
    std::mem::forget(write_end);
    Ok(registry)
}

/// The dispatcher thread's body: wait for the handler's byte, then dispatch every
/// pending signal. Runs for the life of the process, independent of any runtime.
fn dispatch_loop(registry: &'static Registry, read_end: OwnedFd) {
    let mut buffer = [0u8; 64];
    loop {
        // SAFETY: read(2) writes at most `buffer.len()` bytes into `buffer`; the fd is
        // owned by this thread.
        let read = unsafe {
            libc::read(
                read_end.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
            )
        };
        if read < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            crate::trace::event!(
                error,
                "ringtide signal dispatcher: read from the self-pipe failed: {error}; signals are no longer delivered"
            );
            return;
        }
        for handled in &registry.slots {
            if handled.pending.swap(false, Ordering::AcqRel) {
                handled.slot.dispatch();
            }
        }
    }
}

/// The slot for `signum`, with the process-wide handler installed. Fails for signal
/// numbers out of range and for those `signal-hook-registry` refuses
/// (`SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE`, `SIGSEGV`).
pub(crate) fn slot_for(signum: i32) -> io::Result<&'static SignalSlot> {
    let index = usize::try_from(signum)
        .ok()
        .filter(|&index| index > 0 && index < SIGNAL_LIMIT)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid signal number {signum}"),
            )
        })?;
    if signal_hook_registry::FORBIDDEN.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {signum} cannot be listened for"),
        ));
    }
    let registry = registry()?;
    let mut installed = registry
        .installed
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !installed[index] {
        let handled = &registry.slots[index];
        let wake_write = registry.wake_write;
        let handler = move || {
            handled.pending.store(true, Ordering::Release);
            let byte = 1u8;
            // SAFETY: write(2) is async-signal-safe and reads one byte from `byte`; the
            // fd is never closed. A failed write (a full pipe) means a wake-up is
            // already queued. signal-hook-registry saves and restores errno around us.
            unsafe { libc::write(wake_write, (&raw const byte).cast(), 1) };
        };
        // SAFETY: the handler only does an atomic store and a write(2), both
        // async-signal-safe; it allocates, locks and panics nowhere. The signal is not
        // one of FORBIDDEN (checked above), so `register` does not panic.
        unsafe { signal_hook_registry::register(signum, handler) }?;
        installed[index] = true;
    }
    Ok(&registry.slots[index].slot)
}
