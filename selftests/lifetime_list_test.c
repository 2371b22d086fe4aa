// SPDX-License-Identifier: GPL-2.0-only
/*
 * LIST: root sees every pending share; an ordinary user sees the shares its
 * uid made and the shares addressed to a process of its uid, and nothing
 * else.  Entries carry what QUERY says; capacity 0 only counts; count never
 * exceeds capacity; a too small or too large entry_size is EINVAL.  A table
 * of thousands of shares, walked a chunk at a time while it grows, lists
 * each share exactly once.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"

#include "sockdup_util.h"

#define TTL_MS		sd_ms(20000)
/* a small array for the argument checks */
#define MAX_ENTRIES	16
/* age_ms and ttl_left_ms may be off by the module's clock rounding */
#define ROUND_MS	20

enum { ROOT, U1000, V1001, W1001, NR_AGENTS };

/*
 * The shares the fixture makes: who shares with whom, and which socket.
 * Visible to uid 1000: made by 1000 or addressed to a 1000 process.
 */
static const struct {
	int sharer;		/* -1: the test (root) itself */
	int target;
	enum sk_kind kind;
	bool seen_by_1000, seen_by_1001;
} plan[] = {
	{ -1,    ROOT,  SK_TCP,            false, false },	/* A */
	{ -1,    U1000, SK_UDP,            true,  false },	/* B */
	{ U1000, ROOT,  SK_UNIX_STREAM,    true,  false },	/* C */
	{ V1001, W1001, SK_UNIX_DGRAM,     false, true  },	/* D */
	{ V1001, U1000, SK_UNIX_SEQPACKET, true,  true  },	/* E */
	{ U1000, V1001, SK_TCP6,           true,  true  },	/* F */
};
#define NR_SHARES ARRAY_SIZE(plan)

FIXTURE(list) {
	int dev;
	struct agent ag[NR_AGENTS];
	struct sockdup_share s[NR_SHARES];
	__u64 ino[NR_SHARES];
	int peer[NR_SHARES];
	bool live[NR_SHARES];
	struct sockdup_share_info e[MAX_ENTRIES];
};

static const uid_t agent_uid[NR_AGENTS] = { 0, 1000, 1001, 1001 };

FIXTURE_SETUP(list)
{
	size_t i;

	self->dev = -1;
	for (i = 0; i < NR_AGENTS; i++) {
		self->ag[i].ctl = -1;
		self->ag[i].child = -1;
	}
	for (i = 0; i < NR_SHARES; i++)
		self->peer[i] = -1;
	self->dev = sd_open();
	ASSERT_LE(0, self->dev);
	for (i = 0; i < NR_AGENTS; i++)
		ASSERT_EQ(0, agent_spawn(&self->ag[i], agent_uid[i], 0));
	for (i = 0; i < NR_SHARES; i++) {
		pid_t target = self->ag[plan[i].target].pid;
		int sock, ret;

		ASSERT_EQ(0, make_sock(plan[i].kind, &sock, &self->peer[i]));
		self->ino[i] = sd_inode(sock);
		if (plan[i].sharer < 0)
			ret = sd_share(self->dev, sock, target, TTL_MS,
				       &self->s[i]);
		else
			ret = agent_share(&self->ag[plan[i].sharer], sock,
					  target, TTL_MS, &self->s[i]);
		close(sock);
		ASSERT_EQ(0, ret);
		self->live[i] = true;
	}
}

/* Who may release share @i: its sharer. */
static int release(FIXTURE_DATA(list) *self, size_t i)
{
	if (plan[i].sharer < 0)
		return sd_revoke(self->dev, self->s[i].cookie);
	return agent_revoke(&self->ag[plan[i].sharer], self->s[i].cookie);
}

FIXTURE_TEARDOWN(list)
{
	size_t i;

	for (i = 0; i < NR_SHARES; i++) {
		if (self->live[i])
			release(self, i);
		if (self->peer[i] >= 0)
			close(self->peer[i]);
	}
	for (i = 0; i < NR_AGENTS; i++)
		agent_kill(&self->ag[i]);
	if (self->dev >= 0)
		close(self->dev);
}

/*
 * LIST everything root sees into a large enough array (other programs may
 * have left many shares pending).  Returns the array (free it) or NULL.
 */
