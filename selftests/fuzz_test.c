// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_test - a seeded, bounded ioctl fuzzer for /dev/sockdup.
 *
 * Several worker processes, each with several threads, issue random
 * sockdup ioctls: valid commands with random contents (flags, reserved and
 * output fields, TTLs, fds of every kind: sockets of several families,
 * pipes, memfds, eventfds, /dev/sockdup itself, closed and huge fd numbers),
 * real cookies (shared by one thread, redeemed, revoked or queried by other
 * threads and processes, also by forked children that exit or are killed
 * at random moments) and random ones, commands with wrong sizes, wrong
 * directions and random numbers, and bad user pointers.
 *
 * Invariants checked on every call:
 *   - the errno is in the set the ABI allows for that command;
 *   - a successful REDEEM returns a socket descriptor for the socket that
 *     was shared (same inode), with FD_CLOEXEC as asked, in the target
 *     process only;
 *   - a cookie is consumed (REDEEM or REVOKE succeeds) at most once, and a
 *     consumed cookie can neither be queried nor redeemed afterwards;
 *   - a random cookie is never accepted;
 *   - REDEEM failing with EMFILE leaves the cookie redeemable;
 *   - a command with a non-zero unknown tail, a smaller size or a wrong
 *     direction is never accepted.
 * At the end of a run: shares whose target exited are reaped within
 * REAP_TIMEOUT_S, and the counters balance:
 *   shared == redeemed + expired + revoked + reaped + pending.
 *
 * Every thread's sequence of operations follows from the seed that is
 * printed first; with --procs 1 --threads 1 a run replays exactly (timing
 * aside).  The coverage table (outcomes per operation and errno) comes
 * last.
 *
 * Usage: fuzz_test [--seed N] [--seconds S] [--iterations N] [--threads T]
 *                  [--procs P] [--params]
 * --params also sets the module's limits (max_per_user, max_total, TTLs)
 * to random small values while it runs, and restores them.  The defaults
 * (10 s, 3 processes of 3 threads) suit the kselftest suite; the
 * environment variables SOCKDUP_FUZZ_SECONDS, _SEED, _THREADS, _PROCS and
 * _PARAMS=1 set the same knobs (the VM modes use them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/sockdup.h>

#include "kselftest.h"
#include "sockdup_skip.h"
#include "sd_time.h"

#define MAX_PROCS	16
#define MAX_THREADS	16
#define RING		4096		/* cookies remembered for reuse */
#define POOL		24		/* fds per thread */
#define MAX_VIOL	32		/* violations kept for the report */
#define MAX_CHILDREN	4		/* live forked children per thread */
#define REAP_TIMEOUT_S	(15 * sd_time_factor())	/* bound on releasing shares of dead targets */
#define NR_OUT		135		/* 0: success, 1..133: errno, 134: other */
#define OUT_OTHER	(NR_OUT - 1)
#define ARGBUF		(16384 + 64)	/* largest size an ioctl number encodes */

enum op {
	OP_SHARE, OP_REDEEM, OP_REVOKE, OP_QUERY, OP_STATS, OP_LIST,
	OP_EXTENDED, OP_MANGLED, OP_RANDOM, OP_BADPTR, OP_WRONG_FILE,
	OP_CHILD_REDEEM, OP_EVENTS, NR_OPS
};

static const char *const op_name[NR_OPS] = {
	"SHARE", "REDEEM", "REVOKE", "QUERY", "STATS", "LIST",
	"EXTENDED", "MANGLED", "RANDOM", "BADPTR", "WRONG_FILE", "CHILD_REDEEM",
	"EVENTS",
};

/* One remembered share, written by its sharer, read by everyone. */
struct rec {
	_Atomic uint32_t seq;		/* 2 * gen, odd while being written */
	_Atomic uint64_t state;		/* gen << 32 | times consumed */
	unsigned char cookie[SOCKDUP_COOKIE_SIZE];
	int32_t target;
	int32_t sharer;
	uint64_t ino;			/* socket inode, 0 when unknown */
};

/* Shared by the main process, the workers and their children. */
struct shared {
	_Atomic int stop;
	_Atomic uint64_t iterations;
	uint64_t max_iterations;
	_Atomic uint64_t outcome[NR_OPS][NR_OUT];
	_Atomic uint64_t nrec;
	_Atomic int nviol;
	char viol[MAX_VIOL][240];
	_Atomic uint64_t forks, kills, consumed_ok, emfile_retries;
	_Atomic pid_t worker[MAX_PROCS];
	pid_t main_pid;
	int nprocs;
	struct rec ring[RING];
};

static struct shared *sh;

struct rng {
	uint64_t s;
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct rng *r)
{
	return splitmix(&r->s);
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(rnd(r) % n) : 0;
}

static bool chance(struct rng *r, unsigned int percent)
{
	return below(r, 100) < percent;
}

static void violation(const char *fmt, ...)
{
	int i = atomic_fetch_add(&sh->nviol, 1);
	va_list ap;

	if (i >= MAX_VIOL)
		return;
	va_start(ap, fmt);
	vsnprintf(sh->viol[i], sizeof(sh->viol[i]), fmt, ap);
	va_end(ap);
}

static void count(enum op op, long ret, int err)
{
	int out = ret >= 0 ? 0 : (err > 0 && err < OUT_OTHER ? err : OUT_OTHER);

	atomic_fetch_add_explicit(&sh->outcome[op][out], 1, memory_order_relaxed);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- errno sets ------------------------------------------------------ */

/*
 * A set of errno values, one bit each.  Values below 62 are their own bit;
 * the two larger ones a command may return, ENOTSOCK and EDQUOT, get bits
 * 62 and 63, and any other value bit 0, which no set holds (the program
 * also runs as an i386 build, which has no 128-bit integers).
 */
typedef uint64_t eset;
#define EBIT(x)	((x) == ENOTSOCK ? 62 : (x) == EDQUOT ? 63 : \
		 (x) > 0 && (x) < 62 ? (x) : 0)
#define E(x) ((eset)1 << EBIT(x))
/* Every command may fail with these (EFAULT: bad pointer; E2BIG: tail). */
#define E_ANY	(E(EFAULT) | E(E2BIG) | E(EINVAL) | E(ENOMEM))

static eset allowed(unsigned int nr)
{
	switch (nr) {
	case _IOC_NR(SOCKDUP_IOC_SHARE):
		/* EPERM: a kernel thread, or init, as the target */
		return E_ANY | E(EBADF) | E(ENOTSOCK) | E(ESRCH) | E(EPERM) |
		       E(EDQUOT) | E(ENOSPC);
	case _IOC_NR(SOCKDUP_IOC_REDEEM):
		return E_ANY | E(ENOENT) | E(EPERM) | E(EMFILE);
	case _IOC_NR(SOCKDUP_IOC_REVOKE):
	case _IOC_NR(SOCKDUP_IOC_QUERY):
		return E_ANY | E(ENOENT) | E(EPERM);
	case _IOC_NR(SOCKDUP_IOC_STATS):
	case _IOC_NR(SOCKDUP_IOC_LIST):
		return E_ANY;
	}
	return E(ENOTTY);
}

static bool errno_ok(eset set, int err)
{
	return err > 0 && (set & E(err));
}

static void check_errno(enum op op, const char *what, eset set, long ret, int err)
{
	count(op, ret, err);
	if (ret < 0 && !errno_ok(set, err))
		violation("%s %s: unexpected errno %d (%s)", op_name[op], what, err, strerror(err));
}

/* ---- remembered cookies ---------------------------------------------- */

static void rec_add(const unsigned char *cookie, pid_t target, uint64_t ino)
{
	uint64_t idx = atomic_fetch_add(&sh->nrec, 1);
	struct rec *r = &sh->ring[idx % RING];
	uint32_t gen = (uint32_t)(idx & 0x7fffffff) + 1;

	atomic_store(&r->seq, 2 * gen + 1);
	atomic_thread_fence(memory_order_seq_cst);
	memcpy(r->cookie, cookie, SOCKDUP_COOKIE_SIZE);
	r->target = target;
	r->sharer = getpid();
	r->ino = ino;
	atomic_store(&r->state, (uint64_t)gen << 32);
	atomic_store(&r->seq, 2 * gen);
}

struct snap {
	int slot;
	uint32_t gen;
	unsigned char cookie[SOCKDUP_COOKIE_SIZE];
	pid_t target;
	uint64_t ino;
	bool consumed_before;	/* someone consumed it before we started */
};

static bool rec_read(int slot, struct snap *s)
{
	struct rec *r = &sh->ring[slot];
	uint32_t s1 = atomic_load(&r->seq), s2;
	uint64_t st;

	if (!s1 || (s1 & 1))
		return false;
	memcpy(s->cookie, r->cookie, SOCKDUP_COOKIE_SIZE);
	s->target = r->target;
	s->ino = r->ino;
	st = atomic_load(&r->state);
	atomic_thread_fence(memory_order_seq_cst);
	s2 = atomic_load(&r->seq);
	if (s1 != s2)
		return false;
	s->slot = slot;
	s->gen = s1 / 2;
	s->consumed_before = (st >> 32) == s->gen && (uint32_t)st != 0;
	return true;
}

/* Pick a remembered cookie, preferring ones this process may redeem. */
static bool rec_pick(struct rng *r, struct snap *s, bool mine)
{
	uint64_t n = atomic_load(&sh->nrec);
	int tries;

	if (!n)
		return false;
	for (tries = 0; tries < (mine ? 48 : 1); tries++) {
		uint64_t back = below(r, n < RING ? (uint32_t)n : RING);
		int slot = (int)((n - 1 - back) % RING);

		if (!rec_read(slot, s))
			continue;
		if (!mine || s->target == getpid())
			return true;
	}
	return mine ? rec_read((int)((n - 1) % RING), s) : false;
}

/* A REDEEM or REVOKE of @s succeeded: it must be the first consumer. */
static void rec_consume(const struct snap *s, const char *how)
{
	_Atomic uint64_t *state = &sh->ring[s->slot].state;
	uint64_t v = atomic_load(state);

	atomic_fetch_add(&sh->consumed_ok, 1);
	for (;;) {
		if ((v >> 32) != s->gen)
			return;		/* slot reused meanwhile: no longer tracked */
		if ((uint32_t)v != 0) {
			violation("%s succeeded on a cookie consumed before (share by %d for %d)",
				  how, sh->ring[s->slot].sharer, s->target);
			return;
		}
		if (atomic_compare_exchange_weak(state, &v, v + 1))
			return;
	}
}

/* ---- descriptors of every kind --------------------------------------- */

enum kind {
	K_UNIX_STREAM, K_UNIX_DGRAM, K_UNIX_SEQPACKET, K_TCP, K_TCP_LISTEN,
	K_UDP, K_TCP6, K_UDP6, K_NETLINK, K_PACKET, K_PIPE, K_MEMFD,
	K_EVENTFD, K_EPOLL, K_DEVNULL, K_SOCKDUP, K_PROC,
	NR_KINDS
};

struct thr {
	struct rng rng;
	int proc, idx;
	int dev;
	int listener;			/* loopback TCP listener for K_TCP */
	int fd[POOL];
	uint64_t ino[POOL];		/* socket inode, 0 if not a socket */
	pid_t child[MAX_CHILDREN];
	unsigned char *buf;		/* ARGBUF bytes, then a PROT_NONE page */
	unsigned char *ro;		/* one page, read-only during calls */
	uint64_t iters;
};

static uint64_t sock_ino(int fd)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) || !S_ISSOCK(st.st_mode))
		return 0;
	return st.st_ino;
}

