// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup-bench: shares left pending, the scale cases and kernel memory.
 *
 * The pool is a set of shares of the bench's socket, targeted at the bench
 * itself, that nobody redeems.  pool_set(n) shares or revokes (untimed) until
 * exactly n are pending.  Sharing one socket many times is fine: each share
 * pins the open file again.
 *
 * Scale: the same op as the same-process sockdup case (SHARE + REDEEM +
 * close of one more share) while N shares are pending, in steady state: the
 * scale cases have rounds of their own, in zig-zag order (10, 1000, 100000,
 * then 100000, 1000, 10, ...) so the pool changes by the least, a few
 * batches of a case at each visit (--scale-visits), and after a
 * large change the bench sleeps a little so deferred work (RCU frees,
 * slab shrinking) is over before it measures.
 * Then the CPU the kernel burns while the bench sleeps, with no share and
 * with the largest N pending (the expiry sweeper walks the table).
 *
 * Memory: meminfo (Slab, VmallocUsed, Percpu) and the module's slab cache
 * (objects * slab_size from /sys/kernel/slab/<cache>/, /proc/slabinfo when
 * sysfs lacks it) before and after sharing N, caches shrunk and RCU given
 * time on both sides; the figure is the difference divided by N.  The cache
 * is found by name: the first one whose name contains "sockdup".
 *
 * The module's caps (max_per_user, max_total) are raised through
 * /sys/module/sockdup/parameters/ for the run and restored at exit.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define PARAM_DIR	"/sys/module/sockdup/parameters/"

static const char *const raised[] = { "max_per_user", "max_total" };
static char saved[2][32];
static int saved_ok[2];

static uint8_t (*pool)[SOCKDUP_COOKIE_SIZE];
static unsigned long pool_n, pool_cap;

static int param_read(const char *name, char *buf, size_t len)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	if (!ok)
		return -EIO;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int param_write(const char *name, const char *val)
{
	char path[128];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (fputs(val, f) < 0)
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

static void params_restore(void)
{
	unsigned int i;

	for (i = 0; i < 2; i++)
		if (saved_ok[i])
			param_write(raised[i], saved[i]);
}

int scale_setup(void)
{
	unsigned long want = env.mem_n, i;
	char buf[32];

	for (i = 0; i < env.nscale; i++)
		if (env.scale_n[i] > want)
			want = env.scale_n[i];
	pool_cap = want;
	pool = calloc(pool_cap, SOCKDUP_COOKIE_SIZE);
	if (!pool)
		return -ENOMEM;
	/* touch it now, so the memory figure does not see user pages */
	memset(pool, 0, pool_cap * SOCKDUP_COOKIE_SIZE);

	/* the pool, a batch in flight to the worker, the QUERY share, slack */
	want += 4ul * env.max_batch + 1024;
	snprintf(buf, sizeof(buf), "%lu", want);
	for (i = 0; i < 2; i++) {
		char cur[32];

		if (param_read(raised[i], cur, sizeof(cur))) {
			printf("sockdup-bench: no parameter %s; not raised\n",
			       raised[i]);
			continue;
		}
		if (strtoul(cur, NULL, 0) >= want)
			continue;
		strcpy(saved[i], cur);
		if (param_write(raised[i], buf)) {
			printf("sockdup-bench: cannot raise %s to %s (%s)\n",
			       raised[i], buf, strerror(errno));
			continue;
		}
		saved_ok[i] = 1;
	}
	atexit(params_restore);

	/* pending shares live as long as the module allows */
	env.ttl_ms = 0;
	if (!param_read("max_ttl_ms", buf, sizeof(buf))) {
		unsigned long max = strtoul(buf, NULL, 0);

		env.ttl_ms = max > UINT_MAX ? UINT_MAX : max;
	}
	return 0;
}

void scale_teardown(void)
{
	pool_set(0);
	params_restore();
	memset(saved_ok, 0, sizeof(saved_ok));
}

int pool_set(unsigned long n)
{
	if (n > pool_cap)
		return -EINVAL;
	while (pool_n < n) {
		if (sd_share(env.dev, env.sock, env.self, env.ttl_ms,
			     pool[pool_n]))
			return -errno;
		pool_n++;
	}
	while (pool_n > n) {
		if (sd_revoke(env.dev, pool[pool_n - 1]))
			return -errno;
		pool_n--;
	}
	return 0;
}

static int run_scale(struct bench_case *c, unsigned int n, double *ns)
{
	(void)c;
	return sd_same_batch(n, ns);
}

/*
 * Wrong cookies the module has to look up: a pending share's cookie with
 * its last byte changed, a different share each op.  The module finds the
 * slot the cookie names and compares the secret; a random cookie would
 * mostly name no slot and be refused before any lookup.
 */
static int run_miss(struct bench_case *c, unsigned int n, double *ns)
{
	uint8_t ck[SOCKDUP_COOKIE_SIZE];
	uint64_t t0;
	unsigned int i;

	(void)c;
	if (!pool_n)
		return -EINVAL;
	memcpy(ck, pool[0], sizeof(ck));
	ck[SOCKDUP_COOKIE_SIZE - 1] ^= 0x5a;
	errno = 0;
	if (sd_redeem(env.dev, ck) != -1 || errno != ENOENT)
		return -(errno ? errno : EIO);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		memcpy(ck, pool[i % pool_n], sizeof(ck));
		ck[SOCKDUP_COOKIE_SIZE - 1] ^= 0x5a;
		sd_redeem(env.dev, ck);
	}
	*ns = (double)(now_ns() - t0) / n;
	return 0;
}

