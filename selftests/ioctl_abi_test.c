// SPDX-License-Identifier: GPL-2.0-only
/*
 * ioctl_abi_test - the rows of SOCKDUP.md §2 that hold for every ioctl
 *
 * EFAULT: a bad user pointer (NULL, unmapped, a kernel address, a struct
 * that runs into an unmapped page, an output that cannot be written) fails
 * with EFAULT for each ioctl and changes nothing: the pending cookie made in
 * the setup is still redeemable afterwards and a SHARE whose cookie could
 * not be written leaves nothing pending.
 * ENOTTY: unknown command numbers and a foreign ioctl magic.
 * Extensible structs: a size larger than the kernel's struct is accepted
 * when the extra bytes are zero (the call works as usual) and refused with
 * E2BIG when they are not (nothing happens); a size smaller than the first
 * version is refused.
 */
#define _GNU_SOURCE
#include <linux/sockdup.h>

#include <sys/mman.h>

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

/* A kernel address: never a valid user pointer on x86-64. */
#define KERNEL_PTR	((void *)0xffffffff81000000UL)

/* @cmd with its size field set to @size. */
#define RESIZE(cmd, size) \
	_IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), (size))

FIXTURE(abi) {
	int dev;
	int sv[2];
	struct sd_cookie c;	/* pending, shared with ourselves */
	long long pending;	/* STATS.pending with c pending */
	char *page;		/* two pages, the second one unmapped */
	long psz;
};

FIXTURE_SETUP(abi)
{
	self->sv[0] = self->sv[1] = -1;
	self->psz = sysconf(_SC_PAGESIZE);
	self->page = mmap(NULL, 2 * self->psz, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->page);
	ASSERT_EQ(0, munmap(self->page + self->psz, self->psz));
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				self->sv));
	ASSERT_EQ(0, sd_share(self->dev, self->sv[0], getpid(), 0, &self->c))
		TH_LOG("share: %s", strerror(errno));
	self->pending = sd_pending(self->dev);
	ASSERT_LT(0, self->pending);
}

FIXTURE_TEARDOWN(abi)
{
	if (self->dev >= 0) {
		sd_revoke(self->dev, &self->c);
		close(self->dev);
	}
	if (self->sv[0] >= 0)
		close(self->sv[0]);
	if (self->sv[1] >= 0)
		close(self->sv[1]);
	munmap(self->page, self->psz);
}

/* The setup's cookie is still pending and redeems to our socket. */
#define ASSERT_COOKIE_STILL_VALID() do {				\
	int __fd;							\
	EXPECT_EQ(self->pending, sd_pending(self->dev));		\
	__fd = sd_redeem(self->dev, &self->c, SOCKDUP_REDEEM_CLOEXEC);	\
	ASSERT_LE(0, __fd) TH_LOG("cookie lost: %s", strerror(errno));	\
	EXPECT_EQ(0, sd_kcmp_file(getpid(), __fd, getpid(), self->sv[0])); \
	close(__fd);							\
} while (0)

/* Where a struct of @size must start to end one byte into the hole. */
static void *straddle(FIXTURE_DATA(abi) *self, size_t size)
{
	return self->page + self->psz - size + 1;
}

/* A copy of @src in a read-only page. */
static void *readonly_copy(FIXTURE_DATA(abi) *self, const void *src,
			   size_t size)
{
	memcpy(self->page, src, size);
	if (mprotect(self->page, self->psz, PROT_READ))
		return NULL;
	return self->page;
}

/* Every ioctl, with a bad pointer of each kind. */
static const unsigned long all_cmds[] = {
	SOCKDUP_IOC_SHARE, SOCKDUP_IOC_REDEEM, SOCKDUP_IOC_REVOKE,
	SOCKDUP_IOC_QUERY, SOCKDUP_IOC_STATS, SOCKDUP_IOC_LIST,
};

