// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unload with shares pending: rmmod releases every pin, so the peer of each
 * shared socket (whose sharer closed its descriptor and exited) sees EOF.
 * The module is loaded again afterwards with the parameters it had, so the
 * test runs in any order with the rest of the suite and the runner's final
 * rmmod still has a module to remove.  Needs the module file (the VM runner
 * puts it at /sockdup/sockdup.ko; SOCKDUP_KO overrides); skipped without it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"

#include "sockdup_util.h"

#define KO_DEFAULT	"/sockdup/sockdup.ko"
#define LONG_TTL_MS	((__u32)sd_ms(30000))
/* every pin is dropped by rmmod itself: the peers see EOF at once */
#define EOF_BOUND_MS	sd_ms(1000)

static const char *ko_path(void)
{
	const char *p = getenv("SOCKDUP_KO");

	return p && *p ? p : KO_DEFAULT;
}

/* "name=value ..." of every parameter the module has now. */
static int module_params(char *buf, size_t size)
{
	struct dirent *d;
	size_t len = 0;
	DIR *dir;

	buf[0] = 0;
	dir = opendir(SD_PARAM_DIR);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		char path[300], val[64] = "";
		ssize_t n;
		int fd;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SD_PARAM_DIR "%s", d->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, val, sizeof(val) - 1);
		close(fd);
		if (n <= 0)
			continue;
		val[n] = 0;
		val[strcspn(val, "\n")] = 0;
		if (strchr(val, ' ') || !val[0])
			continue;
		len += snprintf(buf + len, size - len, "%s%s=%s",
				len ? " " : "", d->d_name, val);
		if (len >= size) {
			closedir(dir);
			return -1;
		}
	}
	closedir(dir);
	return 0;
}

static bool module_loaded(void)
{
	return access("/sys/module/sockdup", F_OK) == 0;
}

/* The module's line of /proc/modules, for the log. */
static void log_module(struct __test_metadata *_metadata)
{
	char line[256];
	FILE *f = fopen("/proc/modules", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "sockdup ", 8))
			TH_LOG("/proc/modules: %s", line);
	fclose(f);
}

static int rmmod(void)
{
	return syscall(SYS_delete_module, "sockdup", O_NONBLOCK);
}

/*
 * rmmod, retried while a descriptor of an exiting process still closes,
 * for up to SD_WAIT_MS.
 */
static int rmmod_wait(void)
{
	int64_t end = sd_now_ms() + SD_WAIT_MS;
	int ret;

	while ((ret = rmmod()) && sd_now_ms() < end) {
		if (errno != EWOULDBLOCK && errno != EBUSY && errno != EAGAIN)
			break;
		sd_sleep_ms(20);
	}
	return ret;
}

static int insmod(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret, err;

	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, params, 0);
	err = errno;
	close(fd);
	errno = err;
	return ret;
}

enum { NR_PEERS = 6 };

FIXTURE(unload) {
	struct agent sharer, target, doomed;
	int peer[NR_PEERS];
	struct sockdup_share s[NR_PEERS];
	char params[1024];
	bool unloaded;
	pid_t owner;	/* the process the descriptors belong to */
};

FIXTURE_SETUP(unload)
{
	struct agent *a[] = { &self->sharer, &self->target, &self->doomed };
	size_t i;

	for (i = 0; i < 3; i++) {
		a[i]->ctl = -1;
		a[i]->child = -1;
	}
	for (i = 0; i < NR_PEERS; i++)
		self->peer[i] = -1;
	self->unloaded = false;
	self->owner = getpid();
	if (access(ko_path(), R_OK))
		SKIP(return, "no module file at %s to load again", ko_path());
	ASSERT_TRUE(module_loaded());
	ASSERT_EQ(0, params_reset());
	ASSERT_EQ(0, module_params(self->params, sizeof(self->params)));
}

/*
 * In the parent of the test process, so that it runs even when a failed
 * ASSERT or a crash ended the test between rmmod and insmod.
 */
FIXTURE_TEARDOWN_PARENT(unload)
{
	size_t i;

	/* never leave the suite without the module */
	if (self->unloaded && !module_loaded())
		EXPECT_EQ(0, insmod(ko_path(), self->params));
	if (getpid() != self->owner)
		return;
	/* run by the test process itself (after a failed ASSERT): clean up */
	agent_kill(&self->sharer);
	agent_kill(&self->target);
	agent_kill(&self->doomed);
	for (i = 0; i < NR_PEERS; i++)
		if (self->peer[i] >= 0)
			close(self->peer[i]);
}

/* A listener whose peer is a client queued on it but never accepted. */
static int listener_pair(int *sock, int *peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int lfd, cfd;

	if (make_sock(SK_TCP_LISTENER, &lfd, &cfd) ||
	    getsockname(lfd, (struct sockaddr *)&ss, &len))
		return -1;
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&ss, len))
		return -1;
	*sock = lfd;
	*peer = cfd;
	return 0;
}

