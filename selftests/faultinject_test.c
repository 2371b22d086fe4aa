// SPDX-License-Identifier: GPL-2.0-only
/*
 * faultinject_test - systematic fault injection into every sockdup ioctl.
 *
 * For each command the test walks the fault points of one call with
 * /proc/thread-self/fail-nth: it writes 1, 2, 3, ... before the call, so
 * that the n-th allocation (slab, page or, with FAULT_INJECTION_USERCOPY,
 * user copy) of the call fails, until a call runs without consuming the
 * injected fault.  Every injected failure must
 *   - return a clean errno (ENOMEM or EFAULT),
 *   - install no descriptor (/proc/self/fd is compared before and after),
 *   - leak nothing (SOCKDUP_IOC_STATS: pending unchanged and
 *     shared == redeemed + expired + revoked + reaped + pending; kmemleak
 *     is checked by the VM runner),
 *   - pin no socket: a failed SHARE must not keep the socket alive once the
 *     caller closes it (the peer sees EOF at once), a failed REDEEM leaves
 *     the cookie valid for a later REDEEM, whose descriptor, once closed,
 *     lets the peer see EOF.
 * A call that consumed a fault and still succeeded (the fault hit an
 * allocation with a fallback) must have done its whole job.
 *
 * Runs for real only in a kernel with CONFIG_FAULT_INJECTION and
 * CONFIG_FAILSLAB (the sockdup debug kernel); elsewhere it skips.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockdup.h>

#include "kselftest_harness.h"
#include "sockdup_skip.h"
#include "sd_time.h"

/* A walk longer than this means fail-nth is not being consumed sanely. */
#define MAX_NTH		2000U
/* How long a peer may wait for EOF after the last descriptor closed (times the time factor). */
#define EOF_TIMEOUT_MS	sd_ms(1000)
#define MAX_FDS		256

#define FAILNTH		"/proc/thread-self/fail-nth"
#define DEBUGFS		"/sys/kernel/debug"

/* Knobs that make fail-nth reach GFP_KERNEL and order-0 allocations. */
static const struct knob {
	const char *path;
	const char *value;
	bool required;
} knobs[] = {
	{ DEBUGFS "/failslab/ignore-gfp-wait", "N", true },
	{ DEBUGFS "/failslab/verbose", "0", false },
	{ DEBUGFS "/fail_page_alloc/ignore-gfp-wait", "N", false },
	{ DEBUGFS "/fail_page_alloc/min-order", "0", false },
	{ DEBUGFS "/fail_page_alloc/verbose", "0", false },
	{ DEBUGFS "/fail_usercopy/verbose", "0", false },
};
#define NR_KNOBS ARRAY_SIZE(knobs)

struct fdset {
	int n;
	int fd[MAX_FDS];
};

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, len - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = write(fd, val, strlen(val));
	close(fd);
	return r == (ssize_t)strlen(val) ? 0 : -1;
}

/* Arm fail-nth: the n-th fault point of this thread from now on fails. */
static int fi_arm(int nth_fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth_fd, buf, len, 0) == len ? 0 : -1;
}

/*
 * Disarm fail-nth and tell whether the armed fault was consumed by the
 * call in between.  fail-nth reads back 0 once the fault fired.  Reading
 * is itself a fault point (copy_to_user) when usercopy injection is on:
 * with exactly one step left the read fails with EFAULT, which also means
 * "not consumed by the call".  The reset write may consume a leftover step
 * the same way, so it is retried.
 */
static bool fi_disarm(int nth_fd)
{
	char buf[16] = "";
	bool consumed;
	ssize_t r;
	int i;

	r = pread(nth_fd, buf, sizeof(buf) - 1, 0);
	consumed = r > 0 && strtoul(buf, NULL, 10) == 0;
	for (i = 0; i < 4; i++)
		if (pwrite(nth_fd, "0", 1, 0) == 1)
			break;
	return consumed;
}

static void fd_snapshot(struct fdset *s)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	s->n = 0;
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd == dirfd(d) || s->n == MAX_FDS)
			continue;
		s->fd[s->n++] = fd;
	}
	closedir(d);
}

static bool fd_same(const struct fdset *a, const struct fdset *b)
{
	int i, j;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		for (j = 0; j < b->n; j++)
			if (a->fd[i] == b->fd[j])
				break;
		if (j == b->n)
			return false;
	}
	return true;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* 1: the peer saw EOF within EOF_TIMEOUT_MS; 0: it did not. */
