#!/usr/bin/env python3
"""PUBLISH fan-out throughput, redis-server and kvserver side by side: messages delivered per
second to 1, 10 and 100 subscribers.

    redis-server --port 17601 --save '' --daemonize yes
    target/release/kvserver --port 17602 --in-memory &
    python3 tools/bench_pubsub.py --redis 17601 --kv 17602 [--rounds 3] [--subscribers 1,10,100]

Per run: N subscriber connections SUBSCRIBE to one channel; one reader process waits on all
of them (epoll) and only counts bytes; one publisher connection pipelines M PUBLISH commands
(a sender thread writes, a receiver thread counts the integer replies). The run's figure is
N*M / (time from the first PUBLISH sent to the last byte of the last subscriber received).
Every run checks that each subscriber received exactly M messages' bytes and that every
PUBLISH answered N. M is chosen so a run delivers about --deliveries messages.

The servers alternate within each round (their order flips every round) and the table shows
each server's median over the rounds, and kv/redis. Both servers get `CONFIG SET
client-output-buffer-limit "pubsub 0 0 0"` for the runs (a reader that falls behind must not
be cut off mid-measurement) and their previous setting back at the end. Standard library
only; the client side shares the machine's cores with the servers, so absolute numbers say
as much about the machine as about the servers: compare the columns.
"""
import argparse
import multiprocessing as mp
import os
import selectors
import socket
import statistics
import sys
import threading
import time

sys.dont_write_bytecode = True  # importing resp.py leaves no tools/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp import enc  # noqa: E402

CHANNEL = b"bench:ch"


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def command(s, *args):
    """One command, its reply as raw bytes (simple replies only)."""
    s.sendall(enc(list(args)))
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += s.recv(65536)
    if buf.startswith(b"*") or buf.startswith(b"$"):
        # CONFIG GET's two bulks: read until the array is complete.
        while buf.count(b"\r\n") < 5:
            buf += s.recv(65536)
    return buf


def config_get_limits(s):
    reply = command(s, "CONFIG", "GET", "client-output-buffer-limit")
    return reply.split(b"\r\n")[4].decode()


def reader(ports_and_count, expected_bytes, ready, go, result):
    """Subscribes, reports ready, then counts bytes on every subscriber until each has all."""
    port, n = ports_and_count
    sel = selectors.DefaultSelector()
    socks = []
    confirm = len(b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(CHANNEL), CHANNEL))
    for _ in range(n):
        s = connect(port)
        s.sendall(enc(["SUBSCRIBE", CHANNEL]))
        got = 0
        while got < confirm:
            got += len(s.recv(confirm - got))
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, [0])
    ready.set()
    go.wait()
    left = n
    while left:
        for key, _ in sel.select():
            counter = key.data
            try:
                data = key.fileobj.recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:
                raise SystemExit("a subscriber was disconnected")
            counter[0] += len(data)
            if counter[0] >= expected_bytes:
                if counter[0] != expected_bytes:
                    raise SystemExit("a subscriber received %d bytes, expected %d"
                                     % (counter[0], expected_bytes))
                sel.unregister(key.fileobj)
                left -= 1
    result.value = time.perf_counter()
    for s in socks:
        s.close()


def run(port, subscribers, messages, payload):
    message = b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(CHANNEL), CHANNEL, len(payload), payload)
    ready, go = mp.Event(), mp.Event()
    done = mp.Value("d", 0.0)
    proc = mp.Process(target=reader,
                      args=((port, subscribers), messages * len(message), ready, go, done))
    proc.start()
    if not ready.wait(60):
        raise SystemExit("subscribers did not connect")
    pub = connect(port)
    pipeline = enc(["PUBLISH", CHANNEL, payload]) * 100
    want_reply = b":%d\r\n" % subscribers
    replies = {"bad": 0}

    def receive():
        left = messages * len(want_reply)
        buf = b""
        while left > 0:
            data = pub.recv(1 << 20)
            if not data:
                raise SystemExit("publisher disconnected")
            left -= len(data)
            buf = (buf + data)[-len(want_reply) * 2:]
        if not buf.endswith(want_reply):
            replies["bad"] += 1

    receiver = threading.Thread(target=receive)
    receiver.start()
    go.set()
    start = time.perf_counter()
    for _ in range(messages // 100):
        pub.sendall(pipeline)
    receiver.join()
    proc.join()
    if proc.exitcode != 0 or replies["bad"]:
        raise SystemExit("run failed (reader exit %s, bad replies %s)" % (proc.exitcode, replies["bad"]))
    pub.close()
    return subscribers * messages / (done.value - start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis", type=int, required=True, help="redis-server's port")
    ap.add_argument("--kv", type=int, required=True, help="kvserver's port")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--subscribers", default="1,10,100")
    ap.add_argument("--deliveries", type=int, default=2_000_000,
                    help="messages delivered per run, all subscribers together")
    ap.add_argument("--payload", type=int, default=16, help="bytes per message")
    a = ap.parse_args()
    payload = b"x" * a.payload
    servers = [("redis", a.redis), ("kv", a.kv)]
    admin = {name: connect(port) for name, port in servers}
    saved = {name: config_get_limits(s) for name, s in admin.items()}
    for s in admin.values():
        command(s, "CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 0 0")
    counts = [int(n) for n in a.subscribers.split(",")]
    results = {(name, n): [] for name, _ in servers for n in counts}
    try:
        for r in range(a.rounds):
            order = servers if r % 2 == 0 else servers[::-1]
            for n in counts:
                messages = max(1000, a.deliveries // n // 100 * 100)
                for name, port in order:
                    rate = run(port, n, messages, payload)
                    results[(name, n)].append(rate)
                    print("round %d: %-5s %3d subscribers x %7d messages: %12.0f deliveries/s"
                          % (r + 1, name, n, messages, rate), flush=True)
    finally:
        for name, s in admin.items():
            command(s, "CONFIG", "SET", "client-output-buffer-limit", saved[name])
    print()
    print("| subscribers | redis-server 7.0.15 (msg/s) | kv (msg/s) | kv / redis |")
    print("|---:|---:|---:|---:|")
    for n in counts:
        rm = statistics.median(results[("redis", n)])
        km = statistics.median(results[("kv", n)])
        print("| %d | %.0f | %.0f | %.2fx |" % (n, rm, km, km / rm))


if __name__ == "__main__":
    main()