static void pool_set(struct thr *t, int slot, int fd)
{
	if (t->fd[slot] >= 0)
		close(t->fd[slot]);
	t->fd[slot] = fd;
	t->ino[slot] = sock_ino(fd);
}

static int tcp_pair(struct thr *t, int *peer)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int c;

	*peer = -1;
	if (t->listener < 0 || getsockname(t->listener, (struct sockaddr *)&a, &len))
		return -1;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -1;
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) == 0)
		*peer = accept4(t->listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	return c;
}

/* Refill one pool slot (and maybe its neighbour) with a new descriptor. */
static void pool_new(struct thr *t, int slot)
{
	int kind = below(&t->rng, NR_KINDS), fd = -1, pair[2], peer = -1;

	switch (kind) {
	case K_UNIX_STREAM:
	case K_UNIX_DGRAM:
	case K_UNIX_SEQPACKET:
		if (!socketpair(AF_UNIX, (kind == K_UNIX_STREAM ? SOCK_STREAM :
					  kind == K_UNIX_DGRAM ? SOCK_DGRAM : SOCK_SEQPACKET) |
				SOCK_CLOEXEC, 0, pair)) {
			fd = pair[0];
			peer = pair[1];
		}
		break;
	case K_TCP:
		fd = tcp_pair(t, &peer);
		break;
	case K_TCP_LISTEN: {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4))) {
			close(fd);
			fd = -1;
		}
		break;
	}
	case K_UDP:
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		break;
	case K_TCP6:
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		break;
	case K_UDP6:
		fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		break;
	case K_NETLINK:
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
		break;
	case K_PACKET:
		fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		break;
	case K_PIPE:
		if (!pipe2(pair, O_CLOEXEC)) {
			fd = pair[0];
			peer = pair[1];
		}
		break;
	case K_MEMFD:
		fd = memfd_create("sockdup-fuzz", MFD_CLOEXEC);
		break;
	case K_EVENTFD:
		fd = eventfd(0, EFD_CLOEXEC);
		break;
	case K_EPOLL:
		fd = epoll_create1(EPOLL_CLOEXEC);
		break;
	case K_DEVNULL:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	case K_SOCKDUP:
		fd = open(SOCKDUP_DEVICE, O_RDWR | O_CLOEXEC);
		break;
	case K_PROC:
		fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
		break;
	}
	pool_set(t, slot, fd);
	if (peer >= 0)
		pool_set(t, (slot + 1) % POOL, peer);
}

/* An fd argument: mostly this thread's own, sometimes anything at all. */
static int pick_fd(struct thr *t, uint64_t *ino, bool want_socket)
{
	int i, slot;

	*ino = 0;
	switch (below(&t->rng, want_socket ? 20 : 10)) {
	case 0:
		return -1;
	case 1:
		return below(&t->rng, 2) ? INT_MAX : (int)rnd(&t->rng);
	case 2:
		return (int)below(&t->rng, 64);		/* any fd of the process */
	case 3:
		return 1 << 20;
	default:
		break;
	}
	slot = below(&t->rng, POOL);
	if (want_socket)
		for (i = 0; i < POOL && !t->ino[(slot + i) % POOL]; i++)
			;
	else
		i = 0;
	slot = (slot + (i < POOL ? i : 0)) % POOL;
	*ino = t->ino[slot];
	return t->fd[slot];
}

static pid_t pick_target(struct thr *t)
{
	pid_t p;

	switch (below(&t->rng, 20)) {
	case 0:
		return 1;
	case 1:
		return 0;
	case 2:
		return -1 - (int)below(&t->rng, 3);
	case 3:
		return (pid_t)rnd(&t->rng);
	case 4:
		return (pid_t)syscall(SYS_gettid);	/* ESRCH for a non-leader */
	case 5:
		return INT_MAX;
	case 6:
		return sh->main_pid;
	case 7: case 8: case 9: case 10:
		p = atomic_load(&sh->worker[below(&t->rng, sh->nprocs)]);
		return p ? p : getpid();
	case 11:
		p = t->child[below(&t->rng, MAX_CHILDREN)];
		return p > 0 ? p : getpid();
	default:
		return getpid();
	}
}

static uint32_t pick_ttl(struct thr *t)
{
	static const uint32_t ttls[] = {
		0, 0, 0, 1, 5, 50, 200, 1000, 3000, 10000, 60000, UINT32_MAX, 0x80000000u,
	};

	if (chance(&t->rng, 5))
		return (uint32_t)rnd(&t->rng);
	return ttls[below(&t->rng, ARRAY_SIZE(ttls))];
}

