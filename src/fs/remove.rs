//! Removing names: `remove_file` and `remove_dir` (native UNLINKAT on io_uring, the
//! latter with `AT_REMOVEDIR`) and `remove_dir_all` (`std::fs` on the blocking pool: a
//! walk that lists each directory, which io_uring cannot do).

use std::io;
use std::path::Path;

use crate::fs::on_pool::on_pool;
use crate::op::run::run;
use crate::op::unlink_at::UnlinkAt;
use crate::sys::path::os_path;

/// Removes a file (or a symlink, not its target); the async version of
/// [`std::fs::remove_file`].
///
/// On io_uring this is one UNLINKAT submission; on mio (or a kernel without UNLINKAT)
/// the same `unlink` runs on the blocking pool.
///
/// # Errors
///
/// The errors of `std::fs::remove_file`: `NotFound`, `IsADirectory` for a directory,
/// `PermissionDenied`, ...
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = os_path(path.as_ref())?;
    run(None, UnlinkAt::file(path)).await
}

/// Removes an empty directory; the async version of [`std::fs::remove_dir`].
///
/// On io_uring this is one UNLINKAT (`AT_REMOVEDIR`) submission; on mio (or a kernel
/// without UNLINKAT) the same `rmdir` runs on the blocking pool.
///
/// # Errors
///
/// The errors of `std::fs::remove_dir`: `NotFound`, `DirectoryNotEmpty`,
/// `NotADirectory` for a file, ...
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = os_path(path.as_ref())?;
    run(None, UnlinkAt::dir(path)).await
}

/// Removes a directory and everything in it (symlinks are removed, not followed); the
/// async version of [`std::fs::remove_dir_all`].
///
/// Runs `std::fs::remove_dir_all` on the blocking pool on both backends.
///
/// # Errors
///
/// The errors of `std::fs::remove_dir_all`: `NotFound`, `NotADirectory` for a file,
/// ...
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    on_pool(move || std::fs::remove_dir_all(path)).await
}
