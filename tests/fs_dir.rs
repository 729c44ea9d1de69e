//! `ringtide::fs`'s path and directory functions on both backends: a round trip of
//! each (done with ringtide, observed with `std::fs`), errors by kind compared with
//! what `std::fs` returns for the same call, `read_dir` of 10 000 entries,
//! `DirBuilder`, cancelled native ops, and proof that io_uring runs them natively.

#![cfg(target_os = "linux")]

mod rt_common;

use std::ffi::OsString;
use std::fmt::Debug;
use std::io::{self, ErrorKind};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use ringtide::fs;
use ringtide::runtime::{Backend, Runtime};

/// A fresh directory under the system's temp dir, removed (with its contents) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "ringtide-fs-dir-{}-{name}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).expect("create the test's temp dir");
        TempDir(path)
    }

    fn join(&self, path: impl AsRef<Path>) -> PathBuf {
        self.0.join(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Asserts that ringtide's call failed exactly as `std`'s did (same errno, same kind),
/// and with `expected`.
#[track_caller]
fn assert_same_error<T: Debug, U: Debug>(
    what: &str,
    ours: io::Result<T>,
    std: io::Result<U>,
    expected: ErrorKind,
) {
    let std = std.expect_err(&format!("{what}: std::fs succeeded"));
    let ours = ours.expect_err(&format!(
        "{what}: ringtide succeeded where std failed ({std})"
    ));
    assert_eq!(
        (ours.kind(), ours.raw_os_error()),
        (std.kind(), std.raw_os_error()),
        "{what}: ringtide failed with `{ours}`, std with `{std}`"
    );
    assert_eq!(ours.kind(), expected, "{what}: {ours}");
}

fn kind_of(path: &Path) -> &'static str {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => "dir",
        Ok(meta) if meta.is_symlink() => "symlink",
        Ok(_) => "file",
        Err(_) => "missing",
    }
}

backend_test! {
    fn directories_round_trip(rt, multi) {
        let dir = TempDir::new("dirs");
        rt.block_on(async {
            fs::create_dir(dir.join("one")).await.unwrap();
            assert!(std::fs::metadata(dir.join("one")).unwrap().is_dir());
            fs::remove_dir(dir.join("one")).await.unwrap();
            assert_eq!(kind_of(&dir.join("one")), "missing");

            fs::create_dir_all(dir.join("a/b/c")).await.unwrap();
            assert!(dir.join("a/b/c").is_dir());
            // Existing directories are success.
            fs::create_dir_all(dir.join("a/b")).await.unwrap();
            std::fs::write(dir.join("a/b/c/file"), b"x").unwrap();
            std::os::unix::fs::symlink(dir.join("a"), dir.join("a/b/loop")).unwrap();
            fs::remove_dir_all(dir.join("a")).await.unwrap();
            assert_eq!(kind_of(&dir.join("a")), "missing");
        });
    }
}

backend_test! {
    fn remove_file_round_trip(rt, multi) {
        let dir = TempDir::new("remove-file");
        std::fs::write(dir.join("file"), b"contents").unwrap();
        std::os::unix::fs::symlink(dir.join("file"), dir.join("link")).unwrap();
        rt.block_on(async {
            // A symlink goes, not its target.
            fs::remove_file(dir.join("link")).await.unwrap();
            assert_eq!(kind_of(&dir.join("link")), "missing");
            assert_eq!(kind_of(&dir.join("file")), "file");
            fs::remove_file(dir.join("file")).await.unwrap();
            assert_eq!(kind_of(&dir.join("file")), "missing");
        });
    }
}

backend_test! {
    fn rename_round_trip(rt, multi) {
        let dir = TempDir::new("rename");
        std::fs::write(dir.join("from"), b"moved").unwrap();
        std::fs::write(dir.join("replaced"), b"old").unwrap();
        std::fs::create_dir(dir.join("d1")).unwrap();
        std::fs::write(dir.join("d1/inside"), b"in").unwrap();
        std::fs::create_dir(dir.join("empty")).unwrap();
        rt.block_on(async {
            fs::rename(dir.join("from"), dir.join("to")).await.unwrap();
            assert_eq!(kind_of(&dir.join("from")), "missing");
            assert_eq!(std::fs::read(dir.join("to")).unwrap(), b"moved");

            fs::rename(dir.join("to"), dir.join("replaced")).await.unwrap();
            assert_eq!(std::fs::read(dir.join("replaced")).unwrap(), b"moved");

            // A directory moves with its contents and may replace an empty one.
            fs::rename(dir.join("d1"), dir.join("empty")).await.unwrap();
            assert_eq!(kind_of(&dir.join("d1")), "missing");
            assert_eq!(std::fs::read(dir.join("empty/inside")).unwrap(), b"in");
        });
    }
}

