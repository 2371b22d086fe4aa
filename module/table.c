// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup cookie table: pending shares keyed by their 128-bit cookie, the
 * lifetime of a share object and its one release.
 *
 * The table is an rhashtable: lookups run under RCU only, inserts and
 * removals take the lock of one bucket, so unrelated SHAREs and REDEEMs
 * never contend on a common lock, and it resizes itself to stay O(1).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/net.h>
#include <linux/pid.h>
#include <linux/rhashtable.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/wait_bit.h>
#include <net/sock.h>

#include "sockdup_core.h"

/* Shares in the table; see struct sockdup_entry for the locking. */
struct rhashtable sockdup_table;

/* Allocator of struct sockdup_entry; charged to the sharer's memcg. */
static struct kmem_cache *sockdup_entry_cache;

/* Source of &sockdup_entry.id; ids start at 1 and are never reused. */
static atomic64_t sockdup_next_id = ATOMIC64_INIT(0);

struct sockdup_counters __percpu *sockdup_counters;

/*
 * The table grows and shrinks with the number of pending shares, but never
 * below 1024 buckets (8 KiB): a workload that shares and redeems a few
 * hundred sockets at a time then never pays for a resize.  Nor above 2^17
 * buckets: the bucket array is one allocation rounded up to a power of two,
 * so the next doubling (at 98,304 shares) would cost 4 MiB, 42 bytes per
 * share at 100,000.  At the cap the load factor is at most 2 (262,144
 * shares, the largest max_total), so lookups stay O(1).
 */
static const struct rhashtable_params sockdup_table_params = {
	.key_len		= SOCKDUP_COOKIE_SIZE,
	.key_offset		= offsetof(struct sockdup_entry, cookie),
	.head_offset		= offsetof(struct sockdup_entry, node),
	.nelem_hint		= 768,
	.min_size		= 1024,
	.max_size		= SOCKDUP_TABLE_MAX_BUCKETS,
	.automatic_shrinking	= true,
};

/**
 * sockdup_table_init() - create the cookie table, the entry cache and the
 *	counters
 *
 * Context: Process context, module init.
 * Return: 0 or -ENOMEM.
 */
int sockdup_table_init(void)
{
	int err;

	/* The memory budget of a pending share (besides the socket). */
	BUILD_BUG_ON(IS_ENABLED(CONFIG_X86_64) &&
		     sizeof(struct sockdup_entry) > 128);

	sockdup_counters = alloc_percpu(struct sockdup_counters);
	if (!sockdup_counters)
		return -ENOMEM;

	sockdup_entry_cache = KMEM_CACHE(sockdup_entry, SLAB_ACCOUNT);
	if (!sockdup_entry_cache) {
		err = -ENOMEM;
		goto out_free_counters;
	}

	err = rhashtable_init(&sockdup_table, &sockdup_table_params);
	if (err)
		goto out_destroy_cache;
	return 0;

out_destroy_cache:
	kmem_cache_destroy(sockdup_entry_cache);
out_free_counters:
	free_percpu(sockdup_counters);
	return err;
}

/* The event each release reason posts. */
static const u32 sockdup_event_type[] = {
	[SOCKDUP_REDEEMED]	= SOCKDUP_EVENT_REDEEMED,
	[SOCKDUP_EXPIRED]	= SOCKDUP_EVENT_EXPIRED,
	[SOCKDUP_REVOKED]	= SOCKDUP_EVENT_REVOKED,
	[SOCKDUP_REAPED]	= SOCKDUP_EVENT_REAPED,
	[SOCKDUP_UNLOADED]	= SOCKDUP_EVENT_UNLOADED,
};

/*
 * Tell the file @e was shared through how it ended, and drop @e's
 * reference to its queue.  Only the releaser calls this, once.  REDEEM and
 * REVOKE release in the caller's context, so current is the redeemer or
 * the revoker.
 */
static void sockdup_entry_notify(struct sockdup_entry *e,
				 enum sockdup_reason why)
{
	struct sockdup_evq *evq = e->evq;
	struct pid *actor = NULL;
	u32 flags = 0;

