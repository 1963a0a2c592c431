#!/usr/bin/env python3
"""Checks that ARCHITECTURE.md's code maps name every Rust source file, and nothing stale.

    python3 tools/check_codemap.py [--arch FILE]

The convention it checks (stated at the top of ARCHITECTURE.md):

- Every `.rs` path in ARCHITECTURE.md is written from the repository root
  (`kvcore/src/kv.rs`, never `kv.rs` or `src/kv.rs`). Braces list alternatives
  (`kvcore/src/persist/{api,engine}/tests.rs`) and `*` is a wildcard within one path
  segment (`kvserver/src/cmd/*.rs`).
- Covered: every tracked `*.rs` file (`git ls-files '*.rs'`) appears by its full path,
  literally or through braces, on a table row (a line starting with `|`) of ARCHITECTURE.md:
  a code map. A wildcard does not cover a file.
- Not stale: every `.rs` path anywhere in ARCHITECTURE.md names a file that exists (tracked,
  or present in the work tree), and every wildcard matches at least one.

Exits 0 and prints a one-line summary when both hold; otherwise lists the missing and the
stale paths and exits 1. Python 3 standard library only; writes nothing.
"""
import sys

sys.dont_write_bytecode = True

import argparse
import fnmatch
import os
import re
import subprocess

# A path-like token ending in `.rs`: letters, digits, `_ . / - * ,` and one level of braces.
RS_PATH = re.compile(r"(?<![\w./{},*-])((?:[\w.*-]|\{[\w.,*/-]*\}|/)+\.rs)(?![\w])")
URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")


def expand_braces(token):
    """`a/{b,c}/d.rs` -> [`a/b/d.rs`, `a/c/d.rs`]; several brace groups multiply."""
    m = re.search(r"\{([^{}]*)\}", token)
    if not m:
        return [token]
    out = []
    for alt in m.group(1).split(","):
        out.extend(expand_braces(token[: m.start()] + alt + token[m.end():]))
    return out


def segment_match(path, pattern):
    """fnmatch per path segment, so `*` never crosses a `/`."""
    p, q = path.split("/"), pattern.split("/")
    return len(p) == len(q) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(p, q))


def mentions(text):
    """Yields (line number, is a table row, path or pattern) for every `.rs` path."""
    for n, line in enumerate(text.splitlines(), 1):
        row = line.lstrip().startswith("|")
        for m in RS_PATH.finditer(URL.sub(" ", line)):
            for path in expand_braces(m.group(1)):
                yield n, row, path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", help="the file to check (default: ARCHITECTURE.md at the root)")
    args = ap.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    root = subprocess.run(
        ["git", "-C", here, "rev-parse", "--show-toplevel"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    arch = args.arch or os.path.join(root, "ARCHITECTURE.md")
    tracked = subprocess.run(
        ["git", "-C", root, "ls-files", "-z", "--", "*.rs"],
        check=True, capture_output=True, text=True,
    ).stdout.split("\0")
    tracked = sorted(p for p in tracked if p)
    with open(arch, encoding="utf-8") as f:
        text = f.read()

    covered, stale = set(), []
    for n, row, path in mentions(text):
        if "*" in path:
            if not any(segment_match(t, path) for t in tracked):
                stale.append((n, path, "matches no file"))
            continue
        if path in tracked or os.path.isfile(os.path.join(root, path)):
            if row:
                covered.add(path)
        else:
            stale.append((n, path, "no such file"))

    missing = [p for p in tracked if p not in covered]
    name = os.path.relpath(arch, root) if arch.startswith(root + os.sep) else arch
    if missing:
        print(f"check_codemap: {len(missing)} source file(s) missing from {name}'s code maps "
              f"(a table row must name each by its path from the repository root):")
        for p in missing:
            print(f"  {p}")
    if stale:
        print(f"check_codemap: {len(stale)} stale .rs path(s) in {name}:")
        for n, p, why in stale:
            print(f"  line {n}: {p} ({why})")
    if missing or stale:
        return 1
    print(f"check_codemap: all {len(tracked)} tracked .rs files are in {name}'s code maps; "
          f"no stale paths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