/*
 * Shares for pid 1 and for the main process (which outlives the workers
 * and knows only the cookies still in the ring) stay until their TTL runs
 * out: keep those short, so that the run leaves nothing pending.
 */
static uint32_t fix_ttl(struct thr *t, pid_t target, uint32_t ttl)
{
	if ((target == 1 || target == sh->main_pid) && (ttl == 0 || ttl > 2000))
		return 1 + below(&t->rng, 2000);
	return ttl;
}

/* Mostly zero, sometimes one random bit or garbage. */
static uint32_t pick_bits(struct thr *t, uint32_t valid)
{
	switch (below(&t->rng, 12)) {
	case 0:
		return 1u << below(&t->rng, 32);
	case 1:
		return (uint32_t)rnd(&t->rng);
	case 2: case 3: case 4:
		return valid;
	default:
		return 0;
	}
}

/* ---- the commands ---------------------------------------------------- */

static void check_redeemed(struct thr *t, int fd, const struct snap *s, bool cloexec,
			   const char *how)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st)) {
		violation("%s returned %d, which is not an open fd", how, fd);
		return;
	}
	if (!S_ISSOCK(st.st_mode))
		violation("%s returned fd %d of mode %o, not a socket", how, fd, st.st_mode);
	if (s) {
		if (s->target != getpid())
			violation("%s: process %d redeemed a cookie for %d", how,
				  getpid(), s->target);
		if (s->ino && s->ino != (uint64_t)st.st_ino)
			violation("%s: inode %" PRIu64 " != shared %" PRIu64, how,
				  (uint64_t)st.st_ino, s->ino);
		if (s->consumed_before)
			violation("%s: redeemed a cookie consumed before", how);
		rec_consume(s, how);
	} else {
		violation("%s accepted a cookie nobody shared", how);
	}
	fl = fcntl(fd, F_GETFD);
	if (fl >= 0 && !!(fl & FD_CLOEXEC) != cloexec)
		violation("%s: FD_CLOEXEC is %d, asked %d", how, !!(fl & FD_CLOEXEC), cloexec);
	/* Keep it around sometimes: redeemed sockets get shared again. */
	if (chance(&t->rng, 40))
		pool_set(t, below(&t->rng, POOL), fd);
	else
		close(fd);
}

static void do_share(struct thr *t)
{
	struct sockdup_share a = { 0 };
	uint64_t ino;
	long ret;
	int err;

	a.flags = pick_bits(t, SOCKDUP_SHARE_FLAGS);
	a.fd = pick_fd(t, &ino, true);
	a.target_pid = pick_target(t);
	a.ttl_ms = fix_ttl(t, a.target_pid, pick_ttl(t));
	if (chance(&t->rng, 3))
		a.cookie[below(&t->rng, SOCKDUP_COOKIE_SIZE)] = 1;
	if (chance(&t->rng, 3))
		a.id = rnd(&t->rng);
	ret = ioctl(t->dev, SOCKDUP_IOC_SHARE, &a);
	err = errno;
	check_errno(OP_SHARE, "", allowed(_IOC_NR(SOCKDUP_IOC_SHARE)), ret, err);
	if (ret > 0)
		violation("SHARE returned %ld", ret);
	if (ret == 0) {
		static const unsigned char zero[SOCKDUP_COOKIE_SIZE];

		if (!memcmp(a.cookie, zero, sizeof(zero)))
			violation("SHARE returned an all-zero cookie");
		rec_add(a.cookie, a.target_pid, ino);
	}
}

/* A cookie argument: remembered (mostly ours), mutated, random or zero. */
static bool pick_cookie(struct thr *t, unsigned char *c, struct snap *s)
{
	switch (below(&t->rng, 20)) {
	case 0:
		memset(c, 0, SOCKDUP_COOKIE_SIZE);
		return false;
	case 1: case 2:
		for (int i = 0; i < SOCKDUP_COOKIE_SIZE; i++)
			c[i] = (unsigned char)rnd(&t->rng);
		return false;
	case 3:
		if (!rec_pick(&t->rng, s, false))
			return false;
		memcpy(c, s->cookie, SOCKDUP_COOKIE_SIZE);
		c[below(&t->rng, SOCKDUP_COOKIE_SIZE)] ^= 1u << below(&t->rng, 8);
		return false;
	case 4: case 5: case 6: case 7:
		if (!rec_pick(&t->rng, s, false))
			return false;
		break;
	default:
		if (!rec_pick(&t->rng, s, true))
			return false;
		break;
	}
	memcpy(c, s->cookie, SOCKDUP_COOKIE_SIZE);
	return true;
}

static void do_redeem(struct thr *t)
{
	struct sockdup_redeem a = { 0 };
	struct snap s;
	bool known;
	long ret;
	int err;

	known = pick_cookie(t, a.cookie, &s);
	a.flags = pick_bits(t, SOCKDUP_REDEEM_FLAGS);
	if (chance(&t->rng, 4))
		a.reserved = (uint32_t)rnd(&t->rng) | 1;
	ret = ioctl(t->dev, SOCKDUP_IOC_REDEEM, &a);
	err = errno;
	check_errno(OP_REDEEM, "", allowed(_IOC_NR(SOCKDUP_IOC_REDEEM)), ret, err);
	if (ret >= 0) {
		if (a.flags & ~SOCKDUP_REDEEM_FLAGS || a.reserved)
			violation("REDEEM accepted flags %#x reserved %#x", a.flags, a.reserved);
		check_redeemed(t, (int)ret, known ? &s : NULL,
			       a.flags & SOCKDUP_REDEEM_CLOEXEC, "REDEEM");
	}
}

static void do_revoke(struct thr *t)
{
	struct sockdup_revoke a = { 0 };
	struct snap s;
	bool known;
	long ret;
	int err;

	known = pick_cookie(t, a.cookie, &s);
	a.flags = pick_bits(t, SOCKDUP_REVOKE_FLAGS);
	if (chance(&t->rng, 4))
		a.reserved = (uint32_t)rnd(&t->rng) | 1;
	ret = ioctl(t->dev, SOCKDUP_IOC_REVOKE, &a);
	err = errno;
	check_errno(OP_REVOKE, "", allowed(_IOC_NR(SOCKDUP_IOC_REVOKE)), ret, err);
	if (ret > 0)
		violation("REVOKE returned %ld", ret);
	if (ret == 0) {
		if (!known)
			violation("REVOKE accepted a cookie nobody shared");
		else if (s.consumed_before)
			violation("REVOKE succeeded on a cookie consumed before");
		else
			rec_consume(&s, "REVOKE");
	}
}

static void do_query(struct thr *t)
{
	struct sockdup_query a = { 0 };
	struct snap s;
	bool known;
	long ret;
	int err;

	known = pick_cookie(t, a.cookie, &s);
	a.flags = pick_bits(t, SOCKDUP_QUERY_FLAGS);
	if (chance(&t->rng, 4))
		a.reserved = 1;
	if (chance(&t->rng, 4))
		a.info.nr_fds = 1;
	ret = ioctl(t->dev, SOCKDUP_IOC_QUERY, &a);
	err = errno;
	check_errno(OP_QUERY, "", allowed(_IOC_NR(SOCKDUP_IOC_QUERY)), ret, err);
	if (ret > 0)
		violation("QUERY returned %ld", ret);
	if (ret == 0) {
		if (!known)
			violation("QUERY accepted a cookie nobody shared");
		else if (s.consumed_before)
			violation("QUERY found a cookie consumed before");
		else if (s.ino && a.info.sock_ino != s.ino)
			violation("QUERY: sock_ino %llu != %" PRIu64,
				  (unsigned long long)a.info.sock_ino, s.ino);
		if (a.info.nr_fds != 1 || a.info.reserved)
			violation("QUERY: nr_fds %u reserved %u", a.info.nr_fds, a.info.reserved);
	}
}

