// SPDX-License-Identifier: MIT
/*
 * restart: a TCP server that replaces itself without refusing a connection.
 *
 *   restart [-a ADDRESS] [-p PORT] [-H HOLD_MS] [-f PIDFILE]
 *
 * SIGHUP starts a replacement: a new process running this program (fork,
 * then exec of /proc/self/exe, as after an upgrade of the binary).  The old
 * server shares its listening socket with the new process through an
 * events descriptor (sockdup_events_open()) and writes the token into a
 * pipe; the new process redeems it.  The old server learns that from the
 * kernel: the events descriptor becomes readable with a "redeemed" event,
 * with no message the new process has to remember to send.  Until then the
 * old server keeps accepting; afterwards it closes its descriptor,
 * finishes the connections it already accepted (drains) and exits.  The
 * listening socket itself never closes: connections waiting in its backlog
 * are accepted by the new server, so no client is ever refused or reset.
 * If the share ends otherwise (the replacement exited first, or did not
 * redeem within the module's default TTL), the old server simply goes on
 * serving.
 *
 * A replacement finds the listening socket in one of three ways, tried in
 * this order:
 *   RESTART_TOKEN_FD=N    read a token from descriptor N (used by SIGHUP),
 *   SOCKDUP_TOKEN=sd1_... a token in the environment,
 *   LISTEN_FDS=1 and LISTEN_PID=<own pid>: socket activation, fd 3 (systemd,
 *                         or "sockdup exec TOKEN -- restart").
 * Otherwise it opens ADDRESS:PORT itself.
 *
 * Each connection gets "HELLO gen<N>[pid <pid>]", waits HOLD_MS (default
 * 50) to stand in for real work, echoes one line and closes.  SIGTERM or
 * SIGINT: stop accepting, drain, exit.
 *
 * Caveat shown here: the listening socket is one open file shared by the old
 * and the new process, so its O_NONBLOCK flag is shared too.  Both set it
 * (they poll() before accept()), so that neither blocks in accept() when the
 * other took the connection.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sockdup.h>

extern char **environ;

static int gen = 1;
static char name[48];
static unsigned int hold_ms = 50;
static long inflight, served;	/* __atomic */
static char **saved_argv;

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

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char hello[64], line[256];
	size_t n = 0;
	ssize_t r;

	snprintf(hello, sizeof(hello), "HELLO %s\n", name);
	if (write_all(fd, hello, strlen(hello)) == 0) {
		usleep(hold_ms * 1000);
		while (n < sizeof(line) &&
		       (r = read(fd, line + n, sizeof(line) - n)) > 0) {
			n += (size_t)r;
			if (memchr(line, '\n', n))
				break;
		}
		write_all(fd, line, n);
	}
	close(fd);
	__atomic_add_fetch(&served, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&inflight, 1, __ATOMIC_RELEASE);
	return NULL;
}

static long env_long(const char *var, long def)
{
	const char *v = getenv(var);

	return v && *v ? strtol(v, NULL, 10) : def;
}

/* The listening socket: inherited through sockdup or systemd, or new. */
static int get_listener(const char *address, int port, char *how, size_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	char token[SOCKDUP_TOKEN_SIZE + 2] = "";
	long tfd = env_long("RESTART_TOKEN_FD", -1);
	int fd;

	if (tfd >= 0) {
		ssize_t n = read((int)tfd, token, sizeof(token) - 1);

		close((int)tfd);
		token[n > 0 ? n : 0] = '\0';
		token[strcspn(token, "\n")] = '\0';
	} else if (getenv("SOCKDUP_TOKEN")) {
		snprintf(token, sizeof(token), "%s", getenv("SOCKDUP_TOKEN"));
	}
	unsetenv("RESTART_TOKEN_FD");
	unsetenv("SOCKDUP_TOKEN");
	if (*token) {
		fd = sockdup_redeem_token(token, 0);
		if (fd < 0) {
			fprintf(stderr, "restart: redeem %s: %s\n", token,
				strerror(-fd));
			return -1;
		}
		snprintf(how, len, "redeemed the listening socket from token %s",
			 token);
		return fd;
	}

	if (env_long("LISTEN_PID", 0) == getpid() &&
	    env_long("LISTEN_FDS", 0) == 1) {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		fcntl(3, F_SETFD, FD_CLOEXEC);
		snprintf(how, len, "took the listening socket from LISTEN_FDS (fd 3)");
		return 3;
	}

	if (inet_pton(AF_INET, address, &sin.sin_addr) != 1) {
		fprintf(stderr, "restart: bad address %s\n", address);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 },
				 sizeof(int)) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 128)) {
		perror("restart: listen");
		return -1;
	}
	snprintf(how, len, "listening on %s:%d", address, port);
	return fd;
}

static void write_pidfile(const char *path)
{
	char tmp[4096];
	FILE *f;

	if (!path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) ||
	    rename(tmp, path))
		perror("restart: pidfile");
}

/*
 * Start the next generation and hand it the listener.  Returns the events
 * descriptor the share was made through (its id in *@id), or -1.
 */
