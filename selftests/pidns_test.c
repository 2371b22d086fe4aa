// SPDX-License-Identifier: GPL-2.0-only
/*
 * pidns_test - a share is bound to a process, not to a pid number
 *
 * PID reuse, made deterministic: in a new pid namespace (and a new mount
 * namespace with its own /proc), the namespace's init shares a socket with
 * a child T, T exits and is reaped, init writes T's pid - 1 to
 * /proc/sys/kernel/ns_last_pid, and the next child T2 gets T's pid number.
 * T2 must not be able to redeem T's cookie: EPERM (the share is bound to
 * T's dead struct pid) or ENOENT (the module reaped the share when T
 * exited), never a descriptor.  As a control, T itself redeems a second
 * cookie while it lives, so target pids are resolved in the sharer's
 * namespace and the share works there.
 *
 * Also: a pid that exists only outside the sharer's pid namespace names no
 * process for SHARE (ESRCH).
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

/* What the namespace side reports; step says how far it got. */
struct reuse_result {
	int step;		/* REUSE_DONE when everything ran */
	int err;		/* errno of the failing step */
	pid_t tpid;		/* T's pid in the namespace */
	pid_t t2pid;		/* T2's pid in the namespace */
	int control;		/* T's redeem of its own cookie: 0 or errno */
	int t2_ret;		/* T2's REDEEM return value */
	int t2_errno;
	int t2_revoke_errno;	/* T2 trying to decline T's cookie */
	int sharer_errno;	/* the sharer (not the target) redeeming */
};

enum {
	REUSE_UNSHARE = 1, REUSE_MOUNT, REUSE_OPEN, REUSE_SOCKET, REUSE_FORK_T,
	REUSE_SHARE, REUSE_CONTROL, REUSE_REAP_T, REUSE_LAST_PID,
	REUSE_FORK_T2, REUSE_T2, REUSE_DONE,
};

FIXTURE(pidns) {
	pid_t child;
	int ctl;
};

FIXTURE_SETUP(pidns)
{
	int dev = sd_open();

	self->child = -1;
	self->ctl = -1;
	ASSERT_LE(0, dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				 strerror(errno));
	close(dev);
}

FIXTURE_TEARDOWN(pidns)
{
	sd_kill_wait(self->child);
	if (self->ctl >= 0)
		close(self->ctl);
}

/* T: redeem the control cookie from @in, report, exit on EOF. */
static void target_t(int in, int out, int dev)
{
	struct sd_cookie c;
	int fd, res;
	char x;

	if (read(in, &c, sizeof(c)) != sizeof(c))
		_exit(2);
	fd = sd_redeem(dev, &c, 0);
	res = fd < 0 ? errno : 0;
	if (write(out, &res, sizeof(res)) != sizeof(res))
		_exit(3);
	while (read(in, &x, 1) > 0)
		;
	_exit(0);
}

/* The namespace's init: the reuse scenario; reports a reuse_result. */
static int reuse_init(int ctl)
{
	struct reuse_result r = { .step = REUSE_OPEN };
	struct sd_cookie control, victim;
	int dev, sv[2], in[2], out[2];
	pid_t t, t2;

	dev = sd_open();
	if (dev < 0)
		goto fail;
	r.step = REUSE_SOCKET;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
	    pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		goto fail;

	r.step = REUSE_FORK_T;
	t = fork();
	if (t < 0)
		goto fail;
	if (t == 0) {
		close(in[1]);
		close(out[0]);
		target_t(in[0], out[1], dev);
	}
	close(in[0]);
	close(out[1]);
	r.tpid = t;

	r.step = REUSE_SHARE;
	if (sd_share(dev, sv[0], t, 0, &control) ||
	    sd_share(dev, sv[0], t, 0, &victim))
		goto fail;

	/* Control: T is the target and can redeem. */
	r.step = REUSE_CONTROL;
	if (write(in[1], &control, sizeof(control)) != sizeof(control) ||
	    read(out[0], &r.control, sizeof(r.control)) !=
	    sizeof(r.control))
		goto fail;
	/* The sharer is not the target. */
	r.sharer_errno = sd_redeem(dev, &victim, 0) < 0 ? errno : 0;

	/* T exits and is reaped: its pid number is free. */
	r.step = REUSE_REAP_T;
	close(in[1]);
	if (sd_wait(t) != 0)
		goto fail;

	r.step = REUSE_LAST_PID;
	if (sd_set_last_pid(t - 1))
		goto fail;

	r.step = REUSE_FORK_T2;
	t2 = fork();
	if (t2 < 0)
		goto fail;
	if (t2 == 0) {
		r.t2pid = getpid();
		r.t2_ret = sd_redeem(dev, &victim, 0);
		r.t2_errno = r.t2_ret < 0 ? errno : 0;
		r.t2_revoke_errno = sd_revoke(dev, &victim) ? errno : 0;
		r.step = REUSE_DONE;
		_exit(sd_send(ctl, &r, sizeof(r)) ? 3 : 0);
	}
	r.step = REUSE_T2;
	if (sd_wait(t2) != 0)
		goto fail;
	sd_revoke(dev, &victim);	/* if not reaped yet */
	return 0;
fail:
	r.err = errno;
	sd_send(ctl, &r, sizeof(r));
	return 1;
}

