// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup LIST and STATS: what operators see of the pending shares.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "sockdup_core.h"

/* Records gathered before they are copied out together. */
#define SOCKDUP_LIST_BATCH	(PAGE_SIZE / sizeof(struct sockdup_share_info))

/**
 * struct sockdup_lister - state of one LIST
 * @buf: bounce buffer of %SOCKDUP_LIST_BATCH records.
 * @nbuf: records in @buf.
 * @entries: the caller's array.
 * @entry_size: stride of @entries.
 * @capacity: records @entries holds.
 * @count: records copied to @entries so far.
 * @total: visible pending shares seen so far.
 * @admin: the caller sees every share.
 * @uid: otherwise the caller's real uid (sockdup_entry_visible()).
 * @now: ktime_get_ns() at the start of the LIST.
 */
struct sockdup_lister {
	struct sockdup_share_info *buf;
	unsigned int nbuf;
	u8 __user *entries;
	u32 entry_size;
	u32 capacity;
	u32 count;
	u64 total;
	bool admin;
	kuid_t uid;
	u64 now;
};

/* Copy the bounce buffer out.  May fault. */
static int sockdup_list_flush(struct sockdup_lister *l)
{
	const size_t ksize = sizeof(struct sockdup_share_info);
	size_t n = min_t(size_t, ksize, l->entry_size);
	unsigned int i;

	for (i = 0; i < l->nbuf; i++) {
		u8 __user *dst = l->entries + (u64)(l->count + i) * l->entry_size;

		/* A caller of an older ABI gets the fields it knows. */
		if (copy_to_user(dst, &l->buf[i], n))
			return -EFAULT;
		/* Fields of a newer ABI than ours read as zero. */
		if (l->entry_size > ksize &&
		    clear_user(dst + ksize, l->entry_size - ksize))
			return -EFAULT;
	}
	l->count += l->nbuf;
	l->nbuf = 0;
	return 0;
}

/*
 * Account for @e, and describe it if there is room (sockdup_table_walk()).
 * A share past its TTL is released here, as a lookup releases it, so that
 * it leaves STATS.pending and a count-only LIST as it leaves the list.
 */
static int sockdup_list_one(struct sockdup_entry *e, void *arg)
{
	struct sockdup_lister *l = arg;

	if (!l->admin && !sockdup_entry_visible(e, l->uid))
		return 0;
	if (sockdup_entry_gone(e, l->now))
		return 0;
	l->total++;
	if (l->count + l->nbuf >= l->capacity)
		return 0;
	sockdup_entry_fill_info(e, l->now, &l->buf[l->nbuf++]);
	if (l->nbuf < SOCKDUP_LIST_BATCH)
		return 0;
	return sockdup_list_flush(l);
}

/* Walk the table for @l; a count-only walk needs no bounce buffer. */
static int sockdup_list_walk(struct sockdup_lister *l)
{
	int err;

	if (l->capacity) {
		l->buf = kmalloc_array(SOCKDUP_LIST_BATCH, sizeof(*l->buf),
				       GFP_KERNEL);
		if (!l->buf)
			return -ENOMEM;
	}
	l->now = ktime_get_ns();
	err = sockdup_table_walk(sockdup_list_one, l);
	if (!err)
		err = sockdup_list_flush(l);
	kfree(l->buf);
	return err;
}

/**
 * sockdup_ioctl_list() - %SOCKDUP_IOC_LIST
 * @uarg: user pointer to &struct sockdup_list.
 * @usize: its size, from the ioctl command.
 *
 * Describes the pending shares visible to the caller, in table order,
 * each at most once.  Shares made or released while the listing runs may
 * or may not appear.  The listing releases the shares past their TTL it
 * meets: its total counts only shares that can still be redeemed.
 *
 * A count-only LIST (capacity 0) by a caller who sees every share reads
 * the number of shares in the table (sockdup_slots_in_use()) and walks
 * nothing: it counts every share not released yet, so also one past its
 * TTL in the moment before the sweeper (armed for the earliest expiry)
 * releases it, and a SHARE in progress.  A batch counts as one share, as
 * in a listing.  What other callers see depends on the uid their targets
 * run as now, which no counter follows: their count walks the table,
 * allocating nothing.
 *
 * Context: Process context; sleeps.  Walks the cookie table a chunk at a
 * time (sockdup_table_walk()), describing and copying out with no lock held.
 * Return: 0; -EINVAL, -EFAULT or -ENOMEM.
 */
