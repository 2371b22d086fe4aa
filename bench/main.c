// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup-bench: sockdup against SCM_RIGHTS and pidfd_getfd, side by side.
 *
 * Usage: sockdup-bench [--quick] [--json FILE] [--rounds R]
 *                      [--scale-rounds R] [--scale-visits K]
 *                      [--batch-us US | --batch N] [--max-batch N] [--warmup N]
 *                      [--scale N1,N2,N3] [--mem-n N] [--only ID,GROUP,...]
 *
 * Defaults: 101 rounds of the main cases, batches of about 300 us of timed
 * work each (at most 2000 ops), each after 10 untimed ops of the same case
 * (--warmup); 11 rounds of the scale cases, 5 batches of
 * each case per round; 100,000 shares for the memory figure.
 *
 * Needs /dev/sockdup and root (the scale and memory cases raise the module's
 * caps through /sys/module/sockdup/parameters/ and restore them on exit).
 * SOCKDUP_BENCH_QUICK=1 in the environment is the same as --quick: a few
 * small rounds that only prove every case runs.
 *
 * Exit status: 0 when every case ran, 1 when one failed, 2 on bad usage.
 * A missed performance target never changes the exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

struct bench_env env = {
	.dev = -1, .dev_events = -1, .sock = -1, .worker_cmd = -1, .worker_reply = -1,
	.worker_pidfd = -1, .scm_tx = -1,
};

void bench_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "sockdup-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = write(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= r;
	}
	return 0;
}

int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t r = read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EPIPE;
			return -1;
		}
		p += r;
		len -= r;
	}
	return 0;
}

int sd_share(int dev, int fd, pid_t target, unsigned int ttl_ms,
	     uint8_t cookie[SOCKDUP_COOKIE_SIZE])
{
	struct sockdup_share s = {
		.fd = fd, .target_pid = target, .ttl_ms = ttl_ms,
	};

	if (ioctl(dev, SOCKDUP_IOC_SHARE, &s))
		return -1;
	memcpy(cookie, s.cookie, SOCKDUP_COOKIE_SIZE);
	return 0;
}

int sd_redeem(int dev, const uint8_t cookie[SOCKDUP_COOKIE_SIZE])
{
	struct sockdup_redeem r = { 0 };

	memcpy(r.cookie, cookie, SOCKDUP_COOKIE_SIZE);
	return ioctl(dev, SOCKDUP_IOC_REDEEM, &r);
}

int sd_revoke(int dev, const uint8_t cookie[SOCKDUP_COOKIE_SIZE])
{
	struct sockdup_revoke r = { 0 };

	memcpy(r.cookie, cookie, SOCKDUP_COOKIE_SIZE);
	return ioctl(dev, SOCKDUP_IOC_REVOKE, &r);
}

int worker_call(const struct worker_cmd *cmd, const void *data, size_t len,
		struct worker_reply *rep)
{
	if (write_full(env.worker_cmd, cmd, sizeof(*cmd)))
		return -errno;
	if (len && write_full(env.worker_cmd, data, len))
		return -errno;
	if (read_full(env.worker_reply, rep, sizeof(*rep)))
		return -errno;
	return rep->err ? -rep->err : 0;
}

static int worker_start(void)
{
	int cmd[2], reply[2], sv[2];
	struct worker_cmd ping = { .op = W_PING };
	struct worker_reply rep;
	int big = 64 << 20;

	if (pipe(cmd) || pipe(reply))
		return -errno;
	/*
	 * One AF_UNIX stream pair for the two-process SCM_RIGHTS case.  The
	 * sender queues a whole batch before the receiver starts, so its send
	 * buffer must hold a batch (SO_SNDBUFFORCE needs CAP_NET_ADMIN).
	 */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -errno;
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) &&
	    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)))
		return -errno;
	env.worker = fork();
	if (env.worker < 0)
		return -errno;
	if (env.worker == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(cmd[1]);
		close(reply[0]);
		close(sv[0]);
		/* the worker keeps env.sock open: pidfd_getfd takes it */
		_exit(worker_main(cmd[0], reply[1], sv[1]) ? 1 : 0);
	}
	close(cmd[0]);
	close(reply[1]);
	close(sv[1]);
	env.worker_cmd = cmd[1];
	env.worker_reply = reply[0];
	env.scm_tx = sv[0];
	env.worker_pidfd = syscall(SYS_pidfd_open, env.worker, 0);
	if (env.worker_pidfd < 0)
		return -errno;
	return worker_call(&ping, NULL, 0, &rep);
}

