// SPDX-License-Identifier: GPL-2.0-only
/*
 * REVOKE: the sharing process withdraws a pending share, the target declines
 * one, anybody else gets EPERM (and the cookie stays valid), an unknown or
 * already released cookie is ENOENT.  After a revoke the cookie redeems to
 * ENOENT and the socket closes (its peer sees EOF) as soon as the sharer
 * closes its own descriptor.  By id, the user who made a share and the
 * administrator free it, also after the sharer has exited; a user who
 * cannot see a share gets ENOENT.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/random.h>

#include "kselftest_harness.h"

#include "sockdup_util.h"

FIXTURE(revoke) {
	int dev;
	struct agent target, third;
	int sock, peer;
	struct sockdup_share s;
	struct sd_base base;
};

FIXTURE_SETUP(revoke)
{
	self->dev = -1;
	self->sock = self->peer = -1;
	self->target.ctl = self->third.ctl = -1;
	self->target.child = self->third.child = -1;
	self->dev = sd_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, agent_spawn(&self->target, 0, 0));
	ASSERT_EQ(0, agent_spawn(&self->third, 0, 0));
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &self->sock, &self->peer));
	ASSERT_EQ(0, sd_base_take(self->dev, &self->base));
	ASSERT_EQ(0, sd_share(self->dev, self->sock, self->target.pid, sd_ms(10000),
			      &self->s));
}

FIXTURE_TEARDOWN(revoke)
{
	if (self->dev >= 0) {
		/* whatever the test left pending goes now */
		sd_revoke(self->dev, self->s.cookie);
		close(self->dev);
	}
	agent_kill(&self->target);
	agent_kill(&self->third);
	if (self->sock >= 0)
		close(self->sock);
	if (self->peer >= 0)
		close(self->peer);
}

static void close_own(int *sock)
{
	close(*sock);
	*sock = -1;
}

/* Sharer withdraws: counters move, the target gets ENOENT, the pin goes. */
TEST_F(revoke, by_sharer)
{
	struct sd_want w = { .shared = 1, .revoked = 1 };
	int64_t t0, eof, stall = 0;

	ASSERT_EQ(0, sd_revoke(self->dev, self->s.cookie));
	EXPECT_TRUE(sd_deltas_ok(self->dev, &self->base, &w, false));

	EXPECT_EQ(-1, agent_redeem(&self->target, self->s.cookie, 0, NULL));
	EXPECT_EQ(ENOENT, errno);

	/* our own descriptor still keeps the socket open */
	EXPECT_EQ(0, peer_closed(self->peer, 100));
	close_own(&self->sock);
	t0 = sd_now_ms();
	ASSERT_EQ(1, peer_closed_stall(self->peer, SD_WAIT_MS, &stall));
	eof = sd_now_ms() - t0;
	TH_LOG("EOF %lld ms after the sharer's close (bound %d ms, guest stalled up to %lld ms)",
	       (long long)eof, sd_ms(100), (long long)stall);
	/* the revoke dropped the pin: the close itself is the last one */
	sd_timing("EOF after the last close of a revoked share", eof,
		  sd_ms(100) + stall);
	EXPECT_GE(sd_ms(100) + stall, eof);
}

/* The target declines: same effects, and the sharer then gets ENOENT. */
TEST_F(revoke, declined_by_target)
{
	struct sd_want w = { .shared = 1, .revoked = 1 };

	ASSERT_EQ(0, agent_revoke(&self->target, self->s.cookie));
	EXPECT_TRUE(sd_deltas_ok(self->dev, &self->base, &w, false));

	EXPECT_EQ(-1, agent_redeem(&self->target, self->s.cookie, 0, NULL));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, sd_revoke(self->dev, self->s.cookie));
	EXPECT_EQ(ENOENT, errno);

	EXPECT_EQ(0, peer_closed(self->peer, 100));
	close_own(&self->sock);
	EXPECT_EQ(1, peer_closed(self->peer, SD_WAIT_MS));
}

/* A process that is neither sharer nor target (even root) gets EPERM. */
TEST_F(revoke, third_process_eperm)
{
	struct sd_want w = { .shared = 1, .pending = 1 };
	__u64 ino = 0;
	int fd;

	EXPECT_EQ(-1, agent_revoke(&self->third, self->s.cookie));
	EXPECT_EQ(EPERM, errno);
	EXPECT_TRUE(sd_deltas_ok(self->dev, &self->base, &w, false));

	/* the cookie is untouched: the target still redeems it */
	fd = agent_redeem(&self->target, self->s.cookie, 0, &ino);
	ASSERT_LE(0, fd);
	EXPECT_EQ(sd_inode(self->sock), ino);
}

