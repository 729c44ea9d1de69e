//! The runtime's own diagnostics: where its events go, and the few events it emits.
//!
//! With the `tracing` feature (on by default) events go to [`tracing`], whose `log`
//! compatibility forwards each one to the [`log`] crate while no tracing subscriber is
//! set, so a program that only installs a `log` logger still sees ringtide's warnings
//! (the io_uring fallback above all). Without the feature they go to `log` directly.
//! We use both crates rather than a logger of our own: they are what Rust programs
//! already collect diagnostics with.
//!
//! Events, by level (all targets start with `ringtide`):
//! - `error`: a driver call that should never fail did (polling, waking).
//! - `warn`: the io_uring fallback to mio and why; an fd handed over with cancelled
//!   results dropped.
//! - `debug`: runtime start, naming the backend and why it was chosen; cancelled ops
//!   outliving their owner.
//! - `trace`: every park (one that may wait) and unpark of a scheduler core.
//!
//! Cost without a subscriber: a disabled event is one relaxed load of the callsite's
//! cached interest (tracing) or of `log`'s max level, plus a branch; nothing is
//! formatted. The scheduler benchmark measures it with and without the feature.
//!
//! This module imports nothing from the crate, so every layer (the driver included)
//! may use it.

/// Emits one diagnostic event at `level` (`error`, `warn`, `info`, `debug`, `trace`)
/// with a `format!`-style message, through `tracing` or `log` (see the module doc).
macro_rules! event {
    ($level:ident, $($message:tt)+) => {{
        #[cfg(feature = "tracing")]
        ::tracing::$level!($($message)+);
        #[cfg(not(feature = "tracing"))]
        ::log::$level!($($message)+);
    }};
}
pub(crate) use event;

/// The runtime-start event: the backend chosen and the reason (the builder's choice,
/// `RINGTIDE_BACKEND`, or auto's probe result), the scheduler flavor and its cores.
pub(crate) fn runtime_started(backend: &str, reason: &str, flavor: &str, cores: usize) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        backend,
        reason,
        flavor,
        cores,
        "ringtide: runtime started on {backend} ({reason}); {flavor} scheduler, {cores} core(s)"
    );
    #[cfg(not(feature = "tracing"))]
    log::debug!(
        "ringtide: runtime started on {backend} ({reason}); {flavor} scheduler, {cores} core(s)"
    );
}

/// A core is about to park: wait for I/O, a wake-up or `timeout` (`None`: no bound).
#[inline]
pub(crate) fn core_parks(core: usize, timeout: Option<std::time::Duration>) {
    #[cfg(feature = "tracing")]
    tracing::trace!(core, ?timeout, "ringtide: core {core} parks");
    #[cfg(not(feature = "tracing"))]
    log::trace!("ringtide: core {core} parks (timeout {timeout:?})");
}

/// A core is back from parking.
#[inline]
pub(crate) fn core_unparked(core: usize) {
    #[cfg(feature = "tracing")]
    tracing::trace!(core, "ringtide: core {core} unparked");
    #[cfg(not(feature = "tracing"))]
    log::trace!("ringtide: core {core} unparked");
}
