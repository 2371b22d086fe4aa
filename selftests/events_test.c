// SPDX-License-Identifier: GPL-2.0-only
/*
 * events_test - the /dev/sockdup file a share was made through learns how
 * the share ended
 *
 * Every kind (redeemed, expired, revoked or declined, reaped), the record's
 * fields (id, pid in the reader's pid namespace, time), the order of the
 * records, the overflow record, read() errors, poll/select/epoll level and
 * edge triggered, forks sharing the file, no event reaching another file or
 * another user, a file opened write-only, which has no queue, and closing
 * the file, which cancels no share, racing with redeem and expiry; a
 * signal during a blocking read(), with and without SA_RESTART.  Unload
 * with pending shares whose file is closed is in lifetime_unload_test.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>

/* The harness first: sd_time.h then scales its per-test timeouts. */
#include "kselftest_harness.h"

#include "sockdup_util.h"

#define LONG_TTL_MS	60000
#define EVQ_LEN		128	/* records a queue holds (events.c) */

FIXTURE(events) {
	struct agent target;
	int dev;
	int sock, peer;
};

FIXTURE_SETUP(events)
{
	self->target.ctl = -1;
	self->target.child = -1;
	self->sock = self->peer = -1;
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &self->sock, &self->peer));
	ASSERT_EQ(0, agent_spawn(&self->target, 0, 0));
}

FIXTURE_TEARDOWN(events)
{
	agent_kill(&self->target);
	if (self->dev >= 0)
		close(self->dev);
	close(self->sock);
	close(self->peer);
}

/* SHARE of the fixture's socket through @dev for @target. */
static int share(int dev, int sock, pid_t target, __u32 ttl_ms,
		 struct sockdup_share *s)
{
	return sd_share(dev, sock, target, ttl_ms, s);
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

TEST_F(events, redeemed_names_the_share_and_the_redeemer)
{
	struct sockdup_share s;
	struct sockdup_event ev;
	__u64 t0, t1;

	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &s));
	EXPECT_EQ(0, ev_read(self->dev, &ev, 1)) TH_LOG("event before redeem");
	t0 = now_ns();
	ASSERT_LE(0, agent_redeem(&self->target, s.cookie, 0, NULL));
	t1 = now_ns();
	ASSERT_EQ(1, ev_read(self->dev, &ev, 1))
		TH_LOG("no event once REDEEM returned");
	EXPECT_EQ(sizeof(ev), ev.size);
	EXPECT_EQ(SOCKDUP_EVENT_REDEEMED, ev.type);
	EXPECT_EQ(s.id, ev.id);
	EXPECT_EQ(self->target.pid, ev.pid);
	EXPECT_EQ(0, ev.flags);
	EXPECT_EQ(0, ev.lost);
	EXPECT_LE(t0, ev.time_ns);
	EXPECT_GE(t1, ev.time_ns);
	/* One event per share. */
	EXPECT_EQ(0, ev_read(self->dev, &ev, 1));
}

TEST_F(events, revoked_by_the_sharer_declined_by_the_target)
{
	struct sockdup_share a, b;
	struct sockdup_event ev[2];

	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &a));
	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &b));
	ASSERT_EQ(0, sd_revoke(self->dev, a.cookie));
	ASSERT_EQ(0, agent_revoke(&self->target, b.cookie));
	ASSERT_EQ(2, ev_read(self->dev, ev, 2));
	EXPECT_EQ(SOCKDUP_EVENT_REVOKED, ev[0].type);
	EXPECT_EQ(a.id, ev[0].id);
	EXPECT_EQ(getpid(), ev[0].pid);
	EXPECT_EQ(0, ev[0].flags);
	EXPECT_EQ(SOCKDUP_EVENT_REVOKED, ev[1].type);
	EXPECT_EQ(b.id, ev[1].id);
	EXPECT_EQ(self->target.pid, ev[1].pid);
	EXPECT_EQ(SOCKDUP_EVENT_DECLINED, ev[1].flags);
}

