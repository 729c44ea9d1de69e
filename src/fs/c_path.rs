//! A `Path` as the owned, NUL-terminated `CString` a path op keeps until the kernel is
//! done with it (see the ops in `op::{mkdir_at, unlink_at, ...}`).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `path` as a C string; a path with a NUL byte inside is refused the way `std::fs`
/// refuses it (`InvalidInput`), before anything reaches the kernel.
pub(crate) fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "file name contained an unexpected NUL byte",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_byte_is_refused_like_std_refuses_it() {
        let ours = c_path(Path::new("a\0b")).unwrap_err();
        let std = std::fs::metadata("a\0b").unwrap_err();
        assert_eq!(ours.kind(), std.kind());
        assert_eq!(ours.raw_os_error(), None);
        assert_eq!(c_path(Path::new("a/b")).unwrap().as_bytes(), b"a/b");
    }
}
