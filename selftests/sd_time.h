/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sd_time.h - clocks, sleeps and waits of the sockdup selftests
 *
 * The suite runs on machines of very different speed: a QEMU TCG guest on
 * a busy two-core host, a debug kernel with KASAN and lockdep that is
 * several times slower still, or real hardware in a kernel tree.  No wait
 * may assume an idle machine.  Two kinds of waits:
 *
 * - Waits for an event that must happen (a child's answer, a close seen by
 *   the peer, a counter reaching a value): they return the moment it
 *   happens, so their bound only decides when to give up on a hang.  It is
 *   generous, SD_WAIT_MS, and scaled by the time factor.
 * - Timing claims (a TTL expires not before T, and the pin is gone within
 *   T + bound): the lower bounds are exact, the upper bounds and the
 *   windows a test needs to act inside ("redeem well before the TTL")
 *   are sd_ms() of an idle TCG guest's figure, and the test prints the
 *   figure it measured.
 *
 * The time factor is SOCKDUP_TIME_FACTOR from the environment: the VM
 * runner (selftests/qemu/run-vm.sh) sets it per boot from the lane (a
 * debug kernel is slower) and the host's load when the guest started.
 * Without it the factor is 1: an idle TCG guest, which is slower than any
 * real machine.  The factor is clamped to 1..100.
 */
#ifndef SOCKDUP_SD_TIME_H
#define SOCKDUP_SD_TIME_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The give-up bound for an event that must happen, at factor 1 (ms). */
#define SD_WAIT_BASE_MS	10000

/** sd_time_factor() - SOCKDUP_TIME_FACTOR (1..100), 1 when unset */
static inline int sd_time_factor(void)
{
	static int factor;
	const char *s;
	long v;

	if (factor)
		return factor;
	s = getenv("SOCKDUP_TIME_FACTOR");
	v = s ? strtol(s, NULL, 10) : 1;
	factor = v < 1 ? 1 : v > 100 ? 100 : (int)v;
	return factor;
}

/** sd_ms() - @ms of an idle TCG guest, scaled to this run's time factor */
static inline int sd_ms(int ms)
{
	return ms * sd_time_factor();
}

/* How long helpers wait for something that must happen (ms). */
#define SD_WAIT_MS	sd_ms(SD_WAIT_BASE_MS)

/**
 * sd_timed_out() - say (a TAP comment on stderr) that a wait gave up
 * @what: what it waited for, in words
 * @ms: how long it waited
 */
static inline void sd_timed_out(const char *what, int ms)
{
	fprintf(stderr, "# gave up waiting for %s after %d ms (time factor %d)\n",
		what, ms, sd_time_factor());
}

/**
 * sd_waited() - note a wait that used a good part of its bound
 * @what: what it waited for, in words
 * @waited: how long it took (ms)
 * @bound: how long it would have waited at most (ms)
 *
 * Prints a "# slow wait:" TAP comment when @waited is over an eighth of
 * @bound, so a run on a busy machine shows how close its waits came to
 * giving up (scripts/busy-check.sh collects them).
 */
static inline void sd_waited(const char *what, long long waited, int bound)
{
	if (bound > 0 && waited * 8 > bound)
		fprintf(stderr, "# slow wait: %lld of %d ms allowed for %s (time factor %d)\n",
			waited, bound, what, sd_time_factor());
}

/**
 * sd_timing() - report a measured timing claim against its bound
 * @what: the claim, in words
 * @took: what was measured (ms)
 * @bound: what the test allows (ms)
 *
 * A "# timing:" TAP comment that scripts/busy-check.sh ranks by how close
 * to its bound each claim came; the test asserts the bound itself.
 */
static inline void sd_timing(const char *what, long long took,
			     long long bound)
{
	fprintf(stderr, "# timing: %s: %lld ms of the %lld ms allowed (time factor %d)\n",
		what, took, bound, sd_time_factor());
}

/** sd_now_ms() - CLOCK_MONOTONIC in milliseconds */
static inline long long sd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/** sd_sleep_until_ms() - sleep until CLOCK_MONOTONIC reads @t_ms */
static inline void sd_sleep_until_ms(long long t_ms)
{
	struct timespec ts = {
		.tv_sec = t_ms / 1000,
		.tv_nsec = (t_ms % 1000) * 1000000,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/** sd_sleep_ms() - sleep @ms milliseconds, restarting after signals */
static inline void sd_sleep_ms(long long ms)
{
	sd_sleep_until_ms(sd_now_ms() + ms);
}

#endif /* SOCKDUP_SD_TIME_H */

/*
 * The harness gives every test a timeout fixed at build time (30 s, or what
 * TEST_F_TIMEOUT() says).  Scale them all by the time factor once every
 * test has registered: constructors of a higher priority number run later.
 * This part needs kselftest_harness.h included first.
 */
#if defined(__KSELFTEST_HARNESS_H) && defined(KSELFTEST_PRIO_TEST) && \
	!defined(SOCKDUP_SD_TIME_HARNESS)
#define SOCKDUP_SD_TIME_HARNESS
static void __attribute__((constructor(KSELFTEST_PRIO_TEST + 1000)))
sd_scale_test_timeouts(void)
{
	struct __fixture_metadata *f;
	struct __test_metadata *t;

	for (f = __fixture_list; f; f = f->next)
		for (t = f->tests; t; t = t->next)
			t->timeout *= sd_time_factor();
}
#endif
