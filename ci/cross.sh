#!/usr/bin/env bash
# Type-checks the crate for the other operating systems it supports (macOS, FreeBSD,
# Windows), from this Linux machine, with ../shared/tools/cross-check (see its header:
# Debian's rustc-web builds std for each target; nothing is linked or run, so kqueue
# and IOCP behaviour stays untested here). Each target: default features with
# `--all-targets` (the library, its unit tests, tests/, benches/, examples/; the
# Unix-only test files are `#![cfg(unix)]`, so on Windows `tests/portable.rs` and the
# runtime tests are what is checked); macOS also with the mio backend alone, Windows
# also with every feature (not the benches). Run from
# anywhere inside the repository. The target dir is `$CROSS_TARGET_DIR`, else
# target/cross: reuse it between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

cross=../shared/tools/cross-check
if [ ! -x "$cross" ]; then
    echo "cross-check: $cross not found (it ships in ../shared beside the checkout); cross checks skipped"
    exit 0
fi

# cross-check needs Debian's rustc-web and its std source, which it installs on first
# use. Install them here first, so that a machine without access to Debian's packages
# skips the cross checks with the reason instead of failing them; a type error in the
# crate still fails.
if ! /usr/bin/rustc --version 2>/dev/null | grep -q '^rustc 1\.9[6-9]'; then
    echo "== installing Debian's rustc-web, cargo-web and rust-web-src for the cross checks"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        rustc-web cargo-web rust-web-src; } >/dev/null 2>&1; then
        echo "cross-check: could not install rustc-web (no access to Debian's packages?); cross checks skipped"
        exit 0
    fi
fi

# Dev-dependencies' build scripts (criterion's `alloca`) compile C even for a check:
# the host's cc, without the Apple-only flags cc-rs adds (see ci/cross-cc); for the
# msvc target, whose archiver cc-rs calls with lib.exe's arguments, the host's `ar`
# behind those arguments (see ci/cross-lib).
cc_shim="$PWD/ci/cross-cc"
export CC_x86_64_apple_darwin="$cc_shim" CC_aarch64_apple_darwin="$cc_shim"
export CC_x86_64_unknown_freebsd="$cc_shim"
export CC_x86_64_pc_windows_msvc="$cc_shim" AR_x86_64_pc_windows_msvc="$PWD/ci/cross-lib"

for target in x86_64-apple-darwin aarch64-apple-darwin x86_64-unknown-freebsd \
    x86_64-pc-windows-msvc; do
    echo "== cross-check $target (default features, all targets)"
    "$cross" "$target" --all-targets
done
echo "== cross-check x86_64-apple-darwin (mio and macros only, all targets)"
"$cross" x86_64-apple-darwin --all-targets --no-default-features --features mio,macros
# Every feature (hyper, the poll traits, bytes) on Windows: the library, tests and
# examples; not the benches, whose io_uring comparisons (poll_io, hyper_io) use raw
# Unix fds.
echo "== cross-check x86_64-pc-windows-msvc (all features; lib, tests, examples)"
"$cross" x86_64-pc-windows-msvc --lib --tests --examples --all-features
