#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# busy-check.sh: `make check` on a fresh clone of HEAD, RUNS times in a
# row, while a CPU hog keeps every core of this machine busy.  It shows
# that no test depends on an idle machine: CI and new users run on busy
# ones.  Each run gets a clone of its own (what CI gets); the debug kernel
# cache is shared, as on any machine that ran make check before.
#
# The hog is one busy loop per CPU at normal priority.  It is started here,
# never outlives HOG_SECONDS (default 4 hours) and is killed when this
# script ends, however it ends.
#
# Usage: scripts/busy-check.sh [RUNS]      (default 3)
# Environment:
#   HOG_SECONDS     upper bound on the hog's life (default 14400)
#   BUSY_DIR        where the clones and logs go (default build/busy-check)
#   anything make check reads (DEBUG_LANE, VM_JOBS, TESTS)
# Prints, per run: make check's result line, its time and each lane's;
# then the slowest waits the tests reported ("# slow wait:" lines: time
# taken against the bound it had) and the timing claims with their bound.
# Exit status: 0 when every run passed.

set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-3}
hog_seconds=${HOG_SECONDS:-14400}
dir=${BUSY_DIR:-$top/build/busy-check}
rev=$(git -C "$top" rev-parse --short HEAD) || exit 2

hogs=()
stop_hog() {
	[ "${#hogs[@]}" -eq 0 ] || kill "${hogs[@]}" 2>/dev/null
	wait "${hogs[@]}" 2>/dev/null
	hogs=()
}
# make check runs in a session of its own: when this script ends early
# (Ctrl-C, kill), the whole check ends with it, guests included.
check=""
# shellcheck disable=SC2317 # called from the EXIT trap
stop_check() {
	[ -z "$check" ] || kill -TERM -- "-$check" 2>/dev/null
	check=""
}
trap 'stop_check; stop_hog' EXIT
trap 'exit 130' INT TERM

rm -rf "$dir"
mkdir -p "$dir"
# What a machine keeps between runs (packages, the cached debug kernel) is
# made before the hog starts: the hog is about the tests, and the kernel
# build runs at nice 10.
"$top/selftests/qemu/deps.sh" || exit 2
if [ "${DEBUG_LANE:-1}" != 0 ]; then
	"$top/selftests/qemu/debug/build-kernel.sh" >/dev/null || exit 2
fi
ncpu=$(nproc)
for ((i = 0; i < ncpu; i++)); do
	timeout "$hog_seconds" sh -c 'while :; do :; done' &
	hogs+=($!)
done
echo "# busy-check of $rev: $runs runs of make check, $ncpu busy loops (pids ${hogs[*]}) for at most $hog_seconds s"

rc=0
for ((r = 1; r <= runs; r++)); do
	clone=$dir/run$r
	git clone -q "$top" "$clone" || exit 2
	git -C "$clone" checkout -q "$rev" || exit 2
	t=$SECONDS
	echo "# run $r: make check in ${clone#"$top"/} (load $(cut -d' ' -f1-3 /proc/loadavg))"
	setsid make -C "$clone" check >"$dir/run$r.log" 2>&1 &
	check=$!
	wait "$check"
	status=$?
	check=""
	[ "$status" = 0 ] || rc=1
	# make -C ends with "Leaving directory": the result is the count line
	echo "#   $(grep -E '^[0-9]+ passed' "$dir/run$r.log" | tail -n 1) (exit $status, $((SECONDS - t)) s)"
	grep -E '^# (lane |make check took|boot [0-9]+ died)' "$dir/run$r.log" | sed 's/^/#   /'
	grep -E '^not ok ' "$dir/run$r.log" | head -n 20 | sed 's/^/#   /'
	alive=0
	for p in "${hogs[@]}"; do
		kill -0 "$p" 2>/dev/null && alive=$((alive + 1))
	done
	[ "$alive" = "$ncpu" ] ||
		echo "#   only $alive of $ncpu busy loops still ran at the end of this run (HOG_SECONDS=$hog_seconds)"
done
stop_hog

# What the tests said about their waits, over every run and lane.
logs=$(ls "$dir"/run*/build/*/verdict-*.log 2>/dev/null)
echo "# the slowest waits (time taken / bound), all runs:"
# shellcheck disable=SC2086
grep -ho '# slow wait: [0-9]* of [0-9]* ms allowed for .*' $logs /dev/null |
	awk '{ printf "%.3f\t%s\n", $4 / $6, $0 }' | sort -rn | head -n 8 |
	cut -f2- | sed 's/^/#   /'
echo "# timing claims closest to their bound (measured / allowed), all runs:"
# shellcheck disable=SC2086
grep -ho '# timing: .*: [0-9-]* ms of the [0-9]* ms allowed.*' $logs /dev/null |
	awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "ms" && $(i + 2) == "of") {
		printf "%.3f\t%s\n", $i / $(i + 4), $0; break } }' |
	sort -rn | head -n 8 | cut -f2- | sed 's/^/#   /'
echo "# busy-check: $([ "$rc" = 0 ] && echo "all $runs runs passed" || echo "a run failed") (logs in ${dir#"$top"/})"
exit "$rc"
