#!/usr/bin/env bash
# The project's test command (see README): formatting, lints, the test suite, and the
# loom model checks. Run from anywhere inside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings

echo "== layers (no import circles; the driver imports nothing above it)"
./ci/layers.sh

echo "== one backend at a time (what a non-Linux target or a trimmed build compiles)"
cargo check --no-default-features --features mio,macros --all-targets
cargo check --no-default-features --features io-uring
cargo clippy --no-default-features --features mio -- -D warnings

echo "== tests"
# Every feature: both backends plus `bytes`, `tokio-io` and `futures-io`, whose tests
# (`tests/net_poll_io.rs`) compile only with them.
# nextest runs each test in its own process, which the tests that read process-wide
# counters (`ringtide::__private`, zero-copy and fallback counts) need: under plain
# `cargo test` other tests in the same process move them too. So it is installed when
# missing, not replaced.
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "== installing cargo-nextest (the test runner; one process per test)"
    cargo install --locked cargo-nextest
fi
cargo nextest run --workspace --all-features --no-fail-fast
# nextest does not run doctests.
cargo test --workspace --all-features --doc

echo "== AddressSanitizer, CI subset (nightly; the whole suite is ci/asan.sh)"
# The lib's unit tests and the integration tests of the code that shares memory with the
# kernel or other threads, on both backends (the list and its cost: ci/asan.sh). Prints
# a SKIP line and passes when there is no nightly toolchain.
./ci/asan.sh --ci

echo "== benchmark suite, smoke version (bench/: a release build, then a few seconds per workload)"
# Proves the suite runs end to end: every server process, the load generator, the
# in-process workloads, the table, JSON, CSV and SVG output (into target/, not the
# committed bench/results/).
cargo run --release -p ringtide-bench -- --smoke --out target/bench-smoke

echo "== soak and churn, CI version (soak/: a release build, then 5 s per backend and workload)"
# 10 000 churning connections against the ringtide echo server on each backend, and the
# mixed timers/blocking/abort workload; fails on any error, leak or RSS growth > 10 %.
./ci/soak.sh --ci --out target/soak-ci

echo "== loom"
LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}" RUSTFLAGS="--cfg loom" \
    cargo test --release --lib --target-dir target/loom -- loom_
