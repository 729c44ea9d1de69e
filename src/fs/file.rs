//! [`File`]: an open file driven by the runtime's I/O backend. This file holds the type,
//! opening, conversions, closing and the management calls (`sync_*`, `set_len`,
//! `metadata`, `set_permissions`, `try_clone`); positional I/O is in `fs::positional`,
//! cursor I/O (the owned-buffer stream traits and `seek`) in `fs::cursor`.
//!
//! The fd lives in an `FdOwner<FileFd>` (see `io::shared_fd` and `fs::file_fd`): every
//! op holds an `FdRef` to it, so the fd is closed only once the `File` and every op
//! that used it are gone.

use crate::fs::on_pool::on_pool;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::file_fd::{FileFd, Handoff};
use super::open_options::OpenOptions;
#[cfg(any(feature = "tokio-io", feature = "futures-io"))]
use super::poll_io::PollState;
use crate::io::shared_fd::{FdOwner, FileRef};
use crate::op;
use crate::op::close::Close;
use crate::op::fsync::Fsync;
use crate::op::ftruncate::Ftruncate;
use crate::sys::{OwnedFile, RawFile};

/// An open file, with owned-buffer reads and writes on either backend.
///
/// Positional I/O ([`read_at`](File::read_at), [`write_at`](File::write_at),
/// [`read_exact_at`](File::read_exact_at), [`write_all_at`](File::write_all_at)) takes
/// `&self`, so any number of reads and writes of one file can be in flight at once.
/// Cursor I/O goes through [`AsyncReadOwned`](crate::io::AsyncReadOwned) and
/// [`AsyncWriteOwned`](crate::io::AsyncWriteOwned) (`read_owned`, `write_all_owned`,
/// ...) and [`seek`](File::seek), at the file position the kernel keeps for the fd.
///
/// Every operation works the same on both backends; see the [module
/// documentation](crate::fs) for what runs where, and for cancel safety.
///
/// Dropping a `File` closes its fd once no operation uses it any more: at once, unless
/// an operation whose future was dropped is still in the kernel (io_uring) or on the
/// blocking pool (mio); then when that operation completes. A close error on drop is
/// lost, as with std; [`close`](File::close) reports it.
///
/// ```
/// use ringtide::fs::File;
/// use ringtide::io::AsyncWriteOwned;
///
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("ringtide-doc-file-{}", std::process::id()));
/// let mut file = File::options()
///     .read(true)
///     .write(true)
///     .create(true)
///     .truncate(true)
///     .open(&path)
///     .await?;
/// let (written, _) = file.write_all_owned(b"hello, file").await;
/// written?;
/// let (read, buf) = file.read_at(Vec::with_capacity(5), 7).await;
/// assert_eq!(read?, 4);
/// assert_eq!(buf, b"file");
/// file.close().await?;
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct File {
    fd: FdOwner<FileFd>,
    /// The poll traits' buffer and op in flight (`fs::poll_io`).
    #[cfg(any(feature = "tokio-io", feature = "futures-io"))]
    poll: PollState,
}

impl File {
    /// Opens a file for reading (`OpenOptions::new().read(true)`).
    ///
    /// # Errors
    ///
    /// As [`std::fs::File::open`]: `NotFound` when the path does not exist,
    /// `PermissionDenied`, ...
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens a file for writing, creating it or truncating it
    /// (`OpenOptions::new().write(true).create(true).truncate(true)`).
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Creates a new file for reading and writing; fails with `AlreadyExists` when the
    /// path exists (`OpenOptions::new().read(true).write(true).create_new(true)`).
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// A new [`OpenOptions`] (everything off), as `OpenOptions::new()`.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open std file. Its file position and flags stay as they are.
    pub fn from_std(file: std::fs::File) -> File {
        File {
            fd: FdOwner::new(FileFd::new(file)),
            #[cfg(any(feature = "tokio-io", feature = "futures-io"))]
            poll: PollState::default(),
        }
    }

