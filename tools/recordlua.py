#!/usr/bin/env python3
"""Records (or checks) the expected values of the Lua library tests against a real Redis.

    python3 tools/recordlua.py PORT [--write] FILE.rs...

Each FILE (kvcore/src/script/lib/*.rs) holds a `CASES` table of `(r#"script"#, b"expected")`
rows. For every row this runs `PRELUDE` (read from kvcore/src/script/lib/check.rs) followed by
the script through `EVAL ... 0` (after SCRIPT FLUSH, which gives Redis a fresh interpreter)
on the redis-server listening on 127.0.0.1:PORT, which must
reply with a bulk string. Without --write it lists the rows whose expected value differs from
the reply and exits 1 if any does; with --write it writes the replies into the files instead.

Start the reference server outside the repository, for instance:
    mkdir -p /tmp/lualib && cd /tmp/lualib && redis-server --port 7451 --daemonize yes \\
        --save '' --appendonly no --dir /tmp/lualib
Python 3 standard library only.
"""
import sys

sys.dont_write_bytecode = True

import argparse
import os
import re

from resp import Conn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK = os.path.join(ROOT, "kvcore/src/script/lib/check.rs")
PRELUDE = re.compile(r'const PRELUDE: &str = r#"(.*?)"#;', re.S)
ROW = re.compile(r'\(\s*r#"(.*?)"#,\s*b"((?:[^"\\]|\\.)*)"(,?\s*)\)', re.S)


class Reply(Conn):
    """RESP2 replies: bulk strings as bytes, errors as ("error", text), others as ("other", line)."""

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"-":
            return ("error", rest.decode(errors="replace"))
        if kind == b"*":
            items = [self.read() for _ in range(max(int(rest), 0))]
            return ("other", "array %r" % (items,))
        return ("other", line.decode(errors="replace"))


def rust_bytes(b):
    """`b` as the inside of a Rust byte-string literal."""
    out = []
    for c in b:
        ch = chr(c)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 0x20 <= c < 0x7F:
            out.append(ch)
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    with open(CHECK) as f:
        prelude = PRELUDE.search(f.read()).group(1)
    conn = Reply(args.port)
    bad = 0
    for path in args.files:
        with open(path) as f:
            text = f.read()

        def replace(m):
            nonlocal bad
            script, expected = m.group(1), m.group(2)
            # A fresh interpreter per case, as the tests have: Redis keeps one across scripts,
            # with whatever configuration an earlier case gave cjson.
            conn.call("SCRIPT", "FLUSH")
            reply = conn.call("EVAL", prelude + script, 0)
            if not isinstance(reply, bytes):
                bad += 1
                print("%s: no string reply for %s: %r" % (path, script, reply))
                return m.group(0)
            got = rust_bytes(reply)
            if got != expected:
                if not args.write:
                    bad += 1
                    print("%s: %s\n  redis: b\"%s\"\n  table: b\"%s\"" % (path, script, got, expected))
                    return m.group(0)
            return '(r#"%s"#, b"%s"%s)' % (script, got, m.group(3)) if args.write else m.group(0)

        new = ROW.sub(replace, text)
        if args.write and new != text:
            with open(path, "w") as f:
                f.write(new)
    print("%d mismatches" % bad)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