backend_test! {
    fn hard_link_round_trip(rt, multi) {
        let dir = TempDir::new("hard-link");
        std::fs::write(dir.join("original"), b"shared").unwrap();
        rt.block_on(async {
            fs::hard_link(dir.join("original"), dir.join("link")).await.unwrap();
        });
        let original = std::fs::metadata(dir.join("original")).unwrap();
        let link = std::fs::metadata(dir.join("link")).unwrap();
        assert_eq!(original.ino(), link.ino());
        assert_eq!(original.nlink(), 2);
        assert_eq!(std::fs::read(dir.join("link")).unwrap(), b"shared");
        rt.block_on(async { fs::remove_file(dir.join("link")).await.unwrap() });
        assert_eq!(std::fs::metadata(dir.join("original")).unwrap().nlink(), 1);
    }
}

backend_test! {
    fn symlink_and_read_link_round_trip(rt, multi) {
        let dir = TempDir::new("symlink");
        std::fs::create_dir(dir.join("target")).unwrap();
        rt.block_on(async {
            // Relative targets are stored as given and resolved from the link's dir.
            fs::symlink("target", dir.join("relative")).await.unwrap();
            assert_eq!(std::fs::read_link(dir.join("relative")).unwrap(), Path::new("target"));
            assert_eq!(fs::read_link(dir.join("relative")).await.unwrap(), Path::new("target"));
            assert!(fs::symlink_metadata(dir.join("relative")).await.unwrap().is_symlink());
            assert!(fs::metadata(dir.join("relative")).await.unwrap().is_dir());

            // A dangling link is a link all the same.
            fs::symlink(dir.join("nowhere"), dir.join("dangling")).await.unwrap();
            assert_eq!(
                fs::read_link(dir.join("dangling")).await.unwrap(),
                std::fs::read_link(dir.join("dangling")).unwrap()
            );
            assert!(!fs::try_exists(dir.join("dangling")).await.unwrap());
            assert_eq!(kind_of(&dir.join("dangling")), "symlink");
            fs::remove_file(dir.join("dangling")).await.unwrap();
            fs::remove_file(dir.join("relative")).await.unwrap();
        });
        assert_eq!(kind_of(&dir.join("relative")), "missing");
        assert_eq!(kind_of(&dir.join("target")), "dir");
    }
}

backend_test! {
    fn canonicalize_matches_std(rt, multi) {
        let dir = TempDir::new("canonicalize");
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::os::unix::fs::symlink("a/b", dir.join("link")).unwrap();
        let tangled = dir.join("a/./b/../../link/.");
        let ours = rt.block_on(fs::canonicalize(&tangled)).unwrap();
        assert_eq!(ours, std::fs::canonicalize(&tangled).unwrap());
        assert_eq!(ours, std::fs::canonicalize(dir.join("a/b")).unwrap());
    }
}

backend_test! {
    fn set_permissions_round_trip(rt, multi) {
        let dir = TempDir::new("permissions");
        std::fs::write(dir.join("file"), b"").unwrap();
        rt.block_on(async {
            fs::set_permissions(dir.join("file"), std::fs::Permissions::from_mode(0o640))
                .await
                .unwrap();
            assert_eq!(std::fs::metadata(dir.join("file")).unwrap().mode() & 0o7777, 0o640);
            let mut permissions = fs::metadata(dir.join("file")).await.unwrap().permissions();
            permissions.set_readonly(true);
            fs::set_permissions(dir.join("file"), permissions).await.unwrap();
            assert_eq!(std::fs::metadata(dir.join("file")).unwrap().mode() & 0o7777, 0o440);
        });
    }
}

