#!/usr/bin/env python3
"""What sending a Raft snapshot costs (issue 20): a node that joins a group whose leader has
compacted its log is sent the leader's snapshot; this measures the memory that costs the
leader and the new node, and how long the node takes to catch up.

    cargo build -p kvserver
    python3 tools/bench_raft_snapshot.py --kv-bin target/debug/kvserver --mb 64
    python3 tools/bench_raft_snapshot.py --kv-bin A --kv-bin B --rounds 3   # side by side

Each round, for each binary in turn (the order flips from round to round): nodes 1 and 2 of
a three-node group start (node 3 is down; two of three elect a leader), the leader gets
1300 small writes (--raft-snapshot-entries 64, and 1024 entries kept before a snapshot: its
log no longer starts where node 3's does), then --mb MiB of incompressible 64 KiB values (one
MSET of 16 per entry), then small writes until its newest snapshot holds them. Then the leader's peak RSS is reset (`/proc/PID/clear_refs`), node 3 starts on an empty
directory, and the tool polls node 3's INFO raft until its applied index reaches the
leader's commit index at that moment. It prints the catch-up time, the leader's peak RSS over
its RSS before (what sending cost it) and node 3's peak RSS (receiving and loading), next to
the leader's snapshot file's size. Nothing is asserted.

Processes are stopped by PID; data and logs go to a temporary directory removed at the end
(--keep keeps it). Standard library only.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import resp  # noqa: E402

PROCS = []


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kv_bin, node, cport, peers, work):
    d = os.path.join(work, f"node{node}")
    os.makedirs(d, exist_ok=True)
    log = open(os.path.join(work, f"node{node}.log"), "ab")
    p = subprocess.Popen([kv_bin, "--bind", "127.0.0.1", "--port", str(cport),
                          "--raft-id", str(node), "--raft-peers", peers, "--data-dir", d,
                          "--raft-snapshot-entries", "64"],
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         cwd=work, start_new_session=True)
    PROCS.append(p)
    return p


def stop(p):
    if p.poll() is None:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    PROCS.remove(p)


def info(port):
    try:
        c = resp.Tagged(port)
    except OSError:
        return {}
    try:
        c.sock.settimeout(2.0)
        text = c.cmd(["INFO", "raft"])
    except (OSError, EOFError, ValueError):
        return {}
    finally:
        c.sock.close()
    out = {}
    if isinstance(text, bytes):
        for line in text.decode().splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k] = v.strip()
    return out


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def wait(cond, what, timeout=300):
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def one_round(kv_bin, mb, work):
    ports = [(free_port(), free_port()) for _ in range(3)]
    peers = ",".join(f"{i + 1}=127.0.0.1:{rp}" for i, (_, rp) in enumerate(ports))
    procs = [start(kv_bin, i + 1, ports[i][0], peers, work) for i in range(2)]
    try:
        (leader,) = wait(lambda: next(((i,) for i in range(2)
                                       if info(ports[i][0]).get("raft_serving") == "1"), None),
                         "a leader", timeout=60)
        return measure(kv_bin, mb, work, ports, peers, procs, leader)
    finally:
        for p in list(procs):
            stop(p)


def measure(kv_bin, mb, work, ports, peers, procs, leader):
    lport = ports[leader][0]
    c = resp.Tagged(lport)
    c.sock.settimeout(60)

    def call(args):
        r = c.cmd(args)
        if r != ("ok", b"OK"):
            raise RuntimeError(f"{args[0]} answered {r!r}")

    # Entries first, while the store is small (snapshots every 64 entries stay cheap): the
    # leader's log then starts far past node 3's (1024 entries are kept before a snapshot).
    for i in range(1300):
        call(["SET", f"small:{i % 10}", str(i)])
    # Then the data, 1 MiB per entry: incompressible values (the RDB compresses repeats).
    value = os.urandom(64 << 10)
    for batch in range(mb):
        args = ["MSET"]
        for j in range(16):
            i = batch * 16 + j
            args += [f"big:{i}", value[i % 97:] + value[:i % 97]]
        call(args)
    snap_dir = os.path.join(work, f"node{leader + 1}", "raft")

    def newest_snapshot():
        sizes = [os.path.getsize(os.path.join(snap_dir, n)) for n in os.listdir(snap_dir)
                 if n.endswith(".raftsnap")]
        return max(sizes, default=0)

    # Until the leader's snapshot holds the data.
    i = 0
    while newest_snapshot() < mb * (1 << 20):
        call(["SET", "small:x", str(i)])
        i += 1
        if i > 10_000:
            raise RuntimeError("the leader never snapshotted the data")
    c.sock.close()
    st = info(lport)
    if int(st["raft_first_index"]) <= 2:
        raise RuntimeError(f"the leader did not compact: {st}")
    snap = newest_snapshot()
    lpid = procs[leader].pid
    before = status_kb(lpid, "VmRSS")
    with open(f"/proc/{lpid}/clear_refs", "w") as f:
        f.write("5")
    target = int(info(lport)["raft_commit_index"])
    t0 = time.monotonic()
    p3 = start(kv_bin, 3, ports[2][0], peers, work)
    procs.append(p3)
    wait(lambda: int(info(ports[2][0]).get("raft_applied_index", "0")) >= target,
         "node 3 to catch up")
    took = time.monotonic() - t0
    return {
        "catch_up_s": took,
        "snapshot_mib": snap / (1 << 20),
        "leader_rss_mib": before / 1024,
        "leader_extra_mib": (status_kb(lpid, "VmHWM") - before) / 1024,
        "node3_peak_mib": status_kb(p3.pid, "VmHWM") / 1024,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kv-bin", action="append", help="kvserver binary (repeat to compare)")
    ap.add_argument("--mb", type=int, default=64, help="MiB of values in the store")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    bins = args.kv_bin or [os.path.join(HERE, "..", "target", "release", "kvserver")]
    work = tempfile.mkdtemp(prefix="bench-raft-snapshot-")
    results = {b: [] for b in bins}
    ok = False
    try:
        for r in range(args.rounds):
            order = bins if r % 2 == 0 else list(reversed(bins))
            for b in order:
                d = os.path.join(work, f"r{r}-{bins.index(b)}")
                os.makedirs(d)
                got = one_round(b, args.mb, d)
                results[b].append(got)
                print(f"round {r + 1} {b}: " + ", ".join(f"{k} {v:.1f}" for k, v in got.items()),
                      flush=True)
                if not args.keep:
                    shutil.rmtree(d, ignore_errors=True)
        ok = True
    finally:
        for p in list(PROCS):
            stop(p)
        if args.keep or not ok:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for b, rs in results.items():
        keys = rs[0].keys() if rs else []
        med = {k: sorted(x[k] for x in rs)[len(rs) // 2] for k in keys}
        print(f"median {b}: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))


if __name__ == "__main__":
    main()
