/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
#ifndef LIBSOCKDUP_INTERNAL_H
#define LIBSOCKDUP_INTERNAL_H

/* ioctl() on the cached /dev/sockdup descriptor; returns >= 0 or -errno */
int __sockdup_ioctl(unsigned long cmd, void *arg);

#endif
