/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sockdup_agent.h - counters, parameters, peers and agents for the sockdup
 * selftests
 *
 * Included by sockdup_util.h (include that one); its conventions hold here
 * too.  What it adds, first used by the lifetime and limits tests (TTL,
 * REVOKE, QUERY, reaping, quotas, listing, unload, stress) and the events
 * tests:
 * - struct sd_base: the global counters, with what other programs left
 *   pending accounted for (sd_base_take(), sd_wait_deltas());
 * - the module parameters as the program found them, put back by
 *   params_reset() and when the program exits;
 * - make_sock(): a bare socket of an enum sk_kind and its peer;
 *   peer_closed(): has a stream's other end gone away;
 * - agents: child processes that run sockdup calls on request over a
 *   SOCK_SEQPACKET control socket, so a test can play sharer, target and
 *   third party at once, each as the user it must be.
 */
#ifndef SOCKDUP_AGENT_H
#define SOCKDUP_AGENT_H

#ifndef SOCKDUP_UTIL_H
#error "include sockdup_util.h, not sockdup_agent.h"
#endif

/* ---- counters, with other programs' leftovers accounted for ---- */

/*
 * Other test programs may leave shares pending (a long TTL, a target that
 * lives on); they expire or are reaped while a test runs and move the
 * global counters.  A struct sd_base remembers the counters and which
 * shares were pending when a test started, so that what left the table
 * since without the test's doing ("gone") can be told apart.  Those shares
 * can only expire or be reaped: nobody else redeems or revokes while a test
 * program runs.
 */
struct sd_base {
	struct sockdup_stats st;
	__u64 *ids;	/* sorted */
	__u32 n;
};

/* What a test did to the counters since its base. */
struct sd_want {
	long shared, redeemed, expired, revoked, reaped, pending;
};

static inline int sd_cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* The ids of every pending share the caller can see, sorted. */
static inline int sd_list_ids(int dev, __u64 **ids, __u32 *n)
{
	struct sockdup_share_info *e = NULL, *ne;
	__u32 count = 0, cap, i;
	__u64 total = 0;

	for (;;) {
		if (sd_list(dev, NULL, 0, NULL, &total))
			goto fail;
		cap = total + 64;
		ne = realloc(e, cap * sizeof(*e));
		if (!ne)
			goto fail;
		e = ne;
		if (sd_list(dev, e, cap, &count, &total))
			goto fail;
		if (total <= count)
			break;
	}
	*ids = malloc((count + 1) * sizeof(**ids));
	if (!*ids)
		goto fail;
	for (i = 0; i < count; i++)
		(*ids)[i] = e[i].id;
	qsort(*ids, count, sizeof(**ids), sd_cmp_u64);
	*n = count;
	free(e);
	return 0;
fail:
	free(e);
	return -1;
}

/* How many of the sorted @old are not in the sorted @now. */
static inline __u32 sd_ids_gone(const __u64 *old, __u32 nold,
				const __u64 *now, __u32 nnow)
{
	__u32 i = 0, j = 0, gone = 0;

	while (i < nold) {
		if (j >= nnow || old[i] < now[j]) {
			gone++;
			i++;
		} else if (old[i] == now[j]) {
			i++;
			j++;
		} else {
			j++;
		}
	}
	return gone;
}

/*
 * STATS and the number of @base's shares that have left the table, read so
 * that no share left between the two (LIST, STATS, LIST until both LISTs
 * agree and list as many shares as STATS counts pending: a share past its
 * TTL that nobody released yet is counted until the first LIST releases
 * it).  Needs a caller that sees every share (root).
 */
static inline int sd_snapshot(int dev, const struct sd_base *base,
			      struct sockdup_stats *st, __u32 *gone)
{
	int tries;

	for (tries = 0; tries < 50; tries++) {
		__u64 *a, *b;
		__u32 na, nb, ga, gb;

		if (sd_list_ids(dev, &a, &na))
			return -1;
		if (sd_stats(dev, st) || sd_list_ids(dev, &b, &nb)) {
			free(a);
			return -1;
		}
		ga = sd_ids_gone(base->ids, base->n, a, na);
		gb = sd_ids_gone(base->ids, base->n, b, nb);
		free(a);
		free(b);
		if (ga == gb && na == nb && st->pending == nb) {
			*gone = gb;
			return 0;
		}
		sd_sleep_ms(2);
	}
	errno = EAGAIN;
	return -1;
}