	if (why == SOCKDUP_REDEEMED || why == SOCKDUP_REVOKED)
		actor = task_tgid(current);
	if (why == SOCKDUP_REVOKED && actor == e->target)
		flags |= SOCKDUP_EVENT_DECLINED;
	sockdup_evq_post(evq, e->id, sockdup_event_type[why], actor, flags);
	sockdup_evq_put(evq);
}

/*
 * Called by rhashtable_free_and_destroy() for every share still pending at
 * unload.  No ioctl can run (an open /dev/sockdup holds the module) and
 * the sweeper is stopped, so no share can be CLAIMED: each one is PENDING
 * and this is its releaser.  The table is being torn down, so the entry is
 * not unlinked from it one by one.
 */
static void sockdup_entry_unload(void *ptr, void *arg)
{
	struct sockdup_entry *e = ptr;

	if (WARN_ON_ONCE(atomic_cmpxchg(&e->state, SOCKDUP_PENDING,
					SOCKDUP_DEAD) != SOCKDUP_PENDING))
		return;
	sockdup_quota_uncharge(e->charge_uid);
	sockdup_entry_notify(e, SOCKDUP_UNLOADED);
	sockdup_entry_put(e);
}

/**
 * sockdup_table_destroy() - release every pending share and free the table
 *
 * Drops every pin, so the peers of the pinned sockets see EOF once no
 * other descriptor holds them.
 *
 * Context: Process context, module exit, after the device is gone and the
 * sweeper is stopped.  Sleeps.
 */
void sockdup_table_destroy(void)
{
	rhashtable_free_and_destroy(&sockdup_table, sockdup_entry_unload, NULL);
	/* Wait for sockdup_entry_free_rcu() of every entry. */
	rcu_barrier();
	kmem_cache_destroy(sockdup_entry_cache);
	free_percpu(sockdup_counters);
}

/**
 * sockdup_entry_alloc() - allocate a share with a fresh id
 *
 * The entry starts PENDING with one reference (the table's); the caller
 * fills it in and either inserts it or frees it with
 * sockdup_entry_free_unpublished().
 *
 * Context: Process context; may sleep.
 * Return: the entry or NULL.
 */
struct sockdup_entry *sockdup_entry_alloc(void)
{
	struct sockdup_entry *e;

	e = kmem_cache_zalloc(sockdup_entry_cache, GFP_KERNEL);
	if (!e)
		return NULL;
	atomic_set(&e->state, SOCKDUP_PENDING);
	refcount_set(&e->ref, 1);
	e->id = atomic64_inc_return(&sockdup_next_id);
	return e;
}

/**
 * sockdup_entry_free_unpublished() - free a share that never entered the
 *	table
 * @e: the entry; the caller has dropped what it pinned.
 *
 * Context: Any context.
 */
void sockdup_entry_free_unpublished(struct sockdup_entry *e)
{
	kmem_cache_free(sockdup_entry_cache, e);
}

/**
 * sockdup_entry_insert() - publish a share under its cookie
 * @e: a filled-in entry whose cookie has just been drawn.
 *
 * Once this returns 0 the share is visible to every lookup and the table
 * owns the caller's reference.
 *
 * Context: Any context; takes one bucket lock of the table.
 * Return: 0; -EEXIST if the cookie is taken (draw another one); -ENOSPC
 * if the table is at SOCKDUP_TABLE_MAX_SHARES; -ENOMEM.
 */
int sockdup_entry_insert(struct sockdup_entry *e)
{
	int err;

	/*
	 * Counted before the share is visible: a REDEEM on another CPU may
	 * release it the moment it is inserted, and STATS, which sums the
	 * releases before the shares, must never see more releases than
	 * shares.  A failed insert takes the count back.
	 */
	this_cpu_inc(sockdup_counters->shared);
	err = rhashtable_lookup_insert_fast(&sockdup_table, &e->node,
					    sockdup_table_params);
	if (!err)
		return 0;
	this_cpu_dec(sockdup_counters->shared);
	if (err == -EEXIST)
		return err;
	/* Full: only when max_total is at its largest and releases lag. */
	if (err == -E2BIG)
		return -ENOSPC;
	return -ENOMEM;
}

