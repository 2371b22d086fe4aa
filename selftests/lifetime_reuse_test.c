// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reuse: a cookie or an id that is used up never reaches the share that
 * took its place.
 *
 * A cookie carries the index of its share in the module's table, and a
 * released share's index and memory are handed to the next SHARE at once
 * (the entry cache is SLAB_TYPESAFE_BY_RCU where the kernel allows): a
 * lookup racing with the release and the reuse holds the address of what
 * is by then another share.  Here churn threads share and redeem (or
 * revoke) one of two sockets over and over, so a few indices and objects
 * are recycled thousands of times, while probe threads keep throwing the
 * used-up cookies and ids back at the module, all as the one target
 * process.  Afterwards:
 *   - every stale REDEEM, QUERY and REVOKE (by cookie and by id) failed
 *     with ENOENT: none got a descriptor or touched a live share;
 *   - every fresh cookie redeemed (or revoked) exactly once, and the
 *     descriptor is the socket that was shared, not the other one;
 *   - nothing is left pending.
 * The debug lane runs this under KASAN and lockdep.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "kselftest_harness.h"

#include "sockdup_util.h"

#define CHURNERS	2
#define PROBERS		2
#define ROUNDS		3000	/* shares per churn thread */
#define STALE		64	/* used-up cookies the probes pick from */

struct used {
	__u8 cookie[SOCKDUP_COOKIE_SIZE];
	__u64 id;	/* 0: not written yet */
};

struct arena {
	int dev;
	int socks[2];			/* what the churners share */
	pthread_mutex_t lock;		/* @stale, @nstale */
	struct used stale[STALE];
	unsigned int nstale;
	atomic_int churning;		/* churn threads still running */
	atomic_int fresh_fail;		/* a fresh cookie did not work */
	atomic_int wrong_sock;		/* redeemed the other socket */
	atomic_int stale_hit;		/* a used-up cookie or id worked */
	atomic_int stale_errno;		/* ... or failed with not ENOENT */
	atomic_long probes;
	int last_errno;
};

static void used_put(struct arena *a, const struct sockdup_share *s,
		     unsigned int n)
{
	pthread_mutex_lock(&a->lock);
	memcpy(a->stale[n % STALE].cookie, s->cookie, SOCKDUP_COOKIE_SIZE);
	a->stale[n % STALE].id = s->id;
	if (a->nstale < STALE)
		a->nstale++;
	pthread_mutex_unlock(&a->lock);
}

static void *churn(void *p)
{
	static atomic_uint seq;
	struct arena *a = p;
	unsigned int i;

	for (i = 0; i < ROUNDS; i++) {
		int k = i & 1, fd;
		struct sockdup_share s;

		if (sd_share(a->dev, a->socks[k], getpid(), 0, &s)) {
			atomic_fetch_add(&a->fresh_fail, 1);
			break;
		}
		if (i % 3 == 2) {
			if (sd_revoke(a->dev, s.cookie))
				atomic_fetch_add(&a->fresh_fail, 1);
		} else {
			fd = sd_redeem(a->dev, s.cookie, SOCKDUP_REDEEM_CLOEXEC);
			if (fd < 0) {
				atomic_fetch_add(&a->fresh_fail, 1);
			} else {
				if (sd_inode(fd) != sd_inode(a->socks[k]))
					atomic_fetch_add(&a->wrong_sock, 1);
				close(fd);
			}
		}
		used_put(a, &s, atomic_fetch_add(&seq, 1));
	}
	atomic_fetch_sub(&a->churning, 1);
	return NULL;
}

/* A used-up cookie or id must be ENOENT to every command. */
static void stale_result(struct arena *a, int ret)
{
	if (ret >= 0) {
		atomic_fetch_add(&a->stale_hit, 1);
		/* REDEEM: a descriptor for someone else's share. */
		if (ret > 2)
			close(ret);
	} else if (errno != ENOENT) {
		a->last_errno = errno;
		atomic_fetch_add(&a->stale_errno, 1);
	}
}

