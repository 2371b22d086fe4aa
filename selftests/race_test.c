// SPDX-License-Identifier: GPL-2.0-only
/*
 * race_test - exactly one REDEEM of a cookie ever succeeds
 *
 * Many rounds, each with a fresh cookie released to all racers at once by
 * a barrier:
 * - 8 threads of the target redeem it: one gets a descriptor (the socket,
 *   by kcmp), the other 7 get ENOENT, and /proc/self/fd has exactly one
 *   entry more (none once the winner closes it);
 * - 4 processes, one of them the target (a different one each round), and
 *   the sharer redeem it: the target gets the one descriptor, the others
 *   EPERM or ENOENT;
 * - a REDEEM and a REVOKE race: exactly one of them succeeds.
 * After each test nothing is left pending.
 */
#define _GNU_SOURCE
#include <linux/sockdup.h>

#include <pthread.h>
#include <sys/mman.h>

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

#define THREAD_ROUNDS	200
#define NTHREADS	8
#define PROC_ROUNDS	100
#define NPROCS		4
#define REVOKE_ROUNDS	200
#define MAX_REPORTS	5	/* failures printed per test */

/* One round's shared state, in MAP_SHARED memory for the process test. */
struct arena {
	pthread_barrier_t start, done;
	struct sd_cookie c;
	int stop;
	int ret[NPROCS + NTHREADS];
	int err[NPROCS + NTHREADS];
	int fd_delta[NPROCS + NTHREADS];	/* /proc/self/fd growth */
	int same_file[NPROCS + NTHREADS];	/* kcmp with the socket */
};

FIXTURE(race) {
	int dev;
	int sv[2];
	struct arena *a;
	long long pending;
	pid_t pids[NPROCS];
};

FIXTURE_SETUP(race)
{
	pthread_barrierattr_t attr;
	int i;

	self->sv[0] = self->sv[1] = -1;
	for (i = 0; i < NPROCS; i++)
		self->pids[i] = -1;
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				self->sv));
	self->a = mmap(NULL, sizeof(*self->a), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->a);
	pthread_barrierattr_init(&attr);
	pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	/* Sized per test; the process test re-initializes them. */
	ASSERT_EQ(0, pthread_barrier_init(&self->a->start, &attr,
					  NTHREADS + 1));
	ASSERT_EQ(0, pthread_barrier_init(&self->a->done, &attr,
					  NTHREADS + 1));
	self->pending = sd_pending(self->dev);
}

FIXTURE_TEARDOWN(race)
{
	int i;

	for (i = 0; i < NPROCS; i++)
		sd_kill_wait(self->pids[i]);
	EXPECT_EQ(self->pending, sd_pending(self->dev));
	close(self->sv[0]);
	close(self->sv[1]);
	close(self->dev);
	munmap(self->a, sizeof(*self->a));
}

struct racer {
	struct arena *a;
	int dev;
	int idx;
	int sock;
};

/*
 * One racer's REDEEM, right after the start barrier; records the result
 * and, for a winner, whether it is our socket and (if @before, the count
 * of descriptors taken before the barrier, is not -1) how many descriptors
 * appeared.
 */
static void race_once(struct racer *r, pid_t self_pid, int before)
{
	struct arena *a = r->a;
	int ret;

	ret = sd_redeem(r->dev, &a->c, SOCKDUP_REDEEM_CLOEXEC);
	a->ret[r->idx] = ret;
	a->err[r->idx] = ret < 0 ? errno : 0;
	if (ret >= 0) {
		a->same_file[r->idx] =
			sd_kcmp_file(self_pid, ret, self_pid, r->sock) == 0;
		if (before >= 0)
			a->fd_delta[r->idx] = sd_count_fds() - before;
	}
}

static void *thread_racer(void *p)
{
	struct racer *r = p;

	for (;;) {
		pthread_barrier_wait(&r->a->start);
		if (r->a->stop)
			return NULL;
		race_once(r, getpid(), -1);
		pthread_barrier_wait(&r->a->done);
	}
}

