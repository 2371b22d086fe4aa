// SPDX-License-Identifier: GPL-2.0-only
/*
 * batch_test - many sockets under one cookie, redeemed all or none
 *
 * SHARE with &sockdup_share.nr_fds pins every socket of an array under one
 * cookie; REDEEM in the batch form installs every one of them, in the
 * order they were shared, or none: on EMFILE, a fault writing the array,
 * or a too small array the caller's descriptor table is as it was and the
 * cookie stays valid; EMFILE and the fault are found before the first
 * descriptor goes in, so no other thread ever sees one.  QUERY and LIST
 * report the count; the counters and the quota count sockets.  Each test
 * runs for batches of 1, 16, 253 (the most one SCM_RIGHTS message carries)
 * and 1024 sockets; the races run with 64.  A batch's pins all go when it
 * is revoked, expires or its target exits.  The LSM refusal of one socket
 * of a batch is in lsm_test.c.
 */
#define _GNU_SOURCE
#include <linux/sockdup.h>

#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>

/*
 * kselftest_harness.h is not -Wextra clean: unused parameters, and locals of
 * the TEST_F() wrapper that -Wclobbered rightly flags (after a failed
 * ASSERT the wrapper may skip FIXTURE_TEARDOWN(); what must be undone even
 * then is undone in FIXTURE_TEARDOWN_PARENT()).
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#pragma GCC diagnostic ignored "-Wclobbered"
#include "sockdup_util.h"

#define MAX_N		1024
#define RACE_N		64
#define RACE_ROUNDS	50
#define NRACERS		4

/*
 * The TTL of the shares the tests redeem: the largest the module allows by
 * default, so that no share expires under a test on however slow a lane.
 */
#define LONG_TTL_MS	3600000

/*
 * A race runs RACE_ROUNDS rounds, or fewer on a slow lane: at least
 * RACE_MIN_ROUNDS, then as many as fit in RACE_BUDGET_MS of wall time.
 */
#define RACE_MIN_ROUNDS	4
#define RACE_BUDGET_MS	15000

static bool race_more(int round, long long start_ms)
{
	if (round >= RACE_ROUNDS)
		return false;
	return round < RACE_MIN_ROUNDS ||
	       sd_now_ms() - start_ms < RACE_BUDGET_MS;
}

/* Descriptors the tests need at most: pairs, a redeemed batch, spares. */
#define NOFILE		(4 * SOCKDUP_BATCH_MAX + 256)

/* Make @n connected AF_UNIX stream pairs: @a[i] is shared, @b[i] its peer. */
static int make_pairs(int *a, int *b, int n)
{
	int i, sv[2];

	for (i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return -1;
		a[i] = sv[0];
		b[i] = sv[1];
	}
	return 0;
}

static void close_all(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/*
 * Index of the first of @n descriptors @got that is not the same open
 * file as @want[i], or -1 when all are (kcmp).
 */
static int first_mismatch(const int *got, const int *want, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (sd_kcmp_file(getpid(), got[i], getpid(), want[i]))
			return i;
	return -1;
}

/*
 * Index of the first of the @n peers that has not seen EOF within the
 * wait, or -1 when every one has: the other end is closed for good, so
 * nothing pins it any more.
 */
static int first_peer_open(const int *peers, int n)
{
	long long end = sd_now_ms() + SD_WAIT_MS;
	char c;
	int i;

	for (i = 0; i < n; i++) {
		struct pollfd p = { .fd = peers[i], .events = POLLIN };
		long long left = end - sd_now_ms();

		if (poll(&p, 1, left > 0 ? left : 0) != 1 ||
		    recv(peers[i], &c, 1, MSG_DONTWAIT) != 0)
			return i;
	}
	return -1;
}

FIXTURE(batch) {
	int dev;
	int n;
	int a[MAX_N], b[MAX_N];	/* shared sockets, their peers */
	int got[MAX_N + 1];	/* a redeemed batch (one more for room tests) */
	struct sd_cookie c;
	long long pending;
	struct rlimit nofile;
};

FIXTURE_VARIANT(batch) {
	int n;
};

FIXTURE_VARIANT_ADD(batch, one) { .n = 1 };
FIXTURE_VARIANT_ADD(batch, sixteen) { .n = 16 };
FIXTURE_VARIANT_ADD(batch, scm_max) { .n = 253 };
FIXTURE_VARIANT_ADD(batch, k1024) { .n = MAX_N };

FIXTURE_SETUP(batch)
{
	struct rlimit more;

	self->n = variant->n;
	memset(self->a, 0xff, sizeof(self->a));
	memset(self->b, 0xff, sizeof(self->b));
	memset(self->got, 0xff, sizeof(self->got));
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &self->nofile));
	more.rlim_cur = more.rlim_max = NOFILE;
	if (self->nofile.rlim_max > NOFILE)
		more.rlim_max = self->nofile.rlim_max;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &more)) TH_LOG("RLIMIT_NOFILE %d: %s",
							     NOFILE, strerror(errno));
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	self->pending = sd_pending(self->dev);
	ASSERT_EQ(0, make_pairs(self->a, self->b, self->n))
		TH_LOG("socketpair: %s", strerror(errno));
	ASSERT_EQ(0, sd_share_batch(self->dev, self->a, self->n, getpid(),
				    LONG_TTL_MS, &self->c))
		TH_LOG("SHARE of %d: %s", self->n, strerror(errno));
}