backend_test! {
    fn metadata_and_try_exists_match_std(rt, multi) {
        let dir = TempDir::new("metadata");
        std::fs::write(dir.join("file"), b"twelve bytes").unwrap();
        std::os::unix::fs::symlink("file", dir.join("link")).unwrap();
        rt.block_on(async {
            let ours = fs::metadata(dir.join("link")).await.unwrap();
            let std = std::fs::metadata(dir.join("file")).unwrap();
            assert_eq!((ours.len(), ours.ino(), ours.mode()), (12, std.ino(), std.mode()));
            assert!(ours.is_file());
            let link = fs::symlink_metadata(dir.join("link")).await.unwrap();
            assert_eq!(link.ino(), std::fs::symlink_metadata(dir.join("link")).unwrap().ino());
            assert!(link.is_symlink());
            assert!(fs::try_exists(dir.join("file")).await.unwrap());
            assert!(fs::try_exists(dir.join("link")).await.unwrap());
            assert!(!fs::try_exists(dir.join("missing")).await.unwrap());
        });
    }
}

backend_test! {
    fn dir_builder_recursive_and_mode(rt, multi) {
        let dir = TempDir::new("dir-builder");
        rt.block_on(async {
            // Not recursive: a missing parent is an error, as for std.
            assert_same_error(
                "DirBuilder::create (not recursive) with a missing parent",
                fs::DirBuilder::new().create(dir.join("x/y")).await,
                std::fs::DirBuilder::new().create(dir.join("x/y")),
                ErrorKind::NotFound,
            );

            fs::DirBuilder::new().mode(0o700).create(dir.join("plain")).await.unwrap();
            std::fs::DirBuilder::new().mode(0o700).create(dir.join("plain-std")).unwrap();
            let mode = |path: &str| std::fs::metadata(dir.join(path)).unwrap().mode() & 0o7777;
            assert_eq!(mode("plain"), mode("plain-std"));
            assert_eq!(mode("plain") & !0o700, 0, "more bits than asked for");

            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(dir.join("a/b/c"))
                .await
                .unwrap();
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(dir.join("std/b/c"))
                .unwrap();
            for (ours, std) in [("a", "std"), ("a/b", "std/b"), ("a/b/c", "std/b/c")] {
                assert!(dir.join(ours).is_dir());
                assert_eq!(mode(ours), mode(std), "{ours}");
            }
            // Recursive: an existing directory is success; not recursive, an error.
            fs::DirBuilder::new().recursive(true).create(dir.join("a/b")).await.unwrap();
            assert_same_error(
                "DirBuilder::create (not recursive) of an existing directory",
                fs::DirBuilder::new().create(dir.join("a/b")).await,
                std::fs::DirBuilder::new().create(dir.join("a/b")),
                ErrorKind::AlreadyExists,
            );
            // The default mode is create_dir's.
            fs::DirBuilder::new().create(dir.join("default")).await.unwrap();
            fs::create_dir(dir.join("default-create-dir")).await.unwrap();
            assert_eq!(mode("default"), mode("default-create-dir"));
        });
    }
}

/// `ringtide::fs::$function(args)` fails as `std::fs::$function(args)` does, with
/// `ErrorKind::$kind`.
macro_rules! same_error {
    ($kind:ident, $function:ident($($arg:expr),*)) => {
        assert_same_error(
            stringify!($function($($arg),*)),
            fs::$function($($arg),*).await,
            std::fs::$function($($arg),*),
            ErrorKind::$kind,
        )
    };
}

