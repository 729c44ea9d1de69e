//! Files and directories: `tokio::fs`'s API on both backends.
//!
//! Every function mirrors the `std::fs` call of the same name and returns the same
//! results and the same errors (each `io::Error` comes from the raw errno, so its
//! `kind()` is the one `std` gives: `NotFound`, `PermissionDenied`, `AlreadyExists`,
//! `IsADirectory`, `NotADirectory`, `DirectoryNotEmpty`, ...), whichever path runs it.
//! Like every ringtide I/O operation, they need a runtime with I/O (`enable_io()` or
//! `enable_all()`); outside one they return an error that says so.
//!
//! # Paths and directories
//!
//! Native on io_uring (one submission each, no thread-pool round trip), and on the
//! blocking pool (the same syscall) on mio or where the kernel lacks the opcode
//! (UNLINKAT and RENAMEAT arrived in Linux 5.11, MKDIRAT, SYMLINKAT and LINKAT in 5.15):
//!
//! | function | opcode |
//! |---|---|
//! | [`create_dir`], [`DirBuilder::create`] (not recursive) | MKDIRAT |
//! | [`remove_file`] | UNLINKAT |
//! | [`remove_dir`] | UNLINKAT with `AT_REMOVEDIR` |
//! | [`rename`] | RENAMEAT |
//! | [`hard_link`] | LINKAT |
//! | [`symlink`] | SYMLINKAT |
//!
//! On the blocking pool on both backends (`std::fs`), for want of an opcode or because
//! the answer is a `std` type:
//!
//! * [`metadata`], [`symlink_metadata`], [`try_exists`], [`DirEntry::metadata`]:
//!   `std::fs::Metadata` can only be built by `std` (and STATX runs on the kernel's
//!   io-wq threads anyway, no faster than the pool);
//! * [`read_dir`] (io_uring cannot list a directory; entries are read in batches, see
//!   [`ReadDir`]);
//! * [`read_link`], [`canonicalize`], [`set_permissions`];
//! * the walks, where each step depends on the last: [`create_dir_all`],
//!   [`DirBuilder::create`] when recursive, [`remove_dir_all`].
//!
//! A dropped future of a native op is cancelled like any other op (see `op::run`): the
//! kernel may still complete it, so the change happened or it did not, never half, and
//! the path strings stay allocated until the kernel is done with them. A dropped pool
//! call runs to the end on the pool.
//!
//! ```
//! #[ringtide::main]
//! async fn main() -> std::io::Result<()> {
//!     let root = std::env::temp_dir().join(format!("ringtide-fs-{}", std::process::id()));
//!     ringtide::fs::create_dir_all(root.join("a/b")).await?;
//!     ringtide::fs::rename(root.join("a/b"), root.join("c")).await?;
//!     ringtide::fs::symlink("c", root.join("link")).await?;
//!     assert_eq!(ringtide::fs::read_link(root.join("link")).await?, std::path::Path::new("c"));
//!     assert!(ringtide::fs::metadata(root.join("link")).await?.is_dir());
//!     ringtide::fs::remove_dir_all(&root).await?;
//!     assert!(!ringtide::fs::try_exists(&root).await?);
//!     Ok(())
//! }
//! ```

// Paths and directories: the free functions, `DirBuilder`, `read_dir`.
mod c_path;
mod canonicalize;
mod create_dir;
mod dir_builder;
mod dir_entry;
mod link;
mod metadata;
mod on_pool;
mod permissions;
mod read_dir;
mod remove;
mod rename;

pub use canonicalize::canonicalize;
pub use create_dir::{create_dir, create_dir_all};
pub use dir_builder::DirBuilder;
pub use dir_entry::DirEntry;
pub use link::{hard_link, read_link, symlink};
pub use metadata::{metadata, symlink_metadata, try_exists};
pub use permissions::set_permissions;
pub use read_dir::{ReadDir, read_dir};
pub use remove::{remove_dir, remove_dir_all, remove_file};
pub use rename::rename;