TEST_F(unload, pending_shares_released)
{
	static const enum sk_kind kinds[] = {
		SK_UNIX_STREAM, SK_TCP, SK_TCP6, SK_UNIX_SEQPACKET,
	};
	int64_t t0, eof, worst = 0;
	int i, sock, ret, dev;
	__u32 n = 0;
	__u64 *ids;

	ASSERT_EQ(0, agent_spawn(&self->sharer, 0, 0));
	/* targets never open /dev/sockdup: they only have to exist */
	ASSERT_EQ(0, agent_spawn(&self->target, 0, 0));
	ASSERT_EQ(0, agent_spawn(&self->doomed, 0, 0));

	for (i = 0; i < NR_PEERS; i++) {
		pid_t target = self->target.pid;
		__u32 ttl = LONG_TTL_MS;

		if (i < 4)
			ret = make_sock(kinds[i], &sock, &self->peer[i]);
		else
			ret = listener_pair(&sock, &self->peer[i]);
		ASSERT_EQ(0, ret);
		/* one share waits for its reap, one is past its TTL */
		if (i == 1)
			target = self->doomed.pid;
		if (i == 2)
			ttl = 50;
		ret = agent_share(&self->sharer, sock, target, ttl, &self->s[i]);
		close(sock);
		ASSERT_EQ(0, ret);
	}
	ASSERT_EQ(0, agent_exit(&self->sharer, 0));
	ASSERT_EQ(0, agent_exit(&self->doomed, 0));
	sd_sleep_ms(60);

	/* the long-lived shares are pending, their sockets open */
	dev = sd_open();
	ASSERT_LE(0, dev);
	ret = sd_list_ids(dev, &ids, &n);
	close(dev);
	ASSERT_EQ(0, ret);
	TH_LOG("%u shares pending before rmmod", n);
	for (i = 0; i < NR_PEERS; i++) {
		if (i == 1 || i == 2)
			continue;
		EXPECT_NE(NULL, bsearch(&self->s[i].id, ids, n, sizeof(*ids),
					sd_cmp_u64));
		ASSERT_EQ(0, peer_closed(self->peer[i], 0));
	}
	free(ids);

	/* no /dev/sockdup is open anywhere now: the module can go */
	ret = rmmod_wait();
	if (ret)
		log_module(_metadata);
	ASSERT_EQ(0, ret) {
		TH_LOG("rmmod sockdup: %s", strerror(errno));
	}
	self->unloaded = true;
	t0 = sd_now_ms();
	EXPECT_FALSE(module_loaded());

	for (i = 0; i < NR_PEERS; i++) {
		EXPECT_EQ(1, peer_closed(self->peer[i], EOF_BOUND_MS)) {
			TH_LOG("socket %d still open after rmmod", i);
		}
		eof = sd_now_ms() - t0;
		if (eof > worst)
			worst = eof;
	}
	TH_LOG("every peer saw EOF within %lld ms of rmmod", (long long)worst);

	ASSERT_EQ(0, insmod(ko_path(), self->params)) {
		TH_LOG("insmod %s %s: %s", ko_path(), self->params,
		       strerror(errno));
	}
	self->unloaded = false;
	TH_LOG("loaded again with: %s", self->params);
}

/* After the reload: a fresh table, old cookies mean nothing, shares work. */
TEST_F(unload, reload_starts_clean)
{
	struct sockdup_share s;
	struct sockdup_stats st;
	int sock, peer, dev = -1, fd;
	int64_t end;

	ASSERT_EQ(0, agent_spawn(&self->target, 0, 0));
	ASSERT_EQ(0, agent_spawn(&self->sharer, 0, 0));
	ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sock, &peer));
	ASSERT_EQ(0, agent_share(&self->sharer, sock, self->target.pid,
				 LONG_TTL_MS, &self->s[0]));
	ASSERT_EQ(0, agent_exit(&self->sharer, 0));

	ASSERT_EQ(0, rmmod_wait()) {
		TH_LOG("rmmod sockdup: %s", strerror(errno));
	}
	ASSERT_FALSE(module_loaded());
	self->unloaded = true;
	ASSERT_EQ(0, insmod(ko_path(), self->params));
	self->unloaded = false;

	end = sd_now_ms() + SD_WAIT_MS;
	while ((dev = sd_open()) < 0 && sd_now_ms() < end)
		sd_sleep_ms(20);
	ASSERT_LE(0, dev) {
		TH_LOG("no /dev/sockdup %d ms after insmod", SD_WAIT_MS);
	}
	ASSERT_EQ(0, sd_stats(dev, &st));
	EXPECT_EQ(0, st.pending);
	EXPECT_EQ(0, st.shared);
	EXPECT_EQ(-1, agent_redeem(&self->target, self->s[0].cookie, 0, NULL));
	EXPECT_EQ(ENOENT, errno);

	ASSERT_EQ(0, sd_share(dev, sock, self->target.pid, LONG_TTL_MS, &s));
	fd = agent_redeem(&self->target, s.cookie, 0, NULL);
	EXPECT_LE(0, fd);
	EXPECT_EQ(0, agent_closedev(&self->target));
	close(dev);
	close(sock);
	close(peer);
}

