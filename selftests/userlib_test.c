// SPDX-License-Identifier: GPL-2.0-only
/*
 * libsockdup in the VM: every function against the real module, the
 * close-on-exec default, the errno values passed through as negative
 * returns, and the cached /dev/sockdup descriptor under threads, fork and
 * a program that closes it behind the library's back.
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/time.h>

/* the harness passes every TEST() a variant it does not use */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic ignored "-Wclobbered"
#include "userlib_util.h"

FIXTURE(lib) {
	struct sd_sock s;
};

FIXTURE_VARIANT(lib) {
	enum sd_kind kind;
};

SD_KIND_VARIANTS(lib);

FIXTURE_SETUP(lib)
{
	SD_SOCK_OPEN_OR_SKIP(&self->s, variant->kind);
}

FIXTURE_TEARDOWN(lib)
{
	sd_sock_close(&self->s);
}

/* share with ourselves, redeem: the same open file, close-on-exec, works */
TEST_F(lib, share_redeem_same_file_cloexec)
{
	struct sockdup_cookie c;
	int fd;

	ASSERT_EQ(0, sockdup_share(self->s.fd, getpid(), 0, &c));
	fd = sockdup_redeem(&c, 0);
	ASSERT_LE(0, fd) TH_LOG("redeem: %s", strerror(-fd));
	EXPECT_EQ(0, sd_kcmp_file(getpid(), self->s.fd, getpid(), fd));
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(self->s.fd);
	self->s.fd = fd;
	EXPECT_EQ(0, sd_sock_check_io(&self->s, fd)) TH_LOG("%s", sd_errmsg());
	EXPECT_EQ(-ENOENT, sockdup_redeem(&c, 0));
}

TEST_F(lib, keep_on_exec_clears_cloexec)
{
	struct sockdup_cookie c;
	int fd;

	ASSERT_EQ(0, sockdup_share(self->s.fd, getpid(), 0, &c));
	fd = sockdup_redeem(&c, SOCKDUP_KEEP_ON_EXEC);
	ASSERT_LE(0, fd) TH_LOG("redeem: %s", strerror(-fd));
	EXPECT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, sd_kcmp_file(getpid(), self->s.fd, getpid(), fd));
	close(fd);
}

/* the text form, across processes: the child redeems what we shared */
TEST_F(lib, token_to_child_over_pipe)
{
	char tok[SOCKDUP_TOKEN_SIZE];
	int p[2], ctl, ret;
	pid_t pid;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	pid = sd_fork(&ctl);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char buf[SOCKDUP_TOKEN_SIZE] = "";
		int fd;

		close(p[1]);
		if (read(p[0], buf, SOCKDUP_TOKEN_LEN) != SOCKDUP_TOKEN_LEN)
			_exit(10);
		fd = sockdup_redeem_token(buf, 0);
		if (fd < 0)
			_exit(11);
		/* hand it back so the parent can prove it is the same file */
		if (sd_send_int(ctl, fd) || sd_recv_int(ctl, &ret, SD_WAIT_MS))
			_exit(12);
		_exit(0);
	}
	close(p[0]);
	ASSERT_EQ(0, sockdup_share_token(self->s.fd, pid, 0, tok));
	ASSERT_EQ(SOCKDUP_TOKEN_LEN, (int)strlen(tok));
	ASSERT_EQ(SOCKDUP_TOKEN_LEN, write(p[1], tok, SOCKDUP_TOKEN_LEN));
	ASSERT_EQ(0, sd_recv_int(ctl, &ret, SD_WAIT_MS));
	EXPECT_EQ(0, sd_kcmp_file(getpid(), self->s.fd, pid, ret));
	sd_send_int(ctl, 0);
	EXPECT_EQ(0, sd_wait(pid));
	close(p[1]);
	close(ctl);
}