static void worker_stop(void)
{
	struct worker_cmd bye = { .op = W_EXIT };

	if (env.worker <= 0)
		return;
	write_full(env.worker_cmd, &bye, sizeof(bye));
	close(env.worker_cmd);
	close(env.worker_reply);
	waitpid(env.worker, NULL, 0);
	env.worker = 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void case_summarize(struct bench_case *c)
{
	double *s;
	unsigned int n = c->nsamples;

	if (!n)
		return;
	s = malloc(n * sizeof(*s));
	if (!s)
		return;
	memcpy(s, c->samples, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	c->min = s[0];
	c->max = s[n - 1];
	c->median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
}

/*
 * Run one batch of @c (after bringing the pool of pending shares to what
 * the case wants) and keep its figure if @keep.  A case that fails is
 * marked and skipped from then on; the others go on.
 */
int case_batch(struct bench_case *c, int keep)
{
	unsigned int warm = c->n < env.warmup ? c->n : env.warmup;
	double ns = 0;
	int err;

	if (c->failed)
		return 0;
	err = pool_set(c->pending);
	/*
	 * A few untimed ops first: the case before this one ran other code,
	 * and a long path (sockdup's) pays more to get its caches back (on
	 * TCG: translated-code lookups) than a short one (the floor's).
	 */
	if (!err && warm)
		err = c->run(c, warm, &ns);
	if (!err)
		err = c->run(c, c->n, &ns);
	if (err) {
		bench_fail("case %s failed: %s", c->id, strerror(-err));
		c->failed = 1;
		return 0;
	}
	if (keep && c->nsamples < env.max_samples)
		c->samples[c->nsamples++] = ns;
	return 0;
}

/*
 * Pick the batch size of @c: the best of three short batches gives the
 * cost of one op; the batch then lasts --batch-us of timed work.
 */
int case_calibrate(struct bench_case *c)
{
	unsigned int nw = c->nworkers ? c->nworkers : 1, i;
	double best = 0, n;

	if (env.batch) {
		c->n = env.batch;
		return 0;
	}
	c->n = 20;
	for (i = 0; i < 3 && !c->failed; i++) {
		double ns = 0;
		int err = pool_set(c->pending);

		if (!err)
			err = c->run(c, c->n, &ns);
		if (err) {
			bench_fail("case %s failed: %s", c->id, strerror(-err));
			c->failed = 1;
			break;
		}
		if (!i || ns < best)
			best = ns;
	}
	n = best > 0 ? env.batch_us * 1000.0 / (best * nw) : 100;
	if (n < 10)
		n = 10;
	/* workers that start together need some length to overlap */
	if (c->unit == UNIT_THROUGHPUT && n < 100)
		n = 100;
	if (n > env.max_batch)
		n = env.max_batch;
	c->n = (unsigned int)n;
	return 0;
}

/* --only: comma-separated case ids or groups ("memory" for the memory figure) */
static int selected(const char *id, const char *group)
{
	char *copy, *tok, *save = NULL;
	int hit = 0;

	if (!env.only)
		return 1;
	copy = strdup(env.only);
	for (tok = strtok_r(copy, ",", &save); tok && !hit;
	     tok = strtok_r(NULL, ",", &save))
		hit = !strcmp(tok, id) || (group && !strcmp(tok, group));
	free(copy);
	return hit;
}

static unsigned int filter(struct bench_case *tab, unsigned int n)
{
	unsigned int i, k = 0;

	for (i = 0; i < n; i++)
		if (selected(tab[i].id, tab[i].group))
			tab[k++] = tab[i];
	return k;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sockdup-bench [--quick] [--json FILE] [--rounds R]\n"
		"                     [--scale-rounds R] [--scale-visits K]\n"
		"                     [--batch-us US | --batch N] [--max-batch N] [--warmup N]\n"
		"                     [--scale N1,N2,N3] [--mem-n N] [--only ID,GROUP,...]\n");
	exit(2);
}

static void parse_scale(const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;

	env.nscale = 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (env.nscale == BENCH_MAX_SCALE)
			usage();
		env.scale_n[env.nscale++] = strtoul(tok, NULL, 0);
	}
	free(copy);
	if (!env.nscale)
		usage();
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'b' },
		{ "batch-us", required_argument, NULL, 'u' },
		{ "max-batch", required_argument, NULL, 'M' },
		{ "scale-rounds", required_argument, NULL, 'R' },
		{ "scale-visits", required_argument, NULL, 'V' },
		{ "only", required_argument, NULL, 'o' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "json", required_argument, NULL, 'j' },
		{ "scale", required_argument, NULL, 's' },
		{ "mem-n", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *q = getenv("SOCKDUP_BENCH_QUICK");
	int o;

	env.quick = q && *q && strcmp(q, "0");
	env.rounds = 101;
	env.scale_rounds = 11;
	env.scale_visits = 5;
	env.batch = 0;
	env.batch_us = 300;
	env.max_batch = 2000;
	env.warmup = 10;
	env.scale_n[0] = 10;
	env.scale_n[1] = 1000;
	env.scale_n[2] = 100000;
	env.nscale = 3;
	env.mem_n = 100000;
	/* the quick settings first, so explicit options still win */
	for (o = 1; o < argc; o++)
		if (!strcmp(argv[o], "--quick"))
			env.quick = 1;
	if (env.quick) {
		env.rounds = 3;
		env.scale_rounds = 2;
		env.scale_visits = 1;
		env.batch_us = 200;
		env.max_batch = 100;
		env.scale_n[1] = 100;
		env.scale_n[2] = 1000;
		env.mem_n = 1000;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'q':
			break;
		case 'r':
			env.rounds = strtoul(optarg, NULL, 0);
			break;
		case 'b':
			env.batch = strtoul(optarg, NULL, 0);
			break;
		case 'u':
			env.batch_us = strtoul(optarg, NULL, 0);
			break;
		case 'M':
			env.max_batch = strtoul(optarg, NULL, 0);
			break;
		case 'R':
			env.scale_rounds = strtoul(optarg, NULL, 0);
			break;
		case 'V':
			env.scale_visits = strtoul(optarg, NULL, 0);
			break;
		case 'o':
			env.only = optarg;
			break;
		case 'w':
			env.warmup = strtoul(optarg, NULL, 0);
			break;
		case 'j':
			env.json_path = optarg;
			break;
		case 's':
			parse_scale(optarg);
			break;
		case 'm':
			env.mem_n = strtoul(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (env.batch > env.max_batch)
		env.max_batch = env.batch;
	if (optind != argc || !env.rounds || !env.batch_us || !env.max_batch ||
	    !env.scale_visits)
		usage();
}

static void on_signal(int sig)
{
	/* restore the module parameters through atexit() */
	(void)sig;
	exit(1);
}

/* Pin the calling task to @cpu (if there is such a CPU). */
static void pin_cpu(unsigned int cpu)
{
	cpu_set_t set;

	if (cpu >= env.ncpus)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void read_clocksource(void)
{
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");

	snprintf(env.clocksource, sizeof(env.clocksource), "?");
	if (!f)
		return;
	if (fgets(env.clocksource, sizeof(env.clocksource), f))
		env.clocksource[strcspn(env.clocksource, "\n")] = 0;
	fclose(f);
}

int main(int argc, char **argv)
{
	struct bench_case *tab;
	unsigned int ncases = 0, nmain, i, r;
	long ncpus;
	int err, failed = 0;
	uint64_t t0;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	env.ncpus = ncpus > 0 ? ncpus : 1;
	env.self = getpid();
	read_clocksource();

	/*
	 * Write-only, as libsockdup and the Python package open the device
	 * for their plain calls: no event queue.  The events case uses a
	 * second file, opened for reading.
	 */
	env.dev = open(SOCKDUP_DEVICE, O_WRONLY | O_CLOEXEC);
	env.dev_events = open(SOCKDUP_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (env.dev < 0 || env.dev_events < 0) {
		bench_fail("open %s: %s", SOCKDUP_DEVICE, strerror(errno));
		return 1;
	}
	err = scale_setup();
	if (!err)
		err = cases_setup();
	/*
	 * The bench and its worker on one CPU: the two-process cases time
	 * each side on its own (the hand-over between them is not timed), and
	 * needing only one virtual CPU at a time keeps a loaded host from
	 * stretching them.
	 */
	pin_cpu(0);
	if (!err)
		err = worker_start();
	if (err) {
		bench_fail("setup: %s", strerror(-err));
		return 1;
	}

	tab = calloc(BENCH_MAX_CASES, sizeof(*tab));
	if (!tab)
		return 1;
	ncases += cases_register(tab + ncases, BENCH_MAX_CASES - ncases);
	ncases += conc_register(tab + ncases, BENCH_MAX_CASES - ncases);
	ncases = filter(tab, ncases);
	nmain = ncases;
	ncases += scale_register(tab + ncases, BENCH_MAX_CASES - ncases);
	ncases = nmain + filter(tab + nmain, ncases - nmain);
	if (!selected("memory", NULL))
		env.mem_n = 0;
	env.max_samples = env.rounds > env.scale_rounds * env.scale_visits ?
			  env.rounds : env.scale_rounds * env.scale_visits;
	for (i = 0; i < ncases; i++) {
		tab[i].samples = calloc(env.max_samples, sizeof(double));
		if (!tab[i].samples)
			return 1;
	}

	printf("sockdup-bench: %u cases; %u rounds, %u scale rounds (+1 warm-up each); %s\n",
	       ncases, env.rounds, env.scale_rounds, env.quick ? "quick" : "full");
	t0 = now_ns();

	/* memory first: the share cache is as fresh as it will ever be */
	err = mem_measure();
	if (err) {
		bench_fail("memory: %s", strerror(-err));
		failed = 1;
	}

	/* the main cases: calibrate, one warm-up round, the rounds */
	for (i = 0; i < nmain; i++)
		case_calibrate(&tab[i]);
	for (r = 0; r <= env.rounds; r++)
		for (i = 0; i < nmain; i++)
			case_batch(&tab[i], r > 0);
	err = pool_set(0);
	/* the scale cases: their own rounds, the pool changes are costly */
	if (!err)
		err = scale_run(tab + nmain, ncases - nmain);
	if (err) {
		bench_fail("scale: %s", strerror(-err));
		failed = 1;
	}
	for (i = 0; i < ncases; i++) {
		failed |= tab[i].failed;
		case_summarize(&tab[i]);
	}
	printf("sockdup-bench: done in %.1f s\n", (now_ns() - t0) / 1e9);

	worker_stop();
	cases_teardown();
	scale_teardown();

	report_table(stdout, tab, ncases);
	if (env.json_path) {
		FILE *f = fopen(env.json_path, "w");

		if (!f || report_json(f, tab, ncases) || fclose(f)) {
			bench_fail("writing %s: %s", env.json_path,
				   strerror(errno));
			failed = 1;
		}
	}
	return failed ? 1 : 0;
}
