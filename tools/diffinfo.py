#!/usr/bin/env python3
"""Compare the shape of INFO, CLIENT LIST/INFO, CONFIG GET and HELLO between redis-server and kv.

Values differ between two servers; what must match is the shape clients and exporters parse:
section headers and order, field names and order, value formats (integer, float with N decimals,
human size, `k=v,...` lists), CRLF line endings and the blank line between sections.

    redis-server --port 17501 --save ''
    target/debug/kvserver --port 17502 --in-memory
    python3 tools/diffinfo.py [--redis 17501] [--kv 17502]

Prints one line per difference and a count per kind; exit status 1 when anything differs.
kv's own fields (`kv_*`) and the fields of later Redis versions kv reports (LATER_REDIS) are not
differences.
"""

import argparse
import re
import sys

sys.dont_write_bytecode = True  # importing resp.py leaves no tools/__pycache__
import resp


class Conn(resp.Conn):
    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+",):
            return rest.decode()
        if t in (b"-", b"!"):
            return ("error", rest.decode() if t == b"-" else self._exact(int(rest)).decode())
        if t == b":":
            return int(rest)
        if t in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n)
            return data[4:] if t == b"=" else data
        if t in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if t == b"%":
            return {"map": [(self.read(), self.read()) for _ in range(int(rest))]}
        if t == b"_":
            return None
        if t in (b",", b"("):
            return rest.decode()
        if t == b"#":
            return rest == b"t"
        raise ValueError("unknown reply type %r" % line)

    def cmd(self, *args):
        return self.call(*args)


def fmt(value):
    """The format class of one INFO/CLIENT value."""
    if re.fullmatch(r"-?\d+", value):
        return "int"
    m = re.fullmatch(r"-?\d+\.(\d+)", value)
    if m:
        return "float%d" % len(m.group(1))
    if re.fullmatch(r"\d+(\.\d+)?[BKMGTP]", value):
        return "human"
    if re.fullmatch(r"([a-z_]+=[^,]*,)*[a-z_]+=[^,]*", value):
        return "list(" + ",".join(
            k + "=" + fmt(v) for k, v in (p.split("=", 1) for p in value.split(","))) + ")"
    return "str"


def parse_info(text):
    """[(header, [(field, value)])] in order; problems with line endings/blank lines too."""
    problems = []
    if isinstance(text, tuple):
        return None, ["error reply %s" % text[1]]
    text = text.decode()
    if text and not text.endswith("\r\n"):
        problems.append("does not end with CRLF")
    if re.search(r"(?<!\r)\n", text):
        problems.append("bare LF line ending")
    sections = []
    for block in text.split("\r\n\r\n"):
        lines = [l for l in block.split("\r\n") if l != ""]
        if not lines:
            continue
        if not lines[0].startswith("# "):
            problems.append("section without header: %r" % lines[0])
            continue
        fields = []
        for l in lines[1:]:
            if l.startswith("#"):
                problems.append("header %r not preceded by a blank line" % l)
                continue
            k, _, v = l.partition(":")
            fields.append((k, v))
        sections.append((lines[0][2:], fields))
    return sections, problems


# Fields whose name pattern carries a variable part (a command, an error prefix, a db number).
def norm(name):
    for pre in ("cmdstat_", "errorstat_", "latency_percentiles_usec_"):
        if name.startswith(pre):
            return pre + "*"
    if re.fullmatch(r"db\d+", name):
        return "db*"
    return name


# Fields a later Redis added that kv reports (the reference server is 7.0).
LATER_REDIS = {
    "client_output_buffer_limit_disconnections",  # Redis 7.4, INFO stats
}


