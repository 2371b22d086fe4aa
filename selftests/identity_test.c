// SPDX-License-Identifier: GPL-2.0-only
/*
 * identity_test - a redeemed descriptor is the same open socket, nothing more
 *
 * For every socket kind: kcmp(KCMP_FILE) says the two descriptors are one
 * open file (also across processes), fstat() says one inode, the new
 * descriptor is the lowest free number (returned as the ioctl's value), and
 * FD_CLOEXEC is set exactly when SOCKDUP_REDEEM_CLOEXEC asks for it,
 * whatever the sharer's descriptor has.
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

FIXTURE(identity) {
	int dev;
	struct sd_sock s;
	int newfd;
	pid_t child;
	int ctl;
};

FIXTURE_VARIANT(identity) {
	enum sd_kind kind;
};

SD_KIND_VARIANTS(identity);

FIXTURE_SETUP(identity)
{
	self->newfd = -1;
	self->child = -1;
	self->ctl = -1;
	sd_sock_init(&self->s);
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	SD_SOCK_OPEN_OR_SKIP(&self->s, variant->kind);
}

FIXTURE_TEARDOWN(identity)
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

/* Share @fd with ourselves and redeem it with @flags; returns the new fd. */
static int share_redeem_self(int dev, int fd, __u32 flags)
{
	struct sd_cookie c;

	if (sd_share(dev, fd, getpid(), 0, &c))
		return -1;
	return sd_redeem(dev, &c, flags);
}

TEST_F(identity, kcmp_same_open_file)
{
	int other = self->s.peer >= 0 ? self->s.peer : self->dev;

	self->newfd = share_redeem_self(self->dev, self->s.fd, 0);
	ASSERT_LE(0, self->newfd) TH_LOG("share+redeem: %s", strerror(errno));
	EXPECT_NE(self->s.fd, self->newfd);

	/* kcmp() must be able to tell files apart, or it proves nothing. */
	ASSERT_NE(0, sd_kcmp_file(getpid(), self->s.fd, getpid(), other))
		TH_LOG("kcmp: %s", strerror(errno));
	EXPECT_EQ(0, sd_kcmp_file(getpid(), self->s.fd, getpid(),
				  self->newfd));
}

TEST_F(identity, same_inode)
{
	struct stat a, b;

	self->newfd = share_redeem_self(self->dev, self->s.fd, 0);
	ASSERT_LE(0, self->newfd) TH_LOG("share+redeem: %s", strerror(errno));
	ASSERT_EQ(0, fstat(self->s.fd, &a));
	ASSERT_EQ(0, fstat(self->newfd, &b));
	EXPECT_TRUE(S_ISSOCK(b.st_mode));
	EXPECT_EQ(a.st_dev, b.st_dev);
	EXPECT_EQ(a.st_ino, b.st_ino);
	if (self->s.peer >= 0)
		EXPECT_NE(a.st_ino, sd_inode(self->s.peer));
}

/* The socket's family, type and protocol are those of the original. */
TEST_F(identity, same_family_type_protocol)
{
	int opts[] = { SO_DOMAIN, SO_TYPE, SO_PROTOCOL };
	unsigned int i;

	self->newfd = share_redeem_self(self->dev, self->s.fd, 0);
	ASSERT_LE(0, self->newfd) TH_LOG("share+redeem: %s", strerror(errno));
	for (i = 0; i < ARRAY_SIZE(opts); i++) {
		int va = -1, vb = -2;
		socklen_t la = sizeof(va), lb = sizeof(vb);

		ASSERT_EQ(0, getsockopt(self->s.fd, SOL_SOCKET, opts[i], &va,
					&la));
		ASSERT_EQ(0, getsockopt(self->newfd, SOL_SOCKET, opts[i], &vb,
					&lb));
		EXPECT_EQ(va, vb);
	}
}

/*
 * The sharer is another process that made the socket itself: the target's
 * redeemed descriptor and the sharer's are one open file.
 */
