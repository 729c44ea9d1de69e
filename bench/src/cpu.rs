//! CPU pinning (`sched_setaffinity`), the split of the machine's CPUs between the
//! servers and the load generator, and process CPU time (`getrusage`).
//!
//! Off Linux there is no affinity call (macOS has only hints), so nothing is pinned and
//! the split says so.

use std::time::Duration;

/// Which CPUs the servers and the load generator get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// CPUs each server process is pinned to; empty: not pinned.
    pub server: Vec<usize>,
    /// CPUs the load generator is pinned to; empty: not pinned.
    pub client: Vec<usize>,
}

impl Split {
    /// Halves `allowed` (the servers get the first half, rounded down, at least one CPU;
    /// the client the rest). With fewer than two CPUs nothing is pinned.
    pub fn of(allowed: &[usize]) -> Split {
        if allowed.len() < 2 {
            return Split {
                server: Vec::new(),
                client: Vec::new(),
            };
        }
        let half = (allowed.len() / 2).max(1);
        Split {
            server: allowed[..half].to_vec(),
            client: allowed[half..].to_vec(),
        }
    }

    /// Threads each server runs: one per server CPU (one when not pinned).
    pub fn server_threads(&self) -> usize {
        self.server.len().max(1)
    }

    /// Threads of the load generator: one per client CPU (one when not pinned).
    pub fn client_threads(&self) -> usize {
        self.client.len().max(1)
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        if self.server.is_empty() {
            "not pinned (fewer than 2 CPUs allowed): servers and load generator share the CPU"
                .to_owned()
        } else {
            format!(
                "servers pinned to CPU {}, load generator to CPU {} (sched_setaffinity)",
                list(&self.server),
                list(&self.client)
            )
        }
    }
}

/// `0,1,2` for a CPU list.
pub fn list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses [`list`]'s format (how a server learns its CPUs from the environment).
pub fn parse_list(text: &str) -> Result<Vec<usize>, String> {
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            part.trim()
                .parse()
                .map_err(|_| format!("{part:?} in the CPU list {text:?} is not a CPU number"))
        })
        .collect()
}

/// The CPUs this thread may run on.
#[cfg(target_os = "linux")]
pub fn allowed() -> Vec<usize> {
    // SAFETY: an all-zero `cpu_set_t` is a valid, empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid `cpu_set_t` of the size passed; pid 0 is this thread.
    let result = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    if result != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below `CPU_SETSIZE`, within the set.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

#[cfg(not(target_os = "linux"))]
pub fn allowed() -> Vec<usize> {
    Vec::new()
}

/// Pins the calling thread, and so every thread and process it creates later, to `cpus`.
/// An empty list, or CPUs the kernel refuses, is an error.
#[cfg(target_os = "linux")]
pub fn pin(cpus: &[usize]) -> std::io::Result<()> {
    if cpus.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no CPU to pin to",
        ));
    }
    // SAFETY: an all-zero `cpu_set_t` is a valid, empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("CPU {cpu} is beyond CPU_SETSIZE"),
            ));
        }
        // SAFETY: `cpu` is below `CPU_SETSIZE`, checked above.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a valid `cpu_set_t` of the size passed; pid 0 is this thread.
    let result = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub fn pin(_cpus: &[usize]) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "no CPU affinity on this platform",
    ))
}

/// User + system CPU time of this process (all its threads) so far.
pub fn process_time() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`.
    let result = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if result != 0 {
        return Duration::ZERO;
    }
    let to_duration = |time: libc::timeval| {
        Duration::from_secs(time.tv_sec as u64) + Duration::from_micros(time.tv_usec as u64)
    };
    to_duration(usage.ru_utime) + to_duration(usage.ru_stime)
}

/// Raises this process's open-file limit to its hard limit (1000 connections need more
/// than the usual soft limit of 1024 once listeners, rings and pipes are counted).
/// Returns the limit now in force.
pub fn raise_open_file_limit() -> u64 {
    // SAFETY: an all-zero `rlimit` is a valid value to be overwritten.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `limit` is a valid, writable `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid `rlimit` that stays within the hard limit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    limit.rlim_cur as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_cpus_give_one_to_each_side() {
        let split = Split::of(&[0, 1]);
        assert_eq!(
            (split.server.as_slice(), split.client.as_slice()),
            (&[0][..], &[1][..])
        );
        assert_eq!((split.server_threads(), split.client_threads()), (1, 1));
        assert!(split.describe().contains("CPU 0, load generator to CPU 1"));
    }

    #[test]
    fn more_cpus_are_halved_and_one_is_not_pinned() {
        let split = Split::of(&[2, 3, 5, 7, 8]);
        assert_eq!(split.server, [2, 3]);
        assert_eq!(split.client, [5, 7, 8]);
        let single = Split::of(&[4]);
        assert!(single.server.is_empty() && single.client.is_empty());
        assert_eq!(single.server_threads(), 1);
        assert!(single.describe().starts_with("not pinned"));
    }

    #[test]
    fn cpu_lists_round_trip_and_bad_ones_are_errors() {
        assert_eq!(parse_list(&list(&[0, 3, 12])), Ok(vec![0, 3, 12]));
        assert_eq!(parse_list(""), Ok(vec![]));
        assert!(parse_list("0,x").unwrap_err().contains("\"x\""));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pinning_to_an_allowed_cpu_takes_effect_on_the_thread() {
        let allowed = allowed();
        assert!(
            !allowed.is_empty(),
            "sched_getaffinity lists this thread's CPUs"
        );
        let last = *allowed.last().unwrap();
        // A fresh thread, so the test runner's thread keeps its mask.
        std::thread::spawn(move || {
            pin(&[last]).expect("pin to an allowed CPU");
            assert_eq!(super::allowed(), [last]);
            assert!(pin(&[]).is_err());
        })
        .join()
        .unwrap();
    }
}
