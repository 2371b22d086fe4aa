// SPDX-License-Identifier: GPL-2.0-only
/*
 * TTL: a share can be redeemed until its TTL runs out and not after; the pin
 * is dropped promptly at expiry (the peer of a sharer-closed socket sees EOF
 * not before the TTL and within a bound after it); STATS.expired counts it;
 * ttl_ms above max_ttl_ms is refused; ttl_ms 0 takes default_ttl_ms.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"

#include "sockdup_util.h"

/*
 * The module may run its expiry timer on jiffies: a timer armed in the
 * middle of a tick fires up to one tick (4 ms at Debian's HZ=250) earlier
 * than a clock read before the SHARE call would predict.
 */
#define TICK_SLACK_MS	5
/*
 * How long after the TTL the pin must be gone on an idle TCG guest; the
 * tests allow sd_ms() of it (the run's time factor, sd_time.h) plus any
 * stall of the whole guest they observed while waiting.
 */
#define DROP_BOUND_MS	1000

/*
 * Wait for the peer of an expiring share to see EOF; report and check how
 * long after @t0 (just before SHARE) it came, against @ttl: not before it
 * (less a tick), not later than the drop bound after it.
 */
static int64_t expect_dropped_at(struct __test_metadata *_metadata, int peer,
				 int64_t t0, int ttl, const char *what)
{
	int64_t eof, stall = 0;
	int bound = sd_ms(DROP_BOUND_MS);

	EXPECT_EQ(1, peer_closed_stall(peer, ttl + 2 * bound, &stall))
		TH_LOG("%s: no EOF within %d ms of a %d ms TTL", what,
		       ttl + 2 * bound, ttl);
	eof = sd_now_ms() - t0;
	TH_LOG("%s: EOF %lld ms after SHARE, ttl %d ms (%+lld; bound +%d, stalls up to %lld ms)",
	       what, (long long)eof, ttl, (long long)(eof - ttl), bound,
	       (long long)stall);
	sd_timing("pin dropped after the TTL", eof - ttl, bound + stall);
	EXPECT_LE(ttl - TICK_SLACK_MS, eof);
	EXPECT_GE(ttl + bound + stall, eof);
	return eof;
}

FIXTURE(ttl) {
	int dev;
	struct agent target;
	int sock, peer;
	struct sd_base base;
};

FIXTURE_SETUP(ttl)
{
	self->dev = -1;
	self->sock = self->peer = -1;
	self->target.ctl = -1;
	self->target.pid = self->target.child = -1;
	ASSERT_EQ(0, params_reset());
	self->dev = sd_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, agent_spawn(&self->target, 0, 0));
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &self->sock, &self->peer));
	ASSERT_EQ(0, sd_base_take(self->dev, &self->base));
}

FIXTURE_TEARDOWN(ttl)
{
	agent_kill(&self->target);
	if (self->sock >= 0)
		close(self->sock);
	if (self->peer >= 0)
		close(self->peer);
	if (self->dev >= 0)
		close(self->dev);
	EXPECT_EQ(0, params_reset());
}

/* Close our copy of the shared socket so only the share pins it. */
static void drop_own(int *sock)
{
	close(*sock);
	*sock = -1;
}

/*
 * Share with a TTL of 2 s (times the run's time factor), redeem a quarter
 * of the way in: the redeem wins, and nothing expires at the TTL.
 */
TEST_F(ttl, redeem_before_ttl_succeeds)
{
	struct sd_want w = { .shared = 1, .redeemed = 1 };
	const int ttl = sd_ms(2000);
	struct sockdup_share s;
	int64_t t0, at;
	__u64 ino = 0;
	int fd;

	t0 = sd_now_ms();
	ASSERT_EQ(0, sd_share(self->dev, self->sock, self->target.pid, ttl, &s));
	drop_own(&self->sock);

	sd_sleep_until_ms(t0 + ttl / 4);
	fd = agent_redeem(&self->target, s.cookie, 0, &ino);
	at = sd_now_ms() - t0;
	TH_LOG("redeemed at %lld ms of a %d ms TTL", (long long)at, ttl);
	ASSERT_LE(0, fd);

	/* past the TTL nothing expires: the redeem released it */
	sd_sleep_until_ms(t0 + ttl + sd_ms(200));
	EXPECT_TRUE(sd_deltas_ok(self->dev, &self->base, &w, false));
	/* the target still holds the socket */
	EXPECT_EQ(0, peer_closed(self->peer, 0));
	EXPECT_EQ(0, agent_close(&self->target, fd));
	EXPECT_EQ(1, peer_closed(self->peer, SD_WAIT_MS));
}

