// SPDX-License-Identifier: GPL-2.0-only
/*
 * share_errors_test - SHARE refuses bad input (SOCKDUP.md §2, SHARE rows)
 *
 * One invalid input per test, everything else valid: EBADF (no open file
 * behind the number), ENOTSOCK (an open file that is not a socket), ESRCH
 * (no such process: unused pid, a non-leader thread id, an exited process
 * whether reaped or not), EINVAL (unknown flag bits, non-zero output
 * fields, a TTL above max_ttl_ms).  A refused SHARE leaves nothing pending;
 * the teardown of every test checks that STATS.pending is back where it was
 * and that no share was counted.
 */
#define _GNU_SOURCE
#include <linux/sockdup.h>

#include <limits.h>
#include <pthread.h>

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

FIXTURE(share) {
	int dev;
	int sv[2];		/* a valid socket to share: sv[0] */
	struct sockdup_stats before;
	bool allow_shared;	/* the test made valid shares itself */
};

FIXTURE_SETUP(share)
{
	self->sv[0] = self->sv[1] = -1;
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				self->sv));
	ASSERT_EQ(0, sd_stats(self->dev, &self->before));
}

FIXTURE_TEARDOWN(share)
{
	struct sockdup_stats after;

	/* A refused SHARE leaves nothing behind. */
	if (self->dev >= 0 && !sd_stats(self->dev, &after)) {
		EXPECT_EQ(self->before.pending, after.pending);
		if (!self->allow_shared)
			EXPECT_EQ(self->before.shared, after.shared);
	}
	if (self->sv[0] >= 0)
		close(self->sv[0]);
	if (self->sv[1] >= 0)
		close(self->sv[1]);
	if (self->dev >= 0)
		close(self->dev);
}

/* SHARE of @fd for ourselves with everything else valid. */
static int share_fd(FIXTURE_DATA(share) *self, int fd)
{
	return sd_share(self->dev, fd, getpid(), 0, NULL);
}

/* SHARE of the valid socket for @pid. */
static int share_to(FIXTURE_DATA(share) *self, pid_t pid)
{
	return sd_share(self->dev, self->sv[0], pid, 0, NULL);
}

/* --- EBADF: fd not open ---------------------------------------------- */

TEST_F(share, ebadf_negative_fd)
{
	EXPECT_EQ(-1, share_fd(self, -1));
	EXPECT_EQ(EBADF, errno);
}

TEST_F(share, ebadf_closed_fd)
{
	int fd = dup(self->sv[0]);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(-1, share_fd(self, fd));
	EXPECT_EQ(EBADF, errno);
}

TEST_F(share, ebadf_fd_above_table)
{
	EXPECT_EQ(-1, share_fd(self, INT_MAX));
	EXPECT_EQ(EBADF, errno);
}

/* An O_PATH descriptor of a bound AF_UNIX socket is no open socket. */
TEST_F(share, ebadf_o_path_of_socket)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s, p;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "/tmp/sockdup-opath-%d",
		 getpid());
	unlink(sun.sun_path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, bind(s, (struct sockaddr *)&sun, sizeof(sun)));
	p = open(sun.sun_path, O_PATH | O_CLOEXEC);
	unlink(sun.sun_path);
	ASSERT_LE(0, p) TH_LOG("O_PATH open: %s", strerror(errno));

	EXPECT_EQ(-1, share_fd(self, p));
	EXPECT_EQ(EBADF, errno);
	close(p);
	close(s);
}

/* --- ENOTSOCK: an open file that is not a socket ---------------------- */

TEST_F(share, enotsock_pipe)
{
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	EXPECT_EQ(-1, share_fd(self, p[0]));
	EXPECT_EQ(ENOTSOCK, errno);
	close(p[0]);
	close(p[1]);
}

TEST_F(share, enotsock_regular_file)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/sockdup-file-%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", path, strerror(errno));
	unlink(path);
	EXPECT_EQ(-1, share_fd(self, fd));
	EXPECT_EQ(ENOTSOCK, errno);
	close(fd);
}

TEST_F(share, enotsock_sockdup_device_itself)
{
	EXPECT_EQ(-1, share_fd(self, self->dev));
	EXPECT_EQ(ENOTSOCK, errno);
}

TEST_F(share, enotsock_directory)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, share_fd(self, fd));
	EXPECT_EQ(ENOTSOCK, errno);
	close(fd);
}