TEST_F(events, expired)
{
	struct sockdup_share s;
	struct sockdup_event ev;
	__u64 t0 = now_ns();

	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid, 100, &s));
	/* Nobody looks the share up: the sweeper releases it. */
	ASSERT_EQ(1, ev_wait(self->dev, &ev));
	EXPECT_EQ(SOCKDUP_EVENT_EXPIRED, ev.type);
	EXPECT_EQ(s.id, ev.id);
	EXPECT_EQ(0, ev.pid);
	EXPECT_LE(t0 + 100 * 1000000ULL, ev.time_ns);
	EXPECT_EQ(-1, agent_redeem(&self->target, s.cookie, 0, NULL));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(events, reaped_when_the_target_exits)
{
	struct sockdup_share s;
	struct sockdup_event ev;

	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &s));
	ASSERT_EQ(0, agent_exit(&self->target, 0));
	ASSERT_EQ(1, ev_wait(self->dev, &ev));
	EXPECT_EQ(SOCKDUP_EVENT_REAPED, ev.type);
	EXPECT_EQ(s.id, ev.id);
	EXPECT_EQ(0, ev.pid);
}

TEST_F(events, records_come_in_the_order_of_the_releases)
{
	enum { N = 6 };
	static const int order[N] = { 3, 0, 5, 1, 4, 2 };
	struct sockdup_share s[N];
	struct sockdup_event ev[N];
	int i;

	for (i = 0; i < N; i++)
		ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
				   LONG_TTL_MS, &s[i]));
	for (i = 0; i < N; i++) {
		int ret = i % 2 ? sd_revoke(self->dev, s[order[i]].cookie) :
			  agent_redeem(&self->target, s[order[i]].cookie, 0,
				       NULL);

		ASSERT_LE(0, ret);
	}
	ASSERT_EQ(N, ev_read(self->dev, ev, N));
	for (i = 0; i < N; i++) {
		EXPECT_EQ(s[order[i]].id, ev[i].id);
		EXPECT_EQ(i % 2 ? SOCKDUP_EVENT_REVOKED :
			  SOCKDUP_EVENT_REDEEMED, ev[i].type);
		if (i)
			EXPECT_LE(ev[i - 1].time_ns, ev[i].time_ns);
	}
}

TEST_F(events, overflow_record_counts_the_lost_events)
{
	enum { N = EVQ_LEN + 40 };
	static struct sockdup_share s[N + 1];
	static struct sockdup_event ev[N];
	int i, n;

	for (i = 0; i < N + 1; i++)
		ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
				   LONG_TTL_MS, &s[i]));
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, sd_revoke(self->dev, s[i].cookie));

	n = ev_read(self->dev, ev, N);
	ASSERT_EQ(EVQ_LEN, n);
	for (i = 0; i < EVQ_LEN - 1; i++) {
		EXPECT_EQ(SOCKDUP_EVENT_REVOKED, ev[i].type);
		EXPECT_EQ(s[i].id, ev[i].id);
	}
	EXPECT_EQ(SOCKDUP_EVENT_OVERFLOW, ev[n - 1].type);
	EXPECT_EQ(0, ev[n - 1].id);
	EXPECT_EQ(N - (EVQ_LEN - 1), ev[n - 1].lost);

	/* Room again: the next event follows the overflow record. */
	ASSERT_EQ(0, sd_revoke(self->dev, s[N].cookie));
	ASSERT_EQ(1, ev_read(self->dev, ev, N));
	EXPECT_EQ(SOCKDUP_EVENT_REVOKED, ev[0].type);
	EXPECT_EQ(s[N].id, ev[0].id);
}

