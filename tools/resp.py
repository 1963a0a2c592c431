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
