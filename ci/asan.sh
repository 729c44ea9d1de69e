#!/usr/bin/env bash
# AddressSanitizer run of the I/O driver tests (nightly). valgrind hangs on
# multi-threaded io_uring programs, so memory safety of the drivers is checked here.
#
# ASan cannot see the kernel writing into freed memory; `tests/io_driver.rs` guards that
# ordering itself (buffers are poisoned, never freed, and checked after the run).
#
#     ci/asan.sh              # the I/O driver and selection tests
#     ci/asan.sh --lib        # any extra cargo test arguments
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(rustc -vV | sed -n 's/^host: //p')"
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
    args=(--test io_driver --test driver_select)
fi
RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
ASAN_OPTIONS="detect_leaks=0" \
    cargo +nightly test --target "$target" --target-dir target/asan "${args[@]}"
