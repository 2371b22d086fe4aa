// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup-bench: the latency cases.
 *
 * What is timed, per case (one "op" is what the figure is divided by):
 *  - floor pieces: a null syscall (getppid), an ioctl on /dev/sockdup with an
 *    unknown command (the ENOTTY path: syscall entry, fdget, LSM ioctl hook,
 *    the module's dispatch; no copy), STATS (copy in + copy out), dup +
 *    close, and the composite floor the target names: two ENOTTY ioctls +
 *    dup + close, measured as one op.
 *  - sockdup, same process: SHARE(sock, self) + REDEEM + close(newfd),
 *    through /dev/sockdup opened write-only as libsockdup opens it (no
 *    event queue); and the same through a file opened for reading, whose
 *    shares post their release event (read after each batch, untimed).
 *  - sockdup, two processes: the parent times n SHAREs (target: the
 *    worker), the cookies go to the worker over a pipe (not timed), the
 *    worker times n (REDEEM + close); op = (parent's + worker's time) / n.
 *  - SCM_RIGHTS, same process: sendmsg(1 byte + 1 fd) on one end of an
 *    AF_UNIX pair, recvmsg on the other, close(newfd); stream and datagram.
 *  - SCM_RIGHTS, two processes: as for sockdup: the parent times n
 *    sendmsg, the worker then times n (recvmsg + close); no overlap.
 *  - SCM_RIGHTS, 253 fds per message (SCM_MAX_FD): sendmsg + recvmsg + 253
 *    closes, divided by 253; the same with 16, and with 1024 in messages
 *    of 253 (the most one carries) as a program must send them.
 *  - batches: SHARE of 1, 16, 253 or 1024 sockets under one cookie +
 *    REDEEM of the batch + as many closes, divided by the batch size: the
 *    per-fd cost against SCM_RIGHTS with the same counts.
 *  - pidfd_getfd: pidfd_getfd(worker's pidfd, its copy of the socket) +
 *    close, with the pidfd opened once; and pidfd_open + pidfd_getfd +
 *    close(newfd) + close(pidfd) each time.
 *  - breakdown (micro-variants, to see where the time goes): SHARE alone,
 *    REDEEM alone, close of a redeemed fd, REVOKE alone, SHARE of fd -1
 *    (EBADF: entry + copy-in + checks + fget), REDEEM of a wrong cookie
 *    (ENOENT: entry + copy-in + lookup of the slot + secret compare), QUERY of a pending cookie
 *    (lookup hit + copy-out), dup alone, close alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

/* A command number the module does not know: its ENOTTY path. */
#define SOCKDUP_IOC_UNKNOWN	_IO(SOCKDUP_IOC_MAGIC, 0x3f)

#define SCM_MAX			253

/* The largest batch the batch cases hand over. */
#define BATCH_MAX_K		1024

static int stream_pair[2] = { -1, -1 };
static int dgram_pair[2] = { -1, -1 };
static uint8_t (*cookies)[SOCKDUP_COOKIE_SIZE];
static int *fds;
static unsigned int cap;
/* BATCH_MAX_K copies of env.sock: what the batch cases send or share. */
static int batch_out[BATCH_MAX_K];
static uint8_t query_cookie[SOCKDUP_COOKIE_SIZE];
static int query_pending;

#define CHECK(cond)	do { if (!(cond)) return -(errno ? errno : EIO); } while (0)

static int need(unsigned int n)
{
	if (n <= cap)
		return 0;
	free(cookies);
	free(fds);
	cookies = calloc(n, SOCKDUP_COOKIE_SIZE);
	fds = calloc(n, sizeof(*fds));
	if (!cookies || !fds)
		return -ENOMEM;
	cap = n;
	return 0;
}

static int send_fds(int s, const int *f, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(SCM_MAX * sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte = 'x';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = CMSG_SPACE(nfds * sizeof(int)),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), f, nfds * sizeof(int));
	return sendmsg(s, &msg, 0) == 1 ? 0 : -1;
}

/* Receive one message; returns the number of fds, stored in f. */
static int recv_fds(int s, int *f, unsigned int max)
{
	union {
		char buf[CMSG_SPACE(SCM_MAX * sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = CMSG_SPACE(max * sizeof(int)),
	};
	struct cmsghdr *cm;
	int n;

	if (recvmsg(s, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS || (msg.msg_flags & MSG_CTRUNC)) {
		errno = EPROTO;
		return -1;
	}
	n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	memcpy(f, CMSG_DATA(cm), n * sizeof(int));
	return n;
}

/* ---- floor ---- */

static int run_null(struct bench_case *c, unsigned int n, double *ns)
{
	uint64_t t0 = now_ns();
	unsigned int i;

	(void)c;
	for (i = 0; i < n; i++)
		syscall(SYS_getppid);
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

static int run_enotty(struct bench_case *c, unsigned int n, double *ns)
{
	uint64_t t0;
	unsigned int i;

	(void)c;
	errno = 0;
	CHECK(ioctl(env.dev, SOCKDUP_IOC_UNKNOWN, 0) == -1 && errno == ENOTTY);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		ioctl(env.dev, SOCKDUP_IOC_UNKNOWN, 0);
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

static int run_stats(struct bench_case *c, unsigned int n, double *ns)
{
	struct sockdup_stats st;
	uint64_t t0 = now_ns();
	unsigned int i;

	(void)c;
	for (i = 0; i < n; i++) {
		memset(&st, 0, sizeof(st));
		CHECK(!ioctl(env.dev, SOCKDUP_IOC_STATS, &st));
	}
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

static int run_dup_close(struct bench_case *c, unsigned int n, double *ns)
{
	uint64_t t0 = now_ns();
	unsigned int i;

	(void)c;
	for (i = 0; i < n; i++) {
		int fd = dup(env.sock);

		CHECK(fd >= 0);
		close(fd);
	}
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

static int run_floor(struct bench_case *c, unsigned int n, double *ns)
{
	uint64_t t0 = now_ns();
	unsigned int i;

	(void)c;
	for (i = 0; i < n; i++) {
		int fd;

		ioctl(env.dev, SOCKDUP_IOC_UNKNOWN, 0);
		ioctl(env.dev, SOCKDUP_IOC_UNKNOWN, 0);
		fd = dup(env.sock);
		CHECK(fd >= 0);
		close(fd);
	}
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

/* ---- sockdup ---- */

/* n x (SHARE through @dev + REDEEM + close), per op in *@ns. */
static int sd_same_on(int dev, unsigned int n, double *ns)
{
	uint8_t cookie[SOCKDUP_COOKIE_SIZE];
	uint64_t t0 = now_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		int fd;

		CHECK(!sd_share(dev, env.sock, env.self, 0, cookie));
		fd = sd_redeem(env.dev, cookie);
		CHECK(fd >= 0);
		close(fd);
	}
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

int sd_same_batch(unsigned int n, double *ns)
{
	return sd_same_on(env.dev, n, ns);
}

static int run_sd_same(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return sd_same_batch(n, ns);
}

/*
 * The same through a file opened for reading: each release posts its
 * event.  The events are read after the batch, untimed, as a reader
 * would, so that the queue never overflows.
 */
static int run_sd_same_events(struct bench_case *c, unsigned int n,
			      double *ns)
{
	struct sockdup_event ev[64];
	int ret;

	(void)c;
	ret = sd_same_on(env.dev_events, n, ns);
	while (read(env.dev_events, ev, sizeof(ev)) > 0)
		;
	return ret;
}

static int run_sd_cross(struct bench_case *c, unsigned int n, double *ns)
{
	struct worker_cmd cmd = { .op = W_REDEEM, .n = n };
	struct worker_reply rep;
	uint64_t t0, t1;
	unsigned int i;
	int err;

	(void)c;
	CHECK(!need(n));
	t0 = now_ns();
	for (i = 0; i < n; i++)
		CHECK(!sd_share(env.dev, env.sock, env.worker, 0, cookies[i]));
	t1 = now_ns();
	err = worker_call(&cmd, cookies, (size_t)n * SOCKDUP_COOKIE_SIZE, &rep);
	if (err)
		return err;
	*ns = (double)(t1 - t0 + rep.ns) / n;
	return 0;
}

/* ---- SCM_RIGHTS ---- */

static int scm_same(int *pair, unsigned int n, double *ns)
{
	uint64_t t0 = now_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		int fd;

		CHECK(!send_fds(pair[0], &env.sock, 1));
		CHECK(recv_fds(pair[1], &fd, 1) == 1);
		close(fd);
	}
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

static int run_scm_stream(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return scm_same(stream_pair, n, ns);
}

static int run_scm_dgram(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return scm_same(dgram_pair, n, ns);
}

static int run_scm_cross(struct bench_case *c, unsigned int n, double *ns)
{
	struct worker_cmd cmd = { .op = W_SCM_RECV, .n = n };
	struct worker_reply rep;
	uint64_t t0, t1;
	unsigned int i;
	int err;

	(void)c;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		CHECK(!send_fds(env.scm_tx, &env.sock, 1));
	t1 = now_ns();
	err = worker_call(&cmd, NULL, 0, &rep);
	if (err)
		return err;
	*ns = (double)(t1 - t0 + rep.ns) / n;
	return 0;
}

/*
 * @k descriptors per hand-off over SCM_RIGHTS, in messages of at most
 * SCM_MAX (the kernel refuses more in one): sendmsg + recvmsg per message,
 * then @k closes; the figure is per descriptor.
 */
static int scm_k(unsigned int k, unsigned int n, double *ns)
{
	unsigned int rounds = (n + k - 1) / k, r, got, m, j;
	uint64_t t0;

	CHECK(!need(k));
	t0 = now_ns();
	for (r = 0; r < rounds; r++) {
		for (got = 0; got < k; got += m) {
			m = k - got < SCM_MAX ? k - got : SCM_MAX;
			CHECK(!send_fds(stream_pair[0], batch_out, m));
			CHECK(recv_fds(stream_pair[1], fds + got, m) == (int)m);
		}
		for (j = 0; j < k; j++)
			close(fds[j]);
	}
	*ns = (double)(now_ns() - t0) / ((double)rounds * k);
	return 0;
}

static int run_scm_16(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return scm_k(16, n, ns);
}

static int run_scm_253(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return scm_k(SCM_MAX, n, ns);
}

static int run_scm_1024(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return scm_k(BATCH_MAX_K, n, ns);
}

/* ---- batches ---- */

/*
 * @k sockets per hand-off under one cookie: SHARE of the batch + REDEEM of
 * the batch + @k closes; the figure is per descriptor.
 */
static int sd_batch_k(unsigned int k, unsigned int n, double *ns)
{
	unsigned int rounds = (n + k - 1) / k, r, j;
	struct sockdup_redeem rd;
	struct sockdup_share sh;
	uint64_t t0;

	CHECK(!need(k));
	t0 = now_ns();
	for (r = 0; r < rounds; r++) {
		memset(&sh, 0, sizeof(sh));
		sh.fd = -1;
		sh.target_pid = env.self;
		sh.fds = (uintptr_t)batch_out;
		sh.nr_fds = k;
		CHECK(!ioctl(env.dev, SOCKDUP_IOC_SHARE, &sh));
		memset(&rd, 0, sizeof(rd));
		memcpy(rd.cookie, sh.cookie, sizeof(rd.cookie));
		rd.fds = (uintptr_t)fds;
		rd.nr_fds = k;
		CHECK(ioctl(env.dev, SOCKDUP_IOC_REDEEM, &rd) == (int)k);
		for (j = 0; j < k; j++)
			close(fds[j]);
	}
	*ns = (double)(now_ns() - t0) / ((double)rounds * k);
	return 0;
}

/*
 * REDEEM alone of batches of SCM_MAX, per socket: the SHAREs before and
 * the closes after are not timed.
 */
static int run_redeem_batch_only(struct bench_case *c, unsigned int n,
				 double *ns)
{
	unsigned int rounds = (n + SCM_MAX - 1) / SCM_MAX, r, j;
	struct sockdup_redeem rd;
	struct sockdup_share sh;
	uint64_t t = 0, t0;

	(void)c;
	CHECK(!need(SCM_MAX));
	for (r = 0; r < rounds; r++) {
		memset(&sh, 0, sizeof(sh));
		sh.fd = -1;
		sh.target_pid = env.self;
		sh.fds = (uintptr_t)batch_out;
		sh.nr_fds = SCM_MAX;
		CHECK(!ioctl(env.dev, SOCKDUP_IOC_SHARE, &sh));
		memset(&rd, 0, sizeof(rd));
		memcpy(rd.cookie, sh.cookie, sizeof(rd.cookie));
		rd.fds = (uintptr_t)fds;
		rd.nr_fds = SCM_MAX;
		t0 = now_ns();
		CHECK(ioctl(env.dev, SOCKDUP_IOC_REDEEM, &rd) == SCM_MAX);
		t += now_ns() - t0;
		for (j = 0; j < SCM_MAX; j++)
			close(fds[j]);
	}
	*ns = (double)t / ((double)rounds * SCM_MAX);
	return 0;
}

static int run_sd_batch_1(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return sd_batch_k(1, n, ns);
}

static int run_sd_batch_16(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return sd_batch_k(16, n, ns);
}

static int run_sd_batch_253(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return sd_batch_k(SCM_MAX, n, ns);
}

static int run_sd_batch_1024(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return sd_batch_k(BATCH_MAX_K, n, ns);
}

/* ---- pidfd_getfd ---- */

static int run_pidfd_cached(struct bench_case *c, unsigned int n, double *ns)
{
	uint64_t t0 = now_ns();
	unsigned int i;

	(void)c;
	for (i = 0; i < n; i++) {
		int fd = syscall(SYS_pidfd_getfd, env.worker_pidfd, env.sock, 0);

		CHECK(fd >= 0);
		close(fd);
	}
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

static int run_pidfd_open(struct bench_case *c, unsigned int n, double *ns)
{
	uint64_t t0 = now_ns();
	unsigned int i;

	(void)c;
	for (i = 0; i < n; i++) {
		int pfd = syscall(SYS_pidfd_open, env.worker, 0), fd;

		CHECK(pfd >= 0);
		fd = syscall(SYS_pidfd_getfd, pfd, env.sock, 0);
		CHECK(fd >= 0);
		close(fd);
		close(pfd);
	}
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

/* ---- breakdown ---- */

static int run_share_only(struct bench_case *c, unsigned int n, double *ns)
{
	uint64_t t0;
	unsigned int i;

	(void)c;
	CHECK(!need(n));
	t0 = now_ns();
	for (i = 0; i < n; i++)
		CHECK(!sd_share(env.dev, env.sock, env.self, 0, cookies[i]));
	*ns = (double)(now_ns() - t0) / n;
	for (i = 0; i < n; i++)
		CHECK(!sd_revoke(env.dev, cookies[i]));
	return 0;
}

static int run_redeem_only(struct bench_case *c, unsigned int n, double *ns)
{
	uint64_t t0;
	unsigned int i;

	(void)c;
	CHECK(!need(n));
	for (i = 0; i < n; i++)
		CHECK(!sd_share(env.dev, env.sock, env.self, 0, cookies[i]));
	t0 = now_ns();
	for (i = 0; i < n; i++)
		fds[i] = sd_redeem(env.dev, cookies[i]);
	*ns = (double)(now_ns() - t0) / n;
	for (i = 0; i < n; i++)
		CHECK(fds[i] >= 0 && !close(fds[i]));
	return 0;
}

static int run_close_redeemed(struct bench_case *c, unsigned int n, double *ns)
{
	uint64_t t0;
	unsigned int i;

	(void)c;
	CHECK(!need(n));
	for (i = 0; i < n; i++) {
		CHECK(!sd_share(env.dev, env.sock, env.self, 0, cookies[i]));
		fds[i] = sd_redeem(env.dev, cookies[i]);
		CHECK(fds[i] >= 0);
	}
	t0 = now_ns();
	for (i = 0; i < n; i++)
		close(fds[i]);
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

static int run_revoke_only(struct bench_case *c, unsigned int n, double *ns)
{
	uint64_t t0;
	unsigned int i;

	(void)c;
	CHECK(!need(n));
	for (i = 0; i < n; i++)
		CHECK(!sd_share(env.dev, env.sock, env.self, 0, cookies[i]));
	t0 = now_ns();
	for (i = 0; i < n; i++)
		CHECK(!sd_revoke(env.dev, cookies[i]));
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

static int run_share_ebadf(struct bench_case *c, unsigned int n, double *ns)
{
	uint8_t cookie[SOCKDUP_COOKIE_SIZE];
	uint64_t t0;
	unsigned int i;

	(void)c;
	errno = 0;
	CHECK(sd_share(env.dev, -1, env.self, 0, cookie) && errno == EBADF);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		sd_share(env.dev, -1, env.self, 0, cookie);
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

static int run_redeem_enoent(struct bench_case *c, unsigned int n, double *ns)
{
	uint8_t cookie[SOCKDUP_COOKIE_SIZE];
	uint64_t t0;
	unsigned int i;

	(void)c;
	/* A pending cookie with its last byte changed: found, then refused. */
	memcpy(cookie, query_cookie, sizeof(cookie));
	cookie[SOCKDUP_COOKIE_SIZE - 1] ^= 0x5a;
	errno = 0;
	CHECK(sd_redeem(env.dev, cookie) == -1 && errno == ENOENT);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		sd_redeem(env.dev, cookie);
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

static int run_query(struct bench_case *c, unsigned int n, double *ns)
{
	struct sockdup_query q;
	uint64_t t0 = now_ns();
	unsigned int i;

	(void)c;
	for (i = 0; i < n; i++) {
		memset(&q, 0, sizeof(q));
		memcpy(q.cookie, query_cookie, sizeof(q.cookie));
		CHECK(!ioctl(env.dev, SOCKDUP_IOC_QUERY, &q));
	}
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

static int run_dup_only(struct bench_case *c, unsigned int n, double *ns)
{
	uint64_t t0;
	unsigned int i;

	(void)c;
	CHECK(!need(n));
	t0 = now_ns();
	for (i = 0; i < n; i++)
		fds[i] = dup(env.sock);
	*ns = (double)(now_ns() - t0) / n;
	for (i = 0; i < n; i++)
		CHECK(fds[i] >= 0 && !close(fds[i]));
	return 0;
}

static int run_close_only(struct bench_case *c, unsigned int n, double *ns)
{
	uint64_t t0;
	unsigned int i;

	(void)c;
	CHECK(!need(n));
	for (i = 0; i < n; i++)
		CHECK((fds[i] = dup(env.sock)) >= 0);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		close(fds[i]);
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

static const struct bench_case latency_cases[] = {
	{ "null_syscall", "floor", "getppid() (null syscall, reference)", .run = run_null },
	{ "ioctl_enotty", "floor", "ioctl, unknown cmd (ENOTTY, no copy)", .run = run_enotty },
	{ "ioctl_stats", "floor", "ioctl STATS (copy in + out)", .run = run_stats },
	{ "dup_close", "floor", "dup + close", .run = run_dup_close },
	{ "floor", "floor", "FLOOR: 2 x ioctl(ENOTTY) + dup + close", .run = run_floor },
	{ "sd_same", "sockdup", "share + redeem + close, same process", .run = run_sd_same },
	{ "sd_cross", "sockdup", "share | redeem + close, two processes", .run = run_sd_cross },
	{ "sd_events", "sockdup", "same process, through a file read for events", .run = run_sd_same_events },
	{ "scm_stream", "scm_rights", "1 fd, stream pair, same process", .run = run_scm_stream },
	{ "scm_dgram", "scm_rights", "1 fd, dgram pair, same process", .run = run_scm_dgram },
	{ "scm_cross", "scm_rights", "1 fd, stream pair, two processes", .run = run_scm_cross },
	{ "scm_253", "scm_rights", "253 fds in one message, per fd", .run = run_scm_253 },
	{ "scm_16", "batch", "SCM_RIGHTS 16 fds in one message, per fd", .run = run_scm_16 },
	{ "scm_1024", "batch", "SCM_RIGHTS 1024 fds in 5 messages, per fd", .run = run_scm_1024 },
	{ "sd_batch_1", "batch", "batch of 1: share + redeem + close", .run = run_sd_batch_1 },
	{ "sd_batch_16", "batch", "batch of 16: share + redeem + closes, per fd", .run = run_sd_batch_16 },
	{ "sd_batch_253", "batch", "batch of 253: share + redeem + closes, per fd", .run = run_sd_batch_253 },
	{ "sd_batch_1024", "batch", "batch of 1024: share + redeem + closes, per fd", .run = run_sd_batch_1024 },
	{ "pidfd_cached", "pidfd", "pidfd_getfd + close (cached pidfd)", .run = run_pidfd_cached },
	{ "pidfd_open", "pidfd", "pidfd_open + pidfd_getfd + 2 x close", .run = run_pidfd_open },
	{ "bd_share", "breakdown", "SHARE alone", .run = run_share_only },
	{ "bd_redeem", "breakdown", "REDEEM alone", .run = run_redeem_only },
	{ "bd_close_redeemed", "breakdown", "close of a redeemed fd", .run = run_close_redeemed },
	{ "bd_revoke", "breakdown", "REVOKE alone", .run = run_revoke_only },
	{ "bd_redeem_batch", "breakdown", "REDEEM alone of a batch of 253, per fd", .run = run_redeem_batch_only },
	{ "bd_share_ebadf", "breakdown", "SHARE fd -1 (EBADF: entry+copy+fget)", .run = run_share_ebadf },
	{ "bd_redeem_enoent", "breakdown", "REDEEM wrong cookie (ENOENT: lookup, secret differs)", .run = run_redeem_enoent },
	{ "bd_query", "breakdown", "QUERY pending cookie (lookup hit + copy out)", .run = run_query },
	{ "bd_dup", "breakdown", "dup alone", .run = run_dup_only },
	{ "bd_close", "breakdown", "close of a dup'ed fd", .run = run_close_only },
};

unsigned int cases_register(struct bench_case *tab, unsigned int max)
{
	unsigned int i, n = sizeof(latency_cases) / sizeof(latency_cases[0]);

	for (i = 0; i < n && i < max; i++)
		tab[i] = latency_cases[i];
	return i;
}

int cases_setup(void)
{
	struct rlimit rl;
	unsigned int i;

	/* a batch keeps up to max_batch (or BATCH_MAX_K) descriptors open */
	if (!getrlimit(RLIMIT_NOFILE, &rl) &&
	    rl.rlim_cur < env.max_batch + BATCH_MAX_K + 1024) {
		rl.rlim_cur = env.max_batch + BATCH_MAX_K + 1024;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			return -errno;
	}
	env.sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (env.sock < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stream_pair) ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dgram_pair))
		return -errno;
	if (need(env.max_batch > BATCH_MAX_K ? env.max_batch : BATCH_MAX_K))
		return -ENOMEM;
	for (i = 0; i < BATCH_MAX_K; i++)
		batch_out[i] = env.sock;
	if (sd_share(env.dev, env.sock, env.self, env.ttl_ms, query_cookie))
		return -errno;
	query_pending = 1;
	return 0;
}

void cases_teardown(void)
{
	if (query_pending)
		sd_revoke(env.dev, query_cookie);
	query_pending = 0;
}

/* ---- the worker process of the two-process cases ---- */

int worker_main(int cmdfd, int replyfd, int scm_rx)
{
	uint8_t (*ck)[SOCKDUP_COOKIE_SIZE] = NULL;
	unsigned int ckcap = 0;
	int dev;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	dev = open(SOCKDUP_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -1;
	for (;;) {
		struct worker_cmd cmd;
		struct worker_reply rep = { 0 };
		uint64_t t0;
		unsigned int i;
		int fd;

		if (read_full(cmdfd, &cmd, sizeof(cmd)))
			return -1;
		rep.n = cmd.n;
		switch (cmd.op) {
		case W_PING:
			break;
		case W_EXIT:
			return 0;
		case W_REDEEM:
			if (cmd.n > ckcap) {
				free(ck);
				ck = calloc(cmd.n, SOCKDUP_COOKIE_SIZE);
				if (!ck)
					return -1;
				ckcap = cmd.n;
			}
			if (read_full(cmdfd, ck, (size_t)cmd.n * SOCKDUP_COOKIE_SIZE))
				return -1;
			t0 = now_ns();
			for (i = 0; i < cmd.n; i++) {
				fd = sd_redeem(dev, ck[i]);
				if (fd < 0) {
					rep.err = errno;
					break;
				}
				close(fd);
			}
			rep.ns = now_ns() - t0;
			break;
		case W_SCM_RECV:
			t0 = now_ns();
			for (i = 0; i < cmd.n; i++) {
				if (recv_fds(scm_rx, &fd, 1) != 1) {
					rep.err = errno ? errno : EPROTO;
					break;
				}
				close(fd);
			}
			rep.ns = now_ns() - t0;
			break;
		default:
			rep.err = EINVAL;
		}
		if (write_full(replyfd, &rep, sizeof(rep)))
			return -1;
	}
}
