// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup REDEEM: the target turns a cookie into a descriptor for the
 * shared socket (or one per socket of a batch, all or none), at most once.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/fcntl.h>
#include <linux/fdtable.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/wait_bit.h>

#include "compat.h"
#include "sockdup_core.h"

/* Descriptors of a batch REDEEM gathered on the stack rather than kmalloc'd. */
#define SOCKDUP_REDEEM_STACK_FDS	16

/**
 * struct sockdup_redeem_req - what one REDEEM asks for
 * @o_flags: %O_CLOEXEC or 0, for every descriptor.
 * @ufds: with @batch, the caller's array for the descriptors.
 * @room: with @batch, the entries @ufds has room for.
 * @batch: the caller passed &sockdup_redeem.nr_fds (the batch form).
 * @fds: room for the descriptors installed, one per socket of the share.
 */
struct sockdup_redeem_req {
	unsigned int o_flags;
	s32 __user *ufds;
	u32 room;
	bool batch;
	int *fds;
};

/*
 * Whether the caller's descriptor table has room for @n more descriptors
 * below its RLIMIT_NOFILE, as get_unused_fd_flags() would find them.  A
 * snapshot: another thread may take some before the caller installs.
 */
static bool sockdup_fd_room(unsigned int n)
{
	unsigned long limit = rlimit(RLIMIT_NOFILE), used;
	struct fdtable *fdt;

	rcu_read_lock();
	fdt = files_fdtable(current->files);
	/* No descriptor at or above max_fds is open. */
	used = bitmap_weight(fdt->open_fds, min_t(unsigned long, limit,
						  fdt->max_fds));
	rcu_read_unlock();
	return limit - used >= n;
}

/*
 * Before the first descriptor of a batch goes in, find what would make
 * it close installed descriptors again where that can be found ahead:
 * EMFILE, and a @req->ufds that cannot be written (read and written back
 * unchanged).  What is left, an LSM refusing a later socket or another
 * thread taking the room or unmapping the array meanwhile, is undone by
 * sockdup_install().
 */
static int sockdup_install_check(struct sockdup_redeem_req *req,
				 unsigned int n)
{
	size_t size = n * sizeof(*req->fds);

	if (!sockdup_fd_room(n))
		return -EMFILE;
	if (copy_from_user(req->fds, req->ufds, size) ||
	    copy_to_user(req->ufds, req->fds, size))
		return -EFAULT;
	return 0;
}

/*
 * Install every socket of @e for the caller, in order, into @req->fds:
 * all of them or none.  When one fails (an LSM's refusal, or what
 * sockdup_install_check() found no sign of), the descriptors installed
 * before it are closed again, so that the caller's table is as it was.
 */
static int sockdup_install(const struct sockdup_entry *e,
			   struct sockdup_redeem_req *req)
{
	unsigned int i, n = sockdup_entry_nr_files(e);
	int fd;

	if (req->batch) {
		fd = sockdup_install_check(req, n);
		if (fd)
			return fd;
	}
	for (i = 0; i < n; i++) {
		fd = sockdup_receive_fd(sockdup_entry_file(e, i), req->o_flags);
		if (fd < 0)
			goto out_close_installed;
		req->fds[i] = fd;
	}
	/* The batch form reports the descriptors; a fault undoes them all. */
	if (req->batch &&
	    copy_to_user(req->ufds, req->fds, i * sizeof(*req->fds))) {
		fd = -EFAULT;
		goto out_close_installed;
	}
	return 0;

out_close_installed:
	while (i--)
		close_fd(req->fds[i]);
	return fd;
}

/*
 * Try to install @e for the caller.  The PENDING -> CLAIMED cmpxchg makes
 * this REDEEM the only one that may install the share's files; the claim
 * ends either CLAIMED -> DEAD (installed, released as redeemed) or
 * CLAIMED -> PENDING (installing failed: the cookie stays valid).
 * Returns true when another REDEEM held the claim and this one must look
 * again; otherwise *@ret is the new fd (the number of descriptors in the
 * batch form) or a negative errno.
 */
static bool sockdup_redeem_one(struct sockdup_entry *e,
			       struct sockdup_redeem_req *req, int *ret)
{
	int state, err;

	if (sockdup_entry_gone(e, ktime_get_ns())) {
		*ret = -ENOENT;
		return false;
	}
	/* Only a thread of the target; the share stays valid for it. */
	if (e->target != task_tgid(current)) {
		*ret = -EPERM;
		return false;
	}
	/* Never a part of a batch: the caller must take all of it. */
	if (sockdup_entry_nr_files(e) > (req->batch ? req->room : 1)) {
		*ret = -EMSGSIZE;
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

	/* The last fallible step: nothing can fail once the fds are in. */
	err = sockdup_install(e, req);
	if (err) {
		/*
		 * Give the claim back.  Only the claimant moves a share out
		 * of CLAIMED, so this cannot fail; the cmpxchg is also the
		 * full barrier wake_up_var() needs.
		 */
		WARN_ON_ONCE(atomic_cmpxchg(&e->state, SOCKDUP_CLAIMED,
					    SOCKDUP_PENDING) != SOCKDUP_CLAIMED);
		wake_up_var(&e->state);
		*ret = err;
		return false;
	}
	*ret = req->batch ? sockdup_entry_nr_files(e) : req->fds[0];
	/* The claimant is the releaser: CLAIMED -> DEAD cannot fail. */
	WARN_ON_ONCE(!sockdup_entry_release(e, SOCKDUP_CLAIMED,
					    SOCKDUP_REDEEMED));
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
 * Return: the new descriptor, or in the batch form the number of
 * descriptors written to &sockdup_redeem.fds, or a negative errno from
 * the REDEEM errno table; the cookie stays valid for every error but
 * ENOENT.
 */
long sockdup_ioctl_redeem(void __user *uarg, unsigned int usize)
{
	int stack_fds[SOCKDUP_REDEEM_STACK_FDS];
	struct sockdup_redeem_req req = { .fds = stack_fds };
	struct sockdup_redeem karg;
	struct sockdup_entry *e;
	int ret;

	BUILD_BUG_ON(sizeof(karg) != 40 ||
		     offsetof(struct sockdup_redeem, fds) != SOCKDUP_REDEEM_SIZE_VER0);
	ret = sockdup_copy_arg(&karg, sizeof(karg), SOCKDUP_REDEEM_SIZE_VER0,
			       uarg, usize);
	if (ret)
		return ret;
	if ((karg.flags & ~SOCKDUP_REDEEM_FLAGS) || karg.reserved ||
	    karg.reserved2 || (!karg.nr_fds && karg.fds))
		return -EINVAL;
	if (karg.flags & SOCKDUP_REDEEM_CLOEXEC)
		req.o_flags |= O_CLOEXEC;
	req.batch = karg.nr_fds != 0;
	req.room = karg.nr_fds;
	req.ufds = u64_to_user_ptr(karg.fds);

	e = sockdup_entry_lookup(karg.cookie);
	if (!e)
		return -ENOENT;
	if (sockdup_entry_nr_files(e) > ARRAY_SIZE(stack_fds)) {
		req.fds = kvmalloc_array(sockdup_entry_nr_files(e),
					 sizeof(*req.fds), GFP_KERNEL);
		if (!req.fds) {
			ret = -ENOMEM;
			goto out_put_entry;
		}
	}
	while (sockdup_redeem_one(e, &req, &ret))
		;
	if (req.fds != stack_fds)
		kvfree(req.fds);
out_put_entry:
	sockdup_entry_put(e);
	return ret;
}
