// SPDX-License-Identifier: GPL-2.0-only
/*
 * Quotas: the per-user cap on pending shares (max_per_user, EDQUOT) and the
 * global cap (max_total, ENOSPC) are hit exactly at the cap, per effective
 * uid, counted in STATS.refused_user / refused_global; a redeem, revoke,
 * decline, expiry or reap gives the slot back at once.  A refused SHARE
 * pins nothing.
 */
#define _GNU_SOURCE
#include "lifetime_util.h"

#include "kselftest_harness.h"

#define LONG_TTL_MS	30000
#define SHORT_TTL_MS	300
#define FAST_SWEEP_MS	200
#define MAX_SHARES	32
/* shares allowed above what is pending when a test starts */
#define N		4

FIXTURE(quota) {
	int dev;
	struct agent target, target2, user;
	struct sockdup_stats st0;
	int nr;
	int socks[MAX_SHARES], peers[MAX_SHARES];
	struct sockdup_share shares[MAX_SHARES];
};

FIXTURE_SETUP(quota)
{
	struct agent *a[] = { &self->target, &self->target2, &self->user };
	size_t i;

	self->dev = -1;
	self->nr = 0;
	for (i = 0; i < 3; i++) {
		a[i]->ctl = -1;
		a[i]->child = -1;
	}
	ASSERT_EQ(0, params_reset());
	self->dev = sd_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, agent_spawn(&self->target, 0, 0));
	ASSERT_EQ(0, agent_spawn(&self->target2, 0, 0));
	ASSERT_EQ(0, agent_spawn(&self->user, 1000, 0));
	/* let what earlier tests left behind drain (not required) */
	sd_wait_pending(self->dev, 0, 2 * param_orig(SD_SWEEP) + 500);
	ASSERT_EQ(0, sd_stats(self->dev, &self->st0));
}

FIXTURE_TEARDOWN(quota)
{
	int i;

	for (i = 0; i < self->nr; i++) {
		if (self->dev >= 0)
			sd_revoke(self->dev, self->shares[i].cookie);
		if (self->socks[i] >= 0)
			close(self->socks[i]);
		close(self->peers[i]);
	}
	agent_kill(&self->target);
	agent_kill(&self->target2);
	agent_kill(&self->user);
	if (self->dev >= 0)
		close(self->dev);
	EXPECT_EQ(0, params_reset());
}

/*
 * Share a fresh socket with @target; the sharer's copy is closed so the
 * share is the only pin.  Returns the SHARE result, errno kept.  The share
 * is remembered for the teardown.
 */
static int share_new(FIXTURE_DATA(quota) *self, pid_t target, __u32 ttl,
		     struct sockdup_share **out)
{
	int i = self->nr, ret, err;

	if (i >= MAX_SHARES) {
		errno = E2BIG;
		return -2;
	}
	if (make_sock(SK_UNIX_STREAM, &self->socks[i], &self->peers[i]))
		return -2;
	memset(&self->shares[i], 0, sizeof(self->shares[i]));
	ret = sd_share(self->dev, self->socks[i], target, ttl,
		       &self->shares[i]);
	err = errno;
	close(self->socks[i]);
	self->socks[i] = -1;
	self->nr++;
	if (out)
		*out = &self->shares[i];
	errno = err;
	return ret;
}

/* The per-user cap: N more shares than we have pending, then EDQUOT. */
static long cap_user(FIXTURE_DATA(quota) *self)
{
	return self->st0.user_pending + N;
}

static void fill(struct __test_metadata *_metadata, FIXTURE_DATA(quota) *self,
		 int count, __u32 ttl)
{
	int i;

	for (i = 0; i < count; i++)
		ASSERT_EQ(0, share_new(self, self->target.pid, ttl, NULL));
}