/**
 * sockdup_entry_lookup() - find a share by cookie and take a reference
 * @cookie: %SOCKDUP_COOKIE_SIZE bytes.
 *
 * The share may be in any state by the time the caller looks at it.
 *
 * Context: Any context; takes the RCU read lock, no other lock.
 * Return: the entry with a temporary reference the caller drops with
 * sockdup_entry_put(), or NULL if there is no such share.
 */
struct sockdup_entry *sockdup_entry_lookup(const u8 *cookie)
{
	struct sockdup_entry *e;

	rcu_read_lock();
	e = rhashtable_lookup(&sockdup_table, cookie, sockdup_table_params);
	/* A zero count means the entry is on its way out: not found. */
	if (e && !refcount_inc_not_zero(&e->ref))
		e = NULL;
	rcu_read_unlock();
	return e;
}

static void sockdup_entry_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(sockdup_entry_cache,
			container_of(head, struct sockdup_entry, rcu));
}

/**
 * sockdup_entry_put() - drop a reference to a share
 * @e: the entry.
 *
 * The last reference drops the pin on the socket file and both pids, and
 * frees the memory after an RCU grace period.  It can only go after the
 * share was released (the table's reference is the last one otherwise).
 *
 * Context: Any context but hard IRQ, also under rcu_read_lock(): fput()
 * defers the real close to task work or a workqueue.
 */
void sockdup_entry_put(struct sockdup_entry *e)
{
	if (!refcount_dec_and_test(&e->ref))
		return;
	fput(e->file);
	put_pid(e->target);
	put_pid(e->sharer);
	call_rcu(&e->rcu, sockdup_entry_free_rcu);
}

/**
 * sockdup_entry_release() - release a share, if this caller wins
 * @e: the entry; the caller holds a reference or is in an RCU read-side
 *	section that found it in the table.
 * @from: the state the caller expects (%SOCKDUP_PENDING, or
 *	%SOCKDUP_CLAIMED for the REDEEM that holds the claim).
 * @why: what to count the release as.
 *
 * The atomic_cmpxchg() from @from to %SOCKDUP_DEAD is the single point that
 * decides the releaser: DEAD is final and the cmpxchg succeeds for exactly
 * one caller, so the unlink, the uncharge, the counter and the put of the
 * table's reference below happen exactly once per share.
 *
 * Context: Any context but hard IRQ; takes one bucket lock of the table.
 * Return: true if this call released the share, false if it was no longer
 * in state @from.
 */
bool sockdup_entry_release(struct sockdup_entry *e, enum sockdup_state from,
			   enum sockdup_reason why)
{
	if (atomic_cmpxchg(&e->state, from, SOCKDUP_DEAD) != from)
		return false;

	/* Only the winner unlinks, so this cannot fail. */
	WARN_ON_ONCE(rhashtable_remove_fast(&sockdup_table, &e->node,
					    sockdup_table_params));
	sockdup_quota_uncharge(e->charge_uid);
	this_cpu_inc(sockdup_counters->released[why]);
	sockdup_entry_notify(e, why);
	/* Waiters for a claim (only if @from was CLAIMED) recheck the state. */
	if (from == SOCKDUP_CLAIMED)
		wake_up_var(&e->state);
	sockdup_entry_put(e);
	return true;
}

/**
 * sockdup_entry_expired() - whether a share's TTL has run out
 * @e: the entry.
 * @now: ktime_get_ns() of the caller.
 *
 * Context: Any context.
 * Return: true once @now has reached the expiry time.
 */
bool sockdup_entry_expired(const struct sockdup_entry *e, u64 now)
{
	return now >= e->expires_ns;
}

/**
 * sockdup_entry_gone() - whether a looked-up share is past use
 * @e: the entry, referenced by the caller.
 * @now: ktime_get_ns() of the caller.
 *
 * A share whose TTL has run out is released as expired here (by whoever
 * wins its PENDING -> DEAD cmpxchg), so every lookup past the TTL sees
 * ENOENT whether or not the sweeper has run.
 *
 * Context: Process context; may take one bucket lock of the table.
 * Return: true if the share is expired or already released (ENOENT).
 */
bool sockdup_entry_gone(struct sockdup_entry *e, u64 now)
{
	if (sockdup_entry_expired(e, now)) {
		sockdup_entry_release(e, SOCKDUP_PENDING, SOCKDUP_EXPIRED);
		return true;
	}
	return atomic_read(&e->state) == SOCKDUP_DEAD;
}

