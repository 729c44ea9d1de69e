//! [`OpenOptions`]: how to open a file (std's and tokio's builder), and the flags it
//! turns into, with std's rules for impossible combinations.
//!
//! On Windows the open is std's (`CreateFileW`) on the blocking pool, with std's
//! `OpenOptions` (which applies the same rules); the Unix extensions `mode` and
//! `custom_flags` do not exist there.

use std::io;
use std::path::Path;

use super::file::File;
#[cfg(windows)]
use crate::fs::on_pool::on_pool;
#[cfg(unix)]
use crate::op;
#[cfg(unix)]
use crate::op::open_at::OpenAt;
#[cfg(unix)]
use crate::sys::path::os_path;

/// Options for opening a file, as [`std::fs::OpenOptions`] (with the Unix extensions
/// [`mode`](OpenOptions::mode) and [`custom_flags`](OpenOptions::custom_flags) as
/// methods), opening asynchronously.
///
/// io_uring: one OPENAT. mio: an inline `openat2(RESOLVE_CACHED)` when every path
/// component is cached and the open neither creates nor truncates, else `openat` on
/// the blocking pool (see the [module documentation](crate::fs)).
///
/// Errors are std's, by kind: `NotFound`, `AlreadyExists` (`create_new` of an existing
/// path), `PermissionDenied`, `IsADirectory` (a directory opened for writing),
/// `NotADirectory`, and `InvalidInput` for combinations std refuses (no access mode;
/// `truncate`, `create` or `create_new` without write access; `truncate` with
/// `append`, unless `create_new`) and for a path containing a NUL byte.
///
/// ```
/// use ringtide::fs::OpenOptions;
///
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("ringtide-doc-options-{}", std::process::id()));
/// let file = OpenOptions::new()
///     .write(true)
///     .create_new(true)
///     .mode(0o600)
///     .open(&path)
///     .await?;
/// let again = OpenOptions::new().write(true).create_new(true).open(&path).await;
/// assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// # drop(file);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
///
/// Direct I/O: `custom_flags(libc::O_DIRECT)` with [`AlignedBuf`](crate::io::AlignedBuf)
/// buffers, offsets and lengths aligned to the device's logical block size.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    #[cfg(unix)]
    mode: u32,
    #[cfg(unix)]
    custom_flags: i32,
}

impl OpenOptions {
    /// Every option off; the mode for new files is `0o666` (less the umask).
    pub fn new() -> OpenOptions {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            #[cfg(unix)]
            mode: 0o666,
            #[cfg(unix)]
            custom_flags: 0,
        }
    }

    /// Read access.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.read = read;
        self
    }

    /// Write access.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.write = write;
        self
    }

    /// Append mode: every write goes to the end of the file (implies write access).
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.append = append;
        self
    }

    /// Truncate an existing file to length 0 (needs write access).
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.truncate = truncate;
        self
    }

    /// Create the file if it does not exist (needs write or append access).
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.create = create;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists (atomically:
    /// `O_CREAT | O_EXCL`, no symlink followed). Overrides `create` and `truncate`.
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.create_new = create_new;
        self
    }

    /// The permission bits of a created file (`open(2)`'s mode, less the umask);
    /// `0o666` by default. Unix only.
    #[cfg(unix)]
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.mode = mode;
        self
    }

    /// Extra `open(2)` flags, such as `libc::O_DIRECT`, `O_NOATIME` or `O_NOFOLLOW`.
    /// The access-mode bits (`O_ACCMODE`) are ignored: use `read`/`write`. `O_CLOEXEC`
    /// is always set. Unix only.
    #[cfg(unix)]
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.custom_flags = flags;
        self
    }

    /// Opens `path` with these options.
    ///
    /// # Errors
    ///
    /// See the type's documentation.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        self.open_path(path.as_ref()).await
    }

    #[cfg(unix)]
    async fn open_path(&self, path: &Path) -> io::Result<File> {
        let flags = self.flags()?;
        let path = os_path(path)?;
        let fd = op::run(None, OpenAt::new(path, flags, self.mode as libc::mode_t)).await?;
        Ok(File::from_std(std::fs::File::from(fd)))
    }

    /// Windows: std's open on the blocking pool (std refuses the same impossible
    /// combinations, with `InvalidInput`). A dropped future's open still completes on
    /// the pool, and the file it opened is closed there.
    #[cfg(windows)]
    async fn open_path(&self, path: &Path) -> io::Result<File> {
        let mut options = std::fs::OpenOptions::new();
        options
            .read(self.read)
            .write(self.write)
            .append(self.append)
            .truncate(self.truncate)
            .create(self.create)
            .create_new(self.create_new);
        let path = path.to_owned();
        let file = on_pool(move || options.open(path)).await?;
        Ok(File::from_std(file))
    }

    /// The `open(2)` flags, or std's error for an impossible combination.
    #[cfg(unix)]
    fn flags(&self) -> io::Result<libc::c_int> {
        Ok(libc::O_CLOEXEC
            | self.access_mode()?
            | self.creation_mode()?
            | (self.custom_flags & !libc::O_ACCMODE))
    }

    #[cfg(unix)]
    fn access_mode(&self) -> io::Result<libc::c_int> {
        match (self.read, self.write, self.append) {
            (true, false, false) => Ok(libc::O_RDONLY),
            (false, true, false) => Ok(libc::O_WRONLY),
            (true, true, false) => Ok(libc::O_RDWR),
            (false, _, true) => Ok(libc::O_WRONLY | libc::O_APPEND),
            (true, _, true) => Ok(libc::O_RDWR | libc::O_APPEND),
            (false, false, false) => Err(invalid(
                "creating or opening a file needs read, write or append access",
            )),
        }
    }

    #[cfg(unix)]
    fn creation_mode(&self) -> io::Result<libc::c_int> {
        match (self.write, self.append) {
            (true, false) => {}
            (false, false) => {
                if self.truncate || self.create || self.create_new {
                    return Err(invalid(
                        "creating or truncating a file needs write or append access",
                    ));
                }
            }
            (_, true) => {
                if self.truncate && !self.create_new {
                    return Err(invalid(
                        "creating or truncating a file needs write or append access",
                    ));
                }
            }
        }
        Ok(match (self.create, self.truncate, self.create_new) {
            (false, false, false) => 0,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
        })
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

#[cfg(unix)]
fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}
