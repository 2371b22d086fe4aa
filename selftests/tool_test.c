// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup(1) in the VM: exec hands sockets to a program that knows only
 * the systemd socket-activation convention (listenfds-echo), share prints a
 * token for an inherited descriptor, query/revoke/list, and the exit code
 * and message of every error.
 */
#define _GNU_SOURCE
/* the harness passes every TEST() a variant it does not use */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <sys/resource.h>

#include "kselftest_harness.h"
#pragma GCC diagnostic ignored "-Wclobbered"
#include "userlib_util.h"

#define OUT_SIZE 8192

static void tokenize(const struct sockdup_cookie *c, char *tok)
{
	sockdup_token_encode(c, tok, SOCKDUP_TOKEN_SIZE);
}

FIXTURE(tool) {
	struct sd_sock l;	/* a TCP listener */
	struct ul_proc p;
	char out[OUT_SIZE];
};

FIXTURE_SETUP(tool)
{
	self->p.pid = -1;
	self->p.go = self->p.in = self->p.out = -1;
	ASSERT_EQ(0, sd_sock_open(&self->l, SD_TCP_LISTEN)) TH_LOG("%s", sd_errmsg());
}

FIXTURE_TEARDOWN(tool)
{
	if (self->p.pid > 0 && self->p.out >= 0)
		sd_kill_wait(self->p.pid);
	sd_sock_close(&self->l);
}

/* the heart of it: a listener reaches a LISTEN_FDS-only server */
TEST_F(tool, exec_hands_listener_to_socket_activated_server)
{
	char *argv[] = { "sockdup", "exec", "--name", "web", UL_TOKEN_ARG,
			 "--", "listenfds-echo", "-n", "2", NULL };
	char tok[SOCKDUP_TOKEN_SIZE], name[128], want[256];
	int port = ul_port(self->l.fd), i;

	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1)) TH_LOG("%s", sd_errmsg());
	ASSERT_EQ(0, sockdup_share_token(self->l.fd, self->p.pid, 0, tok));
	/* from now on only the server holds the listener */
	close(self->l.fd);
	self->l.fd = -1;
	ASSERT_EQ(0, ul_go(&self->p, tok));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, ul_hello(port, name, sizeof(name))) TH_LOG("%s", sd_errmsg());
		snprintf(want, sizeof(want), "listenfds-echo[pid %d]", self->p.pid);
		EXPECT_STREQ(want, name);
	}
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	snprintf(want, sizeof(want),
		 "pid=%d fds=1 names=web fd3=listen:cloexec=0", self->p.pid);
	EXPECT_NE(NULL, strstr(self->out, want)) TH_LOG("output: %s", self->out);
}

TEST_F(tool, exec_two_sockets_in_token_order)
{
	char *argv[] = { "sockdup", "exec", "--name", "first", UL_TOKEN_ARG,
			 UL_TOKEN_ARG, "--", "listenfds-echo", NULL };
	char t1[SOCKDUP_TOKEN_SIZE], t2[SOCKDUP_TOKEN_SIZE], line[128], name[128];
	struct sd_sock c;

	ASSERT_EQ(0, sd_sock_open(&c, SD_TCP)) TH_LOG("%s", sd_errmsg());
	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ASSERT_EQ(0, sockdup_share_token(self->l.fd, self->p.pid, 0, t1));
	ASSERT_EQ(0, sockdup_share_token(c.fd, self->p.pid, 0, t2));
	snprintf(line, sizeof(line), "%s %s", t1, t2);
	ASSERT_EQ(0, ul_go(&self->p, line));
	/* fd 3: the listener accepts one client */
	ASSERT_EQ(0, ul_hello(ul_port(self->l.fd), name, sizeof(name))) TH_LOG("%s", sd_errmsg());
	/* fd 4: the connected socket is served directly */
	ASSERT_EQ(0, ul_read_line(c.peer, line, sizeof(line), SD_WAIT_MS));
	EXPECT_EQ(0, strncmp(line, "HELLO listenfds-echo", 20));
	ASSERT_EQ(5, write(c.peer, "ping\n", 5));
	ASSERT_EQ(0, ul_read_line(c.peer, line, sizeof(line), SD_WAIT_MS));
	EXPECT_STREQ("ping", line);
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "fds=2 names=first:sockdup fd3=listen:cloexec=0 fd4=stream:cloexec=0"))
		TH_LOG("output: %s", self->out);
	sd_sock_close(&c);
}