TEST_F(pidns, pid_reuse_cannot_redeem)
{
	struct reuse_result r = { 0 };

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child);
	if (self->child == 0)
		_exit(sd_in_new_pidns(reuse_init, self->ctl));

	ASSERT_EQ(0, sd_recv(self->ctl, &r, sizeof(r), 2 * SD_WAIT_MS))
		TH_LOG("no report: %s; exit %d", sd_errmsg(),
		       sd_wait(self->child));
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
	ASSERT_EQ(REUSE_DONE, r.step) TH_LOG("failed at step %d: %s", r.step,
					     strerror(r.err));
	/* The control: the live target redeems, the sharer cannot. */
	ASSERT_EQ(0, r.control) TH_LOG("T's own redeem: %s",
				       strerror(r.control));
	EXPECT_EQ(EPERM, r.sharer_errno);

	/* The scenario really reused the pid number. */
	ASSERT_NE(0, r.tpid);
	ASSERT_EQ(r.tpid, r.t2pid);

	/* The process now bearing the number cannot redeem or decline. */
	EXPECT_EQ(-1, r.t2_ret);
	EXPECT_TRUE(r.t2_errno == EPERM || r.t2_errno == ENOENT)
		TH_LOG("T2 redeem: ret %d, %s", r.t2_ret, strerror(r.t2_errno));
	EXPECT_TRUE(r.t2_revoke_errno == EPERM || r.t2_revoke_errno == ENOENT)
		TH_LOG("T2 revoke: %s", strerror(r.t2_revoke_errno));
}

static pid_t outside_pid;

/* Init of a new namespace: share with a pid of the parent namespace. */
static int outside_init(int ctl)
{
	int dev = sd_open(), sv[2], res[2];

	if (dev < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 2;
	/* Not visible from here, so not a process here. */
	res[0] = kill(outside_pid, 0) ? errno : 0;
	res[1] = sd_share(dev, sv[0], outside_pid, 0, NULL) ? errno : 0;
	return sd_send(ctl, res, sizeof(res)) ? 3 : 0;
}

TEST_F(pidns, esrch_pid_outside_callers_namespace)
{
	int res[2] = { -1, -1 };

	outside_pid = getpid();
	ASSERT_LT(8, outside_pid);	/* a number unused in a new ns */
	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child);
	if (self->child == 0)
		_exit(sd_in_new_pidns(outside_init, self->ctl));
	ASSERT_EQ(0, sd_recv(self->ctl, res, sizeof(res), 2 * SD_WAIT_MS))
		TH_LOG("no report: %s; exit %d", sd_errmsg(),
		       sd_wait(self->child));
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
	ASSERT_EQ(ESRCH, res[0]) TH_LOG("pid %d visible in the new namespace",
					outside_pid);
	EXPECT_EQ(ESRCH, res[1]) TH_LOG("share: %s", strerror(res[1]));
}

TEST_HARNESS_MAIN
