// SPDX-License-Identifier: GPL-2.0-only
/*
 * handoff_test - the share pins the socket; the socket closes at the last
 * descriptor, never earlier
 *
 * For every socket kind: the sharer may close its descriptor, close
 * /dev/sockdup, or exit before the target redeems, and the socket stays
 * open (the peer sees no EOF) and works once redeemed.  With two
 * descriptors, closing either one leaves the socket open; closing the
 * second closes it, and the peer sees that at once.
 *
 * "Peer sees the close" per kind is sd_sock_closed(): EOF or reset for
 * streams, a refused send for AF_UNIX dgram, a free port for UDP, a refused
 * connection for a listener.
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

/* How long a socket must stay open to count as "not closed" (ms). */
#define STAYS_OPEN_MS	100

FIXTURE(handoff) {
	int dev;
	struct sd_sock s;
	int newfd;
	pid_t child;
	int ctl;
};

FIXTURE_VARIANT(handoff) {
	enum sd_kind kind;
};

SD_KIND_VARIANTS(handoff);

FIXTURE_SETUP(handoff)
{
	self->newfd = -1;
	self->child = -1;
	self->ctl = -1;
	sd_sock_init(&self->s);
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	SD_SOCK_OPEN_OR_SKIP(&self->s, variant->kind);
	ASSERT_EQ(0, sd_sock_closed(&self->s, 0)) TH_LOG("%s", sd_errmsg());
}

FIXTURE_TEARDOWN(handoff)
{
	if (self->newfd >= 0)
		close(self->newfd);
	if (self->ctl >= 0)
		close(self->ctl);
	sd_kill_wait(self->child);
	sd_sock_close(&self->s);
	if (self->dev >= 0)
		close(self->dev);
}

/* Close @fd (a member of self) and set it to -1. */
#define CLOSE(fd) do { ASSERT_EQ(0, close(fd)); (fd) = -1; } while (0)

/* The share's pin is the only reference: redeem works, last close closes. */
static void redeem_io_close(struct __test_metadata *_metadata,
			    FIXTURE_DATA(handoff) *self,
			    const struct sd_cookie *c)
{
	EXPECT_EQ(0, sd_sock_closed(&self->s, STAYS_OPEN_MS))
		TH_LOG("closed while only the share held it");
	self->newfd = sd_redeem(self->dev, c, SOCKDUP_REDEEM_CLOEXEC);
	ASSERT_LE(0, self->newfd) TH_LOG("redeem: %s", strerror(errno));
	ASSERT_EQ(0, sd_sock_check_io(&self->s, self->newfd))
		TH_LOG("%s", sd_errmsg());
	EXPECT_EQ(0, sd_sock_closed(&self->s, 0));
	CLOSE(self->newfd);
	EXPECT_EQ(1, sd_sock_closed(&self->s, SD_WAIT_MS))
		TH_LOG("not closed after the last descriptor went");
}

TEST_F(handoff, sharer_closes_fd_before_redeem)
{
	struct sd_cookie c;

	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, getpid(), 0, &c));
	CLOSE(self->s.fd);
	redeem_io_close(_metadata, self, &c);
}

TEST_F(handoff, sharer_closes_fd_and_device_before_redeem)
{
	struct sd_cookie c;

	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, getpid(), 0, &c));
	CLOSE(self->s.fd);
	CLOSE(self->dev);
	self->dev = sd_open();
	ASSERT_LE(0, self->dev);
	redeem_io_close(_metadata, self, &c);
}

/*
 * A sharer child shares its inherited copy with us (we close ours) and
 * exits; the socket lives on in the share and we redeem it.
 */
TEST_F(handoff, sharer_exits_before_redeem)
{
	struct sd_cookie c;

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child) TH_LOG("%s", sd_errmsg());
	if (self->child == 0) {
		int dev = sd_open();

		if (dev < 0)
			_exit(2);
		if (sd_share(dev, self->s.fd, getppid(), 0, &c))
			_exit(3);
		_exit(sd_send(self->ctl, &c, sizeof(c)) ? 4 : 0);
	}
	CLOSE(self->s.fd);
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
	ASSERT_EQ(0, sd_recv(self->ctl, &c, sizeof(c), 0))
		TH_LOG("no cookie from the sharer: %s", sd_errmsg());
	redeem_io_close(_metadata, self, &c);
}

/* Two descriptors: close the original first, then the redeemed one. */
TEST_F(handoff, eof_at_last_close_original_first)
{
	struct sd_cookie c;

	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, getpid(), 0, &c));
	self->newfd = sd_redeem(self->dev, &c, 0);
	ASSERT_LE(0, self->newfd) TH_LOG("redeem: %s", strerror(errno));

	CLOSE(self->s.fd);
	EXPECT_EQ(0, sd_sock_closed(&self->s, STAYS_OPEN_MS))
		TH_LOG("closed with the redeemed descriptor still open");
	ASSERT_EQ(0, sd_sock_check_io(&self->s, self->newfd))
		TH_LOG("%s", sd_errmsg());
	CLOSE(self->newfd);
	EXPECT_EQ(1, sd_sock_closed(&self->s, SD_WAIT_MS));
}