def compare_fields(where, rf, kf, out):
    rnames = [norm(k) for k, _ in rf]
    knames = [norm(k) for k, _ in kf]
    rset, kset = dict.fromkeys(rnames), dict.fromkeys(knames)
    for n in rset:
        if n not in kset:
            out.append(("missing", "%s: kv lacks %s" % (where, n)))
    for n in kset:
        if n not in rset and not n.startswith("kv_") and n not in LATER_REDIS:
            out.append(("extra", "%s: kv has %s, redis does not" % (where, n)))
    common_r = [n for n in rset if n in kset]
    common_k = [n for n in kset if n in rset]
    if common_r != common_k:
        out.append(("order", "%s: order differs\n   redis %s\n   kv    %s" % (
            where, " ".join(common_r), " ".join(common_k))))
    rv = {norm(k): v for k, v in rf}
    kv = {norm(k): v for k, v in kf}
    for n in common_r:
        a, b = fmt(rv[n]), fmt(kv[n])
        if a != b:
            out.append(("format", "%s: %s redis %r (%s) kv %r (%s)" % (where, n, rv[n], a, kv[n], b)))


def diff_info(r, k, out):
    # Make both servers have something in every variable section.
    for c in (r, k):
        c.cmd("SET", "diffinfo:k", "v")
        c.cmd("EXPIRE", "diffinfo:k", "1000")
        c.cmd("GET", "diffinfo:k")
        c.cmd("GET", "diffinfo:none")
        c.cmd("NOSUCHCOMMAND")
        c.cmd("LPUSH", "diffinfo:k", "x")
    queries = [[], ["default"], ["all"], ["everything"], ["server", "clients"],
               ["SERVER"], ["nosuchsection"], ["Keyspace", "cpu"]]
    names = [s for s, _ in parse_info(r.cmd("INFO", "everything"))[0]]
    queries += [[n.lower()] for n in names]
    for q in queries:
        where = "INFO " + " ".join(q) if q else "INFO"
        rs, rp = parse_info(r.cmd("INFO", *q))
        ks, kp = parse_info(k.cmd("INFO", *q))
        for p in kp:
            if p not in rp:
                out.append(("syntax", "%s: kv %s" % (where, p)))
        if rs is None or ks is None:
            if (rs is None) != (ks is None):
                out.append(("reply", "%s: redis %s kv %s" % (where, rp, kp)))
            continue
        rh = [h for h, _ in rs]
        kh = [h for h, _ in ks]
        if rh != kh:
            out.append(("sections", "%s: headers differ\n   redis %s\n   kv    %s" % (where, rh, kh)))
        if q not in ([], ["everything"]) and not (len(q) == 1 and q[0].lower() in [n.lower() for n in names]):
            continue
        kd = dict(ks)
        for h, rf in rs:
            if h in kd:
                compare_fields("%s [%s]" % (where, h), rf, kd[h], out)


def parse_client(line):
    return [tuple(p.split("=", 1)) for p in line.strip().split(" ")]


def diff_client(r, k, out):
    for name, args in (("CLIENT INFO", ["CLIENT", "INFO"]), ("CLIENT LIST", ["CLIENT", "LIST"])):
        rv, kv = r.cmd(*args), k.cmd(*args)
        if isinstance(kv, tuple):
            out.append(("reply", "%s: kv error %s" % (name, kv[1])))
            continue
        rl = parse_client(rv.decode().split("\n")[0])
        kl = parse_client(kv.decode().split("\n")[0])
        for suffix in ("\n",):
            if rv.decode().endswith(suffix) != kv.decode().endswith(suffix):
                out.append(("syntax", "%s: trailing newline redis %r kv %r" % (name, rv[-2:], kv[-2:])))
        compare_fields(name, rl, kl, out)
    # A subscriber's line (flags=P, sub/psub/ssub), through CLIENT LIST TYPE pubsub.
    subs = []
    for port in (r.sock.getpeername()[1], k.sock.getpeername()[1]):
        c = Conn(port)
        c.sock.sendall(resp.enc(["SUBSCRIBE", "diffinfo:ch"]) + resp.enc(["PSUBSCRIBE", "diffinfo:*"]))
        c.read(), c.read()
        subs.append(c)
    rv, kv = r.cmd("CLIENT", "LIST", "TYPE", "pubsub"), k.cmd("CLIENT", "LIST", "TYPE", "pubsub")
    if isinstance(kv, tuple) or not kv:
        out.append(("reply", "CLIENT LIST TYPE pubsub: kv %r" % (kv,)))
    else:
        compare_fields("CLIENT LIST TYPE pubsub", parse_client(rv.decode().split("\n")[0]),
                       parse_client(kv.decode().split("\n")[0]), out)
    for c in subs:
        c.sock.close()