/*
 * A batch token gives all its sockets, in order, then the next token's:
 * LISTEN_FDS counts sockets, not tokens, and --name names sockets.
 */
TEST_F(tool, exec_batch_token_then_single_token)
{
	char *argv[] = { "sockdup", "exec", "--name", "web", "--name", "a",
			 UL_TOKEN_ARG, UL_TOKEN_ARG, "--", "listenfds-echo", NULL };
	char t1[SOCKDUP_TOKEN_SIZE], t2[SOCKDUP_TOKEN_SIZE], line[128], name[128];
	struct sockdup_cookie c;
	struct sd_sock s1, s2;
	int fds[2], i;

	ASSERT_EQ(0, sd_sock_open(&s1, SD_TCP)) TH_LOG("%s", sd_errmsg());
	ASSERT_EQ(0, sd_sock_open(&s2, SD_TCP)) TH_LOG("%s", sd_errmsg());
	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	fds[0] = self->l.fd;
	fds[1] = s1.fd;
	ASSERT_EQ(0, sockdup_share_batch(fds, 2, self->p.pid, 0, &c));
	tokenize(&c, t1);
	ASSERT_EQ(0, sockdup_share_token(s2.fd, self->p.pid, 0, t2));
	snprintf(line, sizeof(line), "%s %s", t1, t2);
	ASSERT_EQ(0, ul_go(&self->p, line));
	ASSERT_EQ(0, ul_hello(ul_port(self->l.fd), name, sizeof(name))) TH_LOG("%s", sd_errmsg());
	for (i = 0; i < 2; i++) {
		int peer = i ? s2.peer : s1.peer;

		ASSERT_EQ(0, ul_read_line(peer, line, sizeof(line), SD_WAIT_MS));
		EXPECT_EQ(0, strncmp(line, "HELLO listenfds-echo", 20));
		ASSERT_EQ(5, write(peer, "ping\n", 5));
		ASSERT_EQ(0, ul_read_line(peer, line, sizeof(line), SD_WAIT_MS));
		EXPECT_STREQ("ping", line);
	}
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "fds=3 names=web:a:sockdup fd3=listen:cloexec=0 fd4=stream:cloexec=0 fd5=stream:cloexec=0"))
		TH_LOG("output: %s", self->out);
	sd_sock_close(&s1);
	sd_sock_close(&s2);
}

/* Start the tool with RLIMIT_NOFILE @lim (root puts ours back). */
static int start_with_nofile(struct ul_proc *p, char **argv, rlim_t soft,
			     rlim_t hard)
{
	struct rlimit old, lim = { soft, hard };
	int ret;

	if (getrlimit(RLIMIT_NOFILE, &old) || setrlimit(RLIMIT_NOFILE, &lim))
		return -1;
	ret = ul_start(p, argv, false, -1);
	if (setrlimit(RLIMIT_NOFILE, &old))
		return -1;
	return ret;
}

/*
 * The largest batch a server gets in one token: 1024 sockets (here the
 * listener 1024 times, which "-n 0" only reports) become fds 3..1026 of
 * the server, past the usual soft RLIMIT_NOFILE of 1024, which the tool
 * raises to what it needs (the hard limit is 4096).
 */