unsigned int scale_register(struct bench_case *tab, unsigned int max)
{
	unsigned int i;

	unsigned int k = 0;

	for (i = 0; i < env.nscale && k + 2 <= max; i++) {
		char *id, *label, *id2, *label2;

		if (asprintf(&id, "sd_scale_%lu", env.scale_n[i]) < 0 ||
		    asprintf(&label, "share + redeem + close, %lu pending",
			     env.scale_n[i]) < 0 ||
		    asprintf(&id2, "miss_scale_%lu", env.scale_n[i]) < 0 ||
		    asprintf(&label2, "REDEEM wrong cookie, %lu pending",
			     env.scale_n[i]) < 0)
			return k;
		tab[k++] = (struct bench_case) {
			.id = id, .group = "scale", .label = label,
			.pending = env.scale_n[i], .run = run_scale,
		};
		tab[k++] = (struct bench_case) {
			.id = id2, .group = "scale", .label = label2,
			.pending = env.scale_n[i], .run = run_miss,
		};
	}
	return k;
}

/* Let deferred work (table resize, RCU frees) finish after a big change. */
static void pool_settle(unsigned long from, unsigned long to)
{
	unsigned long d = from > to ? from - to : to - from;

	if (d >= 10000)
		usleep(env.quick ? 50000 : 500000);
	else if (d >= 1000)
		usleep(env.quick ? 10000 : 100000);
}

/* Share of all CPUs (percent) busy over @ms while this process sleeps. */
static double idle_busy(unsigned int ms)
{
	unsigned long long a[8], b[8], busy, total;
	FILE *f;
	int i;

	for (i = 0; i < 2; i++) {
		unsigned long long *v = i ? b : a;

		f = fopen("/proc/stat", "r");
		if (!f)
			return -1;
		if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7]) != 8) {
			fclose(f);
			return -1;
		}
		fclose(f);
		if (!i)
			usleep(ms * 1000);
	}
	total = busy = 0;
	for (i = 0; i < 8; i++) {
		total += b[i] - a[i];
		if (i != 3 && i != 4)	/* idle, iowait */
			busy += b[i] - a[i];
	}
	return total ? 100.0 * busy / total : 0;
}

int scale_run(struct bench_case *tab, unsigned int n)
{
	unsigned int r, k, i, ms = env.quick ? 200 : 3000;
	int err;

	if (!n)
		return 0;
	/* one batch size per kind of op, calibrated at the smallest N */
	err = pool_set(tab[0].pending);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		for (k = 0; k < i; k++)
			if (tab[k].run == tab[i].run)
				break;
		if (k < i)
			tab[i].n = tab[k].n;
		else
			case_calibrate(&tab[i]);
	}
	for (r = 0; r <= env.scale_rounds; r++) {
		for (k = 0; k < n; k++) {
			struct bench_case *c = &tab[r % 2 ? n - 1 - k : k];
			unsigned long from = pool_n;

			err = pool_set(c->pending);
			if (err)
				return err;
			pool_settle(from, c->pending);
			for (i = 0; i < env.scale_visits; i++)
				case_batch(c, r > 0);
		}
	}

	/* background CPU: with the largest N pending, then with none */
	env.nidle = 0;
	for (k = 0; k < 2; k++) {
		unsigned long level = k ? 0 : tab[n - 1].pending;
		unsigned long from = pool_n;

		err = pool_set(level);
		if (err)
			return err;
		pool_settle(from, level);
		env.idle_n[env.nidle] = level;
		env.idle_busy[env.nidle++] = idle_busy(ms);
	}
	return 0;
}

/* ---- memory ---- */

struct mem_snap {
	long slab_kb, vmalloc_kb, percpu_kb;
	long objects, slab_size, object_size;
};

