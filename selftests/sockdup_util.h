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
 * This is the suite's one helper header: every test includes it and
 * nothing else of the suite.  Two parts live in files of their own, which
 * it includes at its end: sockdup_sock.h (struct sd_sock: every socket kind
 * with an observer that sees it close, SD_KIND_VARIANTS()) and
 * sockdup_agent.h (counters with other programs' leftovers accounted for,
 * module parameters put back at exit, bare sockets of an enum sk_kind,
 * agents: child processes that make sockdup calls on request).
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
#include <grp.h>
#include <linux/kcmp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
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
#include <sys/uio.h>
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

/*
 * A cookie argument of the wrappers below is either a struct sd_cookie or
 * the cookie member of a UAPI struct (what SHARE wrote into a struct
 * sockdup_share): sd_cookie_bytes() gives its bytes, and passing anything
 * else does not compile.
 */
#define sd_cookie_bytes(c) _Generic((c),				\
	struct sd_cookie * : ((const struct sd_cookie *)(c))->b,		\
	const struct sd_cookie * : ((const struct sd_cookie *)(c))->b,	\
	__u8 * : (const __u8 *)(c),					\
	const __u8 * : (const __u8 *)(c))

/*
 * SOCKDUP_IOC_SHARE; *@out is the whole struct as the kernel left it (also
 * on failure: its cookie then is zero).
 */
static inline int sd_share_uapi(int dev, int fd, pid_t target, __u32 ttl_ms,
				struct sockdup_share *out)
{
	struct sockdup_share sh = {
		.fd = fd, .target_pid = target, .ttl_ms = ttl_ms,
	};
	int ret = ioctl(dev, SOCKDUP_IOC_SHARE, &sh);

	if (out)
		*out = sh;
	return ret;
}

/* SOCKDUP_IOC_SHARE; the cookie is written to @cookie only on success. */
static inline int sd_share_cookie(int dev, int fd, pid_t target, __u32 ttl_ms,
				  struct sd_cookie *cookie)
{
	struct sockdup_share sh;
	int ret = sd_share_uapi(dev, fd, target, ttl_ms, &sh);

	if (ret == 0 && cookie)
		memcpy(cookie->b, sh.cookie, sizeof(cookie->b));
	return ret;
}

/**
 * sd_share() - SOCKDUP_IOC_SHARE of @fd for @target with @ttl_ms
 * @dev: a /dev/sockdup descriptor
 * @fd: the socket to share
 * @target: the target process id
 * @ttl_ms: TTL in ms, 0 for the module's default
 * @out: NULL; a struct sd_cookie * for the cookie (written only on
 *	success); or a struct sockdup_share * for what the kernel returned
 *	(cookie and id)
 *
 * Return: 0, or -1 and errno.
 */
#define sd_share(dev, fd, target, ttl_ms, out) _Generic((out),		\
	struct sockdup_share * : sd_share_uapi,				\
	struct sd_cookie * : sd_share_cookie,				\
	void * : sd_share_cookie)((dev), (fd), (target), (ttl_ms), (out))

static inline int sd_redeem_bytes(int dev, const __u8 *cookie, __u32 flags)
{
	struct sockdup_redeem rd = { .flags = flags };

	memcpy(rd.cookie, cookie, sizeof(rd.cookie));
	return ioctl(dev, SOCKDUP_IOC_REDEEM, &rd);
}

/**
 * sd_redeem() - SOCKDUP_IOC_REDEEM of @cookie (see sd_cookie_bytes()) with
 * @flags
 *
 * Return: the new descriptor, or -1 and errno.
 */
#define sd_redeem(dev, cookie, flags)					\
	sd_redeem_bytes((dev), sd_cookie_bytes(cookie), (flags))

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

static inline int sd_revoke_bytes(int dev, const __u8 *cookie)
{
	struct sockdup_revoke rv = { 0 };

	memcpy(rv.cookie, cookie, sizeof(rv.cookie));
	return ioctl(dev, SOCKDUP_IOC_REVOKE, &rv);
}

/** sd_revoke() - SOCKDUP_IOC_REVOKE of @cookie; 0, or -1 and errno */
#define sd_revoke(dev, cookie) sd_revoke_bytes((dev), sd_cookie_bytes(cookie))

/** sd_revoke_id() - SOCKDUP_IOC_REVOKE by id (SOCKDUP_REVOKE_BY_ID) */
static inline int sd_revoke_id(int dev, __u64 id)
{
	struct sockdup_revoke rv = { .flags = SOCKDUP_REVOKE_BY_ID, .id = id };

	return ioctl(dev, SOCKDUP_IOC_REVOKE, &rv);
}

static inline int sd_query_bytes(int dev, const __u8 *cookie,
				 struct sockdup_share_info *info)
{
	struct sockdup_query q = { 0 };
	int ret;

