//! Choosing the I/O backend: the builder, then `RINGTIDE_BACKEND`, then auto-detection.

use std::fmt;
use std::io;
use std::str::FromStr;

use crate::driver::uring;

/// The environment variable that picks the backend when the builder does not.
pub(crate) const ENV_VAR: &str = "RINGTIDE_BACKEND";

/// Which I/O backend a runtime uses.
///
/// Set it with [`Builder::backend`](crate::runtime::Builder::backend); without that,
/// the environment variable `RINGTIDE_BACKEND` (`io_uring`, `mio` or `auto`) decides,
/// and without that, `Auto`. [`Runtime::backend`](crate::runtime::Runtime::backend)
/// reports the outcome (never `Auto`).
///
/// ```
/// use ringtide::runtime::{Backend, Builder};
///
/// let runtime = Builder::new_current_thread()
///     .backend(Backend::Mio)
///     .enable_all()
///     .build()
///     .unwrap();
/// assert_eq!(runtime.backend(), Backend::Mio);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// io_uring when it works here (set up a ring, run a NOP, probe the opcodes),
    /// otherwise mio, with one warning in the log saying why.
    Auto,
    /// io_uring (Linux). `build()` fails, saying why, when it cannot be used.
    IoUring,
    /// mio: epoll, kqueue or IOCP readiness.
    Mio,
}

impl Backend {
    /// The name used by `RINGTIDE_BACKEND` and the test macro.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::IoUring => "io_uring",
            Backend::Mio => "mio",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Backend {
    type Err = io::Error;

    /// Parses `io_uring` (or `io-uring`, `uring`), `mio` or `auto`, ignoring case and
    /// surrounding spaces.
    fn from_str(value: &str) -> io::Result<Backend> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Backend::Auto),
            "io_uring" | "io-uring" | "uring" => Ok(Backend::IoUring),
            "mio" => Ok(Backend::Mio),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{ENV_VAR}={value:?} is not a backend; expected `io_uring`, `mio` or `auto`"
                ),
            )),
        }
    }
}

/// The outcome of backend selection for a new runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selection {
    /// The backend chosen (never `Auto`).
    pub(crate) backend: Backend,
    /// Whether the choice was automatic, so that a later failure to set up io_uring
    /// may still fall back to mio.
    pub(crate) automatic: bool,
    /// Where the choice came from: `Builder::backend`, `RINGTIDE_BACKEND` or `default`.
    pub(crate) source: &'static str,
    /// Why this backend, in words (for the runtime-start event): the request, or
    /// auto's probe result.
    pub(crate) reason: String,
}

/// Resolves the backend for a new runtime (`requested` is the builder's choice).
pub(crate) fn resolve(requested: Option<Backend>) -> io::Result<Selection> {
    let source = match requested {
        Some(_) => "Builder::backend",
        None => match std::env::var(ENV_VAR) {
            Ok(value) if !value.trim().is_empty() => ENV_VAR,
            _ => "default",
        },
    };
    let automatic = match requested {
        Some(backend) => backend == Backend::Auto,
        None => std::env::var(ENV_VAR)
            .ok()
            .and_then(|value| value.parse::<Backend>().ok())
            .is_none_or(|backend| backend == Backend::Auto),
    };
    let (backend, reason) = choose(requested)?;
    Ok(Selection {
        backend,
        automatic,
        source,
        reason,
    })
}

/// Called by `build()` when the runtime's io_uring rings could not be set up although
/// the probe passed (a setup knob the kernel refuses, the memlock limit for N rings,
/// `EMFILE`): the error for an explicit choice, or mio (with one log line) for an
/// automatic one (with the reason for the runtime-start event).
pub(crate) fn after_ring_setup_failed(
    error: &io::Error,
    automatic: bool,
    source: &str,
) -> io::Result<(Backend, String)> {
    if automatic && cfg!(feature = "mio") {
        crate::trace::event!(
            warn,
            "ringtide: io_uring rings could not be set up ({error}), using mio instead"
        );
        return Ok((
            Backend::Mio,
            format!("auto: io_uring rings could not be set up: {error}"),
        ));
    }
    Err(io::Error::new(
        error.kind(),
        format!(
            "the io_uring backend was chosen ({source}) but its rings could not be set up: \
             {error}. Use Backend::Mio or {ENV_VAR}=mio to run on mio instead"
        ),
    ))
}