TEST_F(lib, query_describes_the_socket)
{
	struct sockdup_share_info info;
	struct sockdup_cookie c;
	int type = 0, proto = 0;
	socklen_t len = sizeof(int);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	ASSERT_EQ(0, sockdup_share(self->s.fd, getpid(), 60000, &c));
	ASSERT_EQ(0, sockdup_query(&c, &info));
	getsockopt(self->s.fd, SOL_SOCKET, SO_TYPE, &type, &len);
	len = sizeof(int);
	getsockopt(self->s.fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
	getsockname(self->s.fd, (struct sockaddr *)&ss, &sl);
	EXPECT_EQ(ss.ss_family, info.family);
	EXPECT_EQ(type, (int)info.type);
	EXPECT_EQ(proto, (int)info.protocol);
	EXPECT_EQ(sd_inode(self->s.fd), info.sock_ino);
	EXPECT_EQ(getpid(), info.sharer_pid);
	EXPECT_EQ(getpid(), info.target_pid);
	EXPECT_EQ(geteuid(), info.sharer_uid);
	EXPECT_EQ(1U, info.nr_fds);
	EXPECT_GE(60000ULL, info.ttl_left_ms);
	EXPECT_LT(50000ULL, info.ttl_left_ms);
	EXPECT_NE(0ULL, info.id);
	/* not consumed */
	EXPECT_EQ(0, sockdup_revoke(&c));
	EXPECT_EQ(-ENOENT, sockdup_query(&c, &info));
}

/*
 * A batch through the library: one cookie, every socket in order, the
 * count by query, -EMSGSIZE with too little room (the cookie stays valid),
 * and the arguments the kernel would refuse refused first.
 */
TEST(batch_share_and_redeem)
{
	int a[8], b[8], got[8], i, sv[2];
	struct sockdup_share_info info;
	struct sockdup_cookie c;

	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
		a[i] = sv[0];
		b[i] = sv[1];
	}
	EXPECT_EQ(-EINVAL, sockdup_share_batch(a, 0, getpid(), 0, &c));
	EXPECT_EQ(-EINVAL, sockdup_share_batch(NULL, 8, getpid(), 0, &c));
	EXPECT_EQ(-EINVAL, sockdup_share_batch(a, SOCKDUP_BATCH_MAX + 1,
					       getpid(), 0, &c));
	EXPECT_EQ(-ESRCH, sockdup_share_batch(a, 8, 0, 0, &c));
	ASSERT_EQ(0, sockdup_share_batch(a, 8, getpid(), 0, &c));
	ASSERT_EQ(0, sockdup_query(&c, &info));
	EXPECT_EQ(8U, info.nr_fds);
	EXPECT_EQ(-EMSGSIZE, sockdup_redeem(&c, 0));
	EXPECT_EQ(-EMSGSIZE, sockdup_redeem_batch(&c, 0, got, 7));
	EXPECT_EQ(-EINVAL, sockdup_redeem_batch(&c, 0, NULL, 8));
	EXPECT_EQ(-EINVAL, sockdup_redeem_batch(&c, 0, got, 0));
	EXPECT_EQ(-EINVAL, sockdup_redeem_batch(&c, 0x80, got, 8));
	ASSERT_EQ(8, sockdup_redeem_batch(&c, 0, got, 8));
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(0, sd_kcmp_file(getpid(), a[i], getpid(), got[i]));
		EXPECT_EQ(FD_CLOEXEC, fcntl(got[i], F_GETFD) & FD_CLOEXEC);
		close(got[i]);
	}
	EXPECT_EQ(-ENOENT, sockdup_redeem_batch(&c, 0, got, 8));
	/* SOCKDUP_KEEP_ON_EXEC applies to each; a single share redeems too */
	ASSERT_EQ(0, sockdup_share(a[3], getpid(), 0, &c));
	ASSERT_EQ(1, sockdup_redeem_batch(&c, SOCKDUP_KEEP_ON_EXEC, got, 8));
	EXPECT_EQ(0, sd_kcmp_file(getpid(), a[3], getpid(), got[0]));
	EXPECT_EQ(0, fcntl(got[0], F_GETFD) & FD_CLOEXEC);
	close(got[0]);
	for (i = 0; i < 8; i++) {
		close(a[i]);
		close(b[i]);
	}
}

