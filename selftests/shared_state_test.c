// SPDX-License-Identifier: GPL-2.0-only
/*
 * shared_state_test - both descriptors are one socket
 *
 * For every socket kind, after a share and a redeem: socket options set
 * through one descriptor are read back through the other, the file status
 * flags (O_NONBLOCK) are shared and take effect, bytes flow through the
 * redeemed descriptor and still through the original, shutdown() through
 * one is seen through the other, and a target process that redeemed the
 * socket does I/O on it (a listener accepts there).
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

FIXTURE(shared) {
	int dev;
	struct sd_sock s;
	int newfd;		/* redeemed in the setup */
	pid_t child;
	int ctl;
};

FIXTURE_VARIANT(shared) {
	enum sd_kind kind;
};

SD_KIND_VARIANTS(shared);

FIXTURE_SETUP(shared)
{
	struct sd_cookie c;

	self->newfd = -1;
	self->child = -1;
	self->ctl = -1;
	sd_sock_init(&self->s);
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	SD_SOCK_OPEN_OR_SKIP(&self->s, variant->kind);
	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, getpid(), 0, &c))
		TH_LOG("share: %s", strerror(errno));
	self->newfd = sd_redeem(self->dev, &c, SOCKDUP_REDEEM_CLOEXEC);
	ASSERT_LE(0, self->newfd) TH_LOG("redeem: %s", strerror(errno));
}

FIXTURE_TEARDOWN(shared)
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

static int getint(int fd, int level, int opt)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, level, opt, &v, &len))
		return -1;
	return v;
}

static int setint(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v));
}

/* SO_RCVBUF set through the redeemed descriptor is read through both. */
TEST_F(shared, rcvbuf_set_via_redeemed)
{
	int before = getint(self->s.fd, SOL_SOCKET, SO_RCVBUF);
	int want = before == 8192 ? 16384 : 8192;

	ASSERT_LT(0, before);
	ASSERT_EQ(0, setint(self->newfd, SOL_SOCKET, SO_RCVBUF, want / 2));
	EXPECT_EQ(want, getint(self->newfd, SOL_SOCKET, SO_RCVBUF));
	EXPECT_EQ(want, getint(self->s.fd, SOL_SOCKET, SO_RCVBUF));
}

/* SO_SNDBUF set through the original is read through the redeemed one. */
TEST_F(shared, sndbuf_set_via_original)
{
	int before = getint(self->newfd, SOL_SOCKET, SO_SNDBUF);
	int want = before == 8192 ? 16384 : 8192;

	ASSERT_LT(0, before);
	ASSERT_EQ(0, setint(self->s.fd, SOL_SOCKET, SO_SNDBUF, want / 2));
	EXPECT_EQ(want, getint(self->s.fd, SOL_SOCKET, SO_SNDBUF));
	EXPECT_EQ(want, getint(self->newfd, SOL_SOCKET, SO_SNDBUF));
}

/* SO_KEEPALIVE and SO_MARK, set and cleared through alternate ends. */
TEST_F(shared, keepalive_and_mark_both_ways)
{
	ASSERT_EQ(0, getint(self->s.fd, SOL_SOCKET, SO_KEEPALIVE));
	ASSERT_EQ(0, setint(self->newfd, SOL_SOCKET, SO_KEEPALIVE, 1));
	EXPECT_EQ(1, getint(self->s.fd, SOL_SOCKET, SO_KEEPALIVE));
	ASSERT_EQ(0, setint(self->s.fd, SOL_SOCKET, SO_KEEPALIVE, 0));
	EXPECT_EQ(0, getint(self->newfd, SOL_SOCKET, SO_KEEPALIVE));

	if (setint(self->newfd, SOL_SOCKET, SO_MARK, 0x5d) && errno == EPERM)
		SKIP(return, "SO_MARK needs CAP_NET_ADMIN");
	EXPECT_EQ(0x5d, getint(self->s.fd, SOL_SOCKET, SO_MARK));
	ASSERT_EQ(0, setint(self->s.fd, SOL_SOCKET, SO_MARK, 0x2a));
	EXPECT_EQ(0x2a, getint(self->newfd, SOL_SOCKET, SO_MARK));
}

/*
 * O_NONBLOCK is a file status flag: set through one descriptor it shows
 * and works through the other (an empty socket says EAGAIN at once instead
 * of blocking), and cleared through the other it is gone from both.
 */
