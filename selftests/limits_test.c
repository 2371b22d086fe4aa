// SPDX-License-Identifier: GPL-2.0-only
/*
 * limits_test - the per-user and global caps on pending shares
 *
 * The tests lower the module parameters max_per_user and max_total for a
 * moment (the parent-side teardown puts the old values back even after a
 * failed ASSERT) and check: SHARE fails with EDQUOT exactly when the user's
 * pending shares are at the cap and with ENOSPC exactly when all pending
 * shares are at the global cap, the refusal is counted and leaves nothing
 * pending, the cap counts pending shares only (a REDEEM or REVOKE frees a
 * slot), and the per-user cap is per user (another uid still shares).
 */
#define _GNU_SOURCE
#include <linux/sockdup.h>

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

#define MAX_COOKIES	16
#define OTHER_UID	4242	/* an unprivileged uid for per-user checks */

FIXTURE(limits) {
	int dev;
	int sv[2];
	long long max_per_user;	/* values to restore */
	long long max_total;
	struct sd_cookie c[MAX_COOKIES];
	int n;			/* cookies made */
};

FIXTURE_SETUP(limits)
{
	self->sv[0] = self->sv[1] = -1;
	self->n = 0;
	self->max_per_user = self->max_total = -1;
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				self->sv));
	ASSERT_EQ(0, sd_param_get("max_per_user", &self->max_per_user))
		TH_LOG("%s", sd_errmsg());
	ASSERT_EQ(0, sd_param_get("max_total", &self->max_total))
		TH_LOG("%s", sd_errmsg());
	/* Shares of earlier tests whose target exited may still be reaped. */
	sd_wait_pending(self->dev, 0, SD_WAIT_MS);
}

/* Runs in the harness's parent process, also after a failed ASSERT. */
FIXTURE_TEARDOWN_PARENT(limits)
{
	if (self->max_per_user >= 0)
		sd_param_set("max_per_user", self->max_per_user);
	if (self->max_total >= 0)
		sd_param_set("max_total", self->max_total);
}

/* Share the socket with ourselves, remembering the cookie. */
static int share_one(FIXTURE_DATA(limits) *self)
{
	struct sd_cookie c;
	int ret = sd_share(self->dev, self->sv[0], getpid(), 0, &c);

	if (ret == 0 && self->n < MAX_COOKIES)
		self->c[self->n++] = c;
	return ret;
}

/* Withdraw every share this test made. */
static void revoke_all(FIXTURE_DATA(limits) *self)
{
	while (self->n > 0)
		sd_revoke(self->dev, &self->c[--self->n]);
}

TEST_F(limits, edquot_exactly_at_per_user_cap)
{
	struct sockdup_stats st, st2;
	int i;

	ASSERT_EQ(0, sd_stats(self->dev, &st));
	ASSERT_EQ(0, sd_param_set("max_per_user", st.user_pending + 3));
	ASSERT_EQ(0, sd_stats(self->dev, &st));
	EXPECT_EQ(st.user_pending + 3, st.max_per_user);

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, share_one(self)) TH_LOG("share %d below the cap: %s",
						     i, strerror(errno));
	EXPECT_EQ(-1, share_one(self));
	EXPECT_EQ(EDQUOT, errno);

	ASSERT_EQ(0, sd_stats(self->dev, &st2));
	EXPECT_EQ(st.user_pending + 3, st2.user_pending);
	EXPECT_EQ(st.pending + 3, st2.pending);
	EXPECT_EQ(st.refused_user + 1, st2.refused_user);
	EXPECT_EQ(st.refused_global, st2.refused_global);
	EXPECT_EQ(st.shared + 3, st2.shared);
	revoke_all(self);
}

/* The cap counts pending shares: a REVOKE and a REDEEM each free a slot. */
TEST_F(limits, per_user_cap_counts_pending_only)
{
	struct sockdup_stats st;
	int fd;

	ASSERT_EQ(0, sd_stats(self->dev, &st));
	ASSERT_EQ(0, sd_param_set("max_per_user", st.user_pending + 2));
	ASSERT_EQ(0, share_one(self));
	ASSERT_EQ(0, share_one(self));
	ASSERT_EQ(-1, share_one(self));
	ASSERT_EQ(EDQUOT, errno);

	ASSERT_EQ(0, sd_revoke(self->dev, &self->c[--self->n]));
	EXPECT_EQ(0, share_one(self)) TH_LOG("after REVOKE: %s",
					     strerror(errno));

	fd = sd_redeem(self->dev, &self->c[--self->n], 0);
	ASSERT_LE(0, fd) TH_LOG("redeem: %s", strerror(errno));
	close(fd);
	EXPECT_EQ(0, share_one(self)) TH_LOG("after REDEEM: %s",
					     strerror(errno));
	EXPECT_EQ(-1, share_one(self));
	EXPECT_EQ(EDQUOT, errno);
	revoke_all(self);
}

