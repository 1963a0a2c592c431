#!/usr/bin/env python3
"""p50/p99 PING latency of a well-behaved client against KVSERVER (port 7449): quiet, then during
each hostile case of tests/e2e/hostile.rs at larger scale.

    tools/bench_hostile.py KVSERVER_BINARY
"""
import socket, subprocess, threading, time, statistics, sys, resource
kv_bin = sys.argv[1]; port = 7449
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
srv = subprocess.Popen([kv_bin, "--in-memory", "--port", str(port), "--requirepass", "pw", "--maxclients", "600"],
                       cwd="/tmp", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1)
def conn(auth=True):
    s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if auth:
        s.sendall(b"AUTH pw\r\n"); assert s.recv(16) == b"+OK\r\n"
    return s
def measure(n=3000):
    s = conn(); lat = []
    for _ in range(n):
        t = time.perf_counter(); s.sendall(b"PING\r\n"); assert s.recv(16) == b"+PONG\r\n"
        lat.append((time.perf_counter() - t) * 1e6); time.sleep(0.0005)
    s.close(); lat.sort()
    return lat[len(lat)//2], lat[int(len(lat)*0.99)]
def report(name, r): print(f"{name:<48} p50 {r[0]:7.0f} us   p99 {r[1]:7.0f} us", flush=True)
try:
    report("quiet", measure())
    # slowloris: 300 authenticated clients dribbling a request one byte every 20 ms
    stop = False; slow = [conn() for _ in range(300)]
    def dribble():
        req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + b"x" * 100000
        i = 0
        while not stop and i < len(req):
            for c in slow: c.sendall(req[i:i+1])
            i += 1; time.sleep(0.02)
    t = threading.Thread(target=dribble); t.start()
    report("300 slowloris clients (1 byte / 20 ms each)", measure()); stop = True; t.join()
    for c in slow: c.close()
    # a client that never reads: 100 kB GETs pipelined
    a = conn(); a.sendall(b"SET big " + b"v" * 100000 + b"\r\n"); a.recv(16)
    deaf = conn(); deaf.settimeout(2)
    try:
        for _ in range(5000): deaf.sendall(b"GET big\r\n")
    except OSError: pass
    report("a client that never reads (5000 x 100 kB GETs)", measure())
    deaf.close()
    # a burst of connection attempts past maxclients
    hold = [conn(False) for _ in range(590)]
    stop = False
    def burst():
        while not stop:
            try:
                c = socket.create_connection(("127.0.0.1", port)); c.recv(64); c.close()
            except OSError: pass
    ts = [threading.Thread(target=burst) for _ in range(4)]
    for t in ts: t.start()
    report("connection attempts past maxclients (4 threads)", measure()); stop = True
    for t in ts: t.join()
finally:
    srv.kill(); srv.wait()