FIXTURE_TEARDOWN(batch)
{
	sd_revoke(self->dev, &self->c);
	close_all(self->got, self->n);
	close_all(self->a, self->n);
	close_all(self->b, self->n);
	EXPECT_EQ(self->pending, sd_pending(self->dev));
	close(self->dev);
	setrlimit(RLIMIT_NOFILE, &self->nofile);
}

/* The cookie still redeems the whole batch, in order. */
#define ASSERT_BATCH_REDEEMS() do {					\
	ASSERT_EQ(self->n, sd_redeem_batch(self->dev, &self->c, 0,	\
					   self->got, self->n))		\
		TH_LOG("cookie lost: %s", strerror(errno));		\
	ASSERT_EQ(-1, first_mismatch(self->got, self->a, self->n));	\
} while (0)

/*
 * REDEEM installs every socket, in order: each new descriptor is the same
 * open file as the one shared at its index, and bytes written to it reach
 * that socket's peer.  The share counts as n sockets while pending.
 */
TEST_F(batch, redeems_all_in_order)
{
	struct sockdup_share_info info;
	int i, before, mismatch;
	char c;

	EXPECT_EQ(self->pending + self->n, sd_pending(self->dev));
	before = sd_count_fds();
	ASSERT_EQ(self->n, sd_redeem_batch(self->dev, &self->c, 0, self->got,
					   self->n))
		TH_LOG("REDEEM: %s", strerror(errno));
	EXPECT_EQ(before + self->n, sd_count_fds());
	mismatch = first_mismatch(self->got, self->a, self->n);
	EXPECT_EQ(-1, mismatch) TH_LOG("descriptor %d is not socket %d",
				       self->got[mismatch], mismatch);
	for (i = 0; i < self->n; i++) {
		c = (char)i;
		ASSERT_EQ(1, write(self->got[i], &c, 1));
		c = ~c;
		ASSERT_EQ(1, read(self->b[i], &c, 1));
		ASSERT_EQ((char)i, c) TH_LOG("socket %d got a byte of another", i);
	}
	EXPECT_EQ(self->pending, sd_pending(self->dev));
	EXPECT_EQ(-1, sd_redeem_batch(self->dev, &self->c, 0, self->got + 0,
				      self->n));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, sd_query(self->dev, &self->c, &info));
	EXPECT_EQ(ENOENT, errno);
}

/* QUERY and LIST report the count; the other fields describe socket 0. */
TEST_F(batch, query_and_list_report_count)
{
	struct sockdup_share_info info, *ents;
	struct sockdup_list l = { .entry_size = sizeof(*ents) };
	unsigned int i, found = 0;

	ASSERT_EQ(0, sd_query(self->dev, &self->c, &info))
		TH_LOG("QUERY: %s", strerror(errno));
	EXPECT_EQ((__u32)self->n, info.nr_fds);
	EXPECT_EQ(sd_inode(self->a[0]), info.sock_ino);
	EXPECT_EQ((__u32)AF_UNIX, info.family);

	ents = calloc(4096, sizeof(*ents));
	ASSERT_NE(NULL, ents);
	l.entries = (__u64)(uintptr_t)ents;
	l.capacity = 4096;
	ASSERT_EQ(0, ioctl(self->dev, SOCKDUP_IOC_LIST, &l))
		TH_LOG("LIST: %s", strerror(errno));
	for (i = 0; i < l.count; i++) {
		if (ents[i].id != info.id)
			continue;
		found++;
		EXPECT_EQ((__u32)self->n, ents[i].nr_fds);
		EXPECT_EQ(sd_inode(self->a[0]), ents[i].sock_ino);
	}
	EXPECT_EQ(1U, found);
	free(ents);
	ASSERT_BATCH_REDEEMS();
}

/* SOCKDUP_REDEEM_CLOEXEC sets FD_CLOEXEC on every descriptor; 0 on none. */
TEST_F(batch, cloexec_on_every_descriptor)
{
	int i;

	ASSERT_EQ(self->n, sd_redeem_batch(self->dev, &self->c,
					   SOCKDUP_REDEEM_CLOEXEC, self->got,
					   self->n));
	for (i = 0; i < self->n; i++)
		ASSERT_EQ(FD_CLOEXEC, fcntl(self->got[i], F_GETFD))
			TH_LOG("descriptor %d", i);
	close_all(self->got, self->n);
	memset(self->got, 0xff, sizeof(self->got));
	ASSERT_EQ(0, sd_share_batch(self->dev, self->a, self->n, getpid(),
				    LONG_TTL_MS, &self->c));
	ASSERT_BATCH_REDEEMS();
	for (i = 0; i < self->n; i++)
		ASSERT_EQ(0, fcntl(self->got[i], F_GETFD)) TH_LOG("descriptor %d", i);
}

