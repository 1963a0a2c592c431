#!/usr/bin/env python3
"""kv as the primary: a redis-server pair and a kvserver pair side by side.

    cargo build --release -p kvserver
    python3 tools/bench_primary.py [--keys 1000000] [--rounds 3] [--ports 7475,7476]
    python3 tools/bench_primary.py --pairs redis:redis,kv:kv,kv:redis,redis:kv   # mixed too
    python3 tools/bench_primary.py --keys 100000 --writes 100000 --rounds 1   # a quick check
    python3 tools/bench_primary.py --kv-bin OTHER/target/release/kvserver     # another build

Per round, for each pair (a fresh redis-server primary with a fresh redis-server replica, and
a fresh `kvserver --in-memory` primary with a fresh `kvserver --in-memory` replica, their
order flipped every round; --pairs adds mixed ones, primary:replica):
  - load: --keys SETs of 100-byte values (`key:<n>`), the same bytes sent to both primaries
    through `redis-cli --pipe` (kv has no DEBUG POPULATE);
  - full sync: the time from REPLICAOF on the replica until it serves (master_link_status up
    and its slave_repl_offset equal to the primary's master_repl_offset), DBSIZE checked; the
    primary's memory meanwhile, sampled from /proc: its own peak RSS, and the peak of the PSS
    summed over it and its children (Redis forks a child that writes the RDB; kv has none);
  - stream: redis-benchmark sends --writes SETs (50 clients, random keys out of 1,000,000,
    100-byte values) to the primary with the replica attached, pipelined 16 deep and then
    without pipelining (--writes-p1 of them): the primary's rate as redis-benchmark reports
    it; how far the replica is behind while the writes run (the primary's master_repl_offset
    minus the replica's slave_repl_offset, sampled every 20 ms: the median and the largest
    sample); and the catch-up, the time from redis-benchmark's end until the replica's offset
    equals the primary's (DBSIZE checked again).
The table shows each figure's median over the rounds and kv/redis. Standard library only;
redis-server, redis-cli and redis-benchmark must be installed. Everything runs on one
machine: the figures say as much about the machine as about the servers.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from bench_replica import wait_port  # the same check: redis-cli PING until PONG

HERE = os.path.dirname(os.path.abspath(__file__))
KVSERVER = os.path.join(HERE, "..", "target", "release", "kvserver")
KVSERVER_BIN = KVSERVER


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *map(str, args)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


class Conn:
    """One connection for the polls (a redis-cli per poll would put ~5 ms into every lag)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def info(self):
        self.sock.sendall(b"*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n")
        head = self.file.readline()
        assert head.startswith(b"$"), head
        body = self.file.read(int(head[1:]) + 2)
        return body.decode()

    def close(self):
        self.file.close()
        self.sock.close()


CONNS = {}


def info(port, field):
    if port not in CONNS:
        CONNS[port] = Conn(port)
    for line in CONNS[port].info().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return None


def forget(port):
    conn = CONNS.pop(port, None)
    if conn is not None:
        conn.close()


def caught_up(primary, replica):
    return (info(replica, "master_link_status") == "up"
            and info(replica, "slave_repl_offset") == info(primary, "master_repl_offset"))


def wait_caught_up(primary, replica, timeout=900):
    deadline = time.time() + timeout
    while not caught_up(primary, replica):
        if time.time() > deadline:
            sys.exit(f"the replica on {replica} did not catch up with {primary}")
        time.sleep(0.005)


def proc_kib(pid, name, field):
    try:
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


class MemWatch:
    """Samples a process's RSS and the PSS of it and its children until stopped."""

    def __init__(self, pid):
        self.pid = pid
        self.peak_rss = 0
        self.peak_pss = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.is_set():
            self.peak_rss = max(self.peak_rss, proc_kib(self.pid, "status", "VmRSS"))
            pss = sum(proc_kib(p, "smaps_rollup", "Pss")
                      for p in [self.pid, *children(self.pid)])
            self.peak_pss = max(self.peak_pss, pss)
            time.sleep(0.01)

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.peak_rss / 1024, self.peak_pss / 1024


def write_load(path, keys):
    """The SETs both primaries load: RESP, `key:<n>` to a 100-byte value."""
    with open(path, "wb") as f:
        buf = []
        for n in range(keys):
            k = b"key:%d" % n
            v = (b"value:%d" % n).ljust(100, b"x")
            buf.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(k), k, v))
            if len(buf) == 10000:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))


