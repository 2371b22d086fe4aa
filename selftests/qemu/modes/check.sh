#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# vm-root: yes
#
# check mode: run every test program in /sockdup/tests (selftests/*_test.c)
# with the per-program timeout of selftests/settings, checking the kernel
# log and taint after each one.  /init has loaded the module and unloads it
# afterwards.

. /sockdup/lib.sh

sockdup_run_tests /sockdup/tests
