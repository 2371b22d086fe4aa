// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup quotas: pending shares per user (EDQUOT) and in total (ENOSPC).
 *
 * A pending share occupies, per socket it holds (a batch of N takes N of
 * each), one slot of its owner (sockdup_quota_owner()) and one global
 * slot from SHARE until its release, which gives them all back at once.
 * The owner is the sharer's real uid, or, for a sharer inside a user
 * namespace, the user that created the outermost namespace below the
 * initial one: every uid of one delegation shares one budget, the way the
 * kernel's ucounts charge a namespace tree to its creator.  The last
 * reserve_total slots of the global cap are kept for callers with
 * CAP_SYS_RESOURCE in the initial user namespace, so users filling the
 * table never lock the administrator out.  Caps are module parameters and
 * are read at each SHARE, so lowering one refuses new shares without
 * touching pending ones.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/user_namespace.h>

#include "compat.h"
#include "sockdup_core.h"

/* Value of &sockdup_user.pending once the record is being freed. */
#define SOCKDUP_USER_RETIRED	(-1)

/**
 * struct sockdup_user - pending shares of one owner
 * @node: link in sockdup_users; added and removed under sockdup_users_lock,
 *	followed under RCU.
 * @uid: the owner (kuid, so the same user in every namespace).
 * @pending: number of shares charged to @uid, or %SOCKDUP_USER_RETIRED.
 * @rcu: frees the record after an RCU grace period.
 *
 * Lifetime: created by the first SHARE of @uid and kept while @uid has
 * shares pending.  A record whose @pending is zero is retired by
 * sockdup_quota_gc() (the sweeper, and unload): it moves @pending from 0
 * to %SOCKDUP_USER_RETIRED with a cmpxchg, unlinks the record and frees it
 * after a grace period.  A charge never succeeds on a retired record, and
 * a charged share keeps @pending above zero, so the record a pending share
 * was charged to stays in the table until that share is uncharged: the
 * share finds it again by uid and needs no pointer to it.  Keeping idle
 * records until the next sweep spares a user that shares one socket at a
 * time an allocation per share.
 */
struct sockdup_user {
	struct hlist_node node;
	kuid_t uid;
	atomic_t pending;
	struct rcu_head rcu;
};

/* Protects insertion into and removal from sockdup_users. */
static DEFINE_SPINLOCK(sockdup_users_lock);
static DEFINE_HASHTABLE(sockdup_users, 6);

atomic_t sockdup_pending = ATOMIC_INIT(0);

/*
 * The live record of @uid.  An RCU reader may still meet a retired record
 * that was unlinked while it walked the chain, next to the live one that
 * replaced it: skip it.  Caller holds rcu_read_lock() or
 * sockdup_users_lock.
 */
static struct sockdup_user *sockdup_user_find(kuid_t uid)
{
	struct sockdup_user *u;

	hash_for_each_possible_rcu(sockdup_users, u, node, __kuid_val(uid),
				   lockdep_is_held(&sockdup_users_lock))
		if (uid_eq(u->uid, uid) &&
		    atomic_read(&u->pending) != SOCKDUP_USER_RETIRED)
			return u;
	return NULL;
}

/* Make sure a record for @uid is in the table. */
static int sockdup_user_add(kuid_t uid)
{
	struct sockdup_user *u;

	u = kzalloc_obj(*u, GFP_KERNEL);
	if (!u)
		return -ENOMEM;
	u->uid = uid;

	spin_lock(&sockdup_users_lock);
	if (sockdup_user_find(uid)) {
		spin_unlock(&sockdup_users_lock);
		kfree(u);
		return 0;
	}
	hash_add_rcu(sockdup_users, &u->node, __kuid_val(uid));
	spin_unlock(&sockdup_users_lock);
	return 0;
}

enum sockdup_charge {
	SOCKDUP_CHARGED,
	SOCKDUP_AT_CAP,
	SOCKDUP_RETIRED,
};

/* Take @n slots of @counter unless that passes @max or it is retired. */
static enum sockdup_charge sockdup_charge(atomic_t *counter, unsigned int n,
					  unsigned int max)
{
	int old = atomic_read(counter);

	do {
		if (old < 0)
			return SOCKDUP_RETIRED;
		if ((unsigned int)old >= max || max - (unsigned int)old < n)
			return SOCKDUP_AT_CAP;
	} while (!atomic_try_cmpxchg(counter, &old, old + n));
	return SOCKDUP_CHARGED;
}

/**
 * sockdup_quota_owner() - the user a share made with @cred is charged to
 * @cred: the sharer's credentials.
 *
 * The real uid, as SCM_RIGHTS charges descriptors in flight to the real
 * user: a set-user-ID helper charges the user who runs it, not its owner.
 * Inside a user namespace the uids are the namespace owner's to hand out
 * (newuidmap maps a whole subordinate range), so the owner of the
 * outermost namespace below the initial one is charged instead.  The
 * namespaces' @parent and @owner never change, and @cred pins its own.
 *
 * Context: Any context.
 * Return: the kuid to charge.
 */