/*
 * Lower RLIMIT_NOFILE (soft) so that exactly @room descriptors are free
 * below it; *@lowest is the lowest free one.  Returns setrlimit()'s value.
 */
static int limit_room(const struct rlimit *base, int room, int *lowest)
{
	struct rlimit low = *base;
	int limit, free = 0;

	*lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (*lowest < 0)
		return -1;
	close(*lowest);
	for (limit = *lowest; free < room; limit++)
		free += !sd_fd_is_open(limit);
	low.rlim_max = NOFILE;
	low.rlim_cur = limit;
	return setrlimit(RLIMIT_NOFILE, &low);
}

/*
 * Room for all but one socket: EMFILE, not a descriptor installed (the
 * ones that fitted were closed again), and the cookie redeems the whole
 * batch once there is room.
 */
TEST_F(batch, emfile_installs_none_cookie_stays_valid)
{
	struct rlimit full = { NOFILE, NOFILE };
	int before, ret, lowest;

	before = sd_count_fds();
	ASSERT_EQ(0, limit_room(&self->nofile, self->n - 1, &lowest));
	ret = sd_redeem_batch(self->dev, &self->c, 0, self->got, self->n);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EMFILE, errno);
	/* Counted with room again (listing /proc/self/fd takes one). */
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &full));
	EXPECT_EQ(before, sd_count_fds());
	EXPECT_EQ(-1, self->got[0]);
	/* The n - 1 that fitted were given back: all free again. */
	if (self->n > 1) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		EXPECT_EQ(lowest, fd);
		close(fd);
	}
	EXPECT_EQ(self->pending + self->n, sd_pending(self->dev));
	ASSERT_BATCH_REDEEMS();
}

/*
 * What a watcher thread saw: descriptors from @lo to @lo + @n - 1 found
 * open while it ran, which nothing of the test opens.
 */
struct watch {
	int lo, n;
	int stop;
	long seen, scans;
};

static void *watch_body(void *p)
{
	struct watch *w = p;
	int i;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < w->n; i++)
			if (fcntl(w->lo + i, F_GETFD) != -1)
				__atomic_add_fetch(&w->seen, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&w->scans, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Scans of the watcher each phase of a watched failure lasts for. */
#define WATCH_SCANS	200

/*
 * REDEEM the batch of @c into @fds again and again, each expected to fail
 * with @err, until @w has scanned WATCH_SCANS times meanwhile, or
 * RACE_BUDGET_MS have passed.  Before the watcher's first scan it goes on
 * for SD_WAIT_MS, if that is longer: on a busy machine the watcher's vCPU
 * may not run at once.  *@scans: the scans it made meanwhile.
 * Returns how many REDEEMs did not fail with @err.
 */
static int fail_while_watched(int dev, struct sd_cookie *c, int *fds, int n,
			      int err, struct watch *w, long *scans)
{
	long first = __atomic_load_n(&w->scans, __ATOMIC_RELAXED);
	int round, wrong = 0, bound = RACE_BUDGET_MS;
	long long start = sd_now_ms(), took = 0;

	for (round = 0; round < RACE_MIN_ROUNDS ||
	     (*scans < WATCH_SCANS && took < bound); round++) {
		if (sd_redeem_batch(dev, c, 0, fds, n) != -1 || errno != err)
			wrong++;
		*scans = __atomic_load_n(&w->scans, __ATOMIC_RELAXED) - first;
		took = sd_now_ms() - start;
		if (!*scans && SD_WAIT_MS > bound)
			bound = SD_WAIT_MS;
	}
	if (!*scans)
		sd_timed_out("the watcher thread's first scan", bound);
	return wrong;
}

/*
 * EMFILE and an array that cannot be written are found before the first
 * descriptor goes in: another thread of the target, looking at the
 * descriptors the batch would take while REDEEM fails again and again,
 * never finds one of them open.  (Only an LSM refusing a later socket
 * makes REDEEM close installed ones again: lsm_test.c.)
 */
TEST_F(batch, emfile_and_efault_found_before_any_install)
{
	struct rlimit full = { NOFILE, NOFILE };
	struct watch w = { 0 };
	long emfile_scans = 0, efault_scans = 0;
	int lowest, *ro;
	pthread_t th;

	ro = mmap(NULL, sizeof(self->got), PROT_READ,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, limit_room(&self->nofile, self->n - 1, &lowest));
	w.lo = lowest;
	w.n = self->n;
	ASSERT_EQ(0, pthread_create(&th, NULL, watch_body, &w));
	EXPECT_EQ(0, fail_while_watched(self->dev, &self->c, self->got,
					self->n, EMFILE, &w, &emfile_scans));
	EXPECT_EQ(0, setrlimit(RLIMIT_NOFILE, &full));
	EXPECT_EQ(0, fail_while_watched(self->dev, &self->c, ro, self->n,
					EFAULT, &w, &efault_scans));
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(th, NULL));
	munmap(ro, sizeof(self->got));
	EXPECT_EQ(0, w.seen) TH_LOG("%ld sightings of a closed-again descriptor in %ld scans",
				    w.seen, w.scans);
	/* The watcher ran while each kind of failure did. */
	EXPECT_LT(0, emfile_scans);
	EXPECT_LT(0, efault_scans);
	EXPECT_EQ(-1, self->got[0]);
	ASSERT_BATCH_REDEEMS();
}

