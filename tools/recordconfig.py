#!/usr/bin/env python3
"""Record redis-server's parameters and what CONFIG SET answers for each at its own value.

Usage: tools/recordconfig.py PORT FILE

Asks the redis-server on 127.0.0.1:PORT (start a fresh one, e.g. `redis-server --port PORT
--daemonize yes --save '' --appendonly no --dir /tmp/x`) for `CONFIG GET *`, then sends
`CONFIG SET name value` for every parameter with the value it reported, and writes one line
per parameter, sorted by name: `name<TAB>value<TAB>reply` (the reply's first line, `+OK` or
`-ERR ...`). tests/e2e/config.rs replays the file against kvserver (tests/e2e/config_params.txt),
so the test needs no redis-server.
"""

import sys

sys.dont_write_bytecode = True  # importing resp.py leaves no tools/__pycache__
import resp


class Conn(resp.Conn):
    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":"):
            return line
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind in (b"*", b"%"):
            n = int(rest) * (2 if kind == b"%" else 1)
            return [self.read() for _ in range(n)]
        raise ValueError("unexpected reply: %r" % line)

    def call(self, *args):
        self.sock.sendall(resp.enc(list(args)))
        return self.read()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    port, path = int(sys.argv[1]), sys.argv[2]
    c = Conn(port)
    flat = c.call("CONFIG", "GET", "*")
    pairs = sorted(zip(flat[::2], flat[1::2]))
    lines = []
    for name, value in pairs:
        reply = c.call("CONFIG", "SET", name, value)
        for field in (name, value, reply):
            if b"\t" in field or b"\n" in field:
                sys.exit("a tab or newline in %r" % field)
        lines.append(b"\t".join([name, value, reply]).decode())
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d parameters recorded into %s" % (len(lines), path))


if __name__ == "__main__":
    main()
