/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sockdup_util.h - helpers shared by the sockdup selftests
 *
 * Include it after kselftest_harness.h (or on its own: it needs nothing from
 * the harness).  Conventions, so that the helpers can be used anywhere:
 *
 * - No helper calls ASSERT_*() or EXPECT_*(): each returns a value and sets
 *   errno, and the test asserts.  This makes them usable in forked children.
 * - Forked children must never use ASSERT_*()/EXPECT_*() themselves: the
 *   harness would longjmp() into the child's copy of the test wrapper and
 *   run the fixture teardown in the child.  Children report over the control
 *   socket of sd_fork() or through their exit status, and end with _exit().
 * - The ioctl wrappers return exactly what ioctl() returns (-1 and errno on
 *   failure) so tests can write EXPECT_EQ(-1, ret); EXPECT_EQ(EINVAL, errno);
 * - Helpers that can fail for a reason worth printing leave a message that
 *   sd_errmsg() returns: ASSERT_EQ(0, sd_sock_check_io(&s, fd))
 *   TH_LOG("%s", sd_errmsg());
 * - Every descriptor the helpers create is O_CLOEXEC.
 *
 * The socket helpers (struct sd_sock: every socket kind with an observer
 * that sees it close, SD_KIND_VARIANTS()) live in sockdup_sock.h, which
 * this header includes at its end.
 */
#ifndef SOCKDUP_UTIL_H
#define SOCKDUP_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <linux/sockdup.h>

#include "kselftest.h"
#include "sd_time.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockdup_skip.h"

/* The ABI is fixed: pin every size (the module pins them with BUILD_BUG_ON). */
_Static_assert(sizeof(struct sockdup_share) == 56, "sockdup_share size");
_Static_assert(sizeof(struct sockdup_redeem) == 40, "sockdup_redeem size");
_Static_assert(sizeof(struct sockdup_revoke) == 32, "sockdup_revoke size");
_Static_assert(sizeof(struct sockdup_share_info) == 328, "share_info size");
_Static_assert(sizeof(struct sockdup_query) == 352, "sockdup_query size");
_Static_assert(SOCKDUP_REVOKE_SIZE_VER0 == 24 && SOCKDUP_QUERY_SIZE_VER0 == 88 &&
	       SOCKDUP_SHARE_INFO_SIZE_VER0 == 64, "first versions");
_Static_assert(sizeof(struct sockdup_stats) == 96, "sockdup_stats size");
_Static_assert(sizeof(struct sockdup_list) == 32, "sockdup_list size");
_Static_assert(sizeof(struct sockdup_event) == 40, "sockdup_event size");

/* Directory of the module's parameters. */
#define SD_PARAM_DIR	"/sys/module/sockdup/parameters"

/* ------------------------------------------------------------------ */
/* Error messages                                                      */
/* ------------------------------------------------------------------ */

static __thread char sd_errbuf[256];

/**
 * sd_errmsg() - why the last failing helper of this thread failed
 *
 * Return: a message, "" if no helper has failed yet.
 */
static inline const char *sd_errmsg(void)
{
	return sd_errbuf;
}

/* Records a message for sd_errmsg(); keeps errno intact. */
static inline __printf(1, 2) void
sd_seterr(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sd_errbuf, sizeof(sd_errbuf), fmt, ap);
	va_end(ap);
	errno = saved;
}

/* ------------------------------------------------------------------ */
/* Cookies                                                             */
/* ------------------------------------------------------------------ */

/* A cookie as a value type (copyable with =). */
struct sd_cookie {
	__u8 b[SOCKDUP_COOKIE_SIZE];
};

/** sd_cookie_hex() - @c as 32 lower-case hex digits in @buf; returns @buf */
static inline char *sd_cookie_hex(const struct sd_cookie *c,
				  char buf[2 * SOCKDUP_COOKIE_SIZE + 1])
{
	int i;

	for (i = 0; i < SOCKDUP_COOKIE_SIZE; i++)
		sprintf(buf + 2 * i, "%02x", c->b[i]);
	return buf;
}

