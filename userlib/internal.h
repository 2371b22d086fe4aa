/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
#ifndef LIBSOCKDUP_INTERNAL_H
#define LIBSOCKDUP_INTERNAL_H

/* ioctl() on the cached /dev/sockdup descriptor; returns >= 0 or -errno */
int __sockdup_ioctl(unsigned long cmd, void *arg);

/*
 * 0 if @fd is a descriptor of /dev/sockdup; -EBADF if it is not open,
 * -ENOTTY if it is another file (no sockdup call is made on it then).
 */
int __sockdup_check_device(int fd);

struct sockdup_cookie;

/*
 * SHARE through @dev, or through the cached descriptor when @dev is -1;
 * the share's id in *@id unless @id is NULL.  Returns 0 or -errno.
 */
int __sockdup_share(int dev, int fd, pid_t pid, unsigned int ttl_ms,
		    struct sockdup_cookie *cookie, unsigned long long *id);

/* The same for the @nfds sockets @fds, under one cookie (a batch). */
int __sockdup_share_batch(int dev, const int *fds, unsigned int nfds,
			  pid_t pid, unsigned int ttl_ms,
			  struct sockdup_cookie *cookie, unsigned long long *id);

#endif