TEST(revoke_then_redeem_is_enoent)
{
	struct sockdup_cookie c;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, sockdup_share(sv[0], getpid(), 0, &c));
	EXPECT_EQ(0, sockdup_revoke(&c));
	EXPECT_EQ(-ENOENT, sockdup_revoke(&c));
	EXPECT_EQ(-ENOENT, sockdup_redeem(&c, 0));
	close(sv[0]);
	close(sv[1]);
}

/* the events wrappers: share through an events descriptor, read its event */
TEST(events_descriptor_reports_its_shares)
{
	struct sockdup_share_info info;
	struct sockdup_event ev[2];
	struct sockdup_cookie c, d;
	unsigned long long id, id2;
	int sv[2], ev_nb, ev_bl, pidfd, p[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	EXPECT_EQ(-EINVAL, sockdup_events_open(2));
	ev_nb = sockdup_events_open(SOCKDUP_EVENTS_NONBLOCK);
	ev_bl = sockdup_events_open(0);
	ASSERT_LE(0, ev_nb);
	ASSERT_LE(0, ev_bl);
	EXPECT_TRUE(fcntl(ev_nb, F_GETFL) & O_NONBLOCK);
	EXPECT_FALSE(fcntl(ev_bl, F_GETFL) & O_NONBLOCK);
	EXPECT_TRUE(fcntl(ev_bl, F_GETFD) & FD_CLOEXEC);

	EXPECT_EQ(-EAGAIN, sockdup_events_read(ev_nb, ev, 2));
	EXPECT_EQ(0, sockdup_events_wait(ev_bl, 0, ev));
	EXPECT_EQ(-EINVAL, sockdup_events_read(ev_nb, NULL, 2));
	EXPECT_EQ(-EINVAL, sockdup_events_read(ev_nb, ev, 0));
	EXPECT_EQ(-EBADF, sockdup_share_on(-1, sv[0], getpid(), 0, &c, &id));
	/* a descriptor that is not /dev/sockdup */
	EXPECT_EQ(-ENOTTY, sockdup_share_on(p[0], sv[0], getpid(), 0, &c,
					    &id));
	/* nothing is read from it either: the pipe keeps its byte */
	ASSERT_EQ(1, write(p[1], "x", 1));
	EXPECT_EQ(-ENOTTY, sockdup_events_read(p[0], ev, 1));
	EXPECT_EQ(-ENOTTY, sockdup_events_wait(p[0], 0, ev));
	EXPECT_EQ(1, read(p[0], ev, sizeof(ev)));

	ASSERT_EQ(0, sockdup_share_on(ev_nb, sv[0], getpid(), 0, &c, &id));
	ASSERT_EQ(0, sockdup_query(&c, &info));
	EXPECT_EQ(id, info.id);
	pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	ASSERT_LE(0, pidfd);
	ASSERT_EQ(0, sockdup_share_pidfd_on(ev_bl, sv[0], pidfd, 0, &d, &id2));
	EXPECT_NE(id, id2);

	ASSERT_EQ(0, sockdup_revoke(&c));
	ASSERT_EQ(0, sockdup_revoke(&d));
	ASSERT_EQ(1, sockdup_events_read(ev_nb, ev, 2));
	EXPECT_EQ(id, ev[0].id);
	EXPECT_EQ(SOCKDUP_EVENT_REVOKED, ev[0].type);
	/* the target (ourselves) declined it */
	EXPECT_EQ(SOCKDUP_EVENT_DECLINED, ev[0].flags);
	ASSERT_EQ(1, sockdup_events_wait(ev_bl, -1, ev));
	EXPECT_EQ(id2, ev[0].id);
	EXPECT_EQ(getpid(), ev[0].pid);
	close(pidfd);
	close(ev_nb);
	close(ev_bl);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A signal handler without SA_RESTART interrupts the read(2) under a
 * blocking sockdup_events_read() (EINTR); the library reads again, so the
 * caller gets its event, never -EINTR (see the man page).
 */
struct ev_reader {
	int evfd;
	int ret;
	struct sockdup_event ev;
	struct sd_thread t;
};

static void *ev_reader_run(void *p)
{
	struct ev_reader *r = p;
	int ret;

	ret = sockdup_events_read(r->evfd, &r->ev, 1);
	__atomic_store_n(&r->ret, ret, __ATOMIC_RELEASE);
	return NULL;
}

TEST(events_read_goes_on_after_a_signal)
{
	struct ev_reader r = { .ret = -12345 };
	struct sockdup_cookie c;
	unsigned long long id;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, sd_catch_signal(SIGUSR1, 0));	/* no SA_RESTART */
	r.evfd = sockdup_events_open(0);
	ASSERT_LE(0, r.evfd);
	ASSERT_EQ(0, sd_thread_start_in(&r.t, ev_reader_run, &r, SYS_read));
	ASSERT_EQ(0, pthread_kill(r.t.th, SIGUSR1));
	ASSERT_EQ(0, sd_wait_signals(1));
	/* read(2) failed with EINTR; the library is waiting again */
	ASSERT_EQ(0, sd_wait_in_syscall(r.t.tid, SYS_read));
	EXPECT_EQ(-12345, __atomic_load_n(&r.ret, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, sockdup_share_on(r.evfd, sv[0], getpid(), 0, &c, &id));
	ASSERT_EQ(0, sockdup_revoke(&c));
	ASSERT_EQ(0, pthread_join(r.t.th, NULL));
	EXPECT_EQ(1, r.ret);
	EXPECT_EQ(id, r.ev.id);
	EXPECT_EQ(SOCKDUP_EVENT_REVOKED, r.ev.type);
	signal(SIGUSR1, SIG_DFL);
	close(r.evfd);
	close(sv[0]);
	close(sv[1]);
}

/*
 * sockdup_events_wait() keeps its deadline through signals: an interval
 * timer interrupts its poll(2) every 10 ms, about ten times within its
 * 100 ms.  A wait that started its time over after each would never end:
 * the handler stops the timer at SD_SIGNALS_STOP signals, so that such a
 * wait ends (after 100 ms more) and the test fails on the count.
 */
TEST(events_wait_keeps_its_deadline_through_signals)
{
	struct itimerval every = { { 0, 10000 }, { 0, 10000 } };
	struct itimerval off = { };
	struct sockdup_event ev;
	long long start, took;
	int evfd, ret;

	evfd = sockdup_events_open(0);
	ASSERT_LE(0, evfd);
	ASSERT_EQ(0, sd_catch_signal(SIGALRM, 0));	/* no SA_RESTART */
	start = sd_now_ms();
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &every, NULL));
	ret = sockdup_events_wait(evfd, 100, &ev);
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &off, NULL));
	took = sd_now_ms() - start;
	EXPECT_EQ(0, ret);
	/* interrupted at least once; it waited its whole time, no longer */
	EXPECT_LE(1, sd_signals());
	EXPECT_LT(sd_signals(), SD_SIGNALS_STOP);
	EXPECT_LE(100, took);
	TH_LOG("100 ms wait through %d signals took %lld ms", sd_signals(),
	       took);
	signal(SIGALRM, SIG_DFL);
	close(evfd);
}