long sockdup_ioctl_list(void __user *uarg, unsigned int usize)
{
	struct sockdup_list __user *ulist = uarg;
	struct sockdup_lister l = {};
	struct sockdup_list karg;
	int err;

	err = sockdup_copy_arg(&karg, sizeof(karg), sizeof(karg), uarg, usize);
	if (err)
		return err;
	if ((karg.flags & ~SOCKDUP_LIST_FLAGS) || karg.count || karg.total ||
	    karg.entry_size < SOCKDUP_SHARE_INFO_SIZE_VER0 ||
	    karg.entry_size > SOCKDUP_LIST_ENTRY_MAX)
		return -EINVAL;

	l.entries = u64_to_user_ptr(karg.entries);
	l.entry_size = karg.entry_size;
	l.capacity = karg.capacity;
	if (l.capacity &&
	    !access_ok(l.entries, (u64)l.capacity * l.entry_size))
		return -EFAULT;
	l.admin = ns_capable_noaudit(&init_user_ns, CAP_SYS_ADMIN);
	l.uid = current_uid();
	if (!l.capacity && l.admin)
		l.total = sockdup_slots_in_use();
	else
		err = sockdup_list_walk(&l);
	if (err)
		return err;

	if (put_user(l.count, &ulist->count) ||
	    put_user(l.total, &ulist->total))
		return -EFAULT;
	return 0;
}

/**
 * sockdup_ioctl_stats() - %SOCKDUP_IOC_STATS
 * @uarg: user pointer to &struct sockdup_stats.
 * @usize: its size, from the ioctl command.
 *
 * Context: Process context; may fault.  Takes the RCU read lock.
 * Return: 0; -EINVAL or -EFAULT.
 */
long sockdup_ioctl_stats(void __user *uarg, unsigned int usize)
{
	struct sockdup_stats karg;
	int cpu, pending;
	int err;

	err = sockdup_copy_arg(&karg, sizeof(karg), sizeof(karg), uarg, usize);
	if (err)
		return err;
	if ((karg.flags & ~SOCKDUP_STATS_FLAGS) || karg.reserved ||
	    memchr_inv(&karg.pending, 0,
		       sizeof(karg) - offsetof(struct sockdup_stats, pending)))
		return -EINVAL;

	/*
	 * The releases first, then the shares: a share is counted before it
	 * can be released (sockdup_entry_publish()), so a reader that sums in
	 * this order sees every share whose release it saw, while shares
	 * come and go on other CPUs.
	 */
	for_each_possible_cpu(cpu) {
		const struct sockdup_counters *c =
			per_cpu_ptr(sockdup_counters, cpu);

		karg.redeemed += READ_ONCE(c->released[SOCKDUP_REDEEMED]);
		karg.expired += READ_ONCE(c->released[SOCKDUP_EXPIRED]);
		karg.revoked += READ_ONCE(c->released[SOCKDUP_REVOKED]);
		karg.reaped += READ_ONCE(c->released[SOCKDUP_REAPED]);
		karg.refused_user += READ_ONCE(c->refused_user);
		karg.refused_global += READ_ONCE(c->refused_global);
	}
	/*
	 * Pairs with the smp_wmb() in sockdup_entry_publish(), which orders
	 * the count of a share before any release of it.
	 */
	smp_rmb();
	for_each_possible_cpu(cpu) {
		const struct sockdup_counters *c =
			per_cpu_ptr(sockdup_counters, cpu);

		karg.shared += READ_ONCE(c->shared);
	}
	pending = atomic_read(&sockdup_pending);
	karg.pending = pending > 0 ? pending : 0;
	karg.user_pending =
		sockdup_quota_user_pending(sockdup_quota_owner(current_cred()));
	karg.max_per_user = READ_ONCE(sockdup_max_per_user);
	karg.max_total = READ_ONCE(sockdup_max_total);

	if (copy_to_user(uarg, &karg, sizeof(karg)))
		return -EFAULT;
	return 0;
}