TEST_F(abi, efault_null_each_ioctl)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		EXPECT_EQ(-1, ioctl(self->dev, all_cmds[i], NULL))
			TH_LOG("ioctl nr %lu", _IOC_NR(all_cmds[i]));
		EXPECT_EQ(EFAULT, errno)
			TH_LOG("ioctl nr %lu", _IOC_NR(all_cmds[i]));
	}
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, efault_unmapped_each_ioctl)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		EXPECT_EQ(-1, ioctl(self->dev, all_cmds[i],
				    self->page + self->psz))
			TH_LOG("ioctl nr %lu", _IOC_NR(all_cmds[i]));
		EXPECT_EQ(EFAULT, errno)
			TH_LOG("ioctl nr %lu", _IOC_NR(all_cmds[i]));
	}
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, efault_kernel_address_each_ioctl)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		EXPECT_EQ(-1, ioctl(self->dev, all_cmds[i], KERNEL_PTR))
			TH_LOG("ioctl nr %lu", _IOC_NR(all_cmds[i]));
		EXPECT_EQ(EFAULT, errno)
			TH_LOG("ioctl nr %lu", _IOC_NR(all_cmds[i]));
	}
	ASSERT_COOKIE_STILL_VALID();
}

/* A REDEEM struct whose last byte lies in the hole: nothing redeemed. */
TEST_F(abi, efault_redeem_straddling_struct)
{
	struct sockdup_redeem *rd = straddle(self, sizeof(*rd));

	/* All but the last cookie byte readable: still EFAULT. */
	memset(rd, 0, sizeof(*rd) - 1);
	memcpy(rd->cookie, self->c.b, SOCKDUP_COOKIE_SIZE - 1);
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_REDEEM, rd));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, efault_share_straddling_struct)
{
	struct sockdup_share *sh = straddle(self, sizeof(*sh));

	memset(sh, 0, sizeof(*sh) - 1);
	sh->fd = self->sv[0];
	sh->target_pid = getpid();
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_SHARE, sh));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_COOKIE_STILL_VALID();
}

/*
 * A valid SHARE whose cookie cannot be written back (read-only page): the
 * caller never learns the cookie, so no share may stay pending.
 */
TEST_F(abi, efault_share_output_not_writable)
{
	struct sockdup_share sh = {
		.fd = self->sv[0], .target_pid = getpid(),
	};
	void *ro = readonly_copy(self, &sh, sizeof(sh));

	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_SHARE, ro));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(self->pending, sd_pending(self->dev))
		TH_LOG("a share nobody can redeem stayed pending");
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, efault_query_output_not_writable)
{
	struct sockdup_query q = { 0 };
	void *ro;

	memcpy(q.cookie, self->c.b, sizeof(q.cookie));
	ro = readonly_copy(self, &q, sizeof(q));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_QUERY, ro));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, efault_stats_output_not_writable)
{
	struct sockdup_stats st = { 0 };
	void *ro = readonly_copy(self, &st, sizeof(st));

	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_STATS, ro));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_COOKIE_STILL_VALID();
}

/* LIST with an entries array in unmapped memory (a share is visible). */
TEST_F(abi, efault_list_entries_unmapped)
{
	struct sockdup_list l = {
		.entry_size = sizeof(struct sockdup_share_info),
		.entries = (__u64)(uintptr_t)(self->page + self->psz),
		.capacity = 4,
	};

	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_LIST, &l));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, efault_list_entries_kernel_address)
{
	struct sockdup_list l = {
		.entry_size = sizeof(struct sockdup_share_info),
		.entries = (__u64)(uintptr_t)KERNEL_PTR,
		.capacity = 4,
	};

	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_LIST, &l));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_COOKIE_STILL_VALID();
}

/* --- ENOTTY ------------------------------------------------------------ */

