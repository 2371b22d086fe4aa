// SPDX-License-Identifier: GPL-2.0-only
/*
 * redeem_errors_test - REDEEM refuses, and a refusal never costs the cookie
 * (SOCKDUP.md §2, REDEEM rows)
 *
 * ENOENT: a cookie nobody made, one already redeemed, one revoked, one
 * expired.  EPERM: a process that is not the target (an unrelated child,
 * the sharer itself, a fork of the target) - then the target still
 * succeeds.  EMFILE: the target's descriptor table is full under
 * RLIMIT_NOFILE - then, with room again, it succeeds.  EINVAL: unknown flag
 * bits, a non-zero reserved field - then the same cookie still succeeds.
 * A failed REDEEM installs no descriptor (the count of /proc/self/fd does
 * not change).
 */
#define _GNU_SOURCE
#include <linux/sockdup.h>

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

FIXTURE(redeem) {
	int dev;
	int sv[2];
	struct sd_cookie c;	/* pending, target: the test process */
	pid_t child;
	int ctl;
	int nfds;		/* open descriptors after the setup */
};

FIXTURE_SETUP(redeem)
{
	self->sv[0] = self->sv[1] = -1;
	self->child = -1;
	self->ctl = -1;
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				self->sv));
	ASSERT_EQ(0, sd_share(self->dev, self->sv[0], getpid(), 0, &self->c))
		TH_LOG("share: %s", strerror(errno));
	self->nfds = sd_count_fds();
	ASSERT_LT(0, self->nfds);
}

FIXTURE_TEARDOWN(redeem)
{
	sd_kill_wait(self->child);
	if (self->ctl >= 0)
		close(self->ctl);
	if (self->dev >= 0) {
		sd_revoke(self->dev, &self->c);
		close(self->dev);
	}
	if (self->sv[0] >= 0)
		close(self->sv[0]);
	if (self->sv[1] >= 0)
		close(self->sv[1]);
}

/* The setup's cookie still redeems, to our socket, exactly once. */
#define ASSERT_COOKIE_STILL_VALID() do {				\
	int __fd;							\
	EXPECT_EQ(self->nfds, sd_count_fds())				\
		TH_LOG("a failed REDEEM left a descriptor");		\
	__fd = sd_redeem(self->dev, &self->c, SOCKDUP_REDEEM_CLOEXEC);	\
	ASSERT_LE(0, __fd) TH_LOG("cookie lost: %s", strerror(errno));	\
	EXPECT_EQ(0, sd_kcmp_file(getpid(), __fd, getpid(), self->sv[0])); \
	close(__fd);							\
	EXPECT_EQ(-1, sd_redeem(self->dev, &self->c, 0));		\
	EXPECT_EQ(ENOENT, errno);					\
} while (0)

/* --- ENOENT: nothing to consume ----------------------------------------- */

