//! OPENAT: opens a path (relative to the working directory) with `open(2)`'s flags and
//! mode, giving an owned fd.
//!
//! * io_uring: one OPENAT SQE. The kernel tries it inline with cached path lookups and
//!   hands it to io-wq otherwise (and always for `O_CREAT`/`O_TRUNC`).
//! * readiness: `Readiness::Blocking`. The inline form (`OpCode::attempt_nowait`, see
//!   `op::run`) is what io_uring does inline: `openat2` with `RESOLVE_CACHED` (fails
//!   with `EAGAIN` instead of reading a directory from disk) and `O_NONBLOCK` (fails
//!   with `EAGAIN` instead of waiting to break a lease). Its fd is kept only for a
//!   regular file or a directory, with `O_NONBLOCK` cleared again (a FIFO or a device
//!   opened without `O_NONBLOCK` would have waited: those go to the pool, which opens
//!   them as asked). Opens that create or truncate, and kernels before 5.12, go to
//!   the pool (`openat`) directly.
//!
//! Cancel-safe: the op owns the path until it is freed, and an fd opened for a future
//! that is gone is closed: on io_uring by `complete_abandoned` when the late CQE
//! arrives; on the pool by the op's drop (the fd waits in the op until `complete`
//! takes it).

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::driver::op::{OpCode, Readiness};

/// Opens `path` with `flags` (the caller includes `O_CLOEXEC`) and `mode` (for
/// `O_CREAT`).
#[derive(Debug)]
pub(crate) struct OpenAt {
    /// The kernel reads it from its heap bytes, which moving the op does not move.
    path: CString,
    flags: libc::c_int,
    mode: libc::mode_t,
    /// The fd the readiness half opened, until `complete` hands it out: if the op is
    /// dropped instead (its future is gone), this closes it.
    opened: Option<OwnedFd>,
}

impl OpenAt {
    pub(crate) fn new(path: CString, flags: libc::c_int, mode: libc::mode_t) -> OpenAt {
        OpenAt {
            path,
            flags,
            mode,
            opened: None,
        }
    }

    /// Keeps the fd the readiness half opened (see `opened`).
    fn keep(&mut self, fd: RawFd) -> usize {
        // SAFETY: `fd` was just returned by a successful open: a new fd nobody owns.
        self.opened = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        fd as usize
    }
}

impl OpCode for OpenAt {
    type Output = io::Result<OwnedFd>;

    #[cfg(ringtide_uring)]
    const OPCODE: u8 = io_uring::opcode::OpenAt::CODE;

