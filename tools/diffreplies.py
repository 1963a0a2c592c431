#!/usr/bin/env python3
"""Record, or compare, the exact reply bytes of a case file's commands.

Usage: tools/diffreplies.py --record PORT FILE   rewrite FILE's replies from a redis-server
       tools/diffreplies.py PORT1 PORT2 FILE      print the cases whose replies differ

A case file (tests/e2e/script.txt, ...) is a list of commands, one a line, written as
redis-cli takes them (Redis's `sdssplitargs` quoting: "..." with \\n, \\r, \\t, \\xNN escapes,
or '...'), each followed by a `=> ` line with the reply's bytes (`\\r\\n`, `\\\\`, `\\xNN`
escaped; everything else printable as is). `--record` keeps the commands and comments and
rewrites every `=> ` line. Lines starting with `#` are comments; these directives run
between cases and their replies are not kept:
    @resp3 / @resp2   switch the connection's protocol (HELLO 3 / HELLO 2)
    @flush            FLUSHALL and SCRIPT FLUSH
and this one is a case whose reply is kept:
    @read             send nothing, read one reply (a push that follows an earlier reply)
The e2e tests replay a file against kvserver (tests/e2e/replies.rs) and compare byte for
byte. The server must be expendable: the file's commands change its data.
"""

import sys

sys.dont_write_bytecode = True  # importing resp.py leaves no tools/__pycache__
import resp


def split_args(line):
    """Redis's sdssplitargs: whitespace-separated, with "..." (escapes) and '...' quoting."""
    args, i, n = [], 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        cur, inq, insq = bytearray(), False, False
        while True:
            if inq:
                if i >= n:
                    raise ValueError("unbalanced quotes: " + line)
                c = line[i]
                if c == "\\" and i + 3 < n and line[i + 1] == "x" and all(
                        h in "0123456789abcdefABCDEF" for h in line[i + 2:i + 4]):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    cur += {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a"}.get(
                        line[i], line[i].encode())
                elif c == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space: " + line)
                    i += 1
                    break
                else:
                    cur += c.encode()
            elif insq:
                if i >= n:
                    raise ValueError("unbalanced quotes: " + line)
                c = line[i]
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    i += 1
                    cur += b"'"
                elif c == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space: " + line)
                    i += 1
                    break
                else:
                    cur += c.encode()
            else:
                if i >= n or line[i].isspace():
                    break
                c = line[i]
                if c == '"':
                    inq = True
                elif c == "'":
                    insq = True
                else:
                    cur += c.encode()
            i += 1
        args.append(bytes(cur))


def escape(data):
    out = []
    for b in data:
        if b == 0x5C:
            out.append("\\\\")
        elif b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


class Conn(resp.Conn):
    def raw_reply(self):
        """The bytes of one whole reply, undecoded."""
        self.consumed = b""
        self._raw()
        return self.consumed

    def _take_line(self):
        line = self._line()
        self.consumed += line + b"\r\n"
        return line

    def _raw(self):
        line = self._take_line()
        t, rest = line[:1], line[1:]
        if t in b"$=!":
            n = int(rest)
            if n >= 0:
                self.consumed += self._exact(n) + b"\r\n"
        elif t in b"*~>":
            for _ in range(max(int(rest), 0)):
                self._raw()
        elif t in b"%":
            for _ in range(2 * int(rest)):
                self._raw()
        elif t in b"|":
            # An attribute's pairs come before the reply they annotate: one reply in all.
            for _ in range(2 * int(rest) + 1):
                self._raw()

    def read(self):
        return self.raw_reply()


def cases(path):
    """The case file's lines."""
    return open(path, encoding="utf-8").read().split("\n")


def run(conn, line):
    if line == "@resp3":
        conn.call("HELLO", "3")
    elif line == "@resp2":
        conn.call("HELLO", "2")
    elif line == "@flush":
        conn.call("FLUSHALL")
        conn.call("SCRIPT", "FLUSH")
    elif line == "@read":
        return conn.raw_reply()
    else:
        return conn.call(*split_args(line))
    return None


def record(port, path):
    lines = cases(path)
    conn = Conn(port)
    out = []
    for line in lines:
        if line.startswith("=> "):
            continue
        out.append(line)
        if not line or line.startswith("#"):
            continue
        reply = run(conn, line)
        if reply is not None:
            out.append("=> " + escape(reply))
    if out and out[-1] != "":
        out.append("")
    open(path, "w", encoding="utf-8").write("\n".join(out))


def compare(p1, p2, path):
    a, b = Conn(p1), Conn(p2)
    differ = 0
    for line in cases(path):
        if not line or line.startswith("#") or line.startswith("=> "):
            continue
        ra, rb = run(a, line), run(b, line)
        if ra != rb:
            differ += 1
            print(line)
            print("  %d: %s" % (p1, escape(ra)))
            print("  %d: %s" % (p2, escape(rb)))
    print("%d differ" % differ)
    return 1 if differ else 0


def main():
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "--record":
        record(int(args[1]), args[2])
        return 0
    if len(args) == 3:
        return compare(int(args[0]), int(args[1]), args[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
