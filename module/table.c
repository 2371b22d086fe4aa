// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup cookie table: pending shares addressed by the index their cookie
 * carries, the lifetime of a share object and its one release.
 *
 * A cookie is the share's slot index (slots.c), masked with a random key,
 * and a 96-bit secret: REDEEM finds the share with two loads under RCU, no
 * hashing, and compares the secret in constant time.  Taking and giving
 * back a slot take one lock; lookups take none.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/net.h>
#include <linux/pid.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <linux/wait_bit.h>
#include <net/sock.h>

#include "compat.h"
#include "sockdup_core.h"

/* Allocator of struct sockdup_entry; charged to the sharer's memcg. */
static struct kmem_cache *sockdup_entry_cache;

/* Source of the upper bits of &sockdup_entry.id; never reused. */
static atomic64_t sockdup_next_seq = ATOMIC64_INIT(0);

/* XORed into the index a cookie carries; drawn at load, then constant. */
static u32 sockdup_index_key __read_mostly;

struct sockdup_counters __percpu *sockdup_counters;

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
	BUILD_BUG_ON(IS_ENABLED(CONFIG_64BIT) &&
		     sizeof(struct sockdup_entry) > 80);
	BUILD_BUG_ON(sizeof(u32) * (1 + SOCKDUP_SECRET_WORDS) !=
		     SOCKDUP_COOKIE_SIZE);

	sockdup_counters = alloc_percpu(struct sockdup_counters);
	if (!sockdup_counters)
		return -ENOMEM;

	sockdup_entry_cache =
		sockdup_cache_create("sockdup_entry",
				     sizeof(struct sockdup_entry),
				     __alignof__(struct sockdup_entry),
				     offsetof(struct sockdup_entry, rcu),
				     SLAB_ACCOUNT);
	if (!sockdup_entry_cache) {
		err = -ENOMEM;
		goto out_free_counters;
	}
	sockdup_index_key = get_random_u32();
	return 0;

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

	/* Made through a file opened without read access: nobody to tell. */
	if (!evq)
		return;
	if (why == SOCKDUP_REDEEMED || why == SOCKDUP_REVOKED)
		actor = task_tgid(current);
	if (why == SOCKDUP_REVOKED && actor == e->target)
		flags |= SOCKDUP_EVENT_DECLINED;
	sockdup_evq_post(evq, e->id, sockdup_event_type[why], actor, flags);
	sockdup_evq_put(evq);
}

/**
 * sockdup_table_destroy() - release every pending share and free the table
 *
 * Drops every pin, so the peers of the pinned sockets see EOF once no
 * other descriptor holds them.  No ioctl can run (an open /dev/sockdup
 * holds the module) and the sweeper is stopped, so no share can be
 * CLAIMED: each one is PENDING and this is its releaser.
 *
 * Context: Process context, module exit, after the device is gone and the
 * sweeper is stopped.  Sleeps.
 */
void sockdup_table_destroy(void)
{
	struct sockdup_entry *e;
	u32 index, end = sockdup_slot_end();

	for (index = 0; index < end; index++) {
		e = sockdup_slot_load(index);
		if (e)
			WARN_ON_ONCE(!sockdup_entry_release(e, SOCKDUP_PENDING,
							    SOCKDUP_UNLOADED));
	}
	sockdup_slots_destroy();
	/* Wait for the call_rcu() frees of a cache that is not type-safe. */
	rcu_barrier();
	kmem_cache_destroy(sockdup_entry_cache);
	free_percpu(sockdup_counters);
}

/**
 * sockdup_entry_alloc() - allocate a share
 *
 * The entry starts PENDING with no reference: the caller fills it in,
 * inserts it and publishes it, or frees it with
 * sockdup_entry_free_unpublished().
 *
 * Context: Process context; may sleep.
 * Return: the entry or NULL.
 */
struct sockdup_entry *sockdup_entry_alloc(void)
{
	struct sockdup_entry *e;
	u64 rnd;

