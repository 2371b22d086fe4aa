// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * sockdup_share_pidfd(): share with the process a pidfd refers to.
 *
 * The module names a target by pid number only: no kernel it supports
 * exports a way for a module to recognise a pidfd and read its struct pid
 * (pidfd_get_pid(), pidfd_pid() and pidfd_get_task() are all internal).
 * The binding is made race-free here instead, in three steps:
 *
 *  1. read the pid number N from the pidfd's /proc/self/fdinfo entry
 *     ("Pid:"; -1 once the process has exited);
 *  2. SHARE with N, which binds the cookie to whichever process bears N;
 *  3. check with pidfd_send_signal(pidfd, 0) that the pidfd's process is
 *     still alive.
 *
 * A pid number is only freed when its process has exited and been reaped.
 * If the process is alive at step 3, it held N from step 1 through step 3,
 * so the SHARE of step 2 bound the cookie to it.  If it is dead, N may have
 * been given to another process in between: the share is revoked and the
 * caller gets ESRCH.  The cookie has not left this function by then, so no
 * other process can have redeemed it.
 *
 * Step 1 reads numbers in the pid namespace of the /proc mount and step 2
 * resolves them in the caller's: the function refuses to run (EXDEV) unless
 * the two are the same namespace.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "include/sockdup.h"
#include "internal.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/*
 * Test hook, called after step 1 (stage 1, @cookie NULL) and after step 2
 * (stage 2).  The selftests define it to recycle the pid number between the
 * steps; it compiles to nothing in the library.
 */
#ifndef SOCKDUP_PIDFD_TEST_HOOK
#define SOCKDUP_PIDFD_TEST_HOOK(stage, pid, cookie) do { } while (0)
#endif

/*
 * Value of the first line of the file at @path that starts with @key,
 * parsed as a list of integers: the count of them, and the first in *@first.
 * Returns -ENOENT when the file has no such line, -errno when it cannot be
 * read.
 */
static int proc_field(const char *path, const char *key, long *first)
{
	size_t klen = strlen(key);
	char line[256];
	int count = -ENOENT;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + klen, *end;

		if (strncmp(line, key, klen))
			continue;
		count = 0;
		for (;;) {
			long v;

			while (*p == ' ' || *p == '\t')
				p++;
			if (!*p || *p == '\n')
				break;
			errno = 0;
			v = strtol(p, &end, 10);
			if (end == p || errno) {
				count = -EIO;
				break;
			}
			if (!count)
				*first = v;
			count++;
			p = end;
		}
		break;
	}
	fclose(f);
	return count;
}

/*
 * Whether /proc shows pid numbers of the caller's pid namespace: the
 * caller's NSpid line then holds one number (its pid in its own namespace,
 * where /proc starts counting) and it is getpid().  A kernel without pid
 * namespaces has no NSpid line, and a single namespace.
 */
static int proc_is_own_pidns(void)
{
	long self = 0;
	int n = proc_field("/proc/self/status", "NSpid:", &self);

	if (n == -ENOENT) {
		/* no line, or no /proc/self (a /proc of another namespace) */
		if (access("/proc/self/status", R_OK))
			return -EXDEV;
		return 0;
	}
	if (n < 0)
		return n;
	return n == 1 && self == (long)getpid() ? 0 : -EXDEV;
}

/* Step 1: the pid number of @pidfd's process, or -errno. */
static int pidfd_to_pid(int pidfd, pid_t *pid)
{
	char path[64];
	long nr = 0;
	int ret;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	ret = proc_field(path, "Pid:", &nr);
	if (ret == -ENOENT) {
		/* no such descriptor, or one that is not a pidfd */
		if (fcntl(pidfd, F_GETFD) < 0)
			return -EBADF;
		if (access("/proc/self/fdinfo", R_OK))
			return -EXDEV;	/* no /proc */
		return -EINVAL;
	}
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EINVAL;
	/* -1: exited; 0: not visible in this namespace */
	if (nr <= 0)
		return -ESRCH;
	*pid = (pid_t)nr;
	return 0;
}

/* Step 3: 0 while @pidfd's process is alive, -ESRCH once it has exited. */
static int pidfd_alive(int pidfd)
{
	if (!syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0))
		return 0;
	/* EPERM: the process exists, the caller just may not signal it */
	if (errno == EPERM)
		return 0;
	return -errno;
}

/* Through @dev, or the cached descriptor if @dev is -1. */
static int share_pidfd(int dev, int fd, int pidfd, unsigned int ttl_ms,
		       struct sockdup_cookie *cookie, unsigned long long *id)
{
	struct sockdup_cookie c;
	pid_t pid = 0;
	int ret;

	if (!cookie)
		return -EINVAL;
	if (pidfd < 0)
		return -EBADF;

	ret = proc_is_own_pidns();
	if (ret < 0)
		return ret;
	ret = pidfd_to_pid(pidfd, &pid);
	if (ret < 0)
		return ret;
	SOCKDUP_PIDFD_TEST_HOOK(1, pid, NULL);

	ret = __sockdup_share(dev, fd, pid, ttl_ms, &c, id);
	if (ret < 0)
		return ret;
	SOCKDUP_PIDFD_TEST_HOOK(2, pid, &c);

	ret = pidfd_alive(pidfd);
	if (ret < 0) {
		/*
		 * The share may name another process that got the number:
		 * withdraw it.  ENOENT means it is gone already (expired, or
		 * reaped with its dead target).
		 */
		sockdup_revoke(&c);
		return ret == -EBADF ? -EBADF : -ESRCH;
	}
	*cookie = c;
	return 0;
}

int sockdup_share_pidfd(int fd, int pidfd, unsigned int ttl_ms,
			struct sockdup_cookie *cookie)
{
	return share_pidfd(-1, fd, pidfd, ttl_ms, cookie, NULL);
}

int sockdup_share_pidfd_on(int evfd, int fd, int pidfd, unsigned int ttl_ms,
			   struct sockdup_cookie *cookie,
			   unsigned long long *id)
{
	if (evfd < 0)
		return -EBADF;
	return share_pidfd(evfd, fd, pidfd, ttl_ms, cookie, id);
}