CONFIG_PATTERNS = ["save", "appendonly", "appendfsync", "dir", "maxmemory", "databases", "port",
                   "bind", "maxclients", "timeout", "maxmemory-policy", "dbfilename",
                   "appendfilename", "requirepass", "hz", "loglevel", "logfile", "daemonize",
                   "tcp-keepalive", "protected-mode", "notify-keyspace-events", "*max*-entries",
                   "nosuchparam", "SAVE", "max*", "port save", "client-output-buffer-limit"]


def diff_config(r, k, out):
    for p in CONFIG_PATTERNS:
        args = ["CONFIG", "GET"] + p.split(" ")
        rv, kv = r.cmd(*args), k.cmd(*args)
        rd = dict(zip(rv[0::2], rv[1::2])) if isinstance(rv, list) else rv
        kd = dict(zip(kv[0::2], kv[1::2])) if isinstance(kv, list) else kv
        if not isinstance(kd, dict):
            out.append(("config", "CONFIG GET %s: kv %r" % (p, kd)))
            continue
        for n, v in rd.items():
            if n not in kd:
                out.append(("config-missing", "CONFIG GET %s: kv lacks %s (redis %r)" % (p, n.decode(), v)))
            elif fmt(v.decode() or "0") != fmt(kd[n].decode() or "0"):
                out.append(("config-format", "CONFIG GET %s: %s redis %r kv %r" % (p, n.decode(), v, kd[n])))
        for n in kd:
            if n not in rd:
                out.append(("config-extra", "CONFIG GET %s: kv has %s" % (p, n.decode())))


def diff_hello(rport, kport, out):
    for proto in ("2", "3"):
        r, k = Conn(rport), Conn(kport)
        rv, kv = r.cmd("HELLO", proto), k.cmd("HELLO", proto)
        def keys(v):
            if isinstance(v, dict):
                return [(a.decode() if isinstance(a, bytes) else a, b) for a, b in v["map"]]
            return [(a.decode() if isinstance(a, bytes) else a, b) for a, b in zip(v[0::2], v[1::2])]
        if type(rv) != type(kv):
            out.append(("hello", "HELLO %s: reply type redis %s kv %s" % (proto, type(rv), type(kv))))
            continue
        rk, kk = keys(rv), keys(kv)
        if [a for a, _ in rk] != [a for a, _ in kk]:
            out.append(("hello", "HELLO %s: keys redis %s kv %s" % (proto, [a for a, _ in rk], [a for a, _ in kk])))
        for (a, x), (_, y) in zip(rk, kk):
            if type(x) != type(y):
                out.append(("hello", "HELLO %s: %s type redis %r kv %r" % (proto, a, x, y)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis", type=int, default=17501)
    ap.add_argument("--kv", type=int, default=17502)
    ap.add_argument("--only", help="info, client, config or hello")
    a = ap.parse_args()
    r, k = Conn(a.redis), Conn(a.kv)
    out = []
    if a.only in (None, "info"):
        diff_info(r, k, out)
    if a.only in (None, "client"):
        diff_client(r, k, out)
    if a.only in (None, "config"):
        diff_config(r, k, out)
    if a.only in (None, "hello"):
        diff_hello(a.redis, a.kv, out)
    seen = set()
    counts = {}
    for kind, msg in out:
        if msg in seen:
            continue
        seen.add(msg)
        counts[kind] = counts.get(kind, 0) + 1
        print("%-14s %s" % (kind, msg))
    print("summary:", ", ".join("%s %d" % kv for kv in sorted(counts.items())) or "no differences")
    sys.exit(1 if out else 0)


if __name__ == "__main__":
    main()