/* The same for an ordinary user that is neither. */
TEST_F(revoke, third_user_eperm)
{
	struct agent user;

	ASSERT_EQ(0, agent_spawn(&user, 1000, 0));
	EXPECT_EQ(-1, agent_revoke(&user, self->s.cookie));
	EXPECT_EQ(EPERM, errno);
	agent_kill(&user);
	EXPECT_LE(0, agent_redeem(&self->target, self->s.cookie, 0, NULL));
}

TEST_F(revoke, unknown_cookie_enoent)
{
	__u8 cookie[SOCKDUP_COOKIE_SIZE];
	struct sd_want w = { .shared = 1, .pending = 1 };

	ASSERT_EQ(sizeof(cookie), getrandom(cookie, sizeof(cookie), 0));
	EXPECT_EQ(-1, sd_revoke(self->dev, cookie));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, agent_revoke(&self->target, cookie));
	EXPECT_EQ(ENOENT, errno);
	memset(cookie, 0, sizeof(cookie));
	EXPECT_EQ(-1, sd_revoke(self->dev, cookie));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_TRUE(sd_deltas_ok(self->dev, &self->base, &w, false));
}

TEST_F(revoke, twice_enoent)
{
	struct sd_want w = { .shared = 1, .revoked = 1 };

	ASSERT_EQ(0, sd_revoke(self->dev, self->s.cookie));
	EXPECT_EQ(-1, sd_revoke(self->dev, self->s.cookie));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, agent_revoke(&self->target, self->s.cookie));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_TRUE(sd_deltas_ok(self->dev, &self->base, &w, false));
}

/* Once redeemed, neither side can revoke, and the target keeps its fd. */
TEST_F(revoke, after_redeem_enoent)
{
	struct sd_want w = { .shared = 1, .redeemed = 1 };
	int fd;

	fd = agent_redeem(&self->target, self->s.cookie, 0, NULL);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, sd_revoke(self->dev, self->s.cookie));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, agent_revoke(&self->target, self->s.cookie));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_TRUE(sd_deltas_ok(self->dev, &self->base, &w, false));

	close_own(&self->sock);
	EXPECT_EQ(0, peer_closed(self->peer, 100));
	EXPECT_EQ(0, agent_close(&self->target, fd));
	EXPECT_EQ(1, peer_closed(self->peer, SD_WAIT_MS));
}

struct revoke_arg {
	int dev;
	const __u8 *cookie;
	int ret, err;
};

static void *revoke_thread(void *p)
{
	struct revoke_arg *a = p;

	a->ret = sd_revoke(a->dev, a->cookie);
	a->err = errno;
	return NULL;
}

/* The sharer is the process: another of its threads may withdraw. */
TEST_F(revoke, by_sharer_thread)
{
	struct revoke_arg a = { .dev = self->dev, .cookie = self->s.cookie };
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, revoke_thread, &a));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, a.ret);
	EXPECT_EQ(-1, agent_redeem(&self->target, self->s.cookie, 0, NULL));
	EXPECT_EQ(ENOENT, errno);
}

/* ... and through another open of /dev/sockdup. */
TEST_F(revoke, by_sharer_other_open)
{
	int dev2 = sd_open();

	ASSERT_LE(0, dev2);
	EXPECT_EQ(0, sd_revoke(dev2, self->s.cookie));
	close(dev2);
	EXPECT_EQ(-1, sd_revoke(self->dev, self->s.cookie));
	EXPECT_EQ(ENOENT, errno);
}

/*
 * The sharer went away: nobody else can withdraw, the target can still
 * decline, and that drops the last reference.
 */
TEST_F(revoke, decline_after_sharer_exit)
{
	struct sockdup_share s;
	struct agent sharer;
	int sock, peer;

	ASSERT_EQ(0, agent_spawn(&sharer, 0, 0));
	ASSERT_EQ(0, make_sock(SK_TCP, &sock, &peer));
	ASSERT_EQ(0, agent_share(&sharer, sock, self->target.pid, sd_ms(10000), &s));
	close(sock);
	ASSERT_EQ(0, agent_exit(&sharer, 0));

	EXPECT_EQ(-1, agent_revoke(&self->third, s.cookie));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, sd_revoke(self->dev, s.cookie));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, peer_closed(peer, 100));
	EXPECT_EQ(0, agent_revoke(&self->target, s.cookie));
	EXPECT_EQ(1, peer_closed(peer, SD_WAIT_MS));
	close(peer);
}

TEST_F(revoke, unknown_flag_einval)
{
	struct sockdup_revoke r = { .flags = SOCKDUP_REVOKE_BY_ID << 1 };

	memcpy(r.cookie, self->s.cookie, sizeof(r.cookie));
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_REVOKE, &r));
	EXPECT_EQ(EINVAL, errno);
	r.flags = 1U << 31;
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_REVOKE, &r));
	EXPECT_EQ(EINVAL, errno);
	/* still valid */
	EXPECT_LE(0, agent_redeem(&self->target, self->s.cookie, 0, NULL));
}

