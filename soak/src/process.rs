//! What the soak reads about its own process: resident memory and open descriptors
//! from `/proc/self` (Linux), and the descriptor limit raised to its hard maximum so
//! that 10k connections fit.

use serde::Serialize;

/// One reading of this process.
#[derive(Clone, Copy, Debug, Default, Serialize, serde::Deserialize)]
pub struct ProcessSample {
    /// `VmRSS`, KiB.
    pub rss_kib: u64,
    /// `VmHWM` (peak resident), KiB.
    pub peak_rss_kib: u64,
    /// Open file descriptors.
    pub fds: u64,
    /// Of `fds`, io_uring instances (`anon_inode:[io_uring]`): a thread that drove a
    /// worker core keeps its ring for reuse until it exits, so these are counted apart.
    pub io_uring_fds: u64,
    /// Threads (`/proc/self/task`).
    pub threads: u64,
}

impl ProcessSample {
    /// Descriptors other than io_uring instances.
    pub fn fds_without_rings(&self) -> u64 {
        self.fds - self.io_uring_fds
    }
}

pub fn sample() -> ProcessSample {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    ProcessSample {
        rss_kib: field("VmRSS:"),
        peak_rss_kib: field("VmHWM:"),
        fds: count_entries("/proc/self/fd").saturating_sub(1),
        io_uring_fds: count_rings(),
        threads: count_entries("/proc/self/task"),
    }
}

/// Entries of a directory (0 if it cannot be read). For `/proc/self/fd` the listing
/// includes the descriptor of the listing itself, hence the `- 1` above.
fn count_entries(path: &str) -> u64 {
    std::fs::read_dir(path).map_or(0, |entries| entries.count() as u64)
}

/// What each open descriptor is (`readlink` of `/proc/self/fd/N`), for a report that
/// finds one too many.
pub fn fd_targets() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| {
            let target = std::fs::read_link(entry.path()).map_or_else(
                |error| error.to_string(),
                |target| target.display().to_string(),
            );
            format!("{}: {target}", entry.file_name().to_string_lossy())
        })
        .collect()
}

fn count_rings() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            std::fs::read_link(entry.path())
                .is_ok_and(|target| target.as_os_str() == "anon_inode:[io_uring]")
        })
        .count() as u64
}

/// Raises `RLIMIT_NOFILE`'s soft limit to the hard limit; returns the new soft limit.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: `limit` is a valid, initialised `rlimit`; setrlimit only reads it.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(limit.rlim_cur)
}

/// The load average (`/proc/loadavg`, first three fields), for the report.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