TEST_F(tool, exec_batch_of_1024_sockets)
{
	enum { N = 1024, BIG = 64 * 1024 };
	char *argv[] = { "sockdup", "exec", UL_TOKEN_ARG, "--",
			 "listenfds-echo", "-n", "0", NULL };
	char tok[SOCKDUP_TOKEN_SIZE], want[64];
	struct sockdup_cookie c;
	int *fds = calloc(N, sizeof(*fds)), i;
	char *out = malloc(BIG);

	ASSERT_NE(NULL, fds);
	ASSERT_NE(NULL, out);
	for (i = 0; i < N; i++)
		fds[i] = self->l.fd;
	ASSERT_EQ(0, start_with_nofile(&self->p, argv, 1024, 4096));
	ASSERT_EQ(0, sockdup_share_batch(fds, N, self->p.pid, 0, &c));
	tokenize(&c, tok);
	ASSERT_EQ(0, ul_go(&self->p, tok));
	EXPECT_EQ(0, ul_finish(&self->p, out, BIG, SD_WAIT_MS));
	snprintf(want, sizeof(want), "pid=%d fds=%d names=sockdup:",
		 self->p.pid, N);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("output: %.300s", out);
	EXPECT_NE(NULL, strstr(out, " fd3=listen:cloexec=0 "));
	snprintf(want, sizeof(want), " fd%d=listen:cloexec=0\n", N + 2);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("output ends: %s",
						out + (strlen(out) > 300 ? strlen(out) - 300 : 0));
	EXPECT_EQ(NULL, strstr(out, "not-a-socket"));
	/* redeemed: the cookie is spent */
	EXPECT_EQ(-ENOENT, sockdup_revoke(&c));
	free(out);
	free(fds);
}

/*
 * Tokens that hold more sockets than the hard RLIMIT_NOFILE leaves room
 * for: exit 8 (EXIT_LIMIT) saying what is needed, before any token is
 * redeemed.  A hard limit of 150 fits the 100 sockets but not their move
 * above fd 102; one of 64 fits neither.  Two tokens: the first (a single
 * socket) would have been spent by a tool that found out on the second.
 */
TEST_F(tool, exec_batch_beyond_the_nofile_limit)
{
	enum { N = 99 };
	char *argv[] = { "sockdup", "exec", UL_TOKEN_ARG, UL_TOKEN_ARG, "--",
			 "listenfds-echo", "-n", "0", NULL };
	static const rlim_t hard[] = { 64, 150 };
	char t1[SOCKDUP_TOKEN_SIZE], t2[SOCKDUP_TOKEN_SIZE], line[128];
	struct sockdup_cookie c1, c2;
	int fds[N], i, h;

	for (i = 0; i < N; i++)
		fds[i] = self->l.fd;
	for (h = 0; h < 2; h++) {
		ASSERT_EQ(0, start_with_nofile(&self->p, argv, hard[h],
					       hard[h]));
		ASSERT_EQ(0, sockdup_share_token(self->l.fd, self->p.pid, 0,
						 t1));
		ASSERT_EQ(0, sockdup_share_batch(fds, N, self->p.pid, 0, &c2));
		tokenize(&c2, t2);
		snprintf(line, sizeof(line), "%s %s", t1, t2);
		ASSERT_EQ(0, ul_go(&self->p, line));
		EXPECT_EQ(8, ul_finish(&self->p, self->out, OUT_SIZE,
				       SD_WAIT_MS));
		snprintf(line, sizeof(line), "this process may open %d (its hard limit, ulimit -Hn)",
			 (int)hard[h]);
		EXPECT_NE(NULL, strstr(self->out, "the tokens hold 100 sockets, which need 211 open descriptors; "))
			TH_LOG("output: %s", self->out);
		EXPECT_NE(NULL, strstr(self->out, line));
		EXPECT_NE(NULL, strstr(self->out, "raise it and run again (no token was redeemed)"));
		/* nothing was taken: both tokens still work */
		ASSERT_EQ(0, sockdup_token_decode(t1, &c1));
		EXPECT_EQ(0, sockdup_revoke(&c1));
		EXPECT_EQ(0, sockdup_revoke(&c2));
	}
}

/* More names than the tokens hold sockets: exit 2, nothing redeemed. */
TEST_F(tool, exec_more_names_than_sockets)
{
	char *argv[] = { "sockdup", "exec", "--name", "a", "--name", "b",
			 "--name", "c", UL_TOKEN_ARG, "--", "listenfds-echo", NULL };
	char tok[SOCKDUP_TOKEN_SIZE];
	struct sockdup_cookie c;
	int fds[2] = { self->l.fd, self->l.fd }, got[2];

	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ASSERT_EQ(0, sockdup_share_batch(fds, 2, self->p.pid, 0, &c));
	tokenize(&c, tok);
	ASSERT_EQ(0, ul_go(&self->p, tok));
	EXPECT_EQ(2, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "3 --name options for 2 sockets"))
		TH_LOG("output: %s", self->out);
	/* not redeemed: the share is still pending */
	EXPECT_EQ(-EPERM, sockdup_redeem_batch(&c, 0, got, 2));
	EXPECT_EQ(0, sockdup_revoke(&c));
}