/* --- ESRCH: no such target process ------------------------------------ */

TEST_F(share, esrch_unused_pid)
{
	long long max = 0;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	pid_t pid;

	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%lld", &max));
	fclose(f);
	/* Find a number nobody uses, from the top down. */
	for (pid = max - 1; pid > 1; pid--)
		if (kill(pid, 0) == -1 && errno == ESRCH)
			break;
	ASSERT_LT(1, pid);
	EXPECT_EQ(-1, share_to(self, pid));
	EXPECT_EQ(ESRCH, errno);
}

static void *sleeper(void *arg)
{
	int *tid = arg;

	__atomic_store_n(tid, sd_gettid(), __ATOMIC_SEQ_CST);
	pause();
	return NULL;
}

/* A live thread's id that is not the thread-group leader's. */
TEST_F(share, esrch_non_leader_thread_id)
{
	pthread_t th;
	int tid = 0;

	ASSERT_EQ(0, pthread_create(&th, NULL, sleeper, &tid));
	while (!__atomic_load_n(&tid, __ATOMIC_SEQ_CST))
		sd_sleep_ms(1);
	ASSERT_NE(getpid(), tid);
	ASSERT_EQ(0, kill(tid, 0));	/* it exists as a thread */

	EXPECT_EQ(-1, share_to(self, tid));
	EXPECT_EQ(ESRCH, errno);
	pthread_cancel(th);
	pthread_join(th, NULL);
}

/* A child that has exited but is not reaped yet: a zombie. */
TEST_F(share, esrch_zombie)
{
	pid_t pid = sd_fork(NULL);

	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(0, sd_wait_zombie(pid));
	ASSERT_EQ(0, kill(pid, 0));	/* the pid is still there */

	EXPECT_EQ(-1, share_to(self, pid));
	EXPECT_EQ(ESRCH, errno);
	EXPECT_EQ(0, sd_wait(pid));
}

/* A child that has exited and was reaped. */
TEST_F(share, esrch_reaped)
{
	pid_t pid = sd_fork(NULL);

	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(0, sd_wait(pid));
	ASSERT_EQ(-1, kill(pid, 0));

	EXPECT_EQ(-1, share_to(self, pid));
	EXPECT_EQ(ESRCH, errno);
}

/* Pid 0 and negative pids name no process (ESRCH; EINVAL tolerated). */
TEST_F(share, esrch_pid_zero)
{
	EXPECT_EQ(-1, share_to(self, 0));
	EXPECT_TRUE(errno == ESRCH || errno == EINVAL)
		TH_LOG("errno %d (%s)", errno, strerror(errno));
}

TEST_F(share, esrch_pid_negative)
{
	EXPECT_EQ(-1, share_to(self, -1));
	EXPECT_TRUE(errno == ESRCH || errno == EINVAL)
		TH_LOG("errno %d (%s)", errno, strerror(errno));
}

/* --- EPERM: a target that can never redeem --------------------------- */

/* PF_KTHREAD of /proc/@pid/stat's flags field: 1, 0, or -1 if unreadable. */
static int is_kthread(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long flags;
	int fd, i;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* the name may hold spaces: fields count from its closing ')' */
	p = strrchr(buf, ')');
	for (i = 0; p && i < 7; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %lu", &flags) != 1)
		return -1;
	return !!(flags & 0x00200000);	/* PF_KTHREAD */
}

/*
 * A kernel thread never redeems, and its share would hold the socket until
 * the TTL ran out: refused for everybody, root included.  kthreadd is pid 2
 * of the initial pid namespace, where the suite runs.
 */
TEST_F(share, eperm_kernel_thread)
{
	ASSERT_EQ(1, is_kthread(2)) TH_LOG("pid 2 is not kthreadd here");
	EXPECT_EQ(-1, share_to(self, 2));
	EXPECT_EQ(EPERM, errno);
}

/*
 * Init never exits nor redeems: only CAP_SYS_ADMIN may name it.  An ordinary
 * user is refused; root's share is made (and revoked here).
 */
TEST_F(share, eperm_init_for_unprivileged_user)
{
	struct sd_cookie c;
	int ctl, res[2];
	pid_t pid;

	ASSERT_EQ(0, is_kthread(1));
	pid = sd_fork(&ctl);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setresgid(31400, 31400, 31400) ||
		    setresuid(31400, 31400, 31400))
			_exit(2);
		res[0] = share_to(self, 1);
		res[1] = errno;
		_exit(sd_send(ctl, res, sizeof(res)) ? 3 : 0);
	}
	ASSERT_EQ(0, sd_recv(ctl, res, sizeof(res), -1))
		TH_LOG("child: %s, exit %d", sd_errmsg(), sd_wait(pid));
	EXPECT_EQ(0, sd_wait(pid));
	close(ctl);
	EXPECT_EQ(-1, res[0]);
	EXPECT_EQ(EPERM, res[1]);

	self->allow_shared = true;
	ASSERT_EQ(0, sd_share(self->dev, self->sv[0], 1, 0, &c))
		TH_LOG("root: %s", strerror(errno));
	EXPECT_EQ(0, sd_revoke(self->dev, &c));
}