static int start_replacement(int lfd, unsigned long long *id)
{
	char token[SOCKDUP_TOKEN_SIZE + 1], genv[32], tenv[32];
	struct sockdup_cookie cookie;
	char **envp, **e;
	int tp[2], evfd, n = 0, err;
	pid_t pid;

	evfd = sockdup_events_open(SOCKDUP_EVENTS_NONBLOCK);
	if (evfd < 0) {
		printf("%s: cannot open /dev/sockdup: %s; still serving\n",
		       name, strerror(-evfd));
		return -1;
	}
	if (pipe2(tp, O_CLOEXEC)) {
		perror("restart: pipe");
		close(evfd);
		return -1;
	}
	/* build the child's environment now: after fork() only exec */
	for (e = environ; *e; e++)
		n++;
	envp = calloc(n + 3, sizeof(*envp));
	if (!envp) {
		close(evfd);
		close(tp[0]);
		close(tp[1]);
		return -1;
	}
	n = 0;
	for (e = environ; *e; e++)
		if (strncmp(*e, "RESTART_", 8))
			envp[n++] = *e;
	snprintf(genv, sizeof(genv), "RESTART_GEN=%d", gen + 1);
	snprintf(tenv, sizeof(tenv), "RESTART_TOKEN_FD=%d", tp[0]);
	envp[n++] = genv;
	envp[n++] = tenv;

	pid = fork();
	if (pid == 0) {
		/* only async-signal-safe calls here; same command line */
		fcntl(tp[0], F_SETFD, 0);
		execve("/proc/self/exe", saved_argv, envp);
		_exit(127);
	}
	free(envp);
	close(tp[0]);
	if (pid < 0) {
		perror("restart: fork");
		close(tp[1]);
		close(evfd);
		return -1;
	}

	/*
	 * The handover: share with the new pid through the events
	 * descriptor (TTL 0: the module's default, a minute), send the
	 * token as text.
	 */
	err = sockdup_share_on(evfd, lfd, pid, 0, &cookie, id);
	if (err) {
		printf("%s: cannot share the listening socket: %s; still serving\n",
		       name, strerror(-err));
		kill(pid, SIGKILL);
		close(tp[1]);
		close(evfd);
		return -1;
	}
	sockdup_token_encode(&cookie, token, sizeof(token));
	printf("%s: SIGHUP: started gen%d[pid %d], handed it the listening socket as %s; still accepting\n",
	       name, gen + 1, (int)pid, token);
	strcat(token, "\n");
	write_all(tp[1], token, strlen(token));
	close(tp[1]);
	return evfd;
}

/*
 * How the share of the listener ended: 1 the replacement has it, 0 it
 * ended otherwise, -1 not yet.
 */
static int handover_done(int evfd, unsigned long long id)
{
	struct sockdup_event ev;
	const char *why;

	/* the only share made through @evfd: its one event */
	if (sockdup_events_read(evfd, &ev, 1) != 1)
		return -1;
	if (ev.id != id)
		return 0;
	switch (ev.type) {
	case SOCKDUP_EVENT_REDEEMED:
		printf("%s: the kernel says gen%d[pid %d] has the listening socket (share %llu redeemed)\n",
		       name, gen + 1, ev.pid, id);
		return 1;
	case SOCKDUP_EVENT_EXPIRED:
		why = "did not redeem the listening socket in time";
		break;
	case SOCKDUP_EVENT_REAPED:
		why = "exited without redeeming the listening socket";
		break;
	default:
		why = "declined the listening socket";
		break;
	}
	printf("%s: gen%d %s; still serving\n", name, gen + 1, why);
	return 0;
}

int main(int argc, char **argv)
{
	const char *address = "127.0.0.1", *pidfile = NULL;
	int opt, port = 8082, lfd, sfd, evfd = -1;
	unsigned long long share_id = 0;
	bool accepting = true, handed_over = false;
	char how[128];
	sigset_t set;

	saved_argv = argv;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "a:p:H:f:")) != -1) {
		switch (opt) {
		case 'a':
			address = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'H':
			hold_ms = (unsigned int)atoi(optarg);
			break;
		case 'f':
			pidfile = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: restart [-a ADDRESS] [-p PORT] [-H HOLD_MS] [-f PIDFILE]\n");
			return 2;
		}
	}

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	gen = (int)env_long("RESTART_GEN", 1);
	unsetenv("RESTART_GEN");
	snprintf(name, sizeof(name), "gen%d[pid %d]", gen, (int)getpid());
	lfd = get_listener(address, port, how, sizeof(how));
	if (lfd < 0 || sfd < 0)
		return 1;
	/* shared with the other generation: see the caveat above */
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	printf("%s: %s, accepting\n", name, how);
	write_pidfile(pidfile);

	while (accepting) {
		struct pollfd p[3] = {
			{ .fd = lfd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = evfd, .events = POLLIN },
		};

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			pthread_t t;
			int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (cfd >= 0) {
				__atomic_add_fetch(&inflight, 1, __ATOMIC_RELAXED);
				if (pthread_create(&t, NULL, serve, (void *)(long)cfd))
					serve((void *)(long)cfd);
				else
					pthread_detach(t);
			}
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP && evfd < 0)
				evfd = start_replacement(lfd, &share_id);
			else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
				accepting = false;
			else if (si.ssi_signo == SIGCHLD)
				while (waitpid(-1, NULL, WNOHANG) > 0)
					;
		}
		if (evfd >= 0 && p[2].revents) {
			int done = handover_done(evfd, share_id);

			if (done == 1) {
				handed_over = true;
				accepting = false;
			}
			if (done >= 0) {
				close(evfd);
				evfd = -1;
			}
		}
	}

	/* the socket stays open in the new generation, if there is one */
	close(lfd);
	printf("%s: %s, stopped accepting, draining %ld connection(s) in flight\n",
	       name, handed_over ? "the next generation is accepting" : "told to stop",
	       __atomic_load_n(&inflight, __ATOMIC_ACQUIRE));
	while (__atomic_load_n(&inflight, __ATOMIC_ACQUIRE))
		usleep(10000);
	printf("%s: drained; served %ld connection(s); exiting\n", name,
	       __atomic_load_n(&served, __ATOMIC_RELAXED));
	if (!handed_over && pidfile)
		unlink(pidfile);
	return 0;
}