TEST_F_TIMEOUT(race, threads_redeem_same_cookie, 120)
{
	struct racer r[NTHREADS];
	pthread_t th[NTHREADS];
	int round, i, base, bad = 0, wins = 0;

	for (i = 0; i < NTHREADS; i++) {
		r[i] = (struct racer){ self->a, self->dev, i, self->sv[0] };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, thread_racer, &r[i]));
	}
	base = sd_count_fds();
	for (round = 0; round < THREAD_ROUNDS; round++) {
		int winners = 0, winner = -1, after;

		ASSERT_EQ(0, sd_share(self->dev, self->sv[0], getpid(), 0,
				      &self->a->c));
		memset(self->a->ret, 0, sizeof(self->a->ret));
		pthread_barrier_wait(&self->a->start);
		pthread_barrier_wait(&self->a->done);

		for (i = 0; i < NTHREADS; i++) {
			if (self->a->ret[i] >= 0) {
				winners++;
				winner = i;
			} else if (self->a->err[i] != ENOENT &&
				   bad++ < MAX_REPORTS) {
				TH_LOG("round %d thread %d: %s", round, i,
				       strerror(self->a->err[i]));
			}
		}
		after = sd_count_fds();
		if ((winners != 1 || after != base + 1) &&
		    bad++ < MAX_REPORTS)
			TH_LOG("round %d: %d winners, %d new descriptors",
			       round, winners, after - base);
		if (winner >= 0) {
			if (!self->a->same_file[winner] && bad++ < MAX_REPORTS)
				TH_LOG("round %d: not our socket", round);
			for (i = 0; i < NTHREADS; i++)
				if (self->a->ret[i] >= 0)
					close(self->a->ret[i]);
			wins++;
		}
		if (sd_count_fds() != base && bad++ < MAX_REPORTS)
			TH_LOG("round %d: descriptors left", round);
	}
	self->a->stop = 1;
	pthread_barrier_wait(&self->a->start);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(THREAD_ROUNDS, wins);
}

/* A racing process: round after round until told to stop. */
static int process_racer(struct racer *r)
{
	for (;;) {
		int before = sd_count_fds();

		pthread_barrier_wait(&r->a->start);
		if (r->a->stop)
			return 0;
		race_once(r, getpid(), before);
		if (r->a->ret[r->idx] >= 0)
			close(r->a->ret[r->idx]);
		pthread_barrier_wait(&r->a->done);
	}
}

TEST_F_TIMEOUT(race, processes_redeem_same_cookie, 120)
{
	pthread_barrierattr_t attr;
	int round, i, bad = 0, me = NPROCS;	/* our slot in the arena */
	struct racer mine = { self->a, self->dev, me, self->sv[0] };

	/* NPROCS children and us. */
	pthread_barrierattr_init(&attr);
	pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_barrier_destroy(&self->a->start);
	pthread_barrier_destroy(&self->a->done);
	ASSERT_EQ(0, pthread_barrier_init(&self->a->start, &attr, NPROCS + 1));
	ASSERT_EQ(0, pthread_barrier_init(&self->a->done, &attr, NPROCS + 1));

	for (i = 0; i < NPROCS; i++) {
		self->pids[i] = sd_fork(NULL);
		ASSERT_LE(0, self->pids[i]);
		if (self->pids[i] == 0) {
			struct racer r = { self->a, sd_open(), i, self->sv[0] };

			_exit(r.dev < 0 ? 2 : process_racer(&r));
		}
	}
	for (round = 0; round < PROC_ROUNDS; round++) {
		int target = round % NPROCS, winners = 0;

		ASSERT_EQ(0, sd_share(self->dev, self->sv[0],
				      self->pids[target], 0, &self->a->c));
		memset(self->a->ret, 0xff, sizeof(self->a->ret));
		memset(self->a->fd_delta, 0, sizeof(self->a->fd_delta));
		pthread_barrier_wait(&self->a->start);
		race_once(&mine, getpid(), -1);	/* the sharer races too */
		if (self->a->ret[me] >= 0)
			close(self->a->ret[me]);
		pthread_barrier_wait(&self->a->done);

		for (i = 0; i <= NPROCS; i++) {
			int ret = self->a->ret[i], err = self->a->err[i];

			if (ret >= 0)
				winners++;
			if (i == target) {
				if ((ret < 0 || !self->a->same_file[i] ||
				     self->a->fd_delta[i] != 1) &&
				    bad++ < MAX_REPORTS)
					TH_LOG("round %d: target: ret %d (%s), same %d, +%d fds",
					       round, ret, strerror(err),
					       self->a->same_file[i],
					       self->a->fd_delta[i]);
			} else if ((ret >= 0 || (err != EPERM && err != ENOENT)) &&
				   bad++ < MAX_REPORTS) {
				TH_LOG("round %d: non-target %d: ret %d, %s",
				       round, i, ret, strerror(err));
			}
		}
		if (winners != 1 && bad++ < MAX_REPORTS)
			TH_LOG("round %d: %d winners", round, winners);
	}
	self->a->stop = 1;
	pthread_barrier_wait(&self->a->start);
	for (i = 0; i < NPROCS; i++) {
		EXPECT_EQ(0, sd_wait(self->pids[i]));
		self->pids[i] = -1;
	}
	EXPECT_EQ(0, bad);
}