/* --- EINVAL: unknown flags, non-zero output fields, bad TTL ----------- */

TEST_F(share, einval_each_unknown_flag_bit)
{
	struct sockdup_share sh;
	int bit;

	for (bit = 0; bit < 32; bit++) {
		if (SOCKDUP_SHARE_FLAGS & (1U << bit))
			continue;
		memset(&sh, 0, sizeof(sh));
		sh.flags = 1U << bit;
		sh.fd = self->sv[0];
		sh.target_pid = getpid();
		EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_SHARE, &sh))
			TH_LOG("flag bit %d accepted", bit);
		EXPECT_EQ(EINVAL, errno) TH_LOG("flag bit %d", bit);
	}
}

TEST_F(share, einval_each_cookie_byte_nonzero)
{
	struct sockdup_share sh;
	int i;

	for (i = 0; i < SOCKDUP_COOKIE_SIZE; i++) {
		memset(&sh, 0, sizeof(sh));
		sh.fd = self->sv[0];
		sh.target_pid = getpid();
		sh.cookie[i] = 0x80;
		EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_SHARE, &sh))
			TH_LOG("cookie byte %d accepted", i);
		EXPECT_EQ(EINVAL, errno) TH_LOG("cookie byte %d", i);
	}
}

TEST_F(share, einval_id_nonzero)
{
	struct sockdup_share sh = {
		.fd = self->sv[0], .target_pid = getpid(), .id = 1,
	};

	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_SHARE, &sh));
	EXPECT_EQ(EINVAL, errno);
	sh.id = 1ULL << 63;
	EXPECT_EQ(-1, ioctl(self->dev, SOCKDUP_IOC_SHARE, &sh));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(share, einval_ttl_above_max)
{
	long long max;

	ASSERT_EQ(0, sd_param_get("max_ttl_ms", &max)) TH_LOG("%s",
							      sd_errmsg());
	ASSERT_GT(0xffffffffLL, max);
	EXPECT_EQ(-1, sd_share(self->dev, self->sv[0], getpid(), max + 1,
			       NULL));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(share, einval_ttl_u32_max)
{
	long long max;

	ASSERT_EQ(0, sd_param_get("max_ttl_ms", &max));
	ASSERT_GT(0xffffffffLL, max);
	EXPECT_EQ(-1, sd_share(self->dev, self->sv[0], getpid(), 0xffffffffU,
			       NULL));
	EXPECT_EQ(EINVAL, errno);
}

/* The boundary: ttl_ms == max_ttl_ms is accepted (and revoked again). */
TEST_F(share, ttl_at_max_accepted)
{
	struct sd_cookie c;
	long long max;

	self->allow_shared = true;
	ASSERT_EQ(0, sd_param_get("max_ttl_ms", &max));
	ASSERT_EQ(0, sd_share(self->dev, self->sv[0], getpid(), max, &c))
		TH_LOG("ttl %lld: %s", max, strerror(errno));
	EXPECT_FALSE(sd_cookie_is_zero(&c));
	EXPECT_EQ(0, sd_revoke(self->dev, &c));
}

/* Lowering max_ttl_ms at run time applies to the next SHARE. */
TEST_F(share, einval_ttl_above_lowered_max)
{
	long long max;

	ASSERT_EQ(0, sd_param_get("max_ttl_ms", &max));
	ASSERT_LT(1000, max);
	ASSERT_EQ(0, sd_param_set("max_ttl_ms", 1000)) TH_LOG("%s",
							      sd_errmsg());
	EXPECT_EQ(-1, sd_share(self->dev, self->sv[0], getpid(), 1001, NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, sd_param_set("max_ttl_ms", max));
}

TEST_HARNESS_MAIN
