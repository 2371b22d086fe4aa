// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup REDEEM: the target turns a cookie into a descriptor for the
 * shared socket, at most once.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fcntl.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/timekeeping.h>
#include <linux/wait_bit.h>

#include "compat.h"
#include "sockdup_core.h"

/*
 * Try to install @e for the caller.  The PENDING -> CLAIMED cmpxchg makes
 * this REDEEM the only one that may install the share's file; the claim
 * ends either CLAIMED -> DEAD (installed, released as redeemed) or
 * CLAIMED -> PENDING (receive_fd() failed: the cookie stays valid).
 * Returns true when another REDEEM held the claim and this one must look
 * again; otherwise *@ret is the new fd or a negative errno.
 */
static bool sockdup_redeem_one(struct sockdup_entry *e, unsigned int o_flags,
			       int *ret)
{
	int state, fd;

	if (sockdup_entry_gone(e, ktime_get_ns())) {
		*ret = -ENOENT;
		return false;
	}
	/* Only a thread of the target; the share stays valid for it. */
	if (e->target != task_tgid(current)) {
		*ret = -EPERM;
		return false;
	}

	state = atomic_cmpxchg(&e->state, SOCKDUP_PENDING, SOCKDUP_CLAIMED);
	if (state == SOCKDUP_DEAD) {
		*ret = -ENOENT;
		return false;
	}
	if (state == SOCKDUP_CLAIMED) {
		*ret = sockdup_entry_wait_claim(e);
		return !*ret;
	}

	/* The last fallible step: nothing can fail once the fd is in. */
	fd = sockdup_receive_fd(e->file, o_flags);
	if (fd < 0) {
		/*
		 * Give the claim back.  Only the claimant moves a share out
		 * of CLAIMED, so this cannot fail; the cmpxchg is also the
		 * full barrier wake_up_var() needs.
		 */
		WARN_ON_ONCE(atomic_cmpxchg(&e->state, SOCKDUP_CLAIMED,
					    SOCKDUP_PENDING) != SOCKDUP_CLAIMED);
		wake_up_var(&e->state);
		*ret = fd;
		return false;
	}
	/* The claimant is the releaser: CLAIMED -> DEAD cannot fail. */
	WARN_ON_ONCE(!sockdup_entry_release(e, SOCKDUP_CLAIMED,
					    SOCKDUP_REDEEMED));
	*ret = fd;
	return false;
}

/**
 * sockdup_ioctl_redeem() - %SOCKDUP_IOC_REDEEM
 * @uarg: user pointer to &struct sockdup_redeem.
 * @usize: its size, from the ioctl command.
 *
 * A REDEEM that finds the share claimed by a concurrent REDEEM of the
 * same target waits for that one to finish, then either gets ENOENT (it
 * succeeded) or tries itself (it failed).
 *
 * Context: Process context; sleeps.  Takes sockdup_slots_lock when the
 * share is released.
 * Return: the new descriptor, or a negative errno from the REDEEM errno
 * table; the cookie stays valid for every error but ENOENT.
 */
long sockdup_ioctl_redeem(void __user *uarg, unsigned int usize)
{
	struct sockdup_redeem karg;
	struct sockdup_entry *e;
	unsigned int o_flags = 0;
	int ret;

	ret = sockdup_copy_arg(&karg, sizeof(karg), sizeof(karg), uarg, usize);
	if (ret)
		return ret;
	if ((karg.flags & ~SOCKDUP_REDEEM_FLAGS) || karg.reserved)
		return -EINVAL;
	if (karg.flags & SOCKDUP_REDEEM_CLOEXEC)
		o_flags |= O_CLOEXEC;

	e = sockdup_entry_lookup(karg.cookie);
	if (!e)
		return -ENOENT;
	while (sockdup_redeem_one(e, o_flags, &ret))
		;
	sockdup_entry_put(e);
	return ret;
}
