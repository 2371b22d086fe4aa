/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sockdup compat layer: the only place that looks at the kernel version.
 */

#ifndef _SOCKDUP_COMPAT_H
#define _SOCKDUP_COMPAT_H

#include <linux/version.h>

/*
 * Each item below comes after the headers it needs: scripts/upstream.py
 * inlines the items for the kernel tree and adds those headers to the
 * files that use them.
 */

#include <linux/file.h>

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

#include <linux/workqueue.h>

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

#include <linux/slab.h>

/*
 * SOCKDUP_TYPESAFE_CACHE: whether sockdup_cache_create() makes a
 * %SLAB_TYPESAFE_BY_RCU cache.  Such a cache frees an object at once
 * instead of through call_rcu(), but SLUB then keeps its free pointer
 * outside the object, which grows an 80-byte share to 88 bytes, unless the
 * cache names a field inside the object for it: kmem_cache_args'
 * freeptr_offset, from Linux 6.12.  Before 6.12 the cache is an ordinary
 * one and the memory is freed after a grace period.
 */
#if KERNEL_VERSION(6, 12, 0) <= LINUX_VERSION_CODE
#define SOCKDUP_TYPESAFE_CACHE	true
#else
#define SOCKDUP_TYPESAFE_CACHE	false
#endif

/**
 * sockdup_cache_create() - create a slab cache, type-safe by RCU where the
 *	kernel can keep the free pointer inside the object
 * @name: the cache's name.
 * @size: the object's size.
 * @align: its alignment.
 * @freeptr_offset: offset of a pointer-sized, aligned field that is
 *	meaningless in a free object: no RCU reader of a free object reads
 *	it before it has taken a reference.
 * @flags: more %SLAB_* flags.
 *
 * Context: Process context; sleeps.
 * Return: the cache or NULL.
 */
static inline struct kmem_cache *sockdup_cache_create(const char *name,
						      unsigned int size,
						      unsigned int align,
						      unsigned int freeptr_offset,
						      slab_flags_t flags)
{
#if KERNEL_VERSION(6, 12, 0) <= LINUX_VERSION_CODE
	struct kmem_cache_args args = {
		.align = align,
		.freeptr_offset = freeptr_offset,
		.use_freeptr_offset = true,
	};

	return kmem_cache_create(name, size, &args,
				 flags | SLAB_TYPESAFE_BY_RCU);
#else
	return kmem_cache_create(name, size, align, flags, NULL);
#endif
}

/*
 * kzalloc_obj() - kzalloc() sized by the object it points to.  Newer
 * kernels have it (6.12 does not) and checkpatch asks for it there; it is
 * a macro, so it is probed with #ifndef rather than a version.
 */
#ifndef kzalloc_obj
#define kzalloc_obj(P, gfp) kzalloc(sizeof(P), gfp)
#endif

#endif /* _SOCKDUP_COMPAT_H */