/// Every function's errors, against `std`'s for the same call, in `dir`.
async fn check_errors_by_kind(dir: &TempDir) {
    let file = dir.join("file");
    let empty = dir.join("empty");
    let full = dir.join("full");
    let missing = dir.join("missing");
    let dangling = dir.join("dangling");
    std::fs::write(&file, b"file").unwrap();
    std::fs::create_dir(&empty).unwrap();
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("inside"), b"").unwrap();
    std::os::unix::fs::symlink(&missing, &dangling).unwrap();
    let under_file = file.join("below");
    let nul = dir.join("nul\0byte");
    let (to, link) = (dir.join("to"), dir.join("link"));

    same_error!(AlreadyExists, create_dir(&file));
    same_error!(AlreadyExists, create_dir(&empty));
    same_error!(NotFound, create_dir(missing.join("x")));
    same_error!(NotADirectory, create_dir(&under_file));
    same_error!(InvalidInput, create_dir(&nul));
    same_error!(AlreadyExists, create_dir_all(&file));
    same_error!(NotADirectory, create_dir_all(under_file.join("x")));
    assert_same_error(
        "DirBuilder::create (recursive) under a file",
        fs::DirBuilder::new()
            .recursive(true)
            .create(&under_file)
            .await,
        std::fs::DirBuilder::new()
            .recursive(true)
            .create(&under_file),
        ErrorKind::NotADirectory,
    );

    same_error!(IsADirectory, remove_file(&empty));
    same_error!(NotFound, remove_file(&missing));
    same_error!(NotADirectory, remove_file(&under_file));
    same_error!(InvalidInput, remove_file(&nul));
    same_error!(DirectoryNotEmpty, remove_dir(&full));
    same_error!(NotADirectory, remove_dir(&file));
    same_error!(NotFound, remove_dir(&missing));
    same_error!(NotFound, remove_dir_all(&missing));
    same_error!(NotADirectory, remove_dir_all(&file));

    same_error!(NotFound, rename(&missing, &to));
    same_error!(NotADirectory, rename(&empty, &file));
    same_error!(NotADirectory, rename(&empty, &under_file));
    same_error!(IsADirectory, rename(&file, &full));
    same_error!(DirectoryNotEmpty, rename(&empty, &full));
    same_error!(InvalidInput, rename(&full, full.join("sub")));
    same_error!(InvalidInput, rename(&file, &nul));

    same_error!(NotFound, hard_link(&missing, &link));
    same_error!(AlreadyExists, hard_link(&file, &empty));
    // EPERM: directories cannot be hard-linked, even by root.
    same_error!(PermissionDenied, hard_link(&empty, &link));
    assert_same_error(
        "symlink onto an existing name",
        fs::symlink("x", &file).await,
        std::os::unix::fs::symlink("x", &file),
        ErrorKind::AlreadyExists,
    );
    assert_same_error(
        "symlink with a missing parent",
        fs::symlink("x", missing.join("l")).await,
        std::os::unix::fs::symlink("x", missing.join("l")),
        ErrorKind::NotFound,
    );
    same_error!(InvalidInput, read_link(&file));
    same_error!(NotFound, read_link(&missing));

    same_error!(NotFound, canonicalize(&missing));
    same_error!(NotFound, canonicalize(&dangling));
    same_error!(NotADirectory, canonicalize(&under_file));
    let mode = std::fs::Permissions::from_mode(0o600);
    same_error!(NotFound, set_permissions(&missing, mode.clone()));
    same_error!(NotFound, metadata(&missing));
    same_error!(NotFound, metadata(&dangling));
    same_error!(NotADirectory, metadata(&under_file));
    same_error!(NotFound, symlink_metadata(&missing));
    assert_same_error(
        "try_exists under a file",
        fs::try_exists(&under_file).await,
        std::fs::exists(&under_file),
        ErrorKind::NotADirectory,
    );
    same_error!(NotFound, read_dir(&missing));
    same_error!(NotADirectory, read_dir(&file));

    // EACCES needs a caller that permissions apply to (root bypasses them).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!(
            "running as root: EACCES cases skipped (PermissionDenied is checked through EPERM)"
        );
    } else {
        let locked = dir.join("locked");
        std::fs::create_dir_all(locked.join("sub")).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
        let (new, sub) = (locked.join("x"), locked.join("sub"));
        same_error!(PermissionDenied, create_dir(&new));
        same_error!(PermissionDenied, remove_dir(&sub));
        same_error!(PermissionDenied, rename(&sub, &new));
        assert_same_error(
            "symlink in a read-only dir",
            fs::symlink("x", &new).await,
            std::os::unix::fs::symlink("x", &new),
            ErrorKind::PermissionDenied,
        );
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        same_error!(PermissionDenied, read_dir(&locked));
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    }

    // Nothing the failed calls touched changed.
    assert_eq!(std::fs::read(&file).unwrap(), b"file");
    assert_eq!(kind_of(&empty), "dir");
    assert_eq!(kind_of(&full.join("inside")), "file");
    assert_eq!(kind_of(&missing), "missing");
}

backend_test! {
    fn errors_by_kind_match_std(rt, multi) {
        let dir = TempDir::new("errors");
        rt.block_on(check_errors_by_kind(&dir));
    }
}

/// A file name's number, for `f{number}`.
fn entry_number(name: &OsString) -> usize {
    name.to_str()
        .and_then(|name| name.strip_prefix('f'))
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("unexpected entry {name:?}"))
}

