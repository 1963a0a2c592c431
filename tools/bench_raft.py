#!/usr/bin/env python3
"""The Raft mode's benchmark (issue 20): a 3-node kv group against a single kv with fsync always
and against a redis-server primary with two replicas and WAIT 2 0 after every write.

    cargo build --release -p kvserver
    python3 tools/bench_raft.py                       # 3 throughput rounds, 10 elections
    python3 tools/bench_raft.py --quick               # a smoke run: few requests, 2 elections
    python3 tools/bench_raft.py --only election --election-rounds 10
    python3 tools/bench_raft.py --kv-bin OTHER/target/release/kvserver --redis-bin PATH

Throughput. Each round starts three setups afresh, in an order that rotates and flips from
round to round (bench-vs-redis's `orders`), each with its own data directory:
  (k) three `kvserver --raft-id N --raft-peers ...` on loopback, the clients on the leader;
  (a) one `kvserver --data-dir D --sync always`;
  (t) (k) with `tls-cluster yes` (only with --setups ...,t): the Raft links on mutual TLS, the
      clients still on the leader's plaintext port; the table adds the ratio t/k;
  (b) a redis-server primary and two redis-server replicas, all three with appendonly yes and
      appendfsync always, each write followed by `WAIT 2 0` (Redis's closest to a reply that
      waits for a majority; a replica acknowledges what it applied, not a vote).
and runs examples/loadgen.rs against it: --clients (50) clients sending `SET k:<rand> <value>`
(for (b), `SET ...` + `WAIT 2 0` as one sequence), unpipelined and then 16 sequences deep.
The table shows per figure the median over the rounds (writes/s, and each sequence's p50 and
p99 latency from the moment its batch went out until its last reply came in) and the ratios
k/a and k/b of those medians (for latencies, lower is better for k).

Elections. Each round starts a fresh group, writes a little through the leader, SIGKILLs the
leader and then measures, from the kill: when a survivor's INFO raft first reports
`raft_role:leader` (elected) and `raft_serving:1` (serving: its whole log applied), each
survivor polled every --poll-ms; and when a write first succeeds through a surviving node (one
client per survivor retrying `SET` every --retry-ms, reconnecting when a node closes the
connection). kv's defaults: a 100 ms tick, an election timeout of 10-20 ticks, a heartbeat
every 2 ticks, so the issue's target (the election timeout plus one heartbeat) is 2.2 s at
most.

Everything runs on this machine, the clients included: the figures say as much about the
machine as about the servers, and the tool prints the load average before and after each
setup. Processes are stopped by PID (never by name); data and the servers' logs go to a
temporary directory that is removed at the end (--keep keeps it, and so does a failed run,
which also prints each server's INFO and its last log lines). Standard library only; redis-server must be
installed; without --loadgen it builds the load generator with cargo.
"""
import argparse
import importlib.machinery
import importlib.util
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import resp  # noqa: E402  (the RESP encoder and connection the tools share)


