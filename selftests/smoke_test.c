// SPDX-License-Identifier: GPL-2.0-only
/*
 * smoke_test: the module is loaded, /dev/sockdup answers, and the ABI has
 * the sizes userspace was compiled against.  The first test the VM lane
 * runs; the feature tests live in the other *_test.c files.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/sockdup.h>

#include "kselftest_harness.h"
#include "sockdup_skip.h"
#include "sd_time.h"

/* The ABI is fixed: these sizes may only grow, never change. */
_Static_assert(sizeof(struct sockdup_share) == 56, "struct sockdup_share");
_Static_assert(sizeof(struct sockdup_redeem) == 40, "struct sockdup_redeem");
_Static_assert(sizeof(struct sockdup_revoke) == 32, "struct sockdup_revoke");
_Static_assert(sizeof(struct sockdup_share_info) == 328,
	       "struct sockdup_share_info");
_Static_assert(sizeof(struct sockdup_query) == 352, "struct sockdup_query");
/* The first versions, still accepted. */
_Static_assert(SOCKDUP_SHARE_SIZE_VER0 == 40, "sockdup_share version 0");
_Static_assert(SOCKDUP_REDEEM_SIZE_VER0 == 24, "sockdup_redeem version 0");
_Static_assert(SOCKDUP_REVOKE_SIZE_VER0 == 24, "sockdup_revoke version 0");
_Static_assert(SOCKDUP_SHARE_INFO_SIZE_VER0 == 64,
	       "sockdup_share_info version 0");
_Static_assert(SOCKDUP_QUERY_SIZE_VER0 == 88, "sockdup_query version 0");
_Static_assert(sizeof(struct sockdup_stats) == 96, "struct sockdup_stats");
_Static_assert(sizeof(struct sockdup_list) == 32, "struct sockdup_list");

/* The ioctl numbers encode those sizes, and the direction of each. */
_Static_assert(_IOC_SIZE(SOCKDUP_IOC_SHARE) == sizeof(struct sockdup_share),
	       "SOCKDUP_IOC_SHARE size");
_Static_assert(_IOC_SIZE(SOCKDUP_IOC_REDEEM) == sizeof(struct sockdup_redeem),
	       "SOCKDUP_IOC_REDEEM size");
_Static_assert(_IOC_SIZE(SOCKDUP_IOC_REVOKE) == sizeof(struct sockdup_revoke),
	       "SOCKDUP_IOC_REVOKE size");
_Static_assert(_IOC_SIZE(SOCKDUP_IOC_QUERY) == sizeof(struct sockdup_query),
	       "SOCKDUP_IOC_QUERY size");
_Static_assert(_IOC_SIZE(SOCKDUP_IOC_STATS) == sizeof(struct sockdup_stats),
	       "SOCKDUP_IOC_STATS size");
_Static_assert(_IOC_SIZE(SOCKDUP_IOC_LIST) == sizeof(struct sockdup_list),
	       "SOCKDUP_IOC_LIST size");

static int open_dev(void)
{
	return open(SOCKDUP_DEVICE, O_RDWR | O_CLOEXEC);
}

/* The misc device exists, is a character device and opens read-write. */
TEST(device_opens)
{
	struct stat st;
	int fd;

	ASSERT_EQ(0, stat(SOCKDUP_DEVICE, &st))
		TH_LOG("stat %s: %s", SOCKDUP_DEVICE, strerror(errno));
	EXPECT_TRUE(S_ISCHR(st.st_mode));

	fd = open_dev();
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", SOCKDUP_DEVICE, strerror(errno));
	EXPECT_EQ(0, close(fd));
}

/*
 * The sizes above, again at run time so that they show up in the TAP output,
 * plus the offsets that differ between a padded and an unpadded layout.
 */