	memcpy(q.cookie, cookie, sizeof(q.cookie));
	ret = ioctl(dev, SOCKDUP_IOC_QUERY, &q);
	if (ret == 0 && info)
		*info = q.info;
	return ret;
}

/** sd_query() - SOCKDUP_IOC_QUERY of @cookie into @info (may be NULL) */
#define sd_query(dev, cookie, info)					\
	sd_query_bytes((dev), sd_cookie_bytes(cookie), (info))

/**
 * sd_query_id() - SOCKDUP_IOC_QUERY by id (SOCKDUP_QUERY_BY_ID: the id goes
 * in as info.id) into @info (may be NULL)
 */
static inline int sd_query_id(int dev, __u64 id,
			      struct sockdup_share_info *info)
{
	struct sockdup_query q = { .flags = SOCKDUP_QUERY_BY_ID };
	int ret;

	q.info.id = id;
	ret = ioctl(dev, SOCKDUP_IOC_QUERY, &q);
	if (ret == 0 && info)
		*info = q.info;
	return ret;
}

/**
 * sd_list() - SOCKDUP_IOC_LIST into @entries (@capacity of them; 0: only
 * count); *@count (may be NULL) gets how many were written, *@total (may be
 * NULL) how many the caller may see
 */
static inline int sd_list(int dev, struct sockdup_share_info *entries,
			  __u32 capacity, __u32 *count, __u64 *total)
{
	struct sockdup_list l = {
		.entry_size = sizeof(*entries),
		.entries = (uintptr_t)entries,
		.capacity = capacity,
	};
	int ret = ioctl(dev, SOCKDUP_IOC_LIST, &l);

	if (count)
		*count = l.count;
	if (total)
		*total = l.total;
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

/*
 * ev_read() - the events queued on @dev, at most @max, without waiting
 *
 * Return: how many were read (0: none queued), or -1 and errno.
 */
static inline int ev_read(int dev, struct sockdup_event *ev, int max)
{
	struct pollfd pfd = { .fd = dev, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, 0) < 0)
		return -1;
	if (!(pfd.revents & POLLIN))
		return 0;
	n = read(dev, ev, (size_t)max * sizeof(*ev));
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	if (n % sizeof(*ev)) {
		errno = EPROTO;
		return -1;
	}
	return (int)(n / sizeof(*ev));
}

/*
 * ev_wait() - wait for the next event on @dev and read it
 *
 * Return: 1, or -1 and errno (ETIMEDOUT after SD_WAIT_MS, said on stderr).
 */
