// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup REVOKE and QUERY: the sharer or the target withdraws, declines
 * or inspects a pending share by its cookie; the share's user and the
 * administrator free or inspect it by its id.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/err.h>
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

static bool sockdup_admin(void)
{
	return ns_capable_noaudit(&init_user_ns, CAP_SYS_ADMIN);
}

/*
 * Find a share for REVOKE or QUERY by @cookie, or by @id if @by_id.  By
 * id, a share LIST does not show the caller is not found, and one it shows
 * but that the caller may not act on (@manage: it would release it) is
 * EPERM: by id, a share is the sharing and the target process's, its
 * user's (the uid that made it or is charged for it) and the
 * administrator's.  By cookie, the caller checks sockdup_may_control().
 */
static struct sockdup_entry *sockdup_lookup(const u8 *cookie, u64 id,
					    bool by_id, bool manage)
{
	kuid_t uid = current_uid();
	struct sockdup_entry *e;

	e = by_id ? sockdup_entry_lookup_id(id) : sockdup_entry_lookup(cookie);
	if (!e)
		return ERR_PTR(-ENOENT);
	if (!by_id)
		return e;
	if (sockdup_admin() || sockdup_may_control(e) ||
	    uid_eq(uid, e->sharer_uid) || uid_eq(uid, e->charge_uid))
		return e;
	if (!sockdup_entry_visible(e, uid)) {
		sockdup_entry_put(e);
		return ERR_PTR(-ENOENT);
	}
	if (!manage)
		return e;
	sockdup_entry_put(e);
	return ERR_PTR(-EPERM);
}

/*
 * Returns true when a REDEEM held the claim and REVOKE must look again;
 * otherwise *@ret is 0 or a negative errno.
 */
static bool sockdup_revoke_one(struct sockdup_entry *e, bool by_id, int *ret)
{
	if (sockdup_entry_gone(e, ktime_get_ns())) {
		*ret = -ENOENT;
		return false;
	}
	/* By id, sockdup_lookup() has checked already. */
	if (!by_id && !sockdup_may_control(e)) {
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
 * The sharer withdraws a share or the target declines it; by id, the
 * share's user or the administrator frees it.  The pin is dropped and the
 * quota slot given back before this returns.
 *
 * Context: Process context; sleeps while a REDEEM of the share is in
 * progress.  Takes sockdup_slots_lock.
 * Return: 0; -ENOENT, -EPERM, -EINVAL or -EFAULT.
 */
long sockdup_ioctl_revoke(void __user *uarg, unsigned int usize)
{
	struct sockdup_revoke karg;
	struct sockdup_entry *e;
	bool by_id;
	int ret;

	ret = sockdup_copy_arg(&karg, sizeof(karg), SOCKDUP_REVOKE_SIZE_VER0,
			       uarg, usize);
	if (ret)
		return ret;
	if ((karg.flags & ~SOCKDUP_REVOKE_FLAGS) || karg.reserved)
		return -EINVAL;
	by_id = karg.flags & SOCKDUP_REVOKE_BY_ID;
	if (by_id ? memchr_inv(karg.cookie, 0, sizeof(karg.cookie)) || !karg.id
		  : karg.id != 0)
		return -EINVAL;

	e = sockdup_lookup(karg.cookie, karg.id, by_id, true);
	if (IS_ERR(e))
		return PTR_ERR(e);
	while (sockdup_revoke_one(e, by_id, &ret))
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
 * right now is still described.  A caller of the first version of the
 * structure gets the fields of that version.
 *
 * Context: Process context; sleeps (reads the socket's addresses).  Takes
 * sockdup_slots_lock if the share has expired.
 * Return: 0; -ENOENT, -EPERM, -EINVAL or -EFAULT.
 */
long sockdup_ioctl_query(void __user *uarg, unsigned int usize)
{
	struct sockdup_query __user *uquery = uarg;
	struct sockdup_share_info info;
	struct sockdup_query karg;
	struct sockdup_entry *e;
	bool by_id;
	u64 now;
	int ret;

	BUILD_BUG_ON(offsetof(struct sockdup_query, info) +
		     SOCKDUP_SHARE_INFO_SIZE_VER0 != SOCKDUP_QUERY_SIZE_VER0);
	ret = sockdup_copy_arg(&karg, sizeof(karg), SOCKDUP_QUERY_SIZE_VER0,
			       uarg, usize);
	if (ret)
		return ret;
	if ((karg.flags & ~SOCKDUP_QUERY_FLAGS) || karg.reserved)
		return -EINVAL;
	by_id = karg.flags & SOCKDUP_QUERY_BY_ID;
	/* By id, @info.id is the one input field of @info. */
	if (by_id && (memchr_inv(karg.cookie, 0, sizeof(karg.cookie)) ||
		      !karg.info.id))
		return -EINVAL;
	if (memchr_inv((u8 *)&karg.info + (by_id ? sizeof(karg.info.id) : 0),
		       0, sizeof(karg.info) - (by_id ? sizeof(karg.info.id) : 0)))
		return -EINVAL;

	e = sockdup_lookup(karg.cookie, karg.info.id, by_id, false);
	if (IS_ERR(e))
		return PTR_ERR(e);
	now = ktime_get_ns();
	if (sockdup_entry_gone(e, now))
		ret = -ENOENT;
	else if (!by_id && !sockdup_may_control(e))
		ret = -EPERM;
	else
		sockdup_entry_fill_info(e, now, &info);
	sockdup_entry_put(e);
	if (ret)
		return ret;

	if (copy_to_user(&uquery->info, &info,
			 min_t(size_t, sizeof(info),
			       usize - offsetof(struct sockdup_query, info))))
		return -EFAULT;
	return 0;
}