TEST_F(redeem, enoent_random_cookie)
{
	struct sd_cookie r;

	sd_cookie_random(&r);
	EXPECT_EQ(-1, sd_redeem(self->dev, &r, 0));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(redeem, enoent_zero_cookie)
{
	struct sd_cookie z = { { 0 } };

	EXPECT_EQ(-1, sd_redeem(self->dev, &z, 0));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_COOKIE_STILL_VALID();
}

/* The cookie with one bit flipped is another cookie. */
TEST_F(redeem, enoent_cookie_one_bit_off)
{
	struct sd_cookie x = self->c;

	x.b[SOCKDUP_COOKIE_SIZE - 1] ^= 1;
	EXPECT_EQ(-1, sd_redeem(self->dev, &x, 0));
	EXPECT_EQ(ENOENT, errno);
	x = self->c;
	x.b[0] ^= 0x80;
	EXPECT_EQ(-1, sd_redeem(self->dev, &x, 0));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(redeem, enoent_already_redeemed)
{
	int fd = sd_redeem(self->dev, &self->c, 0);

	ASSERT_LE(0, fd) TH_LOG("first redeem: %s", strerror(errno));
	EXPECT_EQ(-1, sd_redeem(self->dev, &self->c, 0));
	EXPECT_EQ(ENOENT, errno);
	/* Also through another open file of the device. */
	close(self->dev);
	self->dev = sd_open();
	ASSERT_LE(0, self->dev);
	EXPECT_EQ(-1, sd_redeem(self->dev, &self->c, 0));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(self->nfds + 1, sd_count_fds());
	close(fd);
}

TEST_F(redeem, enoent_revoked)
{
	ASSERT_EQ(0, sd_revoke(self->dev, &self->c));
	EXPECT_EQ(-1, sd_redeem(self->dev, &self->c, 0));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(self->nfds, sd_count_fds());
}

TEST_F(redeem, enoent_expired)
{
	struct sd_cookie c;

	ASSERT_EQ(0, sd_share(self->dev, self->sv[0], getpid(), 100, &c));
	sd_sleep_ms(300);
	EXPECT_EQ(-1, sd_redeem(self->dev, &c, 0));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_COOKIE_STILL_VALID();	/* the default TTL is longer */
}

/* --- EPERM: not the target ----------------------------------------------- */

/* Child: try to redeem @c, report errno (0 if it got a descriptor). */
static int try_redeem_child(int ctl, const struct sd_cookie *c)
{
	int dev = sd_open(), fd, err;

	if (dev < 0)
		return 2;
	fd = sd_redeem(dev, c, 0);
	err = fd < 0 ? errno : 0;
	return sd_send_int(ctl, err) ? 3 : 0;
}

/* An unrelated process (a child of ours, not the target) is refused. */
TEST_F(redeem, eperm_other_process_then_target_succeeds)
{
	int err = -1;

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		struct sd_cookie c;

		if (sd_recv(self->ctl, &c, sizeof(c), SD_WAIT_MS))
			_exit(4);
		_exit(try_redeem_child(self->ctl, &c));
	}
	ASSERT_EQ(0, sd_send(self->ctl, &self->c, sizeof(self->c)));
	ASSERT_EQ(0, sd_recv_int(self->ctl, &err, SD_WAIT_MS));
	EXPECT_EQ(EPERM, err) TH_LOG("other process: %s", strerror(err));
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
	close(self->ctl);
	self->ctl = -1;
	ASSERT_COOKIE_STILL_VALID();
}

/*
 * A fork of the target has a copy of everything, the cookie included, but
 * it is another process: refused; the target itself still succeeds.
 */
TEST_F(redeem, eperm_fork_of_target)
{
	int err = -1;

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		int fd = sd_redeem(self->dev, &self->c, 0);

		_exit(sd_send_int(self->ctl, fd < 0 ? errno : 0) ? 3 : 0);
	}
	ASSERT_EQ(0, sd_recv_int(self->ctl, &err, SD_WAIT_MS));
	EXPECT_EQ(EPERM, err) TH_LOG("fork of target: %s", strerror(err));
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
	close(self->ctl);
	self->ctl = -1;
	ASSERT_COOKIE_STILL_VALID();
}

/*
 * The sharer is not the target: a child shares a socket with us (the
 * parent) and cannot redeem its own cookie; we can.
 */
TEST_F(redeem, eperm_sharer_is_not_target)
{
	struct sd_cookie c;
	int res[2] = { -1, -1 }, fd;

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		int dev = sd_open();

		if (dev < 0 || sd_share(dev, self->sv[0], getppid(), 0, &c))
			_exit(2);
		fd = sd_redeem(dev, &c, 0);
		res[0] = fd < 0 ? errno : 0;
		res[1] = 0;
		if (sd_send(self->ctl, &c, sizeof(c)) ||
		    sd_send(self->ctl, res, sizeof(res)))
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(0, sd_recv(self->ctl, &c, sizeof(c), SD_WAIT_MS))
		TH_LOG("child: %s, exit %d", sd_errmsg(),
		       sd_wait(self->child));
	ASSERT_EQ(0, sd_recv(self->ctl, res, sizeof(res), SD_WAIT_MS));
	EXPECT_EQ(EPERM, res[0]) TH_LOG("sharer: %s", strerror(res[0]));
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;

	fd = sd_redeem(self->dev, &c, 0);
	ASSERT_LE(0, fd) TH_LOG("target: %s", strerror(errno));
	EXPECT_EQ(0, sd_kcmp_file(getpid(), fd, getpid(), self->sv[0]));
	close(fd);
}

/* Refusals do not wear the cookie out: 20 tries by a non-target. */
TEST_F(redeem, eperm_repeated_then_target_succeeds)
{
	int err;

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		int dev = sd_open(), k, e = 0;

		for (k = 0; k < 20 && dev >= 0; k++)
			if (sd_redeem(dev, &self->c, 0) >= 0 || errno != EPERM)
				e = errno ? errno : -1;
		_exit(sd_send_int(self->ctl, dev < 0 ? -2 : e) ? 3 : 0);
	}
	ASSERT_EQ(0, sd_recv_int(self->ctl, &err, SD_WAIT_MS * 2));
	EXPECT_EQ(0, err) TH_LOG("20 tries by a non-target: %d", err);
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
	close(self->ctl);
	self->ctl = -1;
	ASSERT_COOKIE_STILL_VALID();
}

