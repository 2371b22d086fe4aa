# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Host-side tests of the Python package: no module, no VM.

- the struct layouts and ioctl numbers of sockdup/_uapi.py against
  uapi/linux/sockdup.h, read by a tiny C program compiled here;
- tokens against libsockdup's encoder and decoder (python/tests/token_tool.c),
  both ways, on random cookies and on malformed spellings;
- argument checks, and the error every call gives when /dev/sockdup is
  missing (this machine cannot load the module).

Environment: SOCKDUP_TOP (the source tree), SOCKDUP_TOKEN_TOOL (the built
token_tool), CC (default gcc), SOCKDUP_PY_INSTALLED=1 (test the sockdup
package the interpreter finds, an installed one, not the tree's python/).  Prints TAP (python/tests/tap.py).
"""

from __future__ import annotations

import errno
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get("SOCKDUP_TOP", os.path.dirname(os.path.dirname(HERE)))
if os.environ.get("SOCKDUP_PY_INSTALLED") != "1":
    sys.path.insert(0, os.path.join(TOP, "python"))
sys.path.insert(0, HERE)

import sockdup  # noqa: E402
from sockdup import _uapi  # noqa: E402

# Field by field, in the header's order: (name, struct format).
_COOKIE = ("cookie", "16s")
FIELDS = {
    "sockdup_share": [("flags", "I"), ("fd", "i"), ("target_pid", "i"),
                      ("ttl_ms", "I"), _COOKIE, ("id", "Q"), ("fds", "Q"),
                      ("nr_fds", "I"), ("reserved", "I")],
    "sockdup_redeem": [("flags", "I"), ("reserved", "I"), _COOKIE, ("fds", "Q"),
                       ("nr_fds", "I"), ("reserved2", "I")],
    "sockdup_revoke": [("flags", "I"), ("reserved", "I"), _COOKIE, ("id", "Q")],
    "sockdup_share_info": [
        ("id", "Q"), ("sock_ino", "Q"), ("family", "I"), ("type", "I"),
        ("protocol", "I"), ("sharer_pid", "i"), ("target_pid", "i"),
        ("sharer_uid", "I"), ("age_ms", "Q"), ("ttl_left_ms", "Q"),
        ("nr_fds", "I"), ("reserved", "I"), ("local_addr_len", "I"),
        ("peer_addr_len", "I"), ("local_addr", "128s"), ("peer_addr", "128s")],
    "sockdup_query": [("flags", "I"), ("reserved", "I"), _COOKIE],
    "sockdup_stats": [("flags", "I"), ("reserved", "I")] +
                     [(f, "Q") for f in _uapi.STATS_FIELDS],
    "sockdup_event": [("size", "I"), ("type", "I"), ("id", "Q"), ("time_ns", "Q"),
                      ("pid", "i"), ("flags", "I"), ("lost", "Q")],
    "sockdup_list": [("flags", "I"), ("entry_size", "I"), ("entries", "Q"),
                     ("capacity", "I"), ("count", "I"), ("total", "Q")],
}
PY_STRUCTS = {
    "sockdup_share": _uapi.SHARE, "sockdup_redeem": _uapi.REDEEM,
    "sockdup_revoke": _uapi.REVOKE, "sockdup_share_info": _uapi.SHARE_INFO,
    "sockdup_query": _uapi.QUERY_HEAD, "sockdup_stats": _uapi.STATS,
    "sockdup_list": _uapi.LIST, "sockdup_event": _uapi.EVENT,
}
CONSTANTS = ["SOCKDUP_COOKIE_SIZE", "SOCKDUP_REDEEM_CLOEXEC", "SOCKDUP_REVOKE_BY_ID",
             "SOCKDUP_QUERY_BY_ID", "SOCKDUP_ADDR_SIZE", "SOCKDUP_BATCH_MAX",
             "SOCKDUP_EVENT_REDEEMED", "SOCKDUP_EVENT_EXPIRED", "SOCKDUP_EVENT_REVOKED",
             "SOCKDUP_EVENT_REAPED", "SOCKDUP_EVENT_UNLOADED", "SOCKDUP_EVENT_OVERFLOW",
             "SOCKDUP_EVENT_DECLINED"]
IOCTLS = {
    "SOCKDUP_IOC_SHARE": _uapi.IOC_SHARE, "SOCKDUP_IOC_REDEEM": _uapi.IOC_REDEEM,
    "SOCKDUP_IOC_REVOKE": _uapi.IOC_REVOKE, "SOCKDUP_IOC_QUERY": _uapi.IOC_QUERY,
    "SOCKDUP_IOC_STATS": _uapi.IOC_STATS, "SOCKDUP_IOC_LIST": _uapi.IOC_LIST,
}


def _c_layout() -> dict[tuple[str, str], tuple[int, int, int]]:
    """Compile and run a C program that prints what the header says."""
    lines = [
        "#include <stddef.h>", "#include <stdio.h>",
        "#include <linux/sockdup.h>",
        "#define F(s, f) printf(\"%s %s %zu %zu %d\\n\", #s, #f, "
        "offsetof(struct s, f), sizeof(((struct s *)0)->f), "
        "(int)((__typeof__(((struct s *)0)->f))-1 < 0))",
        "#define A(s, f) printf(\"%s %s %zu %zu 0\\n\", #s, #f, "
        "offsetof(struct s, f), sizeof(((struct s *)0)->f))",
        "#define C(n) printf(\"const %s %llu 0 0\\n\", #n, (unsigned long long)(n))",
        "int main(void) {",
    ]
    for s, fields in FIELDS.items():
        lines.append(f'printf("{s} sizeof %zu 0 0\\n", sizeof(struct {s}));')
        for name, fmt in fields:
            lines.append(f"{'A' if fmt.endswith('s') else 'F'}({s}, {name});")
    lines.append("A(sockdup_query, info);")
    for name in list(IOCTLS) + CONSTANTS:
        lines.append(f"C({name});")
    lines.append('printf("const SOCKDUP_DEVICE %s 0 0\\n", SOCKDUP_DEVICE);')
    lines.append("return 0; }")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "layout.c")
        exe = os.path.join(tmp, "layout")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        cc = os.environ.get("CC", "gcc")
        subprocess.run([cc, "-Wall", "-Werror", "-I", os.path.join(TOP, "uapi"),
                        "-o", exe, src], check=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    result = {}
    for line in out.splitlines():
        s, f, a, b, c = line.split()
        result[(s, f)] = (a, int(b), int(c))
    return result


class Layout(unittest.TestCase):
    """sockdup/_uapi.py says what uapi/linux/sockdup.h says."""

    c: dict = {}

    def setUp(self) -> None:
        if not Layout.c:
            Layout.c = _c_layout()

    def test_struct_formats_match_header_fields(self) -> None:
        for s, fields in FIELDS.items():
            with self.subTest(struct=s):
                fmt = "=" + "".join(f for _, f in fields)
                self.assertEqual(struct.Struct(fmt).format, PY_STRUCTS[s].format)

    def test_offsets_sizes_and_signedness(self) -> None:
        for s, fields in FIELDS.items():
            prefix = "="
            for name, fmt in fields:
                with self.subTest(field=f"{s}.{name}"):
                    off, size, signed = self.c[(s, name)]
                    self.assertEqual(int(off), struct.calcsize(prefix))
                    self.assertEqual(size, struct.calcsize("=" + fmt))
                    if not fmt.endswith("s"):
                        self.assertEqual(bool(signed), fmt.islower())
                prefix += fmt

    def test_struct_sizes(self) -> None:
        for s in FIELDS:
            with self.subTest(struct=s):
                want = _uapi.QUERY_SIZE if s == "sockdup_query" else PY_STRUCTS[s].size
                self.assertEqual(int(self.c[(s, "sizeof")][0]), want)
        self.assertEqual(int(self.c[("sockdup_query", "info")][0]), _uapi.QUERY_HEAD.size)
        self.assertEqual(self.c[("sockdup_query", "info")][1], _uapi.SHARE_INFO.size)

    def test_ioctl_numbers_and_constants(self) -> None:
        for name, value in IOCTLS.items():
            with self.subTest(ioctl=name):
                self.assertEqual(int(self.c[("const", name)][0]), value)
        self.assertEqual(int(self.c[("const", "SOCKDUP_COOKIE_SIZE")][0]), _uapi.COOKIE_SIZE)
        self.assertEqual(int(self.c[("const", "SOCKDUP_REDEEM_CLOEXEC")][0]),
                         _uapi.REDEEM_CLOEXEC)
        self.assertEqual(self.c[("const", "SOCKDUP_DEVICE")][0], sockdup.DEVICE)
        for name in CONSTANTS:
            with self.subTest(constant=name):
                attr = name[len("SOCKDUP_"):]
                self.assertEqual(int(self.c[("const", name)][0]), getattr(_uapi, attr))


def _tool(*args: str) -> list[str]:
    tool = os.environ.get("SOCKDUP_TOKEN_TOOL",
                          os.path.join(TOP, "build", "python", "token_tool"))
    out = subprocess.run([tool, *args], check=True, capture_output=True, text=True)
    return out.stdout.split()


MALFORMED = [
    "", "sd1_", "sd1_AAAAAAAAAAAAAAAAAAAAAA=", "sd2_AAAAAAAAAAAAAAAAAAAAAA",
    "SD1_AAAAAAAAAAAAAAAAAAAAAA", "sd1_AAAAAAAAAAAAAAAAAAAAA",
    "sd1_AAAAAAAAAAAAAAAAAAAAAAA", "sd1_AAAAAAAAAAAAAAAAAAAAAB",
    "sd1_AAAAAAAAAAAAAAAAAAAAAP", "sd1_AAAAAAAAAAAAAAAAAAAA+A",
    "sd1_AAAAAAAAAAAAAAAAAAAA/A", "sd1_AAAAAAAAAAA AAAAAAAAAA",
    "sd1_AAAAAAAAAAAAAAAAAAAAA\n", " sd1_AAAAAAAAAAAAAAAAAAAAA",
    "sd1_AAAAAAAAAAAAAAAAAAAA\u00e9A", "sd1-AAAAAAAAAAAAAAAAAAAAAA",
]


class Tokens(unittest.TestCase):
    """Python's tokens are libsockdup's, both ways."""

    def test_python_encodes_as_libsockdup(self) -> None:
        rng = random.Random(16)
        cookies = [bytes(16), b"\xff" * 16] + [rng.randbytes(16) for _ in range(300)]
        c_tokens = _tool("encode", *(c.hex() for c in cookies))
        self.assertEqual(c_tokens, [sockdup.encode_token(c) for c in cookies])

    def test_python_decodes_libsockdup_tokens(self) -> None:
        rng = random.Random(61)
        cookies = [rng.randbytes(16) for _ in range(300)]
        c_tokens = _tool("encode", *(c.hex() for c in cookies))
        self.assertEqual([sockdup.decode_token(t) for t in c_tokens], cookies)
        self.assertEqual([sockdup.decode_token(t.encode()) for t in c_tokens], cookies)

    def test_both_refuse_the_same_malformed_tokens(self) -> None:
        # every non-canonical last character of a valid token, too
        base = sockdup.encode_token(bytes(range(16)))[:-1]
        bad = MALFORMED + [base + ch for ch in "BCDEFGHIJKLMNOP"]
        valid = [base + ch for ch in "AQgw"]
        c_answers = _tool("decode", *[b for b in bad if "\n" not in b and " " not in b
                                       and b], *valid)
        n_bad = len(c_answers) - len(valid)
        self.assertEqual(c_answers[:n_bad], ["invalid"] * n_bad)
        for b in bad:
            with self.subTest(token=b):
                with self.assertRaisesRegex(ValueError, "malformed sockdup token"):
                    sockdup.decode_token(b)
        for v, hexed in zip(valid, c_answers[n_bad:]):
            self.assertEqual(sockdup.decode_token(v).hex(), hexed)

    def test_wrong_types(self) -> None:
        with self.assertRaises(TypeError):
            sockdup.decode_token(12345)  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            sockdup.encode_token("0123456789abcdef")  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            sockdup.encode_token(bytes(15))
        with self.assertRaisesRegex(ValueError, "malformed"):
            sockdup.decode_token(b"sd1_\xffAAAAAAAAAAAAAAAAAAAAA")


@unittest.skipIf(os.path.exists(sockdup.DEVICE), f"{sockdup.DEVICE} exists here")
class NoDevice(unittest.TestCase):
    """Without /dev/sockdup every call says so, in the user's terms."""

    def assertNoDevice(self, fn, *args) -> None:
        with self.assertRaises(OSError) as cm:
            fn(*args)
        e = cm.exception
        self.assertEqual(e.errno, errno.ENODEV)
        self.assertIs(type(e), OSError)
        self.assertIn("/dev/sockdup does not exist", str(e))
        self.assertIn("module is not loaded", str(e))

    def test_every_call(self) -> None:
        tok = sockdup.encode_token(bytes(16))
        with socket.socket() as s:
            self.assertNoDevice(sockdup.share, s, os.getpid())
            self.assertNoDevice(sockdup.share_many, [s], os.getpid())
        self.assertNoDevice(sockdup.fromshare, tok)
        self.assertNoDevice(sockdup.query, tok)
        self.assertNoDevice(sockdup.revoke, tok)
        self.assertNoDevice(sockdup.stats)
        self.assertNoDevice(sockdup.list_shares)
        self.assertNoDevice(sockdup.query_id, 1)
        self.assertNoDevice(sockdup.revoke_id, 1)
        self.assertNoDevice(sockdup.Events)

    def test_message_names_the_call(self) -> None:
        with self.assertRaisesRegex(OSError, r"^\[Errno 19\] sockdup fromshare: /dev/sockdup"):
            sockdup.fromshare(sockdup.encode_token(bytes(16)))

    def test_malformed_token_is_a_value_error_first(self) -> None:
        for fn in (sockdup.fromshare, sockdup.query, sockdup.revoke):
            with self.subTest(fn=fn.__name__):
                with self.assertRaises(ValueError):
                    fn("sd1_not-a-token")


class Arguments(unittest.TestCase):
    """Bad arguments fail before the kernel is asked."""

    def test_share_pid_and_ttl(self) -> None:
        with socket.socket() as s:
            for pid in (0, -1, 2**31):
                with self.subTest(pid=pid), self.assertRaises(ValueError):
                    sockdup.share(s, pid)
            for pid in (True, "1", 1.0):
                with self.subTest(pid=pid), self.assertRaises(TypeError):
                    sockdup.share(s, pid)  # type: ignore[arg-type]
            for ttl in (0, -1, 0.0, float("nan"), 4294968.0):
                with self.subTest(ttl=ttl), self.assertRaises(ValueError):
                    sockdup.share(s, os.getpid(), ttl)
            with self.assertRaises(TypeError):
                sockdup.share(s, os.getpid(), "10")  # type: ignore[arg-type]

    def test_share_ids(self) -> None:
        for fn in (sockdup.query_id, sockdup.revoke_id):
            for bad in (0, -1, 2**64):
                with self.subTest(fn=fn.__name__, id=bad), self.assertRaises(ValueError):
                    fn(bad)
            for bad in (True, "1", 1.0):
                with self.subTest(fn=fn.__name__, id=bad), self.assertRaises(TypeError):
                    fn(bad)  # type: ignore[arg-type]

    def test_share_what(self) -> None:
        with self.assertRaises(TypeError):
            sockdup.share(True, os.getpid())  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            sockdup.share("3", os.getpid())  # type: ignore[arg-type]
        with self.assertRaises(OSError) as cm:
            sockdup.share(-1, os.getpid())
        self.assertEqual(cm.exception.errno, errno.EBADF)
        self.assertIn("descriptor -1 is not open", str(cm.exception))


def events_on(fd: int) -> sockdup.Events:
    """An Events object holding *fd* (this machine has no /dev/sockdup)."""
    ev = sockdup.Events.__new__(sockdup.Events)
    ev._fd = fd
    return ev


class EventsHost(unittest.TestCase):
    """sockdup.Events without the module: arguments, records, the check
    that its descriptor is still /dev/sockdup."""

    RECORD = _uapi.EVENT

    def setUp(self) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        self.ev = events_on(self.r)
        self.saved = sockdup._is_device

    def tearDown(self) -> None:
        sockdup._is_device = self.saved
        # a pipe is not the device: close() only forgets it
        self.ev.close()
        try:
            os.close(self.r)
        except OSError:     # a test closed it as the device
            pass
        os.close(self.w)

    def test_argument_errors_before_anything(self) -> None:
        for bad in (0, -1, 4097):
            with self.subTest(max_events=bad), self.assertRaises(ValueError):
                self.ev.read(bad)
        for bad in (True, 1.0, "1"):
            with self.subTest(max_events=bad), self.assertRaises(TypeError):
                self.ev.read(bad)  # type: ignore[arg-type]
        for bad in (-1, -0.5, float("nan")):
            with self.subTest(timeout=bad), self.assertRaises(ValueError):
                self.ev.wait(bad)
        for bad in (True, "1"):
            with self.subTest(timeout=bad), self.assertRaises(TypeError):
                self.ev.wait(bad)  # type: ignore[arg-type]
        with socket.socket() as s:
            with self.assertRaises(ValueError):
                self.ev.share(s, 0)
            with self.assertRaises(TypeError):
                self.ev.share(s, os.getpid(), ttl="10")  # type: ignore[arg-type]
            with self.assertRaisesRegex(ValueError, "a batch holds 1 to 4096 sockets, not 0"):
                self.ev.share_many([], os.getpid())
            with self.assertRaises(ValueError):
                self.ev.share_many([s] * 4097, os.getpid())
            with self.assertRaises(ValueError):
                self.ev.share_many([s], -1)

    def test_not_the_device_any_more_is_never_read(self) -> None:
        # the number was closed behind the object's back and now names a
        # pipe: nothing is read from it, nothing is shared through it
        data = self.RECORD.pack(40, 1, 7, 0, 1, 0, 0)
        os.write(self.w, data)
        with socket.socket() as s:
            for name, fn in (("read", self.ev.read), ("wait", lambda: self.ev.wait(0)),
                             ("share", lambda: self.ev.share(s, os.getpid())),
                             ("share_many", lambda: self.ev.share_many([s], os.getpid()))):
                with self.subTest(call=name):
                    with self.assertRaises(OSError) as cm:
                        fn()
                    self.assertIs(type(cm.exception), OSError)
                    self.assertEqual(cm.exception.errno, errno.EBADF)
                    self.assertIn(f"sockdup Events.{name}: descriptor {self.r} is no "
                                  "longer this Events object's", str(cm.exception))
                    self.assertIn("open a new sockdup.Events()", str(cm.exception))
        self.assertEqual(os.read(self.r, 100), data)

    def test_the_modules_own_descriptor_is_never_ours(self) -> None:
        # the number was closed and reopened by the next module-level call:
        # still /dev/sockdup, but the module's, not this object's
        sockdup._is_device = lambda fd: True
        saved, sockdup._dev_fd = sockdup._dev_fd, self.r
        try:
            with self.assertRaises(OSError) as cm:
                self.ev.read()
            self.assertEqual(cm.exception.errno, errno.EBADF)
            self.assertIn("closed behind its back", str(cm.exception))
            # close() forgets the number, it does not close the module's
            self.ev.close()
            os.fstat(self.r)
        finally:
            sockdup._dev_fd = saved

    def test_records_step_by_their_size(self) -> None:
        sockdup._is_device = lambda fd: True
        with self.assertRaises(BlockingIOError) as cm:
            self.ev.read()
        self.assertEqual(cm.exception.errno, errno.EAGAIN)
        self.assertIn("sockdup Events.read: no event queued", str(cm.exception))
        self.assertIsNone(self.ev.wait(0))
        # a REDEEMED, a record of a later, longer version (48 bytes) of an
        # unknown kind, a declined REVOKED, an OVERFLOW
        os.write(self.w, self.RECORD.pack(40, 1, 7, 100, 42, 0, 0) +
                 self.RECORD.pack(48, 99, 8, 101, 0, 0, 0) + b"\xff" * 8 +
                 self.RECORD.pack(40, 3, 9, 102, 43, _uapi.EVENT_DECLINED, 0) +
                 self.RECORD.pack(40, 6, 0, 103, 0, 0, 5))
        first = self.ev.wait(0)
        self.assertEqual(first, sockdup.Event(type=sockdup.EventType.REDEEMED, id=7,
                                              time_ns=100, pid=42, declined=False,
                                              lost=0))
        got = self.ev.read()
        self.assertEqual([(e.type, e.id, e.pid, e.declined, e.lost) for e in got],
                         [(99, 8, None, False, 0),
                          (sockdup.EventType.REVOKED, 9, 43, True, 0),
                          (sockdup.EventType.OVERFLOW, 0, None, False, 5)])
        self.assertIs(type(got[0].type), int)

    def test_close_twice_then_closed(self) -> None:
        sockdup._is_device = lambda fd: True    # the pipe plays the device
        self.assertIn(f"fd={self.r}", repr(self.ev))
        self.ev.close()
        self.ev.close()
        self.assertEqual(repr(self.ev), "<sockdup.Events closed>")
        with self.assertRaisesRegex(ValueError, "this events descriptor is closed"):
            self.ev.fileno()
        with self.assertRaises(ValueError):
            self.ev.read()
        with self.assertRaises(OSError):    # the pipe's read end is gone
            os.fstat(self.r)


class Messages(unittest.TestCase):
    """Each errno of each call: its OSError subclass and sockdup's words.

    The ioctl is replaced by one that fails with the errno, so every row
    of the table in sockdup's docstring is checked here, including those a
    test in the VM cannot provoke from Python (an LSM's EACCES).
    """

    TOKEN = "sd1_AAAAAAAAAAAAAAAAAAAAAA"
    ROWS = [
        ("share", errno.EBADF, OSError, "descriptor 0 is not open"),
        ("share", errno.ENOTSOCK, OSError, "descriptor 0 is not a socket"),
        ("share", errno.ESRCH, ProcessLookupError, "no process with pid 1 "),
        ("share", errno.EPERM, PermissionError, "process 1 cannot be a target"),
        ("share", errno.EINVAL, OSError, "above the module's max_ttl_ms"),
        ("share", errno.EDQUOT, OSError, "max_per_user"),
        ("share", errno.ENOSPC, OSError, "max_total"),
        ("fromshare", errno.ENOENT, FileNotFoundError, "no such share"),
        ("fromshare", errno.EPERM, PermissionError, "is not the share's target"),
        ("fromshare", errno.EACCES, PermissionError, "a security module refused"),
        ("fromshare", errno.EMFILE, OSError, "descriptor table is full"),
        ("query", errno.ENOENT, FileNotFoundError, "no such share"),
        ("query", errno.EPERM, PermissionError, "neither the share's sharer nor"),
        ("revoke", errno.ENOENT, FileNotFoundError, "no such share"),
        ("revoke", errno.EPERM, PermissionError, "neither the share's sharer nor"),
        ("query_id", errno.ENOENT, FileNotFoundError, "no pending share 7 among"),
        ("revoke_id", errno.ENOENT, FileNotFoundError, "no pending share 7 among"),
        ("revoke_id", errno.EPERM, PermissionError, "share 7 is neither this user's"),
        ("stats", errno.EFAULT, OSError, os.strerror(errno.EFAULT)),
        ("list_shares", errno.EINVAL, OSError, os.strerror(errno.EINVAL)),
        ("Events.share", errno.EBADF, OSError, "descriptor 0 is not open"),
        ("Events.share", errno.ESRCH, ProcessLookupError, "no process with pid 1 "),
        ("Events.share", errno.EDQUOT, OSError, "max_per_user"),
        ("Events.share_many", errno.ENOTSOCK, OSError,
         "one of the 2 descriptors is not a socket"),
        ("Events.share_many", errno.ENOSPC, OSError, "a batch takes one per socket"),
    ]

    def call(self, name: str):
        if name.startswith("Events."):
            ev = events_on(1000)
            try:
                if name == "Events.share":
                    return ev.share(0, 1, ttl=3601)
                return ev.share_many([0, 0], 1)
            finally:
                ev._fd = -1
        if name == "share":
            return sockdup.share(0, 1, ttl=3601)
        if name in ("fromshare", "query", "revoke"):
            return getattr(sockdup, name)(self.TOKEN)
        if name in ("query_id", "revoke_id"):
            return getattr(sockdup, name)(7)
        return getattr(sockdup, name)()

    def test_every_row(self) -> None:
        saved = (sockdup._open_device, sockdup.fcntl.ioctl, sockdup._is_device)
        try:
            sockdup._open_device = lambda call: 1000
            sockdup._is_device = lambda fd: True
            for name, code, cls, words in self.ROWS:
                with self.subTest(call=name, errno=errno.errorcode[code]):
                    def fail(*args, code=code):
                        raise OSError(code, os.strerror(code))
                    sockdup.fcntl.ioctl = fail
                    with self.assertRaises(OSError) as cm:
                        self.call(name)
                    self.assertIs(type(cm.exception), cls)
                    self.assertEqual(cm.exception.errno, code)
                    self.assertIn(f"sockdup {name}: ", str(cm.exception))
                    self.assertIn(words, str(cm.exception))
        finally:
            sockdup._open_device, sockdup.fcntl.ioctl, sockdup._is_device = saved

    def test_descriptor_closed_behind_our_back_is_reopened(self) -> None:
        # EBADF on a descriptor that is no longer the device: opened again once
        saved = (sockdup._open_device, sockdup.fcntl.ioctl, sockdup._is_device)
        calls: list[int] = []
        try:
            sockdup._open_device = lambda call: 1000 + len(calls)
            sockdup._is_device = lambda fd: False

            def ioctl(fd, *args):
                calls.append(fd)
                if len(calls) == 1:
                    raise OSError(errno.EBADF, "closed")
                return 0
            sockdup.fcntl.ioctl = ioctl
            sockdup.stats()
            self.assertEqual(calls, [1000, 1001])
        finally:
            sockdup._open_device, sockdup.fcntl.ioctl, sockdup._is_device = saved


if __name__ == "__main__":
    import tap
    sys.exit(tap.main(sys.modules[__name__]))