/** sd_cookie_parse() - parse 32 hex digits into @c; 0 or -1 (EINVAL) */
static inline int sd_cookie_parse(const char *s, struct sd_cookie *c)
{
	int i;

	if (strlen(s) != 2 * SOCKDUP_COOKIE_SIZE)
		goto bad;
	for (i = 0; i < SOCKDUP_COOKIE_SIZE; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			goto bad;
		c->b[i] = v;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/** sd_cookie_random() - fill @c with random bytes (never all zero) */
static inline void sd_cookie_random(struct sd_cookie *c)
{
	if (getrandom(c->b, sizeof(c->b), 0) != sizeof(c->b)) {
		unsigned int i;

		srand(getpid() ^ (unsigned int)sd_now_ms());
		for (i = 0; i < sizeof(c->b); i++)
			c->b[i] = rand();
	}
	c->b[0] |= 1;
}

/** sd_cookie_is_zero() - true if all bytes of @c are zero */
static inline bool sd_cookie_is_zero(const struct sd_cookie *c)
{
	unsigned int i;

	for (i = 0; i < sizeof(c->b); i++)
		if (c->b[i])
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* ioctl wrappers: each returns what ioctl() returns                   */
/* ------------------------------------------------------------------ */

/** sd_open() - open /dev/sockdup read-write, close-on-exec */
static inline int sd_open(void)
{
	return open(SOCKDUP_DEVICE, O_RDWR | O_CLOEXEC);
}

/**
 * sd_share() - SOCKDUP_IOC_SHARE of @fd for @target with @ttl_ms
 * @dev: a /dev/sockdup descriptor
 * @fd: the socket to share
 * @target: the target process id
 * @ttl_ms: TTL in ms, 0 for the module's default
 * @cookie: out (may be NULL): the cookie, written only on success
 *
 * Return: 0, or -1 and errno.
 */
static inline int sd_share(int dev, int fd, pid_t target, __u32 ttl_ms,
			   struct sd_cookie *cookie)
{
	struct sockdup_share sh = {
		.fd = fd, .target_pid = target, .ttl_ms = ttl_ms,
	};
	int ret = ioctl(dev, SOCKDUP_IOC_SHARE, &sh);

	if (ret == 0 && cookie)
		memcpy(cookie->b, sh.cookie, sizeof(cookie->b));
	return ret;
}

/**
 * sd_redeem() - SOCKDUP_IOC_REDEEM of @cookie with @flags
 *
 * Return: the new descriptor, or -1 and errno.
 */
static inline int sd_redeem(int dev, const struct sd_cookie *cookie,
			    __u32 flags)
{
	struct sockdup_redeem rd = { .flags = flags };

	memcpy(rd.cookie, cookie->b, sizeof(rd.cookie));
	return ioctl(dev, SOCKDUP_IOC_REDEEM, &rd);
}

/**
 * sd_share_batch() - SOCKDUP_IOC_SHARE of the @n sockets @fds under one
 *	cookie for @target with @ttl_ms
 * @cookie: out (may be NULL): the cookie, written only on success
 *
 * Return: 0, or -1 and errno.
 */
static inline int sd_share_batch(int dev, const int *fds, unsigned int n,
				 pid_t target, __u32 ttl_ms,
				 struct sd_cookie *cookie)
{
	struct sockdup_share sh = {
		.fd = -1, .target_pid = target, .ttl_ms = ttl_ms,
		.fds = (__u64)(uintptr_t)fds, .nr_fds = n,
	};
	int ret = ioctl(dev, SOCKDUP_IOC_SHARE, &sh);

	if (ret == 0 && cookie)
		memcpy(cookie->b, sh.cookie, sizeof(cookie->b));
	return ret;
}

/**
 * sd_redeem_batch() - SOCKDUP_IOC_REDEEM of @cookie in the batch form,
 *	into @fds with room for @room descriptors
 *
 * Return: the number of descriptors written to @fds, or -1 and errno.
 */
static inline int sd_redeem_batch(int dev, const struct sd_cookie *cookie,
				  __u32 flags, int *fds, unsigned int room)
{
	struct sockdup_redeem rd = {
		.flags = flags, .fds = (__u64)(uintptr_t)fds, .nr_fds = room,
	};

	memcpy(rd.cookie, cookie->b, sizeof(rd.cookie));
	return ioctl(dev, SOCKDUP_IOC_REDEEM, &rd);
}

/** sd_revoke() - SOCKDUP_IOC_REVOKE of @cookie; 0, or -1 and errno */
static inline int sd_revoke(int dev, const struct sd_cookie *cookie)
{
	struct sockdup_revoke rv = { 0 };

	memcpy(rv.cookie, cookie->b, sizeof(rv.cookie));
	return ioctl(dev, SOCKDUP_IOC_REVOKE, &rv);
}

/** sd_query() - SOCKDUP_IOC_QUERY of @cookie into @info (may be NULL) */
static inline int sd_query(int dev, const struct sd_cookie *cookie,
			   struct sockdup_share_info *info)
{
	struct sockdup_query q = { 0 };
	int ret;

	memcpy(q.cookie, cookie->b, sizeof(q.cookie));
	ret = ioctl(dev, SOCKDUP_IOC_QUERY, &q);
	if (ret == 0 && info)
		*info = q.info;
	return ret;
}

/** sd_stats() - SOCKDUP_IOC_STATS into @st; 0, or -1 and errno */
static inline int sd_stats(int dev, struct sockdup_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(dev, SOCKDUP_IOC_STATS, st);
}

/** sd_pending() - STATS.pending, or -1 and errno */
static inline long long sd_pending(int dev)
{
	struct sockdup_stats st;

	if (sd_stats(dev, &st))
		return -1;
	return st.pending;
}

/**
 * sd_wait_pending() - wait until STATS.pending is @want
 * @timeout_ms: how long to wait at most
 *
 * Return: the last value read (== @want on success), or -1 and errno.
 */
static inline long long sd_wait_pending(int dev, long long want,
					long timeout_ms)
{
	long long end = sd_now_ms() + timeout_ms, p;

	for (;;) {
		p = sd_pending(dev);
		if (p == want)
			sd_waited("STATS.pending to reach its value",
				  sd_now_ms() - end + timeout_ms, timeout_ms);
		if (p < 0 || p == want)
			return p;
		if (sd_now_ms() >= end) {
			sd_timed_out("STATS.pending to reach its value", timeout_ms);
			return p;
		}
		sd_sleep_ms(20);
	}
}

/* ------------------------------------------------------------------ */
/* Module parameters                                                   */
/* ------------------------------------------------------------------ */

/** sd_param_get() - read integer parameter @name into @val; 0 or -1 */
static inline int sd_param_get(const char *name, long long *val)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SD_PARAM_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sd_seterr("open %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		sd_seterr("read %s: %s", path, n ? strerror(errno) : "empty");
		return -1;
	}
	buf[n] = 0;
	*val = strtoll(buf, NULL, 0);
	return 0;
}

/** sd_param_set() - write @val to parameter @name; 0 or -1 */
static inline int sd_param_set(const char *name, long long val)
{
	char path[256], buf[64];
	int fd, len;
	ssize_t n;

	snprintf(path, sizeof(path), SD_PARAM_DIR "/%s", name);
	len = snprintf(buf, sizeof(buf), "%lld\n", val);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		sd_seterr("open %s: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, buf, len);
	close(fd);
	if (n != len) {
		sd_seterr("write %lld to %s: %s", val, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Processes                                                           */
/* ------------------------------------------------------------------ */

/** sd_gettid() - the caller's thread id */
static inline pid_t sd_gettid(void)
{
	return syscall(SYS_gettid);
}

/**
 * sd_fork() - fork a child that dies with its parent
 * @ctl: out (may be NULL): in the parent, its end of a SOCK_SEQPACKET
 *	socketpair shared with the child; in the child, the child's end.
 *
 * The child gets PR_SET_PDEATHSIG(SIGKILL) (it dies when the forking thread
 * does) and must end with _exit().  Both ends are O_CLOEXEC.
 *
 * Return: as fork(): 0 in the child, the child's pid in the parent, or -1.
 */
static inline pid_t sd_fork(int *ctl)
{
	pid_t parent = getpid(), pid;
	int sv[2] = { -1, -1 };

	if (ctl && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		sd_seterr("socketpair: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		sd_seterr("fork: %s", strerror(errno));
		if (ctl) {
			close(sv[0]);
			close(sv[1]);
		}
		return -1;
	}
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(125);
		if (ctl) {
			close(sv[0]);
			*ctl = sv[1];
		}
		return 0;
	}
	if (ctl) {
		close(sv[1]);
		*ctl = sv[0];
	}
	return pid;
}

/**
 * sd_wait() - reap child @pid
 *
 * Return: its exit status (0-255), 128 + the signal that killed it, or -1.
 */
static inline int sd_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			sd_seterr("waitpid %d: %s", pid, strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/**
 * sd_kill_wait() - SIGKILL and reap @pid (for teardowns); ignores errors
 */
static inline void sd_kill_wait(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/**
 * sd_wait_zombie() - wait until child @pid has exited, without reaping it
 *
 * Return: 0 once it is a zombie, or -1 and errno.
 */
static inline int sd_wait_zombie(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* PID namespaces                                                      */
/* ------------------------------------------------------------------ */

/**
 * sd_in_new_pidns() - run @fn as the init of a new pid namespace
 * @fn: called in the namespace's init (pid 1 there), with its own /proc
 *	mounted in a new mount namespace; returns the init's exit status.
 * @ctl: passed to @fn.
 *
 * Called in a child of the test (it unshares the caller's namespaces).
 *
 * Return: the exit status of the namespace's init, as sd_wait() gives it.
 */
static inline int sd_in_new_pidns(int (*fn)(int ctl), int ctl)
{
	pid_t init;

	if (unshare(CLONE_NEWPID | CLONE_NEWNS))
		return 100 + errno;
	init = fork();
	if (init < 0)
		return 99;
	if (init == 0) {
		/* pid 1 here; getppid() is 0, outside the namespace. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("proc", "/proc", "proc", 0, NULL))
			_exit(98);
		_exit(fn(ctl));
	}
	return sd_wait(init);
}

/**
 * sd_set_last_pid() - make @last + 1 the next pid of this pid namespace
 *
 * Writes /proc/sys/kernel/ns_last_pid (CAP_SYS_ADMIN in the namespace).
 *
 * Return: 0, or -1 and errno.
 */
static inline int sd_set_last_pid(pid_t last)
{
	char buf[32];
	int fd, len, ret;

	fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = snprintf(buf, sizeof(buf), "%d", last);
	ret = write(fd, buf, len) == len ? 0 : -1;
	close(fd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Control channel (SOCK_SEQPACKET from sd_fork())                     */
/* ------------------------------------------------------------------ */

/** sd_send() - send one message of @len bytes; 0, or -1 and errno */
static inline int sd_send(int ctl, const void *buf, size_t len)
{
	ssize_t n = send(ctl, buf, len, MSG_NOSIGNAL);

	if (n != (ssize_t)len) {
		sd_seterr("ctl send: %s", n < 0 ? strerror(errno) : "short");
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

/**
 * sd_recv() - receive one message of exactly @len bytes
 * @timeout_ms: how long to wait; -1 forever
 *
 * Return: 0, or -1 and errno (ETIMEDOUT, EPIPE when the other end is gone,
 * EPROTO for a message of another size).
 */
static inline int sd_recv(int ctl, void *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = ctl, .events = POLLIN };
	long long t0 = sd_now_ms();
	ssize_t n;
	int ret;

	do
		ret = poll(&pfd, 1, timeout_ms);
	while (ret < 0 && errno == EINTR);
	if (ret > 0)
		sd_waited("a message on the control socket", sd_now_ms() - t0,
			  timeout_ms);
	if (ret == 0) {
		sd_seterr("ctl recv: timed out after %d ms", timeout_ms);
		sd_timed_out("a message from the other process on the control socket",
			     timeout_ms);
		errno = ETIMEDOUT;
		return -1;
	}
	n = recv(ctl, buf, len, MSG_DONTWAIT);
	if (n == (ssize_t)len)
		return 0;
	sd_seterr("ctl recv: %s", n < 0 ? strerror(errno) :
		  n == 0 ? "peer gone" : "wrong size");
	if (n >= 0)
		errno = n ? EPROTO : EPIPE;
	return -1;
}

/** sd_send_int() / sd_recv_int(): one int as a message */
static inline int sd_send_int(int ctl, int v)
{
	return sd_send(ctl, &v, sizeof(v));
}

static inline int sd_recv_int(int ctl, int *v, int timeout_ms)
{
	return sd_recv(ctl, v, sizeof(*v), timeout_ms);
}

/** sd_send_fd() - send descriptor @fd (SCM_RIGHTS) with one byte */
static inline int sd_send_fd(int ctl, int fd)
{
	char c = 'F';
	struct iovec iov = { &c, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	memset(&u, 0, sizeof(u));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(ctl, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/** sd_recv_fd() - receive a descriptor sent by sd_send_fd() (O_CLOEXEC) */
static inline int sd_recv_fd(int ctl, int timeout_ms)
{
	struct pollfd pfd = { .fd = ctl, .events = POLLIN };
	char c;
	struct iovec iov = { &c, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	int fd;

	if (poll(&pfd, 1, timeout_ms) != 1) {
		sd_timed_out("a descriptor from the other process", timeout_ms);
		errno = ETIMEDOUT;
		return -1;
	}
	if (recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS) {
		errno = EPROTO;
		return -1;
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* ------------------------------------------------------------------ */
/* Descriptors                                                         */
/* ------------------------------------------------------------------ */

/** sd_fd_is_open() - true if @fd is an open descriptor of the caller */
static inline bool sd_fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/**
 * sd_count_fds() - number of open descriptors (entries of /proc/self/fd,
 * not counting the one used to read it), or -1
 */
static inline int sd_count_fds(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/**
 * sd_kcmp_file() - kcmp(KCMP_FILE): 0 if descriptor @fd1 of @pid1 and @fd2
 * of @pid2 are the same open file, 1 or 2 (an order) if not, -1 on error
 */
static inline int sd_kcmp_file(pid_t pid1, int fd1, pid_t pid2, int fd2)
{
	return syscall(SYS_kcmp, pid1, pid2, KCMP_FILE, fd1, fd2);
}

/** sd_same_inode() - 1 if @a and @b have the same st_dev/st_ino, 0, -1 */
static inline int sd_same_inode(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) || fstat(b, &sb))
		return -1;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/** sd_inode() - st_ino of @fd, or 0 */
static inline unsigned long long sd_inode(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* The socket kinds, their observers and the fixture variants over them. */
#include "sockdup_sock.h"

#endif /* SOCKDUP_UTIL_H */