TEST_F(events, read_sizes_and_nonblocking)
{
	struct sockdup_share s[2];
	struct sockdup_event ev[2];
	char big[sizeof(ev) + sizeof(ev[0]) / 2];
	int fl;

	fl = fcntl(self->dev, F_GETFL);
	ASSERT_EQ(0, fcntl(self->dev, F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(-1, read(self->dev, ev, sizeof(ev)));
	EXPECT_EQ(EAGAIN, errno);

	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &s[0]));
	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &s[1]));
	ASSERT_EQ(0, sd_revoke(self->dev, s[0].cookie));
	ASSERT_EQ(0, sd_revoke(self->dev, s[1].cookie));
	/* Less than a record: EINVAL, nothing consumed. */
	EXPECT_EQ(-1, read(self->dev, ev, sizeof(ev[0]) - 1));
	EXPECT_EQ(EINVAL, errno);
	/* Only whole records: one and a half fit, one comes. */
	EXPECT_EQ(sizeof(ev[0]), read(self->dev, big, sizeof(ev[0]) * 3 / 2));
	memcpy(ev, big, sizeof(ev[0]));
	EXPECT_EQ(s[0].id, ev[0].id);
	EXPECT_EQ(sizeof(ev[0]), read(self->dev, big, sizeof(big)));
	memcpy(ev, big, sizeof(ev[0]));
	EXPECT_EQ(s[1].id, ev[0].id);
	EXPECT_EQ(-1, read(self->dev, ev, sizeof(ev)));
	EXPECT_EQ(EAGAIN, errno);
	/* Not writable. */
	EXPECT_EQ(-1, write(self->dev, ev, sizeof(ev[0])));
	EXPECT_EQ(EINVAL, errno);
}

struct decline_arg {
	struct agent *target;
	__u8 cookie[SOCKDUP_COOKIE_SIZE];
	int dev;
};

/* Once the test thread sleeps in read(), the target declines. */
static void *decline_later(void *p)
{
	struct decline_arg *a = p;
	char path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat",
		 (int)getpid());
	/* The main thread's state: 'S' once it waits in read(). */
	while (state != 'S') {
		f = fopen(path, "r");
		if (!f || fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
			state = 'S';
		if (f)
			fclose(f);
		sched_yield();
	}
	agent_revoke(a->target, a->cookie);
	return NULL;
}

TEST_F(events, blocking_read_waits_for_the_event)
{
	struct decline_arg arg = { .target = &self->target, .dev = self->dev };
	struct sockdup_share s;
	struct sockdup_event ev;
	pthread_t th;

	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &s));
	memcpy(arg.cookie, s.cookie, sizeof(arg.cookie));
	ASSERT_EQ(0, pthread_create(&th, NULL, decline_later, &arg));
	EXPECT_EQ(sizeof(ev), read(self->dev, &ev, sizeof(ev)));
	pthread_join(th, NULL);
	EXPECT_EQ(SOCKDUP_EVENT_REVOKED, ev.type);
	EXPECT_EQ(s.id, ev.id);
}

/*
 * A file opened write-only (as libsockdup opens the device for its plain
 * calls) has no event queue: its shares work as any other and end every
 * way, counted in STATS, without an event, none reaching another file
 * either; poll() never reports it readable, and read() is EBADF.
 */
