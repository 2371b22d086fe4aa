// SPDX-License-Identifier: GPL-2.0-only
/*
 * target_test - the target is a process: any of its threads may redeem,
 * also after it has exec'd
 *
 * A non-leader thread of the target redeems.  The target execve()s this
 * program again (from its main thread, or from another thread, which makes
 * that thread the leader) and redeems in the new image with the cookie
 * from argv or the environment; the new descriptor is the sharer's socket
 * (kcmp) and bytes flow through it.  SOCKDUP_REDEEM_CLOEXEC has its effect:
 * across an execve() the descriptor redeemed with it is gone and the one
 * redeemed without it is still there.
 *
 * The program re-executes itself: "target_test --exec-helper MODE ARGS...".
 */
#define _GNU_SOURCE
#include <linux/sockdup.h>

#include <pthread.h>

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

#define EXEC_HELPER	"--exec-helper"
#define COOKIE_ENV	"SOCKDUP_TEST_COOKIE"

/* What the helper reports after the execve(). */
struct exec_report {
	int err;	/* 0, or the errno of the failed step */
	int fd;		/* the redeemed descriptor in the helper */
	pid_t pid;	/* getpid() in the new image */
	int cloexec;	/* FD_CLOEXEC of that descriptor */
	int open[2];	/* fdcheck mode: are the two descriptors open */
};

FIXTURE(target) {
	int dev;
	struct sd_sock s;
	int newfd;
	pid_t child;
	int ctl;
};

FIXTURE_SETUP(target)
{
	self->newfd = -1;
	self->child = -1;
	self->ctl = -1;
	sd_sock_init(&self->s);
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	ASSERT_EQ(0, sd_sock_open(&self->s, SD_UNIX_STREAM));
}

FIXTURE_TEARDOWN(target)
{
	if (self->newfd >= 0)
		close(self->newfd);
	sd_kill_wait(self->child);
	if (self->ctl >= 0)
		close(self->ctl);
	sd_sock_close(&self->s);
	if (self->dev >= 0)
		close(self->dev);
}

struct thread_arg {
	int dev;
	struct sd_cookie c;
	pid_t tid;
	int fd;
	int err;
};

static void *redeem_thread(void *p)
{
	struct thread_arg *a = p;

	a->tid = sd_gettid();
	a->fd = sd_redeem(a->dev, &a->c, SOCKDUP_REDEEM_CLOEXEC);
	a->err = a->fd < 0 ? errno : 0;
	return NULL;
}

TEST_F(target, redeem_from_non_leader_thread)
{
	struct thread_arg a = { .dev = self->dev };
	pthread_t th;

	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, getpid(), 0, &a.c));
	ASSERT_EQ(0, pthread_create(&th, NULL, redeem_thread, &a));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_NE(getpid(), a.tid);
	ASSERT_LE(0, a.fd) TH_LOG("thread's redeem: %s", strerror(a.err));
	self->newfd = a.fd;
	/* One descriptor table: the main thread uses what the thread got. */
	EXPECT_EQ(0, sd_kcmp_file(getpid(), self->newfd, getpid(),
				  self->s.fd));
	EXPECT_EQ(FD_CLOEXEC, fcntl(self->newfd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, sd_sock_check_io(&self->s, self->newfd))
		TH_LOG("%s", sd_errmsg());
}

/* A thread of another process is refused like the process. */
TEST_F(target, eperm_thread_of_other_process)
{
	struct thread_arg a = { .dev = self->dev };
	int res[2];

	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, getpid(), 0, &a.c));
	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		pthread_t th;

		if (pthread_create(&th, NULL, redeem_thread, &a) ||
		    pthread_join(th, NULL))
			_exit(2);
		res[0] = a.fd;
		res[1] = a.err;
		_exit(sd_send(self->ctl, res, sizeof(res)) ? 3 : 0);
	}
	ASSERT_EQ(0, sd_recv(self->ctl, res, sizeof(res), SD_WAIT_MS));
	EXPECT_EQ(-1, res[0]);
	EXPECT_EQ(EPERM, res[1]);
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
	self->newfd = sd_redeem(self->dev, &a.c, 0);
	EXPECT_LE(0, self->newfd) TH_LOG("target after EPERM: %s",
					 strerror(errno));
}