kuid_t sockdup_quota_owner(const struct cred *cred)
{
	const struct user_namespace *ns = cred->user_ns;

	if (ns == &init_user_ns)
		return cred->uid;
	while (ns->parent != &init_user_ns)
		ns = ns->parent;
	return ns->owner;
}

/*
 * Take @n global slots.  Callers without CAP_SYS_RESOURCE in the initial
 * user namespace stop reserve_total short of max_total; the capability is
 * looked at only when that point is reached.
 */
static enum sockdup_charge sockdup_charge_global(unsigned int n,
						 unsigned int max_total)
{
	unsigned int reserve = min(READ_ONCE(sockdup_reserve_total), max_total);

	if (sockdup_charge(&sockdup_pending, n, max_total - reserve) ==
	    SOCKDUP_CHARGED)
		return SOCKDUP_CHARGED;
	if (!reserve || !ns_capable_noaudit(&init_user_ns, CAP_SYS_RESOURCE))
		return SOCKDUP_AT_CAP;
	return sockdup_charge(&sockdup_pending, n, max_total);
}

/**
 * sockdup_quota_charge() - take per-user and global slots for a share
 * @uid: the owner, from sockdup_quota_owner().
 * @n: the number of sockets the share holds, one slot each.
 *
 * The atomic_try_cmpxchg() loops make the cap checks exact under any
 * concurrency: the counters never exceed the caps in force when charged.
 *
 * Context: Process context; may sleep (allocates the first record of a
 * user), takes sockdup_users_lock only then.  Checks the current task's
 * capabilities near the global cap.
 * Return: 0; -EDQUOT if @n slots would pass the per-user cap; -ENOSPC if
 * they would pass the global cap (or its reserve); -ENOMEM.
 */
int sockdup_quota_charge(kuid_t uid, unsigned int n)
{
	unsigned int max_user = READ_ONCE(sockdup_max_per_user);
	unsigned int max_total = READ_ONCE(sockdup_max_total);
	enum sockdup_charge res;
	struct sockdup_user *u;
	int err;

	for (;;) {
		rcu_read_lock();
		u = sockdup_user_find(uid);
		if (!u) {
			rcu_read_unlock();
			err = sockdup_user_add(uid);
			if (err)
				return err;
			continue;
		}
		res = sockdup_charge(&u->pending, n, max_user);
		rcu_read_unlock();
		if (res != SOCKDUP_RETIRED)
			break;
		/* Lost against sockdup_quota_gc(): look again. */
	}

	if (res == SOCKDUP_AT_CAP) {
		this_cpu_inc(sockdup_counters->refused_user);
		return -EDQUOT;
	}
	if (sockdup_charge_global(n, max_total) != SOCKDUP_CHARGED) {
		atomic_sub(n, &u->pending);
		this_cpu_inc(sockdup_counters->refused_global);
		return -ENOSPC;
	}
	return 0;
}

/**
 * sockdup_quota_uncharge() - give back the slots of one share
 * @uid: the owner sockdup_quota_charge() charged.
 * @n: the number of slots it took.
 *
 * The record is still there: the slot being given back keeps it from
 * being retired.
 *
 * Context: Any context; takes the RCU read lock, no other lock.
 */
void sockdup_quota_uncharge(kuid_t uid, unsigned int n)
{
	struct sockdup_user *u;

	rcu_read_lock();
	u = sockdup_user_find(uid);
	if (!WARN_ON_ONCE(!u))
		atomic_sub(n, &u->pending);
	rcu_read_unlock();
	atomic_sub(n, &sockdup_pending);
}

/**
 * sockdup_quota_user_pending() - pending sockets charged to a user
 * @uid: the owner, from sockdup_quota_owner().
 *
 * Context: Any context; takes the RCU read lock.
 * Return: the number of slots the pending shares of @uid take.
 */
unsigned int sockdup_quota_user_pending(kuid_t uid)
{
	struct sockdup_user *u;
	int n = 0;

	rcu_read_lock();
	u = sockdup_user_find(uid);
	if (u)
		n = atomic_read(&u->pending);
	rcu_read_unlock();
	return n > 0 ? n : 0;
}

/**
 * sockdup_quota_gc() - free the records of users with nothing pending
 *
 * Context: Process context; takes sockdup_users_lock.
 */
void sockdup_quota_gc(void)
{
	struct sockdup_user *u;
	struct hlist_node *tmp;
	int bkt;

	spin_lock(&sockdup_users_lock);
	hash_for_each_safe(sockdup_users, bkt, tmp, u, node) {
		/* The cmpxchg decides against a concurrent charge. */
		if (atomic_cmpxchg(&u->pending, 0, SOCKDUP_USER_RETIRED) != 0)
			continue;
		hash_del_rcu(&u->node);
		kfree_rcu(u, rcu);
	}
	spin_unlock(&sockdup_users_lock);
}

/**
 * sockdup_quota_exit() - free every user record at unload
 *
 * Context: Process context, module exit, after every share was released.
 */
void sockdup_quota_exit(void)
{
	sockdup_quota_gc();
	WARN_ON(!hash_empty(sockdup_users));
	WARN_ON(atomic_read(&sockdup_pending));
}