/*
 * An array with room for fewer descriptors than the share holds: EMSGSIZE,
 * nothing installed, never a part of the batch.  The first REDEEM form has
 * room for one.
 */
TEST_F(batch, emsgsize_room_too_small)
{
	int before = sd_count_fds(), fd;

	if (self->n == 1) {
		/* A batch of one is a share of one: either form redeems it. */
		fd = sd_redeem(self->dev, &self->c, 0);
		ASSERT_LE(0, fd) TH_LOG("REDEEM: %s", strerror(errno));
		EXPECT_EQ(0, sd_kcmp_file(getpid(), fd, getpid(), self->a[0]));
		close(fd);
		return;
	}
	EXPECT_EQ(-1, sd_redeem_batch(self->dev, &self->c, 0, self->got,
				      self->n - 1));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(-1, sd_redeem(self->dev, &self->c, 0));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(before, sd_count_fds());
	EXPECT_EQ(-1, self->got[0]);
	/* More room than needed is fine: n are written, the rest untouched. */
	ASSERT_EQ(self->n, sd_redeem_batch(self->dev, &self->c, 0, self->got,
					   self->n + 1));
	EXPECT_EQ(-1, first_mismatch(self->got, self->a, self->n));
	EXPECT_EQ(-1, self->got[self->n]);
}

/*
 * The array for the descriptors is not writable: EFAULT, nothing left
 * installed, the cookie still valid.
 */
TEST_F(batch, efault_array_not_writable)
{
	size_t len = (self->n + 1) * sizeof(int);
	int before = sd_count_fds();
	int *ro;

	ro = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-1, sd_redeem_batch(self->dev, &self->c, 0, ro, self->n));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(before, sd_count_fds());
	munmap(ro, len);
	EXPECT_EQ(-1, sd_redeem_batch(self->dev, &self->c, 0, ro, self->n));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(before, sd_count_fds());
	ASSERT_BATCH_REDEEMS();
}

/* Only the target redeems a batch; another process gets EPERM. */
TEST_F(batch, eperm_other_process)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int ok = sd_redeem_batch(self->dev, &self->c, 0, self->got,
					 self->n) == -1 && errno == EPERM;

		_exit(ok ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_BATCH_REDEEMS();
}

/*
 * REVOKE releases every pin at once: once the shared descriptors are
 * closed, every peer sees EOF.
 */
TEST_F(batch, revoke_drops_every_pin)
{
	int open_peer;

	ASSERT_EQ(0, sd_revoke(self->dev, &self->c));
	EXPECT_EQ(self->pending, sd_pending(self->dev));
	close_all(self->a, self->n);
	memset(self->a, 0xff, sizeof(self->a));
	open_peer = first_peer_open(self->b, self->n);
	EXPECT_EQ(-1, open_peer) TH_LOG("socket %d still pinned", open_peer);
}

/* The TTL releases every pin of a batch too. */
TEST_F(batch, expiry_drops_every_pin)
{
	int open_peer;

	ASSERT_EQ(0, sd_revoke(self->dev, &self->c));
	ASSERT_EQ(0, sd_share_batch(self->dev, self->a, self->n, getpid(), 1,
				    &self->c));
	close_all(self->a, self->n);
	memset(self->a, 0xff, sizeof(self->a));
	open_peer = first_peer_open(self->b, self->n);
	EXPECT_EQ(-1, open_peer) TH_LOG("socket %d still pinned", open_peer);
	EXPECT_EQ(-1, sd_redeem_batch(self->dev, &self->c, 0, self->got,
				      self->n));
	EXPECT_EQ(ENOENT, errno);
}

/*
 * The target exits without redeeming: the sweeper reaps the batch and
 * drops every pin at once (within 2 x sweep_ms, SOCKDUP.md section 3).
 */
TEST_F(batch, target_exit_drops_every_pin)
{
	int ctl, open_peer, v;
	pid_t pid;

	ASSERT_EQ(0, sd_revoke(self->dev, &self->c));
	pid = sd_fork(&ctl);
	ASSERT_LE(0, pid) TH_LOG("%s", sd_errmsg());
	if (pid == 0)
		_exit(sd_recv_int(ctl, &v, SD_WAIT_MS) ? 1 : 0);
	ASSERT_EQ(0, sd_share_batch(self->dev, self->a, self->n, pid,
				    LONG_TTL_MS, &self->c));
	EXPECT_EQ(self->pending + self->n, sd_pending(self->dev));
	ASSERT_EQ(0, sd_send_int(ctl, 1));
	EXPECT_EQ(0, sd_wait(pid));
	close(ctl);
	close_all(self->a, self->n);
	memset(self->a, 0xff, sizeof(self->a));
	open_peer = first_peer_open(self->b, self->n);
	EXPECT_EQ(-1, open_peer) TH_LOG("socket %d still pinned", open_peer);
	EXPECT_EQ(self->pending, sd_wait_pending(self->dev, self->pending,
						  SD_WAIT_MS));
}

