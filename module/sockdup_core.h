/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sockdup internal interfaces: the pending-share object, the cookie table,
 * quotas, counters and the sweeper, shared by the files of the module.
 */

#ifndef _SOCKDUP_CORE_H
#define _SOCKDUP_CORE_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/percpu.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <linux/uidgid.h>

#include <linux/sockdup.h>

struct cred;
struct file;
struct pid;
struct poll_table_struct;
struct sockdup_evq;

/*
 * States of a pending share (&sockdup_entry.state).  Every transition is
 * an atomic_cmpxchg() on the state, so exactly one task can make each one:
 *
 *   PENDING -> CLAIMED   REDEEM, before calling receive_fd(); at most one
 *                        REDEEM holds the claim.
 *   CLAIMED -> PENDING   the claiming REDEEM, when receive_fd() failed.
 *   CLAIMED -> DEAD      the claiming REDEEM, after receive_fd() succeeded.
 *   PENDING -> DEAD      expiry, REVOKE, reaping of an exited target, unload.
 *
 * DEAD is final.  Whoever makes a transition to DEAD is the share's one
 * releaser (sockdup_entry_release()): it alone unlinks the share from the
 * table, gives its quota slot back, counts the reason, and drops the
 * table's reference.
 */
enum sockdup_state {
	SOCKDUP_PENDING,
	SOCKDUP_CLAIMED,
	SOCKDUP_DEAD,
};

/* Why a share was released; selects the counter sockdup_entry_release() bumps. */
enum sockdup_reason {
	SOCKDUP_REDEEMED,
	SOCKDUP_EXPIRED,
	SOCKDUP_REVOKED,
	SOCKDUP_REAPED,
	SOCKDUP_UNLOADED,
};

/*
 * A cookie is the index of its share in the cookie table (32 bits, masked
 * with a random key so that cookies look alike) followed by a 96-bit
 * secret from the kernel CSPRNG.  The table has SOCKDUP_TABLE_MAX_SHARES
 * slots (max_total cannot be set above it), indexed below
 * SOCKDUP_INDEX_LIMIT.
 */
#define SOCKDUP_INDEX_BITS		18
#define SOCKDUP_INDEX_LIMIT		BIT(SOCKDUP_INDEX_BITS)
#define SOCKDUP_TABLE_MAX_SHARES	SOCKDUP_INDEX_LIMIT
#define SOCKDUP_SECRET_WORDS		3

/**
 * struct sockdup_entry - one pending share
 * @secret: the 96 secret bits of the cookie.  Drawn before the entry is
 *	inserted, then read-only.
 * @ref: references to the entry.  Zero until the entry is published
 *	(sockdup_entry_publish()); the table holds one from then until the
 *	releaser drops it; every lookup takes a temporary one with
 *	refcount_inc_not_zero() under RCU and then checks that the entry is
 *	still the one it looked for (see below).
 * @state: an &enum sockdup_state, changed only by atomic_cmpxchg().
 * @ttl_ms: the TTL the share was made with; @expires_ns less it is the
 *	time of the SHARE.
 * @target: thread-group &struct pid of the only process allowed to redeem.
 * @file: the pinned socket file of a share of one socket; the reference
 *	is taken at SHARE time and dropped when the last reference to the
 *	entry goes.
 * @batch: for a share of several sockets (a batch), the address of its
 *	&struct sockdup_batch with %SOCKDUP_BATCH_TAG set, in place of
 *	@file (a struct file is never at an odd address).  Read both through
 *	sockdup_entry_nr_files() and sockdup_entry_file().
 * @expires_ns: ktime_get_ns() value at which the share expires.
 * @id: non-secret number naming the share in listings: a sequence number
 *	that is never reused, above the SOCKDUP_INDEX_BITS of the share's
 *	index in the cookie table.
 * @sharer: thread-group &struct pid of the process that shared.
 * @evq: event queue of the /dev/sockdup file the share was made through,
 *	with a reference, or NULL if that file was opened without read
 *	access.  Read only by the releaser, which posts the share's event
 *	there and drops the reference.
 * @sharer_uid: real uid of the sharer at SHARE time (the user who made
 *	the share, who may revoke it by id).
 * @charge_uid: the uid whose quota the share is charged to: @sharer_uid,
 *	or the owner of the sharer's user-namespace delegation
 *	(sockdup_quota_owner()).
 * @rcu: frees the memory a grace period after the last reference went,
 *	where the entry cache is not %SLAB_TYPESAFE_BY_RCU (before 6.12).  It
 *	overlays the fields only the releaser and reference holders read;
 *	there, in a type-safe cache, lies the slab's free pointer.
 *
 * Lifetime: allocated by SHARE from sockdup_entry_cache and inserted into
 * the table with no reference, so no lookup can take it yet; published
 * with the table's reference once the cookie reached the caller.  The
 * releaser unlinks it and drops that reference; whoever drops the last
 * reference (sockdup_entry_put()) fputs @file, puts both pids and frees
 * the memory.  All fields but @state and @ref are constant while the entry
 * is in the table.
 *
 * Where the entry cache is %SLAB_TYPESAFE_BY_RCU, freed memory may be a new
 * share at once, even under an RCU reader that still holds its address.
 * So a lookup checks, after its reference is taken, that the entry has
 * the index (and the secret or the id) it looked for, and a new entry sets
 * its reference only after everything a lookup checks (an smp_wmb()
 * paired with an smp_rmb() after the reference is taken).
 *
 * 80 bytes on 64-bit kernels; what a REDEEM reads comes first.
 */
