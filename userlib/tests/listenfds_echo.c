// SPDX-License-Identifier: GPL-2.0-only
/*
 * listenfds-echo: a server that knows only the systemd socket-activation
 * convention, nothing of sockdup.  The tool and example tests hand it
 * sockets with "sockdup exec TOKEN... -- listenfds-echo [-n COUNT]".
 *
 * It checks LISTEN_PID against its own pid, prints one report line
 *   listenfds-echo: pid=<pid> fds=<n> names=<LISTEN_FDNAMES> fd3=listen:cloexec=0 fd4=stream:cloexec=0 ...
 * then serves: each listening socket accepts COUNT connections (default 1),
 * each connected stream socket is served directly; serving means sending
 * "HELLO listenfds-echo[pid <pid>]" and echoing one line.  Exit 0 when
 * everything was served, 3 when LISTEN_PID/LISTEN_FDS are missing or wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int serve(int fd)
{
	char hello[64], line[256];
	size_t n = 0;
	ssize_t r;

	snprintf(hello, sizeof(hello), "HELLO listenfds-echo[pid %d]\n",
		 (int)getpid());
	if (write(fd, hello, strlen(hello)) != (ssize_t)strlen(hello))
		return -1;
	while (n < sizeof(line) && (r = read(fd, line + n, sizeof(line) - n)) > 0) {
		n += (size_t)r;
		if (memchr(line, '\n', n))
			break;
	}
	return write(fd, line, n) == (ssize_t)n && n ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	int count = 1, n, fd, i, bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "-n"))
		count = atoi(argv[2]);
	if (!pid || !fds || atoi(pid) != getpid() || (n = atoi(fds)) < 1) {
		printf("listenfds-echo: not socket-activated: LISTEN_PID=%s (mine %d) LISTEN_FDS=%s\n",
		       pid ? pid : "(unset)", (int)getpid(), fds ? fds : "(unset)");
		return 3;
	}
	printf("listenfds-echo: pid=%d fds=%d names=%s", (int)getpid(), n,
	       names ? names : "(unset)");
	for (fd = 3; fd < 3 + n; fd++) {
		int listening = 0, type = 0;
		socklen_t len = sizeof(int);
		struct stat st;

		if (fstat(fd, &st) || !S_ISSOCK(st.st_mode)) {
			printf(" fd%d=not-a-socket", fd);
			bad++;
			continue;
		}
		getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
		len = sizeof(int);
		getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
		printf(" fd%d=%s:cloexec=%d", fd,
		       listening ? "listen" : type == SOCK_STREAM ? "stream" : "other",
		       !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
	}
	printf("\n");
	if (bad)
		return 1;

	for (fd = 3; fd < 3 + n; fd++) {
		int listening = 0;
		socklen_t len = sizeof(int);

		getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
		if (!listening) {
			bad |= serve(fd);
			continue;
		}
		for (i = 0; i < count; i++) {
			int c = accept(fd, NULL, NULL);

			if (c < 0) {
				perror("listenfds-echo: accept");
				return 1;
			}
			bad |= serve(c);
			close(c);
		}
	}
	return bad ? 1 : 0;
}