/* Remember the counters and the pending shares (take it before sharing). */
static inline int sd_base_take(int dev, struct sd_base *b)
{
	struct sd_base none = { 0 };
	__u32 gone;
	int tries;

	for (tries = 0; tries < 50; tries++) {
		struct sockdup_stats st;

		free(b->ids);
		b->ids = NULL;
		if (sd_list_ids(dev, &b->ids, &b->n) ||
		    sd_snapshot(dev, &none, &st, &gone))
			return -1;
		b->st = st;
		/* nothing may have left between the LIST and the STATS */
		if (!sd_snapshot(dev, b, &st, &gone) && !gone &&
		    st.pending == b->st.pending && st.pending == b->n &&
		    st.shared == b->st.shared) {
			b->st = st;
			return 0;
		}
	}
	errno = EAGAIN;
	return -1;
}

/*
 * Did the counters move by exactly what the test did (@w), plus expiries
 * and reaps of shares pending at @b that have gone since?  Prints each
 * mismatch unless @quiet.
 */
static inline bool sd_deltas_ok(int dev, const struct sd_base *b,
				const struct sd_want *w, bool quiet)
{
	struct sockdup_stats st;
	__u32 gone;
	long d_sh, d_rd, d_ex, d_rv, d_rp, d_pe;
	bool ok = true;

	if (sd_snapshot(dev, b, &st, &gone)) {
		if (!quiet)
			fprintf(stderr, "# STATS/LIST failed: %s\n",
				strerror(errno));
		return false;
	}
	d_sh = st.shared - b->st.shared;
	d_rd = st.redeemed - b->st.redeemed;
	d_ex = st.expired - b->st.expired;
	d_rv = st.revoked - b->st.revoked;
	d_rp = st.reaped - b->st.reaped;
	d_pe = (long)st.pending - (long)b->st.pending;

#define SD_CHECK(cond, fmt, ...) do {					\
		if (!(cond)) {						\
			ok = false;					\
			if (!quiet)					\
				fprintf(stderr, "# counters: " fmt "\n",	\
					__VA_ARGS__);			\
		}							\
	} while (0)
	SD_CHECK(d_sh == w->shared, "shared %+ld, want %+ld", d_sh, w->shared);
	SD_CHECK(d_rd == w->redeemed, "redeemed %+ld, want %+ld", d_rd,
		 w->redeemed);
	SD_CHECK(d_rv == w->revoked, "revoked %+ld, want %+ld", d_rv,
		 w->revoked);
	SD_CHECK(d_ex >= w->expired && d_ex <= w->expired + (long)gone,
		 "expired %+ld, want %+ld (+%u others')", d_ex, w->expired,
		 gone);
	SD_CHECK(d_rp >= w->reaped && d_rp <= w->reaped + (long)gone,
		 "reaped %+ld, want %+ld (+%u others')", d_rp, w->reaped, gone);
	SD_CHECK(d_ex + d_rp == w->expired + w->reaped + (long)gone,
		 "expired+reaped %+ld, want %+ld", d_ex + d_rp,
		 w->expired + w->reaped + (long)gone);
	SD_CHECK(d_pe == w->pending - (long)gone, "pending %+ld, want %+ld",
		 d_pe, w->pending - (long)gone);
#undef SD_CHECK
	return ok;
}

/*
 * Wait up to @timeout_ms for sd_deltas_ok(); on a timeout, print what is
 * wrong.  Returns the milliseconds waited or -1.
 */
static inline int64_t sd_wait_deltas(int dev, const struct sd_base *b,
				     const struct sd_want *w, int timeout_ms)
{
	int64_t t0 = sd_now_ms();

	while (!sd_deltas_ok(dev, b, w, true)) {
		if (sd_now_ms() - t0 > timeout_ms) {
			sd_deltas_ok(dev, b, w, false);
			return -1;
		}
		sd_sleep_ms(5);
	}
	return sd_now_ms() - t0;
}