/* "sockdup exec -": start first, learn the pid, then send the token */
TEST_F(tool, exec_reads_tokens_from_stdin)
{
	char *argv[] = { "sockdup", "exec", "-", "--", "listenfds-echo", NULL };
	char tok[SOCKDUP_TOKEN_SIZE + 1], name[128];

	ASSERT_EQ(0, ul_start(&self->p, argv, true, -1));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	ASSERT_EQ(0, sockdup_share_token(self->l.fd, self->p.pid, 0, tok));
	strcat(tok, "\n");
	ASSERT_EQ(SOCKDUP_TOKEN_LEN + 1, write(self->p.in, tok, strlen(tok)));
	ASSERT_EQ(0, ul_hello(ul_port(self->l.fd), name, sizeof(name))) TH_LOG("%s", sd_errmsg());
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "names=sockdup fd3=listen")) TH_LOG("output: %s", self->out);
}

/* what the manual page shows: a shell script that becomes the server */
TEST_F(tool, exec_from_a_shell_script)
{
	char script[3 * PATH_MAX], tool[PATH_MAX], server[PATH_MAX];
	char tok[SOCKDUP_TOKEN_SIZE + 1], name[128], want[128];
	char *argv[] = { "/bin/sh", "-c", script, NULL };

	snprintf(tool, sizeof(tool), "%s", ul_bin("sockdup"));
	snprintf(server, sizeof(server), "%s", ul_bin("listenfds-echo"));
	snprintf(script, sizeof(script),
		 "read -r tok; exec %s exec --name web \"$tok\" -- %s",
		 tool, server);
	ASSERT_EQ(0, ul_start(&self->p, argv, true, -1));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	/* the shell's pid is the server's pid: exec keeps it */
	ASSERT_EQ(0, sockdup_share_token(self->l.fd, self->p.pid, 0, tok));
	strcat(tok, "\n");
	ASSERT_EQ(SOCKDUP_TOKEN_LEN + 1, write(self->p.in, tok, strlen(tok)));
	ASSERT_EQ(0, ul_hello(ul_port(self->l.fd), name, sizeof(name))) TH_LOG("%s", sd_errmsg());
	snprintf(want, sizeof(want), "listenfds-echo[pid %d]", self->p.pid);
	EXPECT_STREQ(want, name);
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
}

/* a share for someone else: exit 6, and the cookie stays valid */
TEST_F(tool, exec_not_the_target)
{
	char *argv[] = { "sockdup", "exec", UL_TOKEN_ARG, "--", "listenfds-echo", NULL };
	char tok[SOCKDUP_TOKEN_SIZE];
	struct sockdup_cookie c;
	int fd;

	ASSERT_EQ(0, sockdup_share(self->l.fd, getpid(), 0, &c));
	tokenize(&c, tok);
	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ASSERT_EQ(0, ul_go(&self->p, tok));
	EXPECT_EQ(6, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "is not the share's target")) TH_LOG("output: %s", self->out);
	/* redeeming is the target's business alone: no "sharer" in the story */
	EXPECT_EQ(NULL, strstr(self->out, "sharer")) TH_LOG("output: %s", self->out);
	fd = sockdup_redeem(&c, 0);
	EXPECT_LE(0, fd);
	close(fd);
}

TEST_F(tool, exec_unknown_token)
{
	char *argv[] = { "sockdup", "exec", UL_TOKEN_ARG, "--", "listenfds-echo", NULL };
	char tok[SOCKDUP_TOKEN_SIZE];
	struct sockdup_cookie c;

	getrandom(c.bytes, sizeof(c.bytes), 0);
	tokenize(&c, tok);
	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ASSERT_EQ(0, ul_go(&self->p, tok));
	EXPECT_EQ(5, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "no such share")) TH_LOG("output: %s", self->out);
}