/* Redeem 50 ms after the TTL: ENOENT, for QUERY and REVOKE as well. */
TEST_F(ttl, redeem_after_ttl_enoent)
{
	struct sd_want w = { .shared = 1, .expired = 1 };
	struct sockdup_share_info info;
	struct sockdup_share s;
	int64_t t0;

	t0 = sd_now_ms();
	ASSERT_EQ(0, sd_share(self->dev, self->sock, self->target.pid, 400, &s));
	drop_own(&self->sock);

	sd_sleep_until_ms(t0 + 400 + 50);
	EXPECT_EQ(-1, agent_redeem(&self->target, s.cookie, 0, NULL));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, agent_query(&self->target, s.cookie, &info));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, sd_revoke(self->dev, s.cookie));
	EXPECT_EQ(ENOENT, errno);

	EXPECT_EQ(1, peer_closed(self->peer, SD_WAIT_MS));
	EXPECT_LE(0, sd_wait_deltas(self->dev, &self->base, &w, SD_WAIT_MS));
}

/*
 * No grace period and no reliance on the sweeper: a REDEEM issued a few
 * milliseconds after the TTL (counted from when SHARE returned, so the share
 * has certainly expired) is ENOENT, however soon the sweeper would come.
 */
TEST_F(ttl, no_grace_after_ttl)
{
	struct sockdup_share s;
	int i, sock, peer;
	int64_t t1;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sock, &peer));
		ASSERT_EQ(0, sd_share(self->dev, sock, self->target.pid, 200, &s));
		t1 = sd_now_ms();
		close(sock);
		sd_sleep_until_ms(t1 + 200 + 2);
		EXPECT_EQ(-1, agent_redeem(&self->target, s.cookie, 0, NULL));
		EXPECT_EQ(ENOENT, errno);
		/* the lookup that found it expired released it */
		EXPECT_EQ(1, peer_closed(peer, SD_WAIT_MS));
		close(peer);
	}
}

/*
 * Nobody touches the share: the peer sees EOF not before the TTL and within
 * DROP_BOUND_MS after it, and STATS.expired counts exactly one.
 */
TEST_F(ttl, pin_dropped_at_expiry)
{
	struct sd_want w = { .shared = 1, .expired = 1 };
	struct sockdup_share s;
	int64_t t0;

	t0 = sd_now_ms();
	ASSERT_EQ(0, sd_share(self->dev, self->sock, self->target.pid, 500, &s));
	drop_own(&self->sock);

	expect_dropped_at(_metadata, self->peer, t0, 500, "expiry");
	EXPECT_LE(0, sd_wait_deltas(self->dev, &self->base, &w, SD_WAIT_MS));
}

/*
 * A share made after a long-lived one but expiring first is dropped at its
 * own TTL, not when the older one is due (ten drop bounds later).
 */
TEST_F(ttl, earliest_expiry_first)
{
	const int ttl_long = sd_ms(10 * DROP_BOUND_MS);
	struct sockdup_share slong, sshort;
	int lsock, lpeer;
	int64_t t0;

	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &lsock, &lpeer));
	ASSERT_EQ(0, sd_share(self->dev, lsock, self->target.pid, ttl_long,
			      &slong));
	close(lsock);
	t0 = sd_now_ms();
	ASSERT_EQ(0, sd_share(self->dev, self->sock, self->target.pid, 300,
			      &sshort));
	drop_own(&self->sock);

	expect_dropped_at(_metadata, self->peer, t0, 300, "short share");
	/* the long one is still pinned and still redeemable-or-revocable */
	EXPECT_EQ(0, peer_closed(lpeer, 0));
	EXPECT_EQ(0, sd_revoke(self->dev, slong.cookie));
	EXPECT_EQ(1, peer_closed(lpeer, SD_WAIT_MS));
	close(lpeer);
}

