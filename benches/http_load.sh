#!/usr/bin/env bash
# HTTP load benchmark: the same hyper service (benches/http_load_server.rs, `GET /`
# answering 13 bytes over HTTP/1.1 keep-alive) on ringtide's io_uring backend,
# ringtide's mio backend and tokio, each under wrk at 50 and 256 connections,
# interleaved (the servers' order rotates every round), on loopback only.
#
# Reports per run and as medians: requests/s, p50 and p99 latency (wrk's), and the
# server's CPU time per request (utime + stime from /proc/PID/stat over the run,
# divided by the requests wrk completed).
#
#   benches/http_load.sh                    # 3 rounds of 10 s runs
#   ROUNDS=5 DURATION=15 WORKERS=2 benches/http_load.sh
#
# Installs wrk (Debian's package) if it is missing. Needs Linux (io_uring, /proc).
#
# Measured (2 shared, noisy cores, load average 8 - 11 from other work; server 2
# workers, wrk 2 threads on the same cores; two runs of 5 rounds x 10 s; medians per
# run, as ratios to tokio + hyper in the same run):
#
#   connections  server             requests/s     server CPU per request
#   50           ringtide io_uring  1.10x, 1.09x   1.15x, 1.22x  (12.0 - 12.8 us)
#   50           ringtide mio       1.13x, 0.94x   0.96x, 1.07x  (10.4 - 10.7 us)
#   50           tokio              34k, 47k/s     11.2, 9.8 us
#   256          ringtide io_uring  1.34x, 1.12x   1.19x, 1.20x  (13.1 - 13.7 us)
#   256          ringtide mio       1.08x, 1.14x   1.07x, 0.99x  (10.8 - 12.3 us)
#   256          tokio              30k, 41k/s     11.5, 10.9 us
#
# p50 latency was level (0.5 - 6 ms at these loads); p99 (15 - 54 ms) is dominated by
# the machine's other load. io_uring's extra CPU is its readiness path for the poll
# traits: a wait costs a failed recv, a POLL_ADD and a second recv (see
# src/hyper/mod.rs for the adapter measurements).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
WORKERS="${WORKERS:-2}"
WRK_THREADS="${WRK_THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-50 256}"
SERVERS="${SERVERS:-ringtide-io_uring ringtide-mio tokio}"
PORT="${PORT:-18080}"

if ! command -v wrk >/dev/null 2>&1; then
    echo "== installing wrk"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

echo "== building the server (release)"
cargo build --release --features hyper --bench http_load_server 2>&1 | tail -1
server_bin=$(ls -t target/release/deps/http_load_server-* | grep -v '\.d$' | head -1)

ticks_per_second=$(getconf CLK_TCK)
results=$(mktemp)
server_log=$(mktemp)
trap 'rm -f "$results" "$server_log"' EXIT

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# wrk's latency ("317.00us", "1.23ms", "2.00s") in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); print v + 0 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); print v * 1000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000000 }
        else print "nan"
    }'
}

run_one() {
    local server=$1 connections=$2
    # A new port each run: nothing of the previous server's connections is in the way.
    PORT=$((PORT + 1))
    "$server_bin" --runtime "$server" --addr "127.0.0.1:$PORT" --workers "$WORKERS" >"$server_log" 2>&1 &
    local pid=$!
    for _ in $(seq 1200); do
        grep -q "listening on" "$server_log" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if ! grep -q "listening on" "$server_log"; then
        echo "$server (c=$connections) did not start, skipped: $(cat "$server_log")"
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return 0
    fi
    # A short warm-up, then the measured run.
    wrk -t"$WRK_THREADS" -c"$connections" -d1s "http://127.0.0.1:$PORT/" >/dev/null
    local before after output
    before=$(cpu_ticks "$pid")
    output=$(wrk -t"$WRK_THREADS" -c"$connections" -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/")
    after=$(cpu_ticks "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    local rps p50 p99 requests errors
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$output")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$output")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$output")")
    requests=$(awk '/requests in/ { print $1 }' <<<"$output")
    errors=$(awk '/Socket errors|Non-2xx/ { print }' <<<"$output" | tr '\n' ' ')
    local cpu_us_per_request
    cpu_us_per_request=$(awk -v t=$((after - before)) -v hz="$ticks_per_second" -v n="$requests" \
        'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    printf '%-18s c=%-4s %10.0f req/s  p50 %8.1f us  p99 %8.1f us  server CPU %6s us/req %s\n' \
        "$server" "$connections" "$rps" "$p50" "$p99" "$cpu_us_per_request" "$errors"
    echo "$server $connections $rps $p50 $p99 $cpu_us_per_request" >>"$results"
}

echo "== $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); server: $WORKERS workers; wrk: $WRK_THREADS threads, ${DURATION}s runs"
read -r -a servers <<<"$SERVERS"
for round in $(seq "$ROUNDS"); do
    echo "-- round $round"
    for connections in $CONNECTIONS; do
        for step in $(seq 0 $((${#servers[@]} - 1))); do
            index=$(((round + step) % ${#servers[@]}))
            run_one "${servers[$index]}" "$connections"
        done
    done
done

echo "== medians over $ROUNDS rounds (ratios: to tokio at the same connection count)"
for connections in $CONNECTIONS; do
    tokio_rps=$(awk -v c="$connections" '$1 == "tokio" && $2 == c { print $3 }' "$results" | sort -g | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : "nan") }')
    tokio_cpu=$(awk -v c="$connections" '$1 == "tokio" && $2 == c { print $6 }' "$results" | sort -g | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : "nan") }')
    for server in "${servers[@]}"; do
        median() {
            awk -v s="$server" -v c="$connections" -v f="$1" '$1 == s && $2 == c { print $f }' "$results" |
                sort -g | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : "nan") }'
        }
        rps=$(median 3) p50=$(median 4) p99=$(median 5) cpu=$(median 6)
        awk -v s="$server" -v c="$connections" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v cpu="$cpu" \
            -v trps="$tokio_rps" -v tcpu="$tokio_cpu" 'BEGIN {
            printf "%-18s c=%-4s %10.0f req/s (%.2fx)  p50 %8.1f us  p99 %8.1f us  CPU %6.2f us/req (%.2fx)\n",
                s, c, rps, rps / trps, p50, p99, cpu, cpu / tcpu
        }'
    done
done
