// SPDX-License-Identifier: GPL-2.0-only
/*
 * pidfd_test - sockdup_share_pidfd() binds a share to the pidfd's process
 *
 * The library reads the pid number from the pidfd's fdinfo, shares with
 * that number, then checks that the pidfd's process is still alive; if it
 * is not, it revokes the share and reports ESRCH.  The pid is recycled
 * between those steps, deterministically: in a new pid namespace, the
 * namespace's init kills and reaps the target T, writes T's pid - 1 to
 * ns_last_pid and forks an impostor I that gets T's number.  A test hook
 * compiled into the library (SOCKDUP_PIDFD_TEST_HOOK) does it after the
 * pid was read (the SHARE then binds to I: I can QUERY the cookie, as only
 * its target can) or after the SHARE (bound to the dead T).  Either way
 * the call fails with ESRCH and I can never redeem the cookie.
 */
#define _GNU_SOURCE

struct sockdup_cookie;
static void (*pidfd_hook)(int stage, int pid, const struct sockdup_cookie *c);
#define SOCKDUP_PIDFD_TEST_HOOK(stage, pid, cookie)			\
	do {								\
		if (pidfd_hook)						\
			pidfd_hook(stage, pid, cookie);			\
	} while (0)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#pragma GCC diagnostic ignored "-Wclobbered"
#include "userlib_util.h"

static int pidfd_open(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

/* A process that redeems ('R') or queries ('Q') cookies on request. */
struct target {
	pid_t pid;
	int in;		/* requests to it */
	int out;	/* its answers: 0 or an errno */
};

struct target_req {
	char op;
	struct sockdup_cookie cookie;
};

static void target_loop(int in, int out)
{
	struct sockdup_share_info info;
	struct target_req req;
	int res;

	while (read(in, &req, sizeof(req)) == sizeof(req)) {
		if (req.op == 'R') {
			res = sockdup_redeem(&req.cookie, 0);
			if (res >= 0)
				close(res);
		} else {
			res = sockdup_query(&req.cookie, &info);
		}
		res = res < 0 ? -res : 0;
		if (write(out, &res, sizeof(res)) != sizeof(res))
			_exit(3);
	}
	_exit(0);
}

static int target_start(struct target *t)
{
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC))
		return -1;
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	t->pid = fork();
	if (t->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(in[1]);
		close(out[0]);
		target_loop(in[0], out[1]);
	}
	close(in[0]);
	close(out[1]);
	t->in = in[1];
	t->out = out[0];
	return t->pid < 0 ? -1 : 0;
}

/* Ask @t to redeem or query @c; returns 0 or its errno, -1 if it is gone. */
static int target_ask(struct target *t, char op, const struct sockdup_cookie *c)
{
	struct target_req req = { .op = op, .cookie = *c };
	int res;

	if (write(t->in, &req, sizeof(req)) != sizeof(req) ||
	    read(t->out, &res, sizeof(res)) != sizeof(res))
		return -1;
	return res;
}

static void target_stop(struct target *t)
{
	if (t->pid <= 0)
		return;
	if (t->in >= 0)
		close(t->in);
	close(t->out);
	sd_kill_wait(t->pid);
	t->pid = 0;
}

/* ------------------------------------------------------------------ */
/* The recycling scenario, run as the init of a new pid namespace      */
/* ------------------------------------------------------------------ */

struct recycle_result {
	int step;		/* RC_DONE when everything ran */
	int err;		/* errno of the failing step */
	pid_t n;		/* the pid number read from the pidfd */
	pid_t impostor;		/* the impostor's pid */
	int ret;		/* sockdup_share_pidfd() */
	int query_mid;		/* impostor's QUERY between SHARE and check */
	int query_after;	/* impostor's QUERY after the call */
	int redeem_after;	/* impostor's REDEEM after the call */
	long long released;	/* STATS.revoked + reaped grew by this */
	long long pending;	/* STATS.pending grew by this much */
};

enum { RC_SETUP = 1, RC_STATS, RC_CALL, RC_IMPOSTOR, RC_ASK, RC_DONE };

static int recycle_at;			/* hook stage that recycles the pid */
static struct target victim, impostor;
static struct sockdup_cookie hook_cookie;
static int hook_query = -1, hook_err;

static void recycle_hook(int stage, int pid, const struct sockdup_cookie *c)
{
	if (c)
		hook_cookie = *c;
	if (stage == recycle_at) {
		/* The target dies and is reaped; its number goes to I. */
		target_stop(&victim);
		if (sd_set_last_pid(pid - 1) || target_start(&impostor))
			hook_err = errno ? errno : EIO;
	}
	/* Between SHARE and the check: is I the share's target? */
	if (stage == 2 && impostor.pid > 0)
		hook_query = target_ask(&impostor, 'Q', c);
}