static struct sockdup_share_info *list_all(int dev, __u32 *count,
					   __u64 *total)
{
	struct sockdup_share_info *e = NULL;
	__u32 cap;

	for (;;) {
		if (sd_list(dev, NULL, 0, NULL, total))
			return NULL;
		cap = *total + 64;
		free(e);
		e = calloc(cap, sizeof(*e));
		if (!e || sd_list(dev, e, cap, count, total)) {
			free(e);
			return NULL;
		}
		if (*total <= *count)
			return e;
	}
}

/* The effective uid of process @pid, or -1. */
static long proc_euid(pid_t pid)
{
	char path[64], line[256];
	long ruid, euid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %ld %ld", &ruid, &euid) == 2)
			break;
	fclose(f);
	return euid;
}

/* The index of the entry with @id among @n entries, or -1. */
static int find(const struct sockdup_share_info *e, __u32 n, __u64 id)
{
	__u32 i;

	for (i = 0; i < n; i++)
		if (e[i].id == id)
			return i;
	return -1;
}

/* QUERY share @i as its sharer. */
static int query(FIXTURE_DATA(list) *self, size_t i,
		 struct sockdup_share_info *info)
{
	if (plan[i].sharer < 0)
		return sd_query(self->dev, self->s[i].cookie, info);
	return agent_query(&self->ag[plan[i].sharer], self->s[i].cookie, info);
}

/*
 * Entry @e of a LIST that started at @t_list against a QUERY of share @i
 * now: the clock fields moved by no more than the time in between.
 */
static void check_entry(struct __test_metadata *_metadata,
			FIXTURE_DATA(list) *self, size_t i,
			const struct sockdup_share_info *e, int64_t t_list)
{
	struct sockdup_share_info q;
	int64_t since;

	ASSERT_EQ(0, query(self, i, &q));
	since = sd_now_ms() - t_list;
	EXPECT_EQ(self->s[i].id, e->id);
	EXPECT_EQ(q.id, e->id);
	EXPECT_EQ(self->ino[i], e->sock_ino);
	EXPECT_EQ(q.sock_ino, e->sock_ino);
	EXPECT_EQ(q.family, e->family);
	EXPECT_EQ(q.type, e->type);
	EXPECT_EQ(q.protocol, e->protocol);
	EXPECT_EQ(q.sharer_pid, e->sharer_pid);
	EXPECT_EQ(q.target_pid, e->target_pid);
	EXPECT_EQ(q.sharer_uid, e->sharer_uid);
	EXPECT_EQ(q.nr_fds, e->nr_fds);
	EXPECT_EQ(1, e->nr_fds);
	EXPECT_EQ(0, e->reserved);
	EXPECT_LE(e->age_ms, q.age_ms);
	EXPECT_GE((int64_t)e->age_ms + since + ROUND_MS, (int64_t)q.age_ms);
	EXPECT_GE(e->ttl_left_ms, q.ttl_left_ms);
	EXPECT_LE((int64_t)e->ttl_left_ms,
		  (int64_t)q.ttl_left_ms + since + ROUND_MS);
	/* and what the test knows independently */
	EXPECT_EQ(self->ag[plan[i].target].pid, e->target_pid);
	EXPECT_EQ(plan[i].sharer < 0 ? getpid() : self->ag[plan[i].sharer].pid,
		  e->sharer_pid);
	EXPECT_EQ(plan[i].sharer < 0 ? 0 : agent_uid[plan[i].sharer],
		  e->sharer_uid);
}

TEST_F(list, root_sees_every_share)
{
	struct sockdup_share_info *e;
	__u32 count = 0;
	__u64 total = 0;
	int64_t t_list = sd_now_ms();
	size_t i;
	int at;

	e = list_all(self->dev, &count, &total);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(total, count);
	EXPECT_LE(NR_SHARES, count);
	for (i = 0; i < NR_SHARES; i++) {
		at = find(e, count, self->s[i].id);
		EXPECT_LE(0, at) {
			TH_LOG("share %zu (id %llu) missing", i,
			       (unsigned long long)self->s[i].id);
		}
		if (at < 0)
			continue;
		check_entry(_metadata, self, i, &e[at], t_list);
	}
	free(e);
}