TEST_F(abi, enotty_unknown_command_number)
{
	static const unsigned int nrs[] = { 0x06, 0x07, 0x10, 0x7f, 0xff };
	struct sockdup_share sh = {
		.fd = self->sv[0], .target_pid = getpid(),
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(nrs); i++) {
		EXPECT_EQ(-1, ioctl(self->dev,
				    _IOWR(SOCKDUP_IOC_MAGIC, nrs[i],
					  struct sockdup_share), &sh))
			TH_LOG("nr 0x%x", nrs[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("nr 0x%x", nrs[i]);
		EXPECT_EQ(-1, ioctl(self->dev, _IO(SOCKDUP_IOC_MAGIC, nrs[i]),
				    0));
		EXPECT_EQ(ENOTTY, errno) TH_LOG("_IO nr 0x%x", nrs[i]);
	}
	ASSERT_COOKIE_STILL_VALID();
}

/* Our command numbers and structs under another magic are not ours. */
TEST_F(abi, enotty_wrong_magic)
{
	struct sockdup_share sh = {
		.fd = self->sv[0], .target_pid = getpid(),
	};
	struct sockdup_redeem rd = { 0 };
	struct sockdup_stats st = { 0 };

	memcpy(rd.cookie, self->c.b, sizeof(rd.cookie));
	EXPECT_EQ(-1, ioctl(self->dev, _IOWR(SOCKDUP_IOC_MAGIC - 1, 0x00,
					     struct sockdup_share), &sh));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->dev, _IOW(SOCKDUP_IOC_MAGIC + 1, 0x01,
					    struct sockdup_redeem), &rd));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->dev, _IOWR('X', 0x04,
					     struct sockdup_stats), &st));
	EXPECT_EQ(ENOTTY, errno);
	/* A generic file ioctl is not ours either. */
	EXPECT_EQ(-1, ioctl(self->dev, FIONREAD, &st));
	EXPECT_TRUE(errno == ENOTTY || errno == EINVAL)
		TH_LOG("FIONREAD: %s", strerror(errno));
	ASSERT_COOKIE_STILL_VALID();
}

/* --- Extensible structs: larger sizes ---------------------------------- */

/* Buffer for a struct of @size followed by @extra bytes, all zero. */
static void *bigbuf(size_t size, size_t extra)
{
	return calloc(1, size + extra);
}

TEST_F(abi, e2big_share_trailing_nonzero)
{
	size_t sz = sizeof(struct sockdup_share);
	struct sockdup_share *sh = bigbuf(sz, 8);

	ASSERT_NE(NULL, sh);
	sh->fd = self->sv[0];
	sh->target_pid = getpid();
	((char *)sh)[sz + 7] = 1;
	EXPECT_EQ(-1, ioctl(self->dev, RESIZE(SOCKDUP_IOC_SHARE, sz + 8), sh));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_TRUE(sd_cookie_is_zero((struct sd_cookie *)sh->cookie));
	((char *)sh)[sz + 7] = 0;
	((char *)sh)[sz] = 0x80;
	EXPECT_EQ(-1, ioctl(self->dev, RESIZE(SOCKDUP_IOC_SHARE, sz + 8), sh));
	EXPECT_EQ(E2BIG, errno);
	free(sh);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, share_larger_size_zero_trailing_works)
{
	size_t sz = sizeof(struct sockdup_share), extra, nz;
	struct sockdup_share *sh;
	struct sd_cookie c;
	int fd;

	for (extra = 8; extra <= 4096; extra *= 8) {
		sh = bigbuf(sz, extra);
		ASSERT_NE(NULL, sh);
		sh->fd = self->sv[0];
		sh->target_pid = getpid();
		ASSERT_EQ(0, ioctl(self->dev, RESIZE(SOCKDUP_IOC_SHARE,
						     sz + extra), sh))
			TH_LOG("size %zu: %s", sz + extra, strerror(errno));
		memcpy(c.b, sh->cookie, sizeof(c.b));
		EXPECT_FALSE(sd_cookie_is_zero(&c));
		EXPECT_NE(0ULL, sh->id);
		/* The kernel wrote nothing past what it knows. */
		nz = sz;
		while (nz < sz + extra && !((char *)sh)[nz])
			nz++;
		ASSERT_EQ(sz + extra, nz) TH_LOG("byte %zu is not zero", nz);
		free(sh);
		fd = sd_redeem(self->dev, &c, 0);
		ASSERT_LE(0, fd) TH_LOG("redeem: %s", strerror(errno));
		EXPECT_EQ(0, sd_kcmp_file(getpid(), fd, getpid(), self->sv[0]));
		close(fd);
	}
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, e2big_redeem_trailing_nonzero)
{
	size_t sz = sizeof(struct sockdup_redeem);
	struct sockdup_redeem *rd = bigbuf(sz, 8);

	ASSERT_NE(NULL, rd);
	memcpy(rd->cookie, self->c.b, sizeof(rd->cookie));
	((char *)rd)[sz + 3] = 1;
	EXPECT_EQ(-1, ioctl(self->dev, RESIZE(SOCKDUP_IOC_REDEEM, sz + 8), rd));
	EXPECT_EQ(E2BIG, errno);
	free(rd);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, redeem_larger_size_zero_trailing_works)
{
	size_t sz = sizeof(struct sockdup_redeem);
	struct sockdup_redeem *rd = bigbuf(sz, 64);
	int fd;

	ASSERT_NE(NULL, rd);
	memcpy(rd->cookie, self->c.b, sizeof(rd->cookie));
	fd = ioctl(self->dev, RESIZE(SOCKDUP_IOC_REDEEM, sz + 64), rd);
	free(rd);
	ASSERT_LE(0, fd) TH_LOG("redeem: %s", strerror(errno));
	EXPECT_EQ(0, sd_kcmp_file(getpid(), fd, getpid(), self->sv[0]));
	EXPECT_EQ(self->pending - 1, sd_pending(self->dev));
	close(fd);
}

