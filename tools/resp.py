"""What the development tools in this folder share: encoding a command as a RESP array."""


def enc(args):
    """One command (str, int or bytes arguments) as a RESP array of bulk strings."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
