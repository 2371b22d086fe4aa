/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * userlib_util.h - helpers of the libsockdup, sockdup(1) and examples tests
 *
 * The selftests build (selftests/Makefile) links no library, so libsockdup
 * is compiled into each test from its sources.  Programs the tests run are
 * found in ../bin/ next to the test's directory (/sockdup/bin in the VM,
 * build/bin on a host).
 *
 * Same conventions as sockdup_util.h: helpers return values and never
 * assert; children end with _exit().
 */
#ifndef USERLIB_UTIL_H
#define USERLIB_UTIL_H

#include "sockdup_util.h"

#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <sys/resource.h>

#include "../userlib/include/sockdup.h"
#include "../userlib/token.c"
#include "../userlib/device.c"
#include "../userlib/sockdup.c"
#include "../userlib/pidfd.c"
#include "../userlib/events.c"

/* ul_bin() - path of program @name in the bin directory */
static inline const char *ul_bin(const char *name)
{
	static __thread char path[PATH_MAX];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		n = 0;
	self[n] = '\0';
	snprintf(path, sizeof(path), "%s/../bin/%s", dirname(self), name);
	return path;
}

/**
 * struct ul_proc - a program started by ul_start()
 * @pid: its pid (known before it runs, so shares can target it)
 * @go: write end of the pipe the child reads its "go" line from
 * @in: write end of its standard input, or -1
 * @out: read end of its standard output and error
 */
struct ul_proc {
	pid_t pid;
	int go;
	int in;
	int out;
};

#define UL_TOKEN_ARG	"@TOKEN@"
#define UL_MAX_ARGS	32

/* When not 0, ul_start() runs the program as this ordinary user. */
static uid_t ul_uid;

/*
 * Child side of ul_start(): wait for the go line, put each of its words
 * in place of the "@TOKEN@" arguments in order, and exec.
 */
static inline void ul_child(int go, int in, int out, int fd3,
			    char *const argv[])
{
	static char line[4096];
	char *args[UL_MAX_ARGS + 1], *save = NULL, *word;
	ssize_t n = 0, r;
	int i;

	while ((r = read(go, line + n, sizeof(line) - 1 - n)) > 0) {
		n += r;
		if (memchr(line, '\n', n))
			break;
	}
	line[n] = '\0';
	word = strtok_r(line, " \n", &save);
	for (i = 0; argv[i] && i < UL_MAX_ARGS; i++) {
		args[i] = argv[i];
		if (!strcmp(argv[i], UL_TOKEN_ARG) && word) {
			args[i] = word;
			word = strtok_r(NULL, " \n", &save);
		}
	}
	args[i] = NULL;
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(120);
	if (fd3 >= 0 && dup2(fd3, 3) < 0)
		_exit(121);
	if (fd3 == 3)
		fcntl(3, F_SETFD, 0);
	if (ul_uid && (setgroups(0, NULL) ||
		       setresgid(ul_uid, ul_uid, ul_uid) ||
		       setresuid(ul_uid, ul_uid, ul_uid)))
		_exit(123);
	execv(args[0][0] == '/' ? args[0] : ul_bin(args[0]), args);
	_exit(122);
}

/**
 * ul_start() - start @argv[0] (a name in the bin directory, or a path)
 * @with_stdin: give it a pipe as standard input (@p->in), else /dev/null
 * @fd3: a descriptor to put at fd 3 (open across exec), or -1
 *
 * The child waits until ul_go() sends it a line, whose words replace the
 * "@TOKEN@" arguments.  Its stdout and stderr go to @p->out.
 *
 * Return: 0, or -1 (sd_errmsg()).
 */