/* a missing program is found out before any token is spent */
TEST_F(tool, exec_missing_program)
{
	char *argv[] = { "sockdup", "exec", UL_TOKEN_ARG, "--", "/no/such/program", NULL };
	char tok[SOCKDUP_TOKEN_SIZE];
	struct sockdup_stats st0, st1;

	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ASSERT_EQ(0, sockdup_share_token(self->l.fd, self->p.pid, 0, tok));
	ASSERT_EQ(0, sockdup_stats(&st0));
	ASSERT_EQ(0, ul_go(&self->p, tok));
	EXPECT_EQ(127, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "cannot execute '/no/such/program'"))
		TH_LOG("output: %s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "no token was redeemed"))
		TH_LOG("output: %s", self->out);
	ASSERT_EQ(0, sockdup_stats(&st1));
	EXPECT_EQ(st0.redeemed, st1.redeemed);
}

/*
 * A program that is there but whose exec fails (its interpreter is
 * missing): the redeemed token is spent, and the message says so.
 */
TEST_F(tool, exec_program_fails_after_redeem)
{
	char script[] = "/tmp/sockdup-noint-XXXXXX";
	char *argv[] = { "sockdup", "exec", UL_TOKEN_ARG, "--", script, NULL };
	const char text[] = "#!/no/such/interpreter\n";
	char tok[SOCKDUP_TOKEN_SIZE];
	int fd = mkstemp(script);

	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)strlen(text), write(fd, text, strlen(text)));
	ASSERT_EQ(0, fchmod(fd, 0755));
	close(fd);
	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ASSERT_EQ(0, sockdup_share_token(self->l.fd, self->p.pid, 0, tok));
	ASSERT_EQ(0, ul_go(&self->p, tok));
	EXPECT_EQ(127, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	unlink(script);
	EXPECT_NE(NULL, strstr(self->out, "spent")) TH_LOG("output: %s", self->out);
}

/* a TTL above the module's maximum is named as such, not as EINVAL */
TEST_F(tool, share_ttl_above_max)
{
	char pid[16], *argv[] = { "sockdup", "share", "--ttl", "99999999", "3", pid, NULL };
	long long max = -1;

	ASSERT_EQ(0, sd_param_get("max_ttl_ms", &max));
	ASSERT_GT(99999999LL, max);
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, ul_start(&self->p, argv, false, self->l.fd));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	EXPECT_EQ(2, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "max_ttl_ms")) TH_LOG("output: %s", self->out);
	EXPECT_EQ(NULL, strstr(self->out, "Invalid argument")) TH_LOG("output: %s", self->out);
}

/* kthreadd never redeems: refused, and the message says why */
TEST_F(tool, share_with_a_kernel_thread)
{
	char *argv[] = { "sockdup", "share", "3", "2", NULL };

	ASSERT_EQ(0, ul_start(&self->p, argv, false, self->l.fd));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	EXPECT_EQ(6, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "kernel thread")) TH_LOG("output: %s", self->out);
}

/*
 * Run "sockdup share ..." with the listener at fd 3; 0 when it exits 0
 * and prints exactly one token, decoded into @c.
 */
static int run_share(FIXTURE_DATA(tool) *self, char **argv,
		     struct sockdup_cookie *c)
{
	if (ul_start(&self->p, argv, false, self->l.fd) || ul_go(&self->p, "") ||
	    ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS) ||
	    strlen(self->out) != SOCKDUP_TOKEN_LEN + 1)
		return -1;
	self->out[SOCKDUP_TOKEN_LEN] = '\0';
	return sockdup_token_decode(self->out, c) ? -1 : 0;
}

/* "sockdup share 3 PID": the token it prints redeems to the same file */
TEST_F(tool, share_inherited_fd)
{
	char pid[16], *argv[] = { "sockdup", "share", "--ttl", "100000", "3", pid, NULL };
	struct sockdup_share_info info;
	struct sockdup_cookie c;
	int fd;

	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, run_share(self, argv, &c)) TH_LOG("output: %s", self->out);
	ASSERT_EQ(0, sockdup_query(&c, &info));
	EXPECT_GE(100000ULL, info.ttl_left_ms);
	EXPECT_LT(90000ULL, info.ttl_left_ms);
	EXPECT_EQ(getpid(), info.target_pid);
	/* the sharer (the tool) has exited; the share outlives it */
	EXPECT_NE(getpid(), info.sharer_pid);
	fd = sockdup_redeem(&c, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, sd_kcmp_file(getpid(), self->l.fd, getpid(), fd));
	close(fd);
}

