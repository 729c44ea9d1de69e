//! Asking about a path: `metadata`, `symlink_metadata` and `try_exists`.
//!
//! All three run `std::fs` on the blocking pool on both backends. io_uring has STATX,
//! but tokio's API returns [`std::fs::Metadata`], which only `std` can build, and
//! STATX always goes to the kernel's io-wq workers anyway (about 45 µs measured here,
//! more than a blocking-pool round trip).

use std::fs::Metadata;
use std::io;
use std::path::Path;

use crate::fs::on_pool::on_pool;

/// The metadata of the file or directory at `path`, following symlinks; the async
/// version of [`std::fs::metadata`].
///
/// # Errors
///
/// The errors of `std::fs::metadata`: `NotFound` (also for a dangling symlink),
/// `NotADirectory` when a parent is a file, `PermissionDenied`, ...
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    on_pool(move || std::fs::metadata(path)).await
}

/// The metadata of `path` itself: for a symlink, the link's own, not its target's; the
/// async version of [`std::fs::symlink_metadata`].
///
/// # Errors
///
/// The errors of `std::fs::symlink_metadata`: `NotFound`, `NotADirectory`, ...
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    on_pool(move || std::fs::symlink_metadata(path)).await
}

/// Whether `path` exists (following symlinks: a dangling one does not); the async
/// version of [`std::fs::exists`].
///
/// # Errors
///
/// Only when existence cannot be decided: `NotADirectory` when a parent is a file,
/// `PermissionDenied` when a parent cannot be searched, ... A missing path is
/// `Ok(false)`, not an error.
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = path.as_ref().to_owned();
    on_pool(move || std::fs::exists(path)).await
}