TEST_F(identity, kcmp_across_processes)
{
	struct sd_cookie c;
	int fds[2], msg;

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child) TH_LOG("%s", sd_errmsg());
	if (self->child == 0) {
		struct sd_sock s;
		int dev = sd_open();

		if (dev < 0 || sd_sock_open(&s, variant->kind))
			_exit(2);
		if (sd_share(dev, s.fd, getppid(), 0, &c))
			_exit(3);
		fds[0] = s.fd;
		fds[1] = dev;
		if (sd_send(self->ctl, &c, sizeof(c)) ||
		    sd_send(self->ctl, fds, sizeof(fds)))
			_exit(4);
		/* Stay alive (and keep the fds) until told to go. */
		sd_recv_int(self->ctl, &msg, -1);
		_exit(0);
	}
	ASSERT_EQ(0, sd_recv(self->ctl, &c, sizeof(c), SD_WAIT_MS))
		TH_LOG("child: %s (exit %d)", sd_errmsg(),
		       sd_wait(self->child));
	ASSERT_EQ(0, sd_recv(self->ctl, fds, sizeof(fds), SD_WAIT_MS));

	self->newfd = sd_redeem(self->dev, &c, 0);
	ASSERT_LE(0, self->newfd) TH_LOG("redeem: %s", strerror(errno));
	EXPECT_EQ(0, sd_kcmp_file(self->child, fds[0], getpid(),
				  self->newfd));
	EXPECT_NE(0, sd_kcmp_file(self->child, fds[1], getpid(),
				  self->newfd));
	EXPECT_NE(0, sd_kcmp_file(self->child, fds[0], getpid(),
				  self->s.fd));

	ASSERT_EQ(0, sd_send_int(self->ctl, 0));
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
}

/* The descriptor is the ioctl's return value and the lowest free number. */
TEST_F(identity, returns_lowest_free_fd)
{
	struct sd_cookie c;
	int hole, ret;

	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, getpid(), 0, &c));
	hole = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, hole);
	ASSERT_EQ(0, close(hole));

	ret = sd_redeem(self->dev, &c, 0);
	ASSERT_LE(0, ret) TH_LOG("redeem: %s", strerror(errno));
	self->newfd = ret;
	EXPECT_EQ(hole, ret);
	EXPECT_EQ(0, sd_kcmp_file(getpid(), self->s.fd, getpid(), ret));
}

/*
 * FD_CLOEXEC is a property of the descriptor: set when asked, even though
 * the sharer's descriptor does not have it, and the sharer's unchanged.
 */
TEST_F(identity, cloexec_set_when_asked)
{
	ASSERT_EQ(0, fcntl(self->s.fd, F_SETFD, 0));
	ASSERT_EQ(0, fcntl(self->s.fd, F_GETFD) & FD_CLOEXEC);

	self->newfd = share_redeem_self(self->dev, self->s.fd,
					SOCKDUP_REDEEM_CLOEXEC);
	ASSERT_LE(0, self->newfd) TH_LOG("share+redeem: %s", strerror(errno));
	EXPECT_EQ(FD_CLOEXEC, fcntl(self->newfd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(self->s.fd, F_GETFD) & FD_CLOEXEC);
}

/* ... and clear when not asked, even though the sharer's has it. */
TEST_F(identity, cloexec_clear_when_not_asked)
{
	ASSERT_EQ(0, fcntl(self->s.fd, F_SETFD, FD_CLOEXEC));
	ASSERT_EQ(FD_CLOEXEC, fcntl(self->s.fd, F_GETFD) & FD_CLOEXEC);

	self->newfd = share_redeem_self(self->dev, self->s.fd, 0);
	ASSERT_LE(0, self->newfd) TH_LOG("share+redeem: %s", strerror(errno));
	EXPECT_EQ(0, fcntl(self->newfd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(FD_CLOEXEC, fcntl(self->s.fd, F_GETFD) & FD_CLOEXEC);
}

/* Two shares of one socket redeem to two descriptors of one file. */
TEST_F(identity, two_shares_one_file)
{
	struct sd_cookie c1, c2;
	int fd2;

	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, getpid(), 0, &c1));
	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, getpid(), 0, &c2));
	EXPECT_NE(0, memcmp(&c1, &c2, sizeof(c1)));

	self->newfd = sd_redeem(self->dev, &c1, 0);
	ASSERT_LE(0, self->newfd) TH_LOG("redeem 1: %s", strerror(errno));
	fd2 = sd_redeem(self->dev, &c2, 0);
	ASSERT_LE(0, fd2) TH_LOG("redeem 2: %s", strerror(errno));
	EXPECT_NE(self->newfd, fd2);
	EXPECT_EQ(0, sd_kcmp_file(getpid(), self->newfd, getpid(), fd2));
	EXPECT_EQ(0, sd_kcmp_file(getpid(), self->s.fd, getpid(), fd2));
	close(fd2);
}

TEST_HARNESS_MAIN
