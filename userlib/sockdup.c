// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The /dev/sockdup ioctls as functions returning 0 (or a descriptor, or a
 * count) on success and a negative errno value on failure.  Arguments the
 * kernel would refuse anyway are checked here first, so a program gets the
 * same answer whether or not the module is loaded.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "include/sockdup.h"
#include "internal.h"

/* SHARE @arg through @dev (or the cached descriptor when @dev is -1). */
static int share_arg(int dev, struct sockdup_share *arg,
		     struct sockdup_cookie *cookie, unsigned long long *id)
{
	int ret;

	if (!cookie)
		return -EINVAL;
	/* the kernel's answer: no process has such an id */
	if (arg->target_pid <= 0)
		return -ESRCH;

	if (dev < 0)
		ret = __sockdup_ioctl(SOCKDUP_IOC_SHARE, arg);
	else if (!(ret = __sockdup_check_device(dev)))
		ret = ioctl(dev, SOCKDUP_IOC_SHARE, arg) < 0 ? -errno : 0;
	if (ret < 0)
		return ret;
	memcpy(cookie->bytes, arg->cookie, sizeof(cookie->bytes));
	if (id)
		*id = arg->id;
	return 0;
}

int __sockdup_share(int dev, int fd, pid_t pid, unsigned int ttl_ms,
		    struct sockdup_cookie *cookie, unsigned long long *id)
{
	struct sockdup_share arg = {
		.fd = fd,
		.target_pid = pid,
		.ttl_ms = ttl_ms,
	};

	if (fd < 0)
		return cookie ? -EBADF : -EINVAL;
	return share_arg(dev, &arg, cookie, id);
}

int __sockdup_share_batch(int dev, const int *fds, unsigned int nfds,
			  pid_t pid, unsigned int ttl_ms,
			  struct sockdup_cookie *cookie, unsigned long long *id)
{
	struct sockdup_share arg = {
		.fd = -1,
		.target_pid = pid,
		.ttl_ms = ttl_ms,
		.fds = (uintptr_t)fds,
		.nr_fds = nfds,
	};

	if (!fds || !nfds || nfds > SOCKDUP_BATCH_MAX)
		return -EINVAL;
	return share_arg(dev, &arg, cookie, id);
}

int sockdup_share(int fd, pid_t pid, unsigned int ttl_ms,
		  struct sockdup_cookie *cookie)
{
	return __sockdup_share(-1, fd, pid, ttl_ms, cookie, NULL);
}

int sockdup_share_batch(const int *fds, unsigned int nfds, pid_t pid,
			unsigned int ttl_ms, struct sockdup_cookie *cookie)
{
	return __sockdup_share_batch(-1, fds, nfds, pid, ttl_ms, cookie, NULL);
}

int sockdup_redeem_batch(const struct sockdup_cookie *cookie,
			 unsigned int flags, int *fds, unsigned int room)
{
	struct sockdup_redeem arg = {
		.fds = (uintptr_t)fds,
		.nr_fds = room,
	};

	if (!cookie || !fds || !room || (flags & ~SOCKDUP_KEEP_ON_EXEC))
		return -EINVAL;

	if (!(flags & SOCKDUP_KEEP_ON_EXEC))
		arg.flags = SOCKDUP_REDEEM_CLOEXEC;
	memcpy(arg.cookie, cookie->bytes, sizeof(arg.cookie));
	return __sockdup_ioctl(SOCKDUP_IOC_REDEEM, &arg);
}

int sockdup_redeem(const struct sockdup_cookie *cookie, unsigned int flags)
{
	struct sockdup_redeem arg = { 0 };

	if (!cookie || (flags & ~SOCKDUP_KEEP_ON_EXEC))
		return -EINVAL;

	if (!(flags & SOCKDUP_KEEP_ON_EXEC))
		arg.flags = SOCKDUP_REDEEM_CLOEXEC;
	memcpy(arg.cookie, cookie->bytes, sizeof(arg.cookie));
	return __sockdup_ioctl(SOCKDUP_IOC_REDEEM, &arg);
}

int sockdup_revoke(const struct sockdup_cookie *cookie)
{
	struct sockdup_revoke arg = { 0 };

	if (!cookie)
		return -EINVAL;

	memcpy(arg.cookie, cookie->bytes, sizeof(arg.cookie));
	return __sockdup_ioctl(SOCKDUP_IOC_REVOKE, &arg);
}

int sockdup_query(const struct sockdup_cookie *cookie,
		  struct sockdup_share_info *info)
{
	struct sockdup_query arg = { 0 };
	int ret;

	if (!cookie || !info)
		return -EINVAL;

	memcpy(arg.cookie, cookie->bytes, sizeof(arg.cookie));
	ret = __sockdup_ioctl(SOCKDUP_IOC_QUERY, &arg);
	if (ret < 0)
		return ret;
	*info = arg.info;
	return 0;
}

int sockdup_revoke_id(unsigned long long id)
{
	struct sockdup_revoke arg = {
		.flags = SOCKDUP_REVOKE_BY_ID,
		.id = id,
	};

	if (!id)
		return -EINVAL;
	return __sockdup_ioctl(SOCKDUP_IOC_REVOKE, &arg);
}

int sockdup_query_id(unsigned long long id, struct sockdup_share_info *info)
{
	struct sockdup_query arg = { .flags = SOCKDUP_QUERY_BY_ID };
	int ret;

	if (!id || !info)
		return -EINVAL;

	arg.info.id = id;
	ret = __sockdup_ioctl(SOCKDUP_IOC_QUERY, &arg);
	if (ret < 0)
		return ret;
	*info = arg.info;
	return 0;
}

int sockdup_stats(struct sockdup_stats *stats)
{
	struct sockdup_stats arg = { 0 };
	int ret;

	if (!stats)
		return -EINVAL;

	ret = __sockdup_ioctl(SOCKDUP_IOC_STATS, &arg);
	if (ret < 0)
		return ret;
	*stats = arg;
	return 0;
}

int sockdup_list(struct sockdup_share_info *entries, unsigned int capacity,
		 unsigned long long *total)
{
	struct sockdup_list arg = {
		.entry_size = sizeof(*entries),
		.entries = (uintptr_t)entries,
		/* the count is returned as an int */
		.capacity = capacity > INT_MAX ? INT_MAX : capacity,
	};
	int ret;

	if (!entries && capacity)
		return -EINVAL;

	ret = __sockdup_ioctl(SOCKDUP_IOC_LIST, &arg);
	if (ret < 0)
		return ret;
	if (total)
		*total = arg.total;
	return (int)arg.count;
}

int sockdup_share_token(int fd, pid_t pid, unsigned int ttl_ms,
			char token[SOCKDUP_TOKEN_SIZE])
{
	struct sockdup_cookie cookie;
	int ret;

	if (!token)
		return -EINVAL;

	ret = sockdup_share(fd, pid, ttl_ms, &cookie);
	if (ret < 0)
		return ret;
	sockdup_token_encode(&cookie, token, SOCKDUP_TOKEN_SIZE);
	return 0;
}

int sockdup_redeem_token(const char *token, unsigned int flags)
{
	struct sockdup_cookie cookie;
	int ret;

	ret = sockdup_token_decode(token, &cookie);
	if (ret < 0)
		return ret;
	return sockdup_redeem(&cookie, flags);
}
