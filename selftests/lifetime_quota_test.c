// SPDX-License-Identifier: GPL-2.0-only
/*
 * Quotas: the per-user cap on pending shares (max_per_user, EDQUOT) and the
 * global cap (max_total, ENOSPC) are hit exactly at the cap, per effective
 * uid, counted in STATS.refused_user / refused_global; a redeem, revoke,
 * decline, expiry or reap gives the slot back at once.  A refused SHARE
 * pins nothing.
 *
 * The test process shares as QUOTA_UID, real and effective (its saved uid
 * stays 0, so it can still set module parameters): no other test program
 * shares as that uid, so its count of pending shares is the test's own even
 * when other programs left root's shares pending.  A share is charged to
 * the sharer's real uid, as SCM_RIGHTS does, whatever its effective uid.
 * The last reserve_total slots of max_total are root's (CAP_SYS_RESOURCE).
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"

#include "sockdup_util.h"

#define QUOTA_UID	31000	/* the test process's euid while sharing */
#define OTHER_UID	31001	/* another ordinary user */
#define LONG_TTL_MS	sd_ms(30000)
#define SHORT_TTL_MS	300
#define FAST_SWEEP_MS	200
#define MAX_SHARES	64
/* shares allowed above what QUOTA_UID has pending when a test starts */
#define N		4

FIXTURE(quota) {
	int dev;
	struct agent target, target2, user;
	struct sockdup_stats st0;
	int nr;
	int socks[MAX_SHARES], peers[MAX_SHARES];
	struct sockdup_share shares[MAX_SHARES];
};

/* Module parameters are root's: switch back for a moment. */
static int set_param(const char *name, long val)
{
	int ret, err;

	if (seteuid(0))
		return -1;
	ret = sd_param_set(name, val);
	err = errno;
	if (seteuid(QUOTA_UID))
		return -1;
	errno = err;
	return ret;
}

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
	/* the agents first: they must not inherit the euid */
	ASSERT_EQ(0, agent_spawn(&self->target, 0, 0));
	ASSERT_EQ(0, agent_spawn(&self->target2, 0, 0));
	ASSERT_EQ(0, agent_spawn(&self->user, OTHER_UID, 0));
	ASSERT_EQ(0, setresuid(QUOTA_UID, QUOTA_UID, 0));
	ASSERT_EQ(0, sd_stats(self->dev, &self->st0));
}

FIXTURE_TEARDOWN(quota)
{
	int i;

	EXPECT_EQ(0, setresuid(0, 0, 0));
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

/* The per-user cap: N more shares than QUOTA_UID had pending. */
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

/* Wait until QUOTA_UID's pending count is @want; ms waited or -1. */
static int64_t wait_user_pending(int dev, __u64 want, int timeout_ms)
{
	int64_t t0 = sd_now_ms();
	struct sockdup_stats st;

	while (!sd_stats(dev, &st) && st.user_pending != want) {
		if (sd_now_ms() - t0 > timeout_ms)
			return -1;
		sd_sleep_ms(2);
	}
	return sd_now_ms() - t0;
}

TEST_F(quota, user_cap_exact)
{
	struct sockdup_stats st;
	struct sockdup_share *s;

	ASSERT_EQ(0, set_param("max_per_user", cap_user(self)));
	fill(_metadata, self, N, LONG_TTL_MS);
	ASSERT_EQ(0, sd_stats(self->dev, &st));
	EXPECT_EQ((__u64)cap_user(self), st.user_pending);
	EXPECT_EQ((__u64)cap_user(self), st.max_per_user);
	EXPECT_EQ(self->st0.shared + N, st.shared);

	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
	ASSERT_EQ(0, sd_stats(self->dev, &st));
	EXPECT_EQ(self->st0.refused_user + 1, st.refused_user);
	EXPECT_EQ(self->st0.refused_global, st.refused_global);
	EXPECT_EQ(self->st0.shared + N, st.shared);
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

	ASSERT_EQ(0, set_param("max_per_user", cap_user(self)));
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

	ASSERT_EQ(0, set_param("max_per_user", cap_user(self)));
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

	ASSERT_EQ(0, set_param("max_per_user", cap_user(self)));
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

	ASSERT_EQ(0, set_param("max_per_user", cap_user(self)));
	fill(_metadata, self, N - 1, LONG_TTL_MS);
	t0 = sd_now_ms();
	ASSERT_EQ(0, share_new(self, self->target.pid, SHORT_TTL_MS, &s));
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);

	/* once the expiry shows in the user's count, a share fits at once */
	waited = wait_user_pending(self->dev, cap_user(self) - 1,
				   SHORT_TTL_MS + SD_WAIT_MS);
	ASSERT_LE(0, waited);
	TH_LOG("slot back %lld ms after SHARE (ttl %d)",
	       (long long)(sd_now_ms() - t0), SHORT_TTL_MS);
	EXPECT_LE(SHORT_TTL_MS - 5, sd_now_ms() - t0);
	EXPECT_EQ(0, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
}

TEST_F(quota, freed_by_reap)
{
	struct sockdup_share *s;
	int64_t t0, waited;

	ASSERT_EQ(0, set_param("sweep_ms", FAST_SWEEP_MS));
	sd_sleep_ms(param_orig(SD_SWEEP) + sd_ms(50));
	ASSERT_EQ(0, set_param("max_per_user", cap_user(self)));
	fill(_metadata, self, N - 1, LONG_TTL_MS);
	ASSERT_EQ(0, share_new(self, self->target2.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);

	ASSERT_EQ(0, agent_exit(&self->target2, 0));
	t0 = sd_now_ms();
	waited = wait_user_pending(self->dev, cap_user(self) - 1,
				   2 * FAST_SWEEP_MS + SD_WAIT_MS);
	ASSERT_LE(0, waited);
	TH_LOG("slot back %lld ms after the target exited",
	       (long long)(sd_now_ms() - t0));
	EXPECT_EQ(0, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
}

/* The cap is per user: another user has a quota of its own. */
TEST_F(quota, per_user)
{
	struct sockdup_stats ust;
	struct sockdup_share s, us[MAX_SHARES];
	long ucount;
	int i, sock, peer;

	ASSERT_EQ(0, set_param("max_per_user", cap_user(self)));
	fill(_metadata, self, N, LONG_TTL_MS);
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, NULL));
	EXPECT_EQ(EDQUOT, errno);

	/* the other user can make as many as it has room for, no more */
	ASSERT_EQ(0, agent_stats(&self->user, &ust));
	ucount = cap_user(self) - (long)ust.user_pending;
	ASSERT_LE(1, ucount);
	ASSERT_GT(MAX_SHARES, ucount);
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
	/* QUOTA_UID is still full: the other user's shares did not count */
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

	ASSERT_EQ(0, set_param("max_per_user", cap_user(self)));
	fill(_metadata, self, N, LONG_TTL_MS);
	ASSERT_EQ(0, set_param("max_per_user", cap_user(self) - 2));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
		EXPECT_EQ(EDQUOT, errno);
		ASSERT_EQ(0, sd_revoke(self->dev, self->shares[i].cookie));
	}
	EXPECT_EQ(0, share_new(self, self->target.pid, LONG_TTL_MS, &s));
}

