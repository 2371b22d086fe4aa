// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup-bench: share + redeem throughput with one and two CPUs.
 *
 * Each worker (thread or process) is pinned to its own CPU with
 * sched_setaffinity(), has its own /dev/sockdup descriptor and its own
 * socket, and runs n x (SHARE to its own process + REDEEM + close).  All
 * workers start together; the figure is the wall time from the first start
 * to the last finish divided by all operations (so ops/s = 1e9 / figure).
 * Threads share one descriptor table; the two-process variant does not, which
 * separates fd-table contention from contention inside the module.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define NWORKERS	2

struct slot {
	int dev, sock, cpu;
	unsigned int n;
	pthread_barrier_t *start;
	int gate;		/* processes: read end of the start pipe */
	uint64_t t0, t1;
	int err;
};

static struct slot *slots;	/* shared with the child processes */

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static void loop(struct slot *s, pid_t self)
{
	uint8_t cookie[SOCKDUP_COOKIE_SIZE];
	unsigned int i;

	s->t0 = now_ns();
	for (i = 0; i < s->n; i++) {
		int fd;

		if (sd_share(s->dev, s->sock, self, 0, cookie)) {
			s->err = errno;
			break;
		}
		fd = sd_redeem(s->dev, cookie);
		if (fd < 0) {
			s->err = errno;
			break;
		}
		close(fd);
	}
	s->t1 = now_ns();
}

static void *thread_main(void *arg)
{
	struct slot *s = arg;

	s->err = -pin(s->cpu);
	pthread_barrier_wait(s->start);
	if (!s->err)
		loop(s, env.self);
	return NULL;
}

static int collect(unsigned int nw, unsigned int n, double *ns)
{
	uint64_t t0 = UINT64_MAX, t1 = 0;
	unsigned int i;

	for (i = 0; i < nw; i++) {
		if (slots[i].err)
			return -slots[i].err;
		if (slots[i].t0 < t0)
			t0 = slots[i].t0;
		if (slots[i].t1 > t1)
			t1 = slots[i].t1;
	}
	*ns = (double)(t1 - t0) / ((double)nw * n);
	return 0;
}

static int run_threads(unsigned int nw, unsigned int n, double *ns)
{
	pthread_barrier_t start;
	pthread_t th[NWORKERS];
	unsigned int i;
	int err;

	pthread_barrier_init(&start, NULL, nw);
	for (i = 0; i < nw; i++) {
		slots[i].n = n;
		slots[i].cpu = i;
		slots[i].err = 0;
		slots[i].start = &start;
		err = pthread_create(&th[i], NULL, thread_main, &slots[i]);
		if (err)
			return -err;	/* the barrier never opens: fatal */
	}
	for (i = 0; i < nw; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	return collect(nw, n, ns);
}

static int run_1t(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return run_threads(1, n, ns);
}

static int run_2t(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return run_threads(2, n, ns);
}

static int run_2p(struct bench_case *c, unsigned int n, double *ns)
{
	int gate[2];
	pid_t pid[NWORKERS];
	unsigned int i;

	(void)c;
	if (pipe(gate))
		return -errno;
	for (i = 0; i < NWORKERS; i++) {
		slots[i].n = n;
		slots[i].cpu = i;
		slots[i].err = 0;
		pid[i] = fork();
		if (pid[i] < 0)
			return -errno;
		if (pid[i] == 0) {
			char b;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(gate[1]);
			slots[i].err = -pin(i);
			/* EOF when the parent closes the gate: go */
			if (read(gate[0], &b, 1) < 0 && !slots[i].err)
				slots[i].err = errno;
			if (!slots[i].err)
				loop(&slots[i], getpid());
			_exit(0);
		}
	}
	close(gate[0]);
	usleep(20000);	/* let both children reach the gate */
	close(gate[1]);
	for (i = 0; i < NWORKERS; i++)
		waitpid(pid[i], NULL, 0);
	return collect(NWORKERS, n, ns);
}

unsigned int conc_register(struct bench_case *tab, unsigned int max)
{
	static const struct bench_case cc[] = {
		{ "conc_1t", "concurrency", "share + redeem + close, 1 thread",
		  UNIT_THROUGHPUT, .nworkers = 1, .run = run_1t },
		{ "conc_2t", "concurrency", "share + redeem + close, 2 threads, 2 CPUs",
		  UNIT_THROUGHPUT, .nworkers = 2, .run = run_2t },
		{ "conc_2p", "concurrency", "share + redeem + close, 2 processes, 2 CPUs",
		  UNIT_THROUGHPUT, .nworkers = 2, .run = run_2p },
	};
	unsigned int i, n = env.ncpus >= 2 ? 3 : 1;

	slots = mmap(NULL, NWORKERS * sizeof(*slots), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED) {
		slots = NULL;
		return 0;
	}
	for (i = 0; i < NWORKERS; i++) {
		slots[i].dev = open(SOCKDUP_DEVICE, O_WRONLY | O_CLOEXEC);
		slots[i].sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (slots[i].dev < 0 || slots[i].sock < 0)
			return 0;
	}
	if (env.ncpus < 2)
		printf("sockdup-bench: one CPU online: no two-CPU concurrency cases\n");
	for (i = 0; i < n && i < max; i++)
		tab[i] = cc[i];
	return i;
}
