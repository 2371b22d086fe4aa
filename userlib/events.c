// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Events: an open file of /dev/sockdup of the program's own, through which
 * it shares, and which tells it how each of those shares ended.
 *
 * The library's cached descriptor is private to it (and replaced in a
 * fork() child), so events need a descriptor the program holds: it comes
 * from sockdup_events_open(), and sockdup_share_on() and
 * sockdup_share_pidfd_on() share through it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "include/sockdup.h"
#include "internal.h"

int sockdup_events_open(unsigned int flags)
{
	int fd, err;

	if (flags & ~SOCKDUP_EVENTS_NONBLOCK)
		return -EINVAL;
	fd = open(SOCKDUP_DEVICE, O_RDWR | O_CLOEXEC |
		  (flags & SOCKDUP_EVENTS_NONBLOCK ? O_NONBLOCK : 0));
	if (fd >= 0)
		return fd;
	err = errno;
	/* ENOENT is REDEEM's "no such cookie": keep them apart */
	if (err == ENOENT || err == ENXIO || err == ENODEV)
		return -ENODEV;
	return -err;
}

int sockdup_share_on(int evfd, int fd, pid_t pid, unsigned int ttl_ms,
		     struct sockdup_cookie *cookie, unsigned long long *id)
{
	if (evfd < 0)
		return -EBADF;
	return __sockdup_share(evfd, fd, pid, ttl_ms, cookie, id);
}

int sockdup_share_batch_on(int evfd, const int *fds, unsigned int nfds,
			   pid_t pid, unsigned int ttl_ms,
			   struct sockdup_cookie *cookie,
			   unsigned long long *id)
{
	if (evfd < 0)
		return -EBADF;
	return __sockdup_share_batch(evfd, fds, nfds, pid, ttl_ms, cookie, id);
}

int sockdup_events_read(int evfd, struct sockdup_event *events,
			unsigned int max)
{
	ssize_t n;
	int ret;

	if (!events || !max)
		return -EINVAL;
	/* a read of another file would take its data */
	ret = __sockdup_check_device(evfd);
	if (ret < 0)
		return ret;
	if (max > 4096)
		max = 4096;
	do
		n = read(evfd, events, (size_t)max * sizeof(*events));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (int)((size_t)n / sizeof(*events));
}

/* Milliseconds of CLOCK_MONOTONIC. */
static long long events_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sockdup_events_wait(int evfd, int timeout_ms, struct sockdup_event *event)
{
	struct pollfd p = { .fd = evfd, .events = POLLIN };
	long long deadline = 0, left;
	int ret, wait_ms = timeout_ms;

	if (!event)
		return -EINVAL;
	if (timeout_ms > 0)
		deadline = events_now_ms() + timeout_ms;
	/* a signal does not start the time over: poll again for what is left */
	while ((ret = poll(&p, 1, wait_ms)) < 0 && errno == EINTR) {
		if (timeout_ms <= 0)
			continue;
		left = deadline - events_now_ms();
		wait_ms = left > 0 ? (int)left : 0;
	}
	if (ret < 0)
		return -errno;
	if (ret == 0)
		return 0;
	if (p.revents & POLLNVAL)
		return -EBADF;
	return sockdup_events_read(evfd, event, 1);
}
