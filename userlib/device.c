// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The library's only state: one cached descriptor for /dev/sockdup.
 *
 * It is opened O_CLOEXEC on first use and published with a compare-and-swap,
 * so threads racing to open it agree on one descriptor (the losers close
 * theirs).  A child of fork() drops its inherited copy (pthread_atfork) and
 * opens its own on first use.  A program that closes the descriptor behind
 * the library's back (closefrom() in a daemon, say) is detected when an
 * ioctl fails with EBADF or ENOTTY on a descriptor that is no longer
 * /dev/sockdup: the library forgets the number, without closing it since it
 * may now belong to someone else, and opens the device again.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "include/sockdup.h"
#include "internal.h"

static int cached_fd = -1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_after_fork(void)
{
	int fd = __atomic_exchange_n(&cached_fd, -1, __ATOMIC_SEQ_CST);

	/* the child runs single-threaded here: nobody else can be using it */
	if (fd >= 0)
		close(fd);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_after_fork);
}

static int device_fd(void)
{
	int fd = __atomic_load_n(&cached_fd, __ATOMIC_ACQUIRE);
	int expected = -1;

	if (fd >= 0)
		return fd;

	pthread_once(&atfork_once, register_atfork);
	fd = open(SOCKDUP_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		/* ENOENT is REDEEM's "no such cookie": keep them apart */
		if (err == ENOENT || err == ENXIO || err == ENODEV)
			return -ENODEV;
		return -err;
	}
	if (!__atomic_compare_exchange_n(&cached_fd, &expected, fd, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		close(fd);
		return expected;
	}
	return fd;
}

static bool is_device(int fd)
{
	struct stat fst, dst;

	if (fstat(fd, &fst) || stat(SOCKDUP_DEVICE, &dst))
		return false;
	return S_ISCHR(fst.st_mode) && fst.st_rdev == dst.st_rdev;
}

int __sockdup_ioctl(unsigned long cmd, void *arg)
{
	int attempt;

	for (attempt = 0; ; attempt++) {
		int fd = device_fd();
		int ret, err;

		if (fd < 0)
			return fd;
		ret = ioctl(fd, cmd, arg);
		if (ret >= 0)
			return ret;
		err = errno;
		if ((err != EBADF && err != ENOTTY) || attempt || is_device(fd))
			return -err;
		/* not ours any more: forget the number, never close it */
		__atomic_compare_exchange_n(&cached_fd, &fd, -1, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
}