TEST_F(shared, nonblock_shared)
{
	int fl = fcntl(self->s.fd, F_GETFL);
	char buf[8];
	long long t;
	int ret;

	ASSERT_LE(0, fl);
	ASSERT_EQ(0, fl & O_NONBLOCK);
	ASSERT_EQ(0, fcntl(self->newfd, F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(O_NONBLOCK, fcntl(self->s.fd, F_GETFL) & O_NONBLOCK);

	/* Prove the effect through the original: no wait, EAGAIN. */
	sd_drain(self->newfd);
	/* if it blocks after all, fail instead of hanging */
	alarm(10 * sd_time_factor());
	t = sd_now_ms();
	if (variant->kind == SD_TCP_LISTEN)
		ret = accept(self->s.fd, NULL, NULL);
	else
		ret = recv(self->s.fd, buf, sizeof(buf), 0);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EAGAIN, errno);
	alarm(0);
	EXPECT_GT(sd_ms(1000), sd_now_ms() - t);

	ASSERT_EQ(0, fcntl(self->s.fd, F_SETFL, fl & ~O_NONBLOCK));
	EXPECT_EQ(0, fcntl(self->newfd, F_GETFL) & O_NONBLOCK);
}

/* Bytes flow through the redeemed descriptor, both ways with the peer. */
TEST_F(shared, bytes_flow_through_redeemed)
{
	ASSERT_EQ(0, sd_sock_check_io(&self->s, self->newfd))
		TH_LOG("%s", sd_errmsg());
}

/* ... and the original still works too, interleaved. */
TEST_F(shared, bytes_flow_through_both)
{
	ASSERT_EQ(0, sd_sock_check_io(&self->s, self->s.fd))
		TH_LOG("original: %s", sd_errmsg());
	ASSERT_EQ(0, sd_sock_check_io(&self->s, self->newfd))
		TH_LOG("redeemed: %s", sd_errmsg());
	ASSERT_EQ(0, sd_sock_check_io(&self->s, self->s.fd))
		TH_LOG("original again: %s", sd_errmsg());
}

/* shutdown() acts on the socket: through one, the peer sees EOF. */
TEST_F(shared, shutdown_through_one_seen_by_peer)
{
	if (!sd_kind_stream(variant->kind))
		SKIP(return, "no EOF on %s", sd_kind_name(variant->kind));
	ASSERT_EQ(0, sd_sock_closed(&self->s, 0));
	ASSERT_EQ(0, shutdown(self->newfd, SHUT_WR));
	EXPECT_EQ(1, sd_sock_closed(&self->s, SD_WAIT_MS));
	/* The original cannot send any more either. */
	EXPECT_EQ(-1, send(self->s.fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT));
	EXPECT_EQ(EPIPE, errno);
}

/*
 * Child: redeem @c in a new target process and talk to the peer.  For a
 * listener, accept one connection first.  Sends 'k' over ctl when done.
 */
static int target_child(int ctl, enum sd_kind kind)
{
	struct sd_cookie c;
	int dev, fd, io;
	char buf[16];

	dev = sd_open();
	if (dev < 0 || sd_recv(ctl, &c, sizeof(c), SD_WAIT_MS))
		return 2;
	fd = sd_redeem(dev, &c, SOCKDUP_REDEEM_CLOEXEC);
	if (fd < 0)
		return 3;
	io = fd;
	if (kind == SD_TCP_LISTEN) {
		if (!(sd_poll1(fd, POLLIN, SD_WAIT_MS) & POLLIN))
			return 4;
		io = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (io < 0)
			return 5;
	}
	if (send(io, "hello-from-target", 17, MSG_NOSIGNAL) != 17)
		return 6;
	if (!(sd_poll1(io, POLLIN, SD_WAIT_MS) & POLLIN))
		return 7;
	if (recv(io, buf, sizeof(buf), 0) != 5 || memcmp(buf, "reply", 5))
		return 8;
	return sd_send(ctl, "k", 1) ? 9 : 0;
}

/*
 * Another process, the target, redeems the socket and does I/O on it: a
 * listener accepts a connection of ours there, a connected socket talks to
 * our peer.  Our own descriptor is closed first: the target's is all there
 * is.
 */
TEST_F(shared, target_process_does_io)
{
	struct sd_cookie c;
	char buf[32];
	int io, n;

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child) TH_LOG("%s", sd_errmsg());
	if (self->child == 0)
		_exit(target_child(self->ctl, variant->kind));

	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, self->child, 0, &c));
	close(self->newfd);
	self->newfd = -1;
	close(self->s.fd);
	self->s.fd = -1;
	io = self->s.peer;
	if (variant->kind == SD_TCP_LISTEN) {
		io = sd_sock_connect(&self->s);
		ASSERT_LE(0, io) TH_LOG("%s", sd_errmsg());
	}
	sd_drain(io);
	ASSERT_EQ(0, sd_send(self->ctl, &c, sizeof(c)));

	ASSERT_EQ(POLLIN, sd_poll1(io, POLLIN, SD_WAIT_MS) & POLLIN)
		TH_LOG("nothing from the target (exit %d)",
		       sd_wait(self->child));
	n = recv(io, buf, sizeof(buf), 0);
	ASSERT_EQ(17, n);
	EXPECT_EQ(0, memcmp(buf, "hello-from-target", 17));
	ASSERT_EQ(5, send(io, "reply", 5, MSG_NOSIGNAL));
	EXPECT_EQ(0, sd_recv(self->ctl, buf, 1, SD_WAIT_MS));
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
	if (io != self->s.peer)
		close(io);
}

TEST_HARNESS_MAIN