def _load_bench_vs_redis():
    """tools/bench-vs-redis as a module (its name has a dash and no .py): free ports, PING,
    the load generator's build and its run orders."""
    path = os.path.join(HERE, "bench-vs-redis")
    loader = importlib.machinery.SourceFileLoader("bench_vs_redis", path)
    spec = importlib.util.spec_from_loader("bench_vs_redis", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


BVR = _load_bench_vs_redis()
free_port, ping = BVR.free_port, BVR.ping


def die(msg):
    print(f"bench_raft: {msg}", file=sys.stderr)
    sys.exit(2)

# Every process this tool started, so that the end (or a failure) stops each one by its PID.
PROCS = []


class Proc:
    """One server process with its log file under the work directory."""

    def __init__(self, name, argv, work, port):
        self.name, self.argv, self.port = name, argv, port
        self.log_path = os.path.join(work, f"{name}.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=work,
                                     start_new_session=True)
        PROCS.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def tail(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()[-800:]

    def tail_lines(self, n):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read().splitlines()[-n:]

    def wait_ping(self, timeout=30):
        deadline = time.monotonic() + timeout
        while not ping(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} ({' '.join(self.argv)}) exited with status "
                                   f"{self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer PING on {self.port}")
            time.sleep(0.02)

    def kill(self):
        """SIGKILL by PID (if still running) and reap."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()
        if self in PROCS:
            PROCS.remove(self)


def stop_all():
    for p in list(PROCS):
        p.kill()


def info(port, section, timeout=2.0):
    """INFO `section` of the server on `port` as a dict (one fresh connection)."""
    c = resp.Tagged(port)
    try:
        c.sock.settimeout(timeout)
        return parse_info(c.cmd(["INFO", section]))
    finally:
        c.sock.close()


def parse_info(text):
    out = {}
    if isinstance(text, bytes):
        for line in text.decode().splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v.strip()
    return out


# ---- the three setups -----------------------------------------------------------------------

class Setup:
    """A running setup: `port` is where the clients go, `sequence` what each request sends."""

    name = ""

    def stop(self):
        for p in self.procs:
            p.kill()

    def diagnose(self):
        """What the servers say after a failed run: INFO of each, its log's warnings."""
        out = []
        for p in self.procs:
            try:
                st = info(p.port, self.info_section)
                out.append(f"{p.name}: " + " ".join(f"{k}={v}" for k, v in st.items()
                                                    if not k.startswith("raft_member")))
            except (OSError, EOFError, ValueError) as e:
                out.append(f"{p.name}: INFO failed ({e}); exit status {p.proc.poll()}")
            lines = [line for line in p.tail_lines(400)
                     if any(w in line for w in self.log_words)]
            out += [f"  {line}" for line in lines[-12:]]
        return "\n" + "\n".join(out)


class KvGroup(Setup):
    """(k): three kvservers in one Raft group; `port` is the leader's client port."""

    name = "k"
    info_section = "raft"
    log_words = ("raft", "panicked", "#")

    def __init__(self, args, work, tag):
        ports = [(free_port(), free_port()) for _ in range(3)]  # (client, raft)
        peers = ",".join(f"{i + 1}=127.0.0.1:{rp}" for i, (_, rp) in enumerate(ports))
        self.procs = []
        try:
            for i, (cp, _) in enumerate(ports):
                d = os.path.join(work, f"{tag}-node{i + 1}")
                os.makedirs(d)
                self.procs.append(Proc(f"{tag}-node{i + 1}",
                                       [args.kv_bin, "--bind", "127.0.0.1", "--port", str(cp),
                                        "--raft-id", str(i + 1), "--raft-peers", peers,
                                        "--data-dir", d] + args.kv_arg
                                       + self.node_args(work, tag, i),
                                       work, cp))
            for p in self.procs:
                p.wait_ping()
            self.leader = self.wait_leader()
        except BaseException:
            self.stop()
            raise
        self.port = self.leader.port
        self.sequence = f"SET k:__rand__ {args.value}"

    def node_args(self, work, tag, i):
        """More arguments for node i (none for (k))."""
        return []

    def check_followers(self, timeout=30):
        """After a run: the leader still serves and every node applied what it committed."""
        st = info(self.port, "raft")
        if st.get("raft_serving") != "1":
            raise RuntimeError("the leader of (k) lost its leadership during the run")
        commit = int(st["raft_commit_index"])
        deadline = time.monotonic() + timeout
        for p in self.procs:
            while int(info(p.port, "raft")["raft_applied_index"]) < commit:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{p.name} did not apply the log up to {commit}")
                time.sleep(0.02)

    def wait_leader(self, timeout=30):
        """The node whose INFO raft shows raft_serving:1."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.proc.poll() is not None:
                    raise RuntimeError(f"{p.name} exited:\n{p.tail()}")
                try:
                    if info(p.port, "raft").get("raft_serving") == "1":
                        return p
                except (OSError, EOFError):
                    pass
            time.sleep(0.02)
        raise RuntimeError("no kv node serves as the Raft leader within 30 s")


def make_certs(d):
    """A CA and a certificate it signed for 127.0.0.1 (ca.crt, node.crt, node.key) in d."""
    os.makedirs(d, exist_ok=True)

    def ossl(*a):
        subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)

    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bench ca",
         "-keyout", "ca.key", "-out", "ca.crt")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
         "node.key", "-out", "node.csr")
    ossl("x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", "node.crt")


class KvGroupTls(KvGroup):
    """(t): (k) with `tls-cluster yes`: the Raft links are mutual TLS (each node also has a
    tls-port); the clients stay on the leader's plaintext port, so only the links differ."""

    name = "t"

    def node_args(self, work, tag, i):
        certs = os.path.join(work, f"{tag}-certs")
        if i == 0:
            make_certs(certs)
        conf = os.path.join(certs, f"node{i + 1}.conf")
        with open(conf, "w") as f:
            f.write(f"tls-port {free_port()}\ntls-cert-file {certs}/node.crt\n"
                    f"tls-key-file {certs}/node.key\ntls-ca-cert-file {certs}/ca.crt\n"
                    "tls-cluster yes\n")
        return ["--config", conf]


class KvSingle(Setup):
    """(a): one kvserver, its WAL synced before every reply."""

    name = "a"
    info_section = "persistence"
    log_words = ("#", "panicked")

    def __init__(self, args, work, tag):
        self.port = free_port()
        d = os.path.join(work, f"{tag}-data")
        os.makedirs(d)
        self.procs = [Proc(tag, [args.kv_bin, "--bind", "127.0.0.1", "--port", str(self.port),
                                 "--data-dir", d, "--sync", "always"], work, self.port)]
        try:
            self.procs[0].wait_ping()
        except BaseException:
            self.stop()
            raise
        self.sequence = f"SET k:__rand__ {args.value}"


class RedisTrio(Setup):
    """(b): a redis-server primary and two replicas, AOF fsync always on all three."""

    name = "b"
    info_section = "replication"
    log_words = ("#",)

    def __init__(self, args, work, tag):
        ports = [free_port() for _ in range(3)]
        self.procs = []
        try:
            for i, port in enumerate(ports):
                d = os.path.join(work, f"{tag}-{i}")
                os.makedirs(d)
                argv = [args.redis_bin, "--bind", "127.0.0.1", "--port", str(port),
                        "--save", "", "--dir", d, "--daemonize", "no", "--protected-mode", "no",
                        "--appendonly", "yes", "--appendfsync", "always"]
                if i > 0:
                    argv += ["--replicaof", "127.0.0.1", str(ports[0])]
                self.procs.append(Proc(f"{tag}-{'primary' if i == 0 else f'replica{i}'}",
                                       argv, work, port))
            for p in self.procs:
                p.wait_ping()
            deadline = time.monotonic() + 30
            while True:
                rep = info(ports[0], "replication")
                online = [k for k, v in rep.items()
                          if k.startswith("slave") and "state=online" in v]
                if len(online) == 2:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the replicas did not come online: {rep}")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        self.port = ports[0]
        self.sequence = f"SET k:__rand__ {args.value};WAIT 2 0"


SETUPS = {"k": KvGroup, "a": KvSingle, "b": RedisTrio, "t": KvGroupTls}
LABELS = {
    "k": "k: 3-node kv Raft group",
    "t": "t: k with tls-cluster yes",
    "a": "a: 1 kv, --sync always",
    "b": "b: redis + 2 replicas, WAIT 2 0",
}


# ---- throughput -----------------------------------------------------------------------------

def loadgen(args, port, sequence, pipeline, requests, name):
    """Runs the load generator; returns its CSV row as a dict of floats."""
    argv = [args.loadgen, "--port", str(port), "--clients", str(args.clients), "--requests",
            str(requests), "--pipeline", str(pipeline), "--keyspace", str(args.keyspace),
            "--name", name, sequence]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=1800,
                         stdin=subprocess.DEVNULL, env=dict(os.environ, RUST_BACKTRACE="0"))
    if out.returncode != 0:
        raise RuntimeError(f"loadgen {' '.join(argv[1:])} failed (status {out.returncode}): "
                           f"{(out.stdout + out.stderr)[-600:]}")
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    head = [c.strip('"') for c in lines[-2].split(",")]
    row = [c.strip('"') for c in lines[-1].split(",")]
    return {h: float(v) for h, v in zip(head[1:], row[1:])}