backend_test! {
    fn read_dir_of_10000_entries_sees_each_once(rt, multi) {
        const ENTRIES: usize = 10_000;
        let dir = TempDir::new("read-dir-10k");
        for number in 0..ENTRIES {
            std::fs::File::create(dir.join(format!("f{number}"))).unwrap();
        }
        let mut seen = vec![false; ENTRIES];
        rt.block_on(async {
            let mut entries = fs::read_dir(&dir.0).await.unwrap();
            while let Some(entry) = entries.next_entry().await.unwrap() {
                let name = entry.file_name();
                let number = entry_number(&name);
                assert!(!seen[number], "{name:?} listed twice");
                seen[number] = true;
                assert_eq!(entry.path(), dir.join(&name));
                if number.is_multiple_of(1000) {
                    assert!(entry.file_type().await.unwrap().is_file());
                    let std = std::fs::symlink_metadata(entry.path()).unwrap();
                    assert_eq!(entry.ino(), std.ino());
                    assert_eq!(entry.metadata().await.unwrap().ino(), std.ino());
                }
            }
            // The end is sticky.
            assert!(entries.next_entry().await.unwrap().is_none());
        });
        let missed = seen.iter().filter(|seen| !**seen).count();
        assert_eq!(missed, 0, "{missed} entries never listed");
    }
}

backend_test! {
    fn read_dir_entries_match_std(rt, multi) {
        let dir = TempDir::new("read-dir-kinds");
        std::fs::write(dir.join("file"), b"abc").unwrap();
        std::fs::create_dir(dir.join("dir")).unwrap();
        std::os::unix::fs::symlink("dir", dir.join("link")).unwrap();
        let mut std_entries: Vec<(OsString, bool, bool, bool, u64)> = std::fs::read_dir(&dir.0)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let kind = entry.file_type().unwrap();
                (
                    entry.file_name(),
                    kind.is_file(),
                    kind.is_dir(),
                    kind.is_symlink(),
                    std::os::unix::fs::DirEntryExt::ino(&entry),
                )
            })
            .collect();
        std_entries.sort();
        let mut ours = rt.block_on(async {
            let mut listed = Vec::new();
            let mut entries = fs::read_dir(&dir.0).await.unwrap();
            while let Some(entry) = entries.next_entry().await.unwrap() {
                let kind = entry.file_type().await.unwrap();
                let metadata = entry.metadata().await.unwrap();
                // DirEntry::metadata does not follow a symlink.
                assert_eq!(metadata.is_symlink(), kind.is_symlink());
                assert_eq!(metadata.ino(), entry.ino());
                let name = entry.file_name();
                listed.push((name, kind.is_file(), kind.is_dir(), kind.is_symlink(), entry.ino()));
            }
            listed
        });
        ours.sort();
        assert_eq!(ours, std_entries);

        // poll_next_entry works from a hand-written future; an empty dir ends at once.
        std::fs::create_dir(dir.join("dir/empty")).unwrap();
        rt.block_on(async {
            let mut entries = fs::read_dir(dir.join("dir/empty")).await.unwrap();
            let next = std::future::poll_fn(|cx| entries.poll_next_entry(cx)).await;
            assert!(next.unwrap().is_none());
            assert!(format!("{entries:?}").contains("ended"));
        });
    }
}

/// Whether this kernel's io_uring has `opcode` (what the runtime's probe found too).
fn kernel_has(opcode: u8) -> bool {
    let Ok(ring) = io_uring::IoUring::new(4) else {
        return false;
    };
    let mut probe = io_uring::Probe::new();
    ring.submitter().register_probe(&mut probe).is_ok() && probe.is_supported(opcode)
}

