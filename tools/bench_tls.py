#!/usr/bin/env python3
"""kvserver against redis-server, both over TLS, with redis-benchmark --tls (A B B A rounds).

    tools/bench_tls.py KVSERVER_BINARY [ROUNDS]

Makes a throw-away CA and server certificate with the openssl CLI in a temporary directory,
starts redis-server (Debian's is built with TLS) and kvserver with TLS only
(`port 0`, `tls-auth-clients no`) on ports 7447 and 7448, and prints per test the median
requests/s of each and the median and min-max of the per-round kv/redis ratios.
"""
import subprocess, time, statistics, sys, os, tempfile, shutil
work = tempfile.mkdtemp(prefix="kv-bench-tls-")
C = work
def ossl(*args):
    subprocess.run(["openssl", *args], cwd=work, check=True, capture_output=True)
ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bench CA",
     "-keyout", "ca.key", "-out", "ca.crt")
ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
     "-out", "server.csr")
open(f"{work}/server.ext", "w").write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
     "-days", "2", "-extfile", "server.ext", "-out", "server.crt")
kv_bin = sys.argv[1]; rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
open(f"{work}/kv.conf", "w").write(
    f"port 0\ntls-port 7448\ntls-cert-file {C}/server.crt\ntls-key-file {C}/server.key\n"
    f"tls-ca-cert-file {C}/ca.crt\ntls-auth-clients no\n")
redis = subprocess.Popen(["redis-server", "--port", "0", "--tls-port", "7447",
    "--tls-cert-file", f"{C}/server.crt", "--tls-key-file", f"{C}/server.key",
    "--tls-ca-cert-file", f"{C}/ca.crt", "--tls-auth-clients", "no", "--save", "",
    "--appendonly", "no", "--dir", work], cwd=work,
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
kv = subprocess.Popen([kv_bin, "--in-memory", "--config", f"{work}/kv.conf"],
    cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1.5)
tests = [("c50 P1", ["-c", "50", "-n", "100000"]), ("c50 P16", ["-c", "50", "-P", "16", "-n", "1000000"]),
         ("c1 P1", ["-c", "1", "-n", "20000"])]
res = {}
def run(port, args):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "--tls", "--cacert", f"{C}/ca.crt",
        "-q", "-t", "set,get", "-r", "100000"] + args, capture_output=True, text=True).stdout
    got = {}
    for line in out.replace("\r", "\n").splitlines():
        if "requests per second" in line:
            name = line.split(":")[0].strip()
            got[name] = float(line.split(":")[1].split()[0])
    return got
try:
    for r in range(rounds):
        order = [("redis", 7447), ("kv", 7448)] if r % 2 == 0 else [("kv", 7448), ("redis", 7447)]
        for tname, args in tests:
            for label, port in order:
                for op, rps in run(port, args).items():
                    res.setdefault((tname, op), {}).setdefault(label, []).append(rps)
    print(f"{'test':<16}{'redis rps':>12}{'kv rps':>12}{'kv/redis':>10}  (min-max)")
    for (tname, op), d in res.items():
        ratios = [k / r for k, r in zip(d["kv"], d["redis"])]
        print(f"{tname+' '+op:<16}{statistics.median(d['redis']):>12.0f}{statistics.median(d['kv']):>12.0f}"
              f"{statistics.median(ratios):>10.2f}  ({min(ratios):.2f}-{max(ratios):.2f})")
finally:
    redis.kill(); kv.kill(); redis.wait(); kv.wait()
    shutil.rmtree(work, ignore_errors=True)
