#!/usr/bin/env python3
"""Differential fuzz of geo commands and SORT: the same random commands go to redis-server and
kvserver, and every reply must be byte for byte the same.

Usage: difffuzz_geo.py PORT_REDIS PORT_KV N SEED [--show K]

Geo: GEOADD (NX/XX/CH, some positions out of range) over a world-wide key and a dense city
key, GEOSEARCH / GEOSEARCHSTORE (FROMMEMBER/FROMLONLAT, BYRADIUS/BYBOX, every unit, ASC/DESC,
COUNT [ANY], WITH*), GEORADIUS(_RO) and GEORADIUSBYMEMBER(_RO) with STORE/STOREDIST, GEOPOS,
GEOHASH, GEODIST, ZREM, and ZRANGE WITHSCORES of the geo keys (their 52-bit scores).
SORT / SORT_RO over lists, integer sets and sorted sets, BY weights (strings, hash fields,
some not numbers), `nosort`, LIMIT, GET, ASC/DESC, ALPHA, STORE.

Known, documented differences are not generated: ties at exactly equal distances or equal
ALPHA BY values that a partial sort (COUNT below the result size; LIMIT with BY) orders
(Redis's `pqsort` is not stable), a set sorted BY a constant without STORE (Redis's hash
order), distances read back with ZRANGE WITHSCORES (kv prints scores as Redis 7.2), and
weights that overflow (`1e400`): Redis's SORT reads `errno` without clearing it, so after one
ERANGE later sorts of good numbers may fail too until some call resets it.
Mismatches are grouped by command; up to K examples (default 3) per command are printed.
"""
import random
import sys
from collections import defaultdict

sys.dont_write_bytecode = True  # importing resp.py leaves no tools/__pycache__
import resp


class Raw(resp.Conn):
    """Replies as their exact bytes."""

    def read(self):
        line = self._line()
        t = line[:1]
        out = line + b"\r\n"
        if t in (b"$", b"=", b"!"):
            n = int(line[1:])
            if n >= 0:
                out += self._exact(n) + b"\r\n"
        elif t in (b"*", b"~", b">", b"%"):
            n = int(line[1:])
            for _ in range(max(n, 0) * (2 if t == b"%" else 1)):
                out += self.read()
        return out


UNITS = ["m", "km", "ft", "mi", "KM", "Mi"]


def coord(rng, dense):
    if dense:
        return round(2.30 + rng.random() * 0.1, 6), round(48.82 + rng.random() * 0.08, 6)
    if rng.random() < 0.05:
        return rng.choice([(180, 85.05112878), (-180, -85.05112878), (0, 0), (200, 1), (1, 86)])
    return round(rng.uniform(-180, 180), 5), round(rng.uniform(-85, 85), 5)


def geo_cmd(rng):
    dense = rng.random() < 0.6
    key = "city" if dense else "world"
    members = [f"m{i}" for i in range(40)]
    r = rng.random()
    if r < 0.25:
        cmd = ["GEOADD", key]
        for opt in ("NX", "XX", "CH"):
            if rng.random() < 0.1:
                cmd.append(opt)
        for _ in range(rng.randint(1, 4)):
            lon, lat = coord(rng, dense)
            cmd += [lon, lat, rng.choice(members)]
        return cmd, True
    if r < 0.30:
        return ["GEOPOS", key] + rng.sample(members, 3), True
    if r < 0.34:
        return ["GEOHASH", key] + rng.sample(members, 3), True
    if r < 0.40:
        cmd = ["GEODIST", key, rng.choice(members), rng.choice(members)]
        if rng.random() < 0.7:
            cmd.append(rng.choice(UNITS))
        return cmd, True
    if r < 0.42:
        return ["ZREM", key, rng.choice(members)], True
    if r < 0.45:
        return ["ZRANGE", key, 0, -1, "WITHSCORES"], True
    # A search. A COUNT without ANY below the result size sorts partially: only ANY, or no
    # COUNT, or a COUNT no result reaches.
    lon, lat = coord(rng, dense)
    size = rng.choice([0.5, 1, 2, 5, 50, 500, 5000]) if not dense else rng.choice([0.2, 0.5, 1, 3, 10])
    unit = rng.choice(UNITS)
    scale = {"m": 1000, "km": 1, "ft": 3280.84, "mi": 0.621371}[unit.lower()]
    size = round(size * scale, 3)
    opts = []
    for o in ("WITHDIST", "WITHCOORD", "WITHHASH"):
        if rng.random() < 0.4:
            opts.append(o)
    if rng.random() < 0.6:
        opts.append(rng.choice(["ASC", "DESC"]))
    if rng.random() < 0.3:
        opts += ["COUNT", rng.choice([1, 2, 3, 1000])]
        if opts[-1] != 1000:
            opts.append("ANY")
    member = rng.choice(members)
    kind = rng.random()
    store = rng.random() < 0.15
    if kind < 0.5:
        frm = ["FROMMEMBER", member] if rng.random() < 0.5 else ["FROMLONLAT", lon, lat]
        by = ["BYRADIUS", size, unit] if rng.random() < 0.5 else ["BYBOX", size, round(size * rng.uniform(0.3, 2), 3), unit]
        if store:
            opts = [o for o in opts if not str(o).startswith("WITH")]
            if rng.random() < 0.5:
                opts.append("STOREDIST")
            return ["GEOSEARCHSTORE", "dst", key] + frm + by + opts, True
        return ["GEOSEARCH", key] + frm + by + opts, True
    base = ["GEORADIUS", key, lon, lat] if kind < 0.75 else ["GEORADIUSBYMEMBER", key, member]
    if rng.random() < 0.2 and not store:
        base[0] += "_RO"
    if store:
        opts = [o for o in opts if not str(o).startswith("WITH")]
        opts += [rng.choice(["STORE", "STOREDIST"]), "dst"]
    return base + [size, unit] + opts, True


