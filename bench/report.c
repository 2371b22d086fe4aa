// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup-bench: the table and the JSON file.
 *
 * The ratios are ratios of medians of cases measured in the same rounds.
 * Targets (SOCKDUP.md section 7):
 *   sockdup / floor <= 1.3, sockdup / SCM_RIGHTS <= 0.4,
 *   sockdup / (pidfd_open + pidfd_getfd + closes) <= 0.6,
 *   batch of 253 sockets per hand-off, per fd / 253-fd SCM_RIGHTS per fd
 *   <= 0.5 (and, for information, batches of 1, 16 and 1024 against
 *   SCM_RIGHTS with the same counts), redeem with 100,000 pending / with
 *   10 <= 1.1, kernel memory per pending share <= 96 bytes.
 * bench/summary.sh puts these rows of every kernel lane side by side.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "bench.h"

struct ratio {
	const char *id;
	char label[96];
	char num[32], den[32];	/* case ids; empty: value given */
	double value;		/* of medians; NAN when not available */
	double value_min;	/* of minimums */
	double target;		/* 0: no target, informational */
	const char *status;	/* met, MISSED, n/a, info */
	const char *note;
};

#define MAX_RATIOS	20

static struct bench_case *case_find(struct bench_case *tab, unsigned int n,
				    const char *id)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(tab[i].id, id))
			return tab[i].nsamples && !tab[i].failed ? &tab[i] : NULL;
	return NULL;
}

static double med_of(struct bench_case *tab, unsigned int n, const char *id)
{
	struct bench_case *c = case_find(tab, n, id);

	return c ? c->median : NAN;
}

static double min_of(struct bench_case *tab, unsigned int n, const char *id)
{
	struct bench_case *c = case_find(tab, n, id);

	return c ? c->min : NAN;
}

static void add(struct ratio *r, unsigned int *nr, const char *id,
		const char *label, struct bench_case *tab, unsigned int n,
		const char *num, const char *den, double target)
{
	struct ratio *x = &r[(*nr)++];
	double a = med_of(tab, n, num), b = med_of(tab, n, den);

	x->id = id;
	snprintf(x->label, sizeof(x->label), "%s", label);
	snprintf(x->num, sizeof(x->num), "%s", num);
	snprintf(x->den, sizeof(x->den), "%s", den);
	x->value = isnan(a) || isnan(b) || b <= 0 ? NAN : a / b;
	a = min_of(tab, n, num);
	b = min_of(tab, n, den);
	x->value_min = isnan(a) || isnan(b) || b <= 0 ? NAN : a / b;
	x->target = target;
	if (isnan(x->value))
		x->status = "n/a";
	else if (!target)
		x->status = "info";
	else
		x->status = x->value <= target ? "met" : "MISSED";
}

static unsigned int ratios(struct bench_case *tab, unsigned int n,
			   struct ratio *r)
{
	unsigned int nr = 0;
	const char *scm = "scm_stream";
	const char *lo = NULL, *hi = NULL;
	char id_lo[32], id_hi[32], label[96];
	struct ratio *x;

	memset(r, 0, MAX_RATIOS * sizeof(*r));
	/* compare with the cheaper AF_UNIX flavour: the harder target */
	if (med_of(tab, n, "scm_dgram") < med_of(tab, n, "scm_stream"))
		scm = "scm_dgram";

	add(r, &nr, "sd_over_floor", "sockdup same-process / floor", tab, n,
	    "sd_same", "floor", 1.3);
	snprintf(label, sizeof(label), "sockdup same-process / SCM_RIGHTS (%s)",
		 scm + 4);
	add(r, &nr, "sd_over_scm", label, tab, n, "sd_same", scm, 0.4);
	add(r, &nr, "sd_cross_over_scm_cross",
	    "sockdup two-process / SCM_RIGHTS two-process", tab, n,
	    "sd_cross", "scm_cross", 0.4);
	add(r, &nr, "sd_over_pidfd", "sockdup same-process / pidfd_open+getfd",
	    tab, n, "sd_same", "pidfd_open", 0.6);
	add(r, &nr, "sd_cross_over_pidfd",
	    "sockdup two-process / pidfd_open+getfd", tab, n, "sd_cross",
	    "pidfd_open", 0.6);
	add(r, &nr, "sd_over_pidfd_cached",
	    "sockdup same-process / pidfd_getfd cached", tab, n, "sd_same",
	    "pidfd_cached", 0);

