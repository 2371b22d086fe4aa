// SPDX-License-Identifier: GPL-2.0-only
/*
 * zz_leak_test - nothing is left behind (named to run after every other
 * test program)
 *
 * After the suite: STATS.pending drains to zero (shares of exited targets
 * are reaped within 2 * sweep_ms) and the counters add up
 * (shared == redeemed + expired + revoked + reaped + pending); no TCP, UDP
 * or AF_UNIX socket with an inode is left that no process holds - a socket
 * whose last descriptor is gone but that a leaked reference keeps alive
 * shows up in /proc/net with its inode and in nobody's /proc/PID/fd.
 * Then, for every socket kind and every way a share ends (redeemed and
 * closed, revoked, its target exited), the peer sees the socket close
 * and pending is back where it was.
 */
#define _GNU_SOURCE
#include <linux/sockdup.h>

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

/* sweep_ms while the reaping case runs: reaped within 2 * this. */
#define FAST_SWEEP_MS	50

/* The first two tests need no setup; a fixture keeps -Wextra quiet. */
FIXTURE(suite) {
	int unused;
};

FIXTURE_SETUP(suite)
{
}

FIXTURE_TEARDOWN(suite)
{
}

TEST_F(suite, pending_drains_to_zero)
{
	struct sockdup_stats st;
	long long sweep = 1000;
	int dev = sd_open();

	ASSERT_LE(0, dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				 strerror(errno));
	sd_param_get("sweep_ms", &sweep);
	EXPECT_EQ(0, sd_wait_pending(dev, 0, 4 * sweep + SD_WAIT_MS))
		TH_LOG("shares still pending after the suite");
	ASSERT_EQ(0, sd_stats(dev, &st));
	EXPECT_EQ(0ULL, st.user_pending);
	EXPECT_EQ(st.shared, st.redeemed + st.expired + st.revoked +
			     st.reaped + st.pending)
		TH_LOG(
		       "shared %llu redeemed %llu expired %llu revoked %llu reaped %llu pending %llu",
		       (unsigned long long)st.shared,
		       (unsigned long long)st.redeemed,
		       (unsigned long long)st.expired,
		       (unsigned long long)st.revoked,
		       (unsigned long long)st.reaped,
		       (unsigned long long)st.pending);
	close(dev);
}

#define MAX_INODES	4096

struct inode_set {
	unsigned long long ino[MAX_INODES];
	int n;
};

static bool has_inode(const struct inode_set *s, unsigned long long ino)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->ino[i] == ino)
			return true;
	return false;
}

static void add_inode(struct inode_set *s, unsigned long long ino)
{
	if (s->n < MAX_INODES && !has_inode(s, ino))
		s->ino[s->n++] = ino;
}

/* Socket inodes that some process holds a descriptor of. */
static void held_inodes(struct inode_set *s)
{
	char path[600], link[64];
	struct dirent *p, *f;
	DIR *proc, *fds;
	unsigned long long ino;
	ssize_t n;

	proc = opendir("/proc");
	if (!proc)
		return;
	while ((p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((f = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s",
				 p->d_name, f->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = 0;
			if (sscanf(link, "socket:[%llu]", &ino) == 1)
				add_inode(s, ino);
		}
		closedir(fds);
	}
	closedir(proc);
}

/*
 * Inodes listed in /proc/net/@file: the "inode" column of the tcp/udp
 * tables, the 7th column of unix.  Returns the number of lines read, -1
 * if the file is missing.
 */
static int net_inodes(const char *file, struct inode_set *s, char *first,
		      size_t firstlen)
{
	char path[64], line[512];
	int lines = 0, col;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/net/%s", file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	col = strcmp(file, "unix") ? 10 : 7;	/* 1-based */
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char *tok, *save = NULL;
		int i = 1;

		lines++;
		for (tok = strtok_r(line, " \t\n", &save); tok && i < col;
		     tok = strtok_r(NULL, " \t\n", &save))
			i++;
		if (tok && strtoull(tok, NULL, 10)) {
			unsigned long long ino = strtoull(tok, NULL, 10);

			if (!s->n && first)
				snprintf(first, firstlen, "%s", file);
			add_inode(s, ino);
		}
	}
	fclose(f);
	return lines;
}

/*
 * Every socket the kernel lists with an inode (an open file) is held by a
 * process.  Our own sockets are held by us, so they do not count.
 */
TEST_F(suite, no_socket_outlives_its_descriptors)
{
	static const char *const files[] = {
		"tcp", "tcp6", "udp", "udp6", "unix",
	};
	static struct inode_set held, listed;
	unsigned int i;
	int j, leaks = 0;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		listed.n = 0;
		if (net_inodes(files[i], &listed, NULL, 0) < 0)
			continue;
		held.n = 0;
		held_inodes(&held);
		for (j = 0; j < listed.n; j++) {
			if (has_inode(&held, listed.ino[j]))
				continue;
			/* Gone since we read the table? Look once more. */
			held_inodes(&held);
			if (has_inode(&held, listed.ino[j]))
				continue;
			leaks++;
			TH_LOG("/proc/net/%s: socket inode %llu held by no process",
			       files[i], listed.ino[j]);
		}
	}
	EXPECT_EQ(0, leaks);
}