/* --- SHARE of a batch: refused as a whole ------------------------------ */

FIXTURE(share) {
	int dev;
	int a[MAX_N], b[MAX_N];
	long long pending;
	long long max_per_user, max_total;
};

FIXTURE_SETUP(share)
{
	self->dev = sd_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, make_pairs(self->a, self->b, 16));
	self->pending = sd_pending(self->dev);
	ASSERT_EQ(0, sd_param_get("max_per_user", &self->max_per_user));
	ASSERT_EQ(0, sd_param_get("max_total", &self->max_total));
}

FIXTURE_TEARDOWN(share)
{
	sd_param_set("max_per_user", self->max_per_user);
	sd_param_set("max_total", self->max_total);
	close_all(self->a, 16);
	close_all(self->b, 16);
	EXPECT_EQ(self->pending, sd_pending(self->dev));
	close(self->dev);
}

/*
 * The share refused, nothing pinned: pending is unchanged and, with the
 * shared descriptors closed, every peer sees EOF.
 */
#define ASSERT_NOTHING_PINNED(n) do {					\
	int __open;							\
	EXPECT_EQ(self->pending, sd_pending(self->dev));		\
	close_all(self->a, (n));					\
	memset(self->a, 0xff, sizeof(self->a));				\
	__open = first_peer_open(self->b, (n));				\
	EXPECT_EQ(-1, __open) TH_LOG("socket %d pinned", __open);	\
} while (0)

static int share_raw(int dev, struct sockdup_share *sh)
{
	sh->target_pid = getpid();
	return ioctl(dev, SOCKDUP_IOC_SHARE, sh);
}

TEST_F(share, ebadf_one_closed_in_the_middle)
{
	close(self->a[7]);
	self->a[7] = -1;
	EXPECT_EQ(-1, sd_share_batch(self->dev, self->a, 16, getpid(), 0, NULL));
	EXPECT_EQ(EBADF, errno);
	ASSERT_NOTHING_PINNED(16);
}

TEST_F(share, enotsock_a_pipe_at_the_end)
{
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	close(self->a[15]);
	self->a[15] = p[0];
	EXPECT_EQ(-1, sd_share_batch(self->dev, self->a, 16, getpid(), 0, NULL));
	EXPECT_EQ(ENOTSOCK, errno);
	close(p[1]);
	ASSERT_NOTHING_PINNED(15);
	close(p[0]);
}

TEST_F(share, efault_array_unmapped_or_short)
{
	long page = sysconf(_SC_PAGESIZE);
	char *m;
	int *tail;

	EXPECT_EQ(-1, sd_share_batch(self->dev, (int *)8, 16, getpid(), 0, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* 16 descriptors of which the last 8 lie on an unmapped page. */
	m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, munmap(m + page, page));
	tail = (int *)(m + page) - 8;
	memcpy(tail, self->a, 8 * sizeof(int));
	EXPECT_EQ(-1, sd_share_batch(self->dev, tail, 16, getpid(), 0, NULL));
	EXPECT_EQ(EFAULT, errno);
	munmap(m, page);
	ASSERT_NOTHING_PINNED(16);
}

TEST_F(share, einval_fd_not_minus_one_with_nr_fds)
{
	struct sockdup_share sh = {
		.fd = self->a[0], .fds = (__u64)(uintptr_t)self->a, .nr_fds = 16,
	};

	EXPECT_EQ(-1, share_raw(self->dev, &sh));
	EXPECT_EQ(EINVAL, errno);
	sh.fd = 0;
	EXPECT_EQ(-1, share_raw(self->dev, &sh));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_NOTHING_PINNED(16);
}

TEST_F(share, einval_fds_without_nr_fds)
{
	struct sockdup_share sh = {
		.fd = self->a[0], .fds = (__u64)(uintptr_t)self->a,
	};

	EXPECT_EQ(-1, share_raw(self->dev, &sh));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_NOTHING_PINNED(16);
}

TEST_F(share, einval_reserved_nonzero)
{
	struct sockdup_share sh = {
		.fd = -1, .fds = (__u64)(uintptr_t)self->a, .nr_fds = 16,
		.reserved = 1,
	};

	EXPECT_EQ(-1, share_raw(self->dev, &sh));
	EXPECT_EQ(EINVAL, errno);
	sh.reserved = 0x80000000U;
	EXPECT_EQ(-1, share_raw(self->dev, &sh));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_NOTHING_PINNED(16);
}

/*
 * SOCKDUP_BATCH_MAX sockets share; one more is EINVAL (before anything is
 * read from the array).
 */
TEST_F(share, batch_max_shares_one_more_einval)
{
	struct rlimit old, more = { 4 * SOCKDUP_BATCH_MAX, 4 * SOCKDUP_BATCH_MAX };
	int *fds = calloc(SOCKDUP_BATCH_MAX + 1, sizeof(int));
	int *got = calloc(SOCKDUP_BATCH_MAX, sizeof(int));
	struct sd_cookie c;
	int i;

	ASSERT_NE(NULL, fds);
	ASSERT_NE(NULL, got);
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	if (old.rlim_max > more.rlim_max)
		more.rlim_max = old.rlim_max;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &more));
	/* The same socket many times over: each entry pins it once. */
	for (i = 0; i <= SOCKDUP_BATCH_MAX; i++)
		fds[i] = self->a[i % 16];
	EXPECT_EQ(-1, sd_share_batch(self->dev, fds, SOCKDUP_BATCH_MAX + 1,
				     getpid(), 0, NULL));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, sd_share_batch(self->dev, fds, SOCKDUP_BATCH_MAX,
				    getpid(), LONG_TTL_MS, &c))
		TH_LOG("SHARE of %d: %s", SOCKDUP_BATCH_MAX, strerror(errno));
	EXPECT_EQ(self->pending + SOCKDUP_BATCH_MAX, sd_pending(self->dev));
	ASSERT_EQ(SOCKDUP_BATCH_MAX, sd_redeem_batch(self->dev, &c, 0, got,
						     SOCKDUP_BATCH_MAX));
	EXPECT_EQ(-1, first_mismatch(got, fds, SOCKDUP_BATCH_MAX));
	close_all(got, SOCKDUP_BATCH_MAX);
	free(fds);
	free(got);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
}

