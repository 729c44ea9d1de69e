//! Whole-file functions: [`read`], [`read_to_string`], [`write`](write()), [`copy`].
//!
//! `read` opens the file and reads from offset 0 until a read returns 0. It never
//! asks for the size before reading: on io_uring a STATX op goes to io-wq (about 45 µs
//! here), many times the cost of reading a small file from the page cache. The steps:
//!
//! 1. one read into a 16 KiB buffer. A file that fits takes one more read, which finds
//!    the end, and the buffer shrinks to the file (in place: a block this small is
//!    never copied). So a file of up to 16 KiB costs an open, two reads and a close;
//! 2. a file that filled the buffer is larger: its size as the kernel has it cached
//!    (`statx` with `AT_STATX_DONT_SYNC`, inline: no io-wq, no round trip to a network
//!    file system's server) sizes the buffer for the rest plus one byte, so the next
//!    read takes the rest and the one after finds the end;
//! 3. a file without a size (`/proc`, `/sys`) or one that grew meanwhile doubles the
//!    buffer whenever it is full.
//!
//! Measured (release build, page cache hot, ext4, a current-thread runtime, 5000 calls
//! in a row, three runs): a 4 KiB file 2.4–2.6 µs on io_uring and 1.5–1.6 µs on mio
//! (std::fs::read 1.1–1.3 µs, tokio::fs::read 25–55 µs); a 64 KiB file 4.8–5.0 µs and
//! 3.5–3.7 µs (std 2.6 µs). Growing by 2 from 16 KiB instead took 5.3–5.8 µs and
//! 3.6–4.0 µs for 64 KiB; growing by 4 took 4.3–4.6 and 3.3 µs but left a 256 KiB
//! buffer behind, and shrinking that cost 30 µs (the allocator moves a block that
//! large).
//!
//! A linked OPENAT→READ→CLOSE chain (`IOSQE_IO_LINK`) needs the fd before the open has
//! run, i.e. registered (direct) file slots, which the rings do not have: not built.

use std::io;
use std::path::Path;

use super::file::File;
use crate::fs::on_pool::on_pool;
use crate::op;
use crate::op::file_offset::FileOffset;
use crate::op::read_at::ReadAt;

/// The buffer of `read`'s first read: small files take one read (and one more that
/// finds the end).
const FIRST_READ: usize = 16 * 1024;

/// Reads a whole file into a `Vec` (as [`std::fs::read`]).
///
/// io_uring: OPENAT, then READs until one returns 0 (no STATX op: a file of up to
/// 16 KiB takes two READs; a larger one is sized by a cached `statx` and takes two or
/// three), then `close(2)`. mio: the same steps, the open and the reads inline when the caches
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
    let mut sized = false;
    loop {
        if buf.len() == buf.capacity() {
            let hint = if sized { None } else { cached_size(file) };
            sized = true;
            match hint {
                // Room for the rest, and one byte for the read that finds the end.
                Some(size) if size > buf.len() as u64 => {
                    let rest = usize::try_from(size).unwrap_or(usize::MAX) - buf.len();
                    buf.reserve_exact(rest.saturating_add(1));
                }
                // No size (`/proc`), or the file grew past it: double.
                _ => buf.reserve(buf.capacity()),
            }
        }
        let start = buf.len();
        let offset = FileOffset::at(start as u64)?;
        let (result, returned) = op::run(None, ReadAt::new(file.share(), buf, start, offset)).await;
        buf = returned;
        match result {
            Ok(0) => {
                if !sized {
                    // A small file in the first buffer: give the rest back (the
                    // allocator shrinks a block this small in place).
                    buf.shrink_to_fit();
                }
                return Ok(buf);
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// The file's size as the kernel has it cached: `statx` with `AT_STATX_DONT_SYNC` (no
/// round trip to a network file system's server), inline, like `lseek`. `None` when it
/// fails or reports no size.
fn cached_size(file: &File) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: all zeroes is a valid `statx` buffer.
        let mut stat: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: an empty path with `AT_EMPTY_PATH` names the fd; the kernel writes
        // the buffer passed.
        let result = unsafe {
            libc::statx(
                file.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC,
                libc::STATX_SIZE,
                &mut stat,
            )
        };
        (result == 0 && stat.stx_mask & libc::STATX_SIZE != 0).then_some(stat.stx_size)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        None
    }
}
