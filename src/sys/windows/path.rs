//! Paths on Windows: a path op keeps its `Path` as an owned `PathBuf` ([`OsPath`]) and
//! its readiness half runs std's call on the blocking pool (there is no io_uring to
//! hand a C string to). std converts the path to UTF-16 and refuses one with a NUL
//! inside (`InvalidInput`), as the Unix half does before the call.

use std::io;
use std::path::{Path, PathBuf};

/// A path as the calls take it.
pub(crate) type OsPath = PathBuf;

/// `path` as an [`OsPath`] (std checks it when the call runs).
pub(crate) fn os_path(path: &Path) -> io::Result<OsPath> {
    Ok(path.to_path_buf())
}

/// A `std::fs::DirBuilder`; `mode` has no meaning on Windows and is ignored.
pub(crate) fn dir_builder(mode: u32) -> std::fs::DirBuilder {
    let _ = mode;
    std::fs::DirBuilder::new()
}

/// `CreateDirectoryW`. `mode` has no meaning on Windows and is ignored.
pub(crate) fn mkdir(path: &OsPath, mode: u32) -> io::Result<()> {
    let _ = mode;
    std::fs::create_dir(path)
}

/// `DeleteFileW`, or with `directory` `RemoveDirectoryW` (an empty directory).
pub(crate) fn unlink(path: &OsPath, directory: bool) -> io::Result<()> {
    if directory {
        std::fs::remove_dir(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// `MoveFileExW` with `MOVEFILE_REPLACE_EXISTING` (std's `rename`: it replaces a file,
/// but unlike Unix fails when `to` is a directory).
pub(crate) fn rename(from: &OsPath, to: &OsPath) -> io::Result<()> {
    std::fs::rename(from, to)
}

/// `CreateHardLinkW`: a new name `link` for `original`.
pub(crate) fn hard_link(original: &OsPath, link: &OsPath) -> io::Result<()> {
    std::fs::hard_link(original, link)
}