static void do_stats(struct thr *t)
{
	struct sockdup_stats a = { 0 };
	long ret;
	int err;

	a.flags = pick_bits(t, SOCKDUP_STATS_FLAGS);
	if (chance(&t->rng, 4))
		a.reserved = 1;
	if (chance(&t->rng, 4))
		a.pending = 1;
	ret = ioctl(t->dev, SOCKDUP_IOC_STATS, &a);
	err = errno;
	check_errno(OP_STATS, "", allowed(_IOC_NR(SOCKDUP_IOC_STATS)), ret, err);
	if (ret > 0)
		violation("STATS returned %ld", ret);
}

static void do_list(struct thr *t)
{
	struct sockdup_share_info *e = (void *)t->buf;
	struct sockdup_list a = { 0 };
	unsigned int max = ARGBUF / sizeof(*e), i;
	long ret;
	int err;

	a.flags = pick_bits(t, SOCKDUP_LIST_FLAGS);
	switch (below(&t->rng, 8)) {
	case 0:
		a.entry_size = below(&t->rng, sizeof(*e));
		break;
	case 1:
		a.entry_size = sizeof(*e) + 8 * below(&t->rng, 4);
		break;
	default:
		a.entry_size = sizeof(*e);
	}
	a.capacity = below(&t->rng, 4) ? below(&t->rng, 64) : (uint32_t)rnd(&t->rng);
	switch (below(&t->rng, 10)) {
	case 0:
		a.entries = 0;
		break;
	case 1:	/* runs into the guard page after a few records */
		a.entries = (uintptr_t)t->buf + ARGBUF - 3 * sizeof(*e);
		a.capacity = 16;
		break;
	case 2:
		a.entries = 0xffff888000000000ULL;
		break;
	default:
		a.entries = (uintptr_t)e;
		if (a.capacity * (uint64_t)a.entry_size > ARGBUF && a.entry_size)
			a.capacity = ARGBUF / a.entry_size;
	}
	if (chance(&t->rng, 4))
		a.count = 1;
	if (chance(&t->rng, 4))
		a.total = 1;
	ret = ioctl(t->dev, SOCKDUP_IOC_LIST, &a);
	err = errno;
	check_errno(OP_LIST, "", allowed(_IOC_NR(SOCKDUP_IOC_LIST)), ret, err);
	if (ret > 0)
		violation("LIST returned %ld", ret);
	if (ret == 0) {
		if (a.count > a.capacity || a.count > a.total)
			violation("LIST: count %u capacity %u total %llu", a.count, a.capacity,
				  (unsigned long long)a.total);
		if (a.entries == (uintptr_t)e && a.entry_size == sizeof(*e))
			for (i = 0; i < a.count && i < max; i++)
				if (e[i].nr_fds != 1 || e[i].reserved)
					violation("LIST: record %u nr_fds %u reserved %u",
						  i, e[i].nr_fds, e[i].reserved);
	}
}

static const unsigned long cmds[] = {
	SOCKDUP_IOC_SHARE, SOCKDUP_IOC_REDEEM, SOCKDUP_IOC_REVOKE,
	SOCKDUP_IOC_QUERY, SOCKDUP_IOC_STATS, SOCKDUP_IOC_LIST,
};
#define NR_CMDS ARRAY_SIZE(cmds)

/* Random but plausible contents for command @cmd in t->buf. */
static void fill_arg(struct thr *t, unsigned long cmd, unsigned char *p)
{
	struct snap s;

	memset(p, 0, 128);
	if (chance(&t->rng, 20)) {
		for (int i = 0; i < 128; i++)
			p[i] = chance(&t->rng, 50) ? 0 : (unsigned char)rnd(&t->rng);
		return;
	}
	if (cmd == SOCKDUP_IOC_SHARE) {
		struct sockdup_share *a = (void *)p;
		uint64_t ino;

		a->fd = pick_fd(t, &ino, true);
		a->target_pid = pick_target(t);
		a->ttl_ms = fix_ttl(t, a->target_pid, pick_ttl(t));
	} else if (cmd != SOCKDUP_IOC_STATS && cmd != SOCKDUP_IOC_LIST) {
		/* redeem, revoke and query start with flags, reserved, cookie */
		if (rec_pick(&t->rng, &s, true))
			memcpy(p + 8, s.cookie, SOCKDUP_COOKIE_SIZE);
	} else if (cmd == SOCKDUP_IOC_LIST) {
		struct sockdup_list *a = (void *)p;

		a->entry_size = sizeof(struct sockdup_share_info);
	}
}

/* After a call that did something unexpected: close any fd it returned. */
static void drop_fd(long ret)
{
	if (ret > 2)
		close((int)ret);
}

/* A valid command with a larger size: zero tail works, non-zero -> E2BIG. */
static void do_extended(struct thr *t)
{
	unsigned long cmd = cmds[below(&t->rng, NR_CMDS)];
	unsigned int base = _IOC_SIZE(cmd), size;
	bool dirty;
	long ret;
	int err;

	switch (below(&t->rng, 4)) {
	case 0:
		size = base + 8;
		break;
	case 1:
		size = base + 8 * (1 + below(&t->rng, 64));
		break;
	case 2:
		size = 4096 + below(&t->rng, 8);
		break;
	default:
		size = (1u << _IOC_SIZEBITS) - 1 - below(&t->rng, 16);
	}
	fill_arg(t, cmd, t->buf);
	memset(t->buf + base, 0, size - base);
	dirty = chance(&t->rng, 50);
	if (dirty)
		t->buf[base + below(&t->rng, size - base)] = 1 + below(&t->rng, 255);
	cmd = _IOC(_IOC_DIR(cmd), SOCKDUP_IOC_MAGIC, _IOC_NR(cmd), size);
	ret = ioctl(t->dev, cmd, t->buf);
	err = errno;
	if (dirty) {
		check_errno(OP_EXTENDED, "non-zero tail",
			    E(E2BIG) | E(EINVAL) | E(ENOTTY) | E(EFAULT), ret, err);
		if (ret >= 0) {
			violation("cmd %#lx (size %u) accepted a non-zero unknown tail", cmd, size);
			drop_fd(ret);
		}
		return;
	}
	check_errno(OP_EXTENDED, "zero tail", allowed(_IOC_NR(cmd)) | E(ENOTTY), ret, err);
	if (ret > 0 && _IOC_NR(cmd) == _IOC_NR(SOCKDUP_IOC_REDEEM))
		close((int)ret);	/* checked by do_redeem; no snapshot here */
	else if (ret == 0 && _IOC_NR(cmd) == _IOC_NR(SOCKDUP_IOC_SHARE)) {
		struct sockdup_share *a = (void *)t->buf;

		rec_add(a->cookie, a->target_pid, 0);
	}
}

/* The size of the first version of command @nr's structure. */
static unsigned int first_size(unsigned long cmd)
{
	switch (_IOC_NR(cmd)) {
	case _IOC_NR(SOCKDUP_IOC_SHARE):
		return SOCKDUP_SHARE_SIZE_VER0;
	case _IOC_NR(SOCKDUP_IOC_REDEEM):
		return SOCKDUP_REDEEM_SIZE_VER0;
	case _IOC_NR(SOCKDUP_IOC_REVOKE):
		return SOCKDUP_REVOKE_SIZE_VER0;
	case _IOC_NR(SOCKDUP_IOC_QUERY):
		return SOCKDUP_QUERY_SIZE_VER0;
	}
	return _IOC_SIZE(cmd);
}

