//! `set_permissions` (`std::fs` on the blocking pool: io_uring has no chmod opcode).

use std::fs::Permissions;
use std::io;
use std::path::Path;

use crate::fs::on_pool::on_pool;

/// Sets the permissions of the file or directory at `path` (following symlinks); the
/// async version of [`std::fs::set_permissions`].
///
/// Runs `std::fs::set_permissions` on the blocking pool on both backends.
///
/// # Errors
///
/// The errors of `std::fs::set_permissions`: `NotFound`, `PermissionDenied` when the
/// caller does not own the file, ...
pub async fn set_permissions(path: impl AsRef<Path>, permissions: Permissions) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    on_pool(move || std::fs::set_permissions(path, permissions)).await
}
