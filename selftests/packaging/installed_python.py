#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""python3-sockdup as installed: run by the packaging lane in the VM with
Debian's python3, the module python3-sockdup put in
/usr/lib/python3/dist-packages (byte-compiled by its postinst), the
DKMS-built kernel module and the installed /usr/bin/sockdup.  Prints TAP.

usage: installed_python VERSION [TOOL]
  VERSION  what sockdup.__version__ and `TOOL --version` must say
  TOOL     the sockdup tool (default /usr/bin/sockdup)
"""

import importlib.util
import os
import socket
import subprocess
import sys

VERSION = sys.argv[1] if len(sys.argv) > 1 else ""
TOOL = sys.argv[2] if len(sys.argv) > 2 else "/usr/bin/sockdup"
SITE = "/usr/lib/python3/dist-packages/sockdup"
BOUND = 60
n = failed = 0


def ok(cond: bool, what: str, why: str = "") -> bool:
    global n, failed
    n += 1
    if not cond:
        failed += 1
        if why:
            print("# " + why.replace("\n", "\n# "))
    print(f"{'' if cond else 'not '}ok {n} - python3-sockdup: {what}", flush=True)
    return cond


def recv_all(s: socket.socket, want: int) -> bytes:
    s.settimeout(BOUND)
    got = b""
    while len(got) < want:
        chunk = s.recv(want - len(got))
        if not chunk:
            break
        got += chunk
    return got


def main() -> int:
    print("1..5", flush=True)
    try:
        import sockdup
    except ImportError as e:
        ok(False, "import sockdup", str(e))
        return 1
    init = os.path.join(SITE, "__init__.py")
    ok(sockdup.__file__ == init and sockdup.__version__ == VERSION,
       f"import sockdup: {sockdup.__file__}, version {sockdup.__version__}",
       f"want {init}, version {VERSION}")
    pyc = importlib.util.cache_from_source(init)
    ok(os.path.exists(pyc), f"byte-compiled at install: {pyc}")

    # Python shares, the C tool redeems: sockdup exec gives the socket to
    # a shell as fd 3, which writes through it.
    a, b = socket.socketpair()
    with a, b:
        p = subprocess.Popen([TOOL, "exec", "-", "--", "/bin/sh", "-c", "echo pong >&3"],
                             stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            token = sockdup.share(a, p.pid)
            p.stdin.write(token + "\n")
            p.stdin.close()
            got = recv_all(b, 5)
            rc = p.wait(BOUND)
            ok(got == b"pong\n" and rc == 0 and token.startswith("sd1_"),
               "sockdup.share() -> sockdup exec: the shell writes through the socket",
               f"token {token!r}, read {got!r}, exit {rc}: {p.stderr.read()}")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    # The C tool shares, Python redeems: the same socket, bytes flow.
    a, b = socket.socketpair()
    with a, b:
        out = subprocess.run([TOOL, "share", str(a.fileno()), str(os.getpid())],
                             pass_fds=(a.fileno(),), capture_output=True, text=True,
                             timeout=BOUND)
        token = out.stdout.strip()
        try:
            info = sockdup.query(token)
            with sockdup.fromshare(token) as t:
                same = os.fstat(t.fileno()).st_ino == os.fstat(a.fileno()).st_ino
                fam = t.family
                t.sendall(b"ping\n")
                got = recv_all(b, 5)
            ok(out.returncode == 0 and info.target_pid == os.getpid() and same and
               got == b"ping\n" and fam == socket.AF_UNIX,
               "sockdup share -> sockdup.query() and sockdup.fromshare(): the same socket",
               f"tool: {out.returncode} {out.stderr.strip()}; same inode {same}, read {got!r}")
        except (OSError, ValueError) as e:
            ok(False, "sockdup share -> sockdup.fromshare()", f"{out.stderr.strip()} {e}")

    # Spent and revoked tokens: the errors the README promises.
    a, b = socket.socketpair()
    with a, b:
        token = sockdup.share(a, os.getpid())
        listed = any(s.target_pid == os.getpid() for s in sockdup.list_shares())
        sockdup.revoke(token)
        try:
            sockdup.fromshare(token)
            err = None
        except FileNotFoundError as e:
            err = e
        ok(listed and err is not None and "sockdup" in str(err),
           f"list_shares() shows the share; after revoke(), fromshare() raises "
           f"FileNotFoundError: {err}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