    #[cfg(ringtide_uring)]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::OpenAt::new(io_uring::types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags)
            .mode(self.mode)
            .build()
    }

    #[cfg(ringtide_uring)]
    fn complete_abandoned(&mut self, result: i32) {
        if result >= 0 {
            // SAFETY: a successful OPENAT's result is a new fd, and its future is gone:
            // nobody else will ever own it.
            drop(unsafe { OwnedFd::from_raw_fd(result) });
        }
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    #[cfg(ringtide_uring)]
    const NOWAIT_BEFORE_RING: bool = true;

    fn attempt_nowait(&mut self) -> Option<io::Result<usize>> {
        #[cfg(target_os = "linux")]
        {
            let fd = cached::open(&self.path, self.flags)?;
            Some(fd.map(|fd| self.keep(fd)))
        }
        #[cfg(not(target_os = "linux"))]
        None
    }

    fn attempt(&mut self) -> io::Result<usize> {
        loop {
            // SAFETY: `path` is a NUL-terminated string this op owns; `openat` reads
            // it and takes the mode as a variadic `unsigned int`.
            let fd = unsafe {
                libc::openat(
                    libc::AT_FDCWD,
                    self.path.as_ptr(),
                    self.flags,
                    libc::c_uint::from(self.mode),
                )
            };
            if fd >= 0 {
                return Ok(self.keep(fd));
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }

    fn complete(mut self, result: io::Result<usize>) -> io::Result<OwnedFd> {
        if let Some(fd) = self.opened.take() {
            return Ok(fd);
        }
        // Not opened by the readiness half: the result is the ring's.
        result.map(|fd| {
            // SAFETY: a successful OPENAT CQE's result is a new fd that nobody owns.
            unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
        })
    }
}

/// The inline open of the readiness half (see the module docs).
#[cfg(target_os = "linux")]
mod cached {
    use std::ffi::CStr;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// `struct open_how` (linux/openat2.h); libc's is `non_exhaustive`.
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }

    /// Set once the kernel refused `openat2` or `RESOLVE_CACHED` for a plain open
    /// (before 5.6 or 5.12): from then on every open goes to the pool at once.
    static UNSUPPORTED: AtomicBool = AtomicBool::new(false);

    /// Opens `path` if that needs no disk access and no waiting: `None` otherwise (or
    /// when the kernel cannot tell), and then no fd was opened or kept.
    pub(super) fn open(path: &CStr, flags: libc::c_int) -> Option<io::Result<RawFd>> {
        if UNSUPPORTED.load(Ordering::Relaxed)
            || flags & (libc::O_CREAT | libc::O_TRUNC) != 0
            || flags & libc::O_TMPFILE == libc::O_TMPFILE
        {
            return None;
        }
        let how = OpenHow {
            flags: (flags | libc::O_NONBLOCK) as u32 as u64,
            mode: 0,
            resolve: libc::RESOLVE_CACHED,
        };
        // SAFETY: `path` is NUL-terminated and `how` is a valid `open_how` of the size
        // passed; the kernel only reads both.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                libc::AT_FDCWD,
                path.as_ptr(),
                &raw const how,
                size_of::<OpenHow>(),
            )
        };
        if fd < 0 {
            let error = io::Error::last_os_error();
            return match error.raw_os_error() {
                // A lookup that needs the disk, a lease to break, a FIFO without a
                // reader (`O_NONBLOCK` write): the pool does the real open.
                Some(libc::EAGAIN | libc::ENXIO) => None,
                // No `openat2` or no `RESOLVE_CACHED` (or flags `openat2` refuses but
                // `openat` ignores): the pool's `openat` decides.
                Some(libc::ENOSYS) => {
                    UNSUPPORTED.store(true, Ordering::Relaxed);
                    None
                }
                Some(libc::EINVAL | libc::E2BIG) => None,
                _ => Some(Err(error)),
            };
        }
        // SAFETY: a new fd from the successful open above, owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        if !opens_without_waiting(&fd) {
            // Dropping it closes it: the pool opens the path as asked.
            return None;
        }
        if flags & libc::O_NONBLOCK == 0 && !clear_nonblocking(&fd) {
            return None;
        }
        use std::os::fd::IntoRawFd;
        Some(Ok(fd.into_raw_fd()))
    }

    /// Whether a blocking open of this file would not have waited either: a regular
    /// file or a directory (a FIFO waits for its other end, a device may wait too).
    fn opens_without_waiting(fd: &OwnedFd) -> bool {
        // SAFETY: all zeroes is a valid `statx` buffer.
        let mut stat: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: an empty path with `AT_EMPTY_PATH` names the fd; the kernel writes
        // the buffer passed. `AT_STATX_DONT_SYNC`: cached attributes, no round trip to
        // a network file system's server.
        let result = unsafe {
            libc::statx(
                fd.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC,
                libc::STATX_TYPE,
                &mut stat,
            )
        };
        if result < 0 || stat.stx_mask & libc::STATX_TYPE == 0 {
            return false;
        }
        let kind = libc::mode_t::from(stat.stx_mode) & libc::S_IFMT;
        kind == libc::S_IFREG || kind == libc::S_IFDIR
    }

    /// Drops the `O_NONBLOCK` the inline open added (what io_uring's OPENAT does too).
    fn clear_nonblocking(fd: &OwnedFd) -> bool {
        // SAFETY: fcntl on an fd we own; no memory is passed.
        let status = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        // SAFETY: as above.
        status >= 0
            && unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, status & !libc::O_NONBLOCK) }
                >= 0
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    use std::os::fd::AsRawFd;

    use super::*;

    fn c(path: &std::path::Path) -> CString {
        CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str())).unwrap()
    }

    #[cfg(target_os = "linux")]
    fn status_flags(fd: &OwnedFd) -> libc::c_int {
        // SAFETY: F_GETFL only reads the fd's flags.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) }
    }

    /// A scratch directory of this test's own, removed on drop.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let path = std::env::temp_dir()
                .join(format!("ringtide-open_at-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir(&path).unwrap();
            Scratch(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_inline_open_of_a_cached_regular_file_keeps_no_o_nonblock() {
        let scratch = Scratch::new("regular");
        let path = scratch.0.join("file");
        std::fs::write(&path, b"x").unwrap();
        // Looked up once, so every component is in the dentry cache.
        std::fs::metadata(&path).unwrap();
        let mut open = OpenAt::new(c(&path), libc::O_RDONLY | libc::O_CLOEXEC, 0);
        let result = open.attempt_nowait().expect("cached: done inline");
        assert!(result.is_ok());
        let fd = open.complete(result).unwrap();
        assert_eq!(status_flags(&fd) & libc::O_NONBLOCK, 0);
        // Asked for, it stays.
        let mut open = OpenAt::new(c(&path), libc::O_RDONLY | libc::O_NONBLOCK, 0);
        let result = open.attempt_nowait().expect("cached: done inline");
        let fd = open.complete(result).unwrap();
        assert_ne!(status_flags(&fd) & libc::O_NONBLOCK, 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_inline_open_leaves_creating_truncating_and_fifo_opens_to_the_pool() {
        let scratch = Scratch::new("pool");
        let path = scratch.0.join("file");
        std::fs::write(&path, b"x").unwrap();
        for flags in [
            libc::O_WRONLY | libc::O_CREAT,
            libc::O_WRONLY | libc::O_TRUNC,
            libc::O_RDWR | libc::O_TMPFILE,
        ] {
            let mut open = OpenAt::new(c(&path), flags, 0o600);
            assert!(open.attempt_nowait().is_none(), "flags {flags:#x}");
            assert!(open.opened.is_none());
        }
        // A FIFO's blocking open waits for the other end: never opened inline.
        let fifo = scratch.0.join("fifo");
        let fifo_c = c(&fifo);
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo_c.as_ptr(), 0o600) }, 0);
        std::fs::metadata(&fifo).unwrap();
        for flags in [libc::O_RDONLY, libc::O_WRONLY] {
            let mut open = OpenAt::new(fifo_c.clone(), flags | libc::O_CLOEXEC, 0);
            assert!(open.attempt_nowait().is_none(), "FIFO flags {flags:#x}");
            assert!(open.opened.is_none(), "the inline fd was closed");
        }
    }

    #[test]
    fn the_pool_open_reports_errors_and_keeps_its_fd_until_completed() {
        let scratch = Scratch::new("errors");
        let missing = scratch.0.join("missing");
        let mut open = OpenAt::new(c(&missing), libc::O_RDONLY | libc::O_CLOEXEC, 0);
        let result = open.attempt();
        assert_eq!(
            open.complete(result).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );

        let created = scratch.0.join("created");
        let mut open = OpenAt::new(
            c(&created),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0o600,
        );
        let raw = open.attempt().unwrap() as RawFd;
        // Dropped before `complete` (its future is gone): the fd is closed with it.
        drop(open);
        // SAFETY: F_GETFD only inspects the descriptor table.
        assert!(unsafe { libc::fcntl(raw, libc::F_GETFD) } < 0, "leaked");
        assert!(created.exists());
    }

    #[cfg(ringtide_uring)]
    #[test]
    fn a_late_open_completion_closes_its_fd() {
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        let raw = std::os::fd::IntoRawFd::into_raw_fd(file);
        let mut open = OpenAt::new(c(std::path::Path::new("/proc/self/stat")), 0, 0);
        open.complete_abandoned(raw);
        // SAFETY: F_GETFD only inspects the descriptor table.
        assert!(unsafe { libc::fcntl(raw, libc::F_GETFD) } < 0, "leaked");
        open.complete_abandoned(-libc::ENOENT);
    }
}
