#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""httpload: concurrent HTTP/1.0 clients that count every failed connection.

    httpload.py [-c CLIENTS] [-n REQUESTS | until SIGINT/SIGTERM] HOST PORT

Each client connects, sends "GET / HTTP/1.0", reads the whole answer and
closes, again and again.  A request is served when the answer is
"HTTP/1.x 200" with a body; the body's first word names the server that
answered (the example configurations answer "haproxy", "nginx" or
"backend").  Anything else fails: refused, reset, timed out, another
status, an empty answer.  A request times out after 60 s, times
SOCKDUP_TIME_FACTOR when that is set in the environment.

Lines on standard output:
    httpload: first answer from NAME        (once per server name)
    httpload: N attempted, N served, N failed; served by NAME=N ...
    httpload: failed: REASON                (at most 10 of them)
Exit status 0 only when nothing failed (and something was served).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading

# How long one request may take: 60 s, times SOCKDUP_TIME_FACTOR when it is
# set (the VM lanes set it for a slow kernel or a busy host).
TIMEOUT = 60.0 * max(1.0, float(os.environ.get("SOCKDUP_TIME_FACTOR", "1") or 1))


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempted = self.served = self.failed = 0
        self.by: dict[str, int] = {}
        self.reasons: list[str] = []

    def ok(self, name: str) -> None:
        with self.lock:
            self.served += 1
            if name not in self.by:
                print(f"httpload: first answer from {name}", flush=True)
            self.by[name] = self.by.get(name, 0) + 1

    def fail(self, reason: str) -> None:
        with self.lock:
            self.failed += 1
            if len(self.reasons) < 10:
                self.reasons.append(reason)


def request(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=TIMEOUT) as c:
        c.sendall(b"GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % host.encode())
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if not status.startswith(b"HTTP/1.") or status.split()[1:2] != [b"200"] or not body.split():
        raise ValueError(f"answer {data[:80]!r}")
    return body.split()[0].decode(errors="replace")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="httpload.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("-c", "--clients", type=int, default=4)
    ap.add_argument("-n", "--requests", type=int, default=0,
                    help="requests in all (default: until SIGINT or SIGTERM)")
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    args = ap.parse_args(argv)

    counts = Counts()
    done = threading.Event()
    left = [args.requests]

    def take() -> bool:
        with counts.lock:
            if done.is_set():
                return False
            if args.requests:
                if left[0] == 0:
                    return False
                left[0] -= 1
            counts.attempted += 1
            return True

    def client() -> None:
        while take():
            try:
                counts.ok(request(args.host, args.port))
            except (OSError, ValueError) as e:
                counts.fail(f"{type(e).__name__}: {e}")

    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda *_: done.set())
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)   # let the main thread run the signal handlers
    by = " ".join(f"{k}={v}" for k, v in sorted(counts.by.items()))
    print(f"httpload: {counts.attempted} attempted, {counts.served} served, "
          f"{counts.failed} failed; served by {by or 'nobody'}", flush=True)
    for r in counts.reasons:
        print(f"httpload: failed: {r}", flush=True)
    return 0 if counts.failed == 0 and counts.served > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
