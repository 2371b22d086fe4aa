// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup events: the /dev/sockdup open file through which a share was
 * made learns how the share ended.
 *
 * Every open file of /dev/sockdup opened for reading has an event queue
 * (one opened write-only has none, and its shares post nothing).  A share
 * made through the file holds a reference to the queue (never to the
 * file), and its releaser posts one record there: redeemed, expired,
 * revoked, reaped or unloaded.  read() returns the records, poll() reports them.  Closing
 * the file marks the queue closed and drops what it holds; shares still
 * pending keep the queue's memory alive until they are released, post into
 * the closed queue (a no-op) and drop their reference.
 *
 * The queue is a ring of SOCKDUP_EVQ_LEN records allocated by the first
 * SHARE through the file.  When it is about to fill, the last slot becomes
 * an overflow record that counts the events lost until the reader makes
 * room, so a reader always learns that it missed something, and where.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/poll.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "compat.h"
#include "sockdup_core.h"

/* Records a queue holds, the overflow record included: one page. */
#define SOCKDUP_EVQ_LEN		128

/* Records read() moves out of the ring per lock hold. */
#define SOCKDUP_EVQ_BATCH	8

/**
 * struct sockdup_evrec - a queued event
 * @id: the share's id; for %SOCKDUP_EVENT_OVERFLOW, the events lost.
 * @time_ns: ktime_get_ns() when the event happened.
 * @pid: the thread-group pid of the redeemer or revoker, with a
 *	reference; NULL for the other events.
 * @type: a %SOCKDUP_EVENT_* value.
 * @flags: %SOCKDUP_EVENT_* flags.
 */
struct sockdup_evrec {
	u64 id;
	u64 time_ns;
	struct pid *pid;
	u32 type;
	u32 flags;
};

/**
 * struct sockdup_evq - the event queue of one open /dev/sockdup file
 * @ref: the open file holds one reference, from open to release; every
 *	pending share made through the file holds one, from SHARE to its
 *	release.  The last sockdup_evq_put() frees the queue.
 * @lock: protects @ring, @head, @len and @closed.  A leaf lock, taken in
 *	process context, also inside RCU read-side sections (the sweeper):
 *	nothing under it sleeps.
 * @wait: readers and pollers of the file.
 * @ring: %SOCKDUP_EVQ_LEN records, allocated by the first SHARE through
 *	the file; NULL before and after close.
 * @head: index in @ring of the oldest record.
 * @len: records in @ring; also read without the lock by poll().
 * @closed: the file was released; records posted now are dropped.
 */
struct sockdup_evq {
	refcount_t ref;
	spinlock_t lock;	/* @ring, @head, @len, @closed */
	wait_queue_head_t wait;
	struct sockdup_evrec *ring;
	unsigned int head;
	unsigned int len;
	bool closed;
};

/**
 * sockdup_evq_alloc() - make the event queue of a new open file
 *
 * Context: Process context; may sleep.
 * Return: the queue with the file's reference, or NULL.
 */
struct sockdup_evq *sockdup_evq_alloc(void)
{
	struct sockdup_evq *q;

	/* The ABI is fixed (uapi/linux/sockdup.h). */
	BUILD_BUG_ON(sizeof(struct sockdup_event) != 40);

	q = kzalloc_obj(*q, GFP_KERNEL_ACCOUNT);
	if (!q)
		return NULL;
	refcount_set(&q->ref, 1);
	spin_lock_init(&q->lock);
	init_waitqueue_head(&q->wait);
	return q;
}

/**
 * sockdup_evq_prepare() - make sure a queue can take events
 * @q: the queue of the file a SHARE runs through.
 *
 * Context: Process context; may sleep.  Takes @q->lock.
 * Return: 0 or -ENOMEM.
 */
int sockdup_evq_prepare(struct sockdup_evq *q)
{
	struct sockdup_evrec *ring;

	/* Set once, under the lock; a stale NULL only costs a kfree(). */
	if (READ_ONCE(q->ring))
		return 0;
	ring = kcalloc(SOCKDUP_EVQ_LEN, sizeof(*ring), GFP_KERNEL_ACCOUNT);
	if (!ring)
		return -ENOMEM;
	spin_lock(&q->lock);
	if (!q->ring && !q->closed) {
		WRITE_ONCE(q->ring, ring);
		ring = NULL;
	}
	spin_unlock(&q->lock);
	kfree(ring);
	return 0;
}