/* ---- module parameters, saved and put back ---- */

/* A parameter as a long, or -1 if it cannot be read. */
static inline long param_read(const char *name)
{
	long long v;

	return sd_param_get(name, &v) ? -1 : (long)v;
}

static const char *const sd_param_names[] = {
	"default_ttl_ms", "max_ttl_ms", "max_per_user", "max_total", "sweep_ms",
	"reserve_total",
};
#define SD_NPARAMS ARRAY_SIZE(sd_param_names)
/* indexes into sd_param_names and struct sd_params */
enum {
	SD_DEFAULT_TTL, SD_MAX_TTL, SD_MAX_PER_USER, SD_MAX_TOTAL, SD_SWEEP,
	SD_RESERVE_TOTAL,
};

struct sd_params {
	long val[SD_NPARAMS];
};

/* Remember every parameter; -1 if any cannot be read. */
static inline int params_save(struct sd_params *p)
{
	size_t i;

	for (i = 0; i < SD_NPARAMS; i++) {
		p->val[i] = param_read(sd_param_names[i]);
		if (p->val[i] < 0)
			return -1;
	}
	return 0;
}

/* Put back what params_save() read; -1 if a write failed. */
static inline int params_restore(const struct sd_params *p)
{
	int ret = 0;
	size_t i;

	for (i = 0; i < SD_NPARAMS; i++)
		if (p->val[i] >= 0 && param_read(sd_param_names[i]) != p->val[i] &&
		    sd_param_set(sd_param_names[i], p->val[i]))
			ret = -1;
	return ret;
}

/*
 * The parameters the module had when the test program started, and
 * params_reset() to put them back.  A fixture calls it in its setup and its
 * teardown: FIXTURE_TEARDOWN() does not run after a failed ASSERT (the
 * harness's longjmp() clobbers its idea of which process it is in), so the
 * next setup mends what a failed test left, and the program's exit mends
 * what its last test left.
 */
static struct sd_params sd_params_orig;
static pid_t sd_params_pid;

__attribute__((constructor)) static void sd_params_init(void)
{
	sd_params_pid = params_save(&sd_params_orig) ? 0 : getpid();
}

/* Put back every parameter but sd_param_names[@keep] (-1: all). */
static inline int params_reset_but(int keep)
{
	struct sd_params p = sd_params_orig;

	if (!sd_params_pid) {
		errno = ENOENT;
		return -1;
	}
	if (keep >= 0)
		p.val[keep] = -1;
	return params_restore(&p);
}

static inline int params_reset(void)
{
	return params_reset_but(-1);
}

__attribute__((destructor)) static void sd_params_fini(void)
{
	if (sd_params_pid && sd_params_pid == getpid())
		params_reset();
}

/* A parameter as it was when the program started. */
static inline long param_orig(int which)
{
	return sd_params_orig.val[which];
}

/* ---- socket kinds ---- */

enum sk_kind {
	SK_TCP_LISTENER,
	SK_TCP,
	SK_UDP,
	SK_UNIX_STREAM,
	SK_UNIX_DGRAM,
	SK_UNIX_SEQPACKET,
	SK_TCP6,
	SK_UDP6,
};

/*
 * Make a socket of @kind to share in *sock and, for the connected kinds, its
 * peer in *peer (-1 for listeners and unconnected datagram sockets, which
 * are bound to loopback).
 */
static inline int make_sock(enum sk_kind kind, int *sock, int *peer)
{
	struct sockaddr_storage ss;
	int sv[2], type, family;
	socklen_t len;

	*sock = -1;
	*peer = -1;
	switch (kind) {
	case SK_TCP_LISTENER:
		*sock = sd_inet_bound(AF_INET, SOCK_STREAM, &ss, &len);
		if (*sock >= 0 && listen(*sock, 16)) {
			close(*sock);
			*sock = -1;
		}
		return *sock < 0 ? -1 : 0;
	case SK_TCP:
	case SK_TCP6:
		family = kind == SK_TCP ? AF_INET : AF_INET6;
		return sd_tcp_pair(family, sock, peer, &ss, &len);
	case SK_UDP:
	case SK_UDP6:
		family = kind == SK_UDP ? AF_INET : AF_INET6;
		*sock = sd_inet_bound(family, SOCK_DGRAM, &ss, &len);
		return *sock < 0 ? -1 : 0;
	case SK_UNIX_STREAM:
		type = SOCK_STREAM;
		break;
	case SK_UNIX_DGRAM:
		type = SOCK_DGRAM;
		break;
	case SK_UNIX_SEQPACKET:
		type = SOCK_SEQPACKET;
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv))
		return -1;
	*sock = sv[0];
	*peer = sv[1];
	return 0;
}

