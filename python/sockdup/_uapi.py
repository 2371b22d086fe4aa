# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The /dev/sockdup ABI (uapi/linux/sockdup.h) as struct formats.

Every structure of the ABI is made of fixed-width fields with no implicit
padding, so each one is a ``struct`` format in native byte order with
standard sizes (``=``): no alignment is added and none is needed.  The
sizes and field offsets are pinned against the C header by
python/tests/layout_unit.py, which compiles a tiny C program.
"""

from __future__ import annotations

import struct

DEVICE = "/dev/sockdup"
COOKIE_SIZE = 16

REDEEM_CLOEXEC = 0x1
REVOKE_BY_ID = 0x1
QUERY_BY_ID = 0x1
ADDR_SIZE = 128
BATCH_MAX = 4096

# struct sockdup_share: flags, fd, target_pid, ttl_ms, cookie[16], id,
# fds (user pointer), nr_fds, reserved
SHARE = struct.Struct("=IiiI16sQQII")
# struct sockdup_redeem: flags, reserved, cookie[16], fds (user pointer),
# nr_fds, reserved2
REDEEM = struct.Struct("=II16sQII")
# struct sockdup_revoke: flags, reserved, cookie[16], id
REVOKE = struct.Struct("=II16sQ")
# struct sockdup_share_info: id, sock_ino, family, type, protocol,
# sharer_pid, target_pid, sharer_uid, age_ms, ttl_left_ms, nr_fds, reserved,
# local_addr_len, peer_addr_len, local_addr[128], peer_addr[128]
SHARE_INFO = struct.Struct("=QQIIIiiIQQIIII128s128s")
# struct sockdup_query: flags, reserved, cookie[16], struct sockdup_share_info
QUERY_HEAD = struct.Struct("=II16s")
QUERY_SIZE = QUERY_HEAD.size + SHARE_INFO.size
# struct sockdup_stats: flags, reserved, then eleven __u64 counters
STATS = struct.Struct("=II" + "Q" * 11)
STATS_FIELDS = (
    "pending", "shared", "redeemed", "expired", "revoked", "reaped",
    "refused_user", "refused_global", "user_pending", "max_per_user",
    "max_total",
)
# struct sockdup_list: flags, entry_size, entries, capacity, count, total
LIST = struct.Struct("=IIQIIQ")
# struct sockdup_event: size, type, id, time_ns, pid, flags, lost
EVENT = struct.Struct("=IIQQiIQ")
EVENT_REDEEMED = 1
EVENT_EXPIRED = 2
EVENT_REVOKED = 3
EVENT_REAPED = 4
EVENT_UNLOADED = 5
EVENT_OVERFLOW = 6
EVENT_DECLINED = 0x1

# <asm-generic/ioctl.h>, which x86-64 uses: nr 8 bits, type 8, size 14,
# direction 2 (write = 1, read = 2; "write" is user to kernel).
_IOC_WRITE = 1
_IOC_READ = 2
IOC_MAGIC = 0xB9


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (IOC_MAGIC << 8) | nr


IOC_SHARE = _ioc(_IOC_READ | _IOC_WRITE, 0x00, SHARE.size)
IOC_REDEEM = _ioc(_IOC_WRITE, 0x01, REDEEM.size)
IOC_REVOKE = _ioc(_IOC_WRITE, 0x02, REVOKE.size)
IOC_QUERY = _ioc(_IOC_READ | _IOC_WRITE, 0x03, QUERY_SIZE)
IOC_STATS = _ioc(_IOC_READ | _IOC_WRITE, 0x04, STATS.size)
IOC_LIST = _ioc(_IOC_READ | _IOC_WRITE, 0x05, LIST.size)
