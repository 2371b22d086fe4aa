// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup REVOKE and QUERY: the sharer or the target withdraws, declines
 * or inspects a pending share.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "sockdup_core.h"

/* The sharing process and the target process may revoke and query. */
static bool sockdup_may_control(const struct sockdup_entry *e)
{
	struct pid *tgid = task_tgid(current);

	return tgid == e->sharer || tgid == e->target;
}

/*
 * Returns true when a REDEEM held the claim and REVOKE must look again;
 * otherwise *@ret is 0 or a negative errno.
 */
static bool sockdup_revoke_one(struct sockdup_entry *e, int *ret)
{
	if (sockdup_entry_gone(e, ktime_get_ns())) {
		*ret = -ENOENT;
		return false;
	}
	if (!sockdup_may_control(e)) {
		*ret = -EPERM;
		return false;
	}
	/* The PENDING -> DEAD cmpxchg in there makes this the releaser. */
	if (sockdup_entry_release(e, SOCKDUP_PENDING, SOCKDUP_REVOKED)) {
		*ret = 0;
		return false;
	}
	switch (atomic_read(&e->state)) {
	case SOCKDUP_DEAD:
		*ret = -ENOENT;
		return false;
	case SOCKDUP_CLAIMED:
		/* A REDEEM is installing it: revoke only if that fails. */
		*ret = sockdup_entry_wait_claim(e);
		return !*ret;
	default:
		/* Back to PENDING already: try again. */
		return true;
	}
}

/**
 * sockdup_ioctl_revoke() - %SOCKDUP_IOC_REVOKE
 * @uarg: user pointer to &struct sockdup_revoke.
 * @usize: its size, from the ioctl command.
 *
 * The sharer withdraws a share or the target declines it; the pin is
 * dropped and the quota slot given back before this returns.
 *
 * Context: Process context; sleeps while a REDEEM of the share is in
 * progress.  Takes one bucket lock of the cookie table.
 * Return: 0; -ENOENT, -EPERM, -EINVAL or -EFAULT.
 */
long sockdup_ioctl_revoke(void __user *uarg, unsigned int usize)
{
	struct sockdup_revoke karg;
	struct sockdup_entry *e;
	int ret;

	ret = sockdup_copy_arg(&karg, sizeof(karg), uarg, usize);
	if (ret)
		return ret;
	if ((karg.flags & ~SOCKDUP_REVOKE_FLAGS) || karg.reserved)
		return -EINVAL;

	e = sockdup_entry_lookup(karg.cookie);
	if (!e)
		return -ENOENT;
	while (sockdup_revoke_one(e, &ret))
		;
	sockdup_entry_put(e);
	return ret;
}

/**
 * sockdup_ioctl_query() - %SOCKDUP_IOC_QUERY
 * @uarg: user pointer to &struct sockdup_query.
 * @usize: its size, from the ioctl command.
 *
 * Reads what a share holds without consuming it.  A share being redeemed
 * right now is still described.
 *
 * Context: Process context; may fault.  Takes no lock but the RCU read
 * lock (and a bucket lock if the share has expired).
 * Return: 0; -ENOENT, -EPERM, -EINVAL or -EFAULT.
 */
long sockdup_ioctl_query(void __user *uarg, unsigned int usize)
{
	struct sockdup_query __user *uquery = uarg;
	struct sockdup_share_info info;
	struct sockdup_query karg;
	struct sockdup_entry *e;
	u64 now;
	int ret;

	ret = sockdup_copy_arg(&karg, sizeof(karg), uarg, usize);
	if (ret)
		return ret;
	if ((karg.flags & ~SOCKDUP_QUERY_FLAGS) || karg.reserved ||
	    memchr_inv(&karg.info, 0, sizeof(karg.info)))
		return -EINVAL;

	e = sockdup_entry_lookup(karg.cookie);
	if (!e)
		return -ENOENT;
	now = ktime_get_ns();
	if (sockdup_entry_gone(e, now))
		ret = -ENOENT;
	else if (!sockdup_may_control(e))
		ret = -EPERM;
	else
		sockdup_entry_fill_info(e, now, &info);
	sockdup_entry_put(e);
	if (ret)
		return ret;

	if (copy_to_user(&uquery->info, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}