struct sockdup_entry {
	u32 secret[SOCKDUP_SECRET_WORDS];
	refcount_t ref;
	atomic_t state;
	u32 ttl_ms;
	struct pid *target;
	union {
		struct file *file;
		unsigned long batch;
	};
	u64 expires_ns;
	u64 id;
	struct pid *sharer;
	union {
		struct {
			struct sockdup_evq *evq;
			kuid_t sharer_uid;
			kuid_t charge_uid;
		};
		struct rcu_head rcu;
	};
};

/**
 * struct sockdup_batch - the sockets of a share of more than one
 * @rcu: frees the batch a grace period after its entry's last reference
 *	went (kvfree_rcu(): that may be under rcu_read_lock()).
 * @nr: how many, 2 to %SOCKDUP_BATCH_MAX.
 * @files: the pinned socket files, in the order they were shared, each
 *	pinned as &sockdup_entry.file is.
 *
 * Lifetime: one kvmalloc() by SHARE, charged to the sharer's memory
 * cgroup (at most 32 KiB of pointers); it belongs to the one entry that
 * points to it, which drops its pins and frees it with its last reference.
 * Only holders of a reference to the entry read it.
 */
struct sockdup_batch {
	struct rcu_head rcu;
	u32 nr;
	struct file *files[];
};

/* In &sockdup_entry.batch: the entry holds a &struct sockdup_batch. */
#define SOCKDUP_BATCH_TAG	1UL

/**
 * sockdup_entry_batch() - the batch of a share of several sockets
 * @e: the entry, referenced by the caller.
 *
 * Context: Any context.
 * Return: the batch, or NULL for a share of one socket (@e->file).
 */
static inline struct sockdup_batch *
sockdup_entry_batch(const struct sockdup_entry *e)
{
	if (!(e->batch & SOCKDUP_BATCH_TAG))
		return NULL;
	return (struct sockdup_batch *)(e->batch & ~SOCKDUP_BATCH_TAG);
}

/**
 * sockdup_entry_nr_files() - how many sockets a share holds
 * @e: the entry, referenced by the caller.
 *
 * Context: Any context.
 * Return: 1 to %SOCKDUP_BATCH_MAX.
 */
static inline unsigned int sockdup_entry_nr_files(const struct sockdup_entry *e)
{
	struct sockdup_batch *b = sockdup_entry_batch(e);

	return b ? b->nr : 1;
}

/**
 * sockdup_entry_file() - one of the sockets a share holds
 * @e: the entry, referenced by the caller.
 * @i: index, below sockdup_entry_nr_files().
 *
 * Context: Any context.
 * Return: the @i-th pinned socket file, in the order they were shared.
 */
static inline struct file *sockdup_entry_file(const struct sockdup_entry *e,
					      unsigned int i)
{
	struct sockdup_batch *b = sockdup_entry_batch(e);

	return b ? b->files[i] : e->file;
}

/* Module parameters (main.c); read with READ_ONCE(), root may change them. */
extern unsigned int sockdup_default_ttl_ms;
extern unsigned int sockdup_max_ttl_ms;
extern unsigned int sockdup_max_per_user;
extern unsigned int sockdup_max_total;
extern unsigned int sockdup_reserve_total;
extern unsigned int sockdup_sweep_ms;

/**
 * struct sockdup_counters - per-cpu event counters reported by STATS
 * @shared: sockets of the shares inserted into the table (a batch of N
 *	counts N, as it takes N quota slots).
 * @released: sockets of the shares released, indexed by &enum
 *	sockdup_reason.
 * @refused_user: SHAREs refused with EDQUOT.
 * @refused_global: SHAREs refused with ENOSPC.
 *
 * Each CPU only increments its own copy (this_cpu_inc()); STATS sums them.
 */
struct sockdup_counters {
	u64 shared;
	u64 released[SOCKDUP_UNLOADED + 1];
	u64 refused_user;
	u64 refused_global;
};

extern struct sockdup_counters __percpu *sockdup_counters;

/* Pending sockets, all users; charged before insertion (quota.c). */
extern atomic_t sockdup_pending;

