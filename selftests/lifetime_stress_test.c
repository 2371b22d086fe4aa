// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stress: REDEEM, REVOKE (sharer), decline (target), expiry and target exit
 * race against each other for many rounds, from several sharer processes
 * and several threads of each target, while another process keeps reading
 * STATS and LIST.  Afterwards:
 *   - exactly one release per share: no cookie redeemed twice, never both
 *     redeemed and revoked;
 *   - only ENOENT ever comes back from a REDEEM or REVOKE that lost;
 *   - the counters balance: shared = redeemed + expired + revoked + reaped
 *     + pending (deltas from a snapshot at the start), pending is back where
 *     it started (less what other programs left pending and went meanwhile),
 *     and what the processes saw agrees with the counters;
 *   - the peer of every shared socket sees EOF: nothing stays pinned.
 * Run time: SOCKDUP_STRESS_SECONDS (default 15) of rounds, and at least
 * MIN_ROUNDS rounds per worker however slow the machine is.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>

#include "kselftest_harness.h"

#include "sockdup_util.h"

#define WORKERS		3	/* sharer processes */
#define TARGETS		2	/* target processes per worker and round */
#define PER_ROUND	12	/* shares per worker and round */
#define MAX_DELAY_US	30000	/* ops happen within this of the round start */
#define LONG_TTL_MS	5000	/* left to the reaper (the target exits first) */
#define SWEEP_MS	100
#define MIN_ROUNDS	4	/* per worker, even past the run time */
#define MAX_RECS	60000
#define MAX_OUTSTANDING	400	/* peers a worker waits on at once */
#define EOF_SLACK_MS	1000	/* times the run's time factor */

/* One share, as the processes saw it. */
struct rec {
	__u64 ino;
	int redeems, revokes, declines;
};

/* Everything the processes report, in a MAP_SHARED page. */
struct shm {
	int nrec;
	int shares, redeems, revokes, declines, early_exits, rounds;
	int bad_errno, last_bad_op, last_bad_errno;
	int wrong_ino, eof_fail, lost_peers, setup_fail;
	struct rec recs[MAX_RECS];
};

static struct shm *shm;

static int add(int *p, int v)
{
	return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST);
}

static void bad(int op, int err)
{
	add(&shm->bad_errno, 1);
	__atomic_store_n(&shm->last_bad_op, op, __ATOMIC_SEQ_CST);
	__atomic_store_n(&shm->last_bad_errno, err, __ATOMIC_SEQ_CST);
}