static int peer_sees_eof(int peer)
{
	struct pollfd p = { .fd = peer, .events = POLLIN };
	struct timespec t0;
	char c;
	ssize_t r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		r = recv(peer, &c, 1, MSG_DONTWAIT);
		if (r == 0)
			return 1;
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return errno == ECONNRESET;
		if (ms_since(&t0) > EOF_TIMEOUT_MS)
			return 0;
		poll(&p, 1, 50);
	}
}

/* Make a connected pair of the variant's kind: s[0] is shared, s[1] the peer. */
static int make_pair(int family, int s[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int l;

	if (family == AF_UNIX)
		return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -1;
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		goto fail;
	s[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s[0] < 0)
		goto fail;
	if (connect(s[0], (struct sockaddr *)&a, sizeof(a)))
		goto fail_s0;
	s[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s[1] < 0)
		goto fail_s0;
	close(l);
	return 0;
fail_s0:
	close(s[0]);
fail:
	close(l);
	return -1;
}

static int do_share(int dev, int fd, pid_t target, unsigned char *cookie)
{
	struct sockdup_share sh = {
		.fd = fd,
		.target_pid = target,
		.ttl_ms = 600000,
	};
	int ret = ioctl(dev, SOCKDUP_IOC_SHARE, &sh);

	if (ret == 0 && cookie)
		memcpy(cookie, sh.cookie, SOCKDUP_COOKIE_SIZE);
	return ret;
}

static int do_redeem(int dev, const unsigned char *cookie)
{
	struct sockdup_redeem r = { .flags = SOCKDUP_REDEEM_CLOEXEC };

	memcpy(r.cookie, cookie, SOCKDUP_COOKIE_SIZE);
	return ioctl(dev, SOCKDUP_IOC_REDEEM, &r);
}

static int do_revoke(int dev, const unsigned char *cookie)
{
	struct sockdup_revoke r = { 0 };

	memcpy(r.cookie, cookie, SOCKDUP_COOKIE_SIZE);
	return ioctl(dev, SOCKDUP_IOC_REVOKE, &r);
}

static int do_query(int dev, const unsigned char *cookie, struct sockdup_share_info *info)
{
	struct sockdup_query q = { 0 };
	int ret;

	memcpy(q.cookie, cookie, SOCKDUP_COOKIE_SIZE);
	ret = ioctl(dev, SOCKDUP_IOC_QUERY, &q);
	if (ret == 0 && info)
		*info = q.info;
	return ret;
}

static int do_stats(int dev, struct sockdup_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(dev, SOCKDUP_IOC_STATS, st);
}

static bool clean_errno(int err)
{
	return err == ENOMEM || err == EFAULT;
}

FIXTURE(fi) {
	int nth;		/* /proc/thread-self/fail-nth */
	int dev;		/* /dev/sockdup */
	char saved[NR_KNOBS][32];
	bool changed[NR_KNOBS];
	struct sockdup_stats base;
	int points;		/* fault points walked */
	int failures;		/* injected failures that failed the call */
	int survived;		/* injected failures the call absorbed */
	int errs[2];		/* ENOMEM, EFAULT */
};

FIXTURE_VARIANT(fi) {
	int family;
};

FIXTURE_VARIANT_ADD(fi, unix_stream) {
	.family = AF_UNIX,
};

FIXTURE_VARIANT_ADD(fi, tcp) {
	.family = AF_INET,
};

FIXTURE_SETUP(fi)
{
	unsigned int i;

	self->nth = -1;
	self->dev = -1;
	if (access(FAILNTH, F_OK))
		SKIP(return, "%s missing: kernel without CONFIG_FAULT_INJECTION", FAILNTH);
	if (access(DEBUGFS "/failslab", F_OK))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	if (access(DEBUGFS "/failslab", F_OK))
		SKIP(return, "no %s/failslab: kernel without CONFIG_FAILSLAB or debugfs", DEBUGFS);
	if (access(SOCKDUP_DEVICE, F_OK))
		SKIP(return, "%s missing: module not loaded", SOCKDUP_DEVICE);

	for (i = 0; i < NR_KNOBS; i++) {
		if (read_file(knobs[i].path, self->saved[i], sizeof(self->saved[i]))) {
			ASSERT_FALSE(knobs[i].required) TH_LOG("cannot read %s", knobs[i].path);
			continue;
		}
		ASSERT_EQ(0, write_file(knobs[i].path, knobs[i].value))
			TH_LOG("cannot set %s", knobs[i].path);
		self->changed[i] = true;
	}

	self->dev = open(SOCKDUP_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->nth = open(FAILNTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nth);
	ASSERT_EQ(0, do_stats(self->dev, &self->base));
}

FIXTURE_TEARDOWN(fi)
{
	unsigned int i;

	if (self->nth >= 0) {
		fi_disarm(self->nth);
		close(self->nth);
	}
	if (self->dev >= 0)
		close(self->dev);
	for (i = 0; i < NR_KNOBS; i++)
		if (self->changed[i])
			write_file(knobs[i].path, self->saved[i]);
}

/*
 * The module's books balance and nothing of this test is pending beyond
 * @extra shares.  Other tests do not run concurrently with this one.
 */
static void check_books(struct __test_metadata *_metadata,
			FIXTURE_DATA(fi) *self, __u64 extra, unsigned int n)
{
	struct sockdup_stats st;

	ASSERT_EQ(0, do_stats(self->dev, &st));
	EXPECT_EQ(self->base.pending + extra, st.pending)
		TH_LOG("fault %u: pending %llu, expected %llu", n,
		       (unsigned long long)st.pending,
		       (unsigned long long)(self->base.pending + extra));
	EXPECT_EQ(st.shared, st.redeemed + st.expired + st.revoked + st.reaped + st.pending)
		TH_LOG("fault %u: counters do not balance", n);
}

/* Book-keeping of one injected call; returns true when the walk is over. */
static bool account(struct __test_metadata *_metadata, FIXTURE_DATA(fi) *self,
		    const char *what, unsigned int n, int ret, int err, bool consumed)
{
	if (!consumed) {
		/* Past the last fault point: the call must simply work. */
		EXPECT_LE(0, ret) TH_LOG("%s: untouched call failed: %s", what, strerror(err));
		self->points = n - 1;
		return true;
	}
	if (ret < 0) {
		self->failures++;
		EXPECT_TRUE(clean_errno(err))
			TH_LOG("%s: fault %u: errno %d (%s), want ENOMEM or EFAULT",
			       what, n, err, strerror(err));
		if (err == ENOMEM)
			self->errs[0]++;
		else if (err == EFAULT)
			self->errs[1]++;
	} else {
		self->survived++;
	}
	return false;
}

static void report(FIXTURE_DATA(fi) *self, const char *what)
{
	ksft_print_msg("%s: %d fault points, %d failed (ENOMEM %d, EFAULT %d), %d absorbed\n",
		       what, self->points, self->failures, self->errs[0], self->errs[1],
		       self->survived);
}

TEST_F_TIMEOUT(fi, open_device, 300)
{
	struct fdset before, after;
	unsigned int n;
	int fd, err;
	bool consumed;

	for (n = 1; n < MAX_NTH; n++) {
		fd_snapshot(&before);
		ASSERT_EQ(0, fi_arm(self->nth, n));
		fd = open(SOCKDUP_DEVICE, O_RDWR | O_CLOEXEC);
		err = errno;
		consumed = fi_disarm(self->nth);
		if (fd >= 0) {
			struct sockdup_stats st;

			EXPECT_EQ(0, do_stats(fd, &st));
			close(fd);
		} else {
			fd_snapshot(&after);
			EXPECT_TRUE(fd_same(&before, &after)) TH_LOG("fault %u: fd installed", n);
		}
		if (account(_metadata, self, "open", n, fd, err, consumed))
			break;
	}
	ASSERT_LT(n, MAX_NTH);
	report(self, "open");
}

/* First uid of the walk in which every SHARE is its uid's first one. */
#define FRESH_UID	20000

/*
 * Walk SHARE.  The fault points of a SHARE depend on state that outlives
 * one call: the first share of a uid also allocates the uid's quota
 * record.  @fresh_uid makes every attempt the first share of a new uid;
 * otherwise a keeper share of the same uid stays pending throughout, so
 * that the record exists and the walk reaches the share's own allocations.
 */
static void walk_share(struct __test_metadata *_metadata, FIXTURE_DATA(fi) *self,
		       int family, bool fresh_uid, const char *what)
{
	unsigned char cookie[SOCKDUP_COOKIE_SIZE], keeper[SOCKDUP_COOKIE_SIZE] = { 0 };
	struct fdset before, after;
	unsigned int n;
	int s[2], k[2] = { -1, -1 }, ret, err, extra = fresh_uid ? 0 : 1;
	bool consumed;

	if (!fresh_uid) {
		ASSERT_EQ(0, make_pair(family, k));
		ASSERT_EQ(0, do_share(self->dev, k[0], getpid(), keeper));
	}
	for (n = 1; n < MAX_NTH; n++) {
		ASSERT_EQ(0, make_pair(family, s));
		fd_snapshot(&before);
		/* shares are charged to the real uid */
		if (fresh_uid)
			ASSERT_EQ(0, setresuid(FRESH_UID + n, FRESH_UID + n, 0));
		ASSERT_EQ(0, fi_arm(self->nth, n));
		ret = do_share(self->dev, s[0], getpid(), cookie);
		err = errno;
		consumed = fi_disarm(self->nth);
		if (fresh_uid)
			ASSERT_EQ(0, setresuid(0, 0, 0));
		fd_snapshot(&after);
		EXPECT_TRUE(fd_same(&before, &after)) TH_LOG("fault %u: fd table changed", n);

		if (ret == 0) {
			/* A share was made: it must be whole and redeemable. */
			check_books(_metadata, self, extra + 1, n);
			close(s[0]);
			ret = do_redeem(self->dev, cookie);
			EXPECT_LE(0, ret) TH_LOG("fault %u: fresh cookie: %s", n, strerror(errno));
			if (ret >= 0) {
				EXPECT_EQ(1, send(ret, "x", 1, MSG_NOSIGNAL));
				close(ret);
			}
			EXPECT_EQ(1, peer_sees_eof(s[1])) TH_LOG("fault %u: socket pinned", n);
		} else {
			/* Nothing may hold the socket: EOF as soon as we close it. */
			check_books(_metadata, self, extra, n);
			close(s[0]);
			EXPECT_EQ(1, peer_sees_eof(s[1]))
				TH_LOG("fault %u: failed SHARE (%s) pinned the socket",
				       n, strerror(err));
		}
		close(s[1]);
		check_books(_metadata, self, extra, n);
		if (account(_metadata, self, what, n, ret, err, consumed))
			break;
	}
	ASSERT_LT(n, MAX_NTH);
	if (!fresh_uid) {
		EXPECT_EQ(0, do_revoke(self->dev, keeper));
		close(k[0]);
		EXPECT_EQ(1, peer_sees_eof(k[1]));
		close(k[1]);
		check_books(_metadata, self, 0, n);
	}
	report(self, what);
}

TEST_F_TIMEOUT(fi, share, 300)
{
	walk_share(_metadata, self, variant->family, false, "share");
}

TEST_F_TIMEOUT(fi, share_first_of_uid, 300)
{
	walk_share(_metadata, self, variant->family, true, "share (first of its uid)");
}

TEST_F_TIMEOUT(fi, redeem, 300)
{
	unsigned char cookie[SOCKDUP_COOKIE_SIZE];
	struct fdset before, after;
	unsigned int n;
	int s[2], ret, err, fd;
	bool consumed;
	char c;

	for (n = 1; n < MAX_NTH; n++) {
		ASSERT_EQ(0, make_pair(variant->family, s));
		ASSERT_EQ(0, do_share(self->dev, s[0], getpid(), cookie));
		/* The share holds the only reference to s[0] from now on. */
		close(s[0]);
		fd_snapshot(&before);
		ASSERT_EQ(0, fi_arm(self->nth, n));
		ret = do_redeem(self->dev, cookie);
		err = errno;
		consumed = fi_disarm(self->nth);

		if (ret >= 0) {
			struct stat st;

			check_books(_metadata, self, 0, n);
			EXPECT_EQ(0, fstat(ret, &st));
			EXPECT_TRUE(S_ISSOCK(st.st_mode)) TH_LOG("fault %u: not a socket", n);
			EXPECT_EQ(-1, do_redeem(self->dev, cookie));
			EXPECT_EQ(ENOENT, errno) TH_LOG("fault %u: cookie survived REDEEM", n);
			fd = ret;
		} else {
			/* No fd, cookie intact, redeemable once the fault is gone. */
			fd_snapshot(&after);
			EXPECT_TRUE(fd_same(&before, &after)) TH_LOG("fault %u: fd installed", n);
			check_books(_metadata, self, 1, n);
			EXPECT_EQ(0, do_query(self->dev, cookie, NULL))
				TH_LOG("fault %u: failed REDEEM (%s) spent the cookie: %s",
				       n, strerror(err), strerror(errno));
			fd = do_redeem(self->dev, cookie);
			EXPECT_LE(0, fd) TH_LOG("fault %u: REDEEM after failed REDEEM: %s",
						n, strerror(errno));
		}
		if (fd >= 0) {
			EXPECT_EQ(1, send(fd, "y", 1, MSG_NOSIGNAL));
			EXPECT_EQ(1, recv(s[1], &c, 1, 0));
			close(fd);
		}
		EXPECT_EQ(1, peer_sees_eof(s[1])) TH_LOG("fault %u: socket pinned", n);
		close(s[1]);
		check_books(_metadata, self, 0, n);
		if (account(_metadata, self, "redeem", n, ret, err, consumed))
			break;
	}
	ASSERT_LT(n, MAX_NTH);
	report(self, "redeem");
}

TEST_F_TIMEOUT(fi, revoke, 300)
{
	unsigned char cookie[SOCKDUP_COOKIE_SIZE];
	struct fdset before, after;
	unsigned int n;
	int s[2], ret, err;
	bool consumed;

	for (n = 1; n < MAX_NTH; n++) {
		ASSERT_EQ(0, make_pair(variant->family, s));
		ASSERT_EQ(0, do_share(self->dev, s[0], getpid(), cookie));
		/*
		 * s[0] stays open across the injected call: the last fput (and
		 * with it tcp_close(), whose FIN allocation fail-nth would hit
		 * too) then happens outside the injection window.
		 */
		fd_snapshot(&before);
		ASSERT_EQ(0, fi_arm(self->nth, n));
		ret = do_revoke(self->dev, cookie);
		err = errno;
		consumed = fi_disarm(self->nth);
		fd_snapshot(&after);
		EXPECT_TRUE(fd_same(&before, &after)) TH_LOG("fault %u: fd table changed", n);
		close(s[0]);

		if (ret == 0) {
			EXPECT_EQ(-1, do_query(self->dev, cookie, NULL));
			EXPECT_EQ(ENOENT, errno) TH_LOG("fault %u: revoked cookie still there", n);
		} else {
			check_books(_metadata, self, 1, n);
			EXPECT_EQ(0, do_revoke(self->dev, cookie))
				TH_LOG("fault %u: failed REVOKE (%s) lost the share: %s",
				       n, strerror(err), strerror(errno));
		}
		EXPECT_EQ(1, peer_sees_eof(s[1])) TH_LOG("fault %u: revoked socket pinned", n);
		close(s[1]);
		check_books(_metadata, self, 0, n);
		if (account(_metadata, self, "revoke", n, ret, err, consumed))
			break;
	}
	ASSERT_LT(n, MAX_NTH);
	report(self, "revoke");
}

TEST_F_TIMEOUT(fi, query, 300)
{
	unsigned char cookie[SOCKDUP_COOKIE_SIZE];
	struct sockdup_share_info info;
	struct fdset before, after;
	unsigned int n;
	int s[2], ret, err;
	bool consumed;
	struct stat st;

	ASSERT_EQ(0, make_pair(variant->family, s));
	ASSERT_EQ(0, fstat(s[0], &st));
	ASSERT_EQ(0, do_share(self->dev, s[0], getpid(), cookie));
	for (n = 1; n < MAX_NTH; n++) {
		fd_snapshot(&before);
		memset(&info, 0, sizeof(info));
		ASSERT_EQ(0, fi_arm(self->nth, n));
		ret = do_query(self->dev, cookie, &info);
		err = errno;
		consumed = fi_disarm(self->nth);
		fd_snapshot(&after);
		EXPECT_TRUE(fd_same(&before, &after)) TH_LOG("fault %u: fd table changed", n);
		if (ret == 0) {
			EXPECT_EQ((__u32)variant->family, info.family);
			EXPECT_EQ((__u64)st.st_ino, info.sock_ino);
			EXPECT_EQ(1U, info.nr_fds);
		}
		/* QUERY never consumes: the share is still there either way. */
		check_books(_metadata, self, 1, n);
		if (account(_metadata, self, "query", n, ret, err, consumed))
			break;
	}
	ASSERT_LT(n, MAX_NTH);
	EXPECT_EQ(0, do_revoke(self->dev, cookie));
	close(s[0]);
	EXPECT_EQ(1, peer_sees_eof(s[1]));
	close(s[1]);
	check_books(_metadata, self, 0, n);
	report(self, "query");
}

TEST_F_TIMEOUT(fi, stats, 300)
{
	struct fdset before, after;
	struct sockdup_stats st;
	unsigned int n;
	int ret, err;
	bool consumed;

	for (n = 1; n < MAX_NTH; n++) {
		fd_snapshot(&before);
		memset(&st, 0, sizeof(st));
		ASSERT_EQ(0, fi_arm(self->nth, n));
		ret = ioctl(self->dev, SOCKDUP_IOC_STATS, &st);
		err = errno;
		consumed = fi_disarm(self->nth);
		fd_snapshot(&after);
		EXPECT_TRUE(fd_same(&before, &after)) TH_LOG("fault %u: fd table changed", n);
		if (ret == 0)
			EXPECT_EQ(self->base.pending, st.pending);
		check_books(_metadata, self, 0, n);
		if (account(_metadata, self, "stats", n, ret, err, consumed))
			break;
	}
	ASSERT_LT(n, MAX_NTH);
	report(self, "stats");
}

#define LIST_SHARES 3

TEST_F_TIMEOUT(fi, list, 300)
{
	unsigned char cookie[LIST_SHARES][SOCKDUP_COOKIE_SIZE];
	struct sockdup_share_info info[LIST_SHARES + 4];
	struct fdset before, after;
	struct sockdup_list l;
	unsigned int n;
	int s[LIST_SHARES][2], ret, err, i;
	bool consumed;

	for (i = 0; i < LIST_SHARES; i++) {
		ASSERT_EQ(0, make_pair(variant->family, s[i]));
		ASSERT_EQ(0, do_share(self->dev, s[i][0], getpid(), cookie[i]));
	}
	for (n = 1; n < MAX_NTH; n++) {
		fd_snapshot(&before);
		memset(&l, 0, sizeof(l));
		l.entry_size = sizeof(info[0]);
		l.entries = (__u64)(unsigned long)info;
		l.capacity = LIST_SHARES + 4;
		ASSERT_EQ(0, fi_arm(self->nth, n));
		ret = ioctl(self->dev, SOCKDUP_IOC_LIST, &l);
		err = errno;
		consumed = fi_disarm(self->nth);
		fd_snapshot(&after);
		EXPECT_TRUE(fd_same(&before, &after)) TH_LOG("fault %u: fd table changed", n);
		if (ret == 0) {
			EXPECT_LE((__u64)l.count, l.total);
			EXPECT_LE(l.count, l.capacity);
			EXPECT_LE((__u64)LIST_SHARES, l.total);
		}
		check_books(_metadata, self, LIST_SHARES, n);
		if (account(_metadata, self, "list", n, ret, err, consumed))
			break;
	}
	ASSERT_LT(n, MAX_NTH);
	report(self, "list");
	/* the documented ENOMEM: the listing's bounce buffer */
	EXPECT_LT(0, self->errs[0]) TH_LOG("no listing failed with ENOMEM");

	/*
	 * A count (capacity 0) allocates nothing (root's reads the module's
	 * count of shares): an injected fault can only fail its copy out
	 * (EFAULT), never ENOMEM, and root's total is STATS.pending (single
	 * shares only here: a share is a socket).  Before, a count walked the
	 * table with a bounce buffer it did not need.
	 */
	self->points = self->failures = self->survived = 0;
	self->errs[0] = self->errs[1] = 0;
	for (n = 1; n < MAX_NTH; n++) {
		struct sockdup_stats st;

		memset(&l, 0, sizeof(l));
		l.entry_size = sizeof(info[0]);
		ASSERT_EQ(0, fi_arm(self->nth, n));
		ret = ioctl(self->dev, SOCKDUP_IOC_LIST, &l);
		err = errno;
		consumed = fi_disarm(self->nth);
		if (ret < 0)
			EXPECT_NE(ENOMEM, err)
				TH_LOG("fault %u: a count-only LIST allocated memory", n);
		if (ret == 0) {
			ASSERT_EQ(0, do_stats(self->dev, &st));
			EXPECT_EQ(st.pending, l.total);
			EXPECT_EQ(0U, l.count);
		}
		check_books(_metadata, self, LIST_SHARES, n);
		if (account(_metadata, self, "list count", n, ret, err, consumed))
			break;
	}
	ASSERT_LT(n, MAX_NTH);
	report(self, "list count");

	for (i = 0; i < LIST_SHARES; i++) {
		EXPECT_EQ(0, do_revoke(self->dev, cookie[i]));
		close(s[i][0]);
		EXPECT_EQ(1, peer_sees_eof(s[i][1]));
		close(s[i][1]);
	}
	check_books(_metadata, self, 0, n);
}

TEST_HARNESS_MAIN