TEST_F(events, write_only_file_has_no_queue)
{
	struct agent gone = { .ctl = -1, .child = -1 };
	struct sockdup_share red, rev, exp, reap;
	struct sockdup_stats before, after;
	struct sockdup_event ev;
	long long pending;
	int wo;

	wo = open(SOCKDUP_DEVICE, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, wo) TH_LOG("open %s write-only: %s", SOCKDUP_DEVICE,
				strerror(errno));
	ASSERT_EQ(0, agent_spawn(&gone, 0, 0));
	ASSERT_EQ(0, sd_stats(self->dev, &before));
	pending = sd_pending(self->dev);
	ASSERT_EQ(0, share(wo, self->sock, self->target.pid, LONG_TTL_MS,
			   &red));
	ASSERT_EQ(0, share(wo, self->sock, self->target.pid, LONG_TTL_MS,
			   &rev));
	ASSERT_EQ(0, share(wo, self->sock, self->target.pid, 100, &exp));
	ASSERT_EQ(0, share(wo, self->sock, gone.pid, LONG_TTL_MS, &reap));
	EXPECT_LE(0, agent_redeem(&self->target, red.cookie, 0, NULL));
	EXPECT_EQ(0, sd_revoke(wo, rev.cookie));
	agent_kill(&gone);
	/* The sweeper releases the expired share and the reaped one. */
	EXPECT_EQ(pending, sd_wait_pending(self->dev, pending, SD_WAIT_MS));
	ASSERT_EQ(0, sd_stats(self->dev, &after));
	EXPECT_LE(before.redeemed + 1, after.redeemed);
	EXPECT_LE(before.revoked + 1, after.revoked);
	EXPECT_LE(before.expired + 1, after.expired);
	EXPECT_LE(before.reaped + 1, after.reaped);
	EXPECT_EQ(0, sd_poll1(wo, POLLIN, 0));
	EXPECT_EQ(-1, read(wo, &ev, sizeof(ev)));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(0, ev_read(self->dev, &ev, 1)) TH_LOG("an event reached another file");
	close(wo);
}

/*
 * read() of /dev/sockdup is the one call of the module that waits for
 * long and can be interrupted (the ioctls only wait for a REDEEM in
 * progress, and only a fatal signal ends that wait).  The kernel's
 * -ERESTARTSYS never reaches user space: a handler installed with
 * SA_RESTART runs and the read goes on waiting; without SA_RESTART the
 * read fails with EINTR, as signal(7) says for slow devices.
 */
struct reader {
	int dev;
	ssize_t ret;
	int err;
	struct sockdup_event ev;
	struct sd_thread t;
};

static void *blocking_reader(void *p)
{
	struct reader *r = p;
	ssize_t ret;

	ret = read(r->dev, &r->ev, sizeof(r->ev));
	r->err = errno;
	__atomic_store_n(&r->ret, ret, __ATOMIC_RELEASE);
	return NULL;
}

/* A thread of @r blocked in read() of @dev; SIGUSR1 counted, @sa_flags. */
static void start_reader(struct __test_metadata *_metadata, struct reader *r,
			 int dev, int sa_flags)
{
	ASSERT_EQ(0, sd_catch_signal(SIGUSR1, sa_flags));
	memset(r, 0, sizeof(*r));
	r->dev = dev;
	r->ret = -2;
	ASSERT_EQ(0, sd_thread_start_in(&r->t, blocking_reader, r, SYS_read));
}

TEST_F(events, signal_without_sa_restart_read_fails_eintr)
{
	struct reader r;

	start_reader(_metadata, &r, self->dev, 0);
	ASSERT_EQ(0, pthread_kill(r.t.th, SIGUSR1));
	ASSERT_EQ(0, pthread_join(r.t.th, NULL));
	EXPECT_EQ(1, sd_signals());
	EXPECT_EQ(-1, r.ret);
	EXPECT_EQ(EINTR, r.err);
	signal(SIGUSR1, SIG_DFL);
}

TEST_F(events, signal_with_sa_restart_read_goes_on_waiting)
{
	struct sockdup_share s;
	struct reader r;

	start_reader(_metadata, &r, self->dev, SA_RESTART);
	ASSERT_EQ(0, pthread_kill(r.t.th, SIGUSR1));
	ASSERT_EQ(0, sd_wait_signals(1));
	EXPECT_EQ(1, sd_signals());
	/* back in read(), not returned from it */
	ASSERT_EQ(0, sd_wait_in_syscall(r.t.tid, SYS_read));
	EXPECT_EQ(-2, __atomic_load_n(&r.ret, __ATOMIC_ACQUIRE));
	/* an event ends the restarted read */
	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &s));
	ASSERT_EQ(0, sd_revoke(self->dev, s.cookie));
	ASSERT_EQ(0, pthread_join(r.t.th, NULL));
	EXPECT_EQ(sizeof(r.ev), r.ret);
	EXPECT_EQ(SOCKDUP_EVENT_REVOKED, r.ev.type);
	EXPECT_EQ(s.id, r.ev.id);
	signal(SIGUSR1, SIG_DFL);
}

