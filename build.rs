//! Sets the `ringtide_uring` cfg when the io_uring backend is compiled in (the
//! `io-uring` feature on Linux), so the code can say `#[cfg(ringtide_uring)]` instead of
//! repeating the feature and target condition, and the `ringtide_atomic_flags` cfg on
//! the targets whose descriptor-creating calls take their flags (see `src/sys/`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ringtide_uring)");
    println!("cargo::rustc-check-cfg=cfg(loom)");
    println!("cargo::rustc-check-cfg=cfg(ringtide_atomic_flags)");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let feature = std::env::var_os("CARGO_FEATURE_IO_URING").is_some();
    if linux && feature {
        println!("cargo::rustc-cfg=ringtide_uring");
    }
    // Targets whose socket(2), accept4(2) and pipe2(2) take the close-on-exec and
    // non-blocking flags and whose send(2) takes MSG_NOSIGNAL (see src/sys/).
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let atomic_flags = [
        "linux",
        "android",
        "freebsd",
        "dragonfly",
        "netbsd",
        "openbsd",
    ];
    if atomic_flags.contains(&os.as_str()) {
        println!("cargo::rustc-cfg=ringtide_atomic_flags");
    }
    println!("cargo::rerun-if-changed=build.rs");
}
