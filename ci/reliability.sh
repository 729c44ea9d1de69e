#!/usr/bin/env bash
# The reliability suite (issue 19) in one command: fault injection, soak and churn,
# loom models, AddressSanitizer, ThreadSanitizer and Miri, on both backends. Each step
# runs to the end even when an earlier one failed; a summary with each step's result and
# time is printed last, and the exit status is non-zero when any step failed.
#
#     ci/reliability.sh           # everything, full size
#     ci/reliability.sh --ci      # the CI sizes: soak 5 s, the ASan subset, no TSan/Miri
#                                 # (31 min from cold loom/ASan target dirs at load 7-9:
#                                 # faults 52 s, soak 152 s, loom 508 s, ASan 1140 s)
#     ci/reliability.sh STEP...   # some steps only: faults soak loom asan tsan miri
#
# Steps and what each runs (README, "Reliability", has what each proves and the latest
# figures):
#
# * faults: the fault-injection tests (seccomp, rlimits, probe overrides, tiny rings,
#   shutdown with ops in flight), each child-process case in its own process.
# * soak:   ci/soak.sh: 10 000 churning connections and the mixed workload per backend,
#           60 s each (5 s with --ci).
# * loom:   every `loom_*` model in the library.
# * asan:   ci/asan.sh: the whole suite under AddressSanitizer (the CI subset with --ci).
# * tsan:   ci/tsan.sh: its four groups under ThreadSanitizer (not with --ci).
# * miri:   ci/miri.sh: the syscall-free unit tests under Miri (not with --ci).
#
# The sanitizer and Miri steps print a SKIP line and pass where the nightly toolchain
# (or its component) is missing and cannot be installed.
set -uo pipefail
cd "$(dirname "$0")/.."

ci=0
steps=()
for arg in "$@"; do
    case "$arg" in
        --ci) ci=1 ;;
        faults | soak | loom | asan | tsan | miri) steps+=("$arg") ;;
        -h | --help)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
            exit 0
            ;;
        *)
            echo "unknown argument '$arg' (--ci, or steps: faults soak loom asan tsan miri)" >&2
            exit 2
            ;;
    esac
done
if [ ${#steps[@]} -eq 0 ]; then
    if [ "$ci" = 1 ]; then
        steps=(faults soak loom asan)
    else
        steps=(faults soak loom asan tsan miri)
    fi
fi

run_step() {
    case "$1" in
        faults)
            cargo nextest run --all-features --no-fail-fast \
                --test fault_env --test fault_probe --test fault_uring \
                --test fault_shutdown --test fault_accept --test net_restart \
                --test driver_select
            ;;
        soak)
            if [ "$ci" = 1 ]; then
                ./ci/soak.sh --ci --out target/soak-ci
            else
                ./ci/soak.sh
            fi
            ;;
        loom)
            LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}" RUSTFLAGS="--cfg loom" \
                cargo test --release --lib --target-dir target/loom -- loom_
            ;;
        asan)
            if [ "$ci" = 1 ]; then
                ./ci/asan.sh --ci
            else
                ./ci/asan.sh
            fi
            ;;
        tsan) ./ci/tsan.sh ;;
        miri) ./ci/miri.sh ;;
    esac
}

summary=()
status=0
for step in "${steps[@]}"; do
    echo "== reliability: ${step}"
    started=$(date +%s)
    if run_step "$step"; then
        result=passed
    else
        result=FAILED
        status=1
    fi
    summary+=("$(printf '%-7s %-7s %5ss' "$step" "$result" "$(($(date +%s) - started))")")
done

echo "== reliability summary"
printf '%s\n' "${summary[@]}"
exit "$status"