static inline int ev_wait(int dev, struct sockdup_event *ev)
{
	struct pollfd pfd = { .fd = dev, .events = POLLIN };
	long long start = sd_now_ms(), left;
	int n;

	for (;;) {
		left = start + SD_WAIT_MS - sd_now_ms();
		if (left <= 0) {
			sd_timed_out("an event on /dev/sockdup", SD_WAIT_MS);
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -1;
		n = ev_read(dev, ev, 1);
		if (n) {
			sd_waited("an event on /dev/sockdup",
				  sd_now_ms() - start, SD_WAIT_MS);
			return n;
		}
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
 * sd_wait_in_syscall() - wait until thread @tid of this process sleeps in
 * system call @nr (SYS_read, ...), as /proc/self/task/@tid shows it
 *
 * Return: 0, or -1 after SD_WAIT_MS (said on stderr).
 */
static inline int sd_wait_in_syscall(pid_t tid, long nr)
{
	long long start = sd_now_ms();
	char path[96], state;
	bool sleeping;
	long in;
	FILE *f;

	while (sd_now_ms() - start < SD_WAIT_MS) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
		f = fopen(path, "r");
		sleeping = f && fscanf(f, "%*d (%*[^)]) %c", &state) == 1 &&
			   state == 'S';
		if (f)
			fclose(f);
		snprintf(path, sizeof(path), "/proc/self/task/%d/syscall",
			 (int)tid);
		f = fopen(path, "r");
		if (sleeping && f && fscanf(f, "%ld", &in) == 1 && in == nr) {
			fclose(f);
			sd_waited("a thread to sleep in a system call",
				  sd_now_ms() - start, SD_WAIT_MS);
			return 0;
		}
		if (f)
			fclose(f);
		sd_sleep_ms(1);
	}
	sd_timed_out("a thread to sleep in a system call", SD_WAIT_MS);
	return -1;
}

/**
 * struct sd_thread - a thread of this process and its thread id
 * @th: for pthread_join() and pthread_kill().
 * @tid: its thread id (sd_wait_in_syscall(), /proc).
 * @fn: what it runs, with @arg.
 * @arg: see @fn.
 */
struct sd_thread {
	pthread_t th;
	pid_t tid;
	void *(*fn)(void *arg);
	void *arg;
};

static inline void *sd_thread_main(void *p)
{
	struct sd_thread *t = p;

	__atomic_store_n(&t->tid, sd_gettid(), __ATOMIC_RELEASE);
	return t->fn(t->arg);
}

/**
 * sd_thread_start_in() - start a thread running @fn(@arg) and wait until
 * it sleeps in system call @nr (a blocking read(2): SYS_read)
 *
 * Return: 0, or -1 (no thread, or it never slept there: said on stderr).
 */
static inline int sd_thread_start_in(struct sd_thread *t,
				     void *(*fn)(void *arg), void *arg, long nr)
{
	t->tid = 0;
	t->fn = fn;
	t->arg = arg;
	if (pthread_create(&t->th, NULL, sd_thread_main, t))
		return -1;
	while (!__atomic_load_n(&t->tid, __ATOMIC_ACQUIRE))
		sched_yield();
	return sd_wait_in_syscall(t->tid, nr);
}

/* ------------------------------------------------------------------ */
/* Signals                                                             */
/* ------------------------------------------------------------------ */

/* An interval timer's signals stop after this many (sd_count_signal()). */
#define SD_SIGNALS_STOP	30

/* What sd_count_signal() counts: written by a signal handler. */
static inline int *sd_signal_counter(void)
{
	static int n;

	return &n;
}

/*
 * The handler of sd_catch_signal(): counts, and cancels an interval timer
 * (ITIMER_REAL, what alarm() sets) at SD_SIGNALS_STOP, so that a test
 * whose wait never ends fails instead of waiting for the harness.
 */
static inline void sd_count_signal(int sig)
{
	(void)sig;
	if (__atomic_add_fetch(sd_signal_counter(), 1, __ATOMIC_RELAXED) >=
	    SD_SIGNALS_STOP)
		alarm(0);
}

/**
 * sd_catch_signal() - count @sig from now on (sd_signals()), with
 * @sa_flags (0: no SA_RESTART, an interrupted slow call fails with EINTR)
 *
 * Return: 0, or -1 and errno.
 */
static inline int sd_catch_signal(int sig, int sa_flags)
{
	struct sigaction sa = { .sa_handler = sd_count_signal,
				.sa_flags = sa_flags };

	sigemptyset(&sa.sa_mask);
	__atomic_store_n(sd_signal_counter(), 0, __ATOMIC_RELAXED);
	return sigaction(sig, &sa, NULL);
}

/** sd_signals() - signals counted since sd_catch_signal() */
static inline int sd_signals(void)
{
	return __atomic_load_n(sd_signal_counter(), __ATOMIC_RELAXED);
}

/**
 * sd_wait_signals() - wait until sd_signals() reaches @n
 *
 * Return: 0, or -1 after SD_WAIT_MS (said on stderr).
 */
static inline int sd_wait_signals(int n)
{
	long long start = sd_now_ms();

	while (sd_signals() < n) {
		if (sd_now_ms() - start >= SD_WAIT_MS) {
			sd_timed_out("a signal handler to run", SD_WAIT_MS);
			return -1;
		}
		sd_sleep_ms(1);
	}
	sd_waited("a signal handler to run", sd_now_ms() - start, SD_WAIT_MS);
	return 0;
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

/**
 * sd_send_with_fd() - send one message of @len bytes and, if @fd >= 0,
 * descriptor @fd with it (SCM_RIGHTS)
 *
 * Return: 0, or -1 and errno.
 */
static inline int sd_send_with_fd(int ctl, const void *buf, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(ctl, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/**
 * sd_recv_with_fd() - receive one message of at most @len bytes (waits for
 * it); *@fd gets the descriptor passed with it (O_CLOEXEC) or -1
 *
 * Return: the message's length (0: the other end is gone), or -1 and errno.
 */
static inline ssize_t sd_recv_with_fd(int ctl, void *buf, size_t len, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return n;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return n;
}

/** sd_send_fd() - send descriptor @fd (SCM_RIGHTS) with one byte */
static inline int sd_send_fd(int ctl, int fd)
{
	return sd_send_with_fd(ctl, "F", 1, fd);
}

/** sd_recv_fd() - receive a descriptor sent by sd_send_fd() (O_CLOEXEC) */
static inline int sd_recv_fd(int ctl, int timeout_ms)
{
	struct pollfd pfd = { .fd = ctl, .events = POLLIN };
	ssize_t n;
	char c;
	int fd;

	if (poll(&pfd, 1, timeout_ms) != 1) {
		sd_timed_out("a descriptor from the other process", timeout_ms);
		errno = ETIMEDOUT;
		return -1;
	}
	n = sd_recv_with_fd(ctl, &c, 1, &fd);
	if (n == 1 && fd >= 0)
		return fd;
	if (fd >= 0)
		close(fd);
	if (n >= 0)
		errno = EPROTO;
	return -1;
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
/* Counters, parameters, peers and agents: processes that call for a test. */
#include "sockdup_agent.h"

#endif /* SOCKDUP_UTIL_H */