TEST_F(quota, user_cap_exact)
{
	struct sockdup_stats st;
	struct sockdup_share *s;

	ASSERT_EQ(0, param_set("max_per_user", cap_user(self)));
	fill(_metadata, self, N, LONG_TTL_MS);
	ASSERT_EQ(0, sd_stats(self->dev, &st));
	EXPECT_EQ((__u64)cap_user(self), st.user_pending);
	EXPECT_EQ((__u64)cap_user(self), st.max_per_user);

	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
	ASSERT_EQ(0, sd_stats(self->dev, &st));
	EXPECT_EQ(self->st0.refused_user + 1, st.refused_user);
	EXPECT_EQ(self->st0.refused_global, st.refused_global);
	EXPECT_EQ(self->st0.shared + N, st.shared);
	EXPECT_EQ(self->st0.pending + N, st.pending);
	EXPECT_EQ((__u64)cap_user(self), st.user_pending);
	/* the refused share pinned nothing: our close was the last one */
	EXPECT_EQ(1, peer_closed(self->peers[self->nr - 1], 0));

	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
	ASSERT_EQ(0, sd_stats(self->dev, &st));
	EXPECT_EQ(self->st0.refused_user + 2, st.refused_user);
}

/* Each release path gives the slot back; one more share then fits. */
TEST_F(quota, freed_by_redeem)
{
	struct sockdup_share *s;

	ASSERT_EQ(0, param_set("max_per_user", cap_user(self)));
	fill(_metadata, self, N, LONG_TTL_MS);
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
	ASSERT_LE(0, agent_redeem(&self->target, self->shares[0].cookie, 0,
				  NULL));
	EXPECT_EQ(0, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
}

TEST_F(quota, freed_by_revoke)
{
	struct sockdup_share *s;

	ASSERT_EQ(0, param_set("max_per_user", cap_user(self)));
	fill(_metadata, self, N, LONG_TTL_MS);
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
	ASSERT_EQ(0, sd_revoke(self->dev, self->shares[1].cookie));
	EXPECT_EQ(0, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
}

TEST_F(quota, freed_by_decline)
{
	struct sockdup_share *s;

	ASSERT_EQ(0, param_set("max_per_user", cap_user(self)));
	fill(_metadata, self, N, LONG_TTL_MS);
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
	ASSERT_EQ(0, agent_revoke(&self->target, self->shares[2].cookie));
	EXPECT_EQ(0, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
}

TEST_F(quota, freed_by_expiry)
{
	struct sockdup_share *s;
	int64_t t0, waited;

	ASSERT_EQ(0, param_set("max_per_user", cap_user(self)));
	fill(_metadata, self, N - 1, LONG_TTL_MS);
	t0 = now_ms();
	ASSERT_EQ(0, share_new(self, self->target.pid, SHORT_TTL_MS, &s));
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);

	waited = sd_wait_counter(self->dev,
				 offsetof(struct sockdup_stats, expired),
				 self->st0.expired + 1, SHORT_TTL_MS + 2000);
	ASSERT_LE(0, waited);
	TH_LOG("expired counted %lld ms after SHARE (ttl %d)",
	       (long long)(now_ms() - t0), SHORT_TTL_MS);
	EXPECT_EQ(0, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
}

TEST_F(quota, freed_by_reap)
{
	struct sockdup_share *s;
	int64_t t0, waited;

	ASSERT_EQ(0, param_set("sweep_ms", FAST_SWEEP_MS));
	sleep_ms(param_orig(SD_SWEEP) + 50);
	ASSERT_EQ(0, param_set("max_per_user", cap_user(self)));
	fill(_metadata, self, N - 1, LONG_TTL_MS);
	ASSERT_EQ(0, share_new(self, self->target2.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);

	ASSERT_EQ(0, agent_exit(&self->target2, 0));
	t0 = now_ms();
	waited = sd_wait_counter(self->dev,
				 offsetof(struct sockdup_stats, reaped),
				 self->st0.reaped + 1, 2 * FAST_SWEEP_MS + 2000);
	ASSERT_LE(0, waited);
	TH_LOG("reaped counted %lld ms after the target exited",
	       (long long)(now_ms() - t0));
	EXPECT_EQ(0, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
}

/* The cap is per effective uid: another user has a quota of its own. */
TEST_F(quota, per_euid)
{
	struct sockdup_stats ust;
	struct sockdup_share s, us[N + 1];
	long ucount;
	int i, sock, peer;

	ASSERT_EQ(0, param_set("max_per_user", cap_user(self)));
	fill(_metadata, self, N, LONG_TTL_MS);
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, NULL));
	EXPECT_EQ(EDQUOT, errno);

	ASSERT_EQ(0, agent_stats(&self->user, &ust));
	ASSERT_GE((__u64)cap_user(self), ust.user_pending);
	ucount = cap_user(self) - ust.user_pending;
	ASSERT_GE(N, ucount);
	for (i = 0; i <= ucount; i++) {
		ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sock, &peer));
		if (i < ucount) {
			EXPECT_EQ(0, agent_share(&self->user, sock,
						 self->target.pid, LONG_TTL_MS,
						 &us[i]));
		} else {
			EXPECT_EQ(-1, agent_share(&self->user, sock,
						  self->target.pid,
						  LONG_TTL_MS, &s));
			EXPECT_EQ(EDQUOT, errno);
		}
		close(sock);
		close(peer);
	}
	ASSERT_EQ(0, agent_stats(&self->user, &ust));
	EXPECT_EQ((__u64)cap_user(self), ust.user_pending);
	EXPECT_EQ(self->st0.refused_user + 2, ust.refused_user);
	/* root is still full, the user's shares did not count for it */
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, NULL));
	EXPECT_EQ(EDQUOT, errno);
	for (i = 0; i < ucount; i++)
		EXPECT_EQ(0, agent_revoke(&self->user, us[i].cookie));
}

