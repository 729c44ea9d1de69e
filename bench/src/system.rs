//! What every run prints about where it ran: kernel, CPU model, cores, the crate
//! versions (from `Cargo.lock`, through the build script) and the backend ringtide's
//! auto selection picks here, with its reason when it falls back to mio.
//!
//! The fallback reason is ringtide's one warning at runtime start; it reaches `log`
//! (ringtide's `tracing` events are forwarded to `log` while no tracing subscriber is
//! set), so this module installs a small `log` logger that keeps ringtide's warnings.

use std::sync::Mutex;

use serde::Serialize;

/// The machine and software a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub kernel: String,
    pub cpu_model: String,
    /// CPUs this process may run on.
    pub cpus: usize,
    /// The crate versions compared (`name version; ...`).
    pub crate_versions: String,
    /// What `Backend::Auto` picks on this machine (`Runtime::backend()`), and why when it
    /// is not io_uring.
    pub auto_backend: String,
    /// How servers and load generator were pinned.
    pub pinning: String,
}

impl Machine {
    /// Lines for the top of the report.
    pub fn describe(&self) -> String {
        format!(
            "kernel {}, CPU {} ({} CPUs usable)\ncrates: {}\nringtide auto backend: {}\npinning: {}",
            self.kernel,
            self.cpu_model,
            self.cpus,
            self.crate_versions,
            self.auto_backend,
            self.pinning
        )
    }
}

/// Describes this machine; `pinning` comes from the CPU split.
pub fn machine(cpus: usize, pinning: String) -> Machine {
    Machine {
        kernel: kernel(),
        cpu_model: std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| cpu_model(&text))
            .unwrap_or_else(|| "unknown".to_owned()),
        cpus,
        crate_versions: env!("RINGTIDE_BENCH_CRATE_VERSIONS").to_owned(),
        auto_backend: auto_backend(),
        pinning,
    }
}

/// The `model name` of the first processor in `/proc/cpuinfo`'s text.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

fn kernel() -> String {
    // SAFETY: an all-zero `utsname` is a valid value to be overwritten.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is a valid, writable `utsname`.
    if unsafe { libc::uname(&mut name) } != 0 {
        return "unknown".to_owned();
    }
    let field = |chars: &[libc::c_char]| {
        let bytes: Vec<u8> = chars
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!("{} {}", field(&name.sysname), field(&name.release))
}

/// Builds a `Backend::Auto` runtime and reports its choice, with the warning ringtide
/// logged when it fell back.
fn auto_backend() -> String {
    let warnings_before = WARNINGS.lock().map(|w| w.len()).unwrap_or(0);
    let built = ringtide::runtime::Builder::new_current_thread()
        .backend(ringtide::runtime::Backend::Auto)
        .enable_all()
        .build();
    match built {
        Ok(runtime) => {
            let backend = runtime.backend();
            let why: Vec<String> = WARNINGS
                .lock()
                .map(|w| w[warnings_before..].to_vec())
                .unwrap_or_default();
            if why.is_empty() {
                backend.to_string()
            } else {
                format!("{backend} ({})", why.join("; "))
            }
        }
        Err(error) => format!("none: building a runtime failed: {error}"),
    }
}

/// ringtide's warnings seen so far.
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Keeps ringtide's warnings (and prints them, so they are not lost).
struct WarningLog;

impl log::Log for WarningLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        eprintln!("{}: {message}", record.level());
        if record.target().starts_with("ringtide")
            && let Ok(mut warnings) = WARNINGS.lock()
        {
            warnings.push(message);
        }
    }

    fn flush(&self) {}
}

/// Installs the warning logger (once; later calls, or another logger already set, leave
/// things as they are).
pub fn install_logger() {
    static LOGGER: WarningLog = WarningLog;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_is_the_first_model_name() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\n\
                    processor\t: 1\nmodel name\t: other\n";
        assert_eq!(cpu_model(text).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\n"), None);
    }

    #[test]
    fn machine_names_the_versions_and_a_real_backend() {
        let machine = machine(2, "test".into());
        assert!(
            machine.crate_versions.contains("ringtide 0.1.0"),
            "{}",
            machine.crate_versions
        );
        assert!(
            machine.crate_versions.contains("tokio "),
            "{}",
            machine.crate_versions
        );
        assert!(
            machine.auto_backend.starts_with("io_uring") || machine.auto_backend.starts_with("mio"),
            "{}",
            machine.auto_backend
        );
        let text = machine.describe();
        assert!(
            text.contains("kernel ") && text.contains("pinning: test"),
            "{text}"
        );
    }
}
