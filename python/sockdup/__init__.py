# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""sockdup: hand an open socket to one named process, from Python.

This is ``socket.share()`` / ``socket.fromshare()`` for Linux.  The sharer
asks the kernel (the sockdup module, ``/dev/sockdup``) for a token that
lets one target process open a second descriptor to the same socket; the
token is short text that travels over any IPC (a pipe, an environment
variable, argv, an HTTP header); the target turns it into a socket::

    token = sockdup.share(listener, target_pid)      # sharer
    ...send token to the target...
    sock = sockdup.fromshare(token)                    # target

To learn how each share ended (redeemed, expired, revoked, its target
exited), share through an :class:`Events` descriptor and read its
:class:`Event` records::

    with sockdup.Events() as ev:
        token, share_id = ev.share(listener, target_pid)
        ...send token to the target...
        event = ev.wait(timeout=30)    # Event(type=EventType.REDEEMED, ...)

Tokens are the ``sd1_`` tokens of libsockdup and the sockdup(1) tool: a
token made in C redeems here and the other way round.  The package is pure
Python (``fcntl.ioctl`` and ``struct``); it needs neither a compiler nor
libsockdup.

Errors are ``OSError`` with the kernel's errno and a message in sockdup's
terms.  Python maps the errno to a subclass, so the usual ``except``
clauses work:

======================  =========  ==========================================
exception               errno      meaning here
======================  =========  ==========================================
FileNotFoundError       ENOENT     no such share: the token is unknown, was
                                   already redeemed, expired or was revoked
PermissionError         EPERM      this process is not the share's target
                                   (fromshare) or neither its sharer nor its
                                   target (query, revoke); the share stays
                                   valid for them; share: the target is a
                                   kernel thread, or init and this process
                                   lacks CAP_SYS_ADMIN
PermissionError         EACCES     a security module (LSM) refused the
                                   socket to this process; the share stays
                                   valid
ProcessLookupError      ESRCH      share: no such target process (or only a
                                   thread id, or it has exited)