	e = kmem_cache_zalloc(sockdup_entry_cache, GFP_KERNEL);
	if (!e)
		return NULL;
	atomic_set(&e->state, SOCKDUP_PENDING);
	/*
	 * The secret: 96 bits of the kernel CSPRNG.  get_random_u64() and
	 * get_random_u32() take them from per-cpu batches of ChaCha output
	 * (erased as they are handed out); a u64 costs what a u32 does.
	 */
	rnd = get_random_u64();
	e->secret[0] = lower_32_bits(rnd);
	e->secret[1] = upper_32_bits(rnd);
	e->secret[2] = get_random_u32();
	rnd = 0;
	return e;
}

/*
 * Drop the pins of a share whose last reference went, and free its batch
 * after a grace period (the caller may be in an RCU read-side section).
 */
static void sockdup_entry_put_files(struct sockdup_entry *e)
{
	struct sockdup_batch *b = sockdup_entry_batch(e);
	unsigned int i;

	if (!b) {
		fput(e->file);
		return;
	}
	for (i = 0; i < b->nr; i++)
		fput(b->files[i]);
	kvfree_rcu(b, rcu);
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
	memzero_explicit(e->secret, sizeof(e->secret));
	kmem_cache_free(sockdup_entry_cache, e);
}

static u32 sockdup_entry_index(const struct sockdup_entry *e)
{
	return e->id & (SOCKDUP_INDEX_LIMIT - 1);
}

/**
 * sockdup_entry_insert() - give a share an index, and so its cookie and id
 * @e: a filled-in entry from sockdup_entry_alloc().
 *
 * The entry is in the table but no lookup can take it before
 * sockdup_entry_publish(); until then the caller may still take it out
 * with sockdup_entry_remove_unpublished().
 *
 * Context: Process context; may sleep.  Takes sockdup_slots_lock.
 * Return: 0; -ENOSPC if the table holds %SOCKDUP_TABLE_MAX_SHARES
 * shares (only when max_total is at its largest and releases lag);
 * -ENOMEM.
 */
int sockdup_entry_insert(struct sockdup_entry *e)
{
	u32 index;
	int err;

	err = sockdup_slot_alloc(e, &index);
	if (err)
		return err;
	e->id = (u64)atomic64_inc_return(&sockdup_next_seq) <<
		SOCKDUP_INDEX_BITS | index;
	return 0;
}

/**
 * sockdup_entry_cookie() - the cookie of an inserted share
 * @e: the entry, inserted.
 * @cookie: %SOCKDUP_COOKIE_SIZE bytes.
 *
 * Context: Any context.
 */
void sockdup_entry_cookie(const struct sockdup_entry *e, u8 *cookie)
{
	u32 w[1 + SOCKDUP_SECRET_WORDS];

	w[0] = sockdup_entry_index(e) ^ sockdup_index_key;
	memcpy(&w[1], e->secret, sizeof(e->secret));
	memcpy(cookie, w, sizeof(w));
	memzero_explicit(w, sizeof(w));
}

/**
 * sockdup_entry_remove_unpublished() - take an inserted share out again
 * @e: the entry, inserted but not published.  No lookup can have taken
 *	it, so the caller frees it with sockdup_entry_free_unpublished().
 *
 * Context: Process context.  Takes sockdup_slots_lock.
 */
void sockdup_entry_remove_unpublished(struct sockdup_entry *e)
{
	sockdup_slot_free(sockdup_entry_index(e), e);
}

/**
 * sockdup_entry_publish() - make an inserted share visible to lookups
 * @e: the entry; the table owns the reference this sets.
 *
 * Context: Any context.
 */
void sockdup_entry_publish(struct sockdup_entry *e)
{
	/*
	 * Counted before the share is visible: a REDEEM on another CPU may
	 * release it the moment it is published, and STATS, which sums the
	 * releases before the shares, must never see more releases than
	 * shares.
	 */
	this_cpu_add(sockdup_counters->shared, sockdup_entry_nr_files(e));
	/*
	 * Everything a lookup checks after taking its reference, and the
	 * count, is written before the reference exists: pairs with the
	 * smp_rmb() in sockdup_entry_get() and the one in STATS.
	 */
	smp_wmb();
	refcount_set(&e->ref, 1);
}

/*
 * The entry at @index with a reference, or NULL.  Only its index is
 * checked: the caller checks the rest of what it looked for.
 */
