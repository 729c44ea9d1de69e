#!/usr/bin/env bash
# ThreadSanitizer run (nightly, `-Zsanitizer=thread` with a sanitized std built by
# `-Zbuild-std`, which needs the nightly's `rust-src`: installed here if missing).
#
#     ci/tsan.sh                  # the default subset: groups core, mio, io_uring, alone
#     ci/tsan.sh mio              # some groups only
#     ci/tsan.sh -- --test time   # any cargo test arguments instead
#
# What passes where (nightly 2026-05-19; counts and times in notes/sanit2-readme.md):
#
# * core (the lib's unit tests, rt_spawn, rt_steal, time; both backends, since the
#   unit tests build runtimes of either), mio (io_driver and net_tcp tests on mio),
#   io_uring (the same on io_uring), alone (two io_driver tests one at a time, both
#   backends): no report left with ci/tsan.supp, and every test passes. (The fd check
#   of `drop_10k_in_flight_reads_*` used to fail now and then: TSan's first symbolized
#   report, a suppressed one too, starts llvm-symbolizer as a child process with two
#   pipe ends open in this one; the check no longer counts pipes shared with a child.)
# * ci/tsan.supp hides two false positives, each explained there: file descriptor
#   "races" when a number closed through the ring (`IORING_OP_CLOSE`, invisible to TSan)
#   is reused (core and io_uring, in most runs: socketpair, accept4, socket, eventfd),
#   and crossbeam-deque's speculative read of a slot a thief then discards (mio and
#   alone, some runs). Neither is a race.
# * Where TSan does not work: io_uring's own synchronisation. The kernel writes CQEs
#   into the shared ring and data into buffers, and what orders those writes (the
#   kernel's store of the CQ tail, the `io_uring_enter` syscall) is invisible to it. A
#   clean io_uring group says the program's own atomics and locks around the rings are
#   consistent, not that a buffer reused after its CQE is: ASan (ci/asan.sh) and
#   tests/io_driver.rs's poisoned buffers check that. Closes through the ring are
#   invisible too (the fd entries in ci/tsan.supp). A future report whose other side is
#   the kernel's write (a stack in the io_uring crate's ring accessors or in
#   `driver::uring`) is such a case until shown otherwise.
# * Skipped (`slow` below): stress tests that pass natively and under ASan but outrun
#   their watchdog (40 s) or their own time margin under TSan's slowdown: not races.
#   Run alone instead (`alone`): a 4 GiB buffer (past the watchdog when other tests
#   compete for the CPU) and a check of the process's open fd count (other tests' fds
#   count too when they share the process).
#
# Not part of ci/test.sh: the first build (a sanitized std and the subset) and the
# groups took 31 min here; later runs (built) about 4 min.
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
# Too slow under TSan (see the header), skipped: 1 000 000 ten-second sleeps polled
# before the first fires; 100 000 sleeps; 64 MiB each way.
slow=(
    --skip dropping_a_million_timers_empties_the_wheel
    --skip hundred_thousand_concurrent_sleeps_all_fire
    --skip transfer_64_mib_both_directions_at_once_through_split_halves
)
# Run one at a time (group `alone`) instead of in parallel with the others: a 4 GiB
# buffer (past the watchdog when other tests compete for the slowed CPU) and a check that
# the process's open fd count is back to where it was (other tests' fds count too when
# they run in the same process at the same time).
alone=(buffer_larger_than_u32_max_is_clamped_not_wrapped drop_10k_in_flight_reads)
skip_alone=()
for name in "${alone[@]}"; do
    skip_alone+=(--skip "$name")
done

run() {
    # halt_on_error=0: report every race, not just the first; the exit code still says
    # whether any was found (exitcode=66). print_suppressions=1: the log says which
    # suppressions matched, and how often.
    RUSTFLAGS="-Zsanitizer=thread -Cforce-frame-pointers=yes" \
    RUSTDOCFLAGS="-Zsanitizer=thread" \
    TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 report_signal_unsafe=0 print_suppressions=1 suppressions=$PWD/ci/tsan.supp ${TSAN_OPTIONS:-}" \
        cargo +nightly test -Zbuild-std --target "$target" --target-dir target/tsan "$@"
}

if [ "${1:-}" = "--" ]; then
    shift
    run "$@"
    exit
fi

groups=(core mio io_uring alone)
if [ $# -gt 0 ]; then
    groups=("$@")
fi
status=0
mkdir -p target/tsan
for group in "${groups[@]}"; do
    case "$group" in
        core) args=("${core[@]}" -- "${slow[@]}") ;;
        mio | io_uring) args=("${io[@]}" -- "$group" "${slow[@]}" "${skip_alone[@]}") ;;
        alone) args=(--all-features --test io_driver --no-fail-fast -- --test-threads=1 "${alone[@]}") ;;
        *) echo "unknown group '$group' (core, mio, io_uring, alone)" >&2; exit 2 ;;
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
    suppressed=$(grep -A20 '^ThreadSanitizer: Matched' "$log" | grep -E '^ *[0-9]+ race:' \
        | awk '{count[$2] += $1} END {for (s in count) print "   suppressed " count[s] "x " s}' || true)
    [ -z "$suppressed" ] || echo "$suppressed"
done
exit "$status"
