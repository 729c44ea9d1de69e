//! `create_dir` (native MKDIRAT on io_uring) and `create_dir_all` (`std::fs` on the
//! blocking pool: a walk up and down the path whose every step depends on the last).

use std::io;
use std::path::Path;

use crate::fs::on_pool::on_pool;
use crate::op::mkdir_at::MkDirAt;
use crate::op::run::run;
use crate::sys::path::os_path;

/// The mode of a new directory before the umask, as `std::fs::create_dir` uses.
pub(crate) const DEFAULT_DIR_MODE: u32 = 0o777;

/// Creates a new, empty directory at `path`; the async version of
/// [`std::fs::create_dir`].
///
/// On io_uring this is one MKDIRAT submission; on mio (or a kernel without MKDIRAT) the
/// same `mkdir` runs on the blocking pool.
///
/// # Errors
///
/// The errors of `std::fs::create_dir`, among them `AlreadyExists` when `path` exists,
/// `NotFound` when a parent is missing and `NotADirectory` when a parent is a file.
///
/// # Examples
///
/// ```
/// # #[ringtide::main]
/// # async fn main() -> std::io::Result<()> {
/// let dir = std::env::temp_dir().join(format!("ringtide-create-dir-{}", std::process::id()));
/// ringtide::fs::create_dir(&dir).await?;
/// assert!(dir.is_dir());
/// ringtide::fs::remove_dir(&dir).await?;
/// # Ok(())
/// # }
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = os_path(path.as_ref())?;
    run(None, MkDirAt::new(path, DEFAULT_DIR_MODE)).await
}

/// Creates a directory and every missing parent; the async version of
/// [`std::fs::create_dir_all`]. A directory that already exists is success.
///
/// Runs `std::fs::create_dir_all` on the blocking pool on both backends.
///
/// # Errors
///
/// The errors of `std::fs::create_dir_all`: `AlreadyExists` when `path` (or a
/// component) exists and is not a directory, `NotADirectory` when a parent is a file,
/// `PermissionDenied`, ...
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    on_pool(move || std::fs::create_dir_all(path)).await
}