static struct sockdup_entry *sockdup_entry_get(u32 index)
{
	struct sockdup_entry *e;

	rcu_read_lock();
	e = sockdup_slot_load(index);
	/* Zero: unpublished, or on its way out, or free memory: not found. */
	if (e && !refcount_inc_not_zero(&e->ref))
		e = NULL;
	rcu_read_unlock();
	if (!e)
		return NULL;
	/* Pairs with the smp_wmb() in sockdup_entry_publish(). */
	smp_rmb();
	/* The memory may be another share's by now (a type-safe cache). */
	if (sockdup_entry_index(e) != index) {
		sockdup_entry_put(e);
		return NULL;
	}
	return e;
}

/* Compare two secrets in constant time: no early exit on a difference. */
static bool sockdup_secret_eq(const u32 *a, const u32 *b)
{
	u32 diff = 0;
	unsigned int i;

	for (i = 0; i < SOCKDUP_SECRET_WORDS; i++)
		diff |= a[i] ^ b[i];
	return !diff;
}

/**
 * sockdup_entry_lookup() - find a share by cookie and take a reference
 * @cookie: %SOCKDUP_COOKIE_SIZE bytes.
 *
 * The share may be in any state by the time the caller looks at it.
 *
 * Context: Any context but hard IRQ; takes the RCU read lock, no other
 * lock.
 * Return: the entry with a temporary reference the caller drops with
 * sockdup_entry_put(), or NULL if there is no such share.
 */
struct sockdup_entry *sockdup_entry_lookup(const u8 *cookie)
{
	u32 w[1 + SOCKDUP_SECRET_WORDS], index;
	struct sockdup_entry *e;