FIXTURE(leak) {
	int dev;
	struct sd_sock s;
	long long pending;
	long long sweep_ms;	/* to restore */
};

FIXTURE_VARIANT(leak) {
	enum sd_kind kind;
};

SD_KIND_VARIANTS(leak);

FIXTURE_SETUP(leak)
{
	self->sweep_ms = -1;
	sd_sock_init(&self->s);
	self->dev = sd_open();
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", SOCKDUP_DEVICE,
				       strerror(errno));
	SD_SOCK_OPEN_OR_SKIP(&self->s, variant->kind);
	self->pending = sd_pending(self->dev);
	ASSERT_LE(0, self->pending);
}

/*
 * In the harness's parent, so it runs also after a failed ASSERT.  The
 * descriptors and the child belong to the test process, which is gone by
 * now (the child dies with it, PR_SET_PDEATHSIG): only the parameter is
 * left to undo.
 */
FIXTURE_TEARDOWN_PARENT(leak)
{
	if (self->sweep_ms > 0)
		sd_param_set("sweep_ms", self->sweep_ms);
}

TEST_F(leak, redeemed_and_closed)
{
	struct sd_cookie c;
	int fd;

	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, getpid(), 0, &c));
	fd = sd_redeem(self->dev, &c, SOCKDUP_REDEEM_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(self->pending, sd_pending(self->dev));
	close(fd);
	close(self->s.fd);
	self->s.fd = -1;
	EXPECT_EQ(1, sd_sock_closed(&self->s, SD_WAIT_MS));
}

TEST_F(leak, revoked)
{
	struct sd_cookie c;

	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, getpid(), 0, &c));
	close(self->s.fd);
	self->s.fd = -1;
	EXPECT_EQ(0, sd_sock_closed(&self->s, 0));
	ASSERT_EQ(0, sd_revoke(self->dev, &c));
	EXPECT_EQ(self->pending, sd_pending(self->dev));
	EXPECT_EQ(1, sd_sock_closed(&self->s, SD_WAIT_MS));
}

TEST_F(leak, target_exited)
{
	struct sd_cookie c;
	long long deadline;
	pid_t child;

	child = sd_fork(NULL);
	ASSERT_LE(0, child);
	if (child == 0) {
		pause();
		_exit(0);
	}
	ASSERT_EQ(0, sd_share(self->dev, self->s.fd, child, 0, &c));
	/*
	 * Lowered while a share is pending, sweep_ms pulls an armed sweep in
	 * (lowered with nothing pending, a sweep armed earlier with the old
	 * period would still run first).
	 */
	ASSERT_EQ(0, sd_param_get("sweep_ms", &self->sweep_ms));
	ASSERT_EQ(0, sd_param_set("sweep_ms", FAST_SWEEP_MS));
	close(self->s.fd);
	self->s.fd = -1;
	EXPECT_EQ(0, sd_sock_closed(&self->s, 0));
	sd_kill_wait(child);
	deadline = 2 * FAST_SWEEP_MS + SD_WAIT_MS;
	EXPECT_EQ(self->pending, sd_wait_pending(self->dev, self->pending,
						 deadline));
	EXPECT_EQ(1, sd_sock_closed(&self->s, SD_WAIT_MS));
}

TEST_HARNESS_MAIN