/* every errno comes back negated, none is swallowed or remapped */
TEST(errors_are_negative_errno)
{
	struct sockdup_share_info info;
	struct sockdup_cookie c, unknown;
	int sv[2], p[2], dead, ctl, r;
	pid_t pid, reaped;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	/* a number no descriptor uses, even after the library opens its own */
	dead = 1000;
	ASSERT_EQ(-1, fcntl(dead, F_GETFD));

	EXPECT_EQ(-EBADF, sockdup_share(dead, getpid(), 0, &c));
	EXPECT_EQ(-ENOTSOCK, sockdup_share(p[0], getpid(), 0, &c));
	reaped = sd_fork(NULL);
	ASSERT_LE(0, reaped);
	if (reaped == 0)
		_exit(0);
	ASSERT_EQ(0, sd_wait(reaped));
	EXPECT_EQ(-ESRCH, sockdup_share(sv[0], reaped, 0, &c));

	getrandom(unknown.bytes, sizeof(unknown.bytes), 0);
	EXPECT_EQ(-ENOENT, sockdup_redeem(&unknown, 0));
	EXPECT_EQ(-ENOENT, sockdup_revoke(&unknown));
	EXPECT_EQ(-ENOENT, sockdup_query(&unknown, &info));

	/* a share for our parent... er, for us: the child is refused */
	ASSERT_EQ(0, sockdup_share(sv[0], getpid(), 0, &c));
	pid = sd_fork(&ctl);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sockdup_share_info i;

		r = sockdup_redeem(&c, 0);
		sd_send_int(ctl, r);
		sd_send_int(ctl, sockdup_revoke(&c));
		sd_send_int(ctl, sockdup_query(&c, &i));
		_exit(0);
	}
	ASSERT_EQ(0, sd_recv_int(ctl, &r, SD_WAIT_MS));
	EXPECT_EQ(-EPERM, r);
	ASSERT_EQ(0, sd_recv_int(ctl, &r, SD_WAIT_MS));
	EXPECT_EQ(-EPERM, r);
	ASSERT_EQ(0, sd_recv_int(ctl, &r, SD_WAIT_MS));
	EXPECT_EQ(-EPERM, r);
	EXPECT_EQ(0, sd_wait(pid));
	close(ctl);
	/* still valid for the target */
	r = sockdup_redeem(&c, 0);
	EXPECT_LE(0, r);
	close(r);

	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

