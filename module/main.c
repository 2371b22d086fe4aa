// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup: hand an open socket to one named process through a cookie.
 *
 * This file holds the module parameters, the misc device /dev/sockdup and
 * its ioctl dispatch, and module load and unload.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/ioctl.h>
#include <linux/limits.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/poll.h>

#include <linux/sockdup.h>

#include "sockdup_core.h"

/*
 * Module parameters.  Root may change them at runtime through
 * /sys/module/sockdup/parameters/; each is read once per use with
 * READ_ONCE(), and new values apply to the next SHARE (caps, TTLs) or the
 * next sweep (sweep_ms).  Out-of-range writes are refused with EINVAL.
 */
unsigned int sockdup_default_ttl_ms = 60000;
unsigned int sockdup_max_ttl_ms = 3600000;
unsigned int sockdup_max_per_user = 4096;
unsigned int sockdup_max_total = 65536;
unsigned int sockdup_reserve_total = 1024;
unsigned int sockdup_sweep_ms = 1000;

#define SOCKDUP_UINT_PARAM(name, min, max)				\
static int sockdup_set_##name(const char *val,				\
			      const struct kernel_param *kp)		\
{									\
	return param_set_uint_minmax(val, kp, min, max);		\
}									\
static const struct kernel_param_ops sockdup_##name##_ops = {		\
	.set = sockdup_set_##name,					\
	.get = param_get_uint,						\
};									\
module_param_cb(name, &sockdup_##name##_ops, &sockdup_##name, 0644)

SOCKDUP_UINT_PARAM(default_ttl_ms, 1, UINT_MAX);
MODULE_PARM_DESC(default_ttl_ms,
		 "TTL in ms of a share made with ttl_ms 0, capped by max_ttl_ms (default 60000)");
SOCKDUP_UINT_PARAM(max_ttl_ms, 1, UINT_MAX);
MODULE_PARM_DESC(max_ttl_ms,
		 "Largest TTL in ms a SHARE may ask for; larger is EINVAL (default 3600000)");
SOCKDUP_UINT_PARAM(max_per_user, 0, INT_MAX);
MODULE_PARM_DESC(max_per_user,
		 "Pending sockets per user (the sharer's real uid, or the owner of its user namespace; a batch of N counts N); more is EDQUOT (default 4096)");
SOCKDUP_UINT_PARAM(max_total, 0, SOCKDUP_TABLE_MAX_SHARES);
MODULE_PARM_DESC(max_total,
		 "Pending sockets in total (a batch of N counts N); more is ENOSPC (default 65536, at most 262144)");
SOCKDUP_UINT_PARAM(reserve_total, 0, SOCKDUP_TABLE_MAX_SHARES);
MODULE_PARM_DESC(reserve_total,
		 "Slots of max_total only callers with CAP_SYS_RESOURCE may take (default 1024)");
static int sockdup_set_sweep_ms(const char *val, const struct kernel_param *kp)
{
	int err = param_set_uint_minmax(val, kp, 10, 60000);

	/* A shorter period applies now, not after the sweep already armed. */
	if (!err)
		sockdup_sweep_period_changed();
	return err;
}

static const struct kernel_param_ops sockdup_sweep_ms_ops = {
	.set = sockdup_set_sweep_ms,
	.get = param_get_uint,
};

module_param_cb(sweep_ms, &sockdup_sweep_ms_ops, &sockdup_sweep_ms, 0644);
MODULE_PARM_DESC(sweep_ms,
		 "Sweep period in ms; a share whose target exited is released within 2 * sweep_ms (default 1000, range 10-60000)");

/* The command without its size field: the size is the caller's version. */
#define SOCKDUP_IOC_BASE(cmd)	((cmd) & ~IOCSIZE_MASK)

static long sockdup_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	unsigned int usize = _IOC_SIZE(cmd);

	switch (SOCKDUP_IOC_BASE(cmd)) {
	case SOCKDUP_IOC_BASE(SOCKDUP_IOC_SHARE):
		return sockdup_ioctl_share(file->private_data, uarg, usize);
	case SOCKDUP_IOC_BASE(SOCKDUP_IOC_REDEEM):
		return sockdup_ioctl_redeem(uarg, usize);
	case SOCKDUP_IOC_BASE(SOCKDUP_IOC_REVOKE):
		return sockdup_ioctl_revoke(uarg, usize);
	case SOCKDUP_IOC_BASE(SOCKDUP_IOC_QUERY):
		return sockdup_ioctl_query(uarg, usize);
	case SOCKDUP_IOC_BASE(SOCKDUP_IOC_STATS):
		return sockdup_ioctl_stats(uarg, usize);
	case SOCKDUP_IOC_BASE(SOCKDUP_IOC_LIST):
		return sockdup_ioctl_list(uarg, usize);
	default:
		return -ENOTTY;
	}
}

/*
 * Every share lives in the cookie table, independent of the descriptor it
 * was made through; an open file only has the queue of events about the
 * shares made through it (events.c), if it was opened for reading: a file
 * that cannot read() has no queue, and its shares post nothing.  An open
 * descriptor holds the module (.owner), so unload never races an ioctl, a
 * read or a poll.
 */
static int sockdup_open(struct inode *inode, struct file *file)
{
	/* Replaces the miscdevice pointer misc_open() put there. */
	file->private_data = NULL;
	if (!(file->f_mode & FMODE_READ))
		return 0;
	file->private_data = sockdup_evq_alloc();
	if (!file->private_data)
		return -ENOMEM;
	return 0;
}

static int sockdup_release(struct inode *inode, struct file *file)
{
	if (file->private_data)
		sockdup_evq_close(file->private_data);
	return 0;
}

static ssize_t sockdup_read(struct file *file, char __user *buf,
			    size_t count, loff_t *ppos)
{
	return sockdup_evq_read(file->private_data, buf, count,
				file->f_flags & O_NONBLOCK);
}

static __poll_t sockdup_poll(struct file *file, poll_table *wait)
{
	/* Opened without read access: nothing is ever queued. */
	if (!file->private_data)
		return 0;
	return sockdup_evq_poll(file->private_data, file, wait);
}

static const struct file_operations sockdup_fops = {
	.owner		= THIS_MODULE,
	.open		= sockdup_open,
	.release	= sockdup_release,
	.read		= sockdup_read,
	.poll		= sockdup_poll,
	.unlocked_ioctl	= sockdup_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

/* Mode 0666: any user may share its own sockets and redeem its cookies. */
static struct miscdevice sockdup_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "sockdup",
	.fops		= &sockdup_fops,
	.mode		= 0666,
};

static int __init sockdup_init(void)
{
	int err;

	err = sockdup_table_init();
	if (err)
		return err;

	err = misc_register(&sockdup_misc);
	if (err)
		goto out_destroy_table;
	return 0;

out_destroy_table:
	sockdup_table_destroy();
	return err;
}

static void __exit sockdup_exit(void)
{
	misc_deregister(&sockdup_misc);
	sockdup_sweep_stop();
	sockdup_table_destroy();
	sockdup_quota_exit();
}

module_init(sockdup_init);
module_exit(sockdup_exit);

MODULE_DESCRIPTION("Hand an open socket to one named process through a single-use cookie");
MODULE_LICENSE("GPL");
MODULE_VERSION(SOCKDUP_VERSION);
