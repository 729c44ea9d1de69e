//! `DirBuilder`: creates directories with options (recursive, mode), like
//! `tokio::fs::DirBuilder`. A plain create is native (MKDIRAT with the mode) on
//! io_uring; a recursive one runs `std::fs::DirBuilder` on the blocking pool.

use std::io;
use std::path::Path;

use crate::fs::create_dir::DEFAULT_DIR_MODE;
use crate::fs::on_pool::on_pool;
use crate::op::mkdir_at::MkDirAt;
use crate::op::run::run;
use crate::sys::path::os_path;

/// Creates directories with options; the async version of [`std::fs::DirBuilder`].
///
/// # Examples
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
///
/// use ringtide::fs::DirBuilder;
///
/// # #[ringtide::main]
/// # async fn main() -> std::io::Result<()> {
/// let root = std::env::temp_dir().join(format!("ringtide-dir-builder-{}", std::process::id()));
/// DirBuilder::new()
///     .recursive(true)
///     .mode(0o750)
///     .create(root.join("a/b"))
///     .await?;
/// let mode = std::fs::metadata(root.join("a/b"))?.permissions().mode();
/// // The umask may take bits away, never add any.
/// assert_eq!(mode & 0o7777 & !0o750, 0);
/// ringtide::fs::remove_dir_all(&root).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct DirBuilder {
    recursive: bool,
    mode: Option<u32>,
}

impl DirBuilder {
    /// A builder for directories with mode `0o777` (before the umask) that fails when
    /// a parent is missing.
    pub fn new() -> DirBuilder {
        DirBuilder::default()
    }

    /// Whether [`create`](DirBuilder::create) also creates missing parents (each with
    /// this builder's mode) and accepts a directory that already exists.
    pub fn recursive(&mut self, recursive: bool) -> &mut DirBuilder {
        self.recursive = recursive;
        self
    }

    /// The permission bits of the directories created (before the umask). Unix only
    /// (as `std::os::unix::fs::DirBuilderExt::mode`).
    #[cfg(unix)]
    pub fn mode(&mut self, mode: u32) -> &mut DirBuilder {
        self.mode = Some(mode);
        self
    }

    /// Creates the directory `path` with this builder's options.
    ///
    /// Not recursive: one MKDIRAT on io_uring (`mkdir` on the blocking pool on mio).
    /// Recursive: `std::fs::DirBuilder::create` on the blocking pool on both backends.
    ///
    /// # Errors
    ///
    /// The errors of `std::fs::DirBuilder::create` with the same options.
    pub async fn create(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let mode = self.mode.unwrap_or(DEFAULT_DIR_MODE);
        if self.recursive {
            let path = path.as_ref().to_owned();
            on_pool(move || {
                crate::sys::path::dir_builder(mode)
                    .recursive(true)
                    .create(path)
            })
            .await
        } else {
            let path = os_path(path.as_ref())?;
            run(None, MkDirAt::new(path, mode)).await
        }
    }
}
