/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sockdup_skip.h - skip a whole test program when there is no sockdup device
 *
 * Every test program includes this header, directly or through
 * sockdup_util.h.  Before main() it opens /dev/sockdup
 * once.  When the module is not loaded, or the caller may not open the
 * device, the program prints an empty TAP plan with the reason and exits
 * with KSFT_SKIP (4), as kselftest's runner expects, instead of failing
 * every case.  Other errors are left to the tests, which report them.
 */
#ifndef SOCKDUP_SKIP_H
#define SOCKDUP_SKIP_H

#include <linux/sockdup.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "kselftest.h"

static void __attribute__((constructor)) sockdup_skip_without_device(void)
{
	int fd = open(SOCKDUP_DEVICE, O_RDWR | O_CLOEXEC);
	int err = errno;
	const char *what;

	if (fd >= 0) {
		close(fd);
		return;
	}
	switch (err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		what = "load the sockdup module first (modprobe sockdup, or insmod sockdup.ko)";
		break;
	case EACCES:
	case EPERM:
		what = "the tests need root";
		break;
	default:
		return;
	}
	ksft_print_header();
	ksft_exit_skip("%s: %s: %s\n", SOCKDUP_DEVICE, strerror(err), what);
}

#endif /* SOCKDUP_SKIP_H */