/* What one try at the global cap saw. */
struct global_try {
	long total;
	int self_ret, self_err, user_ret, user_err;
	int again_ret, again_err, after_ret, after_err;
	int refused_eof, released_eof;
	struct sockdup_stats full, end;
};

/*
 * Fill the table to max_total = pending + N (N - 1 shares of ours and one
 * of the other user), try once more as each user, free the other user's
 * share, take its slot, try once more.  Returns how many shares other
 * programs left that went away meanwhile (the try counts only if 0), or -1.
 */
static int global_try(FIXTURE_DATA(quota) *self, struct global_try *t)
{
	struct sockdup_share us, *s;
	struct sd_base base = { 0 };
	int i, sock, peer, upeer, first = self->nr;
	__u32 gone;

	memset(t, 0, sizeof(*t));
	/* LIST as root, to see every share */
	if (seteuid(0) || sd_base_take(self->dev, &base) || seteuid(QUOTA_UID))
		return -1;
	t->total = base.st.pending + N;
	if (set_param("reserve_total", 0) || set_param("max_total", t->total))
		return -1;
	for (i = 0; i < N - 1; i++)
		if (share_new(self, self->target.pid, LONG_TTL_MS, NULL))
			return -1;
	if (make_sock(SK_UNIX_STREAM, &sock, &upeer))
		return -1;
	i = agent_share(&self->user, sock, self->target.pid, LONG_TTL_MS, &us);
	close(sock);
	if (i)
		return -1;

	t->self_ret = share_new(self, self->target.pid, LONG_TTL_MS, &s);
	t->self_err = errno;
	t->refused_eof = peer_closed(self->peers[self->nr - 1], 0);
	if (make_sock(SK_UNIX_STREAM, &sock, &peer))
		return -1;
	t->user_ret = agent_share(&self->user, sock, self->target.pid,
				  LONG_TTL_MS, NULL);
	t->user_err = errno;
	close(sock);
	close(peer);
	if (sd_stats(self->dev, &t->full))
		return -1;

	/* one release, one slot, for anybody */
	if (agent_revoke(&self->target, us.cookie))
		return -1;
	t->released_eof = peer_closed(upeer, SD_WAIT_MS);
	close(upeer);
	t->again_ret = share_new(self, self->target.pid, LONG_TTL_MS, &s);
	t->again_err = errno;
	t->after_ret = share_new(self, self->target.pid, LONG_TTL_MS, &s);
	t->after_err = errno;

	if (seteuid(0) || sd_snapshot(self->dev, &base, &t->end, &gone) ||
	    seteuid(QUOTA_UID))
		return -1;
	t->full.refused_global -= base.st.refused_global;
	t->full.refused_user -= base.st.refused_user;
	t->end.refused_global -= base.st.refused_global;
	free(base.ids);
	if (gone) {
		/* undo and let the caller try again */
		for (i = first; i < self->nr; i++)
			sd_revoke(self->dev, self->shares[i].cookie);
	}
	return gone;
}

