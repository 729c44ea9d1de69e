//! Links: `hard_link` and `symlink` (native LINKAT and SYMLINKAT on io_uring) and
//! `read_link` (`std::fs` on the blocking pool: io_uring has no readlink opcode).
//!
//! `symlink` is Unix-only, as in tokio: Windows tells file symlinks from directory
//! symlinks, so it has `symlink_file` and `symlink_dir` (std's, on the blocking pool)
//! instead.

use std::io;
use std::path::{Path, PathBuf};

use crate::fs::on_pool::on_pool;
use crate::op::link_at::LinkAt;
use crate::op::run::run;
#[cfg(unix)]
use crate::op::symlink_at::SymlinkAt;
use crate::sys::path::os_path;

/// Makes `link` a new name (a hard link) for the file `original`; the async version of
/// [`std::fs::hard_link`].
///
/// On io_uring this is one LINKAT submission; on mio (or a kernel without LINKAT) the
/// same `linkat` runs on the blocking pool.
///
/// # Errors
///
/// The errors of `std::fs::hard_link`: `NotFound`, `AlreadyExists` when `link` exists,
/// `PermissionDenied` for a directory, `CrossesDevices`, ...
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let original = os_path(original.as_ref())?;
    let link = os_path(link.as_ref())?;
    run(None, LinkAt::new(original, link)).await
}

/// Creates a symbolic link `link` pointing at `original` (stored as given: it need not
/// exist, and a relative one is resolved from `link`'s directory); the async version
/// of [`std::os::unix::fs::symlink`].
///
/// On io_uring this is one SYMLINKAT submission; on mio (or a kernel without
/// SYMLINKAT) the same `symlinkat` runs on the blocking pool.
///
/// # Errors
///
/// The errors of `std::os::unix::fs::symlink`: `AlreadyExists` when `link` exists,
/// `NotFound` when its parent is missing, ...
#[cfg(unix)]
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let original = os_path(original.as_ref())?;
    let link = os_path(link.as_ref())?;
    run(None, SymlinkAt::new(original, link)).await
}

/// Creates a symbolic link `link` to the file `original` (Windows); the async version
/// of [`std::os::windows::fs::symlink_file`], on the blocking pool.
///
/// # Errors
///
/// Its errors: `AlreadyExists` when `link` exists, `PermissionDenied` without the
/// privilege (or developer mode) Windows asks for, ...
#[cfg(windows)]
pub async fn symlink_file(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    on_pool(move || std::os::windows::fs::symlink_file(original, link)).await
}

/// Creates a symbolic link `link` to the directory `original` (Windows); the async
/// version of [`std::os::windows::fs::symlink_dir`], on the blocking pool.
///
/// # Errors
///
/// As [`symlink_file`].
#[cfg(windows)]
pub async fn symlink_dir(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    on_pool(move || std::os::windows::fs::symlink_dir(original, link)).await
}

/// What the symbolic link at `path` points at; the async version of
/// [`std::fs::read_link`].
///
/// Runs `std::fs::read_link` on the blocking pool on both backends.
///
/// # Errors
///
/// The errors of `std::fs::read_link`: `NotFound`, `InvalidInput` when `path` is not a
/// symlink, ...
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    on_pool(move || std::fs::read_link(path)).await
}