/* ---- EOF on a peer ---- */

/*
 * Has the other end of the stream/seqpacket @peer gone away?  Returns 1 on
 * EOF (or reset), 0 if it is still open after @timeout_ms (0: just look),
 * -1 on an unexpected error or unexpected data.
 */
static inline int peer_closed(int peer, int timeout_ms)
{
	int64_t deadline = sd_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = peer, .events = POLLIN | POLLRDHUP };
		int left = (int)(deadline - sd_now_ms());
		char c;
		ssize_t n;
		int ret;

		ret = poll(&pfd, 1, left > 0 ? left : 0);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -1;
		if (ret == 0)
			return 0;
		n = recv(peer, &c, 1, MSG_DONTWAIT | MSG_PEEK);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n > 0)
			return -1;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (sd_now_ms() >= deadline)
			return 0;
	}
}

/*
 * peer_closed() that also measures how long the caller could not run: the
 * largest gap between two of its 10 ms polls, less those 10 ms, raised into
 * *@stall_ms.  A QEMU TCG guest on a busy host stalls now and then as a
 * whole; a bound on how soon the kernel acts cannot hold across such a
 * stall, while a kernel that is merely late leaves the poller running.
 */
static inline int peer_closed_stall(int peer, int timeout_ms,
				    int64_t *stall_ms)
{
	int64_t deadline = sd_now_ms() + timeout_ms, last = sd_now_ms(), now, left;
	int ret;

	for (;;) {
		left = deadline - sd_now_ms();
		ret = peer_closed(peer, left > 10 ? 10 : left > 0 ? left : 0);
		now = sd_now_ms();
		if (now - last - 10 > *stall_ms)
			*stall_ms = now - last - 10;
		last = now;
		if (ret || now >= deadline)
			return ret;
	}
}

/* ---- child processes ---- */

/*
 * In a freshly forked child: die with the parent, and drop every inherited
 * descriptor except 0-2 and @keep, which moves to descriptor 3.  A child
 * must not hold a copy of a socket a test is sharing, or the peer would not
 * see EOF when the share is released.  Returns the new @keep (or -1).
 */
static inline int child_init(pid_t parent, int keep)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(111);
	if (keep >= 0 && keep != 3) {
		if (dup2(keep, 3) != 3)
			_exit(112);
		keep = 3;
	}
	close_range(keep >= 0 ? 4 : 3, ~0U, 0);
	return keep;
}

/* Drop to an ordinary user (all three uids and gids, no groups). */
static inline int become_user(uid_t uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		return -1;
	return 0;
}

/* ---- agents ---- */

enum agent_op {
	AG_REDEEM = 1,	/* cookie, flags -> fd (kept open), ino */
	AG_CLOSE,	/* arg = fd */
	AG_REVOKE,	/* cookie */
	AG_QUERY,	/* cookie -> info */
	AG_SHARE,	/* passed fd, target, ttl_ms -> share (fd closed after) */
	AG_STATS,	/* -> stats */
	AG_LIST,	/* arg = capacity -> count, total, entries */
	AG_GETPID,	/* -> getpid() as the agent sees it */
	AG_CLOSEDEV,	/* close the agent's /dev/sockdup descriptor */
	/* arg = max: the events queued on the passed fd, or on the agent's own
	 * descriptor -> count, events
	 */
	AG_EVENTS,
	AG_EXIT,	/* arg = exit code */
	AG_REVOKE_ID,	/* id */
	AG_QUERY_ID,	/* id -> info */
};

#define AGENT_LIST_MAX	32