/* A valid number with a smaller size, another direction or another magic. */
static void do_mangled(struct thr *t)
{
	unsigned long cmd = cmds[below(&t->rng, NR_CMDS)], m;
	unsigned int size = _IOC_SIZE(cmd), dir = _IOC_DIR(cmd), type = SOCKDUP_IOC_MAGIC;
	long ret;
	int err;

	switch (below(&t->rng, 4)) {
	case 0:
		size = below(&t->rng, size);
		break;
	case 1:
		dir = (dir + 1 + below(&t->rng, 3)) & 3;
		break;
	case 2:
		type = (type + 1 + below(&t->rng, 255)) & 0xff;
		break;
	default:
		size = below(&t->rng, size);
		dir = below(&t->rng, 4);
	}
	m = _IOC(dir, type, _IOC_NR(cmd), size);
	if (m == cmd)
		return;
	fill_arg(t, cmd, t->buf);
	ret = ioctl(t->dev, m, t->buf);
	err = errno;
	/* a smaller size a first version had is that version's command */
	if (dir == _IOC_DIR(cmd) && type == SOCKDUP_IOC_MAGIC &&
	    size >= first_size(cmd)) {
		check_errno(OP_MANGLED, "first version", allowed(_IOC_NR(cmd)),
			    ret, err);
		return;
	}
	check_errno(OP_MANGLED, "", E(ENOTTY) | E(EINVAL) | E(EFAULT), ret, err);
	if (ret >= 0) {
		violation("mangled cmd %#lx (from %#lx) accepted, returned %ld", m, cmd, ret);
		drop_fd(ret);
	}
}

static void do_random(struct thr *t)
{
	unsigned long cmd;
	long ret;
	int err;

	if (chance(&t->rng, 50))
		cmd = _IOC(below(&t->rng, 4), SOCKDUP_IOC_MAGIC, 6 + below(&t->rng, 250),
			   below(&t->rng, 256));
	else
		cmd = (uint32_t)rnd(&t->rng);
	for (unsigned int i = 0; i < NR_CMDS; i++)
		if (_IOC_TYPE(cmd) == SOCKDUP_IOC_MAGIC && _IOC_NR(cmd) == _IOC_NR(cmds[i]))
			return;		/* that is do_extended's / do_mangled's job */
	memset(t->buf, 0, 256);
	if (chance(&t->rng, 50))
		ret = ioctl(t->dev, cmd, t->buf);
	else
		ret = ioctl(t->dev, cmd, (void *)(uintptr_t)rnd(&t->rng));
	err = errno;
	/* The VFS handles a few generic numbers (FIONBIO, FIOCLEX...) itself. */
	if (_IOC_TYPE(cmd) != SOCKDUP_IOC_MAGIC) {
		count(OP_RANDOM, ret, err);
		return;
	}
	check_errno(OP_RANDOM, "", E(ENOTTY), ret, err);
	if (ret >= 0) {
		violation("unknown cmd %#lx accepted", cmd);
		drop_fd(ret);
	}
}

/* Valid commands whose argument is not (wholly) readable or writable. */

/*
 * Is @p where the main thread's stack is or may grow to (its VMA and
 * RLIMIT_STACK below its top)?  A fault there maps a page, so an ioctl
 * given such a pointer may rightly succeed.
 */
static bool in_stack_zone(uintptr_t p)
{
	static uintptr_t lo, hi;
	static bool known;

	if (!known) {
		struct rlimit rl = { 0 };
		unsigned long a, b;
		char line[256];
		FILE *f = fopen("/proc/self/maps", "r");

		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "[stack]") &&
			    sscanf(line, "%lx-%lx", &a, &b) == 2) {
				hi = b;
				getrlimit(RLIMIT_STACK, &rl);
				lo = rl.rlim_cur == RLIM_INFINITY ||
				     rl.rlim_cur > b - 65536 ?
				     0 : b - rl.rlim_cur - 65536;
			}
		if (f)
			fclose(f);
		known = true;
	}
	return p >= lo && p < hi;
}
static void do_badptr(struct thr *t)
{
	unsigned long cmd = cmds[below(&t->rng, NR_CMDS)];
	unsigned int size = _IOC_SIZE(cmd);
	unsigned char mapped;
	void *p;
	long ret;
	int err;

	switch (below(&t->rng, 6)) {
	case 0:
		p = NULL;
		break;
	case 1:
		p = (void *)(uintptr_t)1;
		break;
	case 2:
		p = (void *)0xffff888000000000ULL;
		break;
	case 3:
		/*
		 * a random address, drawn again while it lands in a mapped
		 * page (in a 32-bit process a good share of them would) or
		 * where the main stack may grow, which a fault would map
		 */
		do
			p = (void *)(uintptr_t)rnd(&t->rng);
		while (!mincore((void *)((uintptr_t)p & ~(uintptr_t)4095), 1,
				&mapped) ||
		       in_stack_zone((uintptr_t)p));
		break;
	case 4:	/* straddles the guard page */
		p = t->buf + ARGBUF - 1 - below(&t->rng, size - 1);
		break;
	default: /* readable, not writable: _IOWR commands must undo and EFAULT */
		fill_arg(t, cmd, t->ro);
		p = t->ro;
		mprotect(t->ro, 4096, PROT_READ);
		break;
	}
	ret = ioctl(t->dev, cmd, p);
	err = errno;
	if (p == t->ro)
		mprotect(t->ro, 4096, PROT_READ | PROT_WRITE);
	check_errno(OP_BADPTR, "", allowed(_IOC_NR(cmd)), ret, err);
	if (ret < 0)
		return;
	if (p != t->ro) {
		violation("cmd %#lx with pointer %p succeeded", cmd, p);
		drop_fd(ret);
	} else if (_IOC_DIR(cmd) & _IOC_READ) {
		violation("cmd %#lx could not write its result but succeeded", cmd);
	} else if (cmd == SOCKDUP_IOC_REDEEM) {
		close((int)ret);
	}
}

/*
 * Valid commands on descriptors of other kinds (sockets, pipes, memfds,
 * closed numbers): whatever those files answer is fine, only count it.
 */
static void do_wrong_file(struct thr *t)
{
	unsigned long cmd = cmds[below(&t->rng, NR_CMDS)];
	uint64_t ino;
	long ret;
	int fd = pick_fd(t, &ino, false);

	fill_arg(t, cmd, t->buf);
	ret = ioctl(fd, cmd, t->buf);
	count(OP_WRONG_FILE, ret, errno);
	if (ret >= 0 && cmd == SOCKDUP_IOC_REDEEM)
		drop_fd(ret);	/* fd was another /dev/sockdup: fine */
}

/*
 * Read the events of the thread's /dev/sockdup file (shares end all the
 * time: redeemed, revoked, expired, reaped, and the file is replaced with
 * shares pending) with sizes around a record's, sometimes into a
 * PROT_NONE page; every record read must be well formed.
 */
static void do_events(struct thr *t)
{
	const size_t rs = sizeof(struct sockdup_event);
	const size_t sizes[] = { 0, 1, rs - 1, rs, rs + 7, 4 * rs, 100 * rs };
	struct sockdup_event ev;
	size_t len = sizes[below(&t->rng, ARRAY_SIZE(sizes))];
	bool bad = chance(&t->rng, 5);
	ssize_t n = read(t->dev, bad ? t->buf + ARGBUF : t->buf, len);
	int err = errno;

	if (n < 0) {
		check_errno(OP_EVENTS, "", E(EAGAIN) |
			    (len < rs ? E(EINVAL) : 0) | (bad ? E(EFAULT) : 0),
			    n, err);
		return;
	}
	count(OP_EVENTS, n, 0);
	if (!n || n % rs || (size_t)n > len) {
		violation("EVENTS: read %zu bytes returned %zd", len, n);
		return;
	}
	for (ssize_t off = 0; off < n; off += rs) {
		memcpy(&ev, t->buf + off, rs);
		if (ev.size != rs || ev.pid < 0 ||
		    (ev.flags & ~SOCKDUP_EVENT_DECLINED) ||
		    (ev.flags && ev.type != SOCKDUP_EVENT_REVOKED) ||
		    (ev.type == SOCKDUP_EVENT_OVERFLOW ?
		     ev.id || !ev.lost : !ev.id || ev.lost) ||
		    ev.type < SOCKDUP_EVENT_REDEEMED ||
		    ev.type > SOCKDUP_EVENT_OVERFLOW ||
		    ev.type == SOCKDUP_EVENT_UNLOADED)
			violation("bad event: size %u type %u id %llu pid %d flags %#x lost %llu",
				  ev.size, ev.type, (unsigned long long)ev.id,
				  ev.pid, ev.flags, (unsigned long long)ev.lost);
	}
}