OSError                 EBADF      share: the descriptor is not open;
                                   Events: its descriptor was closed behind
                                   its back (it is no longer /dev/sockdup,
                                   or is the module's own descriptor)
BlockingIOError         EAGAIN     Events.read: no event queued on a
                                   non-blocking Events
OSError                 ENOTSOCK   share: the descriptor is not a socket
OSError                 EINVAL     share: the TTL is above the module's
                                   max_ttl_ms
OSError                 EDQUOT     share: this user has max_per_user pending
                                   shares
OSError                 ENOSPC     share: the module has max_total pending
                                   shares
OSError                 EMFILE     fromshare: this process's descriptor
                                   table is full (RLIMIT_NOFILE); the share
                                   stays valid
OSError                 ENODEV     /dev/sockdup does not exist: the sockdup
                                   kernel module is not loaded
======================  =========  ==========================================

A malformed token raises ``ValueError`` before anything reaches the kernel.
"""

from __future__ import annotations

import array
import dataclasses
import enum
import errno
import fcntl
import math
import os
import select
import socket
import stat
import sys
import threading
import time
from typing import NamedTuple, Optional, Union

from . import _uapi
from ._token import decode_token, encode_token

__all__ = [
    "DEVICE", "Event", "EventType", "Events", "Share", "ShareInfo", "Stats",
    "decode_token", "encode_token", "fromshare", "fromshare_many",
    "list_shares", "query", "query_id", "revoke", "revoke_id", "share",
    "share_many", "stats",
]
__version__ = "0.1.0"

DEVICE = _uapi.DEVICE

SocketOrFd = Union[socket.socket, int]
# A socket address as Python's socket module spells it: (host, port) for
# AF_INET, (host, port, flowinfo, scope_id) for AF_INET6, a path (str, or
# bytes for an abstract name) for AF_UNIX, raw bytes for other families.
Address = Union[tuple, str, bytes, None]


# ---- results ----------------------------------------------------------------

def _family(value: int) -> Union[socket.AddressFamily, int]:
    try:
        return socket.AddressFamily(value)
    except ValueError:
        return value


def _kind(value: int) -> Union[socket.SocketKind, int]:
    try:
        return socket.SocketKind(value)
    except ValueError:
        return value


def _address(raw: bytes, length: int) -> Address:
    """A struct sockaddr from the kernel, as getsockname() would give it."""
    if length < 2:
        return None
    raw = raw[:length]
    family = int.from_bytes(raw[:2], sys.byteorder)
    if family == socket.AF_INET and length >= 8:
        return (socket.inet_ntop(socket.AF_INET, raw[4:8]),
                int.from_bytes(raw[2:4], "big"))
    if family == socket.AF_INET6 and length >= 28:
        return (socket.inet_ntop(socket.AF_INET6, raw[8:24]),
                int.from_bytes(raw[2:4], "big"),
                int.from_bytes(raw[4:8], "big"),
                int.from_bytes(raw[24:28], sys.byteorder))
    if family == socket.AF_UNIX:
        path = raw[2:]
        if path[:1] == b"\0":
            return path     # abstract name: bytes, as Python gives it
        return os.fsdecode(path.split(b"\0", 1)[0])
    return raw


@dataclasses.dataclass(frozen=True)
class ShareInfo:
    """What a pending share holds (``struct sockdup_share_info``).

    Attributes:
        id: the share's number in listings; it does not reveal the token.
        sock_ino: inode number of the socket, as in ``/proc/PID/fd`` links
            (``socket:[INODE]``) and ``os.fstat(sock.fileno()).st_ino``.
        family: address family (``socket.AF_INET``, ...; an int when Python
            has no name for it).
        type: socket type (``socket.SOCK_STREAM``, ...).
        protocol: protocol number (``socket.IPPROTO_TCP``, ..., or 0).
        sharer_pid: the sharing process, or None when it has exited or is not
            visible in this pid namespace.
        target_pid: the target process, or None likewise.
        sharer_uid: effective uid of the sharer when it shared.
        age_ms: milliseconds since the share was made.
        ttl_left_ms: milliseconds until it expires.
        nr_fds: number of sockets held by the share.
        local_address: the socket's own address, as ``getsockname()`` gives
            it (None when it has none).
        peer_address: its peer's, as ``getpeername()`` gives it (None when it
            is not connected).
    """

    id: int
    sock_ino: int
    family: Union[socket.AddressFamily, int]
    type: Union[socket.SocketKind, int]
    protocol: int
    sharer_pid: Optional[int]
    target_pid: Optional[int]
    sharer_uid: int
    age_ms: int
    ttl_left_ms: int
    nr_fds: int
    local_address: Address = None
    peer_address: Address = None

    @classmethod
    def _unpack(cls, raw: bytes) -> "ShareInfo":
        (id_, ino, family, type_, proto, sharer, target, uid, age, ttl,
         nr_fds, _reserved, local_len, peer_len, local,
         peer) = _uapi.SHARE_INFO.unpack(raw)
        return cls(id=id_, sock_ino=ino, family=_family(family),
                   type=_kind(type_), protocol=proto,
                   sharer_pid=sharer if sharer > 0 else None,
                   target_pid=target if target > 0 else None,
                   sharer_uid=uid, age_ms=age, ttl_left_ms=ttl,
                   nr_fds=nr_fds, local_address=_address(local, local_len),
                   peer_address=_address(peer, peer_len))


@dataclasses.dataclass(frozen=True)
class Stats:
    """The module's counters (``struct sockdup_stats``).

    At any quiescent moment ``shared == redeemed + expired + revoked +
    reaped + pending``.

    Attributes:
        pending: shares pending now, all users.
        shared: shares made since the module was loaded.
        redeemed: shares released by a successful redeem.
        expired: shares released because their TTL ran out.
        revoked: shares released by revoke (sharer or target).
        reaped: shares released because their target process exited.
        refused_user: shares refused with EDQUOT (per-user cap).
        refused_global: shares refused with ENOSPC (global cap).
        user_pending: pending shares charged to this process's user.
        max_per_user: the per-user cap in force.
        max_total: the global cap in force.
    """

    pending: int
    shared: int
    redeemed: int
    expired: int
    revoked: int
    reaped: int
    refused_user: int
    refused_global: int
    user_pending: int
    max_per_user: int
    max_total: int


class Share(NamedTuple):
    """A share made through an :class:`Events` descriptor: its token, and
    the id its :class:`Event` will carry (``ShareInfo.id``)."""

    token: str
    id: int


class EventType(enum.IntEnum):
    """How a share ended (``SOCKDUP_EVENT_*``)."""

    REDEEMED = _uapi.EVENT_REDEEMED   #: its target redeemed it
    EXPIRED = _uapi.EVENT_EXPIRED     #: its TTL ran out
    REVOKED = _uapi.EVENT_REVOKED     #: the sharer withdrew it, or the target declined it
    REAPED = _uapi.EVENT_REAPED       #: its target process exited
    UNLOADED = _uapi.EVENT_UNLOADED   #: the module was unloaded
    OVERFLOW = _uapi.EVENT_OVERFLOW   #: the queue was full: Event.lost events were dropped


@dataclasses.dataclass(frozen=True)
class Event:
    """One record of an events descriptor (``struct sockdup_event``).

    Attributes:
        type: how the share ended (an :class:`EventType`, or an int for a
            kind newer than this package).
        id: the share, as :attr:`Share.id` and ``ShareInfo.id`` name it; 0
            for OVERFLOW.
        time_ns: when, in CLOCK_MONOTONIC nanoseconds
            (``time.monotonic_ns()``).
        pid: the redeeming (REDEEMED) or revoking (REVOKED) process, or None
            (another kind, or not visible in this pid namespace).
        declined: REVOKED by the target rather than withdrawn by the sharer.
        lost: for OVERFLOW, how many events were dropped.
    """

    type: Union[EventType, int]
    id: int
    time_ns: int
    pid: Optional[int]
    declined: bool
    lost: int

    @classmethod
    def _unpack(cls, raw: bytes) -> "Event":
        _size, type_, id_, time_ns, pid, flags, lost = _uapi.EVENT.unpack(raw)
        try:
            kind: Union[EventType, int] = EventType(type_)
        except ValueError:
            kind = type_
        return cls(type=kind, id=id_, time_ns=time_ns, pid=pid if pid > 0 else None,
                   declined=bool(flags & _uapi.EVENT_DECLINED), lost=lost)


# ---- the device -------------------------------------------------------------

_lock = threading.Lock()
_dev_fd = -1


def _forget_after_fork() -> None:
    # The child drops the parent's descriptor and opens its own on first use.
    global _dev_fd, _lock
    _lock = threading.Lock()
    if _dev_fd >= 0:
        try:
            os.close(_dev_fd)
        except OSError:
            pass
    _dev_fd = -1


os.register_at_fork(after_in_child=_forget_after_fork)


def _no_device(call: str) -> OSError:
    return OSError(errno.ENODEV,
                   f"sockdup {call}: {DEVICE} does not exist: the sockdup kernel "
                   "module is not loaded (as root: modprobe sockdup)")


def _open(call: str, flags: int = os.O_RDWR) -> int:
    """A new open file of /dev/sockdup (close-on-exec), or OSError.

    @flags: os.O_RDWR for a file that reads events, os.O_WRONLY for one
    that does not (it has no event queue), with more open flags.
    """
    try:
        return os.open(DEVICE, os.O_CLOEXEC | flags)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENXIO, errno.ENODEV):
            raise _no_device(call) from None
        if e.errno in (errno.EACCES, errno.EPERM):
            raise OSError(e.errno, f"sockdup {call}: cannot open {DEVICE}: "
                          "permission denied (check its mode and group)") from None
        raise OSError(e.errno, f"sockdup {call}: cannot open {DEVICE}: "
                      f"{os.strerror(e.errno)}") from None


def _open_device(call: str) -> int:
    global _dev_fd
    with _lock:
        if _dev_fd < 0:
            # nobody reads its events: write-only, so it has no queue
            _dev_fd = _open(call, os.O_WRONLY)
        return _dev_fd


def _is_device(fd: int) -> bool:
    try:
        fst = os.fstat(fd)
        dst = os.stat(DEVICE)
    except OSError:
        return False
    return stat.S_ISCHR(fst.st_mode) and fst.st_rdev == dst.st_rdev


def _ioctl(call: str, request: int, buf: bytearray,
           messages: dict[int, str], dev: Optional[int] = None) -> int:
    """Run one ioctl on the cached /dev/sockdup descriptor (or on *dev*).

    Returns the ioctl's result.  A failure raises OSError (the subclass
    Python picks for the errno) with the message *messages* gives for that
    errno, prefixed with "sockdup CALL: ".

    A program that closed the descriptor behind our back (a daemon's
    closefrom(), say) is noticed when the ioctl fails with EBADF or ENOTTY
    on a descriptor that is no longer the device: the number is forgotten
    (never closed: it may belong to someone else now) and the device opened
    again, once.
    """
    global _dev_fd
    for attempt in (0, 1):
        fd = _open_device(call) if dev is None else dev
        try:
            return fcntl.ioctl(fd, request, buf, True)
        except OSError as e:
            code = e.errno if e.errno is not None else errno.EIO
            if (code in (errno.EBADF, errno.ENOTTY) and not attempt and dev is None and
                    not _is_device(fd)):
                with _lock:
                    if _dev_fd == fd:
                        _dev_fd = -1
                continue
            text = messages.get(code) or os.strerror(code)
            raise OSError(code, f"sockdup {call}: {text}") from None
    raise AssertionError("unreachable")


_NO_SHARE = ("no such share: the token is unknown, already redeemed, expired "
             "or revoked")


# ---- the calls ----------------------------------------------------------------

def _fileno(sock_or_fd: SocketOrFd) -> int:
    if isinstance(sock_or_fd, bool):
        raise TypeError("expected a socket or a descriptor number, not bool")
    if isinstance(sock_or_fd, int):
        return sock_or_fd
    fileno = getattr(sock_or_fd, "fileno", None)
    if fileno is None:
        raise TypeError("expected a socket or a descriptor number, not "
                        f"{type(sock_or_fd).__name__}")
    return fileno()


def share(sock_or_fd: SocketOrFd, pid: int, ttl: Optional[float] = None) -> str:
    """Share a socket with process *pid*; return the token for it.

    *sock_or_fd* is a ``socket.socket`` (or any object with ``fileno()``)
    or a descriptor number.  Only process *pid* (any of its threads, also
    after it calls exec) can redeem the token, once, with :func:`fromshare`
    or with libsockdup (``sockdup_redeem_token()``, ``sockdup exec``).
    *ttl* is the share's lifetime in seconds (None: the module's
    default_ttl_ms, 60 s unless changed).

    The share holds the socket open until it is redeemed, revoked, expires or
    its target exits: the caller may close its own socket and even exit
    right after sharing.

    Raises OSError: EBADF (the descriptor is not open), ENOTSOCK (not a
    socket), ESRCH as ProcessLookupError (no such process, a thread id or
    an exited process), EINVAL (*ttl* above the module's max_ttl_ms), EDQUOT
    (this user's pending shares are at max_per_user), ENOSPC (all pending
    shares are at max_total), ENODEV (no /dev/sockdup).  ValueError for a
    pid below 1 or a TTL that is not positive or does not fit.
    """
    return _share("share", sock_or_fd, pid, ttl, None).token


def _share(call: str, sock_or_fd: SocketOrFd, pid: int, ttl: Optional[float],
           events: "Optional[Events]") -> "Share":
    """SHARE of one socket through the cached descriptor, or through
    *events*; the arguments are checked first."""
    fd = _fileno(sock_or_fd)
    _check_pid(pid)
    ttl_ms = _ttl_ms(ttl)
    if fd < 0 or fd > 0x7FFFFFFF:
        raise OSError(errno.EBADF, f"sockdup {call}: descriptor {fd} is not open")

    dev = None if events is None else events._device(call)
    buf = bytearray(_uapi.SHARE.pack(0, fd, pid, ttl_ms, bytes(16), 0, 0, 0, 0))
    _ioctl(call, _uapi.IOC_SHARE, buf, _share_messages(
        f"descriptor {fd} is", pid, ttl_ms), dev)
    cookie, share_id = _uapi.SHARE.unpack(buf)[4:6]
    return Share(encode_token(cookie), share_id)


def _check_pid(pid: int) -> None:
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise TypeError(f"pid must be an int, not {type(pid).__name__}")
    if pid <= 0 or pid > 0x7FFFFFFF:
        raise ValueError(f"pid must be a process id (1 or more), not {pid}")


def _ttl_ms(ttl: Optional[float]) -> int:
    """*ttl* in seconds as SHARE's milliseconds (0: the module's default)."""
    if ttl is None:
        return 0
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError(f"ttl must be a number of seconds, not {type(ttl).__name__}")
    if not (ttl > 0 and math.isfinite(ttl)):
        raise ValueError(f"ttl must be a positive number of seconds, not {ttl}")
    ttl_ms = max(1, round(ttl * 1000))
    if ttl_ms > 0xFFFFFFFF:
        raise ValueError(f"ttl of {ttl} s does not fit sockdup's 32-bit "
                         "milliseconds (at most 4294967.295 s)")
    return ttl_ms


def _share_messages(what: str, pid: int, ttl_ms: int) -> dict[int, str]:
    """SHARE's errors in sockdup's terms; *what* names the descriptors."""
    return {
        errno.EBADF: f"{what} not open",
        errno.ENOTSOCK: f"{what} not a socket",
        errno.ESRCH: f"no process with pid {pid} (it has exited, or {pid} "
                     "is a thread id, not a process)",
        errno.EPERM: f"process {pid} cannot be a target: it is a kernel "
                     "thread, or init and this process lacks CAP_SYS_ADMIN",
        errno.EINVAL: f"ttl of {ttl_ms} ms refused: it is above the "
                      "module's max_ttl_ms" if ttl_ms else
                      "refused with EINVAL by the module",
        errno.EDQUOT: "too many pending shares for this user (module "
                      "parameter max_per_user; a batch takes one per "
                      "socket); redeem, revoke or let some expire",
        errno.ENOSPC: "too many pending shares in total (module parameter "
                      "max_total; a batch takes one per socket)",
    }


def share_many(socks_or_fds: "list[SocketOrFd]", pid: int,
               ttl: Optional[float] = None) -> str:
    """Share several sockets with process *pid* under one token (a batch).

    *socks_or_fds* holds 1 to 4096 sockets or descriptor numbers (the same
    socket may appear more than once).  Process *pid* redeems the token with
    :func:`fromshare_many`, which gives every socket, in this order, or
    none; libsockdup's ``sockdup_redeem_batch()`` and ``sockdup exec``
    take it too.  Unlike SCM_RIGHTS, which carries 253 descriptors per
    message and drops the rest silently, a batch is never truncated.  A
    batch of N takes N of the per-user and global quota slots.

    Raises as :func:`share` does (EBADF or ENOTSOCK when any descriptor is
    not an open socket: then nothing is shared); ValueError for an empty
    list or more than 4096.
    """
    return _share_many("share_many", socks_or_fds, pid, ttl, None).token


def _share_many(call: str, socks_or_fds: "list[SocketOrFd]", pid: int,
                ttl: Optional[float], events: "Optional[Events]") -> "Share":
    """SHARE of a batch through the cached descriptor, or through
    *events*; the arguments are checked first."""
    fds = array.array("i", (_fileno(s) for s in socks_or_fds))
    if not 0 < len(fds) <= _uapi.BATCH_MAX:
        raise ValueError(f"a batch holds 1 to {_uapi.BATCH_MAX} sockets, "
                         f"not {len(fds)}")
    _check_pid(pid)
    ttl_ms = _ttl_ms(ttl)
    dev = None if events is None else events._device(call)
    # the kernel reads the descriptors from fds' buffer, which stays put
    # while fds lives
    addr = fds.buffer_info()[0]
    buf = bytearray(_uapi.SHARE.pack(0, -1, pid, ttl_ms, bytes(16), 0, addr,
                                     len(fds), 0))
    _ioctl(call, _uapi.IOC_SHARE, buf, _share_messages(
        f"one of the {len(fds)} descriptors is", pid, ttl_ms), dev)
    cookie, share_id = _uapi.SHARE.unpack(buf)[4:6]
    return Share(encode_token(cookie), share_id)


def fromshare_many(token: Union[str, bytes], *,
                   inheritable: bool = False) -> "list[socket.socket]":
    """Redeem *token* of a batch; return all its sockets, in shared order.

    All or nothing: when one socket cannot be installed (descriptor table
    full, a security module refusing one), none is, and the share stays
    valid.  A token of one socket (from :func:`share`) gives a list of one.
    The descriptors are close-on-exec unless *inheritable* is true.

    Raises as :func:`fromshare` does.
    """
    cookie = decode_token(token)
    flags = 0 if inheritable else _uapi.REDEEM_CLOEXEC
    fds = array.array("i", [-1]) * _uapi.BATCH_MAX
    buf = bytearray(_uapi.REDEEM.pack(flags, 0, cookie, fds.buffer_info()[0],
                                      len(fds), 0))
    n = _ioctl("fromshare_many", _uapi.IOC_REDEEM, buf, {
        errno.ENOENT: _NO_SHARE,
        errno.EPERM: f"this process (pid {os.getpid()}) is not the "
                     "share's target; the share stays valid for it",
        errno.EACCES: "a security module refused one of the sockets to "
                      "this process; none was installed and the share "
                      "stays valid",
        errno.EMFILE: "this process's descriptor table has no room for "
                      "every socket of the share (RLIMIT_NOFILE); none was "
                      "installed and the share stays valid",
    })
    socks: list[socket.socket] = []
    try:
        for i in range(n):
            socks.append(socket.socket(fileno=fds[i]))
    except BaseException:
        for s in socks:
            s.close()
        for fd in fds[len(socks):n]:
            os.close(fd)
        raise
    return socks


def fromshare(token: Union[str, bytes], *, inheritable: bool = False) -> socket.socket:
    """Redeem *token*; return a new socket object for the shared socket.

    The socket's family, type and protocol are read from the descriptor.
    It is the same open socket as the sharer's: options, O_NONBLOCK and
    queued data are shared, and it closes when the last descriptor does.
    The new descriptor is close-on-exec unless *inheritable* is true.
    Exactly one redeem of a token succeeds.

    Raises ValueError for a malformed token; OSError: ENOENT as
    FileNotFoundError (unknown, redeemed, expired or revoked), EPERM as
    PermissionError (this process is not the target), EMFILE (descriptor
    table full), an LSM's errno (EACCES, as PermissionError) when a
    security module refuses, ENODEV (no /dev/sockdup).  Except for ENOENT,
    a failed redeem leaves the share valid.
    """
    cookie = decode_token(token)
    flags = 0 if inheritable else _uapi.REDEEM_CLOEXEC
    buf = bytearray(_uapi.REDEEM.pack(flags, 0, cookie, 0, 0, 0))
    fd = _ioctl("fromshare", _uapi.IOC_REDEEM, buf, {
        errno.ENOENT: _NO_SHARE,
        errno.EPERM: f"this process (pid {os.getpid()}) is not the "
                     "share's target; the share stays valid for it",
        errno.EACCES: "a security module refused the socket to this "
                      "process; the share stays valid",
        errno.EMFILE: "this process's descriptor table is full "
                      "(RLIMIT_NOFILE); the share stays valid",
        errno.EMSGSIZE: "the share holds several sockets (a batch): redeem "
                        "it with fromshare_many(); the share stays valid",
    })
    try:
        return socket.socket(fileno=fd)
    except BaseException:
        os.close(fd)
        raise


def _query(call: str, flags: int, cookie: bytes, share_id: int,
           messages: dict[int, str]) -> ShareInfo:
    info = bytearray(_uapi.SHARE_INFO.size)
    info[:8] = share_id.to_bytes(8, sys.byteorder)
    buf = bytearray(_uapi.QUERY_HEAD.pack(flags, 0, cookie)) + info
    _ioctl(call, _uapi.IOC_QUERY, buf, messages)
    return ShareInfo._unpack(bytes(buf[_uapi.QUERY_HEAD.size:]))


def _share_id(share_id: int) -> int:
    if isinstance(share_id, bool) or not isinstance(share_id, int):
        raise TypeError(f"a share id is an int, not {type(share_id).__name__}")
    if not 0 < share_id < 2**64:
        raise ValueError(f"a share id is a positive 64-bit number, not {share_id}")
    return share_id


def query(token: Union[str, bytes]) -> ShareInfo:
    """Return what the share behind *token* holds, without redeeming it.

    Only the sharing process or the target may ask.  Raises ValueError for
    a malformed token; OSError: ENOENT as FileNotFoundError (unknown,
    redeemed, expired or revoked), EPERM as PermissionError (neither the
    sharer nor the target), ENODEV (no /dev/sockdup).
    """
    return _query("query", 0, decode_token(token), 0, {
        errno.ENOENT: _NO_SHARE,
        errno.EPERM: f"this process (pid {os.getpid()}) is neither the "
                     "share's sharer nor its target",
    })


def query_id(share_id: int) -> ShareInfo:
    """Return what share *share_id* (``ShareInfo.id``) holds.

    Any process may ask about a share that :func:`list_shares` shows it.
    Raises OSError: ENOENT as FileNotFoundError (no such pending share
    visible to this user), ENODEV (no /dev/sockdup).
    """
    return _query("query_id", _uapi.QUERY_BY_ID, bytes(16), _share_id(share_id), {
        errno.ENOENT: f"no pending share {share_id} among those this user "
                      "can list",
    })


def revoke(token: Union[str, bytes]) -> None:
    """Withdraw (as the sharer) or decline (as the target) a pending share.

    Raises ValueError for a malformed token; OSError: ENOENT as
    FileNotFoundError (unknown, redeemed, expired or revoked), EPERM as
    PermissionError (neither the sharer nor the target), ENODEV (no
    /dev/sockdup).
    """
    cookie = decode_token(token)
    buf = bytearray(_uapi.REVOKE.pack(0, 0, cookie, 0))
    _ioctl("revoke", _uapi.IOC_REVOKE, buf, {
        errno.ENOENT: _NO_SHARE,
        errno.EPERM: f"this process (pid {os.getpid()}) is neither the "
                     "share's sharer nor its target",
    })


def revoke_id(share_id: int) -> None:
    """Release share *share_id* (``ShareInfo.id``), also after its sharer exited.

    Allowed to the sharer and the target, to processes of the user that
    made the share (or that it is charged to) and to root.  Raises OSError:
    ENOENT as FileNotFoundError (no such pending share visible to this
    user), EPERM as PermissionError (not this user's share), ENODEV (no
    /dev/sockdup).
    """
    buf = bytearray(_uapi.REVOKE.pack(_uapi.REVOKE_BY_ID, 0, bytes(16), _share_id(share_id)))
    _ioctl("revoke_id", _uapi.IOC_REVOKE, buf, {
        errno.ENOENT: f"no pending share {share_id} among those this user "
                      "can list",
        errno.EPERM: f"share {share_id} is neither this user's nor charged "
                     "to it (only its user or root may release it by id)",
    })


def stats() -> Stats:
    """Return the module's counters.  Raises OSError ENODEV (no /dev/sockdup)."""
    buf = bytearray(_uapi.STATS.size)
    _ioctl("stats", _uapi.IOC_STATS, buf, {})
    values = _uapi.STATS.unpack(buf)[2:]
    return Stats(**dict(zip(_uapi.STATS_FIELDS, values)))


