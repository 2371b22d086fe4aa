# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The Python package against the real module, in the VM lane.

Runs as root with sockdup.ko loaded and Debian's python3 (python_test in
the VM's /sockdup/tests/).  Every function, every errno a Python program
can meet (EACCES from an LSM is selftests/lsm_test.c's; its message is
checked on the host), tokens with libsockdup's sockdup(1) both ways, fork
and exec, and a handed-over listener served by socketserver.  Waits follow
events (a read, an accept, a process exit); the timeouts are only bounds
for a hung run.  Prints TAP (tap.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
sys.path.insert(0, PKG)
sys.path.insert(0, HERE)

import sockdup  # noqa: E402

PARAMS = "/sys/module/sockdup/parameters"
# seconds: a give-up bound only a hung run reaches, scaled like the C
# suite's (SOCKDUP_TIME_FACTOR, set by the VM lane for a slow lane or a busy host)
BOUND = 40.0 * max(1.0, float(os.environ.get("SOCKDUP_TIME_FACTOR", "1") or 1))
TOOL = shutil.which("sockdup") or "/sockdup/bin/sockdup"
ECHO = shutil.which("listenfds-echo") or "/sockdup/bin/listenfds-echo"
CHILD_ENV = dict(os.environ, PYTHONPATH=PKG, PYTHONDONTWRITEBYTECODE="1")
# seconds: the TTL of a share another process redeems or looks at; the
# module's default (60 s) is shorter than a python3 start on a busy debug
# lane, and a share that expires turns EPERM into ENOENT
CHILD_TTL = min(2 * BOUND, 3600.0)


def tcp_pair() -> tuple[socket.socket, socket.socket, socket.socket]:
    """A listener on 127.0.0.1 and a connected pair through it."""
    lst = socket.create_server(("127.0.0.1", 0))
    c = socket.create_connection(lst.getsockname(), timeout=BOUND)
    s, _ = lst.accept()
    s.settimeout(BOUND)
    return lst, c, s


def recv_line(s: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def spawn_python(code: str, **kw) -> subprocess.Popen:
    """A python3 child (fork + exec) running *code*, stdin and stdout piped."""
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=CHILD_ENV, text=True, **kw)


def finish(p: subprocess.Popen, stdin: str | None = None) -> str:
    out, _ = p.communicate(stdin, timeout=BOUND)
    return out


@contextlib.contextmanager
def param(name: str, value: int):
    """Set a module parameter for the duration of a block."""
    path = os.path.join(PARAMS, name)
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write(str(value))
    try:
        yield
    finally:
        with open(path, "w") as f:
            f.write(old)


def gone_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def wait_revoked(token: str) -> None:
    """Until query says the share is gone (it expires on its own)."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        try:
            sockdup.query(token)
        except FileNotFoundError:
            return
        time.sleep(0.02)
    raise AssertionError(f"share {token} still pending after {BOUND} s")


class Base(unittest.TestCase):
    def assertErrno(self, code: int, exc_type: type, fn, *args, **kw) -> OSError:
        with self.assertRaises(exc_type) as cm:
            fn(*args, **kw)
        e = cm.exception
        self.assertEqual(e.errno, code, str(e))
        # "share", or "Events.share" for a method of an Events
        self.assertIn(f"sockdup {fn.__qualname__}: ", str(e))
        return e

    def pending(self, token: str) -> bool:
        try:
            sockdup.query(token)
            return True
        except FileNotFoundError:
            return False


class ShareFromshare(Base):
    def test_tcp_roundtrip_same_socket(self) -> None:
        lst, c, s = tcp_pair()
        with lst, c, s:
            token = sockdup.share(s, os.getpid())
            self.assertRegex(token, r"^sd1_[A-Za-z0-9_-]{22}$")
            t = sockdup.fromshare(token)
            with t:
                self.assertEqual((t.family, t.type, t.proto),
                                 (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP))
                self.assertEqual(os.fstat(t.fileno()).st_ino, os.fstat(s.fileno()).st_ino)
                self.assertNotEqual(t.fileno(), s.fileno())
                c.sendall(b"ping\n")
                self.assertEqual(recv_line(t), b"ping\n")
                # one socket: an option set through one is seen through the other
                s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                self.assertEqual(t.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), 1)
                t.sendall(b"pong\n")
                self.assertEqual(recv_line(c), b"pong\n")

    def test_family_type_proto_from_descriptor(self) -> None:
        cases = [(socket.AF_UNIX, socket.SOCK_DGRAM, 0),
                 (socket.AF_UNIX, socket.SOCK_SEQPACKET, 0),
                 (socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_UDP),
                 (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)]
        for fam, typ, proto in cases:
            with self.subTest(family=fam, type=typ):
                with socket.socket(fam, typ, proto) as s:
                    with sockdup.fromshare(sockdup.share(s.fileno(), os.getpid())) as t:
                        self.assertEqual((t.family, t.type, t.proto), (fam, typ, proto))
                        self.assertIsInstance(t.family, socket.AddressFamily)

    def test_survives_sharer_close(self) -> None:
        a, b = socket.socketpair()
        with b:
            token = sockdup.share(a, os.getpid())
            a.close()
            with sockdup.fromshare(token) as t:
                b.sendall(b"x")
                self.assertEqual(t.recv(1), b"x")

    def test_sharer_exits_before_redeem(self) -> None:
        # DuplicateAndClose: the sharer hands a socket over and exits at once
        p = spawn_python(
            "import os, socket, sockdup\n"
            "a, b = socket.socketpair()\n"
            "print(sockdup.share(a, os.getppid()), flush=True)\n"
            "b.sendall(b'bye')\n")
        token = finish(p).strip()
        self.assertEqual(p.returncode, 0)
        self.assertIsNone(sockdup.query(token).sharer_pid)
        with sockdup.fromshare(token) as t:
            t.settimeout(BOUND)
            self.assertEqual(t.recv(3), b"bye")
            self.assertEqual(t.recv(1), b"")   # its peer closed with the sharer

    def test_cloexec_unless_inheritable(self) -> None:
        a, b = socket.socketpair()
        with a, b:
            with sockdup.fromshare(sockdup.share(a, os.getpid())) as t:
                self.assertFalse(os.get_inheritable(t.fileno()))
            with sockdup.fromshare(sockdup.share(a, os.getpid()), inheritable=True) as t:
                self.assertTrue(os.get_inheritable(t.fileno()))

    def test_single_use(self) -> None:
        a, b = socket.socketpair()
        with a, b:
            token = sockdup.share(a, os.getpid())
            sockdup.fromshare(token).close()
            e = self.assertErrno(errno.ENOENT, FileNotFoundError, sockdup.fromshare, token)
            self.assertIn("no such share", str(e))

    def test_bytes_token(self) -> None:
        a, b = socket.socketpair()
        with a, b:
            token = sockdup.share(a, os.getpid())
            with sockdup.fromshare(token.encode()) as t:
                self.assertEqual(t.family, socket.AF_UNIX)

    def test_ttl_expires(self) -> None:
        a, b = socket.socketpair()
        with a, b:
            token = sockdup.share(a, os.getpid(), ttl=0.2)
            self.assertLessEqual(sockdup.query(token).ttl_left_ms, 200)
            wait_revoked(token)
            self.assertErrno(errno.ENOENT, FileNotFoundError, sockdup.fromshare, token)

    def test_malformed_token(self) -> None:
        for fn in (sockdup.fromshare, sockdup.query, sockdup.revoke):
            with self.subTest(fn=fn.__name__):
                with self.assertRaisesRegex(ValueError, "malformed sockdup token"):
                    fn("sd1_tooshort")


class QueryRevokeListStats(Base):
    def test_query(self) -> None:
        lst, c, s = tcp_pair()
        with lst, c, s:
            child = spawn_python("import sys; sys.stdin.read()")
            try:
                token = sockdup.share(s, child.pid, ttl=30)
                info = sockdup.query(token)
                self.assertEqual(info.sock_ino, os.fstat(s.fileno()).st_ino)
                self.assertEqual((info.family, info.type, info.protocol),
                                 (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP))
                self.assertEqual(info.sharer_pid, os.getpid())
                self.assertEqual(info.target_pid, child.pid)
                self.assertEqual(info.sharer_uid, os.geteuid())
                self.assertEqual(info.nr_fds, 1)
                self.assertGreater(info.id, 0)
                self.assertLessEqual(info.ttl_left_ms, 30000)
                self.assertGreater(info.ttl_left_ms, 0)
                self.assertGreaterEqual(info.age_ms, 0)
                self.assertEqual(info.local_address, s.getsockname())
                self.assertEqual(info.peer_address, s.getpeername())
                by_id = sockdup.query_id(info.id)   # the same, but for the clock
                self.assertEqual(dataclasses.replace(by_id, age_ms=info.age_ms,
                                                     ttl_left_ms=info.ttl_left_ms), info)
                # query does not consume
                self.assertEqual(sockdup.query(token).id, info.id)
                sockdup.revoke(token)
            finally:
                finish(child, "")

    def test_addresses(self) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as u:
            path = os.path.join(tempfile.mkdtemp(), "sock")
            u.bind(path)
            info = sockdup.query(token := sockdup.share(u, os.getpid()))
            self.assertEqual((info.local_address, info.peer_address), (path, None))
            sockdup.revoke(token)
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as d:
            d.bind(("::1", 0))
            d.connect(("::1", d.getsockname()[1]))
            info = sockdup.query(token := sockdup.share(d, os.getpid()))
            self.assertEqual(info.local_address, d.getsockname())
            self.assertEqual(info.peer_address, d.getpeername())
            sockdup.revoke(token)
        with socket.socket() as fresh:
            info = sockdup.query(token := sockdup.share(fresh, os.getpid()))
            self.assertEqual(info.peer_address, None)
            sockdup.revoke(token)

    def test_query_and_revoke_by_id(self) -> None:
        # by id: also for a process that is neither sharer nor target, of the
        # same user (root here), and after the sharer has exited
        p = spawn_python(
            "import os, socket, sockdup\n"
            "a, b = socket.socketpair()\n"
            "print(sockdup.query(sockdup.share(a, os.getppid())).id, flush=True)\n")
        share_id = int(finish(p))
        info = sockdup.query_id(share_id)
        self.assertEqual((info.id, info.family, info.sharer_pid), (share_id, socket.AF_UNIX, None))
        self.assertIn(share_id, {i.id for i in sockdup.list_shares()})
        self.assertIsNone(sockdup.revoke_id(share_id))
        e = self.assertErrno(errno.ENOENT, FileNotFoundError, sockdup.query_id, share_id)
        self.assertIn(f"no pending share {share_id}", str(e))
        self.assertErrno(errno.ENOENT, FileNotFoundError, sockdup.revoke_id, share_id)

    def test_revoke_by_sharer(self) -> None:
        a, b = socket.socketpair()
        with a, b:
            token = sockdup.share(a, os.getpid())
            self.assertIsNone(sockdup.revoke(token))
            self.assertErrno(errno.ENOENT, FileNotFoundError, sockdup.fromshare, token)
            self.assertErrno(errno.ENOENT, FileNotFoundError, sockdup.revoke, token)
            self.assertErrno(errno.ENOENT, FileNotFoundError, sockdup.query, token)

    def test_decline_by_target(self) -> None:
        a, b = socket.socketpair()
        with a, b:
            child = spawn_python(
                "import sockdup, sys\n"
                "sockdup.revoke(sys.stdin.readline().strip())\n"
                "print('declined')\n")
            token = sockdup.share(a, child.pid, ttl=CHILD_TTL)
            self.assertEqual(finish(child, token + "\n").strip(), "declined")
            self.assertEqual(child.returncode, 0)
            self.assertFalse(self.pending(token))

    def test_list_and_stats(self) -> None:
        before = sockdup.stats()
        a, b = socket.socketpair()
        with a, b:
            tokens = [sockdup.share(a, os.getpid()) for _ in range(3)]
            ids = {sockdup.query(t).id for t in tokens}
            listed = {i.id: i for i in sockdup.list_shares()}
            self.assertTrue(ids <= set(listed), (ids, set(listed)))
            for i in ids:
                self.assertEqual(listed[i].sock_ino, os.fstat(a.fileno()).st_ino)
                self.assertEqual(listed[i].sharer_pid, os.getpid())
            mid = sockdup.stats()
            self.assertEqual(mid.shared - before.shared, 3)
            self.assertEqual(mid.pending - before.pending, 3)
            self.assertEqual(mid.user_pending - before.user_pending, 3)
            sockdup.fromshare(tokens[0]).close()
            sockdup.revoke(tokens[1])
            sockdup.revoke(tokens[2])
            after = sockdup.stats()
            self.assertEqual(after.redeemed - before.redeemed, 1)
            self.assertEqual(after.revoked - before.revoked, 2)
            self.assertEqual(after.pending, before.pending)
            self.assertFalse(ids & {i.id for i in sockdup.list_shares()})
            with open(os.path.join(PARAMS, "max_per_user")) as f:
                self.assertEqual(after.max_per_user, int(f.read()))
            with open(os.path.join(PARAMS, "max_total")) as f:
                self.assertEqual(after.max_total, int(f.read()))
            self.assertEqual(after.shared, after.redeemed + after.expired +
                             after.revoked + after.reaped + after.pending)

    def test_list_grows_past_first_guess(self) -> None:
        # more shares than list_shares' first capacity guess of 0
        a, b = socket.socketpair()
        with a, b:
            tokens = [sockdup.share(a, os.getpid()) for _ in range(40)]
            try:
                listed = {i.id for i in sockdup.list_shares()}
                self.assertTrue({sockdup.query(t).id for t in tokens} <= listed)
            finally:
                for t in tokens:
                    sockdup.revoke(t)


class Errors(Base):
    def test_ebadf(self) -> None:
        sockdup.stats()   # /dev/sockdup open: it cannot take the number below
        fd = os.open("/dev/null", os.O_RDONLY)
        os.close(fd)
        e = self.assertErrno(errno.EBADF, OSError, sockdup.share, fd, os.getpid())
        self.assertIn(f"descriptor {fd} is not open", str(e))

    def test_enotsock(self) -> None:
        r, w = os.pipe()
        try:
            e = self.assertErrno(errno.ENOTSOCK, OSError, sockdup.share, r, os.getpid())
            self.assertIn("is not a socket", str(e))
        finally:
            os.close(r)
            os.close(w)

    def test_esrch_exited_process(self) -> None:
        with socket.socket() as s:
            pid = gone_pid()
            e = self.assertErrno(errno.ESRCH, ProcessLookupError, sockdup.share, s, pid)
            self.assertIn(f"no process with pid {pid}", str(e))

    def test_eperm_kernel_thread_target(self) -> None:
        with open("/proc/2/comm") as f:
            self.assertEqual(f.read().strip(), "kthreadd")
        with socket.socket() as s:
            e = self.assertErrno(errno.EPERM, PermissionError, sockdup.share, s, 2)
            self.assertIn("kernel thread", str(e))

    def test_esrch_thread_id(self) -> None:
        tid: list[int] = []
        ready, go = threading.Event(), threading.Event()

        def thread() -> None:
            tid.append(threading.get_native_id())
            ready.set()
            go.wait(BOUND)

        th = threading.Thread(target=thread)
        th.start()
        try:
            self.assertTrue(ready.wait(BOUND))
            with socket.socket() as s:
                self.assertErrno(errno.ESRCH, ProcessLookupError, sockdup.share, s, tid[0])
        finally:
            go.set()
            th.join()

    def test_einval_ttl_above_max(self) -> None:
        with open(os.path.join(PARAMS, "max_ttl_ms")) as f:
            max_ms = int(f.read())
        with socket.socket() as s:
            e = self.assertErrno(errno.EINVAL, OSError, sockdup.share, s, os.getpid(),
                                 ttl=(max_ms + 1) / 1000)
            self.assertIn("max_ttl_ms", str(e))
            # the maximum itself is fine
            sockdup.revoke(sockdup.share(s, os.getpid(), ttl=max_ms / 1000))

    def _fill(self, s: socket.socket, code: int) -> list[str]:
        tokens = []
        try:
            for _ in range(100):
                tokens.append(sockdup.share(s, os.getpid()))
            self.fail("no cap reached after 100 shares")
        except OSError as e:
            self.assertEqual(e.errno, code, str(e))
            return tokens + [str(e)]

    def _check_cap(self, name: str, counted: str, room: int, code: int,
                   refused: str) -> None:
        """Set parameter `name` to leave `room` more shares above what
        `counted` (a Stats field) is now: the share after those fails with
        `code`, its message names the parameter, and Stats field `refused`
        counts one refusal."""
        with socket.socket() as s:
            before = sockdup.stats()
            with param(name, getattr(before, counted) + room):
                got = self._fill(s, code)
                self.assertIn(name, got[-1])
                tokens = got[:-1]
                self.assertEqual(len(tokens), room)
                for t in tokens:
                    sockdup.revoke(t)
            self.assertEqual(getattr(sockdup.stats(), refused) - getattr(before, refused), 1)

    def test_edquot(self) -> None:
        self._check_cap("max_per_user", "user_pending", 2, errno.EDQUOT, "refused_user")

    def test_enospc(self) -> None:
        self._check_cap("max_total", "pending", 3, errno.ENOSPC, "refused_global")

    def test_enoent_unknown(self) -> None:
        token = sockdup.encode_token(os.urandom(16))
        for fn in (sockdup.fromshare, sockdup.query, sockdup.revoke):
            with self.subTest(fn=fn.__name__):
                self.assertErrno(errno.ENOENT, FileNotFoundError, fn, token)

    def test_eperm_not_the_target(self) -> None:
        a, b = socket.socketpair()
        with a, b:
            child = spawn_python(
                "import sockdup, sys\n"
                "t = sockdup.fromshare(sys.stdin.readline().strip())\n"
                "t.sendall(b'child')\n")
            token = sockdup.share(a, child.pid, ttl=CHILD_TTL)
            e = self.assertErrno(errno.EPERM, PermissionError, sockdup.fromshare, token)
            self.assertIn("not the share's target", str(e))
            # still valid for the target
            finish(child, token + "\n")
            self.assertEqual(child.returncode, 0)
            b.settimeout(BOUND)
            self.assertEqual(b.recv(5), b"child")

    def test_eperm_query_revoke_by_a_third_process(self) -> None:
        a, b = socket.socketpair()
        with a, b:
            token = sockdup.share(a, os.getpid(), ttl=CHILD_TTL)
            third = spawn_python(
                "import sockdup, sys\n"
                "tok = sys.stdin.readline().strip()\n"
                "for fn in (sockdup.query, sockdup.revoke, sockdup.fromshare):\n"
                "    try:\n"
                "        fn(tok)\n"
                "        print(fn.__name__, 'succeeded')\n"
                "    except PermissionError as e:\n"
                "        print(fn.__name__, e.errno, e.strerror)\n")
            out = finish(third, token + "\n").splitlines()
            self.assertEqual(third.returncode, 0)
            self.assertEqual([line.split()[:2] for line in out],
                             [["query", str(errno.EPERM)], ["revoke", str(errno.EPERM)],
                              ["fromshare", str(errno.EPERM)]])
            self.assertIn("neither the share's sharer nor its target", out[0])
            self.assertTrue(self.pending(token))
            sockdup.fromshare(token).close()

    def test_emfile_leaves_share_valid(self) -> None:
        a, b = socket.socketpair()
        with a, b:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the target: a full descriptor table, then room
                code = 1
                try:
                    os.close(w)
                    token = os.read(r, 64).decode()
                    sockdup.stats()   # /dev/sockdup open before the table fills
                    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                    fill = []
                    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
                    with contextlib.suppress(OSError):
                        while True:
                            fill.append(os.dup(0))
                    try:
                        sockdup.fromshare(token)
                        code = 2
                    except OSError as e:
                        if e.errno == errno.EMFILE and "stays valid" in str(e):
                            code = 3
                    os.close(fill.pop())
                    if code == 3:
                        sockdup.fromshare(token).sendall(b"ok")
                        code = 0
                finally:
                    os._exit(code)
            os.close(r)
            token = sockdup.share(a, pid, ttl=CHILD_TTL)
            os.write(w, token.encode())
            os.close(w)
            _, status = os.waitpid(pid, 0)
            self.assertEqual(os.waitstatus_to_exitcode(status), 0,
                             "1: error, 2: redeemed with a full table, 3: not redeemed after")
            b.settimeout(BOUND)
            self.assertEqual(b.recv(2), b"ok")


class Batch(Base):
    def test_many_in_order_and_count(self) -> None:
        pairs = [socket.socketpair() for _ in range(260)]
        try:
            token = sockdup.share_many([a for a, _ in pairs], os.getpid())
            self.assertEqual(sockdup.query(token).nr_fds, 260)
            socks = sockdup.fromshare_many(token)
            try:
                self.assertEqual(len(socks), 260)
                for i, (t, (a, b)) in enumerate(zip(socks, pairs)):
                    self.assertEqual(os.fstat(t.fileno()).st_ino,
                                     os.fstat(a.fileno()).st_ino)
                    self.assertFalse(os.get_inheritable(t.fileno()))
                    t.sendall(bytes([i % 256]))
                    self.assertEqual(b.recv(1), bytes([i % 256]))
            finally:
                for t in socks:
                    t.close()
            self.assertErrno(errno.ENOENT, FileNotFoundError,
                             sockdup.fromshare_many, token)
        finally:
            for a, b in pairs:
                a.close()
                b.close()

    def test_single_token_and_batch_refusals(self) -> None:
        a, b = socket.socketpair()
        with a, b:
            socks = sockdup.fromshare_many(sockdup.share(a, os.getpid()))
            self.assertEqual(len(socks), 1)
            socks[0].close()
            token = sockdup.share_many([a, a], os.getpid())
            e = self.assertErrno(errno.EMSGSIZE, OSError, sockdup.fromshare, token)
            self.assertIn("sockdup fromshare", str(e))
            for t in sockdup.fromshare_many(token, inheritable=True):
                self.assertTrue(os.get_inheritable(t.fileno()))
                t.close()
            with self.assertRaises(ValueError):
                sockdup.share_many([], os.getpid())
            r, w = os.pipe()
            try:
                e = self.assertErrno(errno.ENOTSOCK, OSError, sockdup.share_many,
                                     [a, r], os.getpid())
                self.assertIn("one of the 2 descriptors is not a socket", str(e))
            finally:
                os.close(r)
                os.close(w)


class ForkExec(Base):
    def test_fork_child_redeems(self) -> None:
        lst, c, s = tcp_pair()
        with lst, c, s:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    os.close(w)
                    token = os.read(r, 64).decode()
                    # the child opens /dev/sockdup for itself (at-fork hook)
                    with sockdup.fromshare(token) as t:
                        t.sendall(b"from child %d\n" % os.getpid())
                    code = 0
                finally:
                    os._exit(code)
            os.close(r)
            # the parent holds the device open already: the child must not reuse it
            sockdup.stats()
            os.write(w, sockdup.share(s, pid, ttl=CHILD_TTL).encode())
            os.close(w)
            _, status = os.waitpid(pid, 0)
            self.assertEqual(os.waitstatus_to_exitcode(status), 0)
            self.assertEqual(recv_line(c), b"from child %d\n" % pid)

    def test_target_after_exec(self) -> None:
        # the share names the forked child; it redeems after exec (python3 -c)
        lst, c, s = tcp_pair()
        with lst, c, s:
            child = spawn_python(
                "import sockdup, sys, os\n"
                "t = sockdup.fromshare(sys.stdin.readline().strip())\n"
                "t.sendall(b'exec %d\\n' % os.getpid())\n")
            finish(child, sockdup.share(s, child.pid, ttl=CHILD_TTL) + "\n")
            self.assertEqual(child.returncode, 0)
            self.assertEqual(recv_line(c), b"exec %d\n" % child.pid)

    def test_inheritable_socket_survives_exec(self) -> None:
        a, b = socket.socketpair()
        with a, b:
            t = sockdup.fromshare(sockdup.share(a, os.getpid()), inheritable=True)
            with t:
                p = subprocess.run(
                    [sys.executable, "-c",
                     "import os, socket, sys\n"
                     "s = socket.socket(fileno=int(sys.argv[1]))\n"
                     "s.sendall(b'inherited')\n", str(t.fileno())],
                    pass_fds=(t.fileno(),), env=CHILD_ENV, timeout=BOUND)
            self.assertEqual(p.returncode, 0)
            b.settimeout(BOUND)
            self.assertEqual(b.recv(9), b"inherited")


class Interop(Base):
    """Tokens between this package and libsockdup's sockdup(1), both ways."""

    def test_python_token_redeemed_by_c_tool(self) -> None:
        # sockdup exec - reads the token from stdin, redeems it (libsockdup)
        # and executes listenfds-echo with the listener as fd 3 (LISTEN_FDS)
        lst = socket.create_server(("127.0.0.1", 0))
        port = lst.getsockname()[1]
        p = subprocess.Popen([TOOL, "exec", "--name", "py", "-", "--", ECHO, "-n", "2"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        token = sockdup.share(lst, p.pid, ttl=CHILD_TTL)
        lst.close()
        p.stdin.write(token + "\n")
        p.stdin.close()
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as c:
                self.assertEqual(recv_line(c), b"HELLO listenfds-echo[pid %d]\n" % p.pid)
                c.sendall(b"echo\n")
                self.assertEqual(recv_line(c), b"echo\n")
        out = p.stdout.read()
        self.assertEqual(p.wait(BOUND), 0)
        self.assertIn(f"pid={p.pid} fds=1 names=py fd3=listen:cloexec=0", out)

    def test_c_token_redeemed_by_python(self) -> None:
        # sockdup share FD PID (libsockdup) prints a token for us
        lst, c, s = tcp_pair()
        with lst, c, s:
            out = subprocess.run([TOOL, "share", "--ttl", "30000", str(s.fileno()),
                                  str(os.getpid())], pass_fds=(s.fileno(),),
                                 capture_output=True, text=True, timeout=BOUND)
            self.assertEqual(out.returncode, 0, out.stderr)
            token = out.stdout.strip()
            info = sockdup.query(token)
            self.assertEqual(info.target_pid, os.getpid())
            self.assertLessEqual(info.ttl_left_ms, 30000)
            with sockdup.fromshare(token) as t:
                self.assertEqual(os.fstat(t.fileno()).st_ino, os.fstat(s.fileno()).st_ino)
                c.sendall(b"c to py\n")
                self.assertEqual(recv_line(t), b"c to py\n")

    def test_c_tool_query_and_revoke_python_token(self) -> None:
        a, b = socket.socketpair()
        with a, b:
            # the share names the shell; the tool it runs for query is a
            # child, neither sharer nor target: sockdup(1) says EPERM (exit 6)
            p = subprocess.Popen(["sh", "-c", f'read tok; {TOOL} query "$tok"; '
                                  'echo "query exit $?"; read _'],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            try:
                token = sockdup.share(a, p.pid, ttl=CHILD_TTL)
                p.stdin.write(token + "\n")
                p.stdin.flush()
                out = []
                while not out or not out[-1].startswith("query exit "):
                    line = p.stdout.readline()
                    self.assertTrue(line, f"the shell ended early: {out}")
                    out.append(line.strip())
                self.assertEqual(out[-1], "query exit 6", out)
                self.assertIn("permission denied", " ".join(out))
                # the target is still alive: the share is still pending
                self.assertTrue(self.pending(token))
                sockdup.revoke(token)
            finally:
                finish(p, "\n")
            # the tool as the target (the shell execs it) declines the share
            p = subprocess.Popen(["sh", "-c", f'read tok; exec {TOOL} revoke "$tok"'],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            token2 = sockdup.share(a, p.pid, ttl=CHILD_TTL)
            out2 = finish(p, token2 + "\n")
            self.assertEqual(p.returncode, 0, out2)
            self.assertFalse(self.pending(token2))

    def test_same_spelling_as_tool(self) -> None:
        # a token the tool printed decodes to the cookie Python re-encodes
        a, b = socket.socketpair()
        with a, b:
            out = subprocess.run([TOOL, "share", str(a.fileno()), str(os.getpid())],
                                 pass_fds=(a.fileno(),), capture_output=True,
                                 text=True, timeout=BOUND)
            token = out.stdout.strip()
            self.assertEqual(sockdup.encode_token(sockdup.decode_token(token)), token)
            sockdup.revoke(token)


SERVER = """
import socketserver, sys, sockdup

class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        self.wfile.write(b"served " + line)

class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    # server_close() waits for the handler threads: the last answers go out
    daemon_threads = False
    block_on_close = True

n = int(sys.argv[1])
srv = Server(None, Echo, bind_and_activate=False)
srv.socket = sockdup.fromshare(sys.stdin.readline().strip())
srv.server_address = srv.socket.getsockname()
print("serving", srv.server_address[1], flush=True)
for _ in range(n):
    srv.handle_request()
srv.server_close()
"""


class SocketServer(Base):
    def test_handed_over_listener_served_by_socketserver(self) -> None:
        clients, rounds = 8, 5
        lst = socket.create_server(("127.0.0.1", 0), backlog=64)
        port = lst.getsockname()[1]
        p = subprocess.Popen([sys.executable, "-c", SERVER, str(clients * rounds)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env=CHILD_ENV, text=True)
        p.stdin.write(sockdup.share(lst, p.pid, ttl=CHILD_TTL) + "\n")
        p.stdin.close()
        lst.close()   # from now on only the server holds the listener
        self.assertEqual(p.stdout.readline().split(), ["serving", str(port)])
        failures: list[str] = []

        def client(k: int) -> None:
            for r in range(rounds):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as c:
                        c.sendall(b"%d.%d\n" % (k, r))
                        got = recv_line(c)
                        if got != b"served %d.%d\n" % (k, r):
                            failures.append(f"client {k} round {r}: {got!r}")
                except OSError as e:
                    failures.append(f"client {k} round {r}: {e}")

        threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])
        self.assertEqual(p.wait(BOUND), 0)


class EventsTests(Base):
    """sockdup.Events: libsockdup's events API (sockdup_events_open() and
    friends) in Python."""

    def test_own_descriptor_is_write_only(self) -> None:
        # the package's own /dev/sockdup descriptor has no event queue
        a, b = socket.socketpair()
        with a, b:
            token = sockdup.share(a, os.getpid())
            fd = sockdup._dev_fd  # the package's own, opened by share()
            self.assertGreaterEqual(fd, 0)
            self.assertEqual(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE,
                             os.O_WRONLY)
            sockdup.fromshare(token).close()

    def test_redeemed_names_the_share_and_the_redeemer(self) -> None:
        a, b = socket.socketpair()
        with a, b, sockdup.Events() as ev:
            token, share_id = ev.share(a, os.getpid())
            self.assertEqual(sockdup.query(token).id, share_id)
            before = time.monotonic_ns()
            sockdup.fromshare(token).close()
            e = ev.wait(BOUND)
            self.assertIsNotNone(e)
            self.assertEqual((e.type, e.id, e.pid, e.declined, e.lost),
                             (sockdup.EventType.REDEEMED, share_id, os.getpid(), False, 0))
            self.assertGreaterEqual(e.time_ns, before)
            self.assertLessEqual(e.time_ns, time.monotonic_ns())

    def test_revoked_and_declined_in_order(self) -> None:
        a, b = socket.socketpair()
        p = spawn_python("import sys; sys.stdin.read()")
        try:
            with a, b, sockdup.Events() as ev:
                first = ev.share(a, p.pid)      # withdrawn by us, the sharer
                second = ev.share(a, os.getpid())   # declined by us, the target
                sockdup.revoke(first.token)
                sockdup.revoke(second.token)
                got = ev.read(8)
                self.assertEqual([(e.type, e.id, e.declined) for e in got],
                                 [(sockdup.EventType.REVOKED, first.id, False),
                                  (sockdup.EventType.REVOKED, second.id, True)])
        finally:
            finish(p, "")

    def test_expired(self) -> None:
        a, b = socket.socketpair()
        with a, b, sockdup.Events() as ev:
            share = ev.share(a, os.getpid(), ttl=0.05)
            e = ev.wait(BOUND)
            self.assertIsNotNone(e, f"no event within {BOUND} s")
            self.assertEqual((e.type, e.id, e.pid), (sockdup.EventType.EXPIRED, share.id, None))

    def test_nonblocking_read_and_wait_timeout(self) -> None:
        with sockdup.Events(nonblock=True) as ev:
            with self.assertRaises(BlockingIOError) as cm:
                ev.read()
            self.assertIn("sockdup Events.read: no event queued", str(cm.exception))
            self.assertIsNone(ev.wait(0))
            self.assertIsNone(ev.wait(0.05))
        with sockdup.Events() as ev:
            self.assertIsNone(ev.wait(0))
            self.assertTrue(os.get_blocking(ev.fileno()))
            self.assertFalse(os.get_inheritable(ev.fileno()))

    def test_only_its_own_shares_and_closing_cancels_nothing(self) -> None:
        a, b = socket.socketpair()
        with a, b, sockdup.Events(nonblock=True) as mine, sockdup.Events(nonblock=True) as other:
            token = sockdup.share(a, os.getpid())        # the module-level call
            kept = mine.share(a, os.getpid())
            sockdup.revoke(token)
            self.assertIsNone(mine.wait(0))
            self.assertIsNone(other.wait(0))
            mine.close()
            mine.close()                                # twice is fine
            with self.assertRaises(ValueError):
                mine.fileno()
            # the share made through the closed descriptor is still there
            with sockdup.fromshare(kept.token) as t:
                self.assertEqual(os.fstat(t.fileno()).st_ino, os.fstat(a.fileno()).st_ino)
            self.assertIsNone(other.wait(0))

    def test_selectable(self) -> None:
        import selectors
        a, b = socket.socketpair()
        with a, b, sockdup.Events() as ev, selectors.DefaultSelector() as sel:
            sel.register(ev, selectors.EVENT_READ)
            self.assertEqual(sel.select(0), [])
            share = ev.share(a, os.getpid())
            sockdup.revoke(share.token)
            self.assertEqual(len(sel.select(BOUND)), 1)
            self.assertEqual([e.id for e in ev.read()], [share.id])

    def test_batch_ends_with_one_event(self) -> None:
        pairs = [socket.socketpair() for _ in range(3)]
        try:
            with sockdup.Events(nonblock=True) as ev:
                batch = ev.share_many([a for a, _ in pairs], os.getpid())
                self.assertEqual(sockdup.query(batch.token).id, batch.id)
                self.assertEqual(sockdup.query(batch.token).nr_fds, 3)
                socks = sockdup.fromshare_many(batch.token)
                for t in socks:
                    t.close()
                e = ev.wait(BOUND)
                self.assertIsNotNone(e, f"no event within {BOUND} s")
                self.assertEqual((e.type, e.id, e.pid),
                                 (sockdup.EventType.REDEEMED, batch.id, os.getpid()))
                self.assertIsNone(ev.wait(0))       # one event for the batch
                r, w = os.pipe()
                try:
                    e = self.assertErrno(errno.ENOTSOCK, OSError, ev.share_many,
                                         [pairs[0][0], r], os.getpid())
                    self.assertIn("sockdup Events.share_many: one of the 2 descriptors "
                                  "is not a socket", str(e))
                finally:
                    os.close(r)
                    os.close(w)
                self.assertIsNone(ev.wait(0))       # a refused batch has no event
        finally:
            for a, b in pairs:
                a.close()
                b.close()

    def test_reaped_when_the_target_exits(self) -> None:
        a, b = socket.socketpair()
        p = spawn_python("import sys; sys.stdin.read()")
        with a, b, sockdup.Events() as ev:
            try:
                share = ev.share(a, p.pid, ttl=CHILD_TTL)
            finally:
                finish(p, "")
            e = ev.wait(BOUND)
            self.assertIsNotNone(e, f"no event within {BOUND} s")
            self.assertEqual((e.type, e.id, e.pid, e.declined),
                             (sockdup.EventType.REAPED, share.id, None, False))

    def test_argument_errors(self) -> None:
        with sockdup.Events() as ev:
            for bad in (0, 4097, -1):
                with self.assertRaises(ValueError):
                    ev.read(bad)
            with self.assertRaises(TypeError):
                ev.read(True)
            with self.assertRaises(ValueError):
                ev.wait(-1)
            with socket.socket() as s, self.assertRaises(ValueError):
                ev.share(s, 0)
            with socket.socket() as s:
                with self.assertRaises(ProcessLookupError) as cm:
                    ev.share(s, gone_pid())
                self.assertIn("sockdup Events.share: no process with pid", str(cm.exception))


if __name__ == "__main__":
    import tap
    if not os.path.exists(sockdup.DEVICE):
        print("1..0 # SKIP no /dev/sockdup (this runs in the VM lane)")
        sys.exit(0)
    sys.exit(tap.main(sys.modules[__name__]))
