// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup LIST and STATS: what operators see of the pending shares.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/err.h>
#include <linux/kernel.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "sockdup_core.h"

/* Records gathered under RCU before they are copied out. */
#define SOCKDUP_LIST_BATCH	(PAGE_SIZE / sizeof(struct sockdup_share_info))

/* Walks restarted because the table was resized before giving up on it. */
#define SOCKDUP_LIST_RETRIES	4

/**
 * struct sockdup_lister - state of one LIST
 * @buf: bounce buffer of %SOCKDUP_LIST_BATCH records, filled under RCU and
 *	copied out with no lock held.
 * @nbuf: records in @buf.
 * @entries: the caller's array.
 * @entry_size: stride of @entries.
 * @capacity: records @entries holds.
 * @count: records copied to @entries so far.
 * @total: visible pending shares seen so far.
 * @admin: the caller sees every share.
 * @euid: otherwise the caller sees the shares of this uid.
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
	kuid_t euid;
	u64 now;
};

/* Copy the bounce buffer out.  Called with no lock held; may fault. */
static int sockdup_list_flush(struct sockdup_lister *l)
{
	const size_t ksize = sizeof(struct sockdup_share_info);
	unsigned int i;

	for (i = 0; i < l->nbuf; i++) {
		u8 __user *dst = l->entries + (u64)(l->count + i) * l->entry_size;

		if (copy_to_user(dst, &l->buf[i], ksize))
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

/* Shares sharer_uid and target_uid are constant: safe under RCU alone. */
static bool sockdup_list_visible(const struct sockdup_lister *l,
				 const struct sockdup_entry *e)
{
	return l->admin || uid_eq(e->sharer_uid, l->euid) ||
	       uid_eq(e->target_uid, l->euid);
}

/* Account for @e, and describe it if there is room.  Under RCU. */
static void sockdup_list_one(struct sockdup_lister *l, struct sockdup_entry *e)
{
	if (!sockdup_list_visible(l, e))
		return;
	/* The reference keeps the socket and the pids for fill_info. */
	if (!refcount_inc_not_zero(&e->ref))
		return;
	if (atomic_read(&e->state) != SOCKDUP_DEAD &&
	    !sockdup_entry_expired(e, l->now)) {
		l->total++;
		if (l->count + l->nbuf < l->capacity)
			sockdup_entry_fill_info(e, l->now, &l->buf[l->nbuf++]);
	}
	sockdup_entry_put(e);
}

/*
 * One walk over the table.  A resize makes rhashtable_walk_*() start over
 * in the new table, which could list shares twice: unless @tolerate_resize,
 * give up with -EAGAIN so the caller starts the listing over.
 */
static int sockdup_list_walk(struct sockdup_lister *l, bool tolerate_resize)
{
	struct rhashtable_iter iter;
	struct sockdup_entry *e;
	int err = 0;

	rhashtable_walk_enter(&sockdup_table, &iter);
	rhashtable_walk_start(&iter);
	while ((e = rhashtable_walk_next(&iter))) {
		if (IS_ERR(e)) {
			if (PTR_ERR(e) == -EAGAIN && tolerate_resize)
				continue;
			err = PTR_ERR(e);
			break;
		}
		sockdup_list_one(l, e);
		if (l->nbuf < SOCKDUP_LIST_BATCH)
			continue;

		rhashtable_walk_stop(&iter);
		err = sockdup_list_flush(l);
		if (err)
			goto out_exit;
		err = rhashtable_walk_start_check(&iter);
		if (err == -EAGAIN && tolerate_resize)
			err = 0;
		if (err)
			break;
	}
	rhashtable_walk_stop(&iter);
	if (!err)
		err = sockdup_list_flush(l);
out_exit:
	rhashtable_walk_exit(&iter);
	return err;
}

/**
 * sockdup_ioctl_list() - %SOCKDUP_IOC_LIST
 * @uarg: user pointer to &struct sockdup_list.
 * @usize: its size, from the ioctl command.
 *
 * Describes the pending shares visible to the caller, in table order.
 * Shares made or released while the listing runs may or may not appear.
 *
 * Context: Process context; sleeps.  Walks the cookie table under RCU and
 * copies out with no lock held.
 * Return: 0; -EINVAL, -EFAULT or -ENOMEM.
 */
long sockdup_ioctl_list(void __user *uarg, unsigned int usize)
{
	struct sockdup_list __user *ulist = uarg;
	struct sockdup_lister l = {};
	struct sockdup_list karg;
	int tries = 0;
	int err;

	err = sockdup_copy_arg(&karg, sizeof(karg), uarg, usize);
	if (err)
		return err;
	if ((karg.flags & ~SOCKDUP_LIST_FLAGS) || karg.count || karg.total ||
	    karg.entry_size < sizeof(struct sockdup_share_info))
		return -EINVAL;

	l.entries = u64_to_user_ptr(karg.entries);
	l.entry_size = karg.entry_size;
	l.capacity = karg.capacity;
	if (l.capacity &&
	    !access_ok(l.entries, (u64)l.capacity * l.entry_size))
		return -EFAULT;
	l.admin = ns_capable_noaudit(&init_user_ns, CAP_SYS_ADMIN);
	l.euid = current_euid();
	l.buf = kmalloc_array(SOCKDUP_LIST_BATCH, sizeof(*l.buf), GFP_KERNEL);
	if (!l.buf)
		return -ENOMEM;

	do {
		l.nbuf = 0;
		l.count = 0;
		l.total = 0;
		l.now = ktime_get_ns();
		err = sockdup_list_walk(&l, tries == SOCKDUP_LIST_RETRIES);
	} while (err == -EAGAIN && tries++ < SOCKDUP_LIST_RETRIES);
	kfree(l.buf);
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

	err = sockdup_copy_arg(&karg, sizeof(karg), uarg, usize);
	if (err)
		return err;
	if ((karg.flags & ~SOCKDUP_STATS_FLAGS) || karg.reserved ||
	    memchr_inv(&karg.pending, 0,
		       sizeof(karg) - offsetof(struct sockdup_stats, pending)))
		return -EINVAL;

	for_each_possible_cpu(cpu) {
		const struct sockdup_counters *c =
			per_cpu_ptr(sockdup_counters, cpu);

		karg.shared += READ_ONCE(c->shared);
		karg.redeemed += READ_ONCE(c->released[SOCKDUP_REDEEMED]);
		karg.expired += READ_ONCE(c->released[SOCKDUP_EXPIRED]);
		karg.revoked += READ_ONCE(c->released[SOCKDUP_REVOKED]);
		karg.reaped += READ_ONCE(c->released[SOCKDUP_REAPED]);
		karg.refused_user += READ_ONCE(c->refused_user);
		karg.refused_global += READ_ONCE(c->refused_global);
	}
	pending = atomic_read(&sockdup_pending);
	karg.pending = pending > 0 ? pending : 0;
	karg.user_pending = sockdup_quota_user_pending(current_euid());
	karg.max_per_user = READ_ONCE(sockdup_max_per_user);
	karg.max_total = READ_ONCE(sockdup_max_total);

	if (copy_to_user(uarg, &karg, sizeof(karg)))
		return -EFAULT;
	return 0;
}
