// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reaping: the shares of a target process that exits without redeeming are
 * released within the documented bound (2 x sweep_ms) with nobody doing
 * anything: STATS.reaped counts them, pending drops, the peer of the socket
 * (whose sharer closed its descriptor) sees EOF, and the cookie is gone.
 * A live target is never reaped, not even when its thread-group leader has
 * exited while other threads run.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "kselftest_harness.h"

#include "sockdup_util.h"

/* sweep_ms for the fast fixture; the documented bound is twice it */
#define FAST_SWEEP_MS	200
/* ttl of the shares: long enough never to expire during a test */
#define LONG_TTL_MS	sd_ms(30000)
/*
 * The reap bound holds for the kernel, not across a stall of the whole VM:
 * the tests allow the stall they observed on top of it, plus this much
 * (times the run's time factor) for a guest that is slow without stalling
 * and for a stall of the other vCPU, which runs the sweeper and which the
 * polling thread cannot see.
 */
#define STALL_MS	250

FIXTURE(reap) {
	int dev;
	struct agent target;
	long sweep_ms;
	int sock, peer;
	struct sd_base base;
};

/* sweep_ms to use: 0 keeps the module's current (default) value */
FIXTURE_VARIANT(reap) {
	long sweep_ms;
};

FIXTURE_VARIANT_ADD(reap, fast_sweep) {
	.sweep_ms = FAST_SWEEP_MS,
};

FIXTURE_VARIANT_ADD(reap, default_sweep) {
	.sweep_ms = 0,
};

FIXTURE_SETUP(reap)
{
	long cur;

	self->dev = -1;
	self->sock = self->peer = -1;
	self->target.ctl = -1;
	self->target.child = -1;
	/*
	 * sweep_ms stays from one test to the next (the program's exit puts
	 * it back), so that only a change of variant waits for a sweep
	 * already scheduled at the old period.
	 */
	ASSERT_EQ(0, params_reset_but(SD_SWEEP));
	cur = param_read("sweep_ms");
	ASSERT_LT(0, cur);
	self->sweep_ms = variant->sweep_ms ?: param_orig(SD_SWEEP);
	if (cur != self->sweep_ms) {
		ASSERT_EQ(0, sd_param_set("sweep_ms", self->sweep_ms));
		sd_sleep_ms(cur + sd_ms(50));
	}
	self->dev = sd_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, agent_spawn(&self->target, 0, 0));
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &self->sock, &self->peer));
	ASSERT_EQ(0, sd_base_take(self->dev, &self->base));
}

FIXTURE_TEARDOWN(reap)
{
	agent_kill(&self->target);
	if (self->sock >= 0)
		close(self->sock);
	if (self->peer >= 0)
		close(self->peer);
	if (self->dev >= 0)
		close(self->dev);
	EXPECT_EQ(0, params_reset_but(SD_SWEEP));
}

/*
 * Share our socket with the target and close our descriptor: from here
 * only the share pins it.
 */
static int share_and_close(FIXTURE_DATA(reap) *self, struct sockdup_share *s)
{
	int ret = sd_share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, s);

	close(self->sock);
	self->sock = -1;
	return ret;
}

/*
 * After the target is gone (t0): the peer sees EOF within 2 x sweep_ms,
 * the counters say one share was reaped, and the cookie is dead for the
 * sharer and for any other process.
 */
static void check_reaped(struct __test_metadata *_metadata,
			 FIXTURE_DATA(reap) *self,
			 const struct sockdup_share *s, int64_t t0)
{
	struct sd_want w = { .shared = 1, .reaped = 1 };
	long bound = 2 * self->sweep_ms;
	int64_t eof, stall = 0;
	struct agent other;

	ASSERT_EQ(1, peer_closed_stall(self->peer, bound + SD_WAIT_MS, &stall))
		TH_LOG("no EOF within %ld ms of the target's exit",
		       bound + SD_WAIT_MS);
	eof = sd_now_ms() - t0;
	TH_LOG("reaped %lld ms after target exit (sweep_ms %ld, bound %ld + %d, stalls %lld ms)",
	       (long long)eof, self->sweep_ms, bound, sd_ms(STALL_MS),
	       (long long)stall);
	sd_timing("reaped after the target's exit", eof,
		  bound + sd_ms(STALL_MS) + stall);
	EXPECT_GE(bound + sd_ms(STALL_MS) + stall, eof);

	EXPECT_LE(0, sd_wait_deltas(self->dev, &self->base, &w, SD_WAIT_MS));

	EXPECT_EQ(-1, sd_revoke(self->dev, s->cookie));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, agent_spawn(&other, 0, 0));
	EXPECT_EQ(-1, agent_redeem(&other, s->cookie, 0, NULL));
	EXPECT_EQ(ENOENT, errno);
	agent_kill(&other);
}

/* The target exits normally without redeeming. */
TEST_F(reap, target_exit)
{
	struct sockdup_share s;

	ASSERT_EQ(0, share_and_close(self, &s));
	ASSERT_EQ(0, agent_exit(&self->target, 0));
	check_reaped(_metadata, self, &s, sd_now_ms());
}

/* The target is killed. */
TEST_F(reap, target_killed)
{
	struct sockdup_share s;

	ASSERT_EQ(0, share_and_close(self, &s));
	agent_kill(&self->target);
	check_reaped(_metadata, self, &s, sd_now_ms());
}

/* A live target is left alone for longer than the bound. */
TEST_F(reap, live_target_kept)
{
	struct sd_want w = { .shared = 1, .pending = 1 };
	struct sockdup_share s;

	ASSERT_EQ(0, share_and_close(self, &s));
	EXPECT_EQ(0, peer_closed(self->peer, 2 * self->sweep_ms + 200));
	EXPECT_TRUE(sd_deltas_ok(self->dev, &self->base, &w, false));
	EXPECT_LE(0, agent_redeem(&self->target, s.cookie, 0, NULL));
}

