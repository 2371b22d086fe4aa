// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_smoke_test: run sockdup-bench once in quick mode (few iterations)
 * to prove that every benchmark case runs.  It never looks at a figure:
 * only the program's exit status and the completeness of its JSON file
 * decide.  Needs the module loaded and root (the bench raises the module's
 * caps); skips otherwise.
 *
 * The program is $SOCKDUP_BENCH, or ../bin/sockdup-bench next to this test
 * (the VM layout: /sockdup/tests and /sockdup/bin), or build/bin/.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sockdup.h>

#include "kselftest_harness.h"
#include "sockdup_skip.h"
#include "sd_time.h"

static int find_bench(char *out, size_t len)
{
	char self[PATH_MAX];
	const char *env = getenv("SOCKDUP_BENCH");
	ssize_t n;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return access(out, X_OK);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		snprintf(out, len, "%s/../bin/sockdup-bench", dirname(self));
		if (!access(out, X_OK))
			return 0;
	}
	snprintf(out, len, "build/bin/sockdup-bench");
	return access(out, X_OK);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	if (buf && fread(buf, 1, n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

FIXTURE(bench) {
	char json[64];
};

FIXTURE_SETUP(bench)
{
	snprintf(self->json, sizeof(self->json), "/tmp/bench_smoke.%d.json",
		 getpid());
}

FIXTURE_TEARDOWN(bench)
{
	unlink(self->json);
}

TEST_F_TIMEOUT(bench, quick_run_completes, 150)
{
	char bin[PATH_MAX], line[512];
	int out[2], status;
	char *json;
	FILE *f;
	pid_t pid;

	if (access(SOCKDUP_DEVICE, R_OK | W_OK))
		SKIP(return, "%s: %s (module not loaded)", SOCKDUP_DEVICE,
		     strerror(errno));
	if (geteuid())
		SKIP(return, "needs root (raises the module's caps)");
	if (find_bench(bin, sizeof(bin)))
		SKIP(return, "sockdup-bench not found (make bench-bin)");

	ASSERT_EQ(0, pipe(out));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(out[0]);
		close(out[1]);
		setenv("SOCKDUP_BENCH_QUICK", "1", 1);
		execl(bin, bin, "--quick", "--json", self->json, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	/* its table as TAP comments, so the log shows what ran */
	f = fdopen(out[0], "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		printf("# %s", line);
	fclose(f);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));

	json = slurp(self->json);
	ASSERT_NE(NULL, json);
	EXPECT_NE(NULL, strstr(json, "\"tool\": \"sockdup-bench\""));
	EXPECT_NE(NULL, strstr(json, "\"ratios\""));
	EXPECT_NE(NULL, strstr(json, "\"id\": \"sd_same\""));
	/* every case ran */
	EXPECT_EQ(NULL, strstr(json, "\"ok\": false"));
	free(json);
}

TEST_HARNESS_MAIN
