//! Hands the versions of the compared crates (from the workspace's `Cargo.lock`) to the
//! binary as `RINGTIDE_BENCH_CRATE_VERSIONS`, so every run can print them.

#[path = "src/lockfile.rs"]
#[allow(dead_code)]
mod lockfile;

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let lock_path = std::path::Path::new(&manifest_dir).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let versions = match std::fs::read_to_string(&lock_path) {
        Ok(lock) => lockfile::summary(&lock, &lockfile::REPORTED),
        Err(error) => format!("unknown ({}: {error})", lock_path.display()),
    };
    println!("cargo:rustc-env=RINGTIDE_BENCH_CRATE_VERSIONS={versions}");
}