TEST_F(events, poll_and_select_are_level_triggered)
{
	struct pollfd pfd = { .fd = self->dev, .events = POLLIN | POLLOUT };
	struct timeval tv = { 0, 0 };
	struct sockdup_share s;
	struct sockdup_event ev;
	fd_set rd;

	EXPECT_EQ(0, poll(&pfd, 1, 0));
	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &s));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	ASSERT_EQ(0, sd_revoke(self->dev, s.cookie));
	/* Readable (never writable) until read, however often asked. */
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN, pfd.revents);
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	FD_ZERO(&rd);
	FD_SET(self->dev, &rd);
	EXPECT_EQ(1, select(self->dev + 1, &rd, NULL, NULL, &tv));
	EXPECT_TRUE(FD_ISSET(self->dev, &rd));
	ASSERT_EQ(1, ev_read(self->dev, &ev, 1));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	FD_SET(self->dev, &rd);
	EXPECT_EQ(0, select(self->dev + 1, &rd, NULL, NULL, &tv));
}

TEST_F(events, epoll_level_and_edge_triggered)
{
	struct epoll_event e = { .events = EPOLLIN | EPOLLET };
	struct epoll_event out;
	struct sockdup_share s[3];
	struct sockdup_event ev[3];
	int et, lt, i;

	et = epoll_create1(EPOLL_CLOEXEC);
	lt = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, et);
	ASSERT_LE(0, lt);
	ASSERT_EQ(0, epoll_ctl(et, EPOLL_CTL_ADD, self->dev, &e));
	e.events = EPOLLIN;
	ASSERT_EQ(0, epoll_ctl(lt, EPOLL_CTL_ADD, self->dev, &e));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
				   LONG_TTL_MS, &s[i]));
	EXPECT_EQ(0, epoll_wait(et, &out, 1, 0));
	EXPECT_EQ(0, epoll_wait(lt, &out, 1, 0));

	ASSERT_EQ(0, sd_revoke(self->dev, s[0].cookie));
	EXPECT_EQ(1, epoll_wait(et, &out, 1, 0));
	/* Edge: reported once, although the record is still queued. */
	EXPECT_EQ(0, epoll_wait(et, &out, 1, 0));
	EXPECT_EQ(1, epoll_wait(lt, &out, 1, 0));
	EXPECT_EQ(1, epoll_wait(lt, &out, 1, 0));
	/* A new event is a new edge, without the first one being read. */
	ASSERT_EQ(0, sd_revoke(self->dev, s[1].cookie));
	EXPECT_EQ(1, epoll_wait(et, &out, 1, 0));
	EXPECT_EQ(EPOLLIN, out.events);
	EXPECT_EQ(0, epoll_wait(et, &out, 1, 0));

	ASSERT_EQ(2, ev_read(self->dev, ev, 3));
	EXPECT_EQ(0, epoll_wait(lt, &out, 1, 0));
	EXPECT_EQ(0, epoll_wait(et, &out, 1, 0));
	/* Drained, then one more: an edge again. */
	ASSERT_EQ(0, sd_revoke(self->dev, s[2].cookie));
	EXPECT_EQ(1, epoll_wait(et, &out, 1, 0));
	ASSERT_EQ(1, ev_read(self->dev, ev, 3));
	EXPECT_EQ(s[2].id, ev[0].id);
	close(et);
	close(lt);
}