/// The backend for `requested` (else `RINGTIDE_BACKEND`, else auto), and why.
fn choose(requested: Option<Backend>) -> io::Result<(Backend, String)> {
    let (wanted, source) = match requested {
        Some(backend) => (backend, "Builder::backend"),
        None => match std::env::var(ENV_VAR) {
            Ok(value) if value.trim().is_empty() => (Backend::Auto, ENV_VAR),
            Ok(value) => (value.parse::<Backend>()?, ENV_VAR),
            Err(std::env::VarError::NotPresent) => (Backend::Auto, "default"),
            Err(std::env::VarError::NotUnicode(value)) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{ENV_VAR}={value:?} is not a backend; expected `io_uring`, `mio` or `auto`"
                    ),
                ));
            }
        },
    };
    match wanted {
        Backend::Mio => {
            if cfg!(feature = "mio") {
                Ok((Backend::Mio, format!("requested by {source}")))
            } else {
                Err(unsupported(format!(
                    "the mio backend was requested ({source}) but ringtide was built without \
                     its `mio` feature"
                )))
            }
        }
        Backend::IoUring => {
            if !cfg!(ringtide_uring) {
                return Err(unsupported(format!(
                    "the io_uring backend was requested ({source}) but ringtide was built \
                     without it (it needs Linux and the `io-uring` feature); use \
                     Backend::Mio or {ENV_VAR}=mio"
                )));
            }
            uring::probe::check().map_err(|reason| {
                unsupported(format!(
                    "the io_uring backend was requested ({source}) but cannot be used: \
                     {reason}. Use Backend::Mio or {ENV_VAR}=mio to run on mio instead"
                ))
            })?;
            Ok((Backend::IoUring, format!("requested by {source}")))
        }
        Backend::Auto => {
            let mut why_not_io_uring =
                "io_uring is not compiled in (it needs Linux and the `io-uring` feature)"
                    .to_owned();
            if cfg!(ringtide_uring) {
                match uring::probe::check() {
                    Ok(()) => {
                        return Ok((
                            Backend::IoUring,
                            "auto: the io_uring probe passed".to_owned(),
                        ));
                    }
                    Err(reason) if cfg!(feature = "mio") => {
                        // Once per process: every runtime built after it falls back too.
                        static WARNED: std::sync::atomic::AtomicBool =
                            std::sync::atomic::AtomicBool::new(false);
                        if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                            crate::trace::event!(
                                warn,
                                "ringtide: io_uring unavailable, using mio instead: {reason}"
                            );
                        }
                        why_not_io_uring = format!("io_uring unavailable: {reason}");
                    }
                    Err(reason) => {
                        return Err(unsupported(format!(
                            "io_uring cannot be used ({reason}) and ringtide was built without \
                             the `mio` fallback feature"
                        )));
                    }
                }
            }
            if cfg!(feature = "mio") {
                Ok((Backend::Mio, format!("auto: {why_not_io_uring}")))
            } else {
                Err(unsupported(
                    "no I/O backend is compiled in: enable the `io-uring` or `mio` feature"
                        .to_owned(),
                ))
            }
        }
    }
}

fn unsupported(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!("io_uring".parse::<Backend>().unwrap(), Backend::IoUring);
        assert_eq!(" MIO ".parse::<Backend>().unwrap(), Backend::Mio);
        assert_eq!("auto".parse::<Backend>().unwrap(), Backend::Auto);
        let error = "epoll".parse::<Backend>().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("epoll"), "{error}");
    }

    #[test]
    fn explicit_mio_is_honoured() {
        assert_eq!(
            resolve(Some(Backend::Mio)).unwrap(),
            Selection {
                backend: Backend::Mio,
                automatic: false,
                source: "Builder::backend",
                reason: "requested by Builder::backend".to_owned(),
            }
        );
    }
}
