# SPDX-License-Identifier: MIT
"""Real servers, unchanged, taking a listening socket handed over by sockdup.

Runs in the VM lane (servers_test in /sockdup/tests/) with Debian's
systemd-socket-proxyd, HAProxy and nginx binaries.  Each test drives the
examples as a user would: handover.py holds the listener and starts the
server through ``sockdup exec``; httpload.py's concurrent clients count
every answer and every failure.  Waits follow what the programs print (a
server is ready when it accepts); the timeouts only bound a hung run.
Prints TAP (python/tests/tap.py).
"""

from __future__ import annotations

import http.server
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.environ.get("SOCKDUP_PYTHON", os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(PYDIR, "tests"))

# seconds: a give-up bound only a hung run reaches, scaled like the C
# suite's (SOCKDUP_TIME_FACTOR, set by the VM lane for a slow lane or a busy host)
BOUND = 40.0 * max(1.0, float(os.environ.get("SOCKDUP_TIME_FACTOR", "1") or 1))
ENV = dict(os.environ, PYTHONPATH=PYDIR, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
TOOL = shutil.which("sockdup") or "/sockdup/bin/sockdup"
PROXYD = next((p for p in ("/usr/lib/systemd/systemd-socket-proxyd",
                           "/lib/systemd/systemd-socket-proxyd") if os.path.exists(p)),
              "systemd-socket-proxyd")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines:
    """A child process whose standard output is read line by line."""

    def __init__(self, argv: list[str]) -> None:
        # its own process group: kill() reaches the servers it started too
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=ENV, text=True, start_new_session=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.pos = 0   # expect() looks at self.seen[self.pos:] first
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _more(self, timeout: float | None) -> bool:
        """Read one more line into self.seen; False at the end of the output."""
        try:
            line = self.lines.get(timeout=timeout) if timeout else self.lines.get_nowait()
        except queue.Empty:
            if timeout:
                raise
            return False
        if line is None:
            self.lines.put(None)
            return False
        self.seen.append(line)
        return True

    def output(self) -> str:
        """Every line so far (for messages: it does not move expect()'s place)."""
        while self._more(None):
            pass
        return "\n".join(self.seen)

    def expect(self, pattern: str) -> re.Match:
        """The first line after the last match that matches *pattern*."""
        rx = re.compile(pattern)
        while True:
            while self.pos < len(self.seen):
                line = self.seen[self.pos]
                self.pos += 1
                m = rx.search(line)
                if m:
                    return m
            try:
                if not self._more(BOUND):
                    raise AssertionError(f"output ended without {pattern!r}; output:\n" +
                                         self.output())
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {BOUND:.0f} s; "
                                     f"output so far:\n" + self.output()) from None

    def finish(self, sig: int | None = None) -> int:
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(BOUND)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.proc.args[1]} still running after {BOUND:.0f} s; "
                                 "output:\n" + self.output()) from None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