	/*
	 * The batch row: a batch case "sd_batch_253" (253 sockets per
	 * hand-off, ns per socket) against the 253-fd SCM_RIGHTS message.
	 */
	add(r, &nr, "batch_over_scm253",
	    "batch redeem per socket / SCM_RIGHTS 253 per fd", tab, n,
	    "sd_batch_253", "scm_253", 0.5);
	if (isnan(r[nr - 1].value))
		r[nr - 1].note = "no batch case ran";
	add(r, &nr, "batch_redeem_over_scm253",
	    "batch REDEEM alone per fd / SCM_RIGHTS 253 per fd", tab, n,
	    "bd_redeem_batch", "scm_253", 0);
	add(r, &nr, "batch1_over_scm1", "batch of 1 per fd / SCM_RIGHTS 1 fd",
	    tab, n, "sd_batch_1", "scm_stream", 0);
	add(r, &nr, "batch16_over_scm16",
	    "batch of 16 per fd / SCM_RIGHTS 16 per fd", tab, n,
	    "sd_batch_16", "scm_16", 0);
	add(r, &nr, "batch1024_over_scm1024",
	    "batch of 1024 per fd / SCM_RIGHTS 1024 (5 msgs)", tab, n,
	    "sd_batch_1024", "scm_1024", 0);

	if (env.nscale >= 2) {
		snprintf(id_lo, sizeof(id_lo), "sd_scale_%lu", env.scale_n[0]);
		snprintf(id_hi, sizeof(id_hi), "sd_scale_%lu",
			 env.scale_n[env.nscale - 1]);
		lo = id_lo;
		hi = id_hi;
		snprintf(label, sizeof(label), "redeem, %lu pending / %lu pending",
			 env.scale_n[env.nscale - 1], env.scale_n[0]);
		add(r, &nr, "scale", label, tab, n, hi, lo, 1.1);
		snprintf(id_lo, sizeof(id_lo), "miss_scale_%lu", env.scale_n[0]);
		snprintf(id_hi, sizeof(id_hi), "miss_scale_%lu",
			 env.scale_n[env.nscale - 1]);
		snprintf(label, sizeof(label), "wrong cookie, %lu pending / %lu pending",
			 env.scale_n[env.nscale - 1], env.scale_n[0]);
		add(r, &nr, "scale_lookup", label, tab, n, id_hi, id_lo, 0);
	}
	add(r, &nr, "conc_2t_speedup",
	    "throughput 2 threads / 1 thread", tab, n, "conc_1t",
	    "conc_2t", 0);
	add(r, &nr, "conc_2p_speedup",
	    "throughput 2 processes / 1 thread", tab, n, "conc_1t",
	    "conc_2p", 0);

	x = &r[nr++];
	x->id = "memory";
	snprintf(x->label, sizeof(x->label),
		 "kernel memory per pending share (bytes)");
	x->target = 96;
	/*
	 * The worst rep, not the median: a table that keeps its memory
	 * (slots.c keeps its high-water mark) grows only in the first rep,
	 * and that memory stays with the pending shares.
	 */
	x->note = "worst of the reps";
	x->value = env.mem.done ? env.mem.kernel_max : NAN;
	x->value_min = env.mem.done ? env.mem.kernel_min : NAN;
	x->status = isnan(x->value) ? "n/a" :
		    x->value <= x->target ? "met" : "MISSED";
	return nr;
}

static void machine(char *cpu, size_t len)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(cpu, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10)) {
			char *p = strchr(line, ':');

			if (p) {
				p += 1 + (p[1] == ' ');
				p[strcspn(p, "\n")] = 0;
				snprintf(cpu, len, "%s", p);
			}
			break;
		}
	fclose(f);
}