/*
 * The global cap: ENOSPC for everybody once max_total shares are pending.
 * Another program's leftover share that expires in the middle would give a
 * slot back: such a try does not count and is made again.
 */
TEST_F(quota, global_cap_enospc)
{
	struct global_try t;
	int tries, gone;

	for (tries = 0; tries < 5; tries++) {
		gone = global_try(self, &t);
		ASSERT_LE(0, gone);
		if (!gone)
			break;
		TH_LOG("%d shares of other programs went away: again", gone);
	}
	ASSERT_EQ(0, gone);

	EXPECT_EQ(-1, t.self_ret);
	EXPECT_EQ(ENOSPC, t.self_err);
	EXPECT_EQ(-1, t.user_ret);
	EXPECT_EQ(ENOSPC, t.user_err);
	EXPECT_EQ(2, t.full.refused_global);
	EXPECT_EQ(0, t.full.refused_user);
	EXPECT_EQ((__u64)t.total, t.full.max_total);
	EXPECT_EQ((__u64)t.total, t.full.pending);
	/* the refused share pinned nothing; the declined one went */
	EXPECT_EQ(1, t.refused_eof);
	EXPECT_EQ(1, t.released_eof);

	EXPECT_EQ(0, t.again_ret);
	EXPECT_EQ(-1, t.after_ret);
	EXPECT_EQ(ENOSPC, t.after_err);
	EXPECT_EQ(3, t.end.refused_global);
	EXPECT_EQ((__u64)t.total, t.end.pending);
}

/*
 * A set-user-ID-root helper (real uid QUOTA_UID, effective uid 0) charges
 * the user who ran it: QUOTA_UID's cap applies, root's count is untouched.
 */
TEST_F(quota, setuid_helper_charges_real_uid)
{
	struct sockdup_stats st, root0, root1;
	struct sockdup_share *s;

	ASSERT_EQ(0, set_param("max_per_user", cap_user(self)));
	ASSERT_EQ(0, agent_stats(&self->target, &root0));
	ASSERT_EQ(0, seteuid(0));
	fill(_metadata, self, N, LONG_TTL_MS);
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, &s));
	EXPECT_EQ(EDQUOT, errno);
	ASSERT_EQ(0, sd_stats(self->dev, &st));
	ASSERT_EQ(0, seteuid(QUOTA_UID));
	EXPECT_EQ((__u64)cap_user(self), st.user_pending);
	ASSERT_EQ(0, agent_stats(&self->target, &root1));
	EXPECT_EQ(root0.user_pending, root1.user_pending);
}

/*
 * The last reserve_total slots of the global cap are for CAP_SYS_RESOURCE:
 * ordinary users get ENOSPC reserve_total short of max_total, root shares
 * on up to max_total.
 */
TEST_F(quota, reserve_for_cap_sys_resource)
{
	struct sockdup_stats st;
	struct sockdup_share us;
	struct sd_base base = { 0 };
	int i, sock, peer;

	if (seteuid(0) || sd_base_take(self->dev, &base) || seteuid(QUOTA_UID))
		ASSERT_TRUE(false) TH_LOG("base: %s", strerror(errno));
	free(base.ids);
	ASSERT_EQ(0, set_param("max_total", base.st.pending + N));
	ASSERT_EQ(0, set_param("reserve_total", 2));
	for (i = 0; i < N - 2; i++)
		ASSERT_EQ(0, share_new(self, self->target.pid, LONG_TTL_MS,
				       NULL));
	/* ordinary users: full */
	EXPECT_EQ(-1, share_new(self, self->target.pid, LONG_TTL_MS, NULL));
	EXPECT_EQ(ENOSPC, errno);
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sock, &peer));
	EXPECT_EQ(-1, agent_share(&self->user, sock, self->target.pid,
				  LONG_TTL_MS, &us));
	EXPECT_EQ(ENOSPC, errno);
	close(sock);
	close(peer);
	/* root: the reserve, and not one share more */
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sock, &peer));
	EXPECT_EQ(0, agent_share(&self->target, sock, self->target.pid,
				 LONG_TTL_MS, &us));
	EXPECT_EQ(0, agent_share(&self->target2, sock, self->target.pid,
				 LONG_TTL_MS, &us));
	EXPECT_EQ(-1, agent_share(&self->target2, sock, self->target.pid,
				  LONG_TTL_MS, &us));
	EXPECT_EQ(ENOSPC, errno);
	close(sock);
	ASSERT_EQ(0, sd_stats(self->dev, &st));
	EXPECT_EQ(base.st.pending + N, st.pending);
	/* the root shares go when the target does (teardown) */
	close(peer);
}

TEST_HARNESS_MAIN
