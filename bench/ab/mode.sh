#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Guest side of bench/ab/run.sh (copied into a scratch tree as the "ab"
# mode; not a mode of the repository).  Loads each module variant
# /sockdup/bin/v-NAME.ko in turn, round-robin, runs sockdup-bench on it and
# prints its table lines as "# AB NAME rREP ...".  A variant built with the
# prof patch also dumps /sys/kernel/debug/sockdup_prof.
#
# vm-timeout: 3600

. /sockdup/lib.sh

bench=/sockdup/bin/sockdup-bench
only=${sockdup_ab_only:-floor,sd_same,bd_share,bd_redeem,bd_revoke}
reps=${sockdup_ab_reps:-3}
rounds=${sockdup_ab_rounds:-21}
extra=$(echo "${sockdup_ab_args:-}" | tr ';' ' ')
prof=/sys/kernel/debug/sockdup_prof
rc=0

load()
{
	rmmod sockdup 2>/dev/null
	insmod "$1" && [ -c /dev/sockdup ]
}

r=1
while [ "$r" -le "$reps" ]; do
	for m in /sockdup/bin/v-*.ko; do
		n=${m##*/v-}
		n=${n%.ko}
		load "$m" || { echo "# AB $n r$r INSMOD-FAILED"; rc=1; continue; }
		[ -e "$prof" ] && echo 0 >"$prof"
		# shellcheck disable=SC2086 # $extra holds several options
		$bench --only "$only" --rounds "$rounds" $extra >/tmp/ab.out 2>&1 ||
			{ echo "# AB $n r$r BENCH-FAILED"; rc=1; }
		grep -E '^(floor|sockdup|scm_rights|pidfd|breakdown|scale|concurrency) ' /tmp/ab.out |
			sed "s/^/# AB $n r$r /"
		[ -e "$prof" ] && sed "s/^/# AB $n r$r PROF /" "$prof"
	done
	r=$((r + 1))
done
for mn in $(echo "${sockdup_ab_mem:-}" | tr ',' ' '); do
	for m in /sockdup/bin/v-*.ko; do
		n=${m##*/v-}
		n=${n%.ko}
		load "$m" || continue
		$bench --only memory --rounds 1 --mem-n "$mn" >/tmp/ab.out 2>&1
		grep -E 'meminfo|slab cache' /tmp/ab.out | sed "s/^/# AB $n mem$mn /"
	done
done
load /sockdup/sockdup.ko
if [ "$rc" -eq 0 ]; then
	echo "ok 1 ab: every variant ran"
else
	echo "not ok 1 ab: a variant failed to load or run"
fi
exit "$rc"
