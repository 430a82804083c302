#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A Redis client that checks every reply, for the server tests.

    redis-check.py PORT DB STOPFILE MAX_SECONDS

Until STOPFILE exists (or MAX_SECONDS pass): SET a key of its own to a
value it chose, GET it back, and compare; every 64th round also INCRs a
counter and checks it counts by one.  Speaks RESP on a plain socket so
that nothing sits between the check and the bytes Redis sent.  Prints

    ops N errors E max_ms X p99_ms Y

and one "error: ..." line per wrong reply (the first 20); exits 1 on any.
"""
import os
import socket
import sys
import time


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed by the server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed by the server")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"-":
            return RuntimeError(rest.decode(errors="replace"))
        raise RuntimeError("unexpected reply %r" % line)


def main():
    port, db, stopfile, max_s = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    c = Conn(port)
    errors = []
    lat = []
    if c.cmd("SELECT", db) != b"OK":
        errors.append("SELECT failed")
    c.cmd("DEL", "chk:counter")
    counter = 0
    i = 0
    end = time.monotonic() + max_s
    while not os.path.exists(stopfile) and time.monotonic() < end:
        key = "chk:%d" % (i % 997)
        val = ("v%d:" % i).encode() + os.urandom(8).hex().encode() * (1 + i % 16)
        t0 = time.monotonic()
        r1 = c.cmd("SET", key, val)
        t1 = time.monotonic()
        r2 = c.cmd("GET", key)
        t2 = time.monotonic()
        lat += [t1 - t0, t2 - t1]
        if r1 != b"OK":
            errors.append("SET %s: %r" % (key, r1))
        if r2 != val:
            errors.append("GET %s: %r, expected %r" % (key, r2, val))
        if i % 64 == 0:
            counter += 1
            r3 = c.cmd("INCR", "chk:counter")
            if r3 != counter:
                errors.append("INCR: %r, expected %d" % (r3, counter))
        i += 1
    lat.sort()
    p99 = lat[int(len(lat) * 0.99)] if lat else 0
    print("ops %d errors %d max_ms %.3f p99_ms %.3f" %
          (len(lat), len(errors), (lat[-1] if lat else 0) * 1e3, p99 * 1e3))
    for e in errors[:20]:
        print("error: " + e)
    return 1 if errors or not lat else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a dropped connection or a timeout is a failure too
        print("ops 0 errors 1 max_ms 0 p99_ms 0")
        print("error: %s: %s" % (type(e).__name__, e))
        sys.exit(1)
