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
#include <linux/mm.h>
#include <linux/overflow.h>
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

/* Pin the socket file behind @fd: the file, or EBADF or ENOTSOCK. */
static struct file *sockdup_pin(int fd)
{
	struct file *file = fget(fd);

	if (!file)
		return ERR_PTR(-EBADF);
	if (!sock_from_file(file)) {
		fput(file);
		return ERR_PTR(-ENOTSOCK);
	}
	return file;
}

/* Descriptors of a batch read from the caller per copy_from_user(). */
#define SOCKDUP_PIN_CHUNK	64

/*
 * Pin the @n sockets of a batch, named by the descriptors in the user
 * array @ufds, into a new &struct sockdup_batch: all of them, or none (the
 * error of the first one that fails).  A descriptor closed by another
 * thread while this runs is either pinned or EBADF, as for a single SHARE.
 * The batch is charged to the caller's memory cgroup; at most
 * %SOCKDUP_BATCH_MAX pointers (32 KiB), so kvmalloc() falls back to
 * vmalloc() when memory is fragmented.
 */
static struct sockdup_batch *sockdup_pin_batch(const s32 __user *ufds, u32 n)
{
	s32 chunk[SOCKDUP_PIN_CHUNK];
	struct sockdup_batch *b;
	u32 i = 0, j, k;
	int err;

	b = kvmalloc(struct_size(b, files, n), GFP_KERNEL_ACCOUNT);
	if (!b)
		return ERR_PTR(-ENOMEM);
	while (i < n) {
		k = min_t(u32, n - i, ARRAY_SIZE(chunk));
		if (copy_from_user(chunk, ufds + i, k * sizeof(*chunk))) {
			err = -EFAULT;
			goto out_put_pinned;
		}
		for (j = 0; j < k; j++, i++) {
			b->files[i] = sockdup_pin(chunk[j]);
			if (IS_ERR(b->files[i])) {
				err = PTR_ERR(b->files[i]);
				goto out_put_pinned;
			}
		}
	}
	b->nr = n;
	return b;

out_put_pinned:
	while (i--)
		fput(b->files[i]);
	kvfree(b);
	return ERR_PTR(err);
}

/* The one socket of a batch of one, named by the user array @ufds. */
static struct file *sockdup_pin_one(const s32 __user *ufds)
{
	s32 fd;

	if (get_user(fd, ufds))
		return ERR_PTR(-EFAULT);
	return sockdup_pin(fd);
}

/* Undo sockdup_pin() (@b NULL) or sockdup_pin_batch(). */
static void sockdup_unpin(struct file *file, struct sockdup_batch *b)
{
	u32 i;

	if (!b) {
		fput(file);
		return;
	}
	for (i = 0; i < b->nr; i++)
		fput(b->files[i]);
	kvfree(b);
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
 * @evq: event queue of the /dev/sockdup file the SHARE runs through, or
 *	NULL for a file opened without read access (no events); the
 *	share's end is posted there.
 * @uarg: user pointer to &struct sockdup_share.
 * @usize: its size, from the ioctl command.
 *
 * The cookie and the id are written to the caller, in one copy, before
 * the share is published, so a caller whose structure cannot be written
 * gets EFAULT and no share exists.  A batch
 * (&sockdup_share.nr_fds) pins every socket of its array under one cookie
 * and takes one quota slot per socket.
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
	struct sockdup_batch *batch = NULL;
	struct sockdup_share karg;
	struct sockdup_entry *e;
	struct file *file = NULL;
	struct pid *target;
	kuid_t owner = sockdup_quota_owner(current_cred());
	u64 now, expires;
	u32 ttl_ms, nr;
	int err;

	BUILD_BUG_ON(sizeof(karg) != 56 ||
		     offsetof(struct sockdup_share, fds) != SOCKDUP_SHARE_SIZE_VER0);
	err = sockdup_copy_arg(&karg, sizeof(karg), SOCKDUP_SHARE_SIZE_VER0,
			       uarg, usize);
	if (err)
		return err;
	if ((karg.flags & ~SOCKDUP_SHARE_FLAGS) || karg.id || karg.reserved ||
	    memchr_inv(karg.cookie, 0, sizeof(karg.cookie)))
		return -EINVAL;
	/* A batch names its sockets in @fds only; one socket, in @fd only. */
	if (karg.nr_fds ? karg.fd != -1 || karg.nr_fds > SOCKDUP_BATCH_MAX :
			  karg.fds != 0)
		return -EINVAL;
	ttl_ms = sockdup_share_ttl(karg.ttl_ms);
	if (!ttl_ms)
		return -EINVAL;

	/* A batch of one is a single share. */
	nr = karg.nr_fds ?: 1;
	if (nr > 1)
		batch = sockdup_pin_batch(u64_to_user_ptr(karg.fds), nr);
	else if (karg.nr_fds)
		file = sockdup_pin_one(u64_to_user_ptr(karg.fds));
	else
		file = sockdup_pin(karg.fd);
	if (IS_ERR(batch))
		return PTR_ERR(batch);
	if (IS_ERR(file))
		return PTR_ERR(file);

	target = sockdup_get_target(karg.target_pid);
	if (IS_ERR(target)) {
		err = PTR_ERR(target);
		goto out_put_files;
	}

	err = evq ? sockdup_evq_prepare(evq) : 0;
	if (err)
		goto out_put_target;

	err = sockdup_quota_charge(owner, nr);
	if (err)
		goto out_put_target;

	e = sockdup_entry_alloc();
	if (!e) {
		err = -ENOMEM;
		goto out_uncharge;
	}
	now = ktime_get_ns();
	expires = now + (u64)ttl_ms * NSEC_PER_MSEC;
	if (batch)
		e->batch = (unsigned long)batch | SOCKDUP_BATCH_TAG;
	else
		e->file = file;
	e->target = target;
	e->sharer = get_pid(task_tgid(current));
	e->expires_ns = expires;
	e->ttl_ms = ttl_ms;
	e->sharer_uid = current_uid();
	e->charge_uid = owner;
	e->evq = evq ? sockdup_evq_get(evq) : NULL;

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
	if (e->evq)
		sockdup_evq_put(e->evq);
	put_pid(e->sharer);
	sockdup_entry_free_unpublished(e);
out_uncharge:
	sockdup_quota_uncharge(owner, nr);
out_put_target:
	put_pid(target);
out_put_files:
	sockdup_unpin(file, batch);
	return err;
}