/*
 * A batch takes one per-user slot per socket: with 15 slots left a batch
 * of 16 is EDQUOT and pins nothing; with 16 it shares.  The same for the
 * global cap, ENOSPC.
 */
TEST_F(share, edquot_and_enospc_count_sockets)
{
	struct sockdup_stats st;
	struct sd_cookie c;

	ASSERT_EQ(0, sd_stats(self->dev, &st));
	ASSERT_EQ(0, sd_param_set("max_per_user", st.user_pending + 15));
	EXPECT_EQ(-1, sd_share_batch(self->dev, self->a, 16, getpid(), 0, NULL));
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(self->pending, sd_pending(self->dev));
	ASSERT_EQ(0, sd_param_set("max_per_user", st.user_pending + 16));
	ASSERT_EQ(0, sd_share_batch(self->dev, self->a, 16, getpid(),
				    LONG_TTL_MS, &c))
		TH_LOG("SHARE: %s", strerror(errno));
	ASSERT_EQ(0, sd_stats(self->dev, &st));
	EXPECT_EQ(self->pending + 16, (long long)st.pending);
	EXPECT_EQ(st.max_per_user, st.user_pending);
	ASSERT_EQ(0, sd_revoke(self->dev, &c));
	ASSERT_EQ(0, sd_param_set("max_per_user", self->max_per_user));

	/* Root may use the reserve too: the cap itself is what counts. */
	ASSERT_EQ(0, sd_param_set("max_total", self->pending + 15));
	EXPECT_EQ(-1, sd_share_batch(self->dev, self->a, 16, getpid(), 0, NULL));
	EXPECT_EQ(ENOSPC, errno);
	ASSERT_NOTHING_PINNED(16);
}

/* The first REDEEM form has no array: @fds or @reserved2 alone is EINVAL. */
TEST_F(share, redeem_einval_fds_without_nr_fds_or_reserved2)
{
	struct sockdup_redeem rd = { .fds = (__u64)(uintptr_t)self->b };
	struct sd_cookie c;
	int fd;

	ASSERT_EQ(0, sd_share(self->dev, self->a[0], getpid(), LONG_TTL_MS,
			      &c));
	memcpy(rd.cookie, c.b, sizeof(rd.cookie));
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_REDEEM, &rd));
	EXPECT_EQ(EINVAL, errno);
	rd.fds = 0;
	rd.reserved2 = 1;
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_REDEEM, &rd));
	EXPECT_EQ(EINVAL, errno);
	rd.reserved2 = 0;
	fd = ioctl(self->dev, SOCKDUP_IOC_REDEEM, &rd);
	ASSERT_LE(0, fd) TH_LOG("cookie lost: %s", strerror(errno));
	EXPECT_EQ(0, sd_kcmp_file(getpid(), fd, getpid(), self->a[0]));
	close(fd);
}

/* --- Races -------------------------------------------------------------- */

/* One round's shared state, released by a barrier. */
struct arena {
	pthread_barrier_t start, done;
	struct sd_cookie c;
	int dev;
	int stop;
	int mode;			/* what the helper threads do */
	int ret[NRACERS];
	int err[NRACERS];
	int got[NRACERS][RACE_N];
	int *close_fds;			/* for MODE_CLOSE */
};

enum { MODE_REDEEM, MODE_REVOKE, MODE_CLOSE };

struct racer {
	struct arena *a;
	int idx;
};

