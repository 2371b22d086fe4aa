#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""handover: keep a listening socket open and hand it from one real server to the next.

    handover.py --listen HOST:PORT [--tool PATH]
                [--env STYLE] [--stop SIGNAL] --server 'PROGRAM ARG...'
                [[--env STYLE] [--stop SIGNAL] --server 'PROGRAM ARG...']...

handover binds HOST:PORT and starts the first server, unchanged, through
``sockdup exec [--env STYLE] - -- PROGRAM ARG...``: it shares the listener
with that process (Python's sockdup.share) and writes the token to its
standard input; sockdup(1) redeems it and executes the server with the
socket at descriptor 3, announced the way STYLE says (systemd: LISTEN_FDS,
for systemd-socket-proxyd and other socket-activated servers; nginx:
NGINX="3;"; none: HAProxy's "bind fd@3").

On SIGHUP it starts the next server in the list (after the last, the first
again) the same way, waits until the new server accepts on the socket (each
of its processes without children, every nginx worker, has the socket in an
epoll set), then sends the old one its
graceful-stop SIGNAL (--stop, default TERM: USR1 for HAProxy, QUIT for
nginx) and waits for it to exit.  The listening socket never closes, since
handover holds it: connections that arrive meanwhile queue in its backlog
and one of the two servers accepts them.  No connection is refused.

SIGTERM or SIGINT stops the running server with its SIGNAL, then handover
exits.  Each step is one line on standard output:

    handover: listening on 127.0.0.1:8080 (socket inode 1234)
    handover: started haproxy (pid 100)
    handover: haproxy (pid 100) accepting
    handover: stopping haproxy (pid 100) with SIGUSR1
    handover: haproxy (pid 100) exited with status 0
    (or "ended by SIGTERM" for a server that the stop signal simply kills)

Needs the sockdup module (/dev/sockdup), the sockdup tool and the Python
package (python/ in the source tree, or installed).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

try:
    import sockdup
except ImportError:  # running from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "python"))
    import sockdup

# seconds for a new server to start accepting (a give-up bound; the VM lane
# scales it with SOCKDUP_TIME_FACTOR)
FACTOR = max(1.0, float(os.environ.get("SOCKDUP_TIME_FACTOR", "1") or 1))
READY_BOUND = 30.0 * FACTOR
# seconds for a server to finish its graceful stop
STOP_BOUND = 30.0 * FACTOR


def say(text: str) -> None:
    print(f"handover: {text}", flush=True)


class Server:
    def __init__(self, argv: list[str], env: str, stop: signal.Signals) -> None:
        self.argv = argv
        self.env = env
        self.stop_signal = stop
        self.name = os.path.basename(argv[0])
        self.proc: subprocess.Popen | None = None

    def start(self, listener: socket.socket, tool: str) -> None:
        self.proc = subprocess.Popen([tool, "exec", "--env", self.env, "-", "--", *self.argv],
                                     stdin=subprocess.PIPE, text=True)
        try:
            # sockdup exec keeps its pid when it executes the server: share
            # with that pid, then hand it the token
            token = sockdup.share(listener, self.proc.pid)
            self.proc.stdin.write(token + "\n")
            self.proc.stdin.close()
        except OSError:
            self.proc.kill()
            self.proc.wait()
            raise
        say(f"started {self.name} (pid {self.proc.pid})")

    def stop(self) -> int:
        assert self.proc is not None
        say(f"stopping {self.name} (pid {self.proc.pid}) with {self.stop_signal.name}")
        self.proc.send_signal(self.stop_signal)
        try:
            status = self.proc.wait(STOP_BOUND)
        except subprocess.TimeoutExpired:
            say(f"{self.name} (pid {self.proc.pid}) still running {STOP_BOUND:.0f} s after "
                f"{self.stop_signal.name}: killing it")
            self.proc.kill()
            self.proc.wait()
            return 1
        if status == -self.stop_signal:
            # a server without a graceful stop (systemd-socket-proxyd) just
            # dies of the signal: that is its normal end
            say(f"{self.name} (pid {self.proc.pid}) ended by {self.stop_signal.name}")
            return 0
        say(f"{self.name} (pid {self.proc.pid}) exited with status {status}")
        return status


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc/*/stat."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    return parents


def _waits_on(pid: int, ino: int) -> bool:
    """Whether process pid has socket ino in one of its epoll sets.

    /proc/PID/fdinfo of an epoll descriptor lists the inode of each
    registered file ("ino:" in hex).
    """
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:[eventpoll]":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = f.read()
        except OSError:
            continue
        for line in info.splitlines():
            if line.startswith("tfd:") and " ino:" in line:
                if int(line.split(" ino:")[1].split()[0], 16) == ino:
                    return True
    return False


def accepting(pid: int, ino: int) -> bool:
    """Whether pid's tree is ready: each process of it without children of
    its own waits for connections on socket ino.

    Every server here registers its listening socket in an epoll set once
    it is ready to accept: HAProxy and systemd-socket-proxyd, one process
    each, and every one of nginx's workers (its master, which has children,
    never does).  Waiting for every worker, not just the first, means a
    graceful stop never reaches a worker that is still starting.
    """
    children = _children()
    leaves, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in children:
            todo.extend(children[p])
        else:
            leaves.append(p)
    return all(_waits_on(p, ino) for p in leaves)


def wait_accepting(server: Server, ino: int) -> bool:
    assert server.proc is not None
    deadline = time.monotonic() + READY_BOUND
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            say(f"{server.name} (pid {server.proc.pid}) exited with status "
                f"{server.proc.returncode} before accepting")
            return False
        if accepting(server.proc.pid, ino):
            say(f"{server.name} (pid {server.proc.pid}) accepting")
            return True
        time.sleep(0.02)
    say(f"{server.name} (pid {server.proc.pid}) not accepting after {READY_BOUND:.0f} s")
    return False


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[Server]]:
    ap = argparse.ArgumentParser(
        prog="handover.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", required=True, metavar="HOST:PORT")
    ap.add_argument("--tool", default="sockdup", help="the sockdup tool (default: on PATH)")
    ap.add_argument("--backlog", type=int, default=511)
    ap.add_argument("--env", choices=("systemd", "nginx", "none"), action="append", default=[])
    ap.add_argument("--stop", action="append", default=[], metavar="SIGNAL")
    ap.add_argument("--server", action="append", required=True, metavar="'PROGRAM ARG...'")
    # --env and --stop apply to the --server that follows them
    servers, env, stop = [], "systemd", signal.SIGTERM
    args = ap.parse_args(argv)
    i = 0
    while i < len(argv):
        a = argv[i]
        key, _, val = a.partition("=")
        if key in ("--env", "--stop", "--server") and not val:
            i += 1
            val = argv[i]
        if key == "--env":
            env = val
        elif key == "--stop":
            name = val.upper()
            try:
                stop = signal.Signals[name if name.startswith("SIG") else "SIG" + name]
            except KeyError:
                ap.error(f"unknown signal '{val}'")
        elif key == "--server":
            servers.append(Server(shlex.split(val), env, stop))
            env, stop = "systemd", signal.SIGTERM
        i += 1
    return args, servers


def main(argv: list[str]) -> int:
    args, servers = parse(argv)
    host, _, port = args.listen.rpartition(":")
    listener = socket.create_server((host.strip("[]"), int(port)), backlog=args.backlog,
                                    family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    # Non-blocking, as every server here expects of a listener it is given
    # (nginx's own binary upgrade hands its listeners over that way): the
    # servers share this open socket, O_NONBLOCK included, and an nginx
    # worker that lost the race for a connection would otherwise sleep in
    # accept() until the next one, deaf to the graceful stop.
    listener.setblocking(False)
    ino = os.fstat(listener.fileno()).st_ino
    say(f"listening on {args.listen} (socket inode {ino})")

    hups: list[int] = []
    stop: list[int] = []
    signal.signal(signal.SIGHUP, lambda s, f: hups.append(s))
    signal.signal(signal.SIGTERM, lambda s, f: stop.append(s))
    signal.signal(signal.SIGINT, lambda s, f: stop.append(s))

    current = servers[0]
    current.start(listener, args.tool)
    if not wait_accepting(current, ino):
        return 1
    k = 0
    while not stop:
        if not hups:
            if current.proc.poll() is not None:
                say(f"{current.name} (pid {current.proc.pid}) exited on its own "
                    f"with status {current.proc.returncode}")
                return 1
            time.sleep(0.05)   # a signal handler ends it early
            continue
        hups.clear()
        k = (k + 1) % len(servers)
        nxt = Server(servers[k].argv, servers[k].env, servers[k].stop_signal)
        nxt.start(listener, args.tool)
        if not wait_accepting(nxt, ino):
            if nxt.proc.poll() is None:
                nxt.stop()
            say(f"{current.name} keeps serving")
            continue
        current.stop()
        current = nxt
    return 0 if current.stop() == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
