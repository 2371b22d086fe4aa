// SPDX-License-Identifier: MIT
/*
 * tcpclient: connect to the example servers again and again and count.
 *
 *   tcpclient [-n COUNT | -t SECONDS] [-c THREADS] [-T IO_TIMEOUT] [-v] ADDRESS PORT
 *
 * Each connection reads the server's greeting line ("HELLO <name>"), sends
 * "ping <n>", expects the same line back, and closes.  A connection is
 * served when the echo comes back intact, failed otherwise (refused, reset,
 * timed out after IO_TIMEOUT seconds, default 5, or garbled).  At the end it prints how many connections were
 * attempted, served and failed, and which server served how many; it exits
 * 0 only when every attempted connection was served.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_NAMES 32

static struct sockaddr_storage addr;
static socklen_t addrlen;
static long count = -1;		/* connections to make in all, or -1 */
static double duration;		/* seconds, when count == -1 */
static long io_timeout = 5;	/* seconds a connection may wait on I/O */
static bool verbose;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long attempted, served, failed;
static struct { char name[128]; long n; } names[MAX_NAMES];
static int nr_names;
static double start;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read one line (without the newline) into buf; false on error or EOF. */
static bool read_line(int fd, char *buf, size_t size, const char **why)
{
	size_t n = 0;

	while (n + 1 < size) {
		ssize_t r = read(fd, buf + n, 1);

		if (r == 1 && buf[n] == '\n') {
			buf[n] = '\0';
			return true;
		}
		if (r == 1) {
			n++;
			continue;
		}
		if (r == 0)
			*why = "closed by the server";
		else if (errno == EINTR)
			continue;
		else
			*why = errno == EAGAIN ? "timed out" : strerror(errno);
		return false;
	}
	*why = "line too long";
	return false;
}

static void count_name(const char *name)
{
	int i;

	for (i = 0; i < nr_names; i++)
		if (!strcmp(names[i].name, name))
			break;
	if (i == nr_names) {
		if (nr_names == MAX_NAMES)
			return;
		snprintf(names[nr_names++].name, sizeof(names[0].name), "%s",
			 name);
	}
	names[i].n++;
}

/* One connection; returns true when it was served. */
static bool one(long id)
{
	struct timeval tv = { .tv_sec = io_timeout };
	char greeting[128], msg[64], echo[64];
	const char *why = NULL;
	bool ok = false;
	int fd;

	fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		why = strerror(errno);
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, addrlen)) {
		why = strerror(errno);
		goto out;
	}
	if (!read_line(fd, greeting, sizeof(greeting), &why))
		goto out;
	if (strncmp(greeting, "HELLO ", 6)) {
		why = "no greeting";
		goto out;
	}
	snprintf(msg, sizeof(msg), "ping %ld\n", id);
	if (write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg)) {
		why = strerror(errno);
		goto out;
	}
	if (!read_line(fd, echo, sizeof(echo), &why))
		goto out;
	msg[strlen(msg) - 1] = '\0';
	if (strcmp(echo, msg)) {
		why = "wrong echo";
		goto out;
	}
	ok = true;
out:
	pthread_mutex_lock(&lock);
	if (ok) {
		served++;
		count_name(greeting + 6);
		if (verbose)
			printf("client: connection %ld served by %s\n", id,
			       greeting + 6);
	} else {
		failed++;
		printf("client: connection %ld FAILED: %s\n", id, why);
	}
	pthread_mutex_unlock(&lock);
	if (fd >= 0)
		close(fd);
	return ok;
}

static void *loop(void *arg)
{
	(void)arg;
	for (;;) {
		long id;

		pthread_mutex_lock(&lock);
		if (count >= 0 ? attempted >= count
			       : now() - start >= duration) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		id = ++attempted;
		pthread_mutex_unlock(&lock);
		one(id);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tcpclient [-n COUNT | -t SECONDS] [-c THREADS] [-T IO_TIMEOUT] [-v] ADDRESS PORT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&addr;
	int opt, i, nthreads = 1, port;
	pthread_t threads[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "n:t:c:T:v")) != -1) {
		switch (opt) {
		case 'n':
			count = atol(optarg);
			break;
		case 't':
			duration = atof(optarg);
			break;
		case 'c':
			nthreads = atoi(optarg);
			break;
		case 'T':
			io_timeout = atol(optarg);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2 || nthreads < 1 || nthreads > 64 || io_timeout < 1 ||
	    (count < 0 && duration <= 0))
		usage();
	port = atoi(argv[optind + 1]);
	if (port <= 0 || port > 65535)
		usage();
	if (inet_pton(AF_INET, argv[optind], &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		addrlen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, argv[optind], &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		addrlen = sizeof(*sin6);
	} else {
		fprintf(stderr, "tcpclient: %s: not a numeric address\n",
			argv[optind]);
		return 2;
	}

	start = now();
	for (i = 0; i < nthreads; i++)
		pthread_create(&threads[i], NULL, loop, NULL);
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);

	printf("client: %ld attempted, %ld served, %ld failed in %.1f s\n",
	       attempted, served, failed, now() - start);
	for (i = 0; i < nr_names; i++)
		printf("client:   %-28s served %ld\n", names[i].name,
		       names[i].n);
	return failed || served != attempted || !attempted;
}