FIGURES = [  # (label, pipeline, loadgen column)
    ("writes/s, P1", 1, "rps"),
    ("p50 ms, P1", 1, "p50_latency_ms"),
    ("p99 ms, P1", 1, "p99_latency_ms"),
    ("writes/s, P16", 16, "rps"),
    ("p50 ms, P16", 16, "p50_latency_ms"),
    ("p99 ms, P16", 16, "p99_latency_ms"),
]


def loadavg():
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def run_throughput(args, work):
    chosen = args.setups
    results = {s: {1: [], 16: []} for s in chosen}  # setup -> pipeline -> [row per round]
    orders = BVR.orders(chosen)
    for r in range(args.rounds):
        for s in orders[r % len(orders)]:
            before = loadavg()
            setup = SETUPS[s](args, work, f"r{r + 1}-{s}")
            try:
                cells = []
                for pipeline, requests in ((1, args.requests_p1), (16, args.requests_p16)):
                    try:
                        row = loadgen(args, setup.port, setup.sequence, pipeline, requests,
                                      f"{s} P{pipeline}")
                    except RuntimeError as e:
                        raise RuntimeError(f"round {r + 1} {s} P{pipeline}: {e}"
                                           + setup.diagnose()) from None
                    results[s][pipeline].append(row)
                    cells.append(f"P{pipeline} {row['rps']:,.0f}/s p50 {row['p50_latency_ms']:.2f}"
                                 f" p99 {row['p99_latency_ms']:.2f} ms")
                if s in ("k", "t"):
                    setup.check_followers()
            finally:
                setup.stop()
            print(f"round {r + 1} {s}: {'; '.join(cells)} (load average {before} -> "
                  f"{loadavg()})", file=sys.stderr, flush=True)
    med = {s: {f: statistics.median(row[col] for row in results[s][p])
               for f, p, col in FIGURES} for s in chosen}
    ratios = [o for o in ("a", "b") if "k" in chosen and o in chosen]
    tls_ratio = "k" in chosen and "t" in chosen
    print(f"\nwrites of {len(args.value)}-byte values, {args.clients} clients, keyspace "
          f"{args.keyspace:,}; medians of {args.rounds} rounds ({args.requests_p1:,} writes "
          f"unpipelined, {args.requests_p16:,} pipelined 16 deep, per setup and round)")
    print("| figure | " + " | ".join(LABELS[s] for s in chosen)
          + "".join(f" | k/{o}" for o in ratios) + (" | t/k" if tls_ratio else "") + " |")
    print("|---" * (len(chosen) + len(ratios) + int(tls_ratio) + 1) + "|")
    for f, _, col in FIGURES:
        digits = 0 if col == "rps" else 2
        cells = [f"{med[s][f]:,.{digits}f}" for s in chosen]
        for other in ratios:
            cells.append(f"{med['k'][f] / med[other][f]:.2f}" if med[other][f] else "-")
        if tls_ratio:
            cells.append(f"{med['t'][f] / med['k'][f]:.2f}" if med['k'][f] else "-")
        print(f"| {f} | " + " | ".join(cells) + " |")


