// SPDX-License-Identifier: GPL-2.0-only
/*
 * sockdup: hand an open socket to one named process through a cookie.
 *
 * This file holds the module entry points and the misc device with its
 * ioctl dispatch.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include <linux/sockdup.h>

static long sockdup_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	return -ENOTTY;
}

static const struct file_operations sockdup_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= sockdup_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice sockdup_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "sockdup",
	.fops		= &sockdup_fops,
	.mode		= 0666,
};

static int __init sockdup_init(void)
{
	return misc_register(&sockdup_misc);
}

static void __exit sockdup_exit(void)
{
	misc_deregister(&sockdup_misc);
}

module_init(sockdup_init);
module_exit(sockdup_exit);

MODULE_DESCRIPTION("Hand an open socket to one named process through a cookie");
MODULE_LICENSE("GPL");