static int recycle_init(int ctl)
{
	struct recycle_result r = { .step = RC_SETUP };
	struct sockdup_stats before, after;
	struct sockdup_cookie cookie;
	int sv[2], pidfd;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
	    target_start(&victim))
		goto fail;
	pidfd = pidfd_open(victim.pid);
	if (pidfd < 0)
		goto fail;
	r.n = victim.pid;

	r.step = RC_STATS;
	if (sockdup_stats(&before))
		goto fail;
	r.step = RC_CALL;
	pidfd_hook = recycle_hook;
	r.ret = sockdup_share_pidfd(sv[0], pidfd, 0, &cookie);
	pidfd_hook = NULL;
	if (hook_err) {
		errno = hook_err;
		goto fail;
	}
	if (sockdup_stats(&after))
		goto fail;
	/* Revoked by the call, or reaped first if its target died. */
	r.released = after.revoked + after.reaped - before.revoked -
		     before.reaped;
	r.pending = after.pending - before.pending;

	r.step = RC_IMPOSTOR;
	if (impostor.pid <= 0)
		goto fail;
	r.impostor = impostor.pid;
	r.query_mid = hook_query;
	r.step = RC_ASK;
	r.query_after = target_ask(&impostor, 'Q', &hook_cookie);
	r.redeem_after = target_ask(&impostor, 'R', &hook_cookie);
	target_stop(&impostor);
	r.step = RC_DONE;
	return sd_send(ctl, &r, sizeof(r)) ? 3 : 0;
fail:
	r.err = errno;
	sd_send(ctl, &r, sizeof(r));
	return 1;
}

static int recycle_at_1(int ctl)
{
	recycle_at = 1;
	return recycle_init(ctl);
}

static int recycle_at_2(int ctl)
{
	recycle_at = 2;
	return recycle_init(ctl);
}

FIXTURE(recycle) {
	pid_t child;
	int ctl;
	struct recycle_result r;
};

FIXTURE_VARIANT(recycle) {
	int (*init)(int ctl);
	bool bound_to_impostor;	/* the SHARE itself picked the impostor */
};

/* The pid is recycled after it was read, before the SHARE. */
FIXTURE_VARIANT_ADD(recycle, before_share) {
	.init = recycle_at_1,
	.bound_to_impostor = true,
};

/* The pid is recycled after the SHARE, before the liveness check. */
FIXTURE_VARIANT_ADD(recycle, before_check) {
	.init = recycle_at_2,
	.bound_to_impostor = false,
};

FIXTURE_SETUP(recycle)
{
	int dev = sd_open();

	ASSERT_LE(0, dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				 strerror(errno));
	close(dev);
	self->ctl = -1;
	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child) TH_LOG("%s", sd_errmsg());
	if (self->child == 0)
		_exit(sd_in_new_pidns(variant->init, self->ctl));
	/* The namespace reports once, or its end closes (EPIPE). */
	ASSERT_EQ(0, sd_recv(self->ctl, &self->r, sizeof(self->r),
			     2 * SD_WAIT_MS))
		TH_LOG("no report: %s; exit %d", sd_errmsg(),
		       sd_wait(self->child));
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
	ASSERT_EQ(RC_DONE, self->r.step)
		TH_LOG("failed at step %d: %s", self->r.step,
		       strerror(self->r.err));
}

FIXTURE_TEARDOWN(recycle)
{
	sd_kill_wait(self->child);
	if (self->ctl >= 0)
		close(self->ctl);
}

TEST_F(recycle, share_never_reaches_the_new_bearer_of_the_pid)
{
	const struct recycle_result *r = &self->r;

	/* The scenario really gave the number to another process. */
	ASSERT_LT(1, r->n);
	ASSERT_EQ(r->n, r->impostor);

	/* Between the steps the share was bound to the impostor (QUERY is
	 * only for the sharer and the target) or to the dead target.
	 */
	if (variant->bound_to_impostor) {
		EXPECT_EQ(0, r->query_mid);
	} else {
		EXPECT_NE(0, r->query_mid);
	}

	EXPECT_EQ(-ESRCH, r->ret);
	/* Withdrawn (or reaped with the dead target): nothing pending. */
	EXPECT_EQ(1, r->released);
	EXPECT_EQ(0, r->pending);
	EXPECT_EQ(ENOENT, r->query_after);
	EXPECT_EQ(ENOENT, r->redeem_after);
}

/* ------------------------------------------------------------------ */
/* Without recycling                                                   */
/* ------------------------------------------------------------------ */