/* execve() this program as the helper in @mode with the cookie @c. */
static void exec_helper(const char *mode, int ctl, const struct sd_cookie *c,
			bool cookie_in_env, const char *extra)
{
	char hex[2 * SOCKDUP_COOKIE_SIZE + 1], ctlarg[16], env[64];
	char *argv[7], *envp[2] = { NULL, NULL };
	int i = 0;

	fcntl(ctl, F_SETFD, 0);		/* the helper reports over ctl */
	snprintf(ctlarg, sizeof(ctlarg), "%d", ctl);
	sd_cookie_hex(c, hex);
	argv[i++] = "target_test";
	argv[i++] = EXEC_HELPER;
	argv[i++] = (char *)mode;
	argv[i++] = ctlarg;
	argv[i++] = cookie_in_env ? "-" : hex;
	argv[i++] = (char *)(extra ? extra : "-");
	argv[i] = NULL;
	if (cookie_in_env) {
		snprintf(env, sizeof(env), COOKIE_ENV "=%s", hex);
		envp[0] = env;
	}
	execve("/proc/self/exe", argv, envp);
}

/*
 * The helper, in the new image.  Modes:
 *   redeem CTL COOKIE|- -   redeem (cookie from argv or COOKIE_ENV),
 *	report, send "after-exec" through the socket, wait for ctl to close.
 *   fdcheck CTL - "A,B"     report whether descriptors A and B are open.
 */
static int helper_main(int argc, char **argv)
{
	struct exec_report r = { 0 };
	struct sd_cookie c;
	const char *hex;
	int ctl, dev, x;

	if (argc != 6)
		return 2;
	ctl = atoi(argv[3]);
	r.pid = getpid();
	if (!strcmp(argv[2], "fdcheck")) {
		int a = -1, b = -1;

		if (sscanf(argv[5], "%d,%d", &a, &b) != 2)
			return 3;
		r.open[0] = sd_fd_is_open(a);
		r.open[1] = sd_fd_is_open(b);
		return sd_send(ctl, &r, sizeof(r)) ? 4 : 0;
	}
	hex = strcmp(argv[4], "-") ? argv[4] : getenv(COOKIE_ENV);
	if (!hex || sd_cookie_parse(hex, &c))
		return 5;
	dev = sd_open();
	r.fd = dev < 0 ? -1 : sd_redeem(dev, &c, 0);
	if (r.fd < 0) {
		r.err = errno;
	} else {
		r.cloexec = fcntl(r.fd, F_GETFD) & FD_CLOEXEC;
		if (send(r.fd, "after-exec", 10, MSG_NOSIGNAL) != 10)
			r.err = errno;
	}
	if (sd_send(ctl, &r, sizeof(r)))
		return 6;
	/* Keep the descriptor for the parent's kcmp until told to go. */
	sd_recv_int(ctl, &x, -1);
	return 0;
}

/* The parent's side of the redeem helper: check its report. */
static void check_exec_redeem(struct __test_metadata *_metadata,
			      FIXTURE_DATA(target) *self, pid_t want_pid)
{
	struct exec_report r = { .err = -1 };
	char buf[16];

	ASSERT_EQ(0, sd_recv(self->ctl, &r, sizeof(r), SD_WAIT_MS))
		TH_LOG("no report from the exec'd target: %s (exit %d)",
		       sd_errmsg(), sd_wait(self->child));
	ASSERT_EQ(0, r.err) TH_LOG("after execve: %s", strerror(r.err));
	EXPECT_EQ(want_pid, r.pid);
	ASSERT_LE(0, r.fd);
	EXPECT_EQ(0, r.cloexec);
	EXPECT_EQ(0, sd_kcmp_file(self->child, r.fd, getpid(), self->s.fd));
	ASSERT_EQ(POLLIN, sd_poll1(self->s.peer, POLLIN, SD_WAIT_MS) & POLLIN);
	ASSERT_EQ(10, recv(self->s.peer, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "after-exec", 10));
	ASSERT_EQ(0, sd_send_int(self->ctl, 0));
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
}