/* "sockdup share 3 3 PID": several FDs, one token for the batch */
TEST_F(tool, share_several_fds_one_token)
{
	char pid[16], *argv[] = { "sockdup", "share", "3", "3", pid, NULL };
	struct sockdup_share_info info;
	struct sockdup_cookie c;
	int got[4], i;

	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, run_share(self, argv, &c)) TH_LOG("output: %s", self->out);
	ASSERT_EQ(0, sockdup_query(&c, &info));
	EXPECT_EQ(2U, info.nr_fds);
	ASSERT_EQ(2, sockdup_redeem_batch(&c, 0, got, 4));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, sd_kcmp_file(getpid(), self->l.fd, getpid(), got[i]));
		close(got[i]);
	}
}

TEST_F(tool, share_not_a_socket)
{
	char pid[16], *argv[] = { "sockdup", "share", "3", pid, NULL };
	int p[2];

	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(0, ul_start(&self->p, argv, false, p[0]));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	EXPECT_EQ(9, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "not a socket")) TH_LOG("output: %s", self->out);
	close(p[0]);
	close(p[1]);
}

TEST_F(tool, share_fd_not_open)
{
	char pid[16], *argv[] = { "sockdup", "share", "37", pid, NULL };

	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	EXPECT_EQ(9, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "not open")) TH_LOG("output: %s", self->out);
}

TEST_F(tool, share_no_such_process)
{
	char pid[16], *argv[] = { "sockdup", "share", "3", pid, NULL };
	pid_t dead = sd_fork(NULL);

	ASSERT_LE(0, dead);
	if (dead == 0)
		_exit(0);
	ASSERT_EQ(0, sd_wait(dead));
	snprintf(pid, sizeof(pid), "%d", dead);
	ASSERT_EQ(0, ul_start(&self->p, argv, false, self->l.fd));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	EXPECT_EQ(7, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "no such process")) TH_LOG("output: %s", self->out);
}

TEST_F(tool, list_shows_pending_shares_and_counters)
{
	char *argv[] = { "sockdup", "list", NULL }, want[64];
	struct sockdup_share_info info;
	struct sockdup_cookie c[2];
	int i;

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, sockdup_share(self->l.fd, getpid(), 0, &c[i]));
	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_EQ(0, strncmp(self->out, "ID ", 3)) TH_LOG("output: %s", self->out);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, sockdup_query(&c[i], &info));
		snprintf(want, sizeof(want), "\n%-8llu %-7d %-7d",
			 (unsigned long long)info.id, getpid(), getpid());
		EXPECT_NE(NULL, strstr(self->out, want)) TH_LOG("no '%s' in: %s", want + 1, self->out);
		EXPECT_EQ(0, sockdup_revoke(&c[i]));
	}
	EXPECT_NE(NULL, strstr(self->out, "inet   stream    tcp")) TH_LOG("output: %s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "\npending ")) TH_LOG("output: %s", self->out);
}

/* oldest first, with the local address: which share holds port P */
TEST_F(tool, list_sorted_with_addresses)
{
	char *argv[] = { "sockdup", "list", NULL }, want[2][64], addr[64];
	struct sockdup_share_info info;
	struct sockdup_cookie c[2];
	char *at[2];
	int i;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, sockdup_share(self->l.fd, getpid(), 0, &c[i]));
		ASSERT_EQ(0, sockdup_query(&c[i], &info));
		snprintf(want[i], sizeof(want[i]), "\n%-8llu ",
			 (unsigned long long)info.id);
	}
	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	for (i = 0; i < 2; i++) {
		at[i] = strstr(self->out, want[i]);
		EXPECT_NE(NULL, at[i]) TH_LOG("no '%s' in: %s", want[i] + 1, self->out);
		EXPECT_EQ(0, sockdup_revoke(&c[i]));
	}
	EXPECT_TRUE(at[0] && at[1] && at[0] < at[1]) TH_LOG("not by id: %s", self->out);
	snprintf(addr, sizeof(addr), " 127.0.0.1:%d ", ul_port(self->l.fd));
	EXPECT_NE(NULL, strstr(self->out, addr)) TH_LOG("no '%s' in: %s", addr, self->out);
}