struct agent_req {
	__u32 op;
	__s32 arg;
	__s32 target;
	__u32 ttl_ms;
	__u32 flags;
	__u32 pad;
	__u8 cookie[SOCKDUP_COOKIE_SIZE];
	__u64 id;
};

struct agent_rep {
	__s32 ret;
	__s32 err;
	__u64 ino;
	__u32 count;
	__u32 pad;
	__u64 total;
	struct sockdup_share share;
	struct sockdup_share_info info;
	struct sockdup_stats stats;
	struct sockdup_share_info entries[AGENT_LIST_MAX];
	struct sockdup_event events[AGENT_LIST_MAX];
};

/* Flags of agent_spawn(). */
#define AGENT_NEWPIDNS	(1U << 0)	/* run in a new pid namespace (as pid 1) */

/*
 * What an agent (and, with AGENT_NEWPIDNS, the process in the middle) says
 * before it takes requests.
 */
struct agent_hello {
	__u32 kind;
	__s32 pid;
};

#define AGENT_HELLO_PID		1	/* the agent's pid in the test's namespace */
#define AGENT_HELLO_READY	2	/* the agent takes requests */

struct agent {
	pid_t pid;	/* the agent, as seen by the test (target for SHARE) */
	pid_t child;	/* what the test waits for (differs with AGENT_NEWPIDNS) */
	int ctl;
};

static inline __noreturn void agent_serve(int ctl);
static inline void agent_serve(int ctl)
{
	static struct agent_rep rep;
	struct agent_req req;
	int dev = -1, fd;

	for (;;) {
		ssize_t n = sd_recv_with_fd(ctl, &req, sizeof(req), &fd);

		if (n != sizeof(req))
			_exit(n == 0 ? 0 : 113);
		memset(&rep, 0, sizeof(rep));
		if (dev < 0 && req.op != AG_CLOSE && req.op != AG_GETPID &&
		    req.op != AG_CLOSEDEV && req.op != AG_EXIT) {
			dev = sd_open();
			if (dev < 0) {
				rep.ret = -1;
				rep.err = errno;
				goto reply;
			}
		}
		errno = 0;
		switch (req.op) {
		case AG_REDEEM:
			rep.ret = sd_redeem(dev, req.cookie, req.flags);
			if (rep.ret >= 0)
				rep.ino = sd_inode(rep.ret);
			break;
		case AG_CLOSE:
			rep.ret = close(req.arg);
			break;
		case AG_REVOKE:
			rep.ret = sd_revoke(dev, req.cookie);
			break;
		case AG_QUERY:
			rep.ret = sd_query(dev, req.cookie, &rep.info);
			break;
		case AG_SHARE:
			rep.ret = sd_share(dev, fd, req.target, req.ttl_ms,
					   &rep.share);
			break;
		case AG_STATS:
			rep.ret = sd_stats(dev, &rep.stats);
			break;
		case AG_LIST:
			rep.ret = sd_list(dev, rep.entries, req.arg, &rep.count,
					  &rep.total);
			break;
		case AG_GETPID:
			rep.ret = getpid();
			break;
		case AG_EVENTS:
			rep.ret = ev_read(fd >= 0 ? fd : dev, rep.events,
					  req.arg < AGENT_LIST_MAX ?
					  req.arg : AGENT_LIST_MAX);
			rep.count = rep.ret > 0 ? rep.ret : 0;
			break;
		case AG_CLOSEDEV:
			rep.ret = dev >= 0 ? close(dev) : 0;
			dev = -1;
			break;
		case AG_REVOKE_ID:
			rep.ret = sd_revoke_id(dev, req.id);
			break;
		case AG_QUERY_ID:
			rep.ret = sd_query_id(dev, req.id, &rep.info);
			break;
		case AG_EXIT:
			_exit(req.arg);
		default:
			rep.ret = -1;
			errno = EINVAL;
		}
		rep.err = errno;
reply:
		if (fd >= 0)
			close(fd);
		if (sd_send_with_fd(ctl, &rep, sizeof(rep), -1))
			_exit(114);
	}
}