struct revoker {
	struct arena *a;
	int dev;
};

static void *revoke_thread(void *p)
{
	struct revoker *rv = p;

	for (;;) {
		pthread_barrier_wait(&rv->a->start);
		if (rv->a->stop)
			return NULL;
		rv->a->ret[1] = sd_revoke(rv->dev, &rv->a->c);
		rv->a->err[1] = rv->a->ret[1] ? errno : 0;
		pthread_barrier_wait(&rv->a->done);
	}
}

/* REDEEM (this thread) against REVOKE (another thread): one wins. */
TEST_F_TIMEOUT(race, redeem_against_revoke, 120)
{
	pthread_barrierattr_t attr;
	struct revoker rv = { self->a, self->dev };
	int round, bad = 0, redeems = 0, revokes = 0, base;
	pthread_t th;

	pthread_barrierattr_init(&attr);
	pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_barrier_destroy(&self->a->start);
	pthread_barrier_destroy(&self->a->done);
	ASSERT_EQ(0, pthread_barrier_init(&self->a->start, &attr, 2));
	ASSERT_EQ(0, pthread_barrier_init(&self->a->done, &attr, 2));
	ASSERT_EQ(0, pthread_create(&th, NULL, revoke_thread, &rv));
	base = sd_count_fds();

	for (round = 0; round < REVOKE_ROUNDS; round++) {
		int fd, err, rret, rerr;

		ASSERT_EQ(0, sd_share(self->dev, self->sv[0], getpid(), 0,
				      &self->a->c));
		pthread_barrier_wait(&self->a->start);
		fd = sd_redeem(self->dev, &self->a->c, SOCKDUP_REDEEM_CLOEXEC);
		err = fd < 0 ? errno : 0;
		pthread_barrier_wait(&self->a->done);
		rret = self->a->ret[1];
		rerr = self->a->err[1];

		if (fd >= 0 && rret == -1 && rerr == ENOENT) {
			redeems++;
		} else if (fd < 0 && err == ENOENT && rret == 0) {
			revokes++;
		} else if (bad++ < MAX_REPORTS) {
			TH_LOG("round %d: redeem %d (%s), revoke %d (%s)",
			       round, fd, strerror(err), rret, strerror(rerr));
		}
		if (fd >= 0)
			close(fd);
		if (sd_count_fds() != base && bad++ < MAX_REPORTS)
			TH_LOG("round %d: descriptors left", round);
	}
	self->a->stop = 1;
	pthread_barrier_wait(&self->a->start);
	pthread_join(th, NULL);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(REVOKE_ROUNDS, redeems + revokes);
	TH_LOG("redeem won %d, revoke won %d of %d rounds", redeems, revokes,
	       REVOKE_ROUNDS);
}

TEST_HARNESS_MAIN