# ---- elections ------------------------------------------------------------------------------

class Election:
    """The times (seconds after the kill) at which the survivors showed a new leader."""

    def __init__(self):
        self.elected = None  # a survivor's INFO raft first showed raft_role:leader
        self.serving = None  # ... raft_serving:1
        self.write = None  # a SET through a survivor first succeeded
        self.writes_via = None  # the survivor it went through
        self.new_leader = None
        self.lock = threading.Lock()

    def first(self, field, t):
        with self.lock:
            if getattr(self, field) is None:
                setattr(self, field, t)
                return True
        return False


def poll_info(port, t0, ev, stop, args):
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = resp.Tagged(port)
                conn.sock.settimeout(2)
            st = parse_info(conn.cmd(["INFO", "raft"]))
            t = time.monotonic() - t0
            if st.get("raft_role") == "leader":
                ev.first("elected", t)
            if st.get("raft_serving") == "1" and ev.first("serving", t):
                ev.new_leader = st.get("raft_node_id")
        except (OSError, EOFError, ValueError):
            if conn is not None:
                conn.sock.close()
            conn = None
        time.sleep(args.poll_ms / 1000)
    if conn is not None:
        conn.sock.close()


def retry_writes(port, t0, ev, stop, args, node, ready, go):
    """SET through one survivor until a write succeeds (or another survivor's did)."""
    conn = resp.Tagged(port)
    conn.sock.settimeout(5)
    # A forwarded write before the kill, so the survivor's link to the leader is open (as a
    # client's would be).
    reply = conn.cmd(["SET", f"elect:{node}", "before"])
    if reply != ("ok", b"OK"):
        raise RuntimeError(f"SET through {node} before the kill answered {reply}")
    ready.set()
    go.wait()
    n = 0
    while not stop.is_set() and ev.write is None:
        n += 1
        try:
            if conn is None:
                conn = resp.Tagged(port)
                conn.sock.settimeout(5)
            reply = conn.cmd(["SET", f"elect:{node}", str(n)])
            if reply == ("ok", b"OK"):
                if ev.first("write", time.monotonic() - t0[0]):
                    ev.writes_via = node
                break
        except (OSError, EOFError, ValueError):
            # The node closed the connection (its link to the dead leader failed: the
            # write's outcome is unknown) or timed out: a new connection, as a client would.
            if conn is not None:
                conn.sock.close()
            conn = None
        time.sleep(args.retry_ms / 1000)
    if conn is not None:
        conn.sock.close()