/* an ordinary user sees its own count, not the module's totals */
TEST_F(tool, list_unprivileged_no_global_counts)
{
	char *argv[] = { "sockdup", "list", NULL };

	ul_uid = 1000;
	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ul_uid = 0;
	ASSERT_EQ(0, ul_go(&self->p, ""));
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS)) TH_LOG("output: %s", self->out);
	EXPECT_EQ(NULL, strstr(self->out, "\npending ")) TH_LOG("output: %s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "\nyours: ")) TH_LOG("output: %s", self->out);
}

/*
 * The story: a service shares its listener from a shell with
 * `sockdup share` (the sharer exits at once) and stops.  Nobody can revoke
 * by token; root finds the share by its port in `sockdup list` and frees
 * it with `sockdup revoke --id N`, and the port can be bound again.
 */
TEST_F(tool, revoke_by_id_frees_the_port)
{
	char pid[16], id[32], *share[] = { "sockdup", "share", "3", pid, NULL };
	char *revoke[] = { "sockdup", "revoke", "--id", id, NULL };
	char *query[] = { "sockdup", "query", "--id", id, NULL };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockdup_share_info info[64];
	unsigned long long total;
	int port = ul_port(self->l.fd), n, i, s;

	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, ul_start(&self->p, share, false, self->l.fd));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	ASSERT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS)) TH_LOG("output: %s", self->out);
	/* the service stops: the share alone holds the port */
	close(self->l.fd);
	self->l.fd = -1;

	n = sockdup_list(info, 64, &total);
	ASSERT_LE(1, n);
	for (i = 0; i < n; i++) {
		const struct sockaddr_in *a = (const void *)info[i].local_addr;

		if (info[i].local_addr_len == sizeof(*a) &&
		    ntohs(a->sin_port) == port)
			break;
	}
	ASSERT_GT(n, i) TH_LOG("no share holds port %d", port);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)info[i].id);

	ASSERT_EQ(0, ul_start(&self->p, query, false, -1));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS)) TH_LOG("output: %s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "local:      127.0.0.1:")) TH_LOG("output: %s", self->out);

	ASSERT_EQ(0, ul_start(&self->p, revoke, false, -1));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS)) TH_LOG("output: %s", self->out);

	/* the port is free again */
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, s);
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	EXPECT_EQ(0, bind(s, (struct sockaddr *)&sin, sizeof(sin))) TH_LOG("bind: %s", strerror(errno));
	close(s);

	/* and a second revoke finds nothing */
	ASSERT_EQ(0, ul_start(&self->p, revoke, false, -1));
	ASSERT_EQ(0, ul_go(&self->p, ""));
	EXPECT_EQ(5, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS)) TH_LOG("output: %s", self->out);
}

TEST_F(tool, query_as_the_target)
{
	char *argv[] = { "sockdup", "query", UL_TOKEN_ARG, NULL };
	char tok[SOCKDUP_TOKEN_SIZE], want[64];

	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ASSERT_EQ(0, sockdup_share_token(self->l.fd, self->p.pid, 5000, tok));
	ASSERT_EQ(0, ul_go(&self->p, tok));
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "socket:     inet stream tcp (inode ")) TH_LOG("output: %s", self->out);
	snprintf(want, sizeof(want), "sharer:     pid %d, uid %d", getpid(), geteuid());
	EXPECT_NE(NULL, strstr(self->out, want)) TH_LOG("output: %s", self->out);
	snprintf(want, sizeof(want), "target:     pid %d\n", self->p.pid);
	EXPECT_NE(NULL, strstr(self->out, want)) TH_LOG("output: %s", self->out);
}