/**
 * sockdup_evq_get() - take a reference for a share
 * @q: a queue the caller holds a reference to.
 *
 * Context: Any context.
 * Return: @q.
 */
struct sockdup_evq *sockdup_evq_get(struct sockdup_evq *q)
{
	refcount_inc(&q->ref);
	return q;
}

/**
 * sockdup_evq_put() - drop a reference
 * @q: the queue.
 *
 * The last reference goes after the file was closed, which emptied the
 * ring, so only the queue itself is freed.
 *
 * Context: Any context but hard IRQ; never sleeps.
 */
void sockdup_evq_put(struct sockdup_evq *q)
{
	if (refcount_dec_and_test(&q->ref))
		kfree(q);
}

/* Append a record; the ring has room.  Caller holds @q->lock. */
static struct sockdup_evrec *sockdup_evq_push(struct sockdup_evq *q)
{
	unsigned int tail = (q->head + q->len) % SOCKDUP_EVQ_LEN;

	lockdep_assert_held(&q->lock);
	WRITE_ONCE(q->len, q->len + 1);
	return &q->ring[tail];
}

/* The newest record, or NULL.  Caller holds @q->lock. */
static struct sockdup_evrec *sockdup_evq_tail(struct sockdup_evq *q)
{
	lockdep_assert_held(&q->lock);
	if (!q->len)
		return NULL;
	return &q->ring[(q->head + q->len - 1) % SOCKDUP_EVQ_LEN];
}

/* Move up to @max of the oldest records to @out.  Caller holds @q->lock. */
static unsigned int sockdup_evq_pop(struct sockdup_evq *q,
				    struct sockdup_evrec *out,
				    unsigned int max)
{
	unsigned int n = min(max, q->len), i;

	lockdep_assert_held(&q->lock);
	for (i = 0; i < n; i++) {
		out[i] = q->ring[q->head];
		q->head = (q->head + 1) % SOCKDUP_EVQ_LEN;
	}
	WRITE_ONCE(q->len, q->len - n);
	return n;
}

/**
 * sockdup_evq_post() - queue the event that ends a share
 * @q: the queue of the file the share was made through.
 * @id: the share's id.
 * @type: a %SOCKDUP_EVENT_* value other than %SOCKDUP_EVENT_OVERFLOW.
 * @actor: the redeemer or revoker (referenced here), or NULL.
 * @flags: %SOCKDUP_EVENT_* flags.
 *
 * Nothing is queued once the file is closed.  When the ring is about to
 * fill, the event becomes (or is counted in) an overflow record.
 *
 * Context: Process context, possibly atomic (the sweeper posts inside an
 * RCU read-side section); never sleeps.  Takes @q->lock, then wakes the
 * readers without it.
 */
void sockdup_evq_post(struct sockdup_evq *q, u64 id, u32 type,
		      struct pid *actor, u32 flags)
{
	struct sockdup_evrec *r;
	u64 now = ktime_get_ns();

	spin_lock(&q->lock);
	if (q->closed || WARN_ON_ONCE(!q->ring)) {
		spin_unlock(&q->lock);
		return;
	}
	if (q->len >= SOCKDUP_EVQ_LEN - 1) {
		r = sockdup_evq_tail(q);
		if (r->type == SOCKDUP_EVENT_OVERFLOW) {
			r->id++;
		} else {
			r = sockdup_evq_push(q);
			*r = (struct sockdup_evrec){
				.id = 1,
				.time_ns = now,
				.type = SOCKDUP_EVENT_OVERFLOW,
			};
		}
	} else {
		r = sockdup_evq_push(q);
		*r = (struct sockdup_evrec){
			.id = id,
			.time_ns = now,
			.pid = get_pid(actor),
			.type = type,
			.flags = flags,
		};
	}
	spin_unlock(&q->lock);
	/*
	 * The caller's reference keeps @q alive.  Without a sleeper, skip
	 * the wait queue's lock: the full barrier in wq_has_sleeper() pairs
	 * with the one a reader's wait_event(), or sockdup_evq_poll(), makes
	 * between joining the queue and looking at @q->len.
	 */
	if (wq_has_sleeper(&q->wait))
		wake_up_interruptible_poll(&q->wait, EPOLLIN | EPOLLRDNORM);
}