/* The pin outlives the sharer process until the TTL, then goes. */
TEST_F(ttl, expiry_after_sharer_exit)
{
	const int ttl = sd_ms(600);
	struct agent sharer;
	struct sockdup_share s;
	int64_t t0, half;

	ASSERT_EQ(0, agent_spawn(&sharer, 0, 0));
	t0 = sd_now_ms();
	ASSERT_EQ(0, agent_share(&sharer, self->sock, self->target.pid, ttl, &s));
	drop_own(&self->sock);
	ASSERT_EQ(0, agent_exit(&sharer, 0));

	/* still pinned up to half the TTL (at least looked at once) */
	half = t0 + ttl / 2 - sd_now_ms();
	EXPECT_EQ(0, peer_closed(self->peer, half > 0 ? half : 0));
	expect_dropped_at(_metadata, self->peer, t0, ttl, "sharer gone");
	EXPECT_EQ(-1, agent_redeem(&self->target, s.cookie, 0, NULL));
	EXPECT_EQ(ENOENT, errno);
}

/* ttl_ms above max_ttl_ms is EINVAL; exactly max_ttl_ms is fine. */
TEST_F(ttl, above_max_einval)
{
	struct sd_want none = { 0 };
	struct sockdup_share_info info;
	struct sockdup_share s;
	long max = param_read("max_ttl_ms");
	int64_t t0;

	ASSERT_LT(0, max);
	EXPECT_EQ(-1, sd_share(self->dev, self->sock, self->target.pid,
			       max + 1, &s));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sd_share(self->dev, self->sock, self->target.pid,
			       UINT32_MAX, &s));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_TRUE(sd_deltas_ok(self->dev, &self->base, &none, false));

	t0 = sd_now_ms();
	ASSERT_EQ(0, sd_share(self->dev, self->sock, self->target.pid, max, &s));
	ASSERT_EQ(0, sd_query(self->dev, s.cookie, &info));
	EXPECT_GE((__u64)max, info.ttl_left_ms);
	/* less no more than the time since the SHARE */
	EXPECT_LE(max - (sd_now_ms() - t0) - TICK_SLACK_MS,
		  (int64_t)info.ttl_left_ms);
	EXPECT_EQ(0, sd_revoke(self->dev, s.cookie));
}

/* max_ttl_ms is read at SHARE time: lowering it moves the limit. */
TEST_F(ttl, lowered_max_einval)
{
	struct sockdup_share s;

	ASSERT_EQ(0, sd_param_set("max_ttl_ms", 1000));
	EXPECT_EQ(-1, sd_share(self->dev, self->sock, self->target.pid, 1001, &s));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, sd_share(self->dev, self->sock, self->target.pid, 1000, &s));
	EXPECT_EQ(0, sd_revoke(self->dev, s.cookie));
}

/* ttl_ms 0 gives default_ttl_ms (QUERY shows it). */
TEST_F(ttl, zero_uses_default)
{
	struct sockdup_share_info info;
	struct sockdup_share s;
	long def = param_read("default_ttl_ms");
	int64_t t0;

	ASSERT_LT(2000, def);
	t0 = sd_now_ms();
	ASSERT_EQ(0, sd_share(self->dev, self->sock, self->target.pid, 0, &s));
	ASSERT_EQ(0, sd_query(self->dev, s.cookie, &info));
	TH_LOG("default_ttl_ms %ld, ttl_left_ms %llu", def,
	       (unsigned long long)info.ttl_left_ms);
	EXPECT_GE((__u64)def, info.ttl_left_ms);
	EXPECT_LE(def - (sd_now_ms() - t0) - TICK_SLACK_MS,
		  (int64_t)info.ttl_left_ms);
	EXPECT_EQ(0, sd_revoke(self->dev, s.cookie));
}

/* A changed default_ttl_ms is what a ttl_ms 0 share really expires at. */
TEST_F(ttl, zero_uses_changed_default)
{
	const int def = sd_ms(700);
	struct sockdup_share_info info;
	struct sockdup_share s;
	int64_t t0;

	ASSERT_EQ(0, sd_param_set("default_ttl_ms", def));
	t0 = sd_now_ms();
	ASSERT_EQ(0, sd_share(self->dev, self->sock, self->target.pid, 0, &s));
	drop_own(&self->sock);
	ASSERT_EQ(0, sd_query(self->dev, s.cookie, &info));
	EXPECT_GE((__u64)def, info.ttl_left_ms);
	EXPECT_LE(def - (sd_now_ms() - t0) - TICK_SLACK_MS,
		  (int64_t)info.ttl_left_ms);

	expect_dropped_at(_metadata, self->peer, t0, def, "default TTL");
}

TEST_HARNESS_MAIN
