//! Files on Windows: the calls the readiness halves of the file ops run on the
//! blocking pool, through a std `File` that borrows the handle (and never closes it).
//!
//! Differences from Unix:
//!
//! * Positional I/O is std's `FileExt::seek_read`/`seek_write` (a synchronous
//!   `ReadFile`/`WriteFile` with an offset), which **moves the file position** to the
//!   end of the transfer, where `pread`/`pwrite` leave it alone.
//! * Vectored file I/O transfers the first non-empty buffer only (std's default for
//!   `read_vectored`/`write_vectored`, and a short transfer, which the callers allow):
//!   Windows has no positioned vectored call for synchronous handles.
//! * There is no non-blocking read (`RWF_NOWAIT`): every read goes to the pool.
//! * `sync` is `FlushFileBuffers` whether or not `data_only` (std does the same for
//!   `sync_data`).

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::mem::ManuallyDrop;
use std::os::windows::fs::FileExt;
use std::os::windows::io::{FromRawHandle, IntoRawHandle, OwnedHandle};

use super::{IoVec, RawFile};

/// Runs `call` on a std file that borrows `file`'s handle (and never closes it).
pub(crate) fn with_file<R>(file: RawFile, call: impl FnOnce(&File) -> R) -> R {
    // SAFETY: the caller of every function here keeps the handle open for the call (an
    // op holds the file's `FdRef`), and `ManuallyDrop` keeps the temporary file from
    // closing it.
    let borrowed = ManuallyDrop::new(unsafe { File::from_raw_handle(file.handle()) });
    call(&borrowed)
}

/// The first non-empty vector, or an empty slice.
fn first_nonempty(iovecs: &[IoVec]) -> (*mut u8, usize) {
    iovecs
        .iter()
        .find(|iovec| iovec.iov_len > 0)
        .map_or((std::ptr::null_mut(), 0), |iovec| {
            (iovec.iov_base.cast(), iovec.iov_len)
        })
}

/// A read at `offset` (`seek_read`, which moves the file position too) or at the file
/// position (`offset` `None`): up to `len` bytes into `buf`.
///
/// # Safety
///
/// `buf` is valid for writes of `len` bytes.
pub(crate) unsafe fn read(
    file: RawFile,
    buf: *mut u8,
    len: usize,
    offset: Option<u64>,
) -> io::Result<usize> {
    if len == 0 {
        return Ok(0);
    }
    // SAFETY: the caller's contract; `ReadFile` writes only initialised bytes.
    let bytes = unsafe { std::slice::from_raw_parts_mut(buf, len) };
    with_file(file, |file| match offset {
        Some(offset) => file.seek_read(bytes, offset),
        None => (&*file).read(bytes),
    })
}

/// A write at `offset` (`seek_write`, which moves the file position too) or at the
/// file position (`offset` `None`): up to `len` bytes from `buf`.
///
/// # Safety
///
/// `buf` is valid for reads of `len` initialised bytes.
pub(crate) unsafe fn write(
    file: RawFile,
    buf: *const u8,
    len: usize,
    offset: Option<u64>,
) -> io::Result<usize> {
    if len == 0 {
        return Ok(0);
    }
    // SAFETY: the caller's contract.
    let bytes = unsafe { std::slice::from_raw_parts(buf, len) };
    with_file(file, |file| match offset {
        Some(offset) => file.seek_write(bytes, offset),
        None => (&*file).write(bytes),
    })
}

/// A vectored read: [`read`] into the first non-empty vector.
///
/// # Safety
///
/// Every vector's `iov_base` is valid for writes of its `iov_len` bytes.
pub(crate) unsafe fn read_vectored(
    file: RawFile,
    iovecs: &[IoVec],
    offset: Option<u64>,
) -> io::Result<usize> {
    let (buf, len) = first_nonempty(iovecs);
    // SAFETY: the caller's contract covers that vector.
    unsafe { read(file, buf, len, offset) }
}

/// A vectored write: [`write`] of the first non-empty vector.
///
/// # Safety
///
/// Every vector's `iov_base` is valid for reads of its `iov_len` initialised bytes.
pub(crate) unsafe fn write_vectored(
    file: RawFile,
    iovecs: &[IoVec],
    offset: Option<u64>,
) -> io::Result<usize> {
    let (buf, len) = first_nonempty(iovecs);
    // SAFETY: the caller's contract covers that vector.
    unsafe { write(file, buf, len, offset) }
}

/// No non-blocking reads on Windows: always `None` (nothing was read), so the read goes
/// to the blocking pool.
///
/// # Safety
///
/// None beyond the Unix version's contract (nothing is touched here).
pub(crate) unsafe fn read_nowait(
    file: RawFile,
    iovecs: &[IoVec],
    offset: Option<u64>,
) -> Option<io::Result<usize>> {
    let _ = (file, iovecs, offset);
    None
}

/// `FlushFileBuffers` (data and metadata; there is no data-only flush).
pub(crate) fn sync(file: RawFile, data_only: bool) -> io::Result<()> {
    with_file(file, |file| {
        if data_only {
            file.sync_data()
        } else {
            file.sync_all()
        }
    })
}

/// Sets the file's length (`SetFileInformationByHandle`, as std's `set_len`).
pub(crate) fn set_len(file: RawFile, len: u64) -> io::Result<()> {
    with_file(file, |file| file.set_len(len))
}

/// Moves the file position (`SetFilePointerEx`) and returns the new one.
pub(crate) fn seek(file: RawFile, position: io::SeekFrom) -> io::Result<u64> {
    with_file(file, |mut file| file.seek(position))
}

/// `CloseHandle`, reporting its error (std's drop ignores it). The handle is gone
/// afterwards either way.
pub(crate) fn close(file: OwnedHandle) -> io::Result<()> {
    let handle = file.into_raw_handle();
    // SAFETY: `into_raw_handle` handed over the only owner of the handle, so closing it
    // here closes nothing anyone else owns, and nothing closes it again.
    if unsafe { windows_sys::Win32::Foundation::CloseHandle(handle) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