def one_election(args, work, r):
    group = KvGroup(args, work, f"e{r + 1}")
    try:
        leader = group.leader
        c = resp.Tagged(leader.port)
        for i in range(args.election_writes):
            assert c.cmd(["SET", f"k:{i}", args.value]) == ("ok", b"OK")
        c.sock.close()
        old = info(leader.port, "raft")
        survivors = [p for p in group.procs if p is not leader]
        ev, stop, go = Election(), threading.Event(), threading.Event()
        t0 = [0.0]
        ready = [threading.Event() for _ in survivors]
        writers = [threading.Thread(target=retry_writes,
                                    args=(p.port, t0, ev, stop, args, p.name, rd, go))
                   for p, rd in zip(survivors, ready)]
        for w in writers:
            w.start()
        for rd in ready:  # each writer's first (forwarded) SET answered
            if not rd.wait(30):
                stop.set()
                go.set()
                raise RuntimeError("a write through a follower failed before the kill")
        time.sleep(0.3)  # a few heartbeats
        t0[0] = time.monotonic()
        os.kill(leader.pid, signal.SIGKILL)
        go.set()
        pollers = [threading.Thread(target=poll_info, args=(p.port, t0[0], ev, stop, args))
                   for p in survivors]
        for p in pollers:
            p.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (ev.write is None or ev.serving is None):
            time.sleep(0.01)
        stop.set()
        for t in writers + pollers:
            t.join()
        leader.kill()
        if ev.write is None or ev.serving is None:
            raise RuntimeError("no new leader within 30 s of the kill")
        print(f"election {r + 1}: killed node {old.get('raft_node_id')} (term "
              f"{old.get('raft_term')}); elected {ev.elected:.3f} s, serving {ev.serving:.3f} s "
              f"(node {ev.new_leader}), first write {ev.write:.3f} s (via {ev.writes_via}) "
              f"(load average {loadavg()})", file=sys.stderr, flush=True)
        return ev
    finally:
        group.stop()


