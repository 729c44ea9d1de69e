//! `DirEntry`: one entry of a [`ReadDir`](crate::fs::ReadDir), like
//! `tokio::fs::DirEntry`.
//!
//! Built on the blocking pool while a batch of entries is read, where its file type is
//! also taken (from the directory listing's `d_type`, with an `lstat` only on file
//! systems that do not fill it in), so [`DirEntry::file_type`] usually needs no second
//! trip to the pool.

use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::fs::on_pool::on_pool;

/// An entry of a directory, returned by [`ReadDir::next_entry`](crate::fs::ReadDir::next_entry).
#[derive(Debug)]
pub struct DirEntry {
    /// Shared with pool calls that ask for more ([`metadata`](DirEntry::metadata)).
    std: Arc<std::fs::DirEntry>,
    /// Taken while the entry was read; `None` when that failed (asked again later).
    file_type: Option<FileType>,
}

impl DirEntry {
    /// Wraps `std`, taking its file type; call on the blocking pool (it may `lstat`).
    pub(crate) fn from_std(std: std::fs::DirEntry) -> DirEntry {
        let file_type = std.file_type().ok();
        DirEntry {
            std: Arc::new(std),
            file_type,
        }
    }

    /// The entry's full path: the path given to [`read_dir`](crate::fs::read_dir)
    /// joined with [`file_name`](DirEntry::file_name).
    pub fn path(&self) -> PathBuf {
        self.std.path()
    }

    /// The entry's name in its directory (no leading path).
    pub fn file_name(&self) -> OsString {
        self.std.file_name()
    }

    /// The entry's inode number, as the directory listing reports it. Unix only (as
    /// `std::os::unix::fs::DirEntryExt::ino`).
    #[cfg(unix)]
    pub fn ino(&self) -> u64 {
        std::os::unix::fs::DirEntryExt::ino(&*self.std)
    }

    /// The entry's file type (a symlink is reported as a symlink, not followed).
    /// Usually known from the listing; otherwise asked on the blocking pool.
    ///
    /// # Errors
    ///
    /// The errors of `std::fs::DirEntry::file_type`, such as `NotFound` when the entry
    /// was removed since it was listed and its type was not in the listing.
    pub async fn file_type(&self) -> io::Result<FileType> {
        if let Some(file_type) = self.file_type {
            return Ok(file_type);
        }
        let std = Arc::clone(&self.std);
        on_pool(move || std.file_type()).await
    }

    /// The entry's metadata, not following a symlink (like
    /// [`symlink_metadata`](crate::fs::symlink_metadata) of [`path`](DirEntry::path)),
    /// asked on the blocking pool.
    ///
    /// # Errors
    ///
    /// The errors of `std::fs::DirEntry::metadata`, such as `NotFound` when the entry
    /// was removed since it was listed.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = Arc::clone(&self.std);
        on_pool(move || std.metadata()).await
    }
}
