//! Whole-file functions: [`read`], [`read_to_string`], [`write`], [`copy`].
//!
//! `read` opens the file and reads it to the end with a growing buffer: 16 KiB first,
//! then doubling, until a read returns 0. It never asks for the file's size first: on
//! io_uring a STATX goes to io-wq (about 45 µs here), many times the cost of reading a
//! small file from the page cache, while a second READ that confirms the end costs one
//! more inline completion. A file of up to 16 KiB therefore costs OPENAT, two READs and
//! a close. Files whose reported size is wrong (`/proc`, `/sys`) read correctly for the
//! same reason.

use std::io;
use std::path::Path;

use super::file::{File, on_pool};
use crate::op;
use crate::op::file_offset::FileOffset;
use crate::op::read_at::ReadAt;

/// The buffer of `read`'s first read: small files take one read (and one more that
/// finds the end).
const FIRST_READ: usize = 16 * 1024;

/// Reads a whole file into a `Vec` (as [`std::fs::read`]).
///
/// io_uring: OPENAT, then READs into a growing buffer until one returns 0 (no STATX),
/// then `close(2)`. mio: the same steps, the open and the reads inline when the caches
/// have them (`openat2(RESOLVE_CACHED)`, `preadv2(RWF_NOWAIT)`), else on the blocking
/// pool.
///
/// ```
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("ringtide-doc-read-{}", std::process::id()));
/// ringtide::fs::write(&path, b"some bytes").await?;
/// assert_eq!(ringtide::fs::read(&path).await?, b"some bytes");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// As [`File::open`], and the read's errors (`IsADirectory` for a directory).
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let file = File::open(path).await?;
    read_to_end(&file).await
}

/// Reads a whole file into a `String` (as [`std::fs::read_to_string`]).
///
/// # Errors
///
/// As [`read`], and `InvalidData` when the file is not valid UTF-8.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let bytes = read(path).await?;
    String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Writes `contents` as the whole file, creating or truncating it (as
/// [`std::fs::write`]). The bytes are copied into an owned buffer for the kernel.
///
/// # Errors
///
/// As [`File::create`], and the write's errors.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let buf = contents.as_ref().to_vec();
    let file = File::create(path).await?;
    file.write_all_at(buf, 0).await.0
}

/// Copies the contents and permission bits of `from` to `to` (created or truncated)
/// and returns the number of bytes copied (as [`std::fs::copy`]).
///
/// Runs `std::fs::copy` on the blocking pool on both backends: it copies inside the
/// kernel (`copy_file_range`, a reflink on file systems that share extents), which
/// no READ/WRITE loop through user memory can match.
///
/// # Errors
///
/// As [`std::fs::copy`]: `NotFound` for a missing `from`, `InvalidInput` when `from`
/// is not a regular file, ...
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let from = from.as_ref().to_owned();
    let to = to.as_ref().to_owned();
    on_pool(move || std::fs::copy(from, to)).await
}

/// Reads `file` from offset 0 to its end (see the module docs).
async fn read_to_end(file: &File) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(FIRST_READ);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity());
        }
        let start = buf.len();
        let offset = FileOffset::at(start as u64)?;
        let (result, returned) = op::run(None, ReadAt::new(file.share(), buf, start, offset)).await;
        buf = returned;
        match result {
            Ok(0) => return Ok(buf),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}
