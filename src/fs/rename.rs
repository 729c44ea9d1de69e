//! `rename` (native RENAMEAT on io_uring).

use std::io;
use std::path::Path;

use crate::op::rename_at::RenameAt;
use crate::op::run::run;
use crate::sys::path::os_path;

/// Renames a file or directory, replacing `to` if it exists (a file by a file, an
/// empty directory by a directory); the async version of [`std::fs::rename`].
///
/// On io_uring this is one RENAMEAT submission; on mio (or a kernel without RENAMEAT)
/// the same `rename` runs on the blocking pool.
///
/// # Errors
///
/// The errors of `std::fs::rename`: `NotFound` for a missing `from`, `NotADirectory`
/// when a directory would replace a file, `IsADirectory` when a file would replace a
/// directory, `DirectoryNotEmpty`, `InvalidInput` for a directory moved into itself,
/// `CrossesDevices`, ...
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let from = os_path(from.as_ref())?;
    let to = os_path(to.as_ref())?;
    run(None, RenameAt::new(from, to)).await
}
