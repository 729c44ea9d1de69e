#!/usr/bin/env bash
# ThreadSanitizer run (nightly, `-Zsanitizer=thread` with a sanitized std built by
# `-Zbuild-std`, which needs the nightly's `rust-src`: installed here if missing).
# Not part of ci/test.sh: see the README's "Reliability" part for what it finds.
#
#     ci/tsan.sh                  # the default subset: groups core, mio, io_uring
#     ci/tsan.sh mio              # some groups only
#     ci/tsan.sh -- --test time   # any cargo test arguments instead
#
# Where it works: the scheduler, the timer, tasks, the blocking pool and the mio
# backend: every synchronisation there is an atomic or a lock TSan instruments.
# Where it does not: io_uring. The kernel writes CQEs into the shared CQ ring and data
# into buffers; the ordering that makes those writes visible (the kernel's store of
# the CQ tail, the `io_uring_enter` syscall) happens outside the program, so TSan sees
# two threads touching memory with no happens-before between them (an SQE built on one
# worker and its buffer reused on another after the CQE, for example) and may report
# races that are not there. ci/tsan.supp suppresses nothing today; a report whose stack
# sits in the io_uring crate's ring accessors or in `driver::uring` is such a case until
# shown otherwise (see the README).
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(rustc -vV | sed -n 's/^host: //p')"

if ! rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src'; then
    echo "== tsan: installing the nightly's rust-src (for -Zbuild-std)"
    if ! rustup +nightly component add rust-src; then
        echo "SKIP tsan: the nightly toolchain's rust-src is not installed and cannot be installed here"
        exit 0
    fi
fi

# The subset, in three groups: `core` runs the lib's unit tests (scheduler, timer,
# cells, waiters) and the scheduler's and timer's integration tests unfiltered; `mio`
# and `io_uring` run the I/O drivers' tests whose names contain the backend.
core=(--all-features --lib --test rt_spawn --test rt_steal --test time --no-fail-fast)
io=(--all-features --test io_driver --test net_tcp --no-fail-fast)

run() {
    # halt_on_error=0: report every race, not just the first; the exit code still says
    # whether any was found (exitcode=66).
    RUSTFLAGS="-Zsanitizer=thread -Cforce-frame-pointers=yes" \
    RUSTDOCFLAGS="-Zsanitizer=thread" \
    TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 report_signal_unsafe=0 suppressions=$PWD/ci/tsan.supp ${TSAN_OPTIONS:-}" \
        cargo +nightly test -Zbuild-std --target "$target" --target-dir target/tsan "$@"
}

if [ "${1:-}" = "--" ]; then
    shift
    run "$@"
    exit
fi

groups=(core mio io_uring)
if [ $# -gt 0 ]; then
    groups=("$@")
fi
status=0
mkdir -p target/tsan
for group in "${groups[@]}"; do
    case "$group" in
        core) args=("${core[@]}") ;;
        mio | io_uring) args=("${io[@]}" -- "$group") ;;
        *) echo "unknown group '$group' (core, mio, io_uring)" >&2; exit 2 ;;
    esac
    log="target/tsan/${group}.log"
    echo "== tsan: ${group} (log in ${log})"
    if run "${args[@]}" >"$log" 2>&1; then
        result=clean
    else
        result=failed
        status=1
    fi
    reports=$(grep -c '^WARNING: ThreadSanitizer' "$log" || true)
    echo "   ${group}: ${result}, ${reports} ThreadSanitizer report(s)"
    grep -E '^(test result|SUMMARY: ThreadSanitizer)' "$log" | sort | uniq -c | sed 's/^/   /' || true
done
exit "$status"