/* Kill and wait for the agent, if it still runs (for teardowns). */
static inline void agent_kill(struct agent *a)
{
	if (a->child > 0) {
		if (a->pid > 0 && a->pid != a->child)
			kill(a->pid, SIGKILL);
		kill(a->child, SIGKILL);
		waitpid(a->child, NULL, 0);
	}
	if (a->ctl >= 0)
		close(a->ctl);
	a->ctl = -1;
	a->pid = a->child = -1;
}

static inline __noreturn void agent_child(int ctl, uid_t uid,
					  unsigned int flags);
static inline void agent_child(int ctl, uid_t uid, unsigned int flags)
{
	struct agent_hello hello;

	if (flags & AGENT_NEWPIDNS) {
		pid_t inner;
		int status;

		if (unshare(CLONE_NEWPID))
			_exit(115);
		inner = fork();
		if (inner < 0)
			_exit(116);
		if (inner == 0) {
			/* pid 1 of the new namespace: its parent reads as 0 */
			child_init(0, ctl);
			flags &= ~AGENT_NEWPIDNS;
			agent_child(ctl, uid, flags);
		}
		/* tell the test the agent's pid in the test's namespace */
		hello.kind = AGENT_HELLO_PID;
		hello.pid = inner;
		if (sd_send_with_fd(ctl, &hello, sizeof(hello), -1))
			_exit(117);
		close(ctl);
		if (waitpid(inner, &status, 0) != inner)
			_exit(118);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) :
		      128 + WTERMSIG(status));
	}
	if (uid && become_user(uid))
		_exit(119);
	/* ready: the test may use the agent (and its uid) from now on */
	hello.kind = AGENT_HELLO_READY;
	hello.pid = getpid();
	if (sd_send_with_fd(ctl, &hello, sizeof(hello), -1))
		_exit(120);
	agent_serve(ctl);
}

/*
 * Fork an agent.  @uid != 0 makes it an ordinary user of that uid (and gid).
 * The agent dies with the calling thread (PR_SET_PDEATHSIG) and holds no
 * descriptor of the test but its control socket.  Returns once the agent
 * is ready (in particular, once it runs as @uid: a SHARE addressed to it
 * records that uid).
 */
static inline int agent_spawn(struct agent *a, uid_t uid, unsigned int flags)
{
	pid_t parent = getpid(), pid;
	bool ready = false;
	int sv[2], fd;

	a->pid = a->child = -1;
	a->ctl = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0)
		agent_child(child_init(parent, sv[1]), uid, flags);
	close(sv[1]);
	a->ctl = sv[0];
	a->child = pid;
	a->pid = pid;
	/*
	 * The agent says it is ready (as whichever user it must be); with
	 * AGENT_NEWPIDNS the process in the middle also says the agent's pid
	 * as the test sees it, in either order.
	 */
	do {
		struct agent_hello hello;

		if (sd_recv_with_fd(a->ctl, &hello, sizeof(hello), &fd) !=
		    sizeof(hello))
			goto fail;
		if (hello.kind == AGENT_HELLO_PID)
			a->pid = hello.pid;
		else if (hello.kind == AGENT_HELLO_READY)
			ready = true;
	} while (!ready || ((flags & AGENT_NEWPIDNS) && a->pid == pid));
	return 0;
fail:
	agent_kill(a);
	errno = ECHILD;
	return -1;
}

/*
 * Run one request; the agent's return value is returned and its errno set.
 * A broken agent gives -2 with errno EPIPE (never mistaken for a result).
 */
static inline int agent_call(struct agent *a, struct agent_req *req, int fd,
			     struct agent_rep *rep)
{
	static struct agent_rep scratch;
	int pfd;

	if (!rep)
		rep = &scratch;
	if (a->ctl < 0 || sd_send_with_fd(a->ctl, req, sizeof(*req), fd) ||
	    sd_recv_with_fd(a->ctl, rep, sizeof(*rep), &pfd) != sizeof(*rep)) {
		errno = EPIPE;
		return -2;
	}
	errno = rep->err;
	return rep->ret;
}

static inline int agent_redeem(struct agent *a, const __u8 *cookie,
			       __u32 flags, __u64 *ino)
{
	struct agent_req req = { .op = AG_REDEEM, .flags = flags };
	struct agent_rep rep;
	int ret;

	memcpy(req.cookie, cookie, sizeof(req.cookie));
	ret = agent_call(a, &req, -1, &rep);
	if (ino)
		*ino = rep.ino;
	errno = rep.err;
	return ret;
}