TEST_F(revoke, reserved_einval)
{
	struct sockdup_revoke r = { .reserved = 1 };

	memcpy(r.cookie, self->s.cookie, sizeof(r.cookie));
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_REVOKE, &r));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_LE(0, agent_redeem(&self->target, self->s.cookie, 0, NULL));
}

/* The size of an ioctl command changed to @size. */
#define RESIZED(cmd, size) \
	(((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) | \
	 ((size) << _IOC_SIZESHIFT))

/* A share of uid 1000 whose sharer has exited; its peer in *@peer. */
static void orphan_share(struct __test_metadata *_metadata,
			 FIXTURE_DATA(revoke) *self, struct sockdup_share *s,
			 int *peer)
{
	struct agent sharer;
	int sock;

	ASSERT_EQ(0, agent_spawn(&sharer, 1000, 0));
	ASSERT_EQ(0, make_sock(SK_TCP, &sock, peer));
	ASSERT_EQ(0, agent_share(&sharer, sock, self->target.pid, 10000, s));
	close(sock);
	ASSERT_EQ(0, agent_exit(&sharer, 0));
}

/*
 * `sockdup share` from a shell: the sharer is gone at once.  Another
 * process of the same user frees the share by id (not by cookie: that
 * stays the sharer's and the target's); another user does not even see it.
 */
TEST_F(revoke, by_id_same_user_after_sharer_exit)
{
	struct sockdup_share_info info;
	struct agent user, other;
	struct sockdup_share s;
	int peer;

	orphan_share(_metadata, self, &s, &peer);
	ASSERT_EQ(0, agent_spawn(&user, 1000, 0));
	ASSERT_EQ(0, agent_spawn(&other, 1001, 0));

	EXPECT_EQ(-1, agent_revoke(&user, s.cookie));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, agent_revoke_id(&other, s.id));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, agent_query_id(&other, s.id, &info));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(0, peer_closed(peer, 0));

	ASSERT_EQ(0, agent_query_id(&user, s.id, &info))
		TH_LOG("query by id: %s", strerror(errno));
	EXPECT_EQ(s.id, info.id);
	EXPECT_EQ(1000, info.sharer_uid);
	EXPECT_EQ(0, info.sharer_pid);
	EXPECT_EQ(0, agent_revoke_id(&user, s.id))
		TH_LOG("revoke by id: %s", strerror(errno));
	EXPECT_EQ(1, peer_closed(peer, 1000));
	EXPECT_EQ(-1, agent_revoke_id(&user, s.id));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, agent_redeem(&self->target, s.cookie, 0, NULL));
	EXPECT_EQ(ENOENT, errno);
	agent_kill(&user);
	agent_kill(&other);
	close(peer);
}

/* The administrator (CAP_SYS_ADMIN) frees anybody's share by id. */
TEST_F(revoke, by_id_admin)
{
	struct sockdup_share s;
	int peer;

	orphan_share(_metadata, self, &s, &peer);
	EXPECT_EQ(-1, agent_revoke(&self->third, s.cookie));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, agent_revoke_id(&self->third, s.id))
		TH_LOG("revoke by id: %s", strerror(errno));
	EXPECT_EQ(1, peer_closed(peer, 1000));
	close(peer);
}

/* One of cookie and id: both, or an id without the flag, is EINVAL. */
TEST_F(revoke, by_id_einval)
{
	struct sockdup_revoke r = { .flags = SOCKDUP_REVOKE_BY_ID,
				    .id = self->s.id };

	memcpy(r.cookie, self->s.cookie, sizeof(r.cookie));
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_REVOKE, &r));
	EXPECT_EQ(EINVAL, errno);
	memset(&r, 0, sizeof(r));
	memcpy(r.cookie, self->s.cookie, sizeof(r.cookie));
	r.id = self->s.id;
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_REVOKE, &r));
	EXPECT_EQ(EINVAL, errno);
	memset(&r, 0, sizeof(r));
	r.flags = SOCKDUP_REVOKE_BY_ID;
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_REVOKE, &r));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_LE(0, agent_redeem(&self->target, self->s.cookie, 0, NULL));
}

/* A caller that knows only the first version of the structure. */
TEST_F(revoke, first_version_size)
{
	struct sockdup_revoke r = { 0 };

	memcpy(r.cookie, self->s.cookie, sizeof(r.cookie));
	EXPECT_EQ(0, ioctl(self->dev, RESIZED(SOCKDUP_IOC_REVOKE,
					      SOCKDUP_REVOKE_SIZE_VER0), &r));
	EXPECT_EQ(0, peer_closed(self->peer, 0));
	EXPECT_EQ(-1, agent_redeem(&self->target, self->s.cookie, 0, NULL));
	EXPECT_EQ(ENOENT, errno);
	/* too small even for the first version */
	EXPECT_EQ(-1, ioctl(self->dev, RESIZED(SOCKDUP_IOC_REVOKE,
					       SOCKDUP_REVOKE_SIZE_VER0 - 8), &r));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
