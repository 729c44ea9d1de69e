//! Paths on Unix: a `Path` as the owned, NUL-terminated `CString` ([`OsPath`]) that a
//! path op keeps until the kernel is done with it (see the ops in
//! `op::{mkdir_at, unlink_at, ...}`), and the `*at(2)` calls of their readiness halves,
//! relative to the current directory (`AT_FDCWD`).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A path as the calls take it: NUL-terminated, its bytes on the heap.
pub(crate) type OsPath = CString;

/// `path` as an [`OsPath`]; a path with a NUL byte inside is refused the way `std::fs`
/// refuses it (`InvalidInput`), before anything reaches the kernel.
pub(crate) fn os_path(path: &Path) -> io::Result<OsPath> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "file name contained an unexpected NUL byte",
        )
    })
}

/// A `std::fs::DirBuilder` that creates directories with `mode` (before the umask).
pub(crate) fn dir_builder(mode: u32) -> std::fs::DirBuilder {
    use std::os::unix::fs::DirBuilderExt;
    let mut builder = std::fs::DirBuilder::new();
    builder.mode(mode);
    builder
}

/// A call's `int` result: `Ok` for 0, else the errno.
fn check(result: libc::c_int) -> io::Result<()> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `mkdirat(2)` with `mode` (before the umask).
pub(crate) fn mkdir(path: &OsPath, mode: u32) -> io::Result<()> {
    // `mode_t` is 16 bits on some BSDs; permission bits always fit.
    // SAFETY: the path is a NUL-terminated string the caller keeps alive.
    check(unsafe { libc::mkdirat(libc::AT_FDCWD, path.as_ptr(), mode as libc::mode_t) })
}

/// `unlinkat(2)`: a file, or with `directory` an empty directory (`AT_REMOVEDIR`).
pub(crate) fn unlink(path: &OsPath, directory: bool) -> io::Result<()> {
    let flags = if directory { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: the path is a NUL-terminated string the caller keeps alive.
    check(unsafe { libc::unlinkat(libc::AT_FDCWD, path.as_ptr(), flags) })
}

/// `renameat(2)`.
pub(crate) fn rename(from: &OsPath, to: &OsPath) -> io::Result<()> {
    // SAFETY: both paths are NUL-terminated strings the caller keeps alive.
    check(unsafe { libc::renameat(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr()) })
}

/// `linkat(2)`: a new name `link` for `original` (no symlink followed).
pub(crate) fn hard_link(original: &OsPath, link: &OsPath) -> io::Result<()> {
    // SAFETY: both paths are NUL-terminated strings the caller keeps alive.
    check(unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            original.as_ptr(),
            libc::AT_FDCWD,
            link.as_ptr(),
            0,
        )
    })
}

/// `symlinkat(2)`: a symbolic link `link` whose contents are `target`.
pub(crate) fn symlink(target: &OsPath, link: &OsPath) -> io::Result<()> {
    // SAFETY: both paths are NUL-terminated strings the caller keeps alive.
    check(unsafe { libc::symlinkat(target.as_ptr(), libc::AT_FDCWD, link.as_ptr()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_byte_is_refused_like_std_refuses_it() {
        let ours = os_path(Path::new("a\0b")).unwrap_err();
        let std = std::fs::metadata("a\0b").unwrap_err();
        assert_eq!(ours.kind(), std.kind());
        assert_eq!(ours.raw_os_error(), None);
        assert_eq!(os_path(Path::new("a/b")).unwrap().as_bytes(), b"a/b");
    }
}