/* What agent @who (an ordinary user) sees. */
static void check_user_view(struct __test_metadata *_metadata,
			    FIXTURE_DATA(list) *self, int who, bool by_1000)
{
	static struct agent_rep rep;
	uid_t uid = agent_uid[who];
	int64_t t_list = sd_now_ms();
	size_t i;
	__u32 k;

	ASSERT_EQ(0, agent_list(&self->ag[who], AGENT_LIST_MAX, &rep));
	EXPECT_EQ(rep.total, rep.count);
	ASSERT_GE(AGENT_LIST_MAX, rep.count);
	for (i = 0; i < NR_SHARES; i++) {
		bool want = by_1000 ? plan[i].seen_by_1000 : plan[i].seen_by_1001;
		int at = find(rep.entries, rep.count, self->s[i].id);

		EXPECT_EQ(want, at >= 0) {
			TH_LOG("uid %u: share %zu %s", uid, i,
			       want ? "missing" : "visible");
		}
		if (at >= 0)
			check_entry(_metadata, self, i, &rep.entries[at],
				    t_list);
	}
	/*
	 * Whatever else is listed is the user's own business too (a share
	 * whose target has exited shows target 0: its uid is unknown here).
	 */
	for (k = 0; k < rep.count; k++) {
		pid_t target = rep.entries[k].target_pid;
		bool own = rep.entries[k].sharer_uid == uid;
		bool to_own = !target || proc_euid(target) == (long)uid;

		EXPECT_TRUE(own || to_own) {
			TH_LOG("uid %u sees share id %llu (sharer uid %u)", uid,
			       (unsigned long long)rep.entries[k].id,
			       rep.entries[k].sharer_uid);
		}
	}
}

TEST_F(list, user_sees_own_and_addressed)
{
	check_user_view(_metadata, self, U1000, true);
}

TEST_F(list, other_user_sees_own_and_addressed)
{
	check_user_view(_metadata, self, V1001, false);
}

TEST_F(list, capacity_zero_counts)
{
	static struct agent_rep rep;
	struct sockdup_share_info *e;
	__u32 count = 77, full_count;
	__u64 total = 0, full_total;
	size_t i, seen = 0;

	e = list_all(self->dev, &full_count, &full_total);
	ASSERT_NE(NULL, e);
	free(e);
	ASSERT_EQ(0, sd_list(self->dev, NULL, 0, &count, &total));
	EXPECT_EQ(0, count);
	EXPECT_EQ(full_total, total);
	EXPECT_LE(NR_SHARES, total);

	for (i = 0; i < NR_SHARES; i++)
		seen += plan[i].seen_by_1000;
	ASSERT_EQ(0, agent_list(&self->ag[U1000], 0, &rep));
	EXPECT_EQ(0, rep.count);
	EXPECT_LE(seen, rep.total);
	EXPECT_GT(total, rep.total);
}

/*
 * Root's count-only LIST of a table nothing else changes: the LIST between
 * two equal STATS.
 */
static int count_still(struct __test_metadata *_metadata, int dev,
		       struct sockdup_stats *st, __u64 *total)
{
	struct sockdup_stats a;
	__u32 count = 1;
	int tries;

	for (tries = 0; tries < 50; tries++) {
		if (sd_stats(dev, &a) || sd_list(dev, NULL, 0, &count, total) ||
		    sd_stats(dev, st))
			return -1;
		if (a.pending == st->pending && a.shared == st->shared)
			break;
	}
	EXPECT_EQ(0, count);
	return tries < 50 ? 0 : -1;
}

/*
 * Root's count-only LIST counts the shares in the table, a batch as one;
 * STATS.pending counts their sockets.  A share past its TTL is not listed,
 * and is released as expired (by the sweeper, armed for its expiry, or by
 * the listing that meets it first: which one, a test cannot tell).
 */