static inline int agent_close(struct agent *a, int fd)
{
	struct agent_req req = { .op = AG_CLOSE, .arg = fd };

	return agent_call(a, &req, -1, NULL);
}

static inline int agent_revoke(struct agent *a, const __u8 *cookie)
{
	struct agent_req req = { .op = AG_REVOKE };

	memcpy(req.cookie, cookie, sizeof(req.cookie));
	return agent_call(a, &req, -1, NULL);
}

static inline int agent_query(struct agent *a, const __u8 *cookie,
			      struct sockdup_share_info *info)
{
	struct agent_req req = { .op = AG_QUERY };
	struct agent_rep rep;
	int ret;

	memcpy(req.cookie, cookie, sizeof(req.cookie));
	ret = agent_call(a, &req, -1, &rep);
	*info = rep.info;
	errno = rep.err;
	return ret;
}

static inline int agent_revoke_id(struct agent *a, __u64 id)
{
	struct agent_req req = { .op = AG_REVOKE_ID, .id = id };

	return agent_call(a, &req, -1, NULL);
}

static inline int agent_query_id(struct agent *a, __u64 id,
				 struct sockdup_share_info *info)
{
	struct agent_req req = { .op = AG_QUERY_ID, .id = id };
	struct agent_rep rep;
	int ret;

	ret = agent_call(a, &req, -1, &rep);
	*info = rep.info;
	errno = rep.err;
	return ret;
}

/* The agent shares @fd (a copy travels by SCM_RIGHTS; the agent closes it). */
static inline int agent_share(struct agent *a, int fd, pid_t target,
			      __u32 ttl_ms, struct sockdup_share *out)
{
	struct agent_req req = {
		.op = AG_SHARE, .target = target, .ttl_ms = ttl_ms,
	};
	struct agent_rep rep;
	int ret;

	ret = agent_call(a, &req, fd, &rep);
	if (out)
		*out = rep.share;
	errno = rep.err;
	return ret;
}

static inline int agent_stats(struct agent *a, struct sockdup_stats *st)
{
	struct agent_req req = { .op = AG_STATS };
	struct agent_rep rep;
	int ret;

	ret = agent_call(a, &req, -1, &rep);
	*st = rep.stats;
	errno = rep.err;
	return ret;
}

/* LIST as the agent, at most AGENT_LIST_MAX entries come back in @rep. */
static inline int agent_list(struct agent *a, __u32 capacity,
			     struct agent_rep *rep)
{
	struct agent_req req = { .op = AG_LIST, .arg = (__s32)capacity };

	return agent_call(a, &req, -1, rep);
}

static inline int agent_getpid(struct agent *a)
{
	struct agent_req req = { .op = AG_GETPID };

	return agent_call(a, &req, -1, NULL);
}

/* The events queued on @fd (passed), or on the agent's own descriptor. */
static inline int agent_events(struct agent *a, int fd,
			       struct sockdup_event *ev, int max)
{
	struct agent_req req = { .op = AG_EVENTS, .arg = max };
	static struct agent_rep rep;
	int ret;

	ret = agent_call(a, &req, fd, &rep);
	if (ret > 0)
		memcpy(ev, rep.events, ret * sizeof(*ev));
	errno = rep.err;
	return ret;
}

static inline int agent_closedev(struct agent *a)
{
	struct agent_req req = { .op = AG_CLOSEDEV };

	return agent_call(a, &req, -1, NULL);
}

/*
 * Ask the agent to exit with @code and wait for it.  Returns the wait
 * status, or -1.
 */
static inline int agent_exit(struct agent *a, int code)
{
	struct agent_req req = { .op = AG_EXIT, .arg = code };
	int status = -1;

	if (a->child <= 0)
		return -1;
	sd_send_with_fd(a->ctl, &req, sizeof(req), -1);
	if (waitpid(a->child, &status, 0) != a->child)
		status = -1;
	close(a->ctl);
	a->ctl = -1;
	a->pid = a->child = -1;
	return status;
}

#endif /* SOCKDUP_AGENT_H */