/* Lowering the cap below what is pending refuses until under the cap. */
TEST_F(quota, lowered_cap)
{
	struct sockdup_share *s;
	int i;

	ASSERT_EQ(0, param_set("max_per_user", cap_user(self)));
	fill(_metadata, self, N, LONG_TTL_MS);
	ASSERT_EQ(0, param_set("max_per_user", cap_user(self) - 2));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
		EXPECT_EQ(EDQUOT, errno);
		ASSERT_EQ(0, sd_revoke(self->dev, self->shares[i].cookie));
	}
	EXPECT_EQ(0, share_new(self, self->target.pid, LONG_TTL_MS, &s));
}

/* The global cap: ENOSPC for everybody once max_total shares are pending. */
TEST_F(quota, global_cap_enospc)
{
	struct sockdup_stats st;
	struct sockdup_share *s, us;
	long total = self->st0.pending + N;
	int sock, peer, upeer;

	ASSERT_EQ(0, param_set("max_total", total));
	fill(_metadata, self, N - 1, LONG_TTL_MS);
	/* the last slot goes to the ordinary user */
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sock, &upeer));
	ASSERT_EQ(0, agent_share(&self->user, sock, self->target.pid,
				 LONG_TTL_MS, &us));
	close(sock);

	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(ENOSPC, errno);
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sock, &peer));
	EXPECT_EQ(-1, agent_share(&self->user, sock, self->target.pid,
				  LONG_TTL_MS, NULL));
	EXPECT_EQ(ENOSPC, errno);
	close(sock);
	close(peer);

	ASSERT_EQ(0, sd_stats(self->dev, &st));
	EXPECT_EQ(self->st0.refused_global + 2, st.refused_global);
	EXPECT_EQ(self->st0.refused_user, st.refused_user);
	EXPECT_EQ((__u64)total, st.max_total);
	EXPECT_EQ((__u64)total, st.pending);
	/* the peer of the refused share: nothing pinned it */
	EXPECT_EQ(1, peer_closed(self->peers[self->nr - 1], 0));

	/* one release, one slot, for anybody */
	ASSERT_EQ(0, agent_revoke(&self->target, us.cookie));
	EXPECT_EQ(1, peer_closed(upeer, 1000));
	close(upeer);
	EXPECT_EQ(0, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(ENOSPC, errno);
}

TEST_HARNESS_MAIN