/* The share is made before the target's execve(), redeemed after it. */
TEST_F(target, redeem_after_execve_cookie_in_argv)
{
	struct sd_cookie c;

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		if (sd_recv(self->ctl, &c, sizeof(c), SD_WAIT_MS))
			_exit(2);
		exec_helper("redeem", self->ctl, &c, false, NULL);
		_exit(3);
	}
	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, self->child, 0, &c));
	ASSERT_EQ(0, sd_send(self->ctl, &c, sizeof(c)));
	check_exec_redeem(_metadata, self, self->child);
}

struct exec_thread_arg {
	int ctl;
	struct sd_cookie c;
};

static void *exec_thread(void *p)
{
	struct exec_thread_arg *a = p;

	exec_helper("redeem", a->ctl, &a->c, true, NULL);
	return NULL;	/* execve failed: the main thread notices */
}

/*
 * A non-leader thread of the target execve()s: it becomes the leader of
 * the same process (same pid) and the new image redeems (cookie from the
 * environment).
 */
TEST_F(target, redeem_after_execve_from_thread)
{
	struct exec_thread_arg a;

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		pthread_t th;

		a.ctl = self->ctl;
		if (sd_recv(self->ctl, &a.c, sizeof(a.c), SD_WAIT_MS) ||
		    pthread_create(&th, NULL, exec_thread, &a))
			_exit(2);
		pthread_join(th, NULL);	/* the execve() ends this wait */
		_exit(3);
	}
	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, self->child, 0, &a.c));
	ASSERT_EQ(0, sd_send(self->ctl, &a.c, sizeof(a.c)));
	check_exec_redeem(_metadata, self, self->child);
}

/*
 * The effect of SOCKDUP_REDEEM_CLOEXEC: the target redeems one cookie with
 * it and one without, then exec's; only the second descriptor survives.
 */
TEST_F(target, cloexec_effect_across_execve)
{
	struct exec_report r = { .err = -1 };
	struct sd_cookie c[2];
	char fds[32];

	self->child = sd_fork(&self->ctl);
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		int dev = sd_open(), a, b;

		if (dev < 0 || sd_recv(self->ctl, c, sizeof(c), SD_WAIT_MS))
			_exit(2);
		a = sd_redeem(dev, &c[0], SOCKDUP_REDEEM_CLOEXEC);
		b = sd_redeem(dev, &c[1], 0);
		if (a < 0 || b < 0)
			_exit(4);
		snprintf(fds, sizeof(fds), "%d,%d", a, b);
		exec_helper("fdcheck", self->ctl, &c[0], false, fds);
		_exit(3);
	}
	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, self->child, 0, &c[0]));
	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, self->child, 0, &c[1]));
	ASSERT_EQ(0, sd_send(self->ctl, c, sizeof(c)));
	ASSERT_EQ(0, sd_recv(self->ctl, &r, sizeof(r), SD_WAIT_MS))
		TH_LOG("no report: %s (exit %d)", sd_errmsg(),
		       sd_wait(self->child));
	EXPECT_EQ(0, r.open[0]) TH_LOG("CLOEXEC descriptor survived execve");
	EXPECT_EQ(1, r.open[1]) TH_LOG("plain descriptor lost in execve");
	EXPECT_EQ(0, sd_wait(self->child));
	self->child = -1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], EXEC_HELPER))
		return helper_main(argc, argv);
	return test_harness_run(argc, argv);
}