def sort_setup(rng):
    cmds = []
    elems = [str(rng.randint(-5, 20)) for _ in range(rng.randint(0, 12))]
    cmds.append(["DEL", "l", "s", "z"])
    if elems:
        cmds.append(["RPUSH", "l"] + elems + [rng.choice(["a", "b", "1.5", "0x10", " 7"]) for _ in range(rng.randint(0, 2))])
        cmds.append(["SADD", "s"] + elems)
        cmds.append(["ZADD", "z"] + [x for e in elems for x in (rng.randint(0, 5), e)])
    for i in range(-5, 21):
        if rng.random() < 0.6:
            v = rng.choice([str(rng.randint(-100, 100)), str(rng.uniform(-10, 10)), "x", "", " 3", "inf"])
            cmds.append(["SET", f"w_{i}", v])
        else:
            cmds.append(["DEL", f"w_{i}"])
        if rng.random() < 0.5:
            cmds.append(["HSET", f"h_{i}", "f", rng.randint(-50, 50), "g", f"g{rng.randint(0, 1000):04d}"])
        else:
            cmds.append(["DEL", f"h_{i}"])
    return cmds


def sort_cmd(rng):
    key = rng.choice(["l", "s", "z", "nokey"])
    cmd = [rng.choice(["SORT", "SORT_RO"]), key]
    alpha = rng.random() < 0.3
    by = None
    r = rng.random()
    if r < 0.25:
        by = "w_*"
    elif r < 0.4:
        by = "h_*->f"
    elif r < 0.5:
        by = "nosort"
    if by == "nosort" and key == "s":
        by = None  # a set in Redis's hash order
    if alpha and by and by != "nosort" and key != "l":
        by = None  # equal ALPHA BY values keep their original (hash) order
    if by:
        cmd += ["BY", by]
    if alpha:
        cmd.append("ALPHA")
    if rng.random() < 0.5:
        cmd.append(rng.choice(["ASC", "DESC"]))
    limit = rng.random() < 0.4 and not (alpha and by and by != "nosort")
    if limit:
        cmd += ["LIMIT", rng.randint(-2, 8), rng.randint(-2, 8)]
    for _ in range(rng.choice([0, 0, 1, 2])):
        cmd += ["GET", rng.choice(["#", "w_*", "h_*->g", "h_*->f", "nostar", "h_*->"])]
    stored = cmd[0] == "SORT" and rng.random() < 0.2
    if stored:
        cmd += ["STORE", "dst"]
    return cmd, stored


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show = 3
    if "--show" in sys.argv:
        show = int(sys.argv[sys.argv.index("--show") + 1])
        args.remove(str(show))
    p_redis, p_kv, n, seed = int(args[0]), int(args[1]), int(args[2]), int(args[3])
    rng = random.Random(seed)
    servers = [Raw(p_redis), Raw(p_kv)]
    for s in servers:
        s.call("FLUSHALL")
    bad = defaultdict(list)
    total = 0

    def both(cmd):
        return [s.call(*cmd) for s in servers]

    for i in range(n):
        if rng.random() < 0.7:
            cmd, _ = geo_cmd(rng)
            follow = [["ZRANGE", "dst", 0, -1]] if "dst" in cmd and "STOREDIST" in cmd else []
            if "dst" in cmd and "STOREDIST" not in cmd:
                follow = [["ZRANGE", "dst", 0, -1, "WITHSCORES"]]
        else:
            if i % 50 == 0 or rng.random() < 0.1:
                for c in sort_setup(rng):
                    both(c)
            cmd, stored = sort_cmd(rng)
            follow = [["LRANGE", "dst", 0, -1]] if stored else []
        for c in [cmd] + follow:
            total += 1
            a, b = both(c)
            if a != b:
                bad[str(c[0])].append((c, a, b))
                for s in servers:
                    s.call("FLUSHALL")
                break
    print(f"{total} commands, {sum(len(v) for v in bad.values())} mismatches")
    for name, cases in sorted(bad.items()):
        print(f"{name}: {len(cases)}")
        for c, a, b in cases[:show]:
            print("  ", " ".join(map(str, c)))
            print("     redis:", a[:400])
            print("     kv:   ", b[:400])
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
