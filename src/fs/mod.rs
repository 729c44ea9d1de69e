//! Files and directories: `tokio::fs`'s API on both backends.
//!
//! * Files: [`File`], [`OpenOptions`] and the whole-file functions [`read`],
//!   [`read_to_string`], [`write`](write()) and [`copy`], with owned buffers
//!   ([`IoBuf`](crate::io::IoBuf)/[`IoBufMut`](crate::io::IoBufMut), given back in a
//!   [`BufResult`](crate::io::BufResult)) wherever bytes move.
//! * Paths and directories: [`create_dir`], [`create_dir_all`], [`remove_file`],
//!   [`remove_dir`], [`remove_dir_all`], [`rename`], [`hard_link`], [`symlink`],
//!   [`read_link`], [`canonicalize`], [`set_permissions`], [`try_exists`],
//!   [`metadata`], [`symlink_metadata`], [`read_dir`] ([`ReadDir`], [`DirEntry`]) and
//!   [`DirBuilder`].
//!
//! Every function mirrors the `std::fs` call of the same name and returns the same
//! results and the same errors (each `io::Error` comes from the raw errno, so its
//! `kind()` is the one `std` gives: `NotFound`, `PermissionDenied`, `AlreadyExists`,
//! `IsADirectory`, `NotADirectory`, `DirectoryNotEmpty`, ...), whichever path runs it.
//! Like every ringtide I/O operation, they need a runtime with I/O (`enable_io()` or
//! `enable_all()`); outside one they return an error that says so.
//!
//! # Files: what runs where
//!
//! Files have no readiness, so the readiness backend (mio) runs blocking syscalls on
//! the runtime's blocking pool (about 25 µs a round trip here), except where a
//! non-blocking form of the syscall exists (see the next section). io_uring runs them
//! in the kernel (the kernel's own workers wait for the device, never a thread of
//! ours), after the same inline attempt for reads and opens.
//!
//! | Operation | io_uring | mio |
//! |-----------|----------|-----|
//! | open ([`File::open`], [`OpenOptions::open`], ...) | `openat2(RESOLVE_CACHED)` inline, else OPENAT | `openat2(RESOLVE_CACHED)` inline, else `openat` on the pool |
//! | [`File::read_at`], cursor reads, [`read`] | `preadv2(RWF_NOWAIT)` inline, else READ (READV for `readv_owned`) | `preadv2(RWF_NOWAIT)` inline, else `pread` on the pool |
//! | [`File::write_at`], cursor writes, [`write`](write()) | WRITE (WRITEV for `writev_owned`) | `pwrite` on the pool |
//! | [`File::sync_all`], [`File::sync_data`] | FSYNC (with DATASYNC) | `fsync`/`fdatasync` on the pool |
//! | [`File::set_len`] | FTRUNCATE (Linux 6.9+) | `ftruncate` on the pool |
//! | [`File::close`] | CLOSE | `close` on the pool |
//! | dropping a [`File`] | `close(2)` by whoever lets go last | the same |
//! | [`File::metadata`], [`File::set_permissions`] | `fstat`, `fchmod` on the pool | the same |
//! | [`File::seek`], [`File::try_clone`] | `lseek`, `fcntl` inline (they never wait for a device) | the same |
//! | tokio's / futures' `AsyncRead`, `AsyncBufRead`, `AsyncWrite`, `AsyncSeek` on [`File`] (features `tokio-io` / `futures-io`) | the READ/WRITE above through a buffer of 64 KiB - 2 MiB kept in the `File` (write-behind; see `fs::poll_io`) | the same, through the pool |
//! | [`copy`] | `std::fs::copy` on the pool (`copy_file_range`: the kernel copies) | the same |
//!
//! Where the kernel lacks an io_uring opcode (FTRUNCATE before 6.9, say; the runtime
//! probes them once), that operation takes the mio column's path on an io_uring
//! runtime: same results, no error.
//!
//! # The `RWF_NOWAIT` rule (both backends)
//!
//! A file operation that has a non-blocking form tries it inline, on the worker, and
//! goes to the blocking pool (mio) or the ring (io_uring) only when that form says it
//! would have to wait (a cached read is one syscall, cheaper than a pool round trip,
//! and cheaper than an SQE and its completion too: see `op::run`):
//!
//! * reads call `preadv2(..., RWF_NOWAIT)`: a page-cache hit returns the bytes (about
//!   1 µs instead of a pool round trip); `EAGAIN` (not cached) sends the read on. A read that is only partly cached returns the cached part (a short read,
//!   which `read_exact_at` and [`read`] continue);
//! * opens that neither create nor truncate call `openat2` with `RESOLVE_CACHED` (and
//!   `O_NONBLOCK`): `EAGAIN` when a path component is not in the dentry cache (or a
//!   lease would have to be broken) sends the open on. Only a regular file or a
//!   directory is kept from the inline open (a FIFO or a device would have made a
//!   blocking open wait); anything else is closed and opened again the other way;
//! * kernels or file systems without these forms (`ENOSYS`, `EINVAL`, `EOPNOTSUPP`)
//!   take the other way, with the same results.
//!
//! Off Linux (macOS, the BSDs: mio only) neither form exists: there is no inline
//! attempt, and reads and opens go straight to the blocking pool (`pread`, `openat`),
//! as writes do. `fdatasync` is `fsync` on Apple targets.
//!
//! # Windows
//!
//! Every file operation runs on the blocking pool, with the same signatures and
//! results, through std's calls on the file's handle (see `sys::windows::file`), with
//! these differences:
//!
//! * [`File::read_at`]/[`File::write_at`] are std's `FileExt::seek_read`/`seek_write`:
//!   they **move the file position** to the end of the transfer (a Unix `pread`
//!   leaves it alone), so do not mix them with cursor I/O on one `File` without a
//!   [`File::seek`] in between;
//! * vectored reads and writes (`readv_owned`/`writev_owned`) transfer the first
//!   non-empty buffer only (a short transfer, as std's default `read_vectored` does);
//! * [`File::sync_data`] flushes metadata too (`FlushFileBuffers`), [`File::close`]
//!   reports `CloseHandle`'s error;
//! * [`OpenOptions::open`] is std's open on the pool; `mode` and `custom_flags` are
//!   Unix-only, as are [`DirBuilder::mode`], [`DirEntry::ino`] and [`symlink`] (Windows
//!   has `symlink_file` and `symlink_dir`);
//! * `File` implements `AsHandle`/`AsRawHandle` instead of `AsFd`/`AsRawFd`.
//!
//! Each inline attempt spends one unit of the task's cooperative budget, so a task
//! whose reads always hit the page cache still yields to others. Writes, syncs and
//! truncation always go to the pool on mio.
//!
//! # Cancel safety
//!
//! Dropping a future of this module before it completes cancels the operation without
//! freeing anything early or leaking an fd:
//!
//! * the buffer stays owned by the operation until the kernel (io_uring) or the pool
//!   thread (mio) is done with it, then it is freed; bytes a cancelled read took are
//!   lost with it, and a cancelled write may have written some, all or none of its
//!   bytes;
//! * a cancelled open closes the fd it produced when it completes anyway (io_uring: the
//!   late completion; mio: the pool thread);
//! * the file's fd stays open while any operation that uses it is in flight, even one
//!   whose future is gone: dropping a `File` closes its fd only after they completed,
//!   and [`File::close`]/[`File::into_std`] wait for them;
//! * a cancelled cursor read or write may still move the file position when it
//!   completes: `seek` before the next cursor operation.
//!
//! Shutting the runtime down with file operations in flight neither hangs nor leaks
//! their fds: io_uring cancels them and waits for their completions when its rings
//! close; the pool finishes the ones that started and drops the ones that had not.
//!
//! # Direct I/O
//!
//! [`OpenOptions::custom_flags`] takes `libc::O_DIRECT`; its reads and writes need
//! buffers, offsets and lengths aligned to the device's logical block size:
//! [`AlignedBuf`](crate::io::AlignedBuf) provides the buffers.
//! `O_DIRECT` is Linux's (FreeBSD has one too; `libc` spells it per target). macOS has
//! none: its analogue is `fcntl(fd, F_NOCACHE, 1)` on the opened file (through
//! [`AsRawFd`](std::os::fd::AsRawFd)), which bypasses the cache without the alignment
//! rule.

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

// fs::File, OpenOptions and the whole-file functions.
mod cursor;
mod file;
mod file_fd;
mod open_options;
#[cfg(any(feature = "tokio-io", feature = "futures-io"))]
mod poll_io;
mod positional;
mod raw_handle;
mod read_write;

pub use file::File;
pub use open_options::OpenOptions;
pub use read_write::{copy, read, read_to_string, write};

// Paths and directories: the free functions, `DirBuilder`, `read_dir`.
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
#[cfg(unix)]
pub use link::symlink;
pub use link::{hard_link, read_link};
#[cfg(windows)]
pub use link::{symlink_dir, symlink_file};
pub use metadata::{metadata, symlink_metadata, try_exists};
pub use permissions::set_permissions;
pub use read_dir::{ReadDir, read_dir};
pub use remove::{remove_dir, remove_dir_all, remove_file};
pub use rename::rename;