static void *racer_body(void *p)
{
	struct racer *r = p;
	struct arena *a = r->a;
	int i;

	for (;;) {
		pthread_barrier_wait(&a->start);
		if (a->stop)
			return NULL;
		switch (a->mode) {
		case MODE_REDEEM:
			a->ret[r->idx] = sd_redeem_batch(a->dev, &a->c, 0,
							 a->got[r->idx],
							 RACE_N);
			break;
		case MODE_REVOKE:
			a->ret[r->idx] = sd_revoke(a->dev, &a->c);
			break;
		case MODE_CLOSE:
			for (i = RACE_N - 1; i >= 0; i--)
				close(a->close_fds[i]);
			a->ret[r->idx] = 0;
			break;
		}
		a->err[r->idx] = a->ret[r->idx] < 0 ? errno : 0;
		pthread_barrier_wait(&a->done);
	}
}

FIXTURE(race) {
	struct arena a;
	struct racer r[NRACERS];
	pthread_t th[NRACERS];
	int nth;
	int s[RACE_N], p[RACE_N];
	long long pending;
	int base;
};

FIXTURE_SETUP(race)
{
	self->a.dev = sd_open();
	ASSERT_LE(0, self->a.dev);
	ASSERT_EQ(0, make_pairs(self->s, self->p, RACE_N));
	self->pending = sd_pending(self->a.dev);
	self->base = sd_count_fds();
}

FIXTURE_TEARDOWN(race)
{
	int i;

	if (self->nth) {
		self->a.stop = 1;
		pthread_barrier_wait(&self->a.start);
		for (i = 0; i < self->nth; i++)
			pthread_join(self->th[i], NULL);
	}
	close_all(self->s, RACE_N);
	close_all(self->p, RACE_N);
	EXPECT_EQ(self->pending, sd_pending(self->a.dev));
	close(self->a.dev);
}

static int start_racers(FIXTURE_DATA(race) *self, int n, int mode)
{
	int i;

	self->a.mode = mode;
	if (pthread_barrier_init(&self->a.start, NULL, n + 1) ||
	    pthread_barrier_init(&self->a.done, NULL, n + 1))
		return -1;
	for (i = 0; i < n; i++) {
		self->r[i] = (struct racer){ &self->a, i };
		if (pthread_create(&self->th[i], NULL, racer_body, &self->r[i]))
			return -1;
		self->nth++;
	}
	return 0;
}

/*
 * NRACERS threads of the target redeem one batch cookie at once: exactly
 * one gets all RACE_N descriptors, the others ENOENT, and exactly RACE_N
 * descriptors appeared.
 */
TEST_F_TIMEOUT(race, threads_redeem_same_batch, 300)
{
	long long start = sd_now_ms();
	int round, i, bad = 0;

	ASSERT_EQ(0, start_racers(self, NRACERS, MODE_REDEEM));
	for (round = 0; race_more(round, start); round++) {
		int winners = 0, winner = -1;

		ASSERT_EQ(0, sd_share_batch(self->a.dev, self->s, RACE_N,
					    getpid(), LONG_TTL_MS, &self->a.c));
		pthread_barrier_wait(&self->a.start);
		pthread_barrier_wait(&self->a.done);
		for (i = 0; i < NRACERS; i++) {
			if (self->a.ret[i] == RACE_N) {
				winners++;
				winner = i;
			} else if ((self->a.ret[i] != -1 ||
				    self->a.err[i] != ENOENT) && bad++ < 5) {
				TH_LOG("round %d racer %d: %d (%s)", round, i,
				       self->a.ret[i], strerror(self->a.err[i]));
			}
		}
		if (winners != 1 && bad++ < 5)
			TH_LOG("round %d: %d winners", round, winners);
		if (sd_count_fds() != self->base + winners * RACE_N &&
		    bad++ < 5)
			TH_LOG("round %d: %d descriptors more", round,
			       sd_count_fds() - self->base);
		if (winner >= 0) {
			if (first_mismatch(self->a.got[winner], self->s,
					   RACE_N) != -1 && bad++ < 5)
				TH_LOG("round %d: not our sockets", round);
			close_all(self->a.got[winner], RACE_N);
		}
	}
	EXPECT_EQ(0, bad);
}

/*
 * REDEEM of a batch (this thread) against REVOKE (another): one wins, and
 * a REDEEM either installed all RACE_N or nothing.
 */
TEST_F_TIMEOUT(race, redeem_batch_against_revoke, 300)
{
	int round, bad = 0, redeems = 0, revokes = 0;
	long long start = sd_now_ms();
	int got[RACE_N];

	ASSERT_EQ(0, start_racers(self, 1, MODE_REVOKE));
	for (round = 0; race_more(round / 2, start); round++) {
		int ret, err, after;

		ASSERT_EQ(0, sd_share_batch(self->a.dev, self->s, RACE_N,
					    getpid(), LONG_TTL_MS, &self->a.c));
		pthread_barrier_wait(&self->a.start);
		ret = sd_redeem_batch(self->a.dev, &self->a.c, 0, got, RACE_N);
		err = ret < 0 ? errno : 0;
		pthread_barrier_wait(&self->a.done);
		after = sd_count_fds();
		if (ret == RACE_N && self->a.ret[0] == -1 &&
		    self->a.err[0] == ENOENT && after == self->base + RACE_N)
			redeems++;
		else if (ret == -1 && err == ENOENT && self->a.ret[0] == 0 &&
			 after == self->base)
			revokes++;
		else if (bad++ < 5)
			TH_LOG("round %d: redeem %d (%s), revoke %d (%s), %d fds more",
			       round, ret, strerror(err), self->a.ret[0],
			       strerror(self->a.err[0]), after - self->base);
		if (ret == RACE_N)
			close_all(got, RACE_N);
	}
	EXPECT_EQ(0, bad);
	TH_LOG("redeem won %d, revoke won %d of %d rounds", redeems, revokes,
	       round);
}

