#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# vm-root: yes
# vm-timeout: 2400
#
# debug mode, for the debug kernel (selftests/qemu/debug/: KASAN, lockdep,
# kmemleak, DEBUG_OBJECTS, UBSAN, fault injection): the whole test suite
# (faultinject_test walks every ioctl's allocations there), through the
# kernel's run_kselftest.sh when the initramfs holds a kselftest_install
# (the upstream lane's, built in the patched tree; see modes/kselftest.sh),
# from /sockdup/tests otherwise, then a kmemleak scan,
# rounds of the fuzzer with module reloads in between, a kmemleak scan with
# the module loaded and one after rmmod.  Every checker report lands in the
# kernel log, which fails the run (lib.sh, SOCKDUP_BAD_KMSG).
#   sockdup_fuzz_seconds=S (default 150), sockdup_fuzz_rounds=R (default 3)

. /sockdup/lib.sh
SOCKDUP_FUZZ_LIB=1 . /sockdup/modes/fuzz.sh
SOCKDUP_KSFT_LIB=1 . /sockdup/modes/kselftest.sh

rc=0
t0=$(date +%s)
sockdup_kmemleak_start
if [ -d /sockdup/kselftest_install ]; then
	sockdup_run_kselftest || rc=1
else
	sockdup_run_tests /sockdup/tests || rc=1
fi
echo "# debug: test suite in $(($(date +%s) - t0)) s"
sockdup_kmemleak_check "after the test suite" || rc=1

t1=$(date +%s)
# make check TESTS=... without fuzz_test leaves the fuzzer rounds out.
case ",${sockdup_tests:-fuzz_test}," in
*,fuzz_test,*)
	sockdup_fuzz_rounds "${sockdup_fuzz_seconds:-150}" "${sockdup_fuzz_rounds:-3}" || rc=1
	sockdup_kmemleak_check "after fuzzing" || rc=1
	;;
*)
	sockdup_point ok "fuzzer rounds # SKIP fuzz_test not in sockdup_tests"
	;;
esac
sockdup_unload_check || rc=1
echo "# debug: fuzzing and kmemleak in $(($(date +%s) - t1)) s"
exit "$rc"
