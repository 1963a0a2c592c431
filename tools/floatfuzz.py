#!/usr/bin/env python3
"""Differential check of INCRBYFLOAT / HINCRBYFLOAT against redis-server: random float texts
(decimal, exponents, many digits, hex floats, huge/tiny, inf, malformed), random SET/HSET of a
starting value, then the increment; replies (including error texts) must be byte-identical.
Usage: [CLEAN=1] floatfuzz.py PORT_REDIS PORT_KV N SEED. Prints the counts and the first mismatches."""
import os, random, socket, sys
CLEAN = os.environ.get("CLEAN") == "1"  # only valid, moderate numbers: long arithmetic chains

sys.dont_write_bytecode = True  # importing resp.py leaves no tools/__pycache__
from resp import enc  # tools/resp.py

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port)); self.f = self.s.makefile("rb")
    def cmd(self, *args):
        self.s.sendall(enc(args)); l = self.f.readline()
        if l[:1] == b"$":
            n = int(l[1:]); return None if n < 0 else self.f.read(n + 2)[:-2]
        if l[:1] == b"-":
            return ("error", l.rstrip(b"\r\n"))
        return l.rstrip(b"\r\n")

def digits(rng, n):
    return "".join(rng.choice("0123456789") for _ in range(n))

def number(rng):
    kind = rng.randrange(14)
    if CLEAN and kind in (7, 9, 10, 11):
        kind = rng.choice([0, 4, 6, 12])
    sign = rng.choice(["", "", "-", "+"]) if kind != 0 else ""
    if kind <= 3:  # short decimals, INCRBYFLOAT's usual diet
        s = digits(rng, rng.randrange(1, 5)) + rng.choice(["", "." + digits(rng, rng.randrange(1, 4))])
    elif kind <= 5:  # many digits
        s = digits(rng, rng.randrange(1, 25)) + "." + digits(rng, rng.randrange(1, 40))
    elif kind <= 7:  # exponents, small to extreme
        e = rng.choice([rng.randrange(-30, 30), rng.randrange(-400, 400), rng.randrange(-4960, 4940)])
        s = digits(rng, rng.randrange(1, 20)) + rng.choice(["", "." + digits(rng, 5)]) + rng.choice("eE") + str(e)
    elif kind == 8:  # integers around 2^63 / 2^64 / 10^20
        s = str(rng.choice([2**63, 2**64, 10**20, 2**53]) + rng.randrange(-3, 4))
    elif kind == 9:  # hex floats
        s = "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(rng.randrange(1, 18))) + rng.choice(["", ".8", ".0001"]) + rng.choice(["", "p" + str(rng.randrange(-70, 70)), "P-16440", "p16380"])
    elif kind == 10:  # boundaries
        s = rng.choice(["1.18973149535723176502e4932", "1.1897314953572317650e4932", "3.6451995318824746025e-4951",
                        "1e-4950", "1e-4952", "1e5000", "1e-5000", "0.000003814697265625", "5e-18", "1.5e-17", "2.5e-17"])
    elif kind == 11:  # specials and junk
        return rng.choice(["inf", "-inf", "Infinity", "nan", "", " 1", "1 ", "abc", "1e", ".", "1..2", "0x", "1e+", "--1", "١"])
    elif kind == 12:  # 17-ish decimal places, where the %.17Lf rounding decides
        s = digits(rng, rng.randrange(1, 8)) + "." + digits(rng, rng.randrange(15, 20))
    else:
        s = rng.choice(["0", "-0", "0.0", "00", "1", "10", "0.5", "0.1", "0.2", "0.3"])
    return sign + s

def main():
    pa, pb, n, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    a, b = Conn(pa), Conn(pb)
    for c in (a, b):
        c.cmd("FLUSHALL"); c.cmd("RPUSH", "list", "x"); c.cmd("SET", "str", "1")
    counts = {"same": 0, "differ": 0, "ok": 0, "err": 0}
    shown = 0
    for i in range(n):
        key, field = "k%d" % rng.randrange(4), "f%d" % rng.randrange(4)
        r = rng.random()
        if r < 0.25:
            cmds = [("SET", key, number(rng))]
        elif r < 0.35:
            cmds = [("HSET", "h", field, number(rng))]
        elif r < 0.7:
            cmds = [("INCRBYFLOAT", key, number(rng))]
        elif r < 0.97:
            cmds = [("HINCRBYFLOAT", "h", field, number(rng))]
        else:  # wrong types: which error wins, WRONGTYPE or the argument's
            cmds = [rng.choice([("INCRBYFLOAT", "list", number(rng)), ("HINCRBYFLOAT", "str", "f", number(rng))])]
        if rng.random() < 0.05:
            cmds.append(("DEL", key))
        cmds.append(("GET", key)); cmds.append(("HGET", "h", field))
        for args in cmds:
            ra, rb = a.cmd(*args), b.cmd(*args)
            if args[0] in ("INCRBYFLOAT", "HINCRBYFLOAT"):
                counts["err" if isinstance(ra, tuple) else "ok"] += 1
            if ra == rb:
                counts["same"] += 1
            else:
                counts["differ"] += 1
                if shown < 20:
                    shown += 1
                    print("MISMATCH", args, "redis:", repr(ra)[:120], "kv:", repr(rb)[:120])
    print("seed %d: %d commands, %d same, %d differ; increments: %d ok, %d errors" % (
        seed, counts["same"] + counts["differ"], counts["same"], counts["differ"], counts["ok"], counts["err"]))
    sys.exit(1 if counts["differ"] else 0)

main()
