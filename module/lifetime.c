// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup lifetime: the sweeper that releases expired shares and shares
 * whose target process has exited.
 *
 * Expiry is exact without the sweeper: every lookup (REDEEM, REVOKE,
 * QUERY) treats a share past its TTL as gone and releases it.  The sweeper
 * drops the pins of shares nobody looks up: one delayed work walks the
 * cookie table and runs again at the earliest expiry it saw, but at most
 * sweep_ms later, for as long as shares are pending; a SHARE that expires
 * before the next run pulls the run earlier.
 *
 * Reaping bound: a share whose target has exited is released by the first
 * sweep that visits it after the exit.  Sweeps start at most sweep_ms
 * apart, so the pin is dropped within 2 * sweep_ms of the exit (one period
 * for a sweep that had already passed the share, one for the walk and
 * scheduling latency); 2 seconds with the default sweep_ms.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "sockdup_core.h"

/**
 * struct sockdup_sweep_state - one run of the sweeper
 * @start: ktime_get_ns() when the run started; expiry is judged against it.
 * @next: when the next run is due: the earliest expiry seen, at most one
 *	period after @start.
 */
struct sockdup_sweep_state {
	u64 start;
	u64 next;
};

static void sockdup_sweep(struct work_struct *work);
static DECLARE_DELAYED_WORK(sockdup_sweep_work, sockdup_sweep);

/*
 * Protects sockdup_sweep_armed and sockdup_sweep_at, and orders the
 * mod_delayed_work() calls that change the sweeper's timer, so a later
 * sweep never overrides an earlier one that is still needed.  SHARE reads
 * both without the lock first: a stale value only sends it to the lock.
 */
static DEFINE_SPINLOCK(sockdup_sweep_lock);
/* The sweeper's timer is set to fire at about sockdup_sweep_at (ktime ns). */
static bool sockdup_sweep_armed;
static u64 sockdup_sweep_at;
/* Set at unload: nothing may arm the sweeper any more. */
static bool sockdup_sweep_stopped;

/**
 * sockdup_pid_alive() - whether a thread-group pid still names a live
 *	process
 * @pid: a thread-group &struct pid.
 *
 * A process is gone once no task is attached as its thread-group leader,
 * or sockdup_group_exited() says so.  A process that has only exec'd is
 * alive: the thread-group pid moves to the exec'ing thread.
 *
 * Context: Any context; takes the RCU read lock.
 * Return: true while the process has not exited.
 */
bool sockdup_pid_alive(struct pid *pid)
{
	struct task_struct *task;
	bool alive = false;

	rcu_read_lock();
	task = pid_task(pid, PIDTYPE_TGID);
	if (task)
		alive = !sockdup_group_exited(task);
	rcu_read_unlock();
	return alive;
}

/* Arm the sweeper for @at (ktime ns) unless it runs earlier already. */
static void sockdup_sweep_arm(u64 at, u64 now)
{
	unsigned long delay = 1;

	/* Rounded up, so the sweep never runs before @at. */
	if (at > now)
		delay = nsecs_to_jiffies(at - now) + 1;

	spin_lock(&sockdup_sweep_lock);
	if (sockdup_sweep_stopped) {
		spin_unlock(&sockdup_sweep_lock);
		return;
	}
	if (!sockdup_sweep_armed || at < sockdup_sweep_at) {
		WRITE_ONCE(sockdup_sweep_armed, true);
		WRITE_ONCE(sockdup_sweep_at, at);
		mod_delayed_work(sockdup_wq, &sockdup_sweep_work, delay);
	}
	spin_unlock(&sockdup_sweep_lock);
}

static u64 sockdup_sweep_period_ns(void)
{
	return (u64)READ_ONCE(sockdup_sweep_ms) * NSEC_PER_MSEC;
}

/**
 * sockdup_sweep_kick() - make sure the sweeper runs by a share's expiry
 * @expires_ns: expiry time of a share just inserted (ktime_get_ns()).
 * @now: ktime_get_ns() of the caller.
 *
 * An armed sweeper re-arms itself at most sweep_ms later for as long as
 * shares are pending, so only a sweeper that is idle or set to run after
 * @expires_ns needs to be moved.
 *
 * Context: Process context.  Lock-free when the sweeper already runs early
 * enough (the common case), otherwise takes sockdup_sweep_lock.
 */
void sockdup_sweep_kick(u64 expires_ns, u64 now)
{
	if (READ_ONCE(sockdup_sweep_armed) &&
	    READ_ONCE(sockdup_sweep_at) <= expires_ns)
		return;
	sockdup_sweep_arm(min(expires_ns, now + sockdup_sweep_period_ns()),
			  now);
}

/**
 * sockdup_sweep_period_changed() - apply a new sweep_ms at once
 *
 * Pulls an armed sweep in to one new period from now if it was set later.
 *
 * Context: Process context (module parameter write, under the parameter
 * lock); takes sockdup_sweep_lock.
 */
void sockdup_sweep_period_changed(void)
{
	u64 now;

	/* Nothing to sweep, or the module is still loading. */
	if (!atomic_read(&sockdup_pending))
		return;
	now = ktime_get_ns();
	sockdup_sweep_arm(now + sockdup_sweep_period_ns(), now);
}

/*
 * Release @e if it expired or its target exited; otherwise note its expiry
 * in *@arg, the next run's time (a sockdup_table_walk() visitor).
 */
static int sockdup_sweep_one(struct sockdup_entry *e, void *arg)
{
	struct sockdup_sweep_state *st = arg;

	/*
	 * A CLAIMED share belongs to the REDEEM holding it; it is looked at
	 * again by the next sweep if that REDEEM fails.
	 */
	if (atomic_read(&e->state) != SOCKDUP_PENDING)
		return 0;
	/*
	 * sockdup_entry_release() makes this sweep the releaser only if its
	 * PENDING -> DEAD cmpxchg wins; if a REDEEM, REVOKE or lookup got
	 * there first, nothing happens here.
	 */
	if (sockdup_entry_expired(e, st->start))
		sockdup_entry_release(e, SOCKDUP_PENDING, SOCKDUP_EXPIRED);
	else if (!sockdup_pid_alive(e->target))
		sockdup_entry_release(e, SOCKDUP_PENDING, SOCKDUP_REAPED);
	else
		st->next = min(st->next, e->expires_ns);
	return 0;
}

static void sockdup_sweep(struct work_struct *work)
{
	struct sockdup_sweep_state st = { .start = ktime_get_ns() };

	st.next = st.start + sockdup_sweep_period_ns();
	/* Shares inserted from now on must arm the sweeper again. */
	spin_lock(&sockdup_sweep_lock);
	WRITE_ONCE(sockdup_sweep_armed, false);
	spin_unlock(&sockdup_sweep_lock);

	sockdup_table_walk(sockdup_sweep_one, &st);
	sockdup_quota_gc();

	/* Run again while shares are pending; SHAREs re-arm it otherwise. */
	if (atomic_read(&sockdup_pending))
		sockdup_sweep_arm(st.next, ktime_get_ns());
}

/**
 * sockdup_sweep_stop() - stop the sweeper for good
 *
 * No ioctl can run any more at unload, but a write to the sweep_ms
 * parameter still can until the module's sysfs files are gone: the flag
 * keeps it, and the sweeper itself, from arming the work again.
 *
 * Context: Process context, module exit; sleeps.
 */
void sockdup_sweep_stop(void)
{
	spin_lock(&sockdup_sweep_lock);
	sockdup_sweep_stopped = true;
	spin_unlock(&sockdup_sweep_lock);
	cancel_delayed_work_sync(&sockdup_sweep_work);
}