TEST(abi_sizes)
{
	EXPECT_EQ(56, sizeof(struct sockdup_share));
	EXPECT_EQ(40, sizeof(struct sockdup_redeem));
	EXPECT_EQ(32, sizeof(struct sockdup_revoke));
	EXPECT_EQ(328, sizeof(struct sockdup_share_info));
	EXPECT_EQ(352, sizeof(struct sockdup_query));
	EXPECT_EQ(96, sizeof(struct sockdup_stats));
	EXPECT_EQ(32, sizeof(struct sockdup_list));

	EXPECT_EQ(16, offsetof(struct sockdup_share, cookie));
	EXPECT_EQ(32, offsetof(struct sockdup_share, id));
	EXPECT_EQ(SOCKDUP_SHARE_SIZE_VER0, offsetof(struct sockdup_share, fds));
	EXPECT_EQ(48, offsetof(struct sockdup_share, nr_fds));
	EXPECT_EQ(SOCKDUP_REDEEM_SIZE_VER0, offsetof(struct sockdup_redeem, fds));
	EXPECT_EQ(32, offsetof(struct sockdup_redeem, nr_fds));
	EXPECT_EQ(24, offsetof(struct sockdup_query, info));
	EXPECT_EQ(56, offsetof(struct sockdup_share_info, nr_fds));
	EXPECT_EQ(24, offsetof(struct sockdup_revoke, id));
	EXPECT_EQ(SOCKDUP_SHARE_INFO_SIZE_VER0,
		  offsetof(struct sockdup_share_info, local_addr_len));
	EXPECT_EQ(72, offsetof(struct sockdup_share_info, local_addr));
	EXPECT_EQ(200, offsetof(struct sockdup_share_info, peer_addr));
	EXPECT_EQ(8, offsetof(struct sockdup_list, entries));
	EXPECT_EQ(24, offsetof(struct sockdup_list, total));

	EXPECT_EQ(SOCKDUP_IOC_MAGIC, _IOC_TYPE(SOCKDUP_IOC_SHARE));
	EXPECT_EQ(_IOC_READ | _IOC_WRITE, _IOC_DIR(SOCKDUP_IOC_SHARE));
	EXPECT_EQ(_IOC_WRITE, _IOC_DIR(SOCKDUP_IOC_REDEEM));
	EXPECT_EQ(_IOC_WRITE, _IOC_DIR(SOCKDUP_IOC_REVOKE));
	EXPECT_EQ(_IOC_READ | _IOC_WRITE, _IOC_DIR(SOCKDUP_IOC_STATS));
}

/* A command the module does not know is ENOTTY, whatever its encoding. */
TEST(unknown_ioctl_enotty)
{
	struct sockdup_stats stats;
	int fd;

	fd = open_dev();
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", SOCKDUP_DEVICE, strerror(errno));

	/* Our magic, a number no command uses. */
	memset(&stats, 0, sizeof(stats));
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, _IOWR(SOCKDUP_IOC_MAGIC, 0x7f,
				      struct sockdup_stats), &stats));
	EXPECT_EQ(ENOTTY, errno);

	/* Our magic, no argument. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, _IO(SOCKDUP_IOC_MAGIC, 0x7e)));
	EXPECT_EQ(ENOTTY, errno);

	/* STATS' number and size under another magic. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, _IOWR(SOCKDUP_IOC_MAGIC ^ 0x01,
				      _IOC_NR(SOCKDUP_IOC_STATS),
				      struct sockdup_stats), &stats));
	EXPECT_EQ(ENOTTY, errno);

	EXPECT_EQ(0, close(fd));
}

/* SOCKDUP_IOC_STATS answers, and its counters are consistent. */
TEST(stats_readable)
{
	struct sockdup_stats stats;
	int fd;

	fd = open_dev();
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", SOCKDUP_DEVICE, strerror(errno));

	memset(&stats, 0, sizeof(stats));
	ASSERT_EQ(0, ioctl(fd, SOCKDUP_IOC_STATS, &stats))
		TH_LOG("SOCKDUP_IOC_STATS: %s", strerror(errno));
	EXPECT_EQ(0, stats.flags);
	EXPECT_EQ(0, stats.reserved);
	EXPECT_LE(stats.pending, stats.shared);
	EXPECT_LE(stats.user_pending, stats.pending);
	TH_LOG("pending %llu shared %llu max_per_user %llu max_total %llu",
	       (unsigned long long)stats.pending,
	       (unsigned long long)stats.shared,
	       (unsigned long long)stats.max_per_user,
	       (unsigned long long)stats.max_total);

	EXPECT_EQ(0, close(fd));
}

TEST_HARNESS_MAIN