/* ---- forked children that redeem and die at random moments ----------- */

struct gift {
	int slot;
	uint32_t gen;
	unsigned char cookie[SOCKDUP_COOKIE_SIZE];
	uint64_t ino;
};

static void maybe_exit(struct rng *r)
{
	if (chance(r, 8))
		_exit(0);
}

static void child_main(struct thr *t, int rd)
{
	struct pollfd p = { .fd = rd, .events = POLLIN };
	struct gift g[8];
	int n = 0, i, fd;
	bool limited = false;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	t->rng.s ^= 0x5bd1e995ULL * (uint64_t)getpid();
	maybe_exit(&t->rng);
	if (chance(&t->rng, 25)) {
		/* Fill the fd table: REDEEM must fail with EMFILE, cookie intact. */
		struct rlimit rl;

		fd = dup(0);
		if (fd >= 0) {
			close(fd);
			rl.rlim_cur = rl.rlim_max = fd;
			limited = !setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	while (n < 8 && poll(&p, 1, 500) > 0) {
		if (read(rd, &g[n], sizeof(g[n])) != sizeof(g[n]))
			break;
		n++;
	}
	for (i = 0; i < n; i++) {
		struct sockdup_redeem a = { .flags = SOCKDUP_REDEEM_CLOEXEC };
		struct snap s = { .slot = g[i].slot, .gen = g[i].gen, .target = getpid(),
				  .ino = g[i].ino };
		long ret;
		int err;

		maybe_exit(&t->rng);
		memcpy(a.cookie, g[i].cookie, SOCKDUP_COOKIE_SIZE);
		if (chance(&t->rng, 20)) {
			struct sockdup_revoke v = { 0 };

			memcpy(v.cookie, g[i].cookie, SOCKDUP_COOKIE_SIZE);
			ret = ioctl(t->dev, SOCKDUP_IOC_REVOKE, &v);
			err = errno;
			check_errno(OP_CHILD_REDEEM, "decline",
				    allowed(_IOC_NR(SOCKDUP_IOC_REVOKE)), ret, err);
			if (ret == 0)
				rec_consume(&s, "child REVOKE");
			continue;
		}
		if (chance(&t->rng, 20))
			continue;	/* leave it pending: reaped when we exit */
		ret = ioctl(t->dev, SOCKDUP_IOC_REDEEM, &a);
		err = errno;
		check_errno(OP_CHILD_REDEEM, "", allowed(_IOC_NR(SOCKDUP_IOC_REDEEM)), ret, err);
		if (ret < 0 && err == EMFILE) {
			struct rlimit rl = { 4096, 4096 };

			if (!limited)
				violation("child REDEEM: EMFILE without a limit");
			atomic_fetch_add(&sh->emfile_retries, 1);
			setrlimit(RLIMIT_NOFILE, &rl);
			limited = false;
			ret = ioctl(t->dev, SOCKDUP_IOC_REDEEM, &a);
			err = errno;
			count(OP_CHILD_REDEEM, ret, err);
			if (ret < 0 && err != ENOENT)
				violation("child REDEEM after EMFILE: %s", strerror(err));
			if (ret < 0 && err == ENOENT) {
				/*
				 * Fine if the sharer revoked it meanwhile; give the
				 * revoking thread time to note that it did.
				 */
				struct snap now;

				sd_sleep_ms(sd_ms(1000));
				if (rec_read(s.slot, &now) && now.gen == s.gen &&
				    !now.consumed_before)
					violation("child REDEEM: EMFILE consumed the cookie");
			}
		}
		if (ret >= 0)
			check_redeemed(t, (int)ret, &s, true, "child REDEEM");
	}
	/* Hand one socket back to the parent worker, then go away. */
	if (chance(&t->rng, 30)) {
		struct sockdup_share a = { .target_pid = getppid(), .ttl_ms = 5000 };
		int sp[2];

		if (!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) {
			a.fd = sp[0];
			if (!ioctl(t->dev, SOCKDUP_IOC_SHARE, &a))
				rec_add(a.cookie, a.target_pid, sock_ino(sp[0]));
		}
	}
	_exit(0);
}

static void reap_children(struct thr *t, bool all)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (t->child[i] <= 0)
			continue;
		if (all)
			kill(t->child[i], SIGKILL);
		if (waitpid(t->child[i], NULL, all ? 0 : WNOHANG) == t->child[i])
			t->child[i] = 0;
	}
}

static void do_child(struct thr *t)
{
	int slot, pfd[2], i, n;
	pid_t pid;

	reap_children(t, false);
	for (slot = 0; slot < MAX_CHILDREN && t->child[slot] > 0; slot++)
		;
	if (slot == MAX_CHILDREN || pipe2(pfd, O_CLOEXEC))
		return;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		close(pfd[1]);
		child_main(t, pfd[0]);
	}
	close(pfd[0]);
	t->child[slot] = pid;
	atomic_fetch_add(&sh->forks, 1);
	n = below(&t->rng, 5);
	for (i = 0; i < n; i++) {
		struct sockdup_share a = { .ttl_ms = 60000, .target_pid = pid };
		struct gift g;
		uint64_t ino;
		long ret;

		a.fd = pick_fd(t, &ino, true);
		ret = ioctl(t->dev, SOCKDUP_IOC_SHARE, &a);
		check_errno(OP_SHARE, "to child", allowed(_IOC_NR(SOCKDUP_IOC_SHARE)), ret, errno);
		if (ret)
			continue;
		rec_add(a.cookie, pid, ino);
		/* The record just added is the newest one with this cookie. */
		g.slot = (int)((atomic_load(&sh->nrec) - 1) % RING);
		g.gen = atomic_load(&sh->ring[g.slot].seq) / 2;
		if (memcmp(sh->ring[g.slot].cookie, a.cookie, SOCKDUP_COOKIE_SIZE))
			g.gen = 0;	/* raced with another writer: untracked */
		memcpy(g.cookie, a.cookie, SOCKDUP_COOKIE_SIZE);
		g.ino = ino;
		if (write(pfd[1], &g, sizeof(g)) != sizeof(g))
			break;
	}
	close(pfd[1]);
	if (chance(&t->rng, 30)) {
		usleep(below(&t->rng, 3000));
		kill(pid, SIGKILL);
		atomic_fetch_add(&sh->kills, 1);
	}
}

/* ---- workers ----------------------------------------------------------- */

static void churn(struct thr *t)
{
	int slot = below(&t->rng, POOL);

	switch (below(&t->rng, 6)) {
	case 0:	/* dup2 over another slot: same file, other number */
		if (t->fd[slot] >= 0) {
			int other = (slot + 1 + below(&t->rng, POOL - 1)) % POOL;
			int fd = dup(t->fd[slot]);

			if (fd >= 0)
				pool_set(t, other, fd);
		}
		break;
	case 1:
		if (t->fd[slot] >= 0)
			shutdown(t->fd[slot], SHUT_RDWR);
		break;
	case 2: { /* a fresh /dev/sockdup; the old one closes with shares pending */
		int fd = open(SOCKDUP_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);

		if (fd >= 0) {
			close(t->dev);
			t->dev = fd;
		}
		break;
	}
	default:
		pool_new(t, slot);
	}
}

static bool keep_going(struct thr *t, uint64_t deadline)
{
	if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
		return false;
	if ((t->iters & 63) == 0 && now_ms() >= deadline)
		return false;
	if (sh->max_iterations &&
	    atomic_fetch_add_explicit(&sh->iterations, 1, memory_order_relaxed) >=
	    sh->max_iterations)
		return false;
	if (!sh->max_iterations)
		atomic_fetch_add_explicit(&sh->iterations, 1, memory_order_relaxed);
	return true;
}