/**
 * sockdup_entry_wait_claim() - wait until a REDEEM in progress resolves
 * @e: the entry, referenced by the caller.
 *
 * The claimant either installs the descriptor (the share becomes DEAD) or
 * fails and puts the share back to PENDING; both wake the waiters (the
 * successful cmpxchg before wake_up_var() is a full barrier, as
 * wake_up_var() requires).  The claimant never sleeps for long: it only
 * runs receive_fd().
 *
 * Context: Process context; sleeps.  No locks held.
 * Return: 0 once the share is no longer CLAIMED, -ERESTARTSYS on a fatal
 * signal (the caller is being killed: user space never sees it).
 */
int sockdup_entry_wait_claim(struct sockdup_entry *e)
{
	return wait_var_event_killable(&e->state,
				       atomic_read(&e->state) != SOCKDUP_CLAIMED);
}

/* References taken under RCU per step of sockdup_table_walk(). */
#define SOCKDUP_WALK_CHUNK	32

static s32 sockdup_pid_vnr_alive(struct pid *pid)
{
	return sockdup_pid_alive(pid) ? pid_vnr(pid) : 0;
}

/* How kernel_getsockname() and kernel_getpeername() read an address. */
typedef int (*sockdup_getname_t)(struct socket *sock, struct sockaddr *addr);

/* Copy a socket address into a share_info field; 0 if there is none. */
static u32 sockdup_addr_copy(u8 *dst, sockdup_getname_t get,
			     struct socket *sock)
{
	struct sockaddr_storage ss;
	int len;

	BUILD_BUG_ON(sizeof(ss) != SOCKDUP_ADDR_SIZE);
	memset(&ss, 0, sizeof(ss));
	len = get(sock, (struct sockaddr *)&ss);
	/* An unbound or unconnected socket reports an error or no address. */
	if (len <= 0 || len > sizeof(ss))
		return 0;
	memcpy(dst, &ss, len);
	return len;
}

/**
 * sockdup_entry_fill_info() - describe a share for QUERY and LIST
 * @e: the entry, referenced by the caller (so the socket is pinned).
 * @now: ktime_get_ns() of the caller.
 * @info: filled in completely.
 *
 * PIDs are given in the caller's pid namespace, the uid in the caller's
 * user namespace.  The addresses are what getsockname() and getpeername()
 * would report on the socket.
 *
 * Context: Process context, no lock held: reading a socket's addresses
 * may take the socket lock.
 */
void sockdup_entry_fill_info(const struct sockdup_entry *e, u64 now,
			     struct sockdup_share_info *info)
{
	struct socket *sock = sock_from_file(e->file);
	struct sock *sk = sock ? READ_ONCE(sock->sk) : NULL;

	might_sleep();
	memset(info, 0, sizeof(*info));
	info->id = e->id;
	info->sock_ino = file_inode(e->file)->i_ino;
	/* Unlocked reads: IPV6_ADDRFORM may change the family meanwhile. */
	if (sk) {
		info->family = READ_ONCE(sk->sk_family);
		info->type = READ_ONCE(sk->sk_type);
		info->protocol = READ_ONCE(sk->sk_protocol);
		info->local_addr_len = sockdup_addr_copy(info->local_addr,
							 kernel_getsockname,
							 sock);
		info->peer_addr_len = sockdup_addr_copy(info->peer_addr,
							kernel_getpeername,
							sock);
	}
	info->sharer_pid = sockdup_pid_vnr_alive(e->sharer);
	info->target_pid = sockdup_pid_vnr_alive(e->target);
	info->sharer_uid = from_kuid_munged(current_user_ns(), e->sharer_uid);
	info->age_ms = now > e->created_ns ?
		       div_u64(now - e->created_ns, NSEC_PER_MSEC) : 0;
	/* Rounded up: 0 only once the share has expired. */
	info->ttl_left_ms = now < e->expires_ns ?
			    DIV_ROUND_UP_ULL(e->expires_ns - now, NSEC_PER_MSEC) : 0;
	info->nr_fds = 1;
}

