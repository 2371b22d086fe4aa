// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The library's only state: one cached descriptor for /dev/sockdup.
 *
 * It is opened O_CLOEXEC on first use and published with a compare-and-swap,
 * so threads racing to open it agree on one descriptor (the losers close
 * theirs).  A child of fork() drops its inherited copy (pthread_atfork) and
 * opens its own on first use.  A program may close the descriptor behind
 * the library's back (closefrom() in a daemon, say) and reuse its number
 * for a file of its own: so before every ioctl the library checks, with
 * fstat(), that the number still names the sockdup device.  If it does not,
 * the library forgets the number, without closing it since it may now
 * belong to someone else, and opens the device again: an ioctl meant for
 * sockdup never reaches another file.
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
/* The device number of /dev/sockdup, 0 until it was first opened. */
static dev_t device_rdev;
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

/* Whether @fd is an open descriptor of the sockdup device. */
static bool is_device(int fd)
{
	dev_t rdev = __atomic_load_n(&device_rdev, __ATOMIC_ACQUIRE);
	struct stat st;

	return rdev && !fstat(fd, &st) && S_ISCHR(st.st_mode) &&
	       st.st_rdev == rdev;
}

/* The cached descriptor, opened if need be; *@fresh if just opened. */
static int device_fd(bool *fresh)
{
	int fd = __atomic_load_n(&cached_fd, __ATOMIC_ACQUIRE);
	int expected = -1;
	struct stat st;

	*fresh = false;
	if (fd >= 0)
		return fd;

	pthread_once(&atfork_once, register_atfork);
	/*
	 * Write-only: nobody reads this descriptor's events, so it has no
	 * event queue and its shares end without the cost of an event.
	 */
	fd = open(SOCKDUP_DEVICE, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		/* ENOENT is REDEEM's "no such cookie": keep them apart */
		if (err == ENOENT || err == ENXIO || err == ENODEV)
			return -ENODEV;
		return -err;
	}
	if (fstat(fd, &st) || !S_ISCHR(st.st_mode)) {
		close(fd);
		return -ENODEV;
	}
	/* every open of the device gives the same number */
	__atomic_store_n(&device_rdev, st.st_rdev, __ATOMIC_RELEASE);
	if (!__atomic_compare_exchange_n(&cached_fd, &expected, fd, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		close(fd);
		return expected;
	}
	*fresh = true;
	return fd;
}

int __sockdup_check_device(int fd)
{
	struct stat st, dev;

	if (fstat(fd, &st))
		return -errno;
	if (!__atomic_load_n(&device_rdev, __ATOMIC_ACQUIRE)) {
		/* the library has not opened the device yet: look it up */
		if (stat(SOCKDUP_DEVICE, &dev) || !S_ISCHR(dev.st_mode))
			return -ENOTTY;
		__atomic_store_n(&device_rdev, dev.st_rdev, __ATOMIC_RELEASE);
	}
	return is_device(fd) ? 0 : -ENOTTY;
}

int __sockdup_ioctl(unsigned long cmd, void *arg)
{
	for (;;) {
		bool fresh;
		int fd = device_fd(&fresh);
		int ret;

		if (fd < 0)
			return fd;
		if (!fresh && !is_device(fd)) {
			/* not ours any more: forget the number, never close it */
			__atomic_compare_exchange_n(&cached_fd, &fd, -1, false,
						    __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE);
			continue;
		}
		ret = ioctl(fd, cmd, arg);
		return ret < 0 ? -errno : ret;
	}
}