TEST_F(list, count_only_counts_shares)
{
	struct sockdup_stats a, b;
	struct sockdup_share s = { .fd = -1, .ttl_ms = 600000 };
	struct sockdup_share_info *e;
	int sk[3], peers[3];
	__u64 before, total;
	long long start;
	__u32 count;
	int i, sock, peer;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sk[i], &peers[i]));
	s.target_pid = getpid();
	s.fds = (__u64)(uintptr_t)sk;
	s.nr_fds = 3;

	ASSERT_EQ(0, count_still(_metadata, self->dev, &a, &before));
	ASSERT_EQ(0, ioctl(self->dev, SOCKDUP_IOC_SHARE, &s));
	ASSERT_EQ(0, count_still(_metadata, self->dev, &b, &total));
	EXPECT_EQ(before + 1, total);
	EXPECT_EQ(a.pending + 3, b.pending);
	ASSERT_EQ(0, sd_revoke(self->dev, s.cookie));
	ASSERT_EQ(0, count_still(_metadata, self->dev, &b, &total));
	EXPECT_EQ(before, total);
	EXPECT_EQ(a.pending, b.pending);
	for (i = 0; i < 3; i++) {
		close(sk[i]);
		EXPECT_EQ(1, peer_closed(peers[i], SD_WAIT_MS));
		close(peers[i]);
	}

	/* a share that is past its TTL once we have slept that long */
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sock, &peer));
	ASSERT_EQ(0, sd_share(self->dev, sock, getpid(), 20, &s));
	close(sock);
	sd_sleep_ms(40);
	e = list_all(self->dev, &count, &total);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(-1, find(e, count, s.id));
	free(e);
	/* released as expired (the sweeper may still be counting it) */
	EXPECT_EQ(-1, sd_query_id(self->dev, s.id, NULL));
	start = sd_now_ms();
	while (!sd_stats(self->dev, &b) && b.expired < a.expired + 1 &&
	       sd_now_ms() - start < SD_WAIT_MS)
		sd_sleep_ms(1);
	EXPECT_LE(a.expired + 1, b.expired);
	EXPECT_EQ(1, peer_closed(peer, SD_WAIT_MS));
	close(peer);
}

TEST_F(list, count_within_capacity)
{
	__u32 count = 0;
	__u64 total = 0;
	size_t k;
	const unsigned char *p;

	memset(self->e, 0xa5, sizeof(self->e));
	ASSERT_EQ(0, sd_list(self->dev, self->e, 2, &count, &total));
	EXPECT_EQ(2, count);
	EXPECT_LE(NR_SHARES, total);
	EXPECT_NE(0, self->e[0].id);
	EXPECT_NE(0, self->e[1].id);
	/* nothing written past the capacity */
	p = (const unsigned char *)&self->e[2];
	for (k = 0; k < sizeof(self->e[2]); k++)
		ASSERT_EQ(0xa5, p[k]);
}

/*
 * A record may be larger than this kernel's (a newer ABI), but not without
 * bound: the kernel would clear the excess of every record.
 */
TEST_F(list, entry_size_too_large_einval)
{
	struct sockdup_list l = {
		.entry_size = SOCKDUP_LIST_ENTRY_MAX + 8,
		.entries = (uintptr_t)self->e,
		.capacity = 1,
	};

	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_LIST, &l));
	EXPECT_EQ(EINVAL, errno);
	l.entry_size = 0x80000000U;
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_LIST, &l));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, l.count);
}

/* A caller of the first ABI gets first-version records at its stride. */
TEST_F(list, first_version_entry_size)
{
	unsigned char buf[4 * SOCKDUP_SHARE_INFO_SIZE_VER0];
	struct sockdup_list l = {
		.entry_size = SOCKDUP_SHARE_INFO_SIZE_VER0,
		.entries = (uintptr_t)buf,
		.capacity = 2,
	};
	struct sockdup_share_info first;
	size_t k;

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, ioctl(self->dev, SOCKDUP_IOC_LIST, &l));
	ASSERT_LE(2, l.count);
	for (k = 0; k < 2; k++) {
		memset(&first, 0, sizeof(first));
		memcpy(&first, buf + k * SOCKDUP_SHARE_INFO_SIZE_VER0,
		       SOCKDUP_SHARE_INFO_SIZE_VER0);
		EXPECT_NE(0, first.id);
		EXPECT_EQ(1, first.nr_fds);
	}
	for (k = 2 * SOCKDUP_SHARE_INFO_SIZE_VER0; k < sizeof(buf); k++)
		ASSERT_EQ(0xa5, buf[k]) TH_LOG("byte %zu written", k);
}

