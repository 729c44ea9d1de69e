//! The process-wide signal registry: one [`SignalSlot`] per signal number, the
//! `sigaction` handler (installed through `signal-hook-registry`), the self-pipe and the
//! dispatcher thread that turns handler runs into listener wake-ups.
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
#[cfg(all(test, not(loom)))]
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::task::Waker;

use slab::Slab;

use crate::sys::pipe::pipe_cloexec;

/// Signal numbers are below this (Linux's `_NSIG`; the highest real-time signal is 64).
const SIGNAL_LIMIT: usize = 65;

/// Listener bookkeeping for one signal number.
#[derive(Debug)]
pub(crate) struct SignalSlot {
    /// Set by the handler, cleared by the dispatcher.
    pending: AtomicBool,
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
pub(crate) struct SlotState {
    /// Dispatched deliveries (coalesced) so far.
    pub(crate) generation: u64,
    /// One entry per live listener: the waker of its last pending poll, if any.
    pub(crate) wakers: Slab<Option<Waker>>,
}

impl SignalSlot {
    /// The slot's state; a panic while it was held leaves it consistent (every update
    /// is a single assignment), so a poisoned lock is used as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn dispatch(&self) {
        let wakers: Vec<Waker> = {
            let mut state = self.lock();
            state.generation += 1;
            state
                .wakers
                .iter_mut()
                .filter_map(|(_, waker)| waker.take())
                .collect()
        };
        for waker in wakers {
            waker.wake();
        }
    }
}

/// The process-wide registry, created by the first listener.
struct Registry {
    slots: [SignalSlot; SIGNAL_LIMIT],
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
        slots: std::array::from_fn(|_| SignalSlot {
            pending: AtomicBool::new(false),
            state: Mutex::new(SlotState::default()),
        }),
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
        for slot in &registry.slots {
            if slot.pending.swap(false, Ordering::AcqRel) {
                slot.dispatch();
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
        let slot = &registry.slots[index];
        let wake_write = registry.wake_write;
        let handler = move || {
            slot.pending.store(true, Ordering::Release);
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
    Ok(&registry.slots[index])
}

/// A listener's place in a slot: registered on creation, removed on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    slot: &'static SignalSlot,
    key: usize,
}

impl Registration {
    /// Registers a listener on `slot`; returns it with the generation it has seen.
    pub(crate) fn new(slot: &'static SignalSlot) -> (Registration, u64) {
        let mut state = slot.lock();
        let key = state.wakers.insert(None);
        (Registration { slot, key }, state.generation)
    }

    /// Ready when the slot's generation differs from `*seen` (and updates `*seen`);
    /// otherwise stores `waker` to be woken by the next dispatch.
    pub(crate) fn poll_changed(&self, seen: &mut u64, waker: &Waker) -> bool {
        let mut state = self.slot.lock();
        if state.generation != *seen {
            *seen = state.generation;
            state.wakers[self.key] = None;
            return true;
        }
        match &mut state.wakers[self.key] {
            Some(stored) if stored.will_wake(waker) => {}
            entry => *entry = Some(waker.clone()),
        }
        false
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.slot.lock().wakers.remove(self.key);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn leaked_slot() -> &'static SignalSlot {
        Box::leak(Box::new(SignalSlot {
            pending: AtomicBool::new(false),
            state: Mutex::new(SlotState::default()),
        }))
    }

    #[test]
    fn dispatches_coalesce_and_reach_every_listener() {
        let slot = leaked_slot();
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let (first, mut first_seen) = Registration::new(slot);
        let (second, mut second_seen) = Registration::new(slot);
        assert!(!first.poll_changed(&mut first_seen, &waker));
        assert!(!second.poll_changed(&mut second_seen, &waker));
        for _ in 0..3 {
            slot.dispatch();
        }
        // Each waiting listener was woken once (its waker is taken by the first dispatch).
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        // One notification for the three deliveries, then nothing pending.
        assert!(first.poll_changed(&mut first_seen, &waker));
        assert!(!first.poll_changed(&mut first_seen, &waker));
        assert!(second.poll_changed(&mut second_seen, &waker));
        assert!(!second.poll_changed(&mut second_seen, &waker));
        // A listener registered after a dispatch does not see it.
        let (late, mut late_seen) = Registration::new(slot);
        assert!(!late.poll_changed(&mut late_seen, &waker));
        drop(second);
        slot.dispatch();
        assert!(first.poll_changed(&mut first_seen, &waker));
        assert!(late.poll_changed(&mut late_seen, &waker));
        assert_eq!(slot.lock().wakers.len(), 2);
    }
}