TEST_F(abi, e2big_revoke_trailing_nonzero)
{
	size_t sz = sizeof(struct sockdup_revoke);
	struct sockdup_revoke *rv = bigbuf(sz, 8);

	ASSERT_NE(NULL, rv);
	memcpy(rv->cookie, self->c.b, sizeof(rv->cookie));
	((char *)rv)[sz] = 1;
	EXPECT_EQ(-1, ioctl(self->dev, RESIZE(SOCKDUP_IOC_REVOKE, sz + 8), rv));
	EXPECT_EQ(E2BIG, errno);
	free(rv);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, revoke_larger_size_zero_trailing_works)
{
	size_t sz = sizeof(struct sockdup_revoke);
	struct sockdup_revoke *rv = bigbuf(sz, 8);

	ASSERT_NE(NULL, rv);
	memcpy(rv->cookie, self->c.b, sizeof(rv->cookie));
	EXPECT_EQ(0, ioctl(self->dev, RESIZE(SOCKDUP_IOC_REVOKE, sz + 8), rv))
		TH_LOG("revoke: %s", strerror(errno));
	free(rv);
	EXPECT_EQ(-1, sd_redeem(self->dev, &self->c, 0));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(abi, e2big_query_trailing_nonzero)
{
	size_t sz = sizeof(struct sockdup_query);
	struct sockdup_query *q = bigbuf(sz, 8);

	ASSERT_NE(NULL, q);
	memcpy(q->cookie, self->c.b, sizeof(q->cookie));
	((char *)q)[sz + 7] = 1;
	EXPECT_EQ(-1, ioctl(self->dev, RESIZE(SOCKDUP_IOC_QUERY, sz + 8), q));
	EXPECT_EQ(E2BIG, errno);
	free(q);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, query_larger_size_zero_trailing_works)
{
	size_t sz = sizeof(struct sockdup_query);
	struct sockdup_query *q = bigbuf(sz, 8);

	ASSERT_NE(NULL, q);
	memcpy(q->cookie, self->c.b, sizeof(q->cookie));
	EXPECT_EQ(0, ioctl(self->dev, RESIZE(SOCKDUP_IOC_QUERY, sz + 8), q))
		TH_LOG("query: %s", strerror(errno));
	EXPECT_EQ(sd_inode(self->sv[0]), q->info.sock_ino);
	EXPECT_EQ((__u32)AF_UNIX, q->info.family);
	free(q);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, e2big_stats_trailing_nonzero)
{
	size_t sz = sizeof(struct sockdup_stats);
	struct sockdup_stats *st = bigbuf(sz, 8);

	ASSERT_NE(NULL, st);
	((char *)st)[sz + 1] = 1;
	EXPECT_EQ(-1, ioctl(self->dev, RESIZE(SOCKDUP_IOC_STATS, sz + 8), st));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(0ULL, st->pending);
	free(st);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, stats_larger_size_zero_trailing_works)
{
	size_t sz = sizeof(struct sockdup_stats);
	struct sockdup_stats *st = bigbuf(sz, 8);

	ASSERT_NE(NULL, st);
	EXPECT_EQ(0, ioctl(self->dev, RESIZE(SOCKDUP_IOC_STATS, sz + 8), st))
		TH_LOG("stats: %s", strerror(errno));
	EXPECT_EQ((__u64)self->pending, st->pending);
	free(st);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, e2big_list_trailing_nonzero)
{
	size_t sz = sizeof(struct sockdup_list);
	struct sockdup_list *l = bigbuf(sz, 8);

	ASSERT_NE(NULL, l);
	l->entry_size = sizeof(struct sockdup_share_info);
	((char *)l)[sz + 4] = 1;
	EXPECT_EQ(-1, ioctl(self->dev, RESIZE(SOCKDUP_IOC_LIST, sz + 8), l));
	EXPECT_EQ(E2BIG, errno);
	free(l);
	ASSERT_COOKIE_STILL_VALID();
}

TEST_F(abi, list_larger_size_zero_trailing_works)
{
	size_t sz = sizeof(struct sockdup_list);
	struct sockdup_list *l = bigbuf(sz, 8);

	ASSERT_NE(NULL, l);
	l->entry_size = sizeof(struct sockdup_share_info);
	EXPECT_EQ(0, ioctl(self->dev, RESIZE(SOCKDUP_IOC_LIST, sz + 8), l))
		TH_LOG("list: %s", strerror(errno));
	EXPECT_LE(1ULL, l->total);
	EXPECT_EQ(0U, l->count);
	free(l);
	ASSERT_COOKIE_STILL_VALID();
}

/*
 * A program built before batches passes the first versions of SHARE and
 * REDEEM (no @fds, @nr_fds): they work as they always did, and the kernel
 * writes nothing past the old end of the share structure.
 */
TEST_F(abi, share_and_redeem_first_version_sizes_work)
{
	struct sockdup_share *sh = bigbuf(SOCKDUP_SHARE_SIZE_VER0, 16);
	struct sockdup_redeem *rd = bigbuf(SOCKDUP_REDEEM_SIZE_VER0, 16);
	size_t i;
	int fd;

	ASSERT_NE(NULL, sh);
	ASSERT_NE(NULL, rd);
	sh->fd = self->sv[0];
	sh->target_pid = getpid();
	/* Past the old end: bytes the old program does not pass. */
	memset((char *)sh + SOCKDUP_SHARE_SIZE_VER0, 0xa5, 16);
	ASSERT_EQ(0, ioctl(self->dev, RESIZE(SOCKDUP_IOC_SHARE,
					     SOCKDUP_SHARE_SIZE_VER0), sh))
		TH_LOG("share: %s", strerror(errno));
	for (i = SOCKDUP_SHARE_SIZE_VER0; i < SOCKDUP_SHARE_SIZE_VER0 + 16; i++)
		ASSERT_EQ(0xa5, ((unsigned char *)sh)[i]) TH_LOG("byte %zu", i);
	EXPECT_EQ(self->pending + 1, sd_pending(self->dev));

	memcpy(rd->cookie, sh->cookie, sizeof(rd->cookie));
	memset((char *)rd + SOCKDUP_REDEEM_SIZE_VER0, 0xa5, 16);
	fd = ioctl(self->dev, RESIZE(SOCKDUP_IOC_REDEEM,
				     SOCKDUP_REDEEM_SIZE_VER0), rd);
	ASSERT_LE(0, fd) TH_LOG("redeem: %s", strerror(errno));
	EXPECT_EQ(0, sd_kcmp_file(getpid(), fd, getpid(), self->sv[0]));
	EXPECT_EQ(self->pending, sd_pending(self->dev));
	close(fd);
	free(sh);
	free(rd);
	ASSERT_COOKIE_STILL_VALID();
}

/* A size below the first version's is not a version we know. */
TEST_F(abi, smaller_size_refused)
{
	struct sockdup_share sh = {
		.fd = self->sv[0], .target_pid = getpid(),
	};
	struct sockdup_redeem rd = { 0 };

	EXPECT_EQ(-1, ioctl(self->dev, RESIZE(SOCKDUP_IOC_SHARE,
					      SOCKDUP_SHARE_SIZE_VER0 - 8),
			    &sh));
	EXPECT_TRUE(errno == EINVAL || errno == ENOTTY)
		TH_LOG("share: %s", strerror(errno));
	memcpy(rd.cookie, self->c.b, sizeof(rd.cookie));
	EXPECT_EQ(-1, ioctl(self->dev, RESIZE(SOCKDUP_IOC_REDEEM,
					      SOCKDUP_REDEEM_SIZE_VER0 - 8),
			    &rd));
	EXPECT_TRUE(errno == EINVAL || errno == ENOTTY)
		TH_LOG("redeem: %s", strerror(errno));
	ASSERT_COOKIE_STILL_VALID();
}

TEST_HARNESS_MAIN
