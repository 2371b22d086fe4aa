/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sockdup compat layer: the only place that looks at the kernel version.
 */

#ifndef _SOCKDUP_COMPAT_H
#define _SOCKDUP_COMPAT_H

#include <linux/file.h>
#include <linux/version.h>
#include <linux/workqueue.h>

/**
 * sockdup_receive_fd() - install a file in the caller's descriptor table
 *	as SCM_RIGHTS does
 * @file: the file; receive_fd() takes its own reference on success.
 * @o_flags: %O_CLOEXEC or 0.
 *
 * receive_fd() runs the LSM file_receive hook, allocates the descriptor,
 * installs the file and updates the socket's cgroup data.  Linux 6.8
 * added a user pointer to write the descriptor to; sockdup returns it as
 * the ioctl's value instead.
 *
 * Context: Process context; may sleep.
 * Return: the new descriptor, or -EMFILE, -ENOMEM or an LSM's errno.
 */
static inline int sockdup_receive_fd(struct file *file, unsigned int o_flags)
{
#if KERNEL_VERSION(6, 8, 0) <= LINUX_VERSION_CODE
	return receive_fd(file, NULL, o_flags);
#else
	return receive_fd(file, o_flags);
#endif
}

/*
 * sockdup_wq - the system workqueue for sockdup's per-cpu work (the
 * sweeper).  Linux 6.17 added system_percpu_wq under that name and from
 * 7.2 on queueing on system_wq logs a deprecation warning.
 */
#if KERNEL_VERSION(6, 17, 0) <= LINUX_VERSION_CODE
#define sockdup_wq system_percpu_wq
#else
#define sockdup_wq system_wq
#endif

#endif /* _SOCKDUP_COMPAT_H */