FIXTURE(pidfd) {
	struct target t;
	int sv[2];
	int pidfd;
};

FIXTURE_SETUP(pidfd)
{
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				self->sv));
	ASSERT_EQ(0, target_start(&self->t));
	self->pidfd = pidfd_open(self->t.pid);
	ASSERT_LE(0, self->pidfd) TH_LOG("pidfd_open: %s", strerror(errno));
}

FIXTURE_TEARDOWN(pidfd)
{
	target_stop(&self->t);
	close(self->pidfd);
	close(self->sv[0]);
	close(self->sv[1]);
}

TEST_F(pidfd, live_target_redeems_the_same_socket)
{
	struct sockdup_share_info info;
	struct sockdup_cookie c;

	ASSERT_EQ(0, sockdup_share_pidfd(self->sv[0], self->pidfd, 0, &c));
	ASSERT_EQ(0, sockdup_query(&c, &info));
	EXPECT_EQ(self->t.pid, info.target_pid);
	EXPECT_EQ(sd_inode(self->sv[0]), info.sock_ino);
	/* The sharer is not the target. */
	EXPECT_EQ(-EPERM, sockdup_redeem(&c, 0));
	EXPECT_EQ(0, target_ask(&self->t, 'R', &c));
	EXPECT_EQ(-ENOENT, sockdup_query(&c, &info));
}

TEST_F(pidfd, reaped_target_is_esrch_and_shares_nothing)
{
	struct sockdup_stats before, after;
	struct sockdup_cookie c;

	ASSERT_EQ(0, sockdup_stats(&before));
	target_stop(&self->t);
	EXPECT_EQ(-ESRCH, sockdup_share_pidfd(self->sv[0], self->pidfd, 0,
					      &c));
	ASSERT_EQ(0, sockdup_stats(&after));
	/* Refused before any SHARE: fdinfo already says the pid is gone. */
	EXPECT_EQ(before.shared, after.shared);
}

TEST_F(pidfd, zombie_target_is_esrch)
{
	struct sockdup_cookie c;

	/* Not reaped: the number is still the target's, but it has exited. */
	close(self->t.in);
	self->t.in = -1;
	ASSERT_EQ(0, sd_wait_zombie(self->t.pid));
	EXPECT_EQ(-ESRCH, sockdup_share_pidfd(self->sv[0], self->pidfd, 0,
					      &c));
}

TEST_F(pidfd, errors)
{
	struct sockdup_cookie c;
	int pipefd[2];

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	EXPECT_EQ(-EINVAL, sockdup_share_pidfd(self->sv[0], self->pidfd, 0,
					       NULL));
	EXPECT_EQ(-EBADF, sockdup_share_pidfd(self->sv[0], -1, 0, &c));
	EXPECT_EQ(-EBADF, sockdup_share_pidfd(self->sv[0], 1000000, 0, &c));
	/* Open, but not a pidfd. */
	EXPECT_EQ(-EINVAL, sockdup_share_pidfd(self->sv[0], pipefd[0], 0,
					       &c));
	/* The socket side is checked by SHARE. */
	EXPECT_EQ(-ENOTSOCK, sockdup_share_pidfd(pipefd[0], self->pidfd, 0,
						 &c));
	EXPECT_EQ(-EBADF, sockdup_share_pidfd(-1, self->pidfd, 0, &c));
	close(pipefd[0]);
	close(pipefd[1]);
}

/* A /proc of another pid namespace would give numbers SHARE misreads. */
static int foreign_proc_init(int ctl)
{
	struct sockdup_cookie c;
	int sv[2], pidfd, ret;

	/* The namespace's own /proc is mounted: hide it again. */
	if (umount2("/proc", MNT_DETACH) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 2;
	pidfd = pidfd_open(getpid());
	if (pidfd < 0)
		return 2;
	ret = sockdup_share_pidfd(sv[0], pidfd, 0, &c);
	return sd_send_int(ctl, ret) ? 3 : 0;
}

TEST(proc_of_another_pid_namespace_is_exdev)
{
	int ctl = -1, ret = 0;
	pid_t child;

	child = sd_fork(&ctl);
	ASSERT_LE(0, child);
	if (child == 0)
		_exit(sd_in_new_pidns(foreign_proc_init, ctl));
	ASSERT_EQ(0, sd_recv_int(ctl, &ret, 2 * SD_WAIT_MS))
		TH_LOG("no report: %s; exit %d", sd_errmsg(), sd_wait(child));
	EXPECT_EQ(0, sd_wait(child));
	EXPECT_EQ(-EXDEV, ret);
	close(ctl);
}

TEST_HARNESS_MAIN
