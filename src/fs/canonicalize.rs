//! `canonicalize` (`std::fs` on the blocking pool: `realpath` is a walk of lookups
//! io_uring has no opcode for).

use std::io;
use std::path::{Path, PathBuf};

use crate::fs::on_pool::on_pool;

/// The absolute form of `path` with every symlink resolved and no `.`/`..` components;
/// the async version of [`std::fs::canonicalize`].
///
/// Runs `std::fs::canonicalize` on the blocking pool on both backends.
///
/// # Errors
///
/// The errors of `std::fs::canonicalize`: `NotFound` when `path` (or a link in it)
/// does not resolve, `NotADirectory`, ...
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    on_pool(move || std::fs::canonicalize(path)).await
}