static void sockdup_evrec_put(struct sockdup_evrec *r, unsigned int n)
{
	while (n--)
		put_pid(r[n].pid);
}

/**
 * sockdup_evq_close() - the open file is released
 * @q: its queue; the file's reference is dropped.
 *
 * Queued records are discarded and later posts are dropped, so nothing
 * is delivered after close.  Pending shares are not touched.  No reader or
 * poller is left: they all held the file.
 *
 * Context: Process context (file release); takes @q->lock.
 */
void sockdup_evq_close(struct sockdup_evq *q)
{
	struct sockdup_evrec *ring;
	unsigned int head, len, i;

	spin_lock(&q->lock);
	q->closed = true;
	ring = q->ring;
	head = q->head;
	len = q->len;
	WRITE_ONCE(q->ring, NULL);
	WRITE_ONCE(q->len, 0);
	spin_unlock(&q->lock);

	for (i = 0; ring && i < len; i++)
		put_pid(ring[(head + i) % SOCKDUP_EVQ_LEN].pid);
	kfree(ring);
	sockdup_evq_put(q);
}

/* Turn @r into the user's record; pids as the reader's namespace sees them. */
static void sockdup_evrec_fill(const struct sockdup_evrec *r,
			       struct pid_namespace *ns,
			       struct sockdup_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->size = sizeof(*ev);
	ev->type = r->type;
	if (r->type == SOCKDUP_EVENT_OVERFLOW)
		ev->lost = r->id;
	else
		ev->id = r->id;
	ev->time_ns = r->time_ns;
	ev->pid = r->pid ? pid_nr_ns(r->pid, ns) : 0;
	ev->flags = r->flags;
}

/**
 * sockdup_evq_read() - read() of /dev/sockdup
 * @q: the file's queue.
 * @buf: the user's buffer.
 * @count: its size; whole records are returned, at least one.
 * @nonblock: the file is %O_NONBLOCK.
 *
 * Records leave the queue in the order they were posted; each goes to
 * exactly one reader.  A record that cannot be copied out is lost
 * (EFAULT, as for inotify).
 *
 * Context: Process context; sleeps until a record arrives unless
 * @nonblock.  Takes @q->lock.
 * Return: bytes read; -EINVAL if @count is less than one record; -EAGAIN;
 * -ERESTARTSYS; -EFAULT.
 */
ssize_t sockdup_evq_read(struct sockdup_evq *q, char __user *buf,
			 size_t count, bool nonblock)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	struct sockdup_evrec batch[SOCKDUP_EVQ_BATCH];
	const size_t rsize = sizeof(struct sockdup_event);
	size_t want = count / rsize, done = 0;
	unsigned int n, i;
	int err;

	if (!want)
		return -EINVAL;
	while (done < want) {
		spin_lock(&q->lock);
		n = sockdup_evq_pop(q, batch,
				    min_t(size_t, want - done, SOCKDUP_EVQ_BATCH));
		spin_unlock(&q->lock);
		if (!n) {
			if (done)
				break;
			if (nonblock)
				return -EAGAIN;
			err = wait_event_interruptible(q->wait,
						       READ_ONCE(q->len));
			if (err)
				return err;
			continue;
		}
		for (i = 0; i < n; i++) {
			struct sockdup_event ev;

			sockdup_evrec_fill(&batch[i], ns, &ev);
			if (copy_to_user(buf + (done + i) * rsize, &ev, rsize)) {
				sockdup_evrec_put(batch, n);
				return done + i ? (done + i) * rsize : -EFAULT;
			}
		}
		sockdup_evrec_put(batch, n);
		done += n;
	}
	return done * rsize;
}

/**
 * sockdup_evq_poll() - poll() of /dev/sockdup
 * @q: the file's queue.
 * @file: the file.
 * @wait: the poll table.
 *
 * Readable while a record is queued.  Every post wakes the waiters, so
 * edge-triggered epoll reports each new event.
 *
 * Context: Process context.
 * Return: %EPOLLIN | %EPOLLRDNORM or 0.
 */
__poll_t sockdup_evq_poll(struct sockdup_evq *q, struct file *file,
			  poll_table *wait)
{
	poll_wait(file, &q->wait, wait);
	/* Pairs with wq_has_sleeper() in sockdup_evq_post(). */
	smp_mb();
	return READ_ONCE(q->len) ? EPOLLIN | EPOLLRDNORM : 0;
}