static long meminfo_kb(const char *key)
{
	char line[256];
	size_t len = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static long sysfs_long(const char *cache, const char *file)
{
	char path[PATH_MAX], buf[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/%s", cache, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

/* /proc/slabinfo: name active_objs num_objs objsize ... */
static int slabinfo_find(char *name, size_t len, long *active, long *objsize)
{
	char line[512], n[64];
	int found = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		long a, t, s;

		if (sscanf(line, "%63s %ld %ld %ld", n, &a, &t, &s) != 4)
			continue;
		if ((*name && !strcmp(n, name)) ||
		    (!*name && strstr(n, "sockdup"))) {
			snprintf(name, len, "%s", n);
			*active = a;
			*objsize = s;
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

static void cache_find(struct bench_mem *m)
{
	DIR *d;
	struct dirent *de;
	long a, s;
	char path[PATH_MAX];
	struct stat st;

	if (slabinfo_find(m->cache, sizeof(m->cache), &a, &s))
		return;
	/* merged caches appear in sysfs only, as a link to the real one */
	d = opendir("/sys/kernel/slab");
	if (!d)
		return;
	while ((de = readdir(d)))
		if (strstr(de->d_name, "sockdup")) {
			snprintf(m->cache, sizeof(m->cache), "%s", de->d_name);
			snprintf(path, sizeof(path), "/sys/kernel/slab/%s",
				 de->d_name);
			m->cache_merged = !lstat(path, &st) &&
					  S_ISLNK(st.st_mode);
			break;
		}
	closedir(d);
}

static void snap(struct bench_mem *m, struct mem_snap *s)
{
	long a = -1, size = -1;

	s->slab_kb = meminfo_kb("Slab");
	s->vmalloc_kb = meminfo_kb("VmallocUsed");
	s->percpu_kb = meminfo_kb("Percpu");
	s->objects = s->slab_size = s->object_size = -1;
	if (!*m->cache)
		return;
	s->objects = sysfs_long(m->cache, "objects");
	s->slab_size = sysfs_long(m->cache, "slab_size");
	s->object_size = sysfs_long(m->cache, "object_size");
	if ((s->objects < 0 || s->slab_size < 0) &&
	    slabinfo_find(m->cache, sizeof(m->cache), &a, &size)) {
		s->objects = a;
		s->slab_size = size;
	}
}

/* Give freed objects back: shrink every cache, let RCU callbacks run. */
static void settle(void)
{
	DIR *d = opendir("/sys/kernel/slab");
	struct dirent *de;
	char path[PATH_MAX];
	int pass;

	for (pass = 0; pass < 2; pass++) {
		usleep(env.quick ? 50000 : 300000);
		if (!d)
			continue;
		rewinddir(d);
		while ((de = readdir(d))) {
			FILE *f;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink",
				 de->d_name);
			f = fopen(path, "w");
			if (f) {
				fputs("1", f);
				fclose(f);
			}
		}
	}
	if (d)
		closedir(d);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double med(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int mem_measure(void)
{
	struct bench_mem *m = &env.mem;
	double cache[5], slab[5], vm[5], pc[5], kern[5];
	unsigned int r;
	int err;

	m->n = env.mem_n;
	m->reps = env.quick ? 1 : 3;
	if (!m->n)
		return pool_set(0);
	cache_find(m);
	for (r = 0; r < m->reps; r++) {
		struct mem_snap a, b;

		err = pool_set(0);
		if (err)
			return err;
		settle();
		snap(m, &a);
		err = pool_set(m->n);
		if (err)
			return err;
		settle();
		snap(m, &b);
		cache[r] = a.objects < 0 ? -1 :
			   (double)(b.objects * b.slab_size -
				    a.objects * a.slab_size) / m->n;
		slab[r] = (b.slab_kb - a.slab_kb) * 1024.0 / m->n;
		vm[r] = (b.vmalloc_kb - a.vmalloc_kb) * 1024.0 / m->n;
		pc[r] = (b.percpu_kb - a.percpu_kb) * 1024.0 / m->n;
		kern[r] = slab[r] + vm[r] + pc[r];
		m->objsize = b.slab_size;
		m->object_size = b.object_size;
		printf("sockdup-bench: memory rep %u: %lu shares: Slab %+ld kB, VmallocUsed %+ld kB, Percpu %+ld kB, cache %s objects %+ld\n",
		       r, m->n, b.slab_kb - a.slab_kb,
		       b.vmalloc_kb - a.vmalloc_kb, b.percpu_kb - a.percpu_kb,
		       *m->cache ? m->cache : "(not found)",
		       b.objects - a.objects);
	}
	m->cache_per_share = med(cache, m->reps);
	m->slab_per_share = med(slab, m->reps);
	m->vmalloc_per_share = med(vm, m->reps);
	m->percpu_per_share = med(pc, m->reps);
	m->kernel_min = kern[0];
	m->kernel_max = kern[0];
	for (r = 1; r < m->reps; r++) {
		if (kern[r] < m->kernel_min)
			m->kernel_min = kern[r];
		if (kern[r] > m->kernel_max)
			m->kernel_max = kern[r];
	}
	m->kernel_per_share = med(kern, m->reps);
	m->done = 1;
	return pool_set(0);
}
