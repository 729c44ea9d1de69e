#!/usr/bin/env bash
# AddressSanitizer run of the whole test suite (nightly): the library's unit tests and
# every integration test, with every feature. valgrind hangs on multi-threaded io_uring
# programs, so memory safety of the drivers is checked here.
#
# ASan cannot see the kernel writing into freed memory; `tests/io_driver.rs` guards that
# ordering itself (buffers are poisoned, never freed, and checked after the run).
#
#     ci/asan.sh                      # every unit and integration test
#     ci/asan.sh --ci                 # the subset ci/test.sh runs (below)
#     ci/asan.sh --test io_driver     # or any cargo test arguments
#
# The CI subset is the code that owns memory the kernel or another thread touches, on
# both backends: the lib's unit tests (op cells, multishot cells, waiter lists, buffer
# impls, the timer wheel's slab), `io_driver` (ops dropped, forgotten, moved between
# rings and threads while in flight, on io_uring and mio) and `io_safety` (fd ownership).
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(rustc -vV | sed -n 's/^host: //p')"
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "SKIP asan: no nightly toolchain here (rustup toolchain install nightly)"
    exit 0
fi
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
    args=(--all-features --lib --tests --no-fail-fast)
elif [ "${args[0]}" = "--ci" ]; then
    args=(--all-features --lib --test io_driver --test io_safety --no-fail-fast)
fi
RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
ASAN_OPTIONS="detect_leaks=0" \
    cargo +nightly test --target "$target" --target-dir target/asan "${args[@]}"
