// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup SHARE: pin a socket's open file for one target process and hand
 * back a cookie.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/net.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "sockdup_core.h"

/*
 * Resolve @nr in the caller's active pid namespace to the thread-group pid
 * of a live process.  A thread id that is not a thread-group leader has no
 * PIDTYPE_TGID task: ESRCH.  A kernel thread never redeems, and init never
 * exits nor redeems: a share for either would pin the socket (and keep its
 * port bound) until its TTL ran out, so kernel threads are refused and init
 * is left to administrators.
 */
static struct pid *sockdup_get_target(pid_t nr)
{
	struct task_struct *leader;
	struct pid *pid = NULL;
	bool init = false;
	int err = -ESRCH;

	if (nr <= 0)
		return ERR_PTR(-ESRCH);

	rcu_read_lock();
	leader = pid_task(find_vpid(nr), PIDTYPE_TGID);
	if (leader && !sockdup_group_exited(leader)) {
		if (leader->flags & PF_KTHREAD) {
			err = -EPERM;
		} else {
			init = is_global_init(leader);
			pid = get_pid(task_tgid(leader));
		}
	}
	rcu_read_unlock();
	if (init && !ns_capable_noaudit(&init_user_ns, CAP_SYS_ADMIN)) {
		put_pid(pid);
		return ERR_PTR(-EPERM);
	}
	return pid ?: ERR_PTR(err);
}

/* The TTL a SHARE asked for, in ms, or 0 if it is above the maximum. */
static u32 sockdup_share_ttl(u32 ttl_ms)
{
	u32 max_ttl = READ_ONCE(sockdup_max_ttl_ms);

	if (!ttl_ms)
		return min(READ_ONCE(sockdup_default_ttl_ms), max_ttl);
	return ttl_ms <= max_ttl ? ttl_ms : 0;
}

/**
 * sockdup_ioctl_share() - %SOCKDUP_IOC_SHARE
 * @evq: event queue of the /dev/sockdup file the SHARE runs through; the
 *	share's end is posted there.
 * @uarg: user pointer to &struct sockdup_share.
 * @usize: its size, from the ioctl command.
 *
 * The cookie and the id are written to the caller, in one copy, before
 * the share is published, so a caller whose structure cannot be written
 * gets EFAULT and no share exists.
 *
 * Context: Process context; sleeps.  Takes sockdup_slots_lock, and
 * sockdup_users_lock for the first share of a user.
 * Return: 0, or a negative errno from the SHARE errno table.
 */
long sockdup_ioctl_share(struct sockdup_evq *evq, void __user *uarg,
			 unsigned int usize)
{
	struct sockdup_share __user *ushare = uarg;
	struct {
		u8 cookie[SOCKDUP_COOKIE_SIZE];
		u64 id;
	} out;
	struct sockdup_share karg;
	struct sockdup_entry *e;
	struct pid *target;
	struct file *file;
	kuid_t owner = sockdup_quota_owner(current_cred());
	u64 now, expires;
	u32 ttl_ms;
	int err;

	err = sockdup_copy_arg(&karg, sizeof(karg), sizeof(karg), uarg, usize);
	if (err)
		return err;
	if ((karg.flags & ~SOCKDUP_SHARE_FLAGS) || karg.id ||
	    memchr_inv(karg.cookie, 0, sizeof(karg.cookie)))
		return -EINVAL;
	ttl_ms = sockdup_share_ttl(karg.ttl_ms);
	if (!ttl_ms)
		return -EINVAL;

	file = fget(karg.fd);
	if (!file)
		return -EBADF;
	if (!sock_from_file(file)) {
		err = -ENOTSOCK;
		goto out_put_file;
	}

	target = sockdup_get_target(karg.target_pid);
	if (IS_ERR(target)) {
		err = PTR_ERR(target);
		goto out_put_file;
	}

	err = sockdup_evq_prepare(evq);
	if (err)
		goto out_put_target;

	err = sockdup_quota_charge(owner);
	if (err)
		goto out_put_target;

	e = sockdup_entry_alloc();
	if (!e) {
		err = -ENOMEM;
		goto out_uncharge;
	}
	now = ktime_get_ns();
	expires = now + (u64)ttl_ms * NSEC_PER_MSEC;
	e->file = file;
	e->target = target;
	e->sharer = get_pid(task_tgid(current));
	e->expires_ns = expires;
	e->ttl_ms = ttl_ms;
	e->sharer_uid = current_uid();
	e->charge_uid = owner;
	e->evq = sockdup_evq_get(evq);

	err = sockdup_entry_insert(e);
	if (err)
		goto out_free_entry;
	/* Cookie and id are adjacent in the ABI: one copy-out. */
	BUILD_BUG_ON(offsetof(struct sockdup_share, id) !=
		     offsetof(struct sockdup_share, cookie) + sizeof(out.cookie));
	sockdup_entry_cookie(e, out.cookie);
	out.id = e->id;
	err = copy_to_user(ushare->cookie, &out, sizeof(out)) ? -EFAULT : 0;
	memzero_explicit(&out, sizeof(out));
	if (err)
		goto out_remove_entry;

	/*
	 * Published: the table owns the entry and its pins, and it may be
	 * released and freed at any moment, so @e is not touched again.
	 */
	sockdup_entry_publish(e);
	sockdup_sweep_kick(expires, now);
	return 0;

out_remove_entry:
	sockdup_entry_remove_unpublished(e);
out_free_entry:
	sockdup_evq_put(e->evq);
	put_pid(e->sharer);
	sockdup_entry_free_unpublished(e);
out_uncharge:
	sockdup_quota_uncharge(owner);
out_put_target:
	put_pid(target);
out_put_file:
	fput(file);
	return err;
}