def start(kind, port, tmp, name):
    d = os.path.join(tmp, f"{name}-{port}")
    os.makedirs(d, exist_ok=True)
    if kind == "redis":
        cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
               "--dir", d, "--repl-diskless-sync-delay", "0"]
    else:
        cmd = [KVSERVER_BIN, "--port", str(port), "--in-memory"]
    p = subprocess.Popen(cmd, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def bench(primary, replica, writes, pipeline):
    proc = subprocess.Popen(
        ["redis-benchmark", "-p", str(primary), "-t", "set", "-n", str(writes), "-c", "50",
         "-P", str(pipeline), "-r", "1000000", "-d", "100", "--csv", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    # How far behind the replica is while the writes run, in bytes of the stream: its offset
    # read just before the primary's (so a sample also counts what arrived between the two).
    behind = []
    while proc.poll() is None:
        r = int(info(replica, "slave_repl_offset"))
        behind.append(int(info(primary, "master_repl_offset")) - r)
        time.sleep(0.02)
    t1 = time.perf_counter()
    out = proc.stdout.read()
    assert proc.wait() == 0, "redis-benchmark failed"
    wait_caught_up(primary, replica)
    lag = time.perf_counter() - t1
    assert int(cli(replica, "DBSIZE")) == int(cli(primary, "DBSIZE")), "the replica has every key"
    rate = float(out.strip().splitlines()[-1].split(",")[1].strip('"'))
    behind = behind or [0]
    return rate, lag, statistics.median(behind) / 1024, max(behind) / 1024


def one(pair, pport, rport, tmp, load, args):
    pkind, rkind = pair.split(":")
    prim = start(pkind, pport, tmp, "primary")
    rep = None
    try:
        with open(load, "rb") as f:
            subprocess.run(["redis-cli", "-p", str(pport), "--pipe"], stdin=f,
                           stdout=subprocess.DEVNULL, check=True)
        assert int(cli(pport, "DBSIZE")) == args.keys, "the primary has every key"
        rep = start(rkind, rport, tmp, "replica")
        rss0 = proc_kib(prim.pid, "status", "VmRSS") / 1024
        watch = MemWatch(prim.pid)
        t0 = time.perf_counter()
        cli(rport, "REPLICAOF", "127.0.0.1", pport)
        wait_caught_up(pport, rport)
        sync = time.perf_counter() - t0
        peak_rss, peak_pss = watch.stop()
        assert int(cli(rport, "DBSIZE")) == args.keys, "the replica has every key"
        return [sync, rss0, peak_rss, peak_pss, *bench(pport, rport, args.writes, 16),
                *bench(pport, rport, args.writes_p1, 1)]
    finally:
        forget(pport)
        forget(rport)
        for p in (rep, prim):
            if p is not None:
                p.terminate()
                p.wait()


NAMES = [
    ("full sync to a serving replica (s)", 1, 2),
    ("primary RSS before the sync (MiB)", 1, 0),
    ("primary peak RSS during the sync (MiB)", 1, 0),
    ("primary + children peak PSS during the sync (MiB)", 1, 0),
    ("primary SET/s, 50 clients, -P 16, replica attached", 1, 0),
    ("replica catch-up after the -P 16 burst (ms)", 1000, 1),
    ("replica behind during the -P 16 burst, median sample (KiB)", 1, 1),
    ("replica behind during the -P 16 burst, largest sample (KiB)", 1, 1),
    ("primary SET/s, 50 clients, -P 1, replica attached", 1, 0),
    ("replica catch-up after the -P 1 burst (ms)", 1000, 1),
    ("replica behind during the -P 1 burst, median sample (KiB)", 1, 1),
    ("replica behind during the -P 1 burst, largest sample (KiB)", 1, 1),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--writes", type=int, default=1_000_000, help="SETs pipelined 16 deep")
    ap.add_argument("--writes-p1", type=int, default=200_000, help="SETs without pipelining")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ports", default="7475,7476", help="the primary's, the replica's")
    ap.add_argument("--pairs", default="redis:redis,kv:kv",
                    help="primary:replica kinds (redis or kv), run in turn, reversed every round")
    ap.add_argument("--kv-bin", default=KVSERVER, help="the kvserver binary (both of kv's pair)")
    args = ap.parse_args()
    global KVSERVER_BIN
    KVSERVER_BIN = os.path.abspath(args.kv_bin)
    pport, rport = map(int, args.ports.split(","))
    pairs = args.pairs.split(",")
    assert all(k in ("redis", "kv") for p in pairs for k in p.split(":")), args.pairs
    with tempfile.TemporaryDirectory() as tmp:
        load = os.path.join(tmp, "load.resp")
        write_load(load, args.keys)
        results = {p: [] for p in pairs}
        for r in range(args.rounds):
            order = pairs if r % 2 == 0 else pairs[::-1]
            for pair in order:
                row = one(pair, pport, rport, tmp, load, args)
                results[pair].append(row)
                print(f"round {r + 1} {pair:11}: full sync {row[0]:.2f} s "
                      f"(primary RSS {row[1]:.0f} -> peak {row[2]:.0f} MiB, PSS with children "
                      f"{row[3]:.0f} MiB); P16 {row[4]:,.0f} SET/s, catch-up "
                      f"{row[5] * 1000:.1f} ms, behind {row[6]:.0f}/{row[7]:.0f} KiB; "
                      f"P1 {row[8]:,.0f} SET/s, catch-up {row[9] * 1000:.1f} ms, behind "
                      f"{row[10]:.0f}/{row[11]:.0f} KiB", file=sys.stderr)
    med = {k: [statistics.median(x[i] for x in v) for i in range(len(NAMES))]
           for k, v in results.items()}
    print(f"{args.keys:,} keys loaded into each primary; medians of {args.rounds} rounds; "
          "columns: primary:replica")
    ratio = "redis:redis" in pairs and "kv:kv" in pairs
    print("| figure | " + " | ".join(pairs)
          + (" | kv/redis |" if ratio else " |"))
    print("|---" * (len(pairs) + 1 + ratio) + "|")
    for i, (name, scale, digits) in enumerate(NAMES):
        cells = [f"{med[p][i] * scale:,.{digits}f}" for p in pairs]
        if ratio:
            r, k = med["redis:redis"][i], med["kv:kv"][i]
            cells.append(f"{k / r:.2f}x" if r else "-")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