void report_table(FILE *f, struct bench_case *tab, unsigned int n)
{
	struct ratio r[MAX_RATIOS];
	struct utsname u;
	char cpu[128];
	const char *group = "";
	unsigned int i, nr;

	uname(&u);
	machine(cpu, sizeof(cpu));
	fprintf(f, "\nsockdup-bench: Linux %s %s, %u CPUs (%s), clocksource %s\n",
		u.release, u.machine, env.ncpus, cpu, env.clocksource);
	fprintf(f, "ns per op, min / median / max over %u rounds (scale: %u rounds x %u batches),\n"
		"cases interleaved, one batch of each case per round, batches sized to ~%u us of timed work,\n"
		"each after %u untimed ops of the same case%s\n\n",
		env.rounds, env.scale_rounds, env.scale_visits, env.batch_us, env.warmup,
		env.quick ? " (QUICK: figures not meaningful)" : "");
	fprintf(f, "%-12s %-46s %6s %9s %9s %9s\n", "group", "case", "batch", "min", "median", "max");
	for (i = 0; i < n; i++) {
		struct bench_case *c = &tab[i];

		if (strcmp(group, c->group))
			fputc('\n', f);
		group = c->group;
		if (c->failed || !c->nsamples) {
			fprintf(f, "%-12s %-46s %36s\n", c->group, c->label, "FAILED");
			continue;
		}
		fprintf(f, "%-12s %-46s %6u %9.0f %9.0f %9.0f", c->group, c->label,
			c->n, c->min, c->median, c->max);
		if (c->unit == UNIT_THROUGHPUT)
			fprintf(f, "  (%.0f ops/s; best batch %.0f)",
				1e9 / c->median, 1e9 / c->min);
		fputc('\n', f);
	}
	if (env.mem.done) {
		struct bench_mem *m = &env.mem;

		fprintf(f, "\nmemory, %lu pending shares (median of %u):\n", m->n, m->reps);
		fprintf(f, "  slab cache %s%s: objsize %ld B (object_size %ld B); active objects x objsize: %.1f B/share\n",
			*m->cache ? m->cache : "(none found)",
			m->cache_merged ? " (merged)" : "", m->objsize,
			m->object_size, m->cache_per_share);
		fprintf(f, "  meminfo delta per share: Slab %.1f B + VmallocUsed %.1f B + Percpu %.1f B = %.1f B (min %.1f, max %.1f)\n",
			m->slab_per_share, m->vmalloc_per_share,
			m->percpu_per_share, m->kernel_per_share,
			m->kernel_min, m->kernel_max);
		if (m->cache_per_share >= 0)
			fprintf(f, "  of which outside the share cache (cookie table buckets, slab slack, ...): %.1f B/share\n",
				m->kernel_per_share - m->cache_per_share);
	}

	if (env.nidle)
		fprintf(f, "\nbusy CPU while the bench sleeps (kernel background work, %% of all CPUs):");
	for (i = 0; i < env.nidle; i++)
		fprintf(f, "%s %lu pending: %.1f%%", i ? "," : "", env.idle_n[i],
			env.idle_busy[i]);
	if (env.nidle)
		fputc('\n', f);

	nr = ratios(tab, n, r);
	fprintf(f, "\n%-56s %8s %8s %8s  %s\n", "ratio", "medians", "(mins)", "target",
		"status (on medians)");
	for (i = 0; i < nr; i++) {
		char v[16], vm[16], t[16];

		snprintf(v, sizeof(v), isnan(r[i].value) ? "-" : "%.3f", r[i].value);
		snprintf(vm, sizeof(vm), isnan(r[i].value_min) ? "-" : "(%.3f)",
			 r[i].value_min);
		if (r[i].target)
			snprintf(t, sizeof(t), "<= %g", r[i].target);
		else
			snprintf(t, sizeof(t), "-");
		fprintf(f, "%-56s %8s %8s %8s  %s%s%s%s\n", r[i].label, v, vm, t,
			r[i].status, r[i].note ? " (" : "",
			r[i].note ? r[i].note : "", r[i].note ? ")" : "");
	}
	fputc('\n', f);
}

static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void jnum(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.3f", v);
}