/* Every share of a dead target goes, whatever the socket kind. */
TEST_F(reap, many_shares)
{
	static const enum sk_kind kinds[] = {
		SK_UNIX_STREAM, SK_UNIX_SEQPACKET, SK_TCP, SK_TCP6,
	};
	enum { N = 8 };
	struct sd_want w = { .shared = N, .reaped = N };
	struct sockdup_share s;
	int peers[N], i, sock;
	int64_t t0, eof, worst = 0, stall = 0;

	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, make_sock(kinds[i % 4], &sock, &peers[i]));
		ASSERT_EQ(0, sd_share(self->dev, sock, self->target.pid,
				      LONG_TTL_MS, &s));
		close(sock);
	}
	ASSERT_EQ(0, agent_exit(&self->target, 0));
	t0 = sd_now_ms();
	for (i = 0; i < N; i++) {
		int64_t left = t0 + 2 * self->sweep_ms + SD_WAIT_MS - sd_now_ms();

		EXPECT_EQ(1, peer_closed_stall(peers[i], left > 0 ? left : 0,
					       &stall));
		eof = sd_now_ms() - t0;
		if (eof > worst)
			worst = eof;
		close(peers[i]);
	}
	TH_LOG("%d shares reaped, the last %lld ms after the exit (VM stalled up to %lld ms)",
	       N, (long long)worst, (long long)stall);
	sd_timing("the last of 8 shares reaped after the exit", worst,
		  2 * self->sweep_ms + sd_ms(STALL_MS) + stall);
	EXPECT_GE(2 * self->sweep_ms + sd_ms(STALL_MS) + stall, worst);
	EXPECT_LE(0, sd_wait_deltas(self->dev, &self->base, &w, SD_WAIT_MS));
}

/*
 * The target has exited but its parent has not waited for it yet: it can
 * never redeem, so its shares go within the bound all the same.
 */
TEST_F(reap, zombie_target)
{
	struct agent_req req = { .op = AG_EXIT };
	struct sockdup_share s;
	char c;
	int64_t t0;

	ASSERT_EQ(0, share_and_close(self, &s));
	ASSERT_EQ(0, sd_send_with_fd(self->target.ctl, &req, sizeof(req), -1));
	/* its end of the control socket closes when it has exited */
	ASSERT_EQ(0, recv(self->target.ctl, &c, 1, 0));
	t0 = sd_now_ms();
	check_reaped(_metadata, self, &s, t0);
	EXPECT_EQ(self->target.child, waitpid(self->target.child, NULL, 0));
	self->target.child = -1;
}

/* ---- a target whose leader thread exits while another thread lives ---- */

static int leader_ctl;

static void *survivor(void *arg)
{
	__u8 cookie[SOCKDUP_COOKIE_SIZE];
	int dev, fd, res[2];

	(void)arg;
	/* wait for the cookie, redeem it, report, wait for the end */
	if (recv(leader_ctl, cookie, sizeof(cookie), 0) != sizeof(cookie))
		_exit(1);
	dev = sd_open();
	fd = sd_redeem(dev, cookie, 0);
	res[0] = fd;
	res[1] = errno;
	if (send(leader_ctl, res, sizeof(res), 0) != sizeof(res))
		_exit(2);
	recv(leader_ctl, &res, 1, 0);
	_exit(0);
}

static char proc_state(pid_t pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] ? p[2] : 0;
}

TEST_F(reap, leader_exited_threads_live)
{
	struct sd_want w = { .shared = 1, .pending = 1 };
	struct sockdup_share s;
	pid_t parent = getpid(), pid;
	int sv[2], res[2];
	int64_t end;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pthread_t t;
		char go;

		leader_ctl = child_init(parent, sv[1]);
		if (recv(leader_ctl, &go, 1, 0) != 1)
			_exit(4);
		if (pthread_create(&t, NULL, survivor, NULL))
			_exit(3);
		pthread_exit(NULL);
	}
	close(sv[1]);
	ASSERT_EQ(0, sd_share(self->dev, self->sock, pid, LONG_TTL_MS, &s));
	close(self->sock);
	self->sock = -1;

	/* now the leader exits; wait until it is a zombie */
	ASSERT_EQ(1, send(sv[0], "g", 1, 0));
	end = sd_now_ms() + SD_WAIT_MS;
	while (proc_state(pid) != 'Z' && sd_now_ms() < end)
		sd_sleep_ms(5);
	ASSERT_EQ('Z', proc_state(pid))
		TH_LOG("the leader was no zombie %d ms after its exit",
		       SD_WAIT_MS);

	sd_sleep_ms(2 * self->sweep_ms + 200);
	EXPECT_TRUE(sd_deltas_ok(self->dev, &self->base, &w, false));
	EXPECT_EQ(0, peer_closed(self->peer, 0));

	ASSERT_EQ(sizeof(s.cookie), send(sv[0], s.cookie, sizeof(s.cookie), 0));
	ASSERT_EQ(sizeof(res), recv(sv[0], res, sizeof(res), 0));
	EXPECT_LE(0, res[0]);
	if (res[0] < 0)
		TH_LOG("the surviving thread's redeem failed: errno %d", res[1]);
	EXPECT_EQ(0, peer_closed(self->peer, 0));
	close(sv[0]);
	EXPECT_EQ(pid, waitpid(pid, NULL, 0));
	EXPECT_EQ(1, peer_closed(self->peer, SD_WAIT_MS));
}

TEST_HARNESS_MAIN