backend_test! {
    /// The fallback gives the same results, so only the counters tell the paths apart:
    /// on io_uring the native ops are submissions and never touch the blocking pool;
    /// on mio they run there and submit nothing.
    fn native_ops_run_on_the_ring_and_never_on_the_pool(rt, multi) {
        use io_uring::opcode;
        const NATIVE_OPS: u64 = 8;
        let dir = TempDir::new("native");
        std::fs::write(dir.join("file"), b"").unwrap();
        let metrics = rt.metrics();
        assert_eq!(metrics.num_blocking_threads(), 0, "a fresh runtime has no pool threads");
        let before = metrics.io();
        // On a spawned task: a multi-thread runtime's `block_on` thread has a ring of
        // its own, which the runtime's (per-worker) counters do not include.
        let paths = dir.0.clone();
        rt.block_on(rt.spawn(async move {
            let dir = |name: &str| paths.join(name);
            fs::create_dir(dir("made")).await.unwrap();
            fs::DirBuilder::new().mode(0o700).create(dir("built")).await.unwrap();
            fs::rename(dir("built"), dir("moved")).await.unwrap();
            fs::hard_link(dir("file"), dir("hard")).await.unwrap();
            fs::symlink("file", dir("soft")).await.unwrap();
            fs::remove_file(dir("hard")).await.unwrap();
            fs::remove_dir(dir("made")).await.unwrap();
            // An error is native too.
            assert_eq!(
                fs::remove_dir(dir("moved/none")).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
        }))
        .unwrap();
        let after = metrics.io();
        assert_eq!(kind_of(&dir.join("moved")), "dir");
        assert_eq!(kind_of(&dir.join("soft")), "symlink");
        match rt.backend() {
            Backend::IoUring => {
                let all_native = [
                    opcode::MkDirAt::CODE,
                    opcode::RenameAt::CODE,
                    opcode::LinkAt::CODE,
                    opcode::SymlinkAt::CODE,
                    opcode::UnlinkAt::CODE,
                ]
                .into_iter()
                .all(kernel_has);
                if !all_native {
                    eprintln!("this kernel lacks some path opcodes: their ops ran on the pool");
                    return;
                }
                assert!(
                    after.submitted - before.submitted >= NATIVE_OPS,
                    "only {} submissions for {NATIVE_OPS} native ops",
                    after.submitted - before.submitted
                );
                assert_eq!(metrics.num_blocking_threads(), 0, "a native op used the blocking pool");
            }
            _ => {
                assert_eq!(after.submitted, 0);
                assert!(metrics.num_blocking_threads() > 0, "mio runs path ops on the pool");
            }
        }
    }
}

/// Waits until no dropped op can still act: the runtime's rings have none in flight
/// (the cancelled ones' final CQEs arrived) and its blocking pool is idle (a dropped
/// pool op runs to its end there). Fails after 10 s.
async fn wait_until_dropped_ops_settled(metrics: &ringtide::runtime::RuntimeMetrics) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let settled = metrics.io().in_flight == 0
            && metrics.blocking_queue_depth() == 0
            && metrics.num_idle_blocking_threads() == metrics.num_blocking_threads();
        if settled {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "dropped ops never settled: {:?}, {} of {} pool threads idle, {} queued",
            metrics.io(),
            metrics.num_idle_blocking_threads(),
            metrics.num_blocking_threads(),
            metrics.blocking_queue_depth()
        );
        ringtide::time::sleep(Duration::from_millis(1)).await;
    }
}

backend_test! {
    fn dropped_native_ops_happened_or_not(rt, multi) {
        const OPS: usize = 64;
        let dir = TempDir::new("cancel");
        for number in 0..OPS {
            std::fs::write(dir.join(format!("r{number}")), number.to_string()).unwrap();
        }
        let metrics = rt.metrics();
        // On spawned tasks, whose rings the runtime's counters cover (a multi-thread
        // runtime's `block_on` thread has a ring of its own).
        let paths = dir.0.clone();
        rt.block_on(rt.spawn(async move {
            // A completed op whose future is dropped without collecting its result (on
            // a fresh task budget, so only the completion wakes it).
            let late = fs::create_dir(paths.join("late"));
            let collected = rt_common::poll_once_then_drop(late).await;
            assert!(collected.is_none_or(|result| result.is_ok()));
        }))
        .unwrap();
        let (paths, settled) = (dir.0.clone(), metrics.clone());
        rt.block_on(rt.spawn(async move {
            // Each future is polled once (on io_uring: queued for the ring) and dropped
            // before it completes: the mkdirs at once (most are cancelled before their
            // submission), the renames after a park (submitted, they complete unobserved).
            type Dropped = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;
            let mut renames = Vec::new();
            for number in 0..OPS {
                let mut mkdir: Dropped = Box::pin(fs::create_dir(paths.join(format!("d{number}"))));
                let _ = futures::poll!(mkdir.as_mut());
                drop(mkdir);
                let mut rename: Dropped = Box::pin(fs::rename(
                    paths.join(format!("r{number}")),
                    paths.join(format!("s{number}")),
                ));
                let _ = futures::poll!(rename.as_mut());
                renames.push(rename);
            }
            ringtide::time::sleep(Duration::from_millis(2)).await;
            drop(renames);
            wait_until_dropped_ops_settled(&settled).await;
        }))
        .unwrap();
        // Every op either happened or did not, never half.
        let (mut made_dirs, mut renamed) = (0, 0);
        for number in 0..OPS {
            let made = dir.join(format!("d{number}"));
            match kind_of(&made) {
                "dir" => made_dirs += 1,
                "missing" => {}
                other => panic!("{made:?} is a {other}"),
            }
            let (from, to) = (dir.join(format!("r{number}")), dir.join(format!("s{number}")));
            let moved = match (kind_of(&from), kind_of(&to)) {
                ("file", "missing") => &from,
                ("missing", "file") => {
                    renamed += 1;
                    &to
                }
                state => panic!("rename {number} left {state:?}"),
            };
            assert_eq!(std::fs::read_to_string(moved).unwrap(), number.to_string());
        }
        assert_eq!(kind_of(&dir.join("late")), "dir");
        eprintln!("of {OPS} dropped ops each, {made_dirs} mkdirs and {renamed} renames happened");
        // The runtime goes on working, with nothing stuck in it.
        rt.block_on(async {
            for number in 0..OPS {
                let made = dir.join(format!("d{number}"));
                if let Err(error) = fs::create_dir(&made).await {
                    assert_eq!(error.kind(), ErrorKind::AlreadyExists, "{made:?}");
                }
                fs::remove_dir(&made).await.unwrap();
            }
        });
        assert_eq!(metrics.io().in_flight, 0);
    }
}

