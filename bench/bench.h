/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sockdup-bench: shared declarations.
 *
 * Every figure is the cost of one operation in nanoseconds, measured with
 * clock_gettime(CLOCK_MONOTONIC) around a batch of operations and divided by
 * the batch size.  The cases run interleaved: one batch of every case per
 * round, rounds repeated, so slow drift of the (shared, emulated) machine
 * hits every case alike.  Each case keeps one figure per round; the report
 * prints min/median/max over the rounds.
 *
 * Batch sizes are calibrated so that every case's timed batch lasts about
 * the same time (--batch-us): a host that preempts the VM's virtual CPUs
 * now and then then spoils the same share of every case's batches, and the
 * median stays clean as long as fewer than half of them are hit.
 */
#ifndef SOCKDUP_BENCH_H
#define SOCKDUP_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <linux/sockdup.h>

#define BENCH_MAX_CASES		48
#define BENCH_MAX_SCALE		3

/* What a case reports. */
enum bench_unit {
	UNIT_NS_PER_OP,		/* latency of one operation */
	UNIT_THROUGHPUT,	/* wall ns per op over all threads; shown as ops/s too */
};

struct bench_case {
	const char *id;		/* key in the JSON file */
	const char *group;	/* floor, sockdup, scm_rights, pidfd, scale, ... */
	const char *label;	/* one line of the table */
	enum bench_unit unit;
	/* Shares the pool must hold (untimed) before the batch; 0 for most. */
	unsigned long pending;
	/* Threads or processes that each run the batch (1 if 0). */
	unsigned int nworkers;
	/* Operations per batch: calibrated, or --batch. */
	unsigned int n;
	/* Run @n operations, store the cost per operation in *ns; 0 or -errno. */
	int (*run)(struct bench_case *c, unsigned int n, double *ns);
	/* Filled by the runner. */
	double *samples;
	unsigned int nsamples;
	double min, median, max;
	int failed;
};

struct bench_mem {
	int done;
	unsigned long n;
	char cache[256];		/* slab cache of the module's shares */
	int cache_merged;	/* the cache is an alias of a merged cache */
	long objsize;		/* /proc/slabinfo objsize (bytes per object slot) */
	long object_size;	/* /sys/kernel/slab/<cache>/object_size */
	double cache_per_share;	/* delta(active_objs * objsize) / n */
	double slab_per_share;	/* delta(meminfo Slab) / n */
	double vmalloc_per_share; /* delta(meminfo VmallocUsed) / n */
	double percpu_per_share; /* delta(meminfo Percpu) / n */
	double kernel_per_share; /* slab + vmalloc + percpu */
	double kernel_min, kernel_max;
	unsigned int reps;
};

/* Global state shared by the cases (bench/main.c). */
struct bench_env {
	int quick;
	unsigned int rounds;		/* rounds of the main cases */
	unsigned int scale_rounds;	/* rounds of the scale cases */
	unsigned int scale_visits;	/* batches per scale case per round */
	unsigned int max_samples;	/* figures a case can keep */
	unsigned int batch;		/* fixed batch size; 0: calibrate */
	unsigned int batch_us;		/* timed length of a calibrated batch */
	unsigned int max_batch;		/* largest batch (descriptors, shares) */
	unsigned int warmup;		/* untimed ops before each batch */
	unsigned int ncpus;
	int dev;		/* /dev/sockdup write-only, as libsockdup opens it */
	int dev_events;		/* /dev/sockdup read-write: its shares post events */
	int sock;		/* the socket every case passes around */
	pid_t self;
	unsigned int ttl_ms;	/* TTL of the shares left pending */
	/* helper process for the two-process cases */
	pid_t worker;
	int worker_cmd;		/* write end: commands and cookies */
	int worker_reply;	/* read end: results */
	int worker_pidfd;
	int scm_tx;		/* AF_UNIX stream end kept by the parent */
	unsigned long scale_n[BENCH_MAX_SCALE];
	unsigned int nscale;
	unsigned long mem_n;
	struct bench_mem mem;
	/* CPU the kernel burns while the bench sleeps, per pending count */
	double idle_busy[BENCH_MAX_SCALE + 1];	/* percent of all CPUs */
	unsigned long idle_n[BENCH_MAX_SCALE + 1];
	unsigned int nidle;
	char clocksource[32];
	const char *json_path;
	const char *only;	/* --only: the cases to run, NULL: all */
};

extern struct bench_env env;

/* Commands to the worker process. */
enum worker_op {
	W_PING = 1,
	W_REDEEM,	/* followed by n cookies: redeem + close each, timed */
	W_SCM_RECV,	/* recvmsg + close n times on the worker's end, timed */
	W_EXIT,
};

struct worker_cmd {
	uint32_t op;
	uint32_t n;
};

struct worker_reply {
	int32_t err;	/* 0 or errno */
	uint32_t n;
	uint64_t ns;
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* main.c */
int worker_call(const struct worker_cmd *cmd, const void *data, size_t len,
		struct worker_reply *rep);
int write_full(int fd, const void *buf, size_t len);
int read_full(int fd, void *buf, size_t len);
void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sockdup ioctls with the errno convention of the other calls */
int sd_share(int dev, int fd, pid_t target, unsigned int ttl_ms,
	     uint8_t cookie[SOCKDUP_COOKIE_SIZE]);
int sd_redeem(int dev, const uint8_t cookie[SOCKDUP_COOKIE_SIZE]);
int sd_revoke(int dev, const uint8_t cookie[SOCKDUP_COOKIE_SIZE]);

/* cases.c: latency cases (floor, sockdup, SCM_RIGHTS, pidfd, breakdown) */
int cases_setup(void);
void cases_teardown(void);
unsigned int cases_register(struct bench_case *tab, unsigned int max);
int worker_main(int cmd, int reply, int scm_rx);
int sd_same_batch(unsigned int n, double *ns);

/* scale.c: pending-share pool, scale cases, memory, module parameters */
int scale_setup(void);
void scale_teardown(void);
int pool_set(unsigned long n);
unsigned int scale_register(struct bench_case *tab, unsigned int max);
int scale_run(struct bench_case *tab, unsigned int n);
int mem_measure(void);

/* main.c: the runner */
int case_batch(struct bench_case *c, int keep);
int case_calibrate(struct bench_case *c);

/* concurrency.c */
unsigned int conc_register(struct bench_case *tab, unsigned int max);

/* report.c */
void report_table(FILE *f, struct bench_case *tab, unsigned int n);
int report_json(FILE *f, struct bench_case *tab, unsigned int n);

#endif /* SOCKDUP_BENCH_H */
