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
# impls, provided-buffer rings, the receive queue, the timer wheel's slab), `io_driver`
# (ops dropped, forgotten, moved between rings and threads while in flight, on io_uring
# and mio), `io_safety` (fd ownership), `net_recv_multi` (multishot receive into
# provided buffers, backpressure, sockets dropped with buffers queued), `net_pooled`
# (pooled reads, a tiny ring running out), `net_send_zc` (buffers held until the
# zero-copy notification), `net_readiness` and `net_poll_io` (the poll path's multishot
# `POLL_ADD` and per-listener registrations), `fault_uring` and `driver_lifecycle`
# (tiny CQ/SQ, a broken ring, teardown with ops in flight), `net_tcp`, `net_unix`,
# `net_udp` and `fs_file` (the owned-buffer I/O itself), `rt_shutdown`,
# `fault_shutdown`, `rt_panic` and `rt_blocking` (runtimes dropped, tasks panicking
# and blocking work, with ops in flight). From a cold target dir (as in a CI clone):
# 4 min 53 s here, 815 tests (load 4.5-5.6 on 2 shared cores); the whole run, cold,
# about 9 min (1946 tests; notes/sanit2-readme.md).
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
    args=(--all-features --lib --test io_driver --test io_safety --test net_recv_multi
        --test net_pooled --test net_send_zc --test net_readiness --test net_poll_io
        --test fault_uring --test driver_lifecycle --test net_tcp --test net_unix
        --test net_udp --test fs_file --test rt_shutdown --test fault_shutdown
        --test rt_panic --test rt_blocking --no-fail-fast)
fi
# nextest when it is installed, as ci/test.sh: one process per test, which the tests
# that read process-wide `__private` counters rely on (`rt_common::own_process`);
# under `cargo test` several tests share a process and those counters, and
# `tests/net_send_zc.rs` fails three of its io_uring assertions for that reason alone.
runner=(test)
if cargo nextest --version >/dev/null 2>&1; then
    runner=(nextest run)
fi
RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
ASAN_OPTIONS="detect_leaks=0" \
    cargo +nightly "${runner[@]}" --target "$target" --target-dir target/asan "${args[@]}"