def list_shares() -> list[ShareInfo]:
    """Return the pending shares visible to this process.

    Root (CAP_SYS_ADMIN in the initial user namespace) sees every pending
    share; anyone else sees the shares made by their uid and those whose
    target is a process of their uid.  Raises OSError ENODEV (no
    /dev/sockdup).
    """
    size = _uapi.SHARE_INFO.size
    capacity = 0
    while True:
        # array.array's buffer does not move until it is resized: its address
        # is what the kernel writes the records to.
        entries = array.array("B", bytes(capacity * size))
        address = entries.buffer_info()[0] if capacity else 0
        buf = bytearray(_uapi.LIST.pack(0, size, address, capacity, 0, 0))
        _ioctl("list_shares", _uapi.IOC_LIST, buf, {})
        count, total = _uapi.LIST.unpack(buf)[4:6]
        # the set can grow between the calls: ask again until it fits
        if total <= count:
            raw = entries.tobytes()
            return [ShareInfo._unpack(raw[i * size:(i + 1) * size])
                    for i in range(count)]
        capacity = min(total + 16, 0x7FFFFFFF // size)


# ---- events -------------------------------------------------------------------

class Events:
    """An events descriptor: it learns how each share made through it ended.

    libsockdup's sockdup_events_open(), sockdup_share_on(),
    sockdup_share_batch_on(), sockdup_events_read() and
    sockdup_events_wait() as an object::

        with sockdup.Events() as ev:
            token, share_id = ev.share(listener, target_pid)
            ...send token to the target...
            event = ev.wait(timeout=30)     # Event(type=EventType.REDEEMED, ...)

    Each share made with :meth:`share` or :meth:`share_many` produces
    exactly one :class:`Event` here when it is released (redeemed, expired,
    revoked or declined, reaped).  Shares made with the module-level
    :func:`share` produce none.  The descriptor is an open file of
    /dev/sockdup: ``fileno()`` goes into ``select``, ``selectors`` or
    asyncio's ``add_reader``; it is readable while events are queued.  A
    forked child shares the queue: each event goes to one reader.  Closing
    it discards its events and cancels no share.  It holds at most 128
    events; when it fills, an OVERFLOW event counts those that did not fit.
    """

    _fd = -1

    def __init__(self, *, nonblock: bool = False) -> None:
        """Open a new events descriptor (close-on-exec; non-blocking reads
        with *nonblock*).  Raises OSError ENODEV (no /dev/sockdup)."""
        self._fd = _open("Events", os.O_RDWR | (os.O_NONBLOCK if nonblock else 0))

    def fileno(self) -> int:
        """The descriptor, for select/poll/epoll.  ValueError once closed."""
        if self._fd < 0:
            raise ValueError("sockdup Events: this events descriptor is closed; "
                             "open a new sockdup.Events()")
        return self._fd

    def _device(self, call: str) -> int:
        """fileno(), checked to be /dev/sockdup still: once something closed
        the number behind this object's back it may name another file, which
        a read would rob of its data."""
        fd = self.fileno()
        # The likeliest reuse of the number: the module's own descriptor,
        # opened by the next share() after the number was closed.
        if not _is_device(fd) or fd == _dev_fd:
            raise OSError(errno.EBADF, f"sockdup {call}: descriptor {fd} is no "
                          "longer this Events object's: it was closed behind "
                          "its back (os.close(ev.fileno())?); open a new "
                          "sockdup.Events()")
        return fd

    def close(self) -> None:
        """Close the descriptor: its queued events go, its shares stay.

        A number closed behind this object's back is only forgotten: it
        may name another file now (the module's own descriptor, say)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            if _is_device(fd) and fd != _dev_fd:
                os.close(fd)

    def __enter__(self) -> "Events":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except OSError:
            pass

    def __repr__(self) -> str:
        state = f"fd={self._fd}" if self._fd >= 0 else "closed"
        return f"<sockdup.Events {state}>"

    def share(self, sock_or_fd: SocketOrFd, pid: int, ttl: Optional[float] = None) -> Share:
        """:func:`share` through this descriptor: returns the token and the
        share's id, which its event will carry.  Raises as :func:`share`."""
        return _share("Events.share", sock_or_fd, pid, ttl, self)

    def share_many(self, socks_or_fds: "list[SocketOrFd]", pid: int,
                   ttl: Optional[float] = None) -> Share:
        """:func:`share_many` through this descriptor: returns the batch's
        token and id.  The batch ends as a whole, with one event.  Raises as
        :func:`share_many`."""
        return _share_many("Events.share_many", socks_or_fds, pid, ttl, self)

    def read(self, max_events: int = 16) -> list[Event]:
        """Read up to *max_events* (1 to 4096) queued events, oldest first,
        each once.

        Waits for one if none is queued, unless the descriptor is
        non-blocking: then it raises BlockingIOError (EAGAIN).  A signal
        whose handler returns does not end the wait (the read is retried,
        PEP 475).
        """
        if isinstance(max_events, bool) or not isinstance(max_events, int):
            raise TypeError(f"max_events must be an int, not {type(max_events).__name__}")
        if not 0 < max_events <= _READ_MAX:
            raise ValueError(f"max_events must be 1 to {_READ_MAX}, not {max_events}")
        fd = self._device("Events.read")
        try:
            raw = os.read(fd, max_events * _uapi.EVENT.size)
        except BlockingIOError:
            raise BlockingIOError(errno.EAGAIN, "sockdup Events.read: no event "
                                  "queued (the descriptor is non-blocking; "
                                  "wait() or select() for one)") from None
        except OSError as e:
            raise OSError(e.errno, f"sockdup Events.read: {os.strerror(e.errno)}") from None
        events, off = [], 0
        # records may grow in later versions: step by each one's size
        while off + _uapi.EVENT.size <= len(raw):
            size = int.from_bytes(raw[off:off + 4], sys.byteorder)
            events.append(Event._unpack(raw[off:off + _uapi.EVENT.size]))
            off += max(size, _uapi.EVENT.size)
        return events

    def wait(self, timeout: Optional[float] = None) -> Optional[Event]:
        """Wait up to *timeout* seconds (None: for ever) for an event and
        return it, or None when none came in time.

        When another reader of the same queue (a forked child) takes the
        event first, a non-blocking descriptor goes on polling until the
        timeout; a blocking one waits in read() for the next event, as
        sockdup_events_wait() does.
        """
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError("timeout must be a number of seconds or None, not "
                                f"{type(timeout).__name__}")
            if not timeout >= 0:
                raise ValueError("timeout must be 0 or more seconds (None: wait "
                                 f"for ever), not {timeout}")
            if math.isinf(timeout):
                timeout = None
        fd = self._device("Events.wait")
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ms = None
            if deadline is not None:
                left = max(0.0, deadline - time.monotonic())
                ms = min(math.ceil(left * 1000), _POLL_MAX_MS)
            if poller.poll(ms):
                try:
                    # as sockdup_events_wait(): when another reader took
                    # the event, a blocking descriptor waits in read()
                    return self.read(1)[0]
                except BlockingIOError:
                    pass
            if deadline is not None and time.monotonic() >= deadline:
                return None


# One read() moves at most this many records (sockdup_events_read()'s cap).
_READ_MAX = 4096
# poll()'s timeout is a C int of milliseconds: longer waits poll again.
_POLL_MAX_MS = 0x7FFFFFFF