static uint64_t g_deadline;

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	int i;

	t->buf = mmap(NULL, ARGBUF + 4096 * 2, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->buf == MAP_FAILED || t->ro == MAP_FAILED) {
		violation("mmap failed: %s", strerror(errno));
		return NULL;
	}
	/* Make the byte right after ARGBUF the start of a PROT_NONE page. */
	t->buf += 4096 - (ARGBUF % 4096);
	mprotect(t->buf + ARGBUF, 4096, PROT_NONE);

	/* Non-blocking: do_events() reads it, and children share the file. */
	t->dev = open(SOCKDUP_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (t->dev < 0) {
		violation("open %s: %s", SOCKDUP_DEVICE, strerror(errno));
		return NULL;
	}
	{
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		t->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (t->listener >= 0 &&
		    (bind(t->listener, (struct sockaddr *)&a, sizeof(a)) ||
		     listen(t->listener, 64))) {
			close(t->listener);
			t->listener = -1;
		}
	}
	for (i = 0; i < POOL; i++)
		t->fd[i] = -1;
	for (i = 0; i < POOL; i++)
		if (t->fd[i] < 0)
			pool_new(t, i);

	while (keep_going(t, g_deadline)) {
		unsigned int w = below(&t->rng, 1000);

		t->iters++;
		if (w < 280)
			do_share(t);
		else if (w < 520)
			do_redeem(t);
		else if (w < 600)
			do_revoke(t);
		else if (w < 680)
			do_query(t);
		else if (w < 710)
			do_stats(t);
		else if (w < 750)
			do_list(t);
		else if (w < 800)
			do_extended(t);
		else if (w < 840)
			do_mangled(t);
		else if (w < 870)
			do_random(t);
		else if (w < 900)
			do_badptr(t);
		else if (w < 910)
			do_wrong_file(t);
		else if (w < 925)
			do_child(t);
		else if (w < 945)
			do_events(t);
		else
			churn(t);
	}
	reap_children(t, true);
	for (i = 0; i < POOL; i++)
		pool_set(t, i, -1);
	if (t->listener >= 0)
		close(t->listener);
	close(t->dev);
	return NULL;
}

static void worker_main(int proc, uint64_t seed, int nthreads)
{
	pthread_t tid[MAX_THREADS];
	struct thr *t = calloc(nthreads, sizeof(*t));
	int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!t)
		_exit(1);
	for (i = 0; i < nthreads; i++) {
		uint64_t x = seed ^ ((uint64_t)(proc + 1) << 32) ^ (uint64_t)(i + 1);

		t[i].rng.s = splitmix(&x);
		t[i].proc = proc;
		t[i].idx = i;
	}
	for (i = 1; i < nthreads; i++)
		if (pthread_create(&tid[i], NULL, thread_main, &t[i]))
			violation("pthread_create failed");
	thread_main(&t[0]);
	for (i = 1; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	_exit(0);
}

/* ---- module parameters (--params) ------------------------------------- */

static const char *const params[] = {
	"max_per_user", "max_total", "default_ttl_ms", "max_ttl_ms",
};
#define NR_PARAMS ARRAY_SIZE(params)
static char param_saved[NR_PARAMS][32];

static int param_path(char *buf, size_t len, int i)
{
	return snprintf(buf, len, "/sys/module/sockdup/parameters/%s", params[i]);
}

static void param_io(int i, char *val, bool write_it)
{
	char path[128];
	int fd;
	ssize_t r;

	param_path(path, sizeof(path), i);
	fd = open(path, write_it ? O_WRONLY : O_RDONLY);
	if (fd < 0) {
		if (!write_it)
			val[0] = '\0';
		return;
	}
	if (write_it) {
		r = write(fd, val, strlen(val));
	} else {
		r = read(fd, val, 31);
		val[r > 0 ? r : 0] = '\0';
		val[strcspn(val, "\n")] = '\0';
	}
	close(fd);
}

static void params_twiddle(struct rng *r)
{
	/* Small caps make EDQUOT and ENOSPC common; TTLs stay usable. */
	static const char *const vals[NR_PARAMS][3] = {
		{ "2", "10", "100" },		/* max_per_user */
		{ "3", "50", "1000" },		/* max_total */
		{ "1", "100", "2000" },		/* default_ttl_ms */
		{ "1000", "10000", "60000" },	/* max_ttl_ms */
	};
	unsigned int i = below(r, NR_PARAMS);
	char v[32];

	if (!param_saved[i][0])
		return;
	if (chance(r, 50))
		snprintf(v, sizeof(v), "%s", param_saved[i]);
	else
		snprintf(v, sizeof(v), "%s", vals[i][below(r, 3)]);
	param_io(i, v, true);
}

/* ---- main ---------------------------------------------------------------- */

static int do_stats_main(int dev, struct sockdup_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(dev, SOCKDUP_IOC_STATS, st);
}

static bool books_balance(const struct sockdup_stats *st)
{
	return st->shared == st->redeemed + st->expired + st->revoked + st->reaped + st->pending;
}

/*
 * Redeem what was shared to the main process; then every share of the run
 * must go: those of exited targets by reaping, those for pid 1 by their
 * short TTL.  Nothing of the run may stay pending beyond @base.
 */
static void final_checks(int dev, uint64_t base)
{
	struct sockdup_share_info *e;
	struct sockdup_list l;
	struct sockdup_stats st;
	uint64_t t0 = now_ms(), n = atomic_load(&sh->nrec);
	unsigned int i, dead = 0;
	int redeemed = 0;

	for (i = 0; i < RING && i < n; i++) {
		struct snap s;
		struct sockdup_redeem a = { 0 };
		long ret;

		if (!rec_read(i, &s) || s.target != getpid())
			continue;
		memcpy(a.cookie, s.cookie, SOCKDUP_COOKIE_SIZE);
		ret = ioctl(dev, SOCKDUP_IOC_REDEEM, &a);
		count(OP_REDEEM, ret, errno);
		if (ret >= 0) {
			if (s.consumed_before)
				violation("final REDEEM of a cookie consumed before");
			rec_consume(&s, "final REDEEM");
			close((int)ret);
			redeemed++;
		} else if (errno != ENOENT) {
			violation("final REDEEM: %s", strerror(errno));
		}
	}
	ksft_print_msg("redeemed %d shares left for the main process\n", redeemed);

	e = calloc(4096, sizeof(*e));
	if (!e)
		return;
	for (;;) {
		memset(&l, 0, sizeof(l));
		l.entry_size = sizeof(*e);
		l.entries = (uintptr_t)e;
		l.capacity = 4096;
		if (ioctl(dev, SOCKDUP_IOC_LIST, &l)) {
			violation("final LIST: %s", strerror(errno));
			break;
		}
		for (dead = 0, i = 0; i < l.count; i++)
			dead += e[i].target_pid == 0;
		if ((!dead && l.total <= base) || now_ms() - t0 >= (uint64_t)REAP_TIMEOUT_S * 1000)
			break;
		usleep(200000);
	}
	if (dead)
		violation("%u shares of exited targets still pending after %d s", dead,
			  REAP_TIMEOUT_S);
	else if (l.total > base)
		violation("%llu shares pending %d s after the run, %llu before it",
			  (unsigned long long)l.total, REAP_TIMEOUT_S, (unsigned long long)base);
	ksft_print_msg("pending after the run: %llu (%u listed), reaped within %.1f s\n",
		       (unsigned long long)l.total, l.count, (now_ms() - t0) / 1000.0);
	free(e);

	if (do_stats_main(dev, &st)) {
		violation("final STATS: %s", strerror(errno));
		return;
	}
	ksft_print_msg("stats: pending %llu shared %llu redeemed %llu expired %llu revoked %llu\n",
		       (unsigned long long)st.pending, (unsigned long long)st.shared,
		       (unsigned long long)st.redeemed, (unsigned long long)st.expired,
		       (unsigned long long)st.revoked);
	ksft_print_msg("stats: reaped %llu refused_user %llu refused_global %llu\n",
		       (unsigned long long)st.reaped, (unsigned long long)st.refused_user,
		       (unsigned long long)st.refused_global);
	if (!books_balance(&st))
		violation("counters do not balance: shared %llu != all outcomes + pending",
			  (unsigned long long)st.shared);
}