/*
 * REDEEM of a batch against its expiry: a TTL of 1..3 ms runs out around
 * the REDEEM.  It either installs all RACE_N or gets ENOENT with nothing
 * installed, and the share is gone either way.
 */
TEST_F_TIMEOUT(race, redeem_batch_against_expiry, 300)
{
	int round, bad = 0, redeems = 0, expired = 0;
	long long start = sd_now_ms();
	int got[RACE_N];

	for (round = 0; race_more(round / 2, start); round++) {
		int ret, err, after;

		ASSERT_EQ(0, sd_share_batch(self->a.dev, self->s, RACE_N,
					    getpid(), 1 + round % 3,
					    &self->a.c));
		sd_sleep_ms(round % 4);
		ret = sd_redeem_batch(self->a.dev, &self->a.c, 0, got, RACE_N);
		err = ret < 0 ? errno : 0;
		after = sd_count_fds();
		if (ret == RACE_N && after == self->base + RACE_N)
			redeems++;
		else if (ret == -1 && err == ENOENT && after == self->base)
			expired++;
		else if (bad++ < 5)
			TH_LOG("round %d: redeem %d (%s), %d fds more", round,
			       ret, strerror(err), after - self->base);
		if (ret == RACE_N)
			close_all(got, RACE_N);
		if (ret == RACE_N || err == ENOENT) {
			EXPECT_EQ(-1, sd_revoke(self->a.dev, &self->a.c));
			EXPECT_EQ(ENOENT, errno);
		}
	}
	EXPECT_EQ(self->pending, sd_wait_pending(self->a.dev, self->pending,
						  SD_WAIT_MS));
	EXPECT_EQ(0, bad);
	TH_LOG("redeemed %d, expired first %d of %d rounds", redeems, expired,
	       round);
}

/*
 * A batch SHARE while another thread closes its sockets: either every
 * socket is pinned (the REDEEM gives them all, by inode) or SHARE fails
 * with EBADF and nothing is pinned (every peer sees EOF).
 */
TEST_F_TIMEOUT(race, batch_share_against_close, 300)
{
	int round, i, bad = 0, shared = 0, refused = 0;
	long long start = sd_now_ms();
	unsigned long long ino[RACE_N];
	int got[RACE_N];

	self->a.close_fds = self->s;
	ASSERT_EQ(0, start_racers(self, 1, MODE_CLOSE));
	for (round = 0; race_more(round, start); round++) {
		int ret, err, open_peer;

		if (round)
			ASSERT_EQ(0, make_pairs(self->s, self->p, RACE_N));
		for (i = 0; i < RACE_N; i++)
			ino[i] = sd_inode(self->s[i]);
		pthread_barrier_wait(&self->a.start);
		ret = sd_share_batch(self->a.dev, self->s, RACE_N, getpid(),
				     LONG_TTL_MS, &self->a.c);
		err = ret < 0 ? errno : 0;
		pthread_barrier_wait(&self->a.done);
		/* The closer closed them all. */
		memset(self->s, 0xff, sizeof(self->s));
		if (ret == 0) {
			shared++;
			if (sd_redeem_batch(self->a.dev, &self->a.c, 0, got,
					    RACE_N) != RACE_N) {
				if (bad++ < 5)
					TH_LOG("round %d: REDEEM: %s", round,
					       strerror(errno));
			} else {
				for (i = 0; i < RACE_N; i++)
					if (sd_inode(got[i]) != ino[i] &&
					    bad++ < 5)
						TH_LOG("round %d: socket %d", round, i);
				close_all(got, RACE_N);
			}
		} else if (err == EBADF) {
			refused++;
		} else if (bad++ < 5) {
			TH_LOG("round %d: SHARE: %s", round, strerror(err));
		}
		open_peer = first_peer_open(self->p, RACE_N);
		if (open_peer != -1 && bad++ < 5)
			TH_LOG("round %d: socket %d still pinned", round,
			       open_peer);
		close_all(self->p, RACE_N);
		memset(self->p, 0xff, sizeof(self->p));
		if (sd_pending(self->a.dev) != self->pending && bad++ < 5)
			TH_LOG("round %d: shares left pending", round);
	}
	EXPECT_EQ(0, bad);
	TH_LOG("shared whole %d, refused %d of %d rounds", shared, refused,
	       round);
}

TEST_HARNESS_MAIN
