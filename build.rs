//! Sets the `ringtide_uring` cfg when the io_uring backend is compiled in (the
//! `io-uring` feature on Linux), so the code can say `#[cfg(ringtide_uring)]` instead of
//! repeating the feature and target condition.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ringtide_uring)");
    println!("cargo::rustc-check-cfg=cfg(loom)");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let feature = std::env::var_os("CARGO_FEATURE_IO_URING").is_some();
    if linux && feature {
        println!("cargo::rustc-cfg=ringtide_uring");
    }
    println!("cargo::rerun-if-changed=build.rs");
}