TEST_F(tool, query_by_a_third_process)
{
	char *argv[] = { "sockdup", "query", UL_TOKEN_ARG, NULL };
	char tok[SOCKDUP_TOKEN_SIZE];
	struct sockdup_cookie c;

	ASSERT_EQ(0, sockdup_share(self->l.fd, getpid(), 0, &c));
	tokenize(&c, tok);
	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ASSERT_EQ(0, ul_go(&self->p, tok));
	EXPECT_EQ(6, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_EQ(0, sockdup_revoke(&c));
}

TEST_F(tool, revoke_as_the_target_declines)
{
	char *argv[] = { "sockdup", "revoke", UL_TOKEN_ARG, NULL };
	char tok[SOCKDUP_TOKEN_SIZE];
	struct sockdup_share_info info;
	struct sockdup_cookie c;

	ASSERT_EQ(0, ul_start(&self->p, argv, false, -1));
	ASSERT_EQ(0, sockdup_share(self->l.fd, self->p.pid, 0, &c));
	tokenize(&c, tok);
	ASSERT_EQ(0, ul_go(&self->p, tok));
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS)) TH_LOG("output: %s", self->out);
	EXPECT_EQ(-ENOENT, sockdup_query(&c, &info));
}

/*
 * share --wait: the tool prints the token, then waits on its events file
 * for the share to end and says how in its exit status.  The tool's exit
 * is the event each test waits for.
 */

/* Start "sockdup share --wait [--ttl TTL] 3 PID" and read its token. */
static int start_wait(struct ul_proc *p, int fd, pid_t pid, const char *ttl,
		      struct sockdup_cookie *c)
{
	static char pidbuf[16];
	char *argv[] = { "sockdup", "share", "--wait", "--ttl",
			 (char *)(ttl ? ttl : "60000"), "3", pidbuf, NULL };
	char line[64];

	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
	if (ul_start(p, argv, false, fd) || ul_go(p, "") ||
	    ul_read_line(p->out, line, sizeof(line), SD_WAIT_MS))
		return -1;
	return sockdup_token_decode(line, c) ? -1 : 0;
}

TEST_F(tool, share_wait_redeemed)
{
	struct sockdup_cookie c;
	int fd;

	ASSERT_EQ(0, start_wait(&self->p, self->l.fd, getpid(), NULL, &c))
		TH_LOG("%s", sd_errmsg());
	/* Still waiting while the share is pending. */
	EXPECT_EQ(0, sd_poll1(self->p.out, POLLIN, 100));
	fd = sockdup_redeem(&c, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS))
		TH_LOG("output: %s", self->out);
	EXPECT_STREQ("", self->out);
	close(fd);
}

TEST_F(tool, share_wait_expired)
{
	struct sockdup_cookie c;

	ASSERT_EQ(0, start_wait(&self->p, self->l.fd, getpid(), "200", &c))
		TH_LOG("%s", sd_errmsg());
	EXPECT_EQ(10, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "expired before pid"))
		TH_LOG("output: %s", self->out);
	EXPECT_EQ(-ENOENT, sockdup_redeem(&c, 0));
}

TEST_F(tool, share_wait_declined)
{
	struct sockdup_cookie c;

	ASSERT_EQ(0, start_wait(&self->p, self->l.fd, getpid(), NULL, &c))
		TH_LOG("%s", sd_errmsg());
	ASSERT_EQ(0, sockdup_revoke(&c));
	EXPECT_EQ(11, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "declined the share"))
		TH_LOG("output: %s", self->out);
}

TEST_F(tool, share_wait_target_exits)
{
	struct sockdup_cookie c;
	int ctl = -1, go;
	pid_t t = sd_fork(&ctl);

	ASSERT_LE(0, t);
	if (t == 0)
		_exit(sd_recv_int(ctl, &go, -1) ? 1 : 0);
	ASSERT_EQ(0, start_wait(&self->p, self->l.fd, t, NULL, &c))
		TH_LOG("%s", sd_errmsg());
	ASSERT_EQ(0, sd_send_int(ctl, 1));
	EXPECT_EQ(0, sd_wait(t));
	EXPECT_EQ(12, ul_finish(&self->p, self->out, OUT_SIZE, SD_WAIT_MS));
	EXPECT_NE(NULL, strstr(self->out, "exited without redeeming"))
		TH_LOG("output: %s", self->out);
	close(ctl);
}

TEST_HARNESS_MAIN
