"""What the development tools in this folder share: encoding a command as a RESP array, and a
blocking connection that sends commands and reads replies (each tool decodes replies its own
way, in `read`)."""

import socket


def enc(args):
    """One command (str, int or bytes arguments) as a RESP array of bulk strings."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    """A connection to 127.0.0.1:`port`; subclasses say how `read` decodes one reply."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk

    def _line(self):
        """The next CRLF-terminated line, without its CRLF."""
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        """The next `n` bytes and the CRLF after them."""
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        raise NotImplementedError

    def call(self, *args):
        """Sends one command and returns its decoded reply."""
        self.sock.sendall(enc(list(args)))
        return self.read()


class Tagged(Conn):
    """Decodes replies into comparable Python values, as the differential fuzzers compare them:
    a status is `("ok", text)`, an error `("err", text)` (with `prefix_errors`, only its code),
    an integer an int, a bulk string bytes (None for null), an array a list; each RESP3 type
    keeps a tag of its own (`("map", pairs)`, `("set", items)`, `("push", items)`, `("null",)`,
    `(",", text)`, `("#", text)`, `("(", text)`, `("!", bytes)`, `("=", bytes)`), so a reply of
    the wrong type is a difference."""

    def __init__(self, port, prefix_errors=False):
        self.port = port
        self.prefix_errors = prefix_errors
        super().__init__(port)

    def reconnect(self):
        """A fresh connection to the same port (after a server closed one)."""
        self.sock.close()
        Conn.__init__(self, self.port)

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return ("ok", rest)
        if t == b"-":
            return ("err", rest.split(b" ")[0] if self.prefix_errors else rest)
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if t == b"%":
            return ("map", [(self.read(), self.read()) for _ in range(int(rest))])
        if t in (b"~", b">"):
            return ("set" if t == b"~" else "push", [self.read() for _ in range(int(rest))])
        if t == b"_":
            return ("null",)
        if t in (b",", b"#", b"("):
            return (t.decode(), rest)
        if t in (b"!", b"="):
            return (t.decode(), self._exact(int(rest)))
        raise ValueError(line)

    def cmd(self, args):
        """Sends one command (a list of arguments) and returns its decoded reply."""
        self.sock.sendall(enc(list(args)))
        return self.read()
