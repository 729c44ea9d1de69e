#!/usr/bin/env bash
# AddressSanitizer run of the whole test suite (nightly): the library's unit tests and
# every integration test, with every feature. valgrind hangs on multi-threaded io_uring
# programs, so memory safety of the drivers is checked here.
#
# ASan cannot see the kernel writing into freed memory; `tests/io_driver.rs` guards that
# ordering itself (buffers are poisoned, never freed, and checked after the run).
#
#     ci/asan.sh                      # every unit and integration test
#     ci/asan.sh --test io_driver     # or any cargo test arguments
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(rustc -vV | sed -n 's/^host: //p')"
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
    args=(--all-features --lib --tests --no-fail-fast)
fi
RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
ASAN_OPTIONS="detect_leaks=0" \
    cargo +nightly test --target "$target" --target-dir target/asan "${args[@]}"
