#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# bench mode: run sockdup-bench once (all cases interleaved in this boot),
# print its table as TAP comments and its JSON results as
# "@@sockdup json LINE" lines, which bench/run.sh saves on the host as
# build/<release>/bench.json.  The mode fails only when the program fails
# (a case could not run, or the kernel log or taint went dirty); a missed
# performance target never fails it.
#
# Kernel command line knobs (bench/run.sh sets them from the environment):
#   sockdup_bench_quick=1     a few small rounds (proves it works)
#   sockdup_bench_rounds=N    rounds (default 21)
#   sockdup_bench_batch=N     operations per batch (default 1000)
#
# vm-timeout: 2400

. /sockdup/lib.sh

bench=/sockdup/bin/sockdup-bench
out=/tmp/bench.out
json=/tmp/bench.json
set --
[ "${sockdup_bench_quick:-0}" = 1 ] && set -- "$@" --quick
[ -n "${sockdup_bench_rounds:-}" ] && set -- "$@" --rounds "$sockdup_bench_rounds"
[ -n "${sockdup_bench_batch:-}" ] && set -- "$@" --batch "$sockdup_bench_batch"

echo "@@sockdup plan 1"
sockdup_kmsg_mark bench
echo "@@sockdup begin sockdup-bench"
if [ ! -x "$bench" ]; then
	echo "# $bench missing (make bench-bin)"
	rc=127
else
	echo "# sockdup-bench $* --json $json"
	(cd /tmp && sockdup_timeout 2000 "$bench" "$@" --json "$json") >"$out" 2>&1
	rc=$?
	sed 's/^/# /' "$out"
fi
echo "1..1"
if [ "$rc" -eq 0 ] && [ -s "$json" ]; then
	echo "ok 1 sockdup-bench ran every case"
else
	echo "not ok 1 sockdup-bench ran every case (exit status $rc)"
fi
[ "$rc" -eq 124 ] && echo "@@sockdup timeout sockdup-bench 2000"
kern=ok
sockdup_kcheck_since bench || kern=dirty
sockdup_taint_check || kern=dirty
echo "@@sockdup end sockdup-bench rc=$rc kernel=$kern"
[ -s "$json" ] && sed 's/^/@@sockdup json /' "$json"
if [ "$rc" -ne 0 ] || [ "$kern" != ok ]; then
	sockdup_fail "sockdup-bench rc=$rc kernel=$kern"
	exit 1
fi
exit 0
