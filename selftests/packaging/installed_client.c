// SPDX-License-Identifier: GPL-2.0-only
/*
 * A user's program against the installed packages: built by the packaging
 * lane with `cc $(pkg-config --cflags --libs libsockdup)` from the headers,
 * pkg-config file and shared library that libsockdup-dev and libsockdup0
 * installed, then run in the VM next to the DKMS-built module, with the
 * installed /usr/bin/sockdup.  Prints TAP.
 *
 * usage: installed_client VERSION [TOOL]
 *   VERSION  what `TOOL --version` must print after "sockdup "
 *   TOOL     the sockdup tool (default /usr/bin/sockdup)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sockdup.h>

static int failed, n;

static void ok(int cond, const char *what)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, what);
	fflush(stdout);
}

/* bytes written on @a arrive on @b */
static int flows(int a, int b, const char *msg)
{
	char buf[64] = "";
	size_t len = strlen(msg);

	if (write(a, msg, len) != (ssize_t)len)
		return 0;
	return read(b, buf, sizeof(buf) - 1) == (ssize_t)len && !memcmp(buf, msg, len);
}

/* run @argv with @in as stdin, @fd3 (if >= 0) as descriptor 3, stdout into
 * @out (up to @cap bytes); returns the exit status, -1 if it did not exit */
static int run(char *const argv[], int in, int fd3, char *out, size_t cap)
{
	int pipefd[2], status;
	ssize_t got, total = 0;
	pid_t pid;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (in >= 0)
			dup2(in, 0);
		dup2(pipefd[1], 1);
		if (fd3 >= 0)
			dup2(fd3, 3);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (cap > 1 && (got = read(pipefd[0], out + total, cap - 1 - total)) > 0)
		total += got;
	out[total] = 0;
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	const char *tool = argc > 2 ? argv[2] : "/usr/bin/sockdup";
	char tok[SOCKDUP_TOKEN_SIZE], out[256], want[128], pidstr[16];
	int sv[2], fd, ret, in[2], status;
	pid_t child;

	if (argc < 2) {
		fprintf(stderr, "usage: %s VERSION [TOOL]\n", argv[0]);
		return 2;
	}
	printf("TAP version 13\n1..5\n");

	/* the library: share one end with ourselves, redeem it */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 1;
	ret = sockdup_share_token(sv[1], getpid(), 0, tok);
	fd = ret == 0 ? sockdup_redeem_token(tok, 0) : ret;
	ok(fd >= 0 && flows(fd, sv[0], "lib") && flows(sv[0], fd, "back"),
	   "libsockdup.so.0: share and redeem a socket, bytes flow both ways");
	if (fd >= 0)
		close(fd);

	/* the tool: --version */
	snprintf(want, sizeof(want), "sockdup %s\n", argv[1]);
	ret = run((char *[]){ (char *)tool, "--version", NULL }, -1, -1, out, sizeof(out));
	ok(ret == 0 && !strcmp(out, want), "sockdup --version prints the package's version");
	if (ret != 0 || strcmp(out, want))
		printf("# exit %d, printed '%s', expected '%s'\n", ret, out, want);

	/* the tool shares its descriptor 3 with us; we redeem the token */
	snprintf(pidstr, sizeof(pidstr), "%d", (int)getpid());
	ret = run((char *[]){ (char *)tool, "share", "3", pidstr, NULL }, -1, sv[1], out, sizeof(out));
	out[strcspn(out, "\n")] = 0;
	ok(ret == 0 && strlen(out) == SOCKDUP_TOKEN_LEN, "sockdup share 3 PID prints a token");
	fd = sockdup_redeem_token(out, 0);
	ok(fd >= 0 && flows(fd, sv[0], "tool"), "the tool's token redeems to the same socket");
	if (fd >= 0)
		close(fd);

	/* sockdup exec: we share with the tool's process, it redeems and runs
	 * a shell on descriptor 3 (LISTEN_FDS=1) */
	if (pipe(in))
		return 1;
	child = fork();
	if (child < 0)
		return 1;
	if (!child) {
		dup2(in[0], 0);
		close(in[1]);
		execl(tool, tool, "exec", "-", "--", "/bin/sh", "-c",
		      "printf 'fds=%s' \"$LISTEN_FDS\" >&3", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	ret = sockdup_share_token(sv[1], child, 0, tok);
	/* the share holds the socket: if the child never redeems it, the
	 * module drops it once the child exited and read() sees EOF */
	close(sv[1]);
	if (ret == 0 && (write(in[1], tok, strlen(tok)) < 0 || write(in[1], "\n", 1) < 0))
		ret = -errno;
	close(in[1]);
	memset(out, 0, sizeof(out));
	if (ret == 0 && read(sv[0], out, sizeof(out) - 1) < 0)
		ret = -errno;
	ok(ret == 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0 && !strcmp(out, "fds=1"),
	   "sockdup exec - -- PROGRAM: PROGRAM writes to the handed socket on fd 3");
	if (strcmp(out, "fds=1"))
		printf("# share %d, read '%s'\n", ret, out);

	printf("# installed_client: %d passed, %d failed\n", n - failed, failed);
	return failed ? 1 : 0;
}