int report_json(FILE *f, struct bench_case *tab, unsigned int n)
{
	struct ratio r[MAX_RATIOS];
	struct utsname u;
	char cpu[128];
	unsigned int i, j, nr;
	time_t now = time(NULL);
	struct bench_mem *m = &env.mem;

	uname(&u);
	machine(cpu, sizeof(cpu));
	fprintf(f, "{\n  \"tool\": \"sockdup-bench\",\n  \"format\": 1,\n");
	fprintf(f, "  \"kernel\": ");
	jstr(f, u.release);
	fprintf(f, ",\n  \"machine\": ");
	jstr(f, u.machine);
	fprintf(f, ",\n  \"cpu\": ");
	jstr(f, cpu);
	fprintf(f, ",\n  \"ncpus\": %u,\n  \"time\": %lld,\n", env.ncpus,
		(long long)now);
	fprintf(f, "  \"clocksource\": ");
	jstr(f, env.clocksource);
	fprintf(f, ",\n  \"quick\": %s,\n  \"rounds\": %u,\n  \"scale_rounds\": %u,\n"
		"  \"scale_visits\": %u,\n  \"batch_us\": %u,\n  \"fixed_batch\": %u,\n"
		"  \"warmup_ops\": %u,\n",
		env.quick ? "true" : "false", env.rounds, env.scale_rounds,
		env.scale_visits, env.batch_us, env.batch, env.warmup);
	fprintf(f, "  \"unit\": \"ns/op\",\n  \"cases\": [\n");
	for (i = 0; i < n; i++) {
		struct bench_case *c = &tab[i];
		int ok = !c->failed && c->nsamples;

		fprintf(f, "    {\"id\": ");
		jstr(f, c->id);
		fprintf(f, ", \"group\": ");
		jstr(f, c->group);
		fprintf(f, ", \"label\": ");
		jstr(f, c->label);
		fprintf(f, ", \"ok\": %s", ok ? "true" : "false");
		if (c->pending)
			fprintf(f, ", \"pending\": %lu", c->pending);
		fprintf(f, ", \"batch\": %u", c->n);
		if (c->nworkers > 1)
			fprintf(f, ", \"workers\": %u", c->nworkers);
		fprintf(f, ", \"min\": ");
		jnum(f, ok ? c->min : NAN);
		fprintf(f, ", \"median\": ");
		jnum(f, ok ? c->median : NAN);
		fprintf(f, ", \"max\": ");
		jnum(f, ok ? c->max : NAN);
		if (c->unit == UNIT_THROUGHPUT) {
			fprintf(f, ", \"ops_per_sec\": ");
			jnum(f, ok ? 1e9 / c->median : NAN);
		}
		fprintf(f, ", \"samples\": [");
		for (j = 0; j < c->nsamples; j++) {
			if (j)
				fputs(", ", f);
			jnum(f, c->samples[j]);
		}
		fprintf(f, "]}%s\n", i + 1 < n ? "," : "");
	}
	fprintf(f, "  ],\n  \"memory\": ");
	if (m->done) {
		fprintf(f, "{\"n\": %lu, \"reps\": %u, \"cache\": ", m->n, m->reps);
		jstr(f, m->cache);
		fprintf(f, ", \"cache_merged\": %s, \"objsize\": %ld, \"object_size\": %ld",
			m->cache_merged ? "true" : "false", m->objsize,
			m->object_size);
		fprintf(f, ", \"cache_bytes_per_share\": ");
		jnum(f, m->cache_per_share);
		fprintf(f, ", \"slab_bytes_per_share\": ");
		jnum(f, m->slab_per_share);
		fprintf(f, ", \"vmalloc_bytes_per_share\": ");
		jnum(f, m->vmalloc_per_share);
		fprintf(f, ", \"percpu_bytes_per_share\": ");
		jnum(f, m->percpu_per_share);
		fprintf(f, ", \"kernel_bytes_per_share\": ");
		jnum(f, m->kernel_per_share);
		fprintf(f, ", \"kernel_bytes_per_share_min\": ");
		jnum(f, m->kernel_min);
		fprintf(f, ", \"kernel_bytes_per_share_max\": ");
		jnum(f, m->kernel_max);
		fprintf(f, "}");
	} else {
		fprintf(f, "null");
	}
	fprintf(f, ",\n  \"background_cpu_percent\": [");
	for (i = 0; i < env.nidle; i++) {
		fprintf(f, "%s{\"pending\": %lu, \"busy\": ", i ? ", " : "",
			env.idle_n[i]);
		jnum(f, env.idle_busy[i]);
		fputc('}', f);
	}
	fprintf(f, "],\n  \"ratios\": [\n");
	nr = ratios(tab, n, r);
	for (i = 0; i < nr; i++) {
		fprintf(f, "    {\"id\": ");
		jstr(f, r[i].id);
		fprintf(f, ", \"label\": ");
		jstr(f, r[i].label);
		if (*r[i].num) {
			fprintf(f, ", \"num\": ");
			jstr(f, r[i].num);
			fprintf(f, ", \"den\": ");
			jstr(f, r[i].den);
		}
		fprintf(f, ", \"value\": ");
		jnum(f, r[i].value);
		fprintf(f, ", \"value_of_mins\": ");
		jnum(f, r[i].value_min);
		fprintf(f, ", \"target\": ");
		jnum(f, r[i].target ? r[i].target : NAN);
		fprintf(f, ", \"status\": ");
		jstr(f, r[i].status);
		if (r[i].note) {
			fprintf(f, ", \"note\": ");
			jstr(f, r[i].note);
		}
		fprintf(f, "}%s\n", i + 1 < nr ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	return ferror(f) ? -EIO : 0;
}