/* --- EMFILE: the descriptor table is full ------------------------------- */

TEST_F(redeem, emfile_then_valid_with_room)
{
	struct rlimit old, low;
	int fill[64], n = 0, ret, lowest;

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	/* Allow only the descriptors we have, plus a few we then fill. */
	lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, lowest);
	close(lowest);
	low = old;
	low.rlim_cur = self->nfds + 8 > lowest + 8 ? self->nfds + 8 :
						      lowest + 8;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
	while (n < 64) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			break;
		fill[n++] = fd;
	}
	ASSERT_EQ(EMFILE, errno);
	ASSERT_LT(0, n);

	ret = sd_redeem(self->dev, &self->c, 0);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EMFILE, errno);
	if (ret >= 0)
		close(ret);
	/* Nothing was installed: still full. */
	EXPECT_EQ(-1, open("/dev/null", O_RDONLY | O_CLOEXEC));
	EXPECT_EQ(EMFILE, errno);

	/* One slot free: REDEEM succeeds, into that slot. */
	close(fill[--n]);
	ret = sd_redeem(self->dev, &self->c, 0);
	ASSERT_LE(0, ret) TH_LOG("after EMFILE: %s", strerror(errno));
	EXPECT_EQ(fill[n], ret);
	EXPECT_EQ(0, sd_kcmp_file(getpid(), ret, getpid(), self->sv[0]));
	close(ret);
	while (n > 0)
		close(fill[--n]);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
}

/* The limit alone (not a full table) counts: fds >= RLIMIT_NOFILE. */
TEST_F(redeem, emfile_rlimit_raised_again)
{
	struct rlimit old, low;
	int ret, hole;

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	hole = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, hole);
	close(hole);
	/* The lowest free number is at the limit: no room below it. */
	low = old;
	low.rlim_cur = hole;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
	ret = sd_redeem(self->dev, &self->c, 0);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EMFILE, errno);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	if (ret >= 0)
		close(ret);
	ASSERT_COOKIE_STILL_VALID();
}

/* --- EINVAL: unknown flags, reserved field ---------------------------- */

TEST_F(redeem, einval_each_unknown_flag_bit_then_valid)
{
	struct sockdup_redeem rd;
	int bit, ret;

	for (bit = 0; bit < 32; bit++) {
		if (SOCKDUP_REDEEM_FLAGS & (1U << bit))
			continue;
		memset(&rd, 0, sizeof(rd));
		memcpy(rd.cookie, self->c.b, sizeof(rd.cookie));
		rd.flags = 1U << bit;
		ret = ioctl(self->dev, SOCKDUP_IOC_REDEEM, &rd);
		EXPECT_EQ(-1, ret) TH_LOG("flag bit %d accepted", bit);
		EXPECT_EQ(EINVAL, errno) TH_LOG("flag bit %d", bit);
		if (ret >= 0)
			close(ret);
	}
	ASSERT_COOKIE_STILL_VALID();
}

/* An unknown bit next to the known one is refused as well. */
TEST_F(redeem, einval_unknown_flag_with_cloexec)
{
	struct sockdup_redeem rd = {
		.flags = SOCKDUP_REDEEM_CLOEXEC | (SOCKDUP_REDEEM_CLOEXEC << 1),
	};

	memcpy(rd.cookie, self->c.b, sizeof(rd.cookie));
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_REDEEM, &rd));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_COOKIE_STILL_VALID();
}

/* Raw O_CLOEXEC is not our flag. */
TEST_F(redeem, einval_raw_o_cloexec)
{
	struct sockdup_redeem rd = { .flags = O_CLOEXEC };

	memcpy(rd.cookie, self->c.b, sizeof(rd.cookie));
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_REDEEM, &rd));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(redeem, einval_reserved_nonzero_then_valid)
{
	static const __u32 vals[] = { 1, 0x80000000U, 0xffffffffU };
	struct sockdup_redeem rd;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		memset(&rd, 0, sizeof(rd));
		memcpy(rd.cookie, self->c.b, sizeof(rd.cookie));
		rd.reserved = vals[i];
		EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_REDEEM, &rd))
			TH_LOG("reserved 0x%x accepted", vals[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("reserved 0x%x", vals[i]);
	}
	ASSERT_COOKIE_STILL_VALID();
}

TEST_HARNESS_MAIN