static void print_coverage(void)
{
	char line[1024];
	int op, o, len;

	ksft_print_msg("coverage (operation: outcome=count):\n");
	for (op = 0; op < NR_OPS; op++) {
		uint64_t total = 0;

		len = 0;
		for (o = 0; o < NR_OUT; o++) {
			uint64_t c = atomic_load(&sh->outcome[op][o]);
			const char *name;

			if (!c)
				continue;
			total += c;
			name = o == 0 ? "OK" : o == OUT_OTHER ? "other" : strerrorname_np(o);
			if (len < (int)sizeof(line) - 40)
				len += snprintf(line + len, sizeof(line) - len, " %s=%" PRIu64,
						name ? name : "?", c);
		}
		ksft_print_msg("  %-12s total=%-8" PRIu64 "%s\n", op_name[op], total,
			       len ? line : "");
	}
}

/* How to run the same fuzzing again: printed at the start and on failure. */
#define REPRODUCE_FMT \
	"reproduce: fuzz_test --seed %#" PRIx64 " --seconds %g --threads %d --procs %d%s\n"

static void print_usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--seed N] [--seconds S] [--iterations N] [--threads T] [--procs P]\n"
		"          [--params]\n", argv0);
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "threads", required_argument, NULL, 't' },
		{ "procs", required_argument, NULL, 'p' },
		{ "params", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	uint64_t seed = 0, iterations = 0, t0, w0, last_param = 0;
	double seconds = 10;
	int threads = 3, procs = 3, c, i, dev, status;
	bool twiddle = false, have_seed = false, stuck = false;
	struct sockdup_stats st0;
	struct rng prng;
	pid_t pid;

	if (getenv("SOCKDUP_FUZZ_SECONDS"))
		seconds = atof(getenv("SOCKDUP_FUZZ_SECONDS"));
	if (getenv("SOCKDUP_FUZZ_SEED")) {
		seed = strtoull(getenv("SOCKDUP_FUZZ_SEED"), NULL, 0);
		have_seed = true;
	}
	if (getenv("SOCKDUP_FUZZ_THREADS"))
		threads = atoi(getenv("SOCKDUP_FUZZ_THREADS"));
	if (getenv("SOCKDUP_FUZZ_PROCS"))
		procs = atoi(getenv("SOCKDUP_FUZZ_PROCS"));
	if (getenv("SOCKDUP_FUZZ_PARAMS"))
		twiddle = atoi(getenv("SOCKDUP_FUZZ_PARAMS")) != 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			have_seed = true;
			break;
		case 'S':
			seconds = atof(optarg);
			break;
		case 'i':
			iterations = strtoull(optarg, NULL, 0);
			break;
		case 't':
			threads = atoi(optarg);
			break;
		case 'p':
			procs = atoi(optarg);
			break;
		case 'P':
			twiddle = true;
			break;
		default:
			print_usage(argv[0]);
		}
	}
	if (threads < 1 || threads > MAX_THREADS || procs < 1 || procs > MAX_PROCS || seconds <= 0)
		print_usage(argv[0]);
	if (!have_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
	}

	ksft_print_header();
	ksft_set_plan(2);
	ksft_print_msg("seed=%#" PRIx64 " seconds=%g iterations=%" PRIu64
		       " threads=%d procs=%d%s\n",
		       seed, seconds, iterations, threads, procs, twiddle ? " params" : "");
	ksft_print_msg(REPRODUCE_FMT, seed, seconds, threads, procs,
		       twiddle ? " --params" : "");

	dev = open(SOCKDUP_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		ksft_test_result_skip("fuzz: cannot open %s: %s\n", SOCKDUP_DEVICE,
				      strerror(errno));
		ksft_test_result_skip("fuzz: books\n");
		ksft_finished();
	}
	if (do_stats_main(dev, &st0)) {
		ksft_test_result_fail("fuzz: STATS: %s\n", strerror(errno));
		ksft_test_result_skip("fuzz: books\n");
		ksft_finished();
	}

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	sh->max_iterations = iterations;
	sh->main_pid = getpid();
	sh->nprocs = procs;
	signal(SIGPIPE, SIG_IGN);
	prng.s = seed;

	if (twiddle)
		for (i = 0; i < (int)NR_PARAMS; i++)
			param_io(i, param_saved[i], false);

	t0 = now_ms();
	g_deadline = t0 + (uint64_t)(seconds * 1000);
	for (i = 0; i < procs; i++) {
		pid = fork();
		if (pid < 0)
			ksft_exit_fail_msg("fork: %s\n", strerror(errno));
		if (pid == 0)
			worker_main(i, seed, threads);
		atomic_store(&sh->worker[i], pid);
	}

	/* Wait for the deadline (or the iteration budget), tweaking limits. */
	while (now_ms() < g_deadline) {
		if (sh->max_iterations && atomic_load(&sh->iterations) >= sh->max_iterations)
			break;
		if (waitpid(-1, &status, WNOHANG) > 0 &&
		    !(WIFEXITED(status) && !WEXITSTATUS(status)))
			violation("a worker died: status %#x", status);
		if (twiddle && now_ms() - last_param > 500) {
			params_twiddle(&prng);
			last_param = now_ms();
		}
		usleep(50000);
	}
	atomic_store(&sh->stop, 1);
	if (twiddle)
		for (i = 0; i < (int)NR_PARAMS; i++)
			if (param_saved[i][0])
				param_io(i, param_saved[i], true);

	/*
	 * Workers stop within a call or two; one still running a minute
	 * (times the time factor) after the deadline means a kernel hang.
	 */
	w0 = now_ms();
	for (i = 0; i < procs; i++) {
		for (;;) {
			pid = waitpid(sh->worker[i], &status, WNOHANG);
			if (pid == sh->worker[i] || (pid < 0 && errno == ECHILD))
				break;
			if (now_ms() - w0 > (uint64_t)sd_ms(60000)) {
				violation("worker %d stuck for %d s after the deadline",
					  sh->worker[i], sd_ms(60000) / 1000);
				kill(sh->worker[i], SIGKILL);
				stuck = true;
				break;
			}
			usleep(20000);
		}
		if (pid == sh->worker[i] && WIFSIGNALED(status))
			violation("worker %d killed by signal %d", pid, WTERMSIG(status));
	}

	ksft_print_msg("%" PRIu64 " iterations in %.1f s (%.0f/s)\n",
		       (uint64_t)atomic_load(&sh->iterations), (now_ms() - t0) / 1000.0,
		       atomic_load(&sh->iterations) * 1000.0 / (double)(now_ms() - t0 + 1));
	ksft_print_msg("%" PRIu64 " cookies shared and remembered, %" PRIu64 " consumed, %"
		       PRIu64 " children forked, %" PRIu64 " killed, %" PRIu64 " EMFILE retries\n",
		       (uint64_t)atomic_load(&sh->nrec), (uint64_t)atomic_load(&sh->consumed_ok),
		       (uint64_t)atomic_load(&sh->forks), (uint64_t)atomic_load(&sh->kills),
		       (uint64_t)atomic_load(&sh->emfile_retries));
	if (!stuck)
		final_checks(dev, st0.pending);
	print_coverage();

	c = atomic_load(&sh->nviol);
	for (i = 0; i < c && i < MAX_VIOL; i++)
		ksft_print_msg("VIOLATION: %s\n", sh->viol[i]);
	if (c)
		ksft_print_msg(REPRODUCE_FMT, seed, seconds, threads, procs,
			       twiddle ? " --params" : "");
	ksft_test_result(c == 0, "fuzz: %d invariant violations (seed %#" PRIx64 ")\n", c, seed);
	{
		struct sockdup_stats st;

		ksft_test_result(!do_stats_main(dev, &st) && books_balance(&st),
				 "fuzz: counters balance after the run\n");
	}
	close(dev);
	ksft_finished();
}