/* A cap lowered below what is pending refuses new shares, keeps old ones. */
TEST_F(limits, edquot_cap_lowered_below_pending)
{
	struct sockdup_stats st;
	int fd;

	ASSERT_EQ(0, share_one(self));
	ASSERT_EQ(0, share_one(self));
	ASSERT_EQ(0, sd_stats(self->dev, &st));
	ASSERT_LE(2ULL, st.user_pending);
	ASSERT_EQ(0, sd_param_set("max_per_user", st.user_pending - 1));

	EXPECT_EQ(-1, share_one(self));
	EXPECT_EQ(EDQUOT, errno);
	fd = sd_redeem(self->dev, &self->c[0], 0);
	EXPECT_LE(0, fd) TH_LOG("pending share lost: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	self->c[0] = self->c[--self->n];
	revoke_all(self);
}

/*
 * Child with uid OTHER_UID: shares until refused, reports how many
 * succeeded and the errno of the refusal, then waits to be told to go.
 */
static int other_user_child(int ctl, int dev, int sock)
{
	struct sockdup_stats st;
	int ok = 0, res[3], msg;

	if (setresgid(OTHER_UID, OTHER_UID, OTHER_UID) ||
	    setresuid(OTHER_UID, OTHER_UID, OTHER_UID))
		return 2;
	while (ok < 8 && sd_share(dev, sock, getpid(), 0, NULL) == 0)
		ok++;
	res[0] = ok;
	res[1] = errno;
	res[2] = sd_stats(dev, &st) ? -1 : (int)st.user_pending;
	if (sd_send(ctl, res, sizeof(res)))
		return 3;
	sd_recv_int(ctl, &msg, -1);
	return 0;
}

/*
 * The cap is per user: an unprivileged uid has its own max_per_user slots
 * (our pending shares do not count against it), and when it is at its cap
 * root still shares.
 */
TEST_F(limits, edquot_per_user_not_global)
{
	struct sockdup_stats st;
	int ctl, res[3];
	pid_t pid;

	ASSERT_EQ(0, share_one(self));
	ASSERT_EQ(0, share_one(self));
	ASSERT_EQ(0, share_one(self));
	ASSERT_EQ(0, sd_param_set("max_per_user", 2));

	pid = sd_fork(&ctl);
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(other_user_child(ctl, self->dev, self->sv[0]));
	ASSERT_EQ(0, sd_recv(ctl, res, sizeof(res), SD_WAIT_MS))
		TH_LOG("child: %s, exit %d", sd_errmsg(), sd_wait(pid));
	EXPECT_EQ(2, res[0]);
	EXPECT_EQ(EDQUOT, res[1]);
	EXPECT_EQ(2, res[2]);

	/* Root is over the lowered cap, uid OTHER_UID at it: both refused. */
	EXPECT_EQ(-1, share_one(self));
	EXPECT_EQ(EDQUOT, errno);
	/* Raised for everybody: root shares while the other user is full. */
	ASSERT_EQ(0, sd_stats(self->dev, &st));
	ASSERT_EQ(0, sd_param_set("max_per_user", st.user_pending + 1));
	EXPECT_EQ(0, share_one(self)) TH_LOG("root: %s", strerror(errno));

	sd_send_int(ctl, 0);
	EXPECT_EQ(0, sd_wait(pid));
	close(ctl);
	revoke_all(self);
}

TEST_F(limits, enospc_exactly_at_global_cap)
{
	struct sockdup_stats st, st2;
	int i;

	ASSERT_EQ(0, sd_stats(self->dev, &st));
	ASSERT_LT(st.user_pending + 3, (__u64)self->max_per_user);
	ASSERT_EQ(0, sd_param_set("max_total", st.pending + 3));
	ASSERT_EQ(0, sd_stats(self->dev, &st));
	EXPECT_EQ(st.pending + 3, st.max_total);

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, share_one(self)) TH_LOG("share %d below the cap: %s",
						     i, strerror(errno));
	EXPECT_EQ(-1, share_one(self));
	EXPECT_EQ(ENOSPC, errno);

	ASSERT_EQ(0, sd_stats(self->dev, &st2));
	EXPECT_EQ(st.pending + 3, st2.pending);
	EXPECT_EQ(st.refused_global + 1, st2.refused_global);
	EXPECT_EQ(st.refused_user, st2.refused_user);
	EXPECT_EQ(st.shared + 3, st2.shared);

	/* A freed slot can be taken again, once. */
	ASSERT_EQ(0, sd_revoke(self->dev, &self->c[--self->n]));
	EXPECT_EQ(0, share_one(self)) TH_LOG("after REVOKE: %s",
					     strerror(errno));
	EXPECT_EQ(-1, share_one(self));
	EXPECT_EQ(ENOSPC, errno);
	revoke_all(self);
}

/* The global cap holds for every user, also one with per-user room. */
TEST_F(limits, enospc_for_other_user_too)
{
	struct sockdup_stats st;
	int ctl, res[3];
	pid_t pid;

	ASSERT_EQ(0, sd_stats(self->dev, &st));
	ASSERT_EQ(0, sd_param_set("max_total", st.pending + 1));
	ASSERT_EQ(0, share_one(self));

	pid = sd_fork(&ctl);
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(other_user_child(ctl, self->dev, self->sv[0]));
	ASSERT_EQ(0, sd_recv(ctl, res, sizeof(res), SD_WAIT_MS))
		TH_LOG("child: %s, exit %d", sd_errmsg(), sd_wait(pid));
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(ENOSPC, res[1]);
	EXPECT_EQ(0, res[2]);
	sd_send_int(ctl, 0);
	EXPECT_EQ(0, sd_wait(pid));
	close(ctl);
	revoke_all(self);
}

TEST_HARNESS_MAIN
