#!/usr/bin/env python3
"""A redis-server primary's replica: redis-server and kvserver side by side.

    cargo build --release -p kvserver
    python3 tools/bench_replica.py [--keys 1000000] [--rounds 3] [--ports 7465,7466,7467]

Per round, for each replica (a fresh redis-server, a fresh `kvserver --in-memory`, their
order flipped every round) following one redis-server primary that holds --keys string keys
(DEBUG POPULATE, 100-byte values) plus what the earlier rounds wrote:
  - full sync: the time from REPLICAOF to a serving replica (link up, and its
    slave_repl_offset equal to the primary's master_repl_offset), checked by DBSIZE;
  - stream: redis-benchmark runs --writes SETs (50 clients, pipeline 16, random keys) against
    the primary with the replica attached: the primary's rate as redis-benchmark reports it,
    and the time from redis-benchmark's end until the replica has applied everything (lag).
The table shows each figure's median over the rounds and kv/redis. Standard library only;
redis-server, redis-cli and redis-benchmark must be installed. Everything runs on one
machine: the figures say as much about the machine as about the servers.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KVSERVER = os.path.join(HERE, "..", "target", "release", "kvserver")


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *map(str, args)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def info(port, field):
    for line in cli(port, "INFO", "replication").splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return None


def wait_port(port):
    deadline = time.time() + 30
    while time.time() < deadline:
        r = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return
        time.sleep(0.02)
    sys.exit(f"nothing answers on port {port}")


def caught_up(primary, replica):
    return (info(replica, "master_link_status") == "up"
            and info(replica, "slave_repl_offset") == info(primary, "master_repl_offset"))


def wait_caught_up(primary, replica, timeout=600):
    deadline = time.time() + timeout
    while not caught_up(primary, replica):
        if time.time() > deadline:
            sys.exit(f"the replica on {replica} did not catch up")
        time.sleep(0.005)


def start_replica(kind, port, tmp):
    if kind == "redis":
        d = os.path.join(tmp, f"replica-{port}")
        os.makedirs(d, exist_ok=True)
        p = subprocess.Popen(["redis-server", "--port", str(port), "--save", "",
                              "--appendonly", "no", "--dir", d],
                             cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        p = subprocess.Popen([KVSERVER, "--port", str(port), "--in-memory"],
                             cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def one(kind, primary, port, tmp, args):
    rep = start_replica(kind, port, tmp)
    try:
        t0 = time.perf_counter()
        cli(port, "REPLICAOF", "127.0.0.1", primary)
        wait_caught_up(primary, port)
        sync = time.perf_counter() - t0
        keys = int(cli(primary, "DBSIZE"))
        assert int(cli(port, "DBSIZE")) == keys, "the replica has every key"
        bench = subprocess.run(
            ["redis-benchmark", "-p", str(primary), "-t", "set", "-n", str(args.writes),
             "-c", "50", "-P", "16", "-r", "1000000", "-d", "100", "--csv", "-q"],
            capture_output=True, text=True, check=True)
        t1 = time.perf_counter()
        wait_caught_up(primary, port)
        lag = time.perf_counter() - t1
        rate = float(bench.stdout.strip().splitlines()[-1].split(",")[1].strip('"'))
        return sync, rate, lag
    finally:
        rep.terminate()
        rep.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--writes", type=int, default=500_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ports", default="7465,7466,7467",
                    help="primary, redis replica, kv replica")
    args = ap.parse_args()
    primary, rport, kport = map(int, args.ports.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        pd = os.path.join(tmp, "primary")
        os.makedirs(pd)
        prim = subprocess.Popen(
            ["redis-server", "--port", str(primary), "--save", "", "--appendonly", "no",
             "--dir", pd, "--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes"],
            cwd=pd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(primary)
            cli(primary, "DEBUG", "POPULATE", args.keys, "key", 100)
            results = {"redis": [], "kv": []}
            for r in range(args.rounds):
                order = ["redis", "kv"] if r % 2 == 0 else ["kv", "redis"]
                for kind in order:
                    port = rport if kind == "redis" else kport
                    results[kind].append(one(kind, primary, port, tmp, args))
                    s, rate, lag = results[kind][-1]
                    print(f"round {r + 1} {kind:5}: full sync {s:.2f} s, "
                          f"primary {rate:,.0f} SET/s, catch-up {lag * 1000:.0f} ms",
                          file=sys.stderr)
            keys = int(cli(primary, "DBSIZE"))
        finally:
            prim.terminate()
            prim.wait()
    med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in results.items()}
    print(f"primary: redis-server with {keys:,} keys at the end; medians of {args.rounds} rounds")
    print("| figure | redis-server replica | kvserver replica | kv/redis |")
    print("|---|---|---|---|")
    names = ["full sync to a serving replica (s)", "primary SET/s with the replica attached",
             "catch-up after the SET burst (ms)"]
    scale = [1, 1, 1000]
    for i, name in enumerate(names):
        r, k = med["redis"][i] * scale[i], med["kv"][i] * scale[i]
        print(f"| {name} | {r:,.2f} | {k:,.2f} | {k / r:.2f}x |")


if __name__ == "__main__":
    main()
