#!/usr/bin/env python3
"""Server syscalls and CPU per request over a TCP ping-pong, from `perf stat -p <server>`.

The suite's binary runs one server (RINGTIDE_BENCH_SERVER=<key>, one worker pinned to
CPU 0); this script is the client, pinned to CPU 1: N connections, each sending SIZE
bytes and waiting for the echo, ROUNDS times. Servers run interleaved, REPEATS times;
the table gives medians (min-max) and the ratio to tokio's median.

    bench/scripts/perf_pingpong.py BIN SERVERS REPEATS [CASES]

SERVERS: comma-separated keys (`ringtide-io_uring-poll`, `tokio`, `raw-io_uring`, ...);
`key@/path/to/binary` runs that key from another build (before/after in one run), and
`label=key@binary` names the row. CASES: e.g. `16x100,256x1024` (default: all four).
PERF_OUT=<file> records a profile (`perf record -g`, cpu-clock) instead of counting;
use REPEATS=1 and one server then. ROUNDS_SCALE=<n> multiplies the rounds.
"""
import os, sys, socket, selectors, subprocess, time, statistics

BIN = sys.argv[1]
SERVERS = sys.argv[2].split(",")
REPEATS = int(sys.argv[3])
CASES = [(16, 100, 1000), (16, 1024, 1000), (256, 100, 100), (256, 1024, 100)]
SCALE = int(os.environ.get("ROUNDS_SCALE", "1"))
CASES = [(c, s, r * SCALE) for c, s, r in CASES]
if len(sys.argv) > 4:
    CASES = [c for c in CASES if f"{c[0]}x{c[1]}" in sys.argv[4].split(",")]


def parse(server):
    label, _, rest = server.rpartition("=")
    key, _, binary = rest.partition("@")
    return (label or rest), key, (binary or BIN)


def start(key, binary):
    env = dict(os.environ, RINGTIDE_BENCH_SERVER=key, RINGTIDE_BENCH_SERVER_CPUS="0",
               RINGTIDE_BENCH_SERVER_THREADS="1")
    p = subprocess.Popen([binary], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    assert line and line[0] == "LISTEN", line
    host, port = line[1].rsplit(":", 1)
    return p, (host, int(port))


def connect(addr, conns, size):
    os.sched_setaffinity(0, {1})
    socks = []
    for _ in range(conns):
        s = socket.create_connection(addr)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    msg = b"x" * size
    for s in socks:  # warm up: one round each
        s.sendall(msg)
    for s in socks:
        got = 0
        while got < size:
            got += len(s.recv(65536))
    return socks


def run_rounds(socks, size, rounds):
    sel = selectors.DefaultSelector()
    msg = b"x" * size
    state = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        state[s] = [rounds, 0]
        s.send(msg)
    left = len(socks)
    while left:
        for key, _ in sel.select():
            s = key.fileobj
            st = state[s]
            st[1] += len(s.recv(65536))
            if st[1] >= size:
                st[1] -= size
                st[0] -= 1
                if st[0] == 0:
                    sel.unregister(s)
                    left -= 1
                else:
                    s.send(msg)
    return len(socks) * rounds


def measure(key, binary, conns, size, rounds):
    p, addr = start(key, binary)
    try:
        socks = connect(addr, conns, size)
        if os.environ.get("PERF_OUT"):
            cmd = ["perf", "record", "-o", os.environ["PERF_OUT"], "-e", "cpu-clock",
                   "-F", "10000", "-g", "-p", str(p.pid)]
        else:
            cmd = ["perf", "stat", "-x,", "-e",
                   "raw_syscalls:sys_enter,syscalls:sys_enter_recvfrom,"
                   "syscalls:sys_enter_io_uring_enter,task-clock", "-p", str(p.pid)]
        perf = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        t0 = time.time()
        reqs = run_rounds(socks, size, rounds)
        wall = time.time() - t0
        perf.send_signal(2)
        err = perf.communicate()[1]
        vals = {}
        for line in err.splitlines():
            f = line.split(",")
            if len(f) > 3:
                try:
                    vals[f[2]] = float(f[0])
                except ValueError:
                    pass
        for s in socks:
            s.close()
        return dict(sys=vals.get("raw_syscalls:sys_enter", 0) / reqs,
                    recv=vals.get("syscalls:sys_enter_recvfrom", 0) / reqs,
                    enter=vals.get("syscalls:sys_enter_io_uring_enter", 0) / reqs,
                    cpu_us=vals.get("task-clock", 0) * 1000 / reqs,  # task-clock in msec
                    rps=reqs / wall)
    finally:
        p.stdin.close()
        p.wait()


def load():
    return open("/proc/loadavg").read().split()[0]


results = {}
loads = []
servers = [parse(s) for s in SERVERS]
for case in CASES:
    for r in range(REPEATS):
        for label, key, binary in servers:
            loads.append(float(load()))
            m = measure(key, binary, *case)
            results.setdefault((case, label), []).append(m)
            print(case, label, r, {k: round(v, 3) for k, v in m.items()}, "load", load(), flush=True)

print(f"\nload average (1 min) during the run: {min(loads):.2f}-{max(loads):.2f}")
print("\n| case | server | syscalls/req | recv/req | io_uring_enter/req | server CPU µs/req median (min–max) | CPU × tokio | client rps median |")
print("|---|---|---|---|---|---|---|---|")
for case in CASES:
    tok = statistics.median(m["cpu_us"] for m in results.get((case, "tokio"), [{"cpu_us": float("nan")}]))
    for label, _, _ in servers:
        ms = results[(case, label)]
        cpu = [m["cpu_us"] for m in ms]
        med = statistics.median(cpu)
        print(f"| {case[0]} conns, {case[1]} B | {label} | {statistics.median(m['sys'] for m in ms):.2f} | "
              f"{statistics.median(m['recv'] for m in ms):.2f} | {statistics.median(m['enter'] for m in ms):.2f} | "
              f"{med:.2f} ({min(cpu):.2f}–{max(cpu):.2f}) | {(med / tok) if tok else float('nan'):.2f} | {statistics.median(m['rps'] for m in ms):.0f} |")
