// SPDX-License-Identifier: GPL-2.0-only
/*
 * The examples in the VM, with real TCP clients (tcpclient):
 * - broker: every connection the broker accepts is served by a worker,
 *   round robin, through sockdup;
 * - restart: clients connect in a loop while the server replaces itself
 *   twice; not one connection is refused, reset or lost;
 * - restart started by "sockdup exec" takes its listener from LISTEN_FDS.
 */
#define _GNU_SOURCE
/* the harness passes every TEST() a variant it does not use */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic ignored "-Wclobbered"
#include "userlib_util.h"

#define OUT_SIZE 65536

/* wait until a line of @p's output contains @what; 0 or -1 */
static int wait_for(struct ul_proc *p, const char *what, char *line, size_t size)
{
	long long end = sd_now_ms() + SD_WAIT_MS;

	while (sd_now_ms() < end) {
		if (ul_read_line(p->out, line, size, SD_WAIT_MS))
			return -1;
		if (strstr(line, what))
			return 0;
	}
	sd_timed_out(what, SD_WAIT_MS);
	return -1;
}

static pid_t read_pidfile(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = -1;

	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

/* wait until @path names a process other than @old; returns it or -1 */
static pid_t wait_pidfile_change(const char *path, pid_t old)
{
	long long end = sd_now_ms() + SD_WAIT_MS;

	while (sd_now_ms() < end) {
		pid_t pid = read_pidfile(path);

		if (pid > 0 && pid != old)
			return pid;
		sd_sleep_ms(20);
	}
	sd_timed_out("a new pid in the pid file", SD_WAIT_MS);
	return -1;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
		n++;
	return n;
}

FIXTURE(ex) {
	struct ul_proc server, client;
	char out[OUT_SIZE], cout[OUT_SIZE];
};

FIXTURE_SETUP(ex)
{
	self->server.pid = self->client.pid = -1;
	/* orphaned restart generations come back to us, to be reaped */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

FIXTURE_TEARDOWN(ex)
{
	if (self->client.pid > 0)
		kill(self->client.pid, SIGKILL);
	if (self->server.pid > 0)
		kill(self->server.pid, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

TEST_F(ex, broker_hands_each_connection_to_a_worker)
{
	char *sargv[] = { "broker", "-p", "18181", "-w", "3", "-n", "6", NULL };
	char iot[16];
	char *cargv[] = { "tcpclient", "-n", "6", "-T", iot, "-v", "127.0.0.1", "18181", NULL };
	char line[512];
	int i;

	snprintf(iot, sizeof(iot), "%d", SD_WAIT_MS / 1000);
	ASSERT_EQ(0, ul_start(&self->server, sargv, false, -1));
	ASSERT_EQ(0, ul_go(&self->server, ""));
	ASSERT_EQ(0, wait_for(&self->server, "listening on 127.0.0.1:18181", line, sizeof(line)))
		TH_LOG("broker did not start: %s", sd_errmsg());

	ASSERT_EQ(0, ul_start(&self->client, cargv, false, -1));
	ASSERT_EQ(0, ul_go(&self->client, ""));
	EXPECT_EQ(0, ul_finish(&self->client, self->cout, OUT_SIZE, SD_WAIT_MS));
	self->client.pid = -1;
	EXPECT_NE(NULL, strstr(self->cout, "6 attempted, 6 served, 0 failed")) TH_LOG("client: %s", self->cout);
	for (i = 1; i <= 3; i++) {
		char want[64];

		snprintf(want, sizeof(want), "worker-%d[pid ", i);
		/* greeted by this worker on 2 of the 6 connections */
		EXPECT_EQ(2, count(self->cout, want) - 1) TH_LOG("client: %s", self->cout);
	}

	EXPECT_EQ(0, ul_finish(&self->server, self->out, OUT_SIZE, SD_WAIT_MS));
	self->server.pid = -1;
	EXPECT_EQ(6, count(self->out, " -> worker-")) TH_LOG("broker: %s", self->out);
	EXPECT_EQ(6, count(self->out, ": redeemed sd1_")) TH_LOG("broker: %s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "handed them to 3 workers: worker-1 2, worker-2 2, worker-3 2"))
		TH_LOG("broker: %s", self->out);
}

TEST_F(ex, restart_twice_without_refusing_a_connection)
{
	const char *pidfile = "/tmp/examples_test.restart.pid";
	char *sargv[] = { "restart", "-p", "18182", "-H", "20", "-f",
			  (char *)pidfile, NULL };
	char secs[16], iot[16];
	char *cargv[] = { "tcpclient", "-t", secs, "-c", "4", "-T", iot, "127.0.0.1", "18182", NULL };
	pid_t gen1, gen2, gen3;
	char line[512];
	long attempted = 0, served = 0, failed = -1;
	const char *sum;
	int i;

	/* the client runs 4 s, the restarts come 1 s apart (times the factor) */
	snprintf(secs, sizeof(secs), "%d", sd_ms(4000) / 1000);
	snprintf(iot, sizeof(iot), "%d", SD_WAIT_MS / 1000);
	unlink(pidfile);
	ASSERT_EQ(0, ul_start(&self->server, sargv, false, -1));
	ASSERT_EQ(0, ul_go(&self->server, ""));
	ASSERT_EQ(0, wait_for(&self->server, "accepting", line, sizeof(line)));
	gen1 = wait_pidfile_change(pidfile, -1);
	ASSERT_EQ(self->server.pid, gen1);

	ASSERT_EQ(0, ul_start(&self->client, cargv, false, -1));
	ASSERT_EQ(0, ul_go(&self->client, ""));
	sd_sleep_ms(sd_ms(1000));
	ASSERT_EQ(0, kill(gen1, SIGHUP));
	gen2 = wait_pidfile_change(pidfile, gen1);
	ASSERT_LT(0, gen2);
	sd_sleep_ms(sd_ms(1000));
	ASSERT_EQ(0, kill(gen2, SIGHUP));
	gen3 = wait_pidfile_change(pidfile, gen2);
	ASSERT_LT(0, gen3);

	EXPECT_EQ(0, ul_finish(&self->client, self->cout, OUT_SIZE, SD_WAIT_MS)) TH_LOG("client: %s", self->cout);
	self->client.pid = -1;
	sum = strstr(self->cout, "client: ");
	while (sum && sscanf(sum, "client: %ld attempted, %ld served, %ld failed",
			     &attempted, &served, &failed) != 3)
		sum = strstr(sum + 1, "client: ");
	EXPECT_EQ(0, failed) TH_LOG("client: %s", self->cout);
	EXPECT_EQ(attempted, served);
	EXPECT_LT(20, served);
	for (i = 1; i <= 3; i++) {
		char want[64];

		snprintf(want, sizeof(want), "gen%d[pid %d]", i,
			 i == 1 ? gen1 : i == 2 ? gen2 : gen3);
		EXPECT_NE(NULL, strstr(self->cout, want)) TH_LOG("nobody served by %s: %s", want, self->cout);
	}

	ASSERT_EQ(0, kill(gen3, SIGTERM));
	/* EOF on the output once all three generations have exited */
	EXPECT_EQ(0, ul_finish(&self->server, self->out, OUT_SIZE, SD_WAIT_MS)) TH_LOG("server: %s", self->out);
	self->server.pid = -1;
	EXPECT_EQ(2, count(self->out, "handed it the listening socket as sd1_")) TH_LOG("server: %s", self->out);
	EXPECT_EQ(2, count(self->out, "redeemed the listening socket from token sd1_")) TH_LOG("server: %s", self->out);
	/* the old generation learnt of each handover from its events file */
	EXPECT_EQ(2, count(self->out, "has the listening socket (share ")) TH_LOG("server: %s", self->out);
	EXPECT_EQ(2, count(self->out, "the next generation is accepting")) TH_LOG("server: %s", self->out);
	EXPECT_EQ(3, count(self->out, "drained; served")) TH_LOG("server: %s", self->out);
}

/* the example is socket-activation aware: sockdup exec starts it */
TEST_F(ex, restart_started_by_sockdup_exec)
{
	char *sargv[] = { "sockdup", "exec", UL_TOKEN_ARG, "--", "restart", "-H", "0", NULL };
	char tok[SOCKDUP_TOKEN_SIZE], line[512], name[128], want[128];
	struct sd_sock l;

	ASSERT_EQ(0, sd_sock_open(&l, SD_TCP_LISTEN)) TH_LOG("%s", sd_errmsg());
	ASSERT_EQ(0, ul_start(&self->server, sargv, false, -1));
	ASSERT_EQ(0, sockdup_share_token(l.fd, self->server.pid, 0, tok));
	ASSERT_EQ(0, ul_go(&self->server, tok));
	ASSERT_EQ(0, wait_for(&self->server, "took the listening socket from LISTEN_FDS", line, sizeof(line)))
		TH_LOG("%s", sd_errmsg());
	ASSERT_EQ(0, ul_hello(ul_port(l.fd), name, sizeof(name))) TH_LOG("%s", sd_errmsg());
	snprintf(want, sizeof(want), "gen1[pid %d]", self->server.pid);
	EXPECT_STREQ(want, name);
	ASSERT_EQ(0, kill(self->server.pid, SIGTERM));
	EXPECT_EQ(0, ul_finish(&self->server, self->out, OUT_SIZE, SD_WAIT_MS));
	self->server.pid = -1;
	EXPECT_NE(NULL, strstr(self->out, "served 1 connection")) TH_LOG("server: %s", self->out);
	sd_sock_close(&l);
}

TEST_HARNESS_MAIN