TEST(emfile_keeps_the_cookie)
{
	struct rlimit old, low;
	struct sockdup_cookie c;
	int sv[2], fd, max;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, sockdup_share(sv[0], getpid(), 0, &c));
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	/* the library's descriptor is open already: fill the table */
	max = sv[1] + 1;
	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0 && fd >= max)
			max = fd + 1;
	low = old;
	low.rlim_cur = max;
	for (fd = 0; fd < max; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			dup2(sv[1], fd);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
	EXPECT_EQ(-EMFILE, sockdup_redeem(&c, 0));
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	fd = sockdup_redeem(&c, 0);
	EXPECT_LE(0, fd);
	EXPECT_EQ(0, sd_kcmp_file(getpid(), sv[0], getpid(), fd));
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

TEST(ttl_expires)
{
	struct sockdup_share_info info;
	struct sockdup_cookie c;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, sockdup_share(sv[0], getpid(), 200, &c));
	ASSERT_EQ(0, sockdup_query(&c, &info));
	EXPECT_GE(200ULL, info.ttl_left_ms);
	sd_sleep_ms(600);
	EXPECT_EQ(-ENOENT, sockdup_redeem(&c, 0));
	close(sv[0]);
	close(sv[1]);
}

TEST(stats_and_list_follow_shares)
{
	struct sockdup_share_info info[3], *v;
	struct sockdup_cookie c[3];
	struct sockdup_stats before, after;
	unsigned long long total = 0;
	int sv[2], i, j, n, found = 0;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, sockdup_stats(&before));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, sockdup_share(sv[0], getpid(), 0, &c[i]));
		ASSERT_EQ(0, sockdup_query(&c[i], &info[i]));
	}
	ASSERT_EQ(0, sockdup_stats(&after));
	EXPECT_EQ(before.shared + 3, after.shared);
	EXPECT_LE(3ULL, after.pending);
	EXPECT_LE(3ULL, after.user_pending);

	EXPECT_EQ(0, sockdup_list(NULL, 0, &total));
	EXPECT_LE(3ULL, total);
	EXPECT_EQ(1, sockdup_list(info, 1, &total));
	EXPECT_LE(3ULL, total);

	v = calloc(total + 8, sizeof(*v));
	ASSERT_NE(NULL, v);
	n = sockdup_list(v, total + 8, &total);
	ASSERT_LE(3, n);
	EXPECT_EQ((unsigned long long)n, total);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, sockdup_query(&c[i], &info[i]));
		for (j = 0; j < n; j++)
			if (v[j].id == info[i].id &&
			    v[j].sock_ino == sd_inode(sv[0]) &&
			    v[j].target_pid == getpid())
				found++;
	}
	EXPECT_EQ(3, found);
	free(v);

	for (i = 0; i < 3; i++) {
		int fd = sockdup_redeem(&c[i], 0);

		EXPECT_LE(0, fd);
		close(fd);
	}
	ASSERT_EQ(0, sockdup_stats(&after));
	EXPECT_EQ(before.redeemed + 3, after.redeemed);
	close(sv[0]);
	close(sv[1]);
}