/**
 * sockdup_entry_visible() - whether a user without CAP_SYS_ADMIN sees a share
 * @e: the entry, referenced by the caller.
 * @uid: the caller's real uid.
 *
 * A user sees the shares it made, those charged to it (made inside a user
 * namespace it owns), and those whose target process runs as it now.
 *
 * Context: Any context; takes the RCU read lock.
 * Return: true if LIST shows @e to @uid.
 */
bool sockdup_entry_visible(const struct sockdup_entry *e, kuid_t uid)
{
	struct task_struct *task;
	bool ret = false;

	if (uid_eq(e->sharer_uid, uid) || uid_eq(e->charge_uid, uid))
		return true;
	rcu_read_lock();
	task = pid_task(e->target, PIDTYPE_TGID);
	if (task)
		ret = uid_eq(__task_cred(task)->uid, uid);
	rcu_read_unlock();
	return ret;
}

/**
 * sockdup_table_walk() - visit every share in the table, a chunk at a time
 * @visit: called for each share with a reference held and no lock held, so
 *	it may sleep, fault and release the share.
 * @arg: passed to @visit.
 * @strict: stop with -EAGAIN when the table is resized under the walk (the
 *	walk then starts over, so a share could be visited twice) rather
 *	than going on.
 *
 * The RCU read-side section lasts only while references to at most
 * %SOCKDUP_WALK_CHUNK shares are taken; the visits run after it, and the
 * walk yields the CPU between chunks, so walking a full table neither
 * stalls RCU nor hogs a CPU.  Shares inserted or released during the walk
 * may or may not be visited.
 *
 * Context: Process context; sleeps.
 * Return: 0 after the last share, or the first non-zero value of @visit,
 * or -EAGAIN (only if @strict).
 */
int sockdup_table_walk(sockdup_visit_t visit, void *arg, bool strict)
{
	struct sockdup_entry *chunk[SOCKDUP_WALK_CHUNK];
	struct rhashtable_iter iter;
	struct sockdup_entry *e;
	unsigned int n, i;
	bool end = false;
	int ret = 0;

	rhashtable_walk_enter(&sockdup_table, &iter);
	while (!end && !ret) {
		n = 0;
		ret = rhashtable_walk_start_check(&iter);
		if (ret == -EAGAIN && !strict)
			ret = 0;
		while (!ret && n < SOCKDUP_WALK_CHUNK) {
			e = rhashtable_walk_next(&iter);
			if (!e) {
				end = true;
				break;
			}
			if (IS_ERR(e)) {
				/* -EAGAIN: resized, going on in the new table. */
				if (PTR_ERR(e) != -EAGAIN || strict)
					ret = PTR_ERR(e);
				continue;
			}
			/* Zero: on its way out, nothing to visit. */
			if (refcount_inc_not_zero(&e->ref))
				chunk[n++] = e;
		}
		rhashtable_walk_stop(&iter);

		for (i = 0; i < n; i++) {
			if (!ret)
				ret = visit(chunk[i], arg);
			sockdup_entry_put(chunk[i]);
		}
		cond_resched();
	}
	rhashtable_walk_exit(&iter);
	return ret;
}

struct sockdup_id_search {
	u64 id;
	struct sockdup_entry *found;
};

static int sockdup_id_match(struct sockdup_entry *e, void *arg)
{
	struct sockdup_id_search *s = arg;

	if (e->id != s->id)
		return 0;
	/* The walk's reference is dropped after this: take one to keep. */
	refcount_inc(&e->ref);
	s->found = e;
	return 1;
}

/**
 * sockdup_entry_lookup_id() - find a share by id and take a reference
 * @id: the share's id.
 *
 * Ids are not the table's key: this walks the table.  It serves the
 * commands an operator types, not the data path.
 *
 * Context: Process context; sleeps.
 * Return: the entry with a reference the caller drops with
 * sockdup_entry_put(), or NULL if no share in the table has @id.
 */
struct sockdup_entry *sockdup_entry_lookup_id(u64 id)
{
	struct sockdup_id_search s = { .id = id };
	int tries = 0;

	/* A resize restarts the walk; after a few, accept what one finds. */
	while (sockdup_table_walk(sockdup_id_match, &s, tries < 4) == -EAGAIN)
		tries++;
	return s.found;
}
