//! [`FileFd`]: a file's fd, the value of the file's `FdOwner` (see `io::shared_fd`), and
//! [`Handoff`], through which [`File::close`](super::File::close) and
//! [`File::into_std`](super::File::into_std) wait for the ops still using the fd.
//!
//! The value is dropped, closing the fd with `close(2)`, once the `File` and every op
//! that used the fd are gone (each op held an `FdRef`), on whichever thread lets go
//! last: the `File`'s drop, an io_uring ring's thread at the final CQE of a cancelled
//! op, or a blocking-pool thread whose op's future was dropped.
//!
//! An explicit close (or `into_std`) wants the fd itself, but only once no op uses it:
//! when ops are still in flight, it registers a [`Handoff`] with the value and lets go
//! of its owner. The last user's drop then hands the file over instead of closing it,
//! and wakes the waiting close, which closes it with an op that reports the error. If
//! that waiting future is dropped too, the file drops with the handoff: closed.

use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};

/// A file's fd (see the module documentation).
#[derive(Debug)]
pub(crate) struct FileFd {
    /// `None` only once handed out (`into_file`) or while being dropped.
    file: Option<std::fs::File>,
    /// Set by a close waiting for the last op: gets the file instead of `close(2)`.
    handoff: Mutex<Option<Arc<Handoff>>>,
}

impl FileFd {
    pub(super) fn new(file: std::fs::File) -> FileFd {
        FileFd {
            file: Some(file),
            handoff: Mutex::new(None),
        }
    }

    pub(super) fn file(&self) -> &std::fs::File {
        self.file.as_ref().expect("a file's fd is taken once")
    }

    /// Hands the file out: from here this value no longer closes it.
    pub(super) fn into_file(mut self) -> std::fs::File {
        self.file.take().expect("a file's fd is taken once")
    }

    /// From now on, whoever drops this value last gives the file to `handoff`.
    pub(super) fn hand_to(&self, handoff: Arc<Handoff>) {
        *self.handoff.lock().unwrap_or_else(PoisonError::into_inner) = Some(handoff);
    }
}

impl Drop for FileFd {
    fn drop(&mut self) {
        let Some(file) = self.file.take() else {
            return;
        };
        let handoff = self
            .handoff
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match handoff {
            Some(handoff) => handoff.deliver(file),
            // Closes the fd; its error (if any) has nobody to go to, as with std.
            None => drop(file),
        }
    }
}

// The fd owner's number: through `AsRawFd` (which gives `sys::AsRawIo`) on Unix; the
// file's handle on Windows.
#[cfg(unix)]
impl std::os::fd::AsRawFd for FileFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.file().as_raw_fd()
    }
}

#[cfg(windows)]
impl crate::sys::AsRawIo for FileFd {
    type Raw = crate::sys::RawFile;

    fn as_raw_io(&self) -> crate::sys::RawFile {
        use std::os::windows::io::AsRawHandle;
        crate::sys::RawFile::new(self.file().as_raw_handle())
    }
}

/// Where the last user of a file's fd leaves the file for a waiting close.
#[derive(Debug, Default)]
pub(super) struct Handoff {
    slot: Mutex<Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    file: Option<std::fs::File>,
    waker: Option<Waker>,
}

impl Handoff {
    fn deliver(&self, file: std::fs::File) {
        let waker = {
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            slot.file = Some(file);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Waits until the last user delivers the file.
    pub(super) async fn receive(&self) -> std::fs::File {
        std::future::poll_fn(|cx| {
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.file.take() {
                Some(file) => Poll::Ready(file),
                None => {
                    slot.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

// Unix: checks the descriptor table with `fcntl`.
#[cfg(all(test, unix))]
mod tests {
    use std::os::fd::{AsRawFd, RawFd};

    use super::*;
    use crate::io::shared_fd::FdOwner;

    fn is_open(fd: RawFd) -> bool {
        // SAFETY: F_GETFD only inspects the descriptor table.
        unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
    }

    fn a_file() -> std::fs::File {
        std::fs::File::open("/proc/self/stat").unwrap()
    }

    #[test]
    fn the_last_op_closes_the_file_without_a_handoff() {
        let owner = FdOwner::new(FileFd::new(a_file()));
        let raw = owner.raw();
        let op = owner.share();
        drop(owner);
        assert!(is_open(raw), "closed while an op holds it");
        drop(op);
        assert!(!is_open(raw));
    }

    #[test]
    fn the_last_op_hands_the_file_to_a_waiting_close() {
        let owner = FdOwner::new(FileFd::new(a_file()));
        let raw = owner.raw();
        let op = owner.share();
        let handoff = Arc::new(Handoff::default());
        owner.get().hand_to(handoff.clone());
        drop(owner);
        let receiving = std::thread::spawn({
            let handoff = handoff.clone();
            move || futures::executor::block_on(handoff.receive())
        });
        std::thread::spawn(move || drop(op)).join().unwrap();
        let file = receiving.join().unwrap();
        assert_eq!(file.as_raw_fd(), raw);
        assert!(is_open(raw), "handed over, not closed");
        drop(file);
        assert!(!is_open(raw));
    }

    #[test]
    fn a_handoff_nobody_waits_for_closes_the_file() {
        let owner = FdOwner::new(FileFd::new(a_file()));
        let raw = owner.raw();
        let handoff = Arc::new(Handoff::default());
        owner.get().hand_to(handoff.clone());
        drop(owner);
        assert!(is_open(raw), "in the handoff");
        drop(handoff);
        assert!(!is_open(raw));
    }
}