static void *probe(void *p)
{
	struct arena *a = p;
	unsigned int r = (unsigned int)pthread_self();

	while (atomic_load(&a->churning)) {
		struct used u;

		pthread_mutex_lock(&a->lock);
		if (!a->nstale) {
			pthread_mutex_unlock(&a->lock);
			sched_yield();
			continue;
		}
		r = r * 1103515245 + 12345;
		u = a->stale[(r >> 8) % a->nstale];
		pthread_mutex_unlock(&a->lock);
		/*
		 * Churners take their sequence numbers before the lock: the
		 * one with n + 1 may fill its entry before the one with n.
		 */
		if (!u.id)
			continue;

		stale_result(a, sd_redeem(a->dev, u.cookie, SOCKDUP_REDEEM_CLOEXEC));
		stale_result(a, sd_query(a->dev, u.cookie, NULL));
		stale_result(a, sd_query_id(a->dev, u.id, NULL));
		stale_result(a, sd_revoke_id(a->dev, u.id));
		stale_result(a, sd_revoke(a->dev, u.cookie));
		atomic_fetch_add(&a->probes, 1);
	}
	return NULL;
}

FIXTURE(reuse) {
	struct arena a;
	int sv[2][2];
};

FIXTURE_SETUP(reuse)
{
	int k;

	memset(&self->a, 0, sizeof(self->a));
	memset(self->sv, -1, sizeof(self->sv));
	pthread_mutex_init(&self->a.lock, NULL);
	self->a.dev = sd_open();
	ASSERT_LE(0, self->a.dev);
	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
					self->sv[k]));
		self->a.socks[k] = self->sv[k][0];
	}
}

FIXTURE_TEARDOWN(reuse)
{
	int k, j;

	for (k = 0; k < 2; k++)
		for (j = 0; j < 2; j++)
			if (self->sv[k][j] >= 0)
				close(self->sv[k][j]);
	if (self->a.dev >= 0)
		close(self->a.dev);
}

TEST_F_TIMEOUT(reuse, used_cookies_and_ids_never_reach_new_shares, 300)
{
	struct arena *a = &self->a;
	pthread_t t[CHURNERS + PROBERS];
	struct sockdup_stats st0, st1;
	int i;

	ASSERT_EQ(0, sd_stats(a->dev, &st0));
	atomic_store(&a->churning, CHURNERS);
	for (i = 0; i < CHURNERS + PROBERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL,
					    i < CHURNERS ? churn : probe, a));
	for (i = 0; i < CHURNERS + PROBERS; i++)
		pthread_join(t[i], NULL);
	ASSERT_EQ(0, sd_stats(a->dev, &st1));

	ksft_print_msg("%d shares, %ld probes of 5 stale calls each\n",
		       CHURNERS * ROUNDS, atomic_load(&a->probes));
	EXPECT_EQ(0, atomic_load(&a->fresh_fail))
		TH_LOG("a fresh cookie failed to redeem or revoke");
	EXPECT_EQ(0, atomic_load(&a->wrong_sock))
		TH_LOG("a cookie redeemed the other socket");
	EXPECT_EQ(0, atomic_load(&a->stale_hit))
		TH_LOG("a used-up cookie or id reached a live share");
	EXPECT_EQ(0, atomic_load(&a->stale_errno))
		TH_LOG("a used-up cookie or id failed with %s, not ENOENT",
		       strerror(a->last_errno));
	/* The probes ran while the churn did, or the test proved nothing. */
	EXPECT_LT(0, atomic_load(&a->probes));
	EXPECT_EQ((long long)CHURNERS * ROUNDS,
		  (long long)(st1.shared - st0.shared));
	/* Less what earlier programs left pending and expired meanwhile. */
	EXPECT_GE(st0.user_pending, st1.user_pending);
}

TEST_HARNESS_MAIN