/* table.c */
int sockdup_table_init(void);
void sockdup_table_destroy(void);
struct sockdup_entry *sockdup_entry_alloc(void);
void sockdup_entry_free_unpublished(struct sockdup_entry *e);
int sockdup_entry_insert(struct sockdup_entry *e);
void sockdup_entry_cookie(const struct sockdup_entry *e, u8 *cookie);
void sockdup_entry_remove_unpublished(struct sockdup_entry *e);
void sockdup_entry_publish(struct sockdup_entry *e);
struct sockdup_entry *sockdup_entry_lookup(const u8 *cookie);
void sockdup_entry_put(struct sockdup_entry *e);
bool sockdup_entry_release(struct sockdup_entry *e, enum sockdup_state from,
			   enum sockdup_reason why);
bool sockdup_entry_expired(const struct sockdup_entry *e, u64 now);
bool sockdup_entry_gone(struct sockdup_entry *e, u64 now);
int sockdup_entry_wait_claim(struct sockdup_entry *e);
void sockdup_entry_fill_info(const struct sockdup_entry *e, u64 now,
			     struct sockdup_share_info *info);
bool sockdup_entry_visible(const struct sockdup_entry *e, kuid_t uid);
struct sockdup_entry *sockdup_entry_lookup_id(u64 id);

/* slots.c */
struct sockdup_entry *sockdup_slot_load(u32 index);
u32 sockdup_slot_end(void);
u32 sockdup_slots_in_use(void);
int sockdup_slot_alloc(struct sockdup_entry *e, u32 *index);
void sockdup_slot_free(u32 index, struct sockdup_entry *e);
void sockdup_slots_destroy(void);

/*
 * A visitor of sockdup_table_walk(): 0 goes on, a positive value stops the
 * walk, a negative errno aborts it; either is what the walk returns.
 */
typedef int (*sockdup_visit_t)(struct sockdup_entry *e, void *arg);
int sockdup_table_walk(sockdup_visit_t visit, void *arg);

/* quota.c */
kuid_t sockdup_quota_owner(const struct cred *cred);
int sockdup_quota_charge(kuid_t uid, unsigned int n);
void sockdup_quota_uncharge(kuid_t uid, unsigned int n);
unsigned int sockdup_quota_user_pending(kuid_t uid);
void sockdup_quota_gc(void);
void sockdup_quota_exit(void);

/**
 * sockdup_group_exited() - whether a thread-group leader's process is gone
 * @leader: the task attached to a thread-group pid.
 *
 * The process has exited once its leader is a zombie with no other thread
 * left, the test pidfd_poll() uses.
 *
 * Context: RCU read lock held (or a reference to @leader).
 * Return: true if the whole thread group has exited.
 */
static inline bool sockdup_group_exited(struct task_struct *leader)
{
	return READ_ONCE(leader->exit_state) && thread_group_empty(leader);
}

/* events.c */
struct sockdup_evq *sockdup_evq_alloc(void);
int sockdup_evq_prepare(struct sockdup_evq *q);
struct sockdup_evq *sockdup_evq_get(struct sockdup_evq *q);
void sockdup_evq_put(struct sockdup_evq *q);
void sockdup_evq_post(struct sockdup_evq *q, u64 id, u32 type,
		      struct pid *actor, u32 flags);
void sockdup_evq_close(struct sockdup_evq *q);
ssize_t sockdup_evq_read(struct sockdup_evq *q, char __user *buf,
			 size_t count, bool nonblock);
__poll_t sockdup_evq_poll(struct sockdup_evq *q, struct file *file,
			  struct poll_table_struct *wait);

/* lifetime.c */
bool sockdup_pid_alive(struct pid *pid);
void sockdup_sweep_kick(u64 expires_ns, u64 now);
void sockdup_sweep_period_changed(void);
void sockdup_sweep_stop(void);

/**
 * sockdup_copy_arg() - read an ioctl argument of any known version
 * @karg: the kernel's structure.
 * @ksize: sizeof(*@karg).
 * @minsize: the size of the structure's first version.
 * @uarg: the user's structure.
 * @usize: its size, from the ioctl command.
 *
 * Anything smaller than the first version is refused.  A caller of an
 * older version gets the fields it does not know as zero; larger is
 * accepted when the bytes the kernel does not know are zero.
 *
 * Context: Process context; may fault.
 * Return: 0; -EINVAL if @usize is too small; -E2BIG for non-zero unknown
 * bytes; -EFAULT.
 */
static inline int sockdup_copy_arg(void *karg, size_t ksize, size_t minsize,
				   const void __user *uarg, unsigned int usize)
{
	if (usize < minsize)
		return -EINVAL;
	return copy_struct_from_user(karg, ksize, uarg, usize);
}

/* ioctl handlers, each in its own file */
long sockdup_ioctl_share(struct sockdup_evq *evq, void __user *uarg,
			 unsigned int usize);
long sockdup_ioctl_redeem(void __user *uarg, unsigned int usize);
long sockdup_ioctl_revoke(void __user *uarg, unsigned int usize);
long sockdup_ioctl_query(void __user *uarg, unsigned int usize);
long sockdup_ioctl_stats(void __user *uarg, unsigned int usize);
long sockdup_ioctl_list(void __user *uarg, unsigned int usize);

#endif /* _SOCKDUP_CORE_H */