/* Two descriptors: close the redeemed one first, then the original. */
TEST_F(handoff, eof_at_last_close_redeemed_first)
{
	struct sd_cookie c;

	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, getpid(), 0, &c));
	self->newfd = sd_redeem(self->dev, &c, 0);
	ASSERT_LE(0, self->newfd) TH_LOG("redeem: %s", strerror(errno));

	CLOSE(self->newfd);
	EXPECT_EQ(0, sd_sock_closed(&self->s, STAYS_OPEN_MS))
		TH_LOG("closed with the original descriptor still open");
	ASSERT_EQ(0, sd_sock_check_io(&self->s, self->s.fd))
		TH_LOG("%s", sd_errmsg());
	CLOSE(self->s.fd);
	EXPECT_EQ(1, sd_sock_closed(&self->s, SD_WAIT_MS));
}

/*
 * The descriptors live in two processes: the target redeems and exits
 * (dropping its descriptor); the sharer's keeps the socket open until it
 * closes it.
 */
TEST_F(handoff, eof_when_sharer_closes_after_target_exits)
{
	struct sd_cookie c;
	int ret = -1;

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child) TH_LOG("%s", sd_errmsg());
	if (self->child == 0) {
		int dev = sd_open(), fd;

		sd_sock_close(&self->s);	/* only the redeemed one */
		if (dev < 0 || sd_recv(self->ctl, &c, sizeof(c), SD_WAIT_MS))
			_exit(2);
		fd = sd_redeem(dev, &c, 0);
		sd_send_int(self->ctl, fd < 0 ? -errno : 0);
		_exit(fd < 0 ? 3 : 0);
	}
	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, self->child, 0, &c));
	ASSERT_EQ(0, sd_send(self->ctl, &c, sizeof(c)));
	ASSERT_EQ(0, sd_recv_int(self->ctl, &ret, SD_WAIT_MS));
	EXPECT_EQ(0, ret) TH_LOG("target's redeem: %s", strerror(-ret));
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;

	EXPECT_EQ(0, sd_sock_closed(&self->s, STAYS_OPEN_MS))
		TH_LOG("closed when the target exited");
	ASSERT_EQ(0, sd_sock_check_io(&self->s, self->s.fd))
		TH_LOG("%s", sd_errmsg());
	CLOSE(self->s.fd);
	EXPECT_EQ(1, sd_sock_closed(&self->s, SD_WAIT_MS));
}

/*
 * The target holds the last descriptor: the socket closes when the target
 * closes it, not when the sharer (long gone from it) did.
 */
TEST_F(handoff, eof_when_target_closes_last)
{
	struct sd_cookie c;
	int ret = -1, msg;

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child) TH_LOG("%s", sd_errmsg());
	if (self->child == 0) {
		int dev = sd_open(), fd;

		sd_sock_close(&self->s);
		if (dev < 0 || sd_recv(self->ctl, &c, sizeof(c), SD_WAIT_MS))
			_exit(2);
		fd = sd_redeem(dev, &c, 0);
		sd_send_int(self->ctl, fd < 0 ? -errno : 0);
		if (sd_recv_int(self->ctl, &msg, SD_WAIT_MS * 2))
			_exit(4);
		close(fd);
		sd_send_int(self->ctl, 0);
		sd_recv_int(self->ctl, &msg, SD_WAIT_MS * 2);
		_exit(fd < 0 ? 3 : 0);
	}
	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, self->child, 0, &c));
	CLOSE(self->s.fd);
	ASSERT_EQ(0, sd_send(self->ctl, &c, sizeof(c)));
	ASSERT_EQ(0, sd_recv_int(self->ctl, &ret, SD_WAIT_MS));
	ASSERT_EQ(0, ret) TH_LOG("target's redeem: %s", strerror(-ret));

	EXPECT_EQ(0, sd_sock_closed(&self->s, STAYS_OPEN_MS))
		TH_LOG("closed while the target holds it");
	ASSERT_EQ(0, sd_send_int(self->ctl, 1));	/* close it */
	ASSERT_EQ(0, sd_recv_int(self->ctl, &ret, SD_WAIT_MS));
	/* The target is still alive: its close alone closed the socket. */
	EXPECT_EQ(1, sd_sock_closed(&self->s, SD_WAIT_MS));
	ASSERT_EQ(0, sd_send_int(self->ctl, 2));
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
}

TEST_HARNESS_MAIN
