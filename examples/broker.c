// SPDX-License-Identifier: MIT
/*
 * broker: one process accepts TCP connections, several workers serve them.
 *
 *   broker [-a ADDRESS] [-p PORT] [-w WORKERS] [-n CONNECTIONS]
 *
 * The scenario of Windows' WSADuplicateSocket documentation: the broker
 * accepts each connection, shares it with one worker (round robin) and
 * sends the worker the token over a plain pipe; the worker redeems the
 * token, greets the client with its own name and echoes lines back until
 * the client closes.  No SCM_RIGHTS, no AF_UNIX socket between them: the
 * token is text and could as well travel through a file, a message queue
 * or an HTTP header.
 *
 * With -n the broker stops after that many connections, lets the workers
 * finish and exits 0 when every worker served what it was handed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sockdup.h>

#define MAX_WORKERS 16

struct worker {
	pid_t pid;
	int pipe;		/* write end: one "<number> <token>" line each */
	unsigned long handed;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Serve one redeemed connection: greet, then echo until EOF. */
static void serve(int fd, const char *name)
{
	char buf[4096], hello[64];
	ssize_t n;

	snprintf(hello, sizeof(hello), "HELLO %s\n", name);
	if (write_all(fd, hello, strlen(hello)))
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write_all(fd, buf, (size_t)n))
			return;
}

static int worker_main(int index, int in)
{
	unsigned long nr, served = 0, bad = 0;
	char name[32], token[SOCKDUP_TOKEN_SIZE];
	FILE *f = fdopen(in, "r");

	snprintf(name, sizeof(name), "worker-%d[pid %d]", index, (int)getpid());
	while (fscanf(f, "%lu %26s", &nr, token) == 2) {
		/* close-on-exec by default; this descriptor is ours alone */
		int fd = sockdup_redeem_token(token, 0);

		if (fd < 0) {
			printf("%s: connection #%lu: redeem %s: %s\n", name, nr,
			       token, strerror(-fd));
			bad++;
			continue;
		}
		printf("%s: connection #%lu: redeemed %s as fd %d, serving\n",
		       name, nr, token, fd);
		serve(fd, name);
		close(fd);
		served++;
	}
	printf("%s: served %lu connection(s), exiting\n", name, served);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(8081) };
	struct worker workers[MAX_WORKERS];
	unsigned long limit = 0, accepted = 0;
	const char *address = "127.0.0.1";
	int opt, i, nr_workers = 3, lfd, status, ret = 0;
	struct sigaction sa = { .sa_handler = on_signal };

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "a:p:w:n:")) != -1) {
		switch (opt) {
		case 'a':
			address = optarg;
			break;
		case 'p':
			sin.sin_port = htons(atoi(optarg));
			break;
		case 'w':
			nr_workers = atoi(optarg);
			break;
		case 'n':
			limit = strtoul(optarg, NULL, 10);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || nr_workers < 1 || nr_workers > MAX_WORKERS ||
	    inet_pton(AF_INET, address, &sin.sin_addr) != 1)
		goto usage;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 },
				  sizeof(int)) ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 64)) {
		perror("broker: listen");
		return 1;
	}

	for (i = 0; i < nr_workers; i++) {
		int p[2];

		if (pipe2(p, O_CLOEXEC)) {
			perror("broker: pipe");
			return 1;
		}
		fflush(stdout);
		workers[i].pid = fork();
		if (workers[i].pid < 0) {
			perror("broker: fork");
			return 1;
		}
		if (workers[i].pid == 0) {
			int j;

			/* a worker owns no socket until it redeems one */
			close(lfd);
			close(p[1]);
			for (j = 0; j < i; j++)
				close(workers[j].pipe);
			_exit(worker_main(i + 1, p[0]));
		}
		close(p[0]);
		workers[i].pipe = p[1];
		workers[i].handed = 0;
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("broker[pid %d]: listening on %s:%d, %d workers\n", (int)getpid(),
	       address, ntohs(sin.sin_port), nr_workers);

	while (!stop && (!limit || accepted < limit)) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		char token[SOCKDUP_TOKEN_SIZE], line[64], ip[INET_ADDRSTRLEN];
		struct worker *w;
		int cfd, err;

		cfd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("broker: accept");
			ret = 1;
			break;
		}
		w = &workers[accepted++ % nr_workers];

		/*
		 * The three lines that hand a connection over.  TTL 0: the
		 * module's default (a minute), ample for a busy worker.
		 */
		err = sockdup_share_token(cfd, w->pid, 0, token);
		if (!err) {
			snprintf(line, sizeof(line), "%lu %s\n", accepted, token);
			err = write_all(w->pipe, line, strlen(line)) ? -errno : 0;
		}
		inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
		if (err) {
			printf("broker: connection #%lu from %s:%d: cannot hand it to worker-%ld: %s\n",
			       accepted, ip, ntohs(peer.sin_port),
			       (long)(w - workers) + 1, strerror(-err));
			ret = 1;
		} else {
			printf("broker: connection #%lu from %s:%d -> worker-%ld[pid %d] (token %s)\n",
			       accepted, ip, ntohs(peer.sin_port),
			       (long)(w - workers) + 1, (int)w->pid, token);
			w->handed++;
		}
		/* the worker's descriptor keeps the connection open */
		close(cfd);
	}

	close(lfd);
	for (i = 0; i < nr_workers; i++)
		close(workers[i].pipe);	/* EOF: finish and exit */
	for (i = 0; i < nr_workers; i++) {
		if (waitpid(workers[i].pid, &status, 0) < 0 ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			ret = 1;
	}
	printf("broker: accepted %lu connection(s) and handed them to %d workers:",
	       accepted, nr_workers);
	for (i = 0; i < nr_workers; i++)
		printf(" worker-%d %lu%s", i + 1, workers[i].handed,
		       i + 1 < nr_workers ? "," : "\n");
	return ret;

usage:
	fprintf(stderr,
		"usage: broker [-a ADDRESS] [-p PORT] [-w WORKERS] [-n CONNECTIONS]\n");
	return 2;
}