TEST_F(events, forks_share_the_queue_of_the_file)
{
	struct sockdup_share mine, theirs;
	struct sockdup_event ev[2];
	int ctl[2], st;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				ctl));
	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &mine));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sockdup_event cev;

		/* The child shares through the inherited descriptor... */
		if (sd_share(self->dev, self->sock, self->target.pid,
			     LONG_TTL_MS, &theirs) ||
		    send(ctl[1], &theirs, sizeof(theirs), 0) < 0)
			_exit(1);
		/* ...and sees the parent's share end. */
		if (ev_wait(self->dev, &cev) != 1 || cev.id != mine.id)
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(sizeof(theirs), recv(ctl[0], &theirs, sizeof(theirs), 0));
	ASSERT_EQ(0, sd_revoke(self->dev, mine.cookie));
	ASSERT_EQ(0, waitpid(pid, &st, 0) == pid ? WEXITSTATUS(st) : -1);
	/* The child's share, ended after the child exited, is reported here. */
	ASSERT_LE(0, agent_redeem(&self->target, theirs.cookie, 0, NULL));
	ASSERT_EQ(1, ev_read(self->dev, ev, 2));
	EXPECT_EQ(theirs.id, ev[0].id);
	EXPECT_EQ(SOCKDUP_EVENT_REDEEMED, ev[0].type);
	close(ctl[0]);
	close(ctl[1]);
}

TEST_F(events, no_event_reaches_another_file_or_another_user)
{
	struct sockdup_share s, o;
	struct sockdup_event ev[2];
	struct agent other = { .ctl = -1, .child = -1 };
	int dev2 = sd_open();

	ASSERT_LE(0, dev2);
	ASSERT_EQ(0, agent_spawn(&other, 65534, 0));
	/* Ours, through self->dev, and the other user's, through its own. */
	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &s));
	ASSERT_EQ(0, agent_share(&other, self->sock, other.pid, LONG_TTL_MS,
				 &o));
	ASSERT_EQ(0, agent_revoke(&other, o.cookie));
	ASSERT_LE(0, agent_redeem(&self->target, s.cookie, 0, NULL));

	/* Another file of the same process: nothing. */
	EXPECT_EQ(0, ev_read(dev2, ev, 2));
	/* The other user: its own share only. */
	ASSERT_EQ(1, agent_events(&other, -1, ev, 2));
	EXPECT_EQ(o.id, ev[0].id);
	/* Ours: ours only. */
	ASSERT_EQ(1, ev_read(self->dev, ev, 2));
	EXPECT_EQ(s.id, ev[0].id);
	agent_kill(&other);
	close(dev2);
}

TEST_F(events, closing_the_file_cancels_no_share)
{
	struct sockdup_share s, t;
	struct sockdup_stats before, after;
	struct sockdup_event ev;
	int dev2;

	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &s));
	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &t));
	/* One event queued, one share pending, then the file goes. */
	ASSERT_EQ(0, sd_revoke(self->dev, t.cookie));
	ASSERT_EQ(0, close(self->dev));
	dev2 = sd_open();
	self->dev = dev2;
	ASSERT_LE(0, dev2);
	ASSERT_EQ(0, sd_stats(dev2, &before));
	ASSERT_LE(0, agent_redeem(&self->target, s.cookie, 0, NULL));
	ASSERT_EQ(0, sd_stats(dev2, &after));
	EXPECT_EQ(before.redeemed + 1, after.redeemed);
	/* Neither the queued event nor the new one reaches a new file. */
	EXPECT_EQ(0, ev_read(dev2, &ev, 1));
}