static inline int ul_start(struct ul_proc *p, char *const argv[],
			   bool with_stdin, int fd3)
{
	int go[2], in[2] = { -1, -1 }, out[2];

	p->pid = -1;
	p->go = p->in = p->out = -1;
	if (pipe2(go, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		sd_seterr("pipe: %s", strerror(errno));
		return -1;
	}
	if (with_stdin ? pipe2(in, O_CLOEXEC) :
	    (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		sd_seterr("stdin: %s", strerror(errno));
		return -1;
	}
	p->pid = sd_fork(NULL);
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		close(go[1]);
		close(out[0]);
		if (in[1] >= 0)
			close(in[1]);
		ul_child(go[0], in[0], out[1], fd3, argv);
	}
	close(go[0]);
	close(out[1]);
	close(in[0]);
	p->go = go[1];
	p->in = in[1];
	p->out = out[0];
	return 0;
}

/* ul_go() - let the child run, with @line ("" when it has no @TOKEN@) */
static inline int ul_go(struct ul_proc *p, const char *line)
{
	char buf[4096];
	int ret;

	snprintf(buf, sizeof(buf), "%s\n", line);
	ret = write(p->go, buf, strlen(buf)) == (ssize_t)strlen(buf) ? 0 : -1;
	if (ret)
		sd_seterr("write to the child: %s", strerror(errno));
	close(p->go);
	p->go = -1;
	return ret;
}

/* ul_read_line() - read one line of @fd (without "\n"), 0 or -1 */
static inline int ul_read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	long long t0 = sd_now_ms();
	size_t n = 0;

	while (n + 1 < size) {
		if (!(sd_poll1(fd, POLLIN, timeout_ms) & (POLLIN | POLLHUP))) {
			sd_seterr("no line within %d ms", timeout_ms);
			sd_timed_out("a line of the program's output", timeout_ms);
			break;
		}
		if (read(fd, buf + n, 1) != 1) {
			sd_seterr("EOF before a full line");
			break;
		}
		if (buf[n] == '\n') {
			buf[n] = '\0';
			sd_waited("a line of the program's output",
				  sd_now_ms() - t0, timeout_ms);
			return 0;
		}
		n++;
	}
	buf[n] = '\0';
	return -1;
}

/*
 * ul_finish() - collect the child's output into @buf until EOF (at most
 * @timeout_ms), then reap it.  Return: its exit status as sd_wait(), or -1
 * (and the child is killed) on timeout.
 */
static inline int ul_finish(struct ul_proc *p, char *buf, size_t size,
			    int timeout_ms)
{
	long long end = sd_now_ms() + timeout_ms;
	size_t n = 0;
	ssize_t r;

	if (p->go >= 0)
		close(p->go);
	if (p->in >= 0)
		close(p->in);
	p->go = p->in = -1;
	for (;;) {
		long long left = end - sd_now_ms();

		if (left <= 0 || !sd_poll1(p->out, POLLIN, (int)left)) {
			sd_kill_wait(p->pid);
			close(p->out);
			buf[n] = '\0';
			sd_seterr("timed out; output: %s", buf);
			sd_timed_out("the program to finish", timeout_ms);
			return -1;
		}
		r = read(p->out, buf + n, size - 1 - n);
		if (r <= 0 || n + r >= size - 1) {
			if (r > 0)
				n += r;
			break;
		}
		n += r;
	}
	buf[n] = '\0';
	close(p->out);
	p->out = -1;
	sd_waited("the program to finish", sd_now_ms() - end + timeout_ms,
		  timeout_ms);
	return sd_wait(p->pid);
}

/*
 * ul_hello() - one client connection to 127.0.0.1:@port: read the greeting
 * ("HELLO <name>") into @name, send a line, expect it back.  0 or -1.
 */
static inline int ul_hello(int port, char *name, size_t size)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	char line[256];
	int fd, ret = -1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		sd_seterr("connect to port %d: %s", port, strerror(errno));
		goto out;
	}
	if (ul_read_line(fd, line, sizeof(line), SD_WAIT_MS))
		goto out;
	if (strncmp(line, "HELLO ", 6)) {
		sd_seterr("greeting '%s'", line);
		goto out;
	}
	size = strnlen(line + 6, size - 1);
	memcpy(name, line + 6, size);
	name[size] = '\0';
	if (write(fd, "ping 42\n", 8) != 8 ||
	    ul_read_line(fd, line, sizeof(line), SD_WAIT_MS))
		goto out;
	if (strcmp(line, "ping 42")) {
		sd_seterr("echo '%s'", line);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ul_port() - the port of inet socket @fd */
static inline int ul_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len))
		return -1;
	return ntohs(sin.sin_port);
}

/* ul_count_devfds() - descriptors of this process open on /dev/sockdup */
static inline int ul_count_devfds(int *last)
{
	char path[64], target[64];
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (!strcmp(target, SOCKDUP_DEVICE)) {
			n++;
			if (last)
				*last = fd;
		}
	}
	return n;
}

#endif /* USERLIB_UTIL_H */