def run_elections(args, work):
    evs = [one_election(args, work, r) for r in range(args.election_rounds)]
    print(f"\nleader SIGKILLed, times from the kill, {args.election_rounds} rounds (INFO raft "
          f"polled every {args.poll_ms} ms, a write retried every {args.retry_ms} ms through "
          "each survivor); target: election timeout + one heartbeat = 2.2 s at kv's defaults")
    print("| time after the kill | median | max |")
    print("|---|---|---|")
    for label, field in (("a survivor reports raft_role:leader", "elected"),
                         ("a survivor reports raft_serving:1", "serving"),
                         ("first successful write through a survivor", "write")):
        xs = [getattr(e, field) for e in evs]
        print(f"| {label} | {statistics.median(xs):.3f} s | {max(xs):.3f} s |")


# ---- main -----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="throughput rounds")
    ap.add_argument("--election-rounds", type=int, default=10)
    ap.add_argument("--only", choices=["throughput", "election"])
    ap.add_argument("--setups", default="k,a,b", help="which throughput setups, of k, a, b, t")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests-p1", type=int, default=50_000,
                    help="writes per setup and round without pipelining")
    ap.add_argument("--requests-p16", type=int, default=300_000,
                    help="writes per setup and round pipelined 16 deep")
    ap.add_argument("--keyspace", type=int, default=1_000_000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--election-writes", type=int, default=1000,
                    help="SETs through the leader before it is killed")
    ap.add_argument("--retry-ms", type=float, default=5)
    ap.add_argument("--poll-ms", type=float, default=5)
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 1/50 of the writes, 1 round, 2 elections")
    ap.add_argument("--kv-bin", default=os.path.join(BVR.REPO, "target", "release", "kvserver"))
    ap.add_argument("--kv-arg", action="append", default=[],
                    help="one more argument for every node of (k) and (t), e.g. "
                         "--kv-arg=--raft-batch-wait --kv-arg=0 (repeat for each word)")
    ap.add_argument("--redis-bin", default="redis-server")
    ap.add_argument("--loadgen", help="a built examples/loadgen (default: cargo builds it)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, data)")
    args = ap.parse_args()
    if args.quick:
        args.requests_p1 //= 50
        args.requests_p16 //= 50
        args.rounds, args.election_rounds = 1, 2
        args.election_writes = 100
    args.setups = args.setups.split(",")
    if not args.setups or any(s not in SETUPS for s in args.setups):
        die(f"--setups takes some of k, a, b, t, not {args.setups}")
    args.kv_bin = os.path.abspath(args.kv_bin)
    if not os.path.exists(args.kv_bin):
        die(f"no kvserver at {args.kv_bin} (cargo build --release -p kvserver)")
    args.value = "v" * args.value_size
    if args.only != "election":
        if args.loadgen is None:
            BVR.build_loadgen()
            args.loadgen = BVR.LOADGEN[0]
        args.loadgen = os.path.abspath(args.loadgen)
    work = tempfile.mkdtemp(prefix="bench_raft-")
    print(f"# bench_raft: kv {args.kv_bin}, redis {args.redis_bin}, {os.cpu_count()} CPUs, "
          f"load average {loadavg()}, work directory {work}", flush=True)
    try:
        if args.only != "election":
            run_throughput(args, work)
        if args.only != "throughput":
            run_elections(args, work)
        print(f"# load average at the end {loadavg()}")
    except RuntimeError as e:
        args.keep = True  # the servers' logs, for a look at what went wrong
        print(f"bench_raft: {e}", file=sys.stderr)
        sys.exit(2)
    finally:
        stop_all()
        if args.keep:
            print(f"# kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