	memcpy(w, cookie, sizeof(w));
	index = w[0] ^ sockdup_index_key;
	if (index >= SOCKDUP_INDEX_LIMIT)
		return NULL;
	e = sockdup_entry_get(index);
	if (e && !sockdup_secret_eq(e->secret, &w[1])) {
		sockdup_entry_put(e);
		e = NULL;
	}
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
 * The last reference drops the pins on the socket files and both pids, and
 * frees the memory: at once in a type-safe cache, after an RCU grace
 * period otherwise.  It can only go after the share was released (the
 * table's reference is the last one otherwise).
 *
 * Context: Any context but hard IRQ, also under rcu_read_lock(): fput()
 * defers the real close to task work or a workqueue.
 */
void sockdup_entry_put(struct sockdup_entry *e)
{
	if (!refcount_dec_and_test(&e->ref))
		return;
	sockdup_entry_put_files(e);
	put_pid(e->target);
	put_pid(e->sharer);
	memzero_explicit(e->secret, sizeof(e->secret));
	if (SOCKDUP_TYPESAFE_CACHE)
		kmem_cache_free(sockdup_entry_cache, e);
	else
		call_rcu(&e->rcu, sockdup_entry_free_rcu);
}

/**
 * sockdup_entry_release() - release a share, if this caller wins
 * @e: the entry; the caller holds a reference.
 * @from: the state the caller expects (%SOCKDUP_PENDING, or
 *	%SOCKDUP_CLAIMED for the REDEEM that holds the claim).
 * @why: what to count the release as.
 *
 * The atomic_cmpxchg() from @from to %SOCKDUP_DEAD is the single point that
 * decides the releaser: DEAD is final and the cmpxchg succeeds for exactly
 * one caller, so the unlink, the uncharge, the counter and the put of the
 * table's reference below happen exactly once per share.
 *
 * Context: Any context but hard IRQ; takes sockdup_slots_lock.
 * Return: true if this call released the share, false if it was no longer
 * in state @from.
 */
bool sockdup_entry_release(struct sockdup_entry *e, enum sockdup_state from,
			   enum sockdup_reason why)
{
	if (atomic_cmpxchg(&e->state, from, SOCKDUP_DEAD) != from)
		return false;

	/* Only the winner unlinks, so the slot still holds @e. */
	sockdup_slot_free(sockdup_entry_index(e), e);
	sockdup_quota_uncharge(e->charge_uid, sockdup_entry_nr_files(e));
	this_cpu_add(sockdup_counters->released[why],
		     sockdup_entry_nr_files(e));
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
 * Context: Process context; may take sockdup_slots_lock.
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

/* References taken, and slots looked at, under RCU per step of a walk. */
#define SOCKDUP_WALK_CHUNK	32
#define SOCKDUP_WALK_SLOTS	1024

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
 * would report on the socket (the first one of a batch).
 *
 * Context: Process context, no lock held: reading a socket's addresses
 * may take the socket lock.
 */
void sockdup_entry_fill_info(const struct sockdup_entry *e, u64 now,
			     struct sockdup_share_info *info)
{
	struct file *file = sockdup_entry_file(e, 0);
	struct socket *sock = sock_from_file(file);
	struct sock *sk = sock ? READ_ONCE(sock->sk) : NULL;
	u64 created;

	might_sleep();
	memset(info, 0, sizeof(*info));
	info->id = e->id;
	info->sock_ino = file_inode(file)->i_ino;
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
	created = e->expires_ns - (u64)e->ttl_ms * NSEC_PER_MSEC;
	info->age_ms = now > created ? div_u64(now - created, NSEC_PER_MSEC) : 0;
	/* Rounded up: 0 only once the share has expired. */
	info->ttl_left_ms = now < e->expires_ns ?
			    DIV_ROUND_UP_ULL(e->expires_ns - now, NSEC_PER_MSEC) : 0;
	info->nr_fds = sockdup_entry_nr_files(e);
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
 *
 * The walk goes up the indices.  The RCU read-side section lasts only
 * while references to at most %SOCKDUP_WALK_CHUNK shares are taken (and
 * at most %SOCKDUP_WALK_SLOTS slots looked at); the
 * visits run after it, and the walk yields the CPU between chunks, so
 * walking a full table neither stalls RCU nor hogs a CPU.  Each share is
 * visited at most once; shares inserted or released during the walk may
 * or may not be visited.
 *
 * Context: Process context; sleeps.
 * Return: 0 after the last share, or the first non-zero value of @visit.
 */
int sockdup_table_walk(sockdup_visit_t visit, void *arg)
{
	struct sockdup_entry *chunk[SOCKDUP_WALK_CHUNK];
	u32 where[SOCKDUP_WALK_CHUNK];
	struct sockdup_entry *e;
	unsigned int n, i;
	u32 index = 0, end;
	int ret = 0;

	do {
		n = 0;
		end = min(sockdup_slot_end(), index + SOCKDUP_WALK_SLOTS);
		rcu_read_lock();
		for (; index < end && n < SOCKDUP_WALK_CHUNK; index++) {
			e = sockdup_slot_load(index);
			/* Zero: unpublished or on its way out. */
			if (!e || !refcount_inc_not_zero(&e->ref))
				continue;
			where[n] = index;
			chunk[n++] = e;
		}
		rcu_read_unlock();
		/* Pairs with the smp_wmb() in sockdup_entry_publish(). */
		smp_rmb();

		for (i = 0; i < n; i++) {
			/*
			 * A share freed and made again at another index
			 * meanwhile is that index's: visited there, if at all.
			 */
			if (!ret && sockdup_entry_index(chunk[i]) == where[i])
				ret = visit(chunk[i], arg);
			sockdup_entry_put(chunk[i]);
		}
		cond_resched();
	} while (!ret && index < sockdup_slot_end());
	return ret;
}

/**
 * sockdup_entry_lookup_id() - find a share by id and take a reference
 * @id: the share's id.
 *
 * The id carries the share's index: no walk.
 *
 * Context: Any context but hard IRQ; takes the RCU read lock.
 * Return: the entry with a reference the caller drops with
 * sockdup_entry_put(), or NULL if no share in the table has @id.
 */
struct sockdup_entry *sockdup_entry_lookup_id(u64 id)
{
	struct sockdup_entry *e;

	e = sockdup_entry_get(id & (SOCKDUP_INDEX_LIMIT - 1));
	/* The sequence number tells a share from a later one at its index. */
	if (e && e->id != id) {
		sockdup_entry_put(e);
		e = NULL;
	}
	return e;
}
