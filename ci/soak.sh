#!/usr/bin/env bash
# Soak and churn (issue 19): per backend (io_uring, mio), a ringtide echo server process
# under 10 000 churning connections from a tokio client (random sizes 1 B-64 KiB,
# half-closes, resets), and a mixed workload (timers, spawn_blocking, block_in_place,
# aborts with I/O in flight). Prints a table, writes target/soak/soak.json, and exits
# non-zero when a target fails (errors > 0, RSS growth > 10 %, fds not back to baseline,
# tasks/timers/ops left at the end).
#
#   ./ci/soak.sh            60 s per backend and workload (about 5 minutes)
#   ./ci/soak.sh --ci       5 s per backend and workload (about 30 s after the build;
#                           memory growth is reported there, judged from 30 s runs)
#   ./ci/soak.sh --help     every option (duration, connections, backends, workloads)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p ringtide-soak
exec target/release/ringtide-soak "$@"