TEST_F(list, entry_size_too_small_einval)
{
	struct sockdup_list l = {
		.entry_size = SOCKDUP_SHARE_INFO_SIZE_VER0 - 8,
		.entries = (uintptr_t)self->e,
		.capacity = MAX_ENTRIES,
	};

	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_LIST, &l));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, l.count);
	l.entry_size = 0;
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_LIST, &l));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(list, unknown_flag_einval)
{
	struct sockdup_list l = {
		.flags = 1,
		.entry_size = sizeof(struct sockdup_share_info),
		.entries = (uintptr_t)self->e,
		.capacity = MAX_ENTRIES,
	};

	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_LIST, &l));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(list, output_not_zero_einval)
{
	struct sockdup_list l = {
		.entry_size = sizeof(struct sockdup_share_info),
		.entries = (uintptr_t)self->e,
		.capacity = MAX_ENTRIES,
		.count = 1,
	};

	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_LIST, &l));
	EXPECT_EQ(EINVAL, errno);
	l.count = 0;
	l.total = 1;
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_LIST, &l));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(list, bad_pointer_efault)
{
	struct sockdup_list l = {
		.entry_size = sizeof(struct sockdup_share_info),
		.entries = 8,
		.capacity = MAX_ENTRIES,
	};

	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_LIST, &l));
	EXPECT_EQ(EFAULT, errno);
}

/* Released shares leave the listing at once; the others stay. */
TEST_F(list, released_shares_leave)
{
	struct sockdup_share_info *e;
	struct sd_base base = { 0 };
	struct sockdup_stats st;
	__u32 count = 0, gone = 0;
	__u64 total = 0;
	size_t i;
	int fd;

	ASSERT_EQ(0, sd_base_take(self->dev, &base));
	ASSERT_EQ(0, release(self, 0));
	self->live[0] = false;
	fd = agent_redeem(&self->ag[U1000], self->s[1].cookie, 0, NULL);
	ASSERT_LE(0, fd);
	self->live[1] = false;

	e = list_all(self->dev, &count, &total);
	ASSERT_NE(NULL, e);
	for (i = 0; i < NR_SHARES; i++)
		EXPECT_EQ(i >= 2, find(e, count, self->s[i].id) >= 0);
	free(e);
	/* what left the listing is what left the table (ours, maybe more) */
	ASSERT_EQ(0, sd_snapshot(self->dev, &base, &st, &gone));
	EXPECT_LE(2, gone);
	EXPECT_EQ(base.n - gone, st.pending);
	free(base.ids);
}

/* Shares made for the walk test: many chunks and copy-out batches. */
#define MANY	3000

/*
 * LIST walks the table a chunk at a time and copies out in batches, with
 * no lock held in between; the table also resizes as it grows.  Every
 * share is listed, and none twice.
 */
TEST(many_shares_each_listed_once)
{
	struct sockdup_share *mine;
	__u64 *ids = NULL;
	__u32 n = 0, i, k;
	int dev, sv[2];

	dev = sd_open();
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	mine = calloc(MANY, sizeof(*mine));
	ASSERT_NE(NULL, mine);
	for (i = 0; i < MANY; i++)
		ASSERT_EQ(0, sd_share(dev, sv[0], getpid(), TTL_MS, &mine[i]))
			TH_LOG("share %u: %s", i, strerror(errno));
	ASSERT_EQ(0, sd_list_ids(dev, &ids, &n));
	/* sorted: a share listed twice shows as two equal neighbours */
	for (k = 1; k < n; k++)
		ASSERT_NE(ids[k - 1], ids[k]) TH_LOG("id %llu listed twice",
						    (unsigned long long)ids[k]);
	/* ids grow: mine are in order, so k never goes back */
	for (i = 0, k = 0; i < MANY; i++) {
		while (k < n && ids[k] < mine[i].id)
			k++;
		ASSERT_TRUE(k < n && ids[k] == mine[i].id)
			TH_LOG("id %llu not listed",
			       (unsigned long long)mine[i].id);
	}
	for (i = 0; i < MANY; i++)
		EXPECT_EQ(0, sd_revoke(dev, mine[i].cookie));
	free(ids);
	free(mine);
	close(sv[0]);
	close(sv[1]);
	close(dev);
}

TEST_HARNESS_MAIN