/// Shutting a runtime down with path ops in flight neither hangs nor leaves an op
/// half done.
#[test]
fn shutdown_with_path_ops_in_flight() {
    for backend in [Backend::IoUring, Backend::Mio] {
        rt_common::with_timeout(
            "shutdown_with_path_ops_in_flight",
            rt_common::TEST_TIMEOUT,
            move || {
                let dir = TempDir::new("shutdown");
                let runtime: Runtime = rt_common::backend_runtime(backend, 2);
                for number in 0..64 {
                    let made = dir.join(format!("d{number}"));
                    runtime.spawn(async move {
                        if fs::create_dir(&made).await.is_ok() {
                            let _ = fs::remove_dir(&made).await;
                        }
                    });
                }
                drop(runtime);
                // Each directory was made and removed, made, or never made.
                for number in 0..64 {
                    let state = kind_of(&dir.join(format!("d{number}")));
                    assert!(matches!(state, "dir" | "missing"), "d{number} is a {state}");
                }
            },
        );
    }
}

#[test]
fn outside_a_runtime_fs_calls_fail_instead_of_panicking() {
    let dir = TempDir::new("no-runtime");
    let native = futures::executor::block_on(fs::create_dir(dir.join("x"))).unwrap_err();
    let pool = futures::executor::block_on(fs::metadata(&dir.0)).unwrap_err();
    assert_eq!(native.to_string(), pool.to_string());
    assert!(native.to_string().contains("runtime"), "{native}");
    assert!(futures::executor::block_on(fs::read_dir(&dir.0)).is_err());
    assert_eq!(kind_of(&dir.join("x")), "missing");

    // Without I/O enabled, the same error.
    let runtime = ringtide::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let without_io = runtime.block_on(fs::canonicalize(&dir.0)).unwrap_err();
    assert_eq!(without_io.to_string(), native.to_string());
}

#[test]
fn futures_and_types_are_send() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>() {}
    send(&fs::create_dir("x"));
    send(&fs::create_dir_all("x"));
    send(&fs::remove_file("x"));
    send(&fs::remove_dir("x"));
    send(&fs::remove_dir_all("x"));
    send(&fs::rename("x", "y"));
    send(&fs::hard_link("x", "y"));
    send(&fs::symlink("x", "y"));
    send(&fs::read_link("x"));
    send(&fs::canonicalize("x"));
    send(&fs::set_permissions(
        "x",
        std::fs::Permissions::from_mode(0o600),
    ));
    send(&fs::try_exists("x"));
    send(&fs::metadata("x"));
    send(&fs::symlink_metadata("x"));
    send(&fs::read_dir("x"));
    send(&fs::DirBuilder::new().create("x"));
    send_sync::<fs::DirEntry>();
    send_sync::<fs::DirBuilder>();
    fn send_only<T: Send>() {}
    send_only::<fs::ReadDir>();
    // A future that is never polled does nothing.
    drop(fs::create_dir("never-polled").boxed());
    assert!(!Path::new("never-polled").exists());
}