    /// The std file, once no operation uses the fd any more (operations whose futures
    /// were dropped may still be in the kernel or on the blocking pool: this waits for
    /// them, so the fd is never handed out while one could still use it).
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(unused_mut, reason = "mut for the poll traits' flush")
    )]
    pub async fn into_std(mut self) -> std::fs::File {
        // A poll-side write's error is lost here, as tokio's `into_std` loses it.
        #[cfg(any(feature = "tokio-io", feature = "futures-io"))]
        let _ = self.finish_poll_ops().await;
        self.into_file_when_unused().await
    }

    /// The std file if no operation uses the fd at the moment, else the `File` back.
    #[allow(
        clippy::result_large_err,
        reason = "the error is the File itself, given back (tokio's signature)"
    )]
    pub fn try_into_std(self) -> Result<std::fs::File, File> {
        if self.fd.in_use() {
            return Err(self);
        }
        Ok(self.fd.take().into_file())
    }

    /// Closes the file and reports the outcome of `close(2)` (on network file systems
    /// the final flush can fail there with `EIO` or `ENOSPC`). Waits first for any
    /// operation whose future was dropped while the kernel or the blocking pool still
    /// had it.
    ///
    /// io_uring: a CLOSE op. mio: `close(2)` on the blocking pool (a final flush may
    /// wait on the network). Whatever the result, the fd is gone afterwards.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(unused_mut, reason = "mut for the poll traits' flush")
    )]
    pub async fn close(mut self) -> io::Result<()> {
        // A write of the poll traits still in flight completes first; its error, if
        // any, is the one reported (the fd is closed all the same).
        #[cfg(any(feature = "tokio-io", feature = "futures-io"))]
        let flushed = self.finish_poll_ops().await;
        #[cfg(not(any(feature = "tokio-io", feature = "futures-io")))]
        let flushed = Ok(());
        let file = self.into_file_when_unused().await;
        let closed = op::run(None, Close::new(OwnedFile::from(file))).await;
        flushed.and(closed)
    }

    async fn into_file_when_unused(self) -> std::fs::File {
        let owner = self.fd;
        if !owner.in_use() {
            return owner.take().into_file();
        }
        let handoff = Arc::new(Handoff::default());
        owner.get().hand_to(handoff.clone());
        // The last user (this, or an op completing meanwhile) hands the file over.
        drop(owner);
        handoff.receive().await
    }

    /// Flushes the file's data and metadata to the device (`fsync(2)`; io_uring: FSYNC).
    pub async fn sync_all(&self) -> io::Result<()> {
        op::run(None, Fsync::new(self.share(), false)).await
    }

    /// Flushes the file's data, and only the metadata needed to read it back
    /// (`fdatasync(2)`; io_uring: FSYNC with `DATASYNC`).
    pub async fn sync_data(&self) -> io::Result<()> {
        op::run(None, Fsync::new(self.share(), true)).await
    }

    /// Truncates or extends the file to `size` bytes (extended parts read as zeroes and
    /// take no space: a hole). The file position does not move.
    ///
    /// io_uring: FTRUNCATE (Linux 6.9+; the blocking pool on older kernels).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a size above `i64::MAX` (as std), and the file must be open
    /// for writing.
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        if i64::try_from(size).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "file size above i64::MAX",
            ));
        }
        op::run(None, Ftruncate::new(self.share(), size)).await
    }

    /// The file's metadata (`fstat` on the blocking pool, both backends).
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        let fd = self.share();
        on_pool(move || borrowed_std(&fd, std::fs::File::metadata)).await
    }

    /// Changes the file's permissions (`fchmod` on the blocking pool, both backends).
    pub async fn set_permissions(&self, permissions: std::fs::Permissions) -> io::Result<()> {
        let fd = self.share();
        on_pool(move || borrowed_std(&fd, |file| file.set_permissions(permissions))).await
    }

    /// A new `File` for the same open file description (`fcntl(F_DUPFD_CLOEXEC)`;
    /// Windows: `DuplicateHandle`; run inline: it never blocks): both share the file
    /// position and flags.
    pub async fn try_clone(&self) -> io::Result<File> {
        Ok(File::from_std(self.fd.get().file().try_clone()?))
    }

    /// The poll traits' state.
    #[cfg(any(feature = "tokio-io", feature = "futures-io"))]
    pub(super) fn poll_state(&mut self) -> &mut PollState {
        &mut self.poll
    }

    /// A hold on the fd for an op.
    pub(super) fn share(&self) -> FileRef {
        self.fd.share()
    }

    /// The fd's number (a handle on Windows).
    pub(super) fn raw(&self) -> RawFile {
        self.fd.raw()
    }

    /// The std file, borrowed.
    pub(super) fn std_file(&self) -> &std::fs::File {
        self.fd.get().file()
    }
}

/// Runs `call` on a std file that borrows `fd`'s number (and never closes it).
fn borrowed_std<T>(fd: &FileRef, call: impl FnOnce(&std::fs::File) -> T) -> T {
    // `fd` keeps the fd open for this whole call (a `FileRef` holds the file's fd cell).
    crate::sys::file::with_file(fd.raw(), call)
}

impl From<std::fs::File> for File {
    fn from(file: std::fs::File) -> File {
        File::from_std(file)
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File").field("fd", &self.fd.raw()).finish()
    }
}