/* ---- the cached descriptor ---- */

struct hammer {
	int fd;
	int failures;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	int i;

	for (i = 0; i < 200; i++) {
		struct sockdup_cookie c;
		int fd;

		if (sockdup_share(h->fd, getpid(), 0, &c)) {
			h->failures++;
			continue;
		}
		fd = sockdup_redeem(&c, 0);
		if (fd < 0)
			h->failures++;
		else
			close(fd);
	}
	return NULL;
}

TEST(threads_share_one_cached_descriptor)
{
	struct hammer h[8];
	pthread_t t[8];
	int sv[2], i;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	for (i = 0; i < 8; i++) {
		h[i].fd = sv[0];
		h[i].failures = 0;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer_thread, &h[i]));
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, h[i].failures);
	}
	EXPECT_EQ(1, ul_count_devfds(NULL));
	close(sv[0]);
	close(sv[1]);
}

TEST(cached_descriptor_is_cloexec)
{
	struct sockdup_stats st;
	int fd = -1;

	ASSERT_EQ(0, sockdup_stats(&st));
	ASSERT_EQ(1, ul_count_devfds(&fd));
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

/*
 * The cached descriptor is write-only, so it has no event queue: a share
 * made with sockdup_share() ends without an event (nobody could read it).
 */
TEST(cached_descriptor_is_write_only)
{
	struct sockdup_cookie c;
	int sv[2], fd = -1, got;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, sockdup_share(sv[0], getpid(), 0, &c));
	ASSERT_EQ(1, ul_count_devfds(&fd));
	EXPECT_EQ(O_WRONLY, fcntl(fd, F_GETFL) & O_ACCMODE);
	got = sockdup_redeem(&c, 0);
	ASSERT_LE(0, got);
	EXPECT_EQ(0, sd_poll1(fd, POLLIN, 0));
	close(got);
	close(sv[0]);
	close(sv[1]);
}

/* a child of fork() opens its own descriptor: not the parent's open file */
TEST(fork_child_gets_its_own_descriptor)
{
	struct sockdup_stats st;
	int pfd = -1, ctl, r;
	pid_t pid;

	ASSERT_EQ(0, sockdup_stats(&st));
	ASSERT_EQ(1, ul_count_devfds(&pfd));
	pid = sd_fork(&ctl);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sockdup_stats s;
		int cfd = -1;

		/* the inherited copy was dropped at fork */
		r = ul_count_devfds(NULL);
		if (sockdup_stats(&s) || ul_count_devfds(&cfd) != 1)
			r = -1;
		sd_send_int(ctl, r);
		sd_send_int(ctl, cfd);
		sd_recv_int(ctl, &r, SD_WAIT_MS);
		_exit(0);
	}
	ASSERT_EQ(0, sd_recv_int(ctl, &r, SD_WAIT_MS));
	EXPECT_EQ(0, r);
	ASSERT_EQ(0, sd_recv_int(ctl, &r, SD_WAIT_MS));
	EXPECT_NE(0, sd_kcmp_file(getpid(), pfd, pid, r));
	sd_send_int(ctl, 0);
	EXPECT_EQ(0, sd_wait(pid));
	close(ctl);
}

/* a program closes the library's descriptor and reuses the number */
TEST(descriptor_closed_behind_its_back)
{
	struct sockdup_stats st;
	struct sockdup_cookie c = { { 0 } };
	int fd = -1, sv[2], other = -1, newfd;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, sockdup_stats(&st));
	ASSERT_EQ(1, ul_count_devfds(&fd));

	/* closed: EBADF inside, reopened, the call succeeds */
	close(fd);
	EXPECT_EQ(0, sockdup_stats(&st));
	ASSERT_EQ(1, ul_count_devfds(&fd));

	/* the number now names a socket of the program's: left alone */
	ASSERT_EQ(fd, dup2(sv[1], fd));
	EXPECT_EQ(0, sockdup_share(sv[0], getpid(), 0, &c));
	newfd = sockdup_redeem(&c, 0);
	EXPECT_LE(0, newfd);
	close(newfd);
	EXPECT_EQ(0, sd_kcmp_file(getpid(), fd, getpid(), sv[1]));
	EXPECT_EQ(1, ul_count_devfds(&other));
	EXPECT_NE(fd, other);
	EXPECT_EQ(0, sd_xfer(sv[0], fd, "still mine")) TH_LOG("%s", sd_errmsg());
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

