#!/usr/bin/env bash
# Miri over the pure-data parts (nightly `cargo miri`): the unit tests that make no
# system calls. Miri finds undefined behaviour in unsafe code the tests reach (aliasing
# under Stacked Borrows, out-of-bounds or dangling pointers, uninitialised reads, data
# races between Miri threads) and leaks.
#
#     ci/miri.sh            # the pure-data unit tests (below)
#     ci/miri.sh FILTER...  # other unit-test name filters
#
# Covered: the timer wheel (its slab of entries and slot bookkeeping) and the timer
# shards' keeper/sleeper bookkeeping, IoBuf/IoBufMut for the std and `bytes` types and
# slices of them, the aligned direct-I/O buffer, the idle protocol's counters, the mio backend's readiness waiter lists, the op waiter slab, the signal
# slots, and the coop budgets. Not covered: anything that talks to the kernel (rings,
# sockets, files, eventfds, the runtime itself), which Miri cannot run; ASan
# (ci/asan.sh) and the integration tests cover those.
#
# Skips (exit 0, with a SKIP line) when the nightly has no Miri and it cannot be
# installed here.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "== miri: installing the nightly's miri and rust-src"
    if ! rustup +nightly component add miri rust-src >/dev/null 2>&1 \
        || ! cargo +nightly miri --version >/dev/null 2>&1; then
        echo "SKIP miri: the nightly toolchain has no miri component and it cannot be installed here"
        exit 0
    fi
fi

filters=("$@")
if [ ${#filters[@]} -eq 0 ]; then
    filters=(
        time::wheel::tests
        time::driver::tests
        io::buf::tests
        io::aligned_buf::tests
        runtime::scheduler::multi_thread::idle::tests
        driver::mio::scheduled_io::tests
        driver::waiters::tests
        signal::slot::tests
        sync::budget::tests
        task::coop::tests
    )
fi

# Not the run queue's tests: crossbeam-epoch (under crossbeam-deque) violates Stacked
# Borrows in `Local::element_of` (internal.rs:567, reached from `Worker::push`'s pin),
# inside crossbeam, not in ringtide.
# -Zmiri-permissive-provenance: crossbeam-epoch turns tagged integers back into
# pointers (its documented design), which strict provenance would flag.
MIRIFLAGS="-Zmiri-permissive-provenance ${MIRIFLAGS:-}" \
    cargo +nightly miri test --features bytes --lib --target-dir target/miri -- "${filters[@]}"