TEST_F(events, pids_as_the_reader_sees_them)
{
	struct agent ns = { .ctl = -1, .child = -1 };
	struct sockdup_share s, t;
	struct sockdup_event ev[2];

	/* A redeemer in a pid namespace of its own: named as we see it. */
	ASSERT_EQ(0, agent_spawn(&ns, 0, AGENT_NEWPIDNS));
	ASSERT_NE(1, ns.pid);
	ASSERT_EQ(0, share(self->dev, self->sock, ns.pid, LONG_TTL_MS, &s));
	ASSERT_LE(0, agent_redeem(&ns, s.cookie, 0, NULL));
	ASSERT_EQ(1, ev_read(self->dev, ev, 1));
	EXPECT_EQ(ns.pid, ev[0].pid);

	/* A reader in that namespace cannot see our target: pid 0. */
	ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
			   LONG_TTL_MS, &t));
	ASSERT_LE(0, agent_redeem(&self->target, t.cookie, 0, NULL));
	ASSERT_EQ(1, agent_events(&ns, self->dev, ev, 2));
	EXPECT_EQ(t.id, ev[0].id);
	EXPECT_EQ(SOCKDUP_EVENT_REDEEMED, ev[0].type);
	EXPECT_EQ(0, ev[0].pid);
	agent_kill(&ns);
}

/* ---- closing the file while its shares end ---- */

#define ROUNDS	100

TEST_F(events, close_races_redeem)
{
	struct sockdup_stats before, after;
	struct agent_req req = { .op = AG_REDEEM };
	struct agent_rep *rep = calloc(1, sizeof(*rep));
	struct sockdup_share s;
	int i, dev, pfd, ok = 0;

	ASSERT_NE(NULL, rep);
	ASSERT_EQ(0, sd_stats(self->dev, &before));
	for (i = 0; i < ROUNDS; i++) {
		dev = sd_open();
		ASSERT_LE(0, dev);
		ASSERT_EQ(0, share(dev, self->sock, self->target.pid,
				   LONG_TTL_MS, &s));
		memcpy(req.cookie, s.cookie, sizeof(req.cookie));
		/* The target redeems while the file is closed under it. */
		ASSERT_EQ(0, sd_send_with_fd(self->target.ctl, &req, sizeof(req), -1));
		if (i % 2)
			sched_yield();
		close(dev);
		ASSERT_EQ(sizeof(*rep), sd_recv_with_fd(self->target.ctl, rep,
						sizeof(*rep), &pfd));
		ok += rep->ret >= 0;
		if (rep->ret >= 0)
			agent_close(&self->target, rep->ret);
	}
	ASSERT_EQ(0, sd_stats(self->dev, &after));
	/* Closing cancelled nothing: every REDEEM got its socket. */
	EXPECT_EQ(ROUNDS, ok);
	EXPECT_EQ(before.redeemed + ROUNDS, after.redeemed);
	free(rep);
}

TEST_F(events, close_races_expiry)
{
	struct sockdup_stats before, after;
	struct sockdup_share s;
	int i, j, dev;

	ASSERT_EQ(0, sd_stats(self->dev, &before));
	for (i = 0; i < ROUNDS / 10; i++) {
		dev = sd_open();
		ASSERT_LE(0, dev);
		for (j = 0; j < 10; j++)
			ASSERT_EQ(0, share(dev, self->sock, self->target.pid,
					   1 + (i + j) % 4, &s));
		/* Expiring around now: lookups and the sweeper release. */
		if (i % 2)
			sd_sleep_ms(2);
		sd_query(dev, s.cookie, NULL);
		close(dev);
	}
	/*
	 * Two more shares that only the sweeper releases, one after the
	 * other's event: the second is released by a later run than the
	 * first, so the run that released the first (and everything that
	 * had expired before it) has finished.
	 */
	for (i = 0; i < 2; i++) {
		struct sockdup_event ev;

		ASSERT_EQ(0, share(self->dev, self->sock, self->target.pid,
				   1, &s));
		ASSERT_EQ(1, ev_wait(self->dev, &ev));
		EXPECT_EQ(s.id, ev.id);
		EXPECT_EQ(SOCKDUP_EVENT_EXPIRED, ev.type);
	}
	ASSERT_EQ(0, sd_stats(self->dev, &after));
	/* Every one expired (other programs' leftovers may add more). */
	EXPECT_LE(before.expired + ROUNDS + 2, after.expired);
	EXPECT_EQ(before.redeemed, after.redeemed);
}

TEST_HARNESS_MAIN