/* Make every ioctl() on descriptor @fd fail with EXDEV from now on. */
static int forbid_ioctl_on(int fd)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (__u32)fd, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EXDEV),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(f) / sizeof(f[0]), .filter = f,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/*
 * The number of the library's descriptor now names another file of the
 * program's: the library must not send that file a single ioctl (a device
 * could act on it), nor close it.  A seccomp filter makes any ioctl on the
 * number fail with EXDEV, which the library would pass on.
 */
TEST(no_ioctl_reaches_a_foreign_file)
{
	int ctl, r[3];
	pid_t pid;

	pid = sd_fork(&ctl);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sockdup_stats st;
		int fd = -1, null;

		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		r[0] = sockdup_stats(&st);
		if (ul_count_devfds(&fd) != 1 || null < 0 ||
		    dup2(null, fd) != fd)
			r[0] = -1000;
		else if (forbid_ioctl_on(fd))
			r[0] = errno == EINVAL ? -2000 : -1000;
		r[1] = sockdup_stats(&st);
		r[2] = fcntl(fd, F_GETFD) >= 0 && sd_same_inode(fd, null) == 1;
		sd_send(ctl, r, sizeof(r));
		_exit(0);
	}
	ASSERT_EQ(0, sd_recv(ctl, r, sizeof(r), -1)) TH_LOG("%s", sd_errmsg());
	EXPECT_EQ(0, sd_wait(pid));
	close(ctl);
	if (r[0] == -2000)
		SKIP(return, "kernel without CONFIG_SECCOMP_FILTER");
	ASSERT_EQ(0, r[0]);
	EXPECT_EQ(0, r[1]) TH_LOG("the library sent an ioctl to /dev/null: %s",
				  strerror(-r[1]));
	EXPECT_EQ(1, r[2]);
}

/* By id: query and free a share made by a process that has exited. */
TEST(query_and_revoke_by_id)
{
	struct sockdup_share_info info;
	struct sockdup_cookie c;
	int ctl, sv[2], r;
	unsigned long long id;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = sd_fork(&ctl);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		r = sockdup_share(sv[0], getppid(), 0, &c);
		if (r == 0)
			r = sockdup_query(&c, &info);
		sd_send_int(ctl, r);
		sd_send(ctl, &info.id, sizeof(info.id));
		_exit(0);
	}
	ASSERT_EQ(0, sd_recv_int(ctl, &r, -1));
	ASSERT_EQ(0, r);
	ASSERT_EQ(0, sd_recv(ctl, &id, sizeof(id), -1));
	EXPECT_EQ(0, sd_wait(pid));
	close(ctl);
	close(sv[0]);

	ASSERT_EQ(0, sockdup_query_id(id, &info));
	EXPECT_EQ(id, info.id);
	EXPECT_EQ(0, info.sharer_pid);
	EXPECT_EQ(getpid(), info.target_pid);
	EXPECT_EQ(0, sockdup_revoke_id(id));
	/* the share was the last pin: its release closed the socket */
	EXPECT_EQ(0, recv(sv[1], &r, sizeof(r), MSG_DONTWAIT));
	EXPECT_EQ(-ENOENT, sockdup_revoke_id(id));
	EXPECT_EQ(-ENOENT, sockdup_query_id(id, &info));
	EXPECT_EQ(-EINVAL, sockdup_revoke_id(0));
	EXPECT_EQ(-EINVAL, sockdup_query_id(id, NULL));
	close(sv[1]);
}

TEST_HARNESS_MAIN