class Backend(http.server.ThreadingHTTPServer):
    """The server systemd-socket-proxyd forwards to: answers "backend"."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"backend\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), self.Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class Servers(unittest.TestCase):
    def setUp(self) -> None:
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="servers-")
        self.procs: list[Lines] = []

    def tearDown(self) -> None:
        for p in self.procs:
            p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, argv: list[str]) -> Lines:
        p = Lines(argv)
        self.procs.append(p)
        return p

    def nginx_server(self) -> list[str]:
        with open(os.path.join(HERE, "nginx.conf")) as f:
            conf = f.read().replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{self.port};")
        path = os.path.join(self.tmp, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        return ["--env", "nginx", "--stop", "QUIT", "--server",
                f"{NGINX} -e stderr -p {self.tmp}/ -c {path}"]

    def haproxy_server(self) -> list[str]:
        return ["--env", "none", "--stop", "USR1", "--server",
                f"{HAPROXY} -db -f {os.path.join(HERE, 'haproxy.cfg')}"]

    def handover(self, *servers: list[str]) -> Lines:
        argv = [sys.executable, os.path.join(HERE, "handover.py"), "--tool", TOOL,
                "--listen", f"127.0.0.1:{self.port}"]
        for s in servers:
            argv += s
        return self.start(argv)

    def load(self, *args: str) -> Lines:
        return self.start([sys.executable, os.path.join(HERE, "httpload.py"), *args,
                           "127.0.0.1", str(self.port)])

    def summary(self, load: Lines) -> dict[str, int]:
        m = load.expect(r"^httpload: (\d+) attempted, (\d+) served, (\d+) failed; "
                        r"served by (.*)$")
        self.assertEqual(load.finish(), 0, load.output())
        attempted, served, failed = map(int, m.groups()[:3])
        self.assertEqual((failed, served), (0, attempted), load.output())
        by = dict(kv.split("=") for kv in m.group(4).split())
        return {k: int(v) for k, v in by.items()}

    def serve_once(self, server: list[str], name: str) -> None:
        h = self.handover(server)
        h.expect(r"^handover: listening on ")
        pid = int(h.expect(r"^handover: started \S+ \(pid (\d+)\)").group(1))
        h.expect(rf"^handover: \S+ \(pid {pid}\) accepting")
        load = self.load("-c", "8", "-n", "80")
        self.assertEqual(self.summary(load), {name: 80})
        self.assertEqual(h.finish(signal.SIGTERM), 0, h.output())
        h.expect(rf"^handover: \S+ \(pid {pid}\) (exited with status 0|ended by SIG)")

    def test_systemd_socket_proxyd_listen_fds(self) -> None:
        backend = Backend()
        try:
            self.serve_once(["--server", f"{PROXYD} 127.0.0.1:{backend.server_address[1]}"],
                            "backend")
        finally:
            backend.close()

    def test_haproxy_bind_fd3(self) -> None:
        self.serve_once(self.haproxy_server(), "haproxy")

    def test_nginx_inherited_socket(self) -> None:
        self.serve_once(self.nginx_server(), "nginx")

    def test_graceful_restart_haproxy_to_nginx_and_back_under_load(self) -> None:
        h = self.handover(self.haproxy_server(), self.nginx_server())
        pid = int(h.expect(r"^handover: started haproxy \(pid (\d+)\)").group(1))
        h.expect(rf"^handover: haproxy \(pid {pid}\) accepting")
        load = self.load("-c", "4")
        load.expect(r"^httpload: first answer from haproxy$")
        # HAProxy to nginx, with the clients running
        h.proc.send_signal(signal.SIGHUP)
        npid = int(h.expect(r"^handover: started nginx \(pid (\d+)\)").group(1))
        h.expect(rf"^handover: nginx \(pid {npid}\) accepting")
        h.expect(rf"^handover: haproxy \(pid {pid}\) exited with status 0")
        load.expect(r"^httpload: first answer from nginx$")
        # and back: nginx to a new HAProxy
        h.proc.send_signal(signal.SIGHUP)
        pid2 = int(h.expect(r"^handover: started haproxy \(pid (\d+)\)").group(1))
        h.expect(rf"^handover: haproxy \(pid {pid2}\) accepting")
        h.expect(rf"^handover: nginx \(pid {npid}\) exited with status 0")
        load.proc.send_signal(signal.SIGINT)
        by = self.summary(load)
        self.assertEqual(sorted(by), ["haproxy", "nginx"], by)
        print(f"# restart under load: {sum(by.values())} requests, none failed: {by}")
        self.assertEqual(h.finish(signal.SIGTERM), 0, h.output())


if __name__ == "__main__":
    import tap
    if not os.path.exists("/dev/sockdup"):
        print("1..0 # SKIP no /dev/sockdup (this runs in the VM lane)")
        sys.exit(0)
    sys.exit(tap.main(sys.modules[__name__]))