/* Close @n peers of released sockets; returns how many saw no EOF. */
static int close_peers(int *peers, int n)
{
	int i, open_left = 0;

	for (i = 0; i < n; i++) {
		if (peer_closed(peers[i], EOF_BOUND_MS) != 1)
			open_left++;
		close(peers[i]);
	}
	return open_left;
}

/*
 * Unload while shares expire and targets die: every round makes shares with
 * TTLs of a few milliseconds and kills targets with sweep_ms at its minimum,
 * then unloads at once, so the sweeper, expiry and reaping race with the
 * module's exit.  Every peer sees EOF each time; the kernel log stays clean
 * (the runner checks it).
 */
TEST_F(unload, races_expiry_and_reaping)
{
	enum { ROUNDS = 10, TARGETS = 3, SHARES = 8 };
	struct agent targets[TARGETS];
	int peers[SHARES], i, k, r, sock, ret, open_left = 0;
	__u64 seed = sd_now_ms() ^ getpid();
	struct sockdup_share s;

	TH_LOG("seed %llu", (unsigned long long)seed);
	for (r = 0; r < ROUNDS; r++) {
		ASSERT_EQ(0, sd_param_set("sweep_ms", 10));
		ASSERT_EQ(0, agent_spawn(&self->sharer, 0, 0));
		for (k = 0; k < TARGETS; k++)
			ASSERT_EQ(0, agent_spawn(&targets[k], 0, 0));
		for (i = 0; i < SHARES; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			ASSERT_EQ(0, make_sock(i % 2 ? SK_TCP : SK_UNIX_STREAM,
					       &sock, &peers[i]));
			ret = agent_share(&self->sharer, sock,
					  targets[(seed >> 33) % TARGETS].pid,
					  (seed >> 40) % 2 ? 1 + (seed >> 50) % 20 :
					  LONG_TTL_MS, &s);
			close(sock);
			ASSERT_EQ(0, ret);
		}
		ASSERT_EQ(0, agent_exit(&self->sharer, 0));
		/* two targets die now, their shares are up for reaping */
		agent_kill(&targets[0]);
		agent_kill(&targets[1]);
		sd_sleep_ms((seed >> 20) % 15);

		ASSERT_EQ(0, rmmod_wait()) {
			TH_LOG("round %d: rmmod sockdup: %s", r, strerror(errno));
		}
		self->unloaded = true;
		open_left += close_peers(peers, SHARES);
		ASSERT_EQ(0, insmod(ko_path(), self->params));
		self->unloaded = false;
		agent_kill(&targets[2]);
	}
	EXPECT_EQ(0, open_left);
	EXPECT_EQ(0, params_reset());
}

/*
 * Unload racing the close of the events file the shares were made through:
 * the sharer leaves an event queued (a declined share: its record holds the
 * decliner's pid) and shares pending, some about to expire, then exits
 * while rmmod is retried until the file is gone.  The pending shares post
 * their end into a closed queue or are released by the unload; every peer
 * sees EOF, and kmemleak and KASAN (debug lane) see nothing left behind.
 */
TEST_F(unload, races_close_of_the_events_file)
{
	enum { ROUNDS = 8, SHARES = 6 };
	struct agent_req bye = { .op = AG_EXIT };
	int peers[SHARES], i, r, sock, ret, open_left = 0;
	struct sockdup_share s[SHARES];

	for (r = 0; r < ROUNDS; r++) {
		ASSERT_EQ(0, agent_spawn(&self->sharer, 0, 0));
		ASSERT_EQ(0, agent_spawn(&self->target, 0, 0));
		for (i = 0; i < SHARES; i++) {
			ASSERT_EQ(0, make_sock(SK_UNIX_STREAM, &sock,
					       &peers[i]));
			ret = agent_share(&self->sharer, sock, self->target.pid,
					  i % 2 ? 1 + (__u32)r % 5 : LONG_TTL_MS,
					  &s[i]);
			close(sock);
			ASSERT_EQ(0, ret);
		}
		/* a record in the sharer's queue, with a pid in it */
		ASSERT_EQ(0, agent_revoke(&self->target, s[0].cookie));
		ASSERT_EQ(0, agent_closedev(&self->target));

		/* the sharer exits (its file closes) while rmmod runs */
		ASSERT_EQ(0, sd_send_with_fd(self->sharer.ctl, &bye, sizeof(bye), -1));
		if (r % 2)
			sched_yield();
		ASSERT_EQ(0, rmmod_wait()) {
			TH_LOG("round %d: rmmod sockdup: %s", r,
			       strerror(errno));
		}
		self->unloaded = true;
		/* exiting or gone: its descriptors had to close for rmmod */
		EXPECT_EQ(self->sharer.child,
			  waitpid(self->sharer.child, NULL, 0));
		self->sharer.child = -1;
		agent_kill(&self->sharer);
		open_left += close_peers(peers, SHARES);
		ASSERT_EQ(0, insmod(ko_path(), self->params));
		self->unloaded = false;
		agent_kill(&self->target);
	}
	EXPECT_EQ(0, open_left);
}

TEST_HARNESS_MAIN