static __u64 rnd(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until_us(int64_t t)
{
	struct timespec ts = { .tv_sec = t / 1000000,
			       .tv_nsec = (t % 1000000) * 1000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* ---- targets ---- */

enum { OP_REDEEM, OP_DECLINE, OP_REVOKE };

struct op {
	__u8 cookie[SOCKDUP_COOKIE_SIZE];
	int rec;
	int at_us;	/* from the round start */
	int kind;
	int keep;	/* keep a redeemed fd until exit */
};

/* What a target does in one round: two threads, each its list of ops. */
struct plan {
	int64_t t0_us;
	int64_t exit_at_us;	/* -1: exit when the ops are done */
	int n[2];
	struct op ops[2][PER_ROUND];
};

struct lane {
	int dev;
	int n;
	const struct op *ops;
	int64_t t0;
};

/* Do one op and record what happened; only ENOENT may come back. */
static void do_op(int dev, const struct op *op)
{
	struct rec *r = &shm->recs[op->rec];
	int ret;

	if (op->kind == OP_REDEEM) {
		ret = sd_redeem(dev, op->cookie, SOCKDUP_REDEEM_CLOEXEC);
		if (ret >= 0) {
			if (sd_inode(ret) != r->ino)
				add(&shm->wrong_ino, 1);
			add(&r->redeems, 1);
			add(&shm->redeems, 1);
			if (!op->keep)
				close(ret);
			return;
		}
	} else {
		ret = sd_revoke(dev, op->cookie);
		if (!ret) {
			if (op->kind == OP_DECLINE) {
				add(&r->declines, 1);
				add(&shm->declines, 1);
			} else {
				add(&r->revokes, 1);
				add(&shm->revokes, 1);
			}
			return;
		}
	}
	if (errno != ENOENT)
		bad(op->kind, errno);
}

static void *lane_run(void *p)
{
	const struct lane *l = p;
	int i;

	for (i = 0; i < l->n; i++) {
		sleep_until_us(l->t0 + l->ops[i].at_us);
		do_op(l->dev, &l->ops[i]);
	}
	return NULL;
}

static __noreturn void target_main(int ctl);
static void target_main(int ctl)
{
	static struct plan plan;
	struct lane lanes[2];
	pthread_t t[2];
	int dev, fd, i;

	dev = sd_open();
	if (dev < 0)
		_exit(2);
	if (sd_recv_with_fd(ctl, &plan, sizeof(plan), &fd) != sizeof(plan))
		_exit(plan.n[0] ? 3 : 0);
	for (i = 0; i < 2; i++) {
		lanes[i] = (struct lane){ .dev = dev, .n = plan.n[i],
					  .ops = plan.ops[i], .t0 = plan.t0_us };
		if (pthread_create(&t[i], NULL, lane_run, &lanes[i]))
			_exit(4);
	}
	if (plan.exit_at_us >= 0) {
		/* exit_group() in the middle of whatever the lanes do */
		sleep_until_us(plan.t0_us + plan.exit_at_us);
		_exit(0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	_exit(0);
}

/* ---- sharers (workers) ---- */

struct peer {
	int fd;
	int rec;
	int64_t deadline;	/* ms; 0 until the round has ended */
};

struct worker {
	int dev;
	__u64 seed;
	struct peer peers[MAX_OUTSTANDING + PER_ROUND];
	int npeers;
};

/* Close the peers that saw EOF; @wait: until every one did or timed out. */
static void reap_peers(struct worker *w, bool wait)
{
	int i;

	do {
		int64_t now = sd_now_ms();

		for (i = 0; i < w->npeers; i++) {
			struct peer *p = &w->peers[i];
			int c = peer_closed(p->fd, 0);

			if (c == 0 && (!p->deadline || now < p->deadline))
				continue;
			if (c != 1) {
				struct rec *r = &shm->recs[p->rec];

				if (add(&shm->eof_fail, 1) <= 10)
					fprintf(stderr,
						"# share %d: peer still open (redeems %d revokes %d declines %d)\n",
						p->rec, r->redeems, r->revokes,
						r->declines);
			}
			close(p->fd);
			w->peers[i--] = w->peers[--w->npeers];
		}
		if (wait && w->npeers)
			sd_sleep_ms(5);
	} while (wait && w->npeers);
}

static int cmp_op(const void *a, const void *b)
{
	return ((const struct op *)a)->at_us - ((const struct op *)b)->at_us;
}

static void sort_ops(struct op *ops, int n)
{
	qsort(ops, n, sizeof(*ops), cmp_op);
}

/* One round; false when the records are used up. */
static bool round_run(struct worker *w)
{
	static struct plan plans[TARGETS];
	struct op revokes[PER_ROUND];
	pid_t pids[TARGETS];
	int ctl[TARGETS], nrev = 0, i, k, first;
	pid_t self = getpid();
	bool ret = true;
	int64_t t0, end;

	memset(plans, 0, sizeof(plans));
	for (k = 0; k < TARGETS; k++) {
		int sv[2];

		pids[k] = -1;
		ctl[k] = -1;
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
			add(&shm->setup_fail, 1);
			goto out;
		}
		pids[k] = fork();
		if (pids[k] == 0)
			target_main(child_init(self, sv[1]));
		close(sv[1]);
		ctl[k] = sv[0];
		if (pids[k] < 0) {
			add(&shm->setup_fail, 1);
			goto out;
		}
		/* a third of the targets exit in the middle of the round */
		plans[k].exit_at_us = rnd(&w->seed) % 3 ?
			-1 : (int64_t)(rnd(&w->seed) % MAX_DELAY_US);
	}

	first = add(&shm->nrec, PER_ROUND) - PER_ROUND;
	if (first + PER_ROUND > MAX_RECS) {
		add(&shm->nrec, -PER_ROUND);
		ret = false;
		goto out;
	}
	t0 = now_us() + 5000;
	for (i = 0; i < PER_ROUND; i++) {
		struct rec *r = &shm->recs[first + i];
		struct sockdup_share s;
		int sock, peer, ttl, dice = rnd(&w->seed) % 10;
		struct op op = { .rec = first + i };
		struct plan *pl;

		k = rnd(&w->seed) % TARGETS;
		pl = &plans[k];
		if (make_sock(i % 6 == 5 ? SK_TCP : SK_UNIX_STREAM, &sock,
			      &peer)) {
			add(&shm->setup_fail, 1);
			continue;
		}
		r->ino = sd_inode(sock);
		/* 4 in 10 expire in the middle of the ops, 2 a bit later */
		ttl = dice < 4 ? 1 + rnd(&w->seed) % (MAX_DELAY_US / 1000) :
		      dice < 6 ? 50 + rnd(&w->seed) % 150 : LONG_TTL_MS;
		if (sd_share(w->dev, sock, pids[k], ttl, &s)) {
			bad(-1, errno);
			close(sock);
			close(peer);
			continue;
		}
		close(sock);
		add(&shm->shares, 1);
		w->peers[w->npeers++] = (struct peer){ .fd = peer,
						       .rec = first + i };
		memcpy(op.cookie, s.cookie, sizeof(op.cookie));
		if (rnd(&w->seed) % 2) {
			op.kind = OP_REDEEM;
			op.at_us = rnd(&w->seed) % MAX_DELAY_US;
			op.keep = rnd(&w->seed) % 2;
			pl->ops[0][pl->n[0]++] = op;
		}
		if (rnd(&w->seed) % 3 == 0) {
			/* the second lane declines, or races a second redeem */
			op.kind = rnd(&w->seed) % 5 < 3 ? OP_DECLINE : OP_REDEEM;
			op.at_us = rnd(&w->seed) % MAX_DELAY_US;
			op.keep = 0;
			pl->ops[1][pl->n[1]++] = op;
		}
		if (rnd(&w->seed) % 10 < 3) {
			op.kind = OP_REVOKE;
			op.at_us = rnd(&w->seed) % MAX_DELAY_US;
			revokes[nrev++] = op;
		}
	}
	for (k = 0; k < TARGETS; k++) {
		plans[k].t0_us = t0;
		sort_ops(plans[k].ops[0], plans[k].n[0]);
		sort_ops(plans[k].ops[1], plans[k].n[1]);
		if (plans[k].exit_at_us >= 0)
			add(&shm->early_exits, 1);
		if (sd_send_with_fd(ctl[k], &plans[k], sizeof(plans[k]), -1))
			add(&shm->setup_fail, 1);
	}
	sort_ops(revokes, nrev);
	for (i = 0; i < nrev; i++) {
		sleep_until_us(t0 + revokes[i].at_us);
		do_op(w->dev, &revokes[i]);
	}
out:
	for (k = 0; k < TARGETS; k++) {
		if (ctl[k] >= 0)
			close(ctl[k]);
		if (pids[k] > 0)
			waitpid(pids[k], NULL, 0);
	}
	/* every share is released within this now that the targets are gone */
	end = sd_now_ms() + 2 * SWEEP_MS + 200 + sd_ms(EOF_SLACK_MS);
	for (i = 0; i < w->npeers; i++)
		if (!w->peers[i].deadline)
			w->peers[i].deadline = end;
	add(&shm->rounds, ret);
	return ret;
}

static __noreturn void worker_main(int n, int64_t until);
static void worker_main(int n, int64_t until)
{
	struct worker *w = calloc(1, sizeof(*w));
	int rounds = 0;

	if (!w)
		_exit(2);
	w->seed = ((__u64)now_us() << 8) ^ getpid() ^ (n + 1) * 0x9e3779b97f4a7c15ULL;
	fprintf(stderr, "# worker %d seed %llu\n", n,
		(unsigned long long)w->seed);
	w->dev = sd_open();
	if (w->dev < 0)
		_exit(3);
	while ((sd_now_ms() < until || rounds < MIN_ROUNDS) && round_run(w)) {
		rounds++;
		reap_peers(w, w->npeers > MAX_OUTSTANDING - PER_ROUND);
	}
	reap_peers(w, true);
	_exit(0);
}

/* ---- the test ---- */

FIXTURE(stress) {
	int dev;
	pid_t workers[WORKERS];
};

FIXTURE_SETUP(stress)
{
	int i;

	self->dev = -1;
	for (i = 0; i < WORKERS; i++)
		self->workers[i] = -1;
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, shm);
	ASSERT_EQ(0, params_reset());
	if (param_orig(SD_SWEEP) != SWEEP_MS) {
		ASSERT_EQ(0, sd_param_set("sweep_ms", SWEEP_MS));
		sd_sleep_ms(param_orig(SD_SWEEP) + sd_ms(50));
	}
	self->dev = sd_open();
	ASSERT_LE(0, self->dev);
}

FIXTURE_TEARDOWN(stress)
{
	int i;

	for (i = 0; i < WORKERS; i++)
		if (self->workers[i] > 0) {
			kill(self->workers[i], SIGKILL);
			waitpid(self->workers[i], NULL, 0);
		}
	if (self->dev >= 0)
		close(self->dev);
	EXPECT_EQ(0, params_reset());
}

#define D(f) ((long long)(st1.f - st0.f))

TEST_F_TIMEOUT(stress, redeem_revoke_expiry_exit, 120)
{
	static struct sockdup_share_info entries[64];
	struct sockdup_stats st0, st1, prev, cur;
	struct sd_base base = { 0 };
	const char *env = getenv("SOCKDUP_STRESS_SECONDS");
	int seconds = env ? atoi(env) : 15;
	pid_t parent = getpid();
	long monitor = 0, done = 0;
	int double_release = 0;
	int64_t until, t0, waited;
	__u32 gone = 0;
	int i, status;

	ASSERT_EQ(0, sd_base_take(self->dev, &base));
	st0 = base.st;
	until = sd_now_ms() + seconds * 1000;
	for (i = 0; i < WORKERS; i++) {
		self->workers[i] = fork();
		ASSERT_LE(0, self->workers[i]);
		if (self->workers[i] == 0) {
			child_init(parent, -1);
			worker_main(i, until);
		}
	}

	/* meanwhile: STATS and LIST against the releases */
	prev = st0;
	while (done < WORKERS) {
		__u32 count;
		__u64 total;

		ASSERT_EQ(0, sd_stats(self->dev, &cur));
		EXPECT_LE(prev.shared, cur.shared);
		EXPECT_LE(prev.redeemed, cur.redeemed);
		EXPECT_LE(prev.expired, cur.expired);
		EXPECT_LE(prev.revoked, cur.revoked);
		EXPECT_LE(prev.reaped, cur.reaped);
		EXPECT_LE(cur.redeemed + cur.expired + cur.revoked + cur.reaped,
			  cur.shared);
		prev = cur;
		ASSERT_EQ(0, sd_list(self->dev, entries, 64, &count, &total));
		EXPECT_GE(64, count);
		monitor++;
		sd_sleep_ms(2);
		for (i = 0; i < WORKERS; i++) {
			if (self->workers[i] > 0 &&
			    waitpid(self->workers[i], &status, WNOHANG) ==
			    self->workers[i]) {
				EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
				self->workers[i] = -1;
				done++;
			}
		}
	}

	/*
	 * Wait until every share made here has gone; shares other programs
	 * left may go too ("gone": they can only expire or be reaped).
	 */
	t0 = sd_now_ms();
	do {
		ASSERT_EQ(0, sd_snapshot(self->dev, &base, &st1, &gone));
		waited = sd_now_ms() - t0;
		if (D(pending) + (long long)gone <= 0)
			break;
		sd_sleep_ms(5);
	} while (waited < 2 * SWEEP_MS + sd_ms(EOF_SLACK_MS));
	TH_LOG("%d rounds, %d shares: redeemed %lld expired %lld revoked %lld reaped %lld",
	       shm->rounds, shm->shares, D(redeemed), D(expired), D(revoked),
	       D(reaped));
	TH_LOG("pending %+lld (%lld ms after last round), %ld STATS+LIST, %u others' shares gone",
	       D(pending), (long long)waited, monitor, gone);
	TH_LOG("seen: %d redeems, %d revokes, %d declines, %d early target exits",
	       shm->redeems, shm->revokes, shm->declines, shm->early_exits);

	/* one release per share, only ENOENT for the losers, nothing pinned */
	for (i = 0; i < shm->nrec; i++) {
		const struct rec *r = &shm->recs[i];

		if (r->redeems + r->revokes + r->declines > 1)
			double_release++;
	}
	EXPECT_EQ(0, double_release);
	EXPECT_EQ(0, shm->wrong_ino);
	EXPECT_EQ(0, shm->bad_errno) {
		TH_LOG("last unexpected errno %d (op %d)", shm->last_bad_errno,
		       shm->last_bad_op);
	}
	EXPECT_EQ(0, shm->eof_fail);
	EXPECT_EQ(0, shm->setup_fail);
	EXPECT_GT(MAX_RECS, shm->nrec);

	/* the counters balance and agree with what the processes saw */
	EXPECT_EQ(-(long long)gone, D(pending));
	EXPECT_EQ(shm->shares, D(shared));
	EXPECT_EQ(D(shared), D(redeemed) + D(expired) + D(revoked) + D(reaped) +
		  D(pending));
	/* an exit_group() can hide at most one op per lane of that target */
	EXPECT_LE(shm->redeems, D(redeemed));
	EXPECT_GE(shm->redeems + 2 * shm->early_exits, D(redeemed));
	EXPECT_LE(shm->revokes + shm->declines, D(revoked));
	EXPECT_GE(shm->revokes + shm->declines + shm->early_exits, D(revoked));
	EXPECT_EQ(0, D(refused_user));
	EXPECT_EQ(0, D(refused_global));

	/* every path was taken */
	EXPECT_LT(0, D(redeemed));
	EXPECT_LT(0, D(expired));
	EXPECT_LT(0, D(revoked));
	EXPECT_LT(0, D(reaped));
	EXPECT_LE(WORKERS * MIN_ROUNDS, shm->rounds);
}

TEST_HARNESS_MAIN
