#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# vm-timeout: 1200
#
# fuzz mode: rounds of the ioctl fuzzer (build/tests/fuzz_test) with an
# unload and reload of the module between rounds, then kmemleak scans with
# the module loaded and again after rmmod.  Kernel command line knobs:
#   sockdup_fuzz_seconds=S  total fuzzing time (default 120)
#   sockdup_fuzz_rounds=R   rounds, module reloaded between them (default 4)
#   sockdup_fuzz_seed=N     seed of round 1; round r uses N + r - 1
#   sockdup_fuzz_threads=T sockdup_fuzz_procs=P   (default 3 and 3)
# make fuzz FUZZ_SECONDS=... runs this mode in the debug kernel.
#
# Sourced with SOCKDUP_FUZZ_LIB=1 (by debug.sh) it only defines the helpers.

. /sockdup/lib.sh

SOCKDUP_KMEMLEAK=/sys/kernel/debug/kmemleak

# sockdup_kmemleak_scan: wait until objects are old enough to be reported
# (kmemleak ignores objects younger than 5 s), then scan twice (a single
# scan can miss objects whose only reference sat in a register or a stack).
sockdup_kmemleak_scan()
{
	sleep 6
	echo scan >"$SOCKDUP_KMEMLEAK"
	echo scan >"$SOCKDUP_KMEMLEAK"
}

# sockdup_kmemleak_start: forget whatever kmemleak has seen before.
sockdup_kmemleak_start()
{
	[ -w "$SOCKDUP_KMEMLEAK" ] || return 0
	echo clear >"$SOCKDUP_KMEMLEAK"
}

# sockdup_kmemleak_check WHEN: scan and fail on any unreferenced object.
# Objects sockdup allocated have a backtrace frame in [sockdup] or, once
# the module is gone, one that kallsyms cannot name (unloaded module text).
# A missing fput() or put_pid() leaks objects that others allocated (a
# socket, its inode and dentry), so every leak counts: the kernel leaks
# nothing on its own here (the scan starts from "clear").
sockdup_kmemleak_check()
{
	local when=$1 t0 ours others
	if [ ! -w "$SOCKDUP_KMEMLEAK" ]; then
		sockdup_point ok "kmemleak $when # SKIP kernel without CONFIG_DEBUG_KMEMLEAK"
		return 0
	fi
	t0=$(date +%s)
	sockdup_kmemleak_scan
	cat "$SOCKDUP_KMEMLEAK" >"$SOCKDUP_STATE/kmemleak.txt"
	echo clear >"$SOCKDUP_KMEMLEAK"
	awk -v ours="$SOCKDUP_STATE/kmemleak.ours" -v others="$SOCKDUP_STATE/kmemleak.others" '
		function flush() {
			if (rec == "")
				return
			if (mine)
				printf "%s", rec >ours
			else
				printf "%s", rec >others
			rec = ""
			mine = 0
		}
		/^unreferenced object/ { flush() }
		{ rec = rec $0 "\n" }
		/\[sockdup\]/ || /[[:space:]]0xffffffff[0-9a-f]+$/ { mine = 1 }
		END { flush() }' "$SOCKDUP_STATE/kmemleak.txt"
	ours=$(grep -c '^unreferenced object' "$SOCKDUP_STATE/kmemleak.ours" 2>/dev/null)
	others=$(grep -c '^unreferenced object' "$SOCKDUP_STATE/kmemleak.others" 2>/dev/null)
	ours=${ours:-0}
	others=${others:-0}
	echo "# kmemleak $when: $ours objects allocated by sockdup, $others others ($(($(date +%s) - t0)) s)"
	[ "$ours" -eq 0 ] ||
		head -n 80 "$SOCKDUP_STATE/kmemleak.ours" | sed 's/^/# sockdup leak: /'
	[ "$others" -eq 0 ] ||
		head -n 60 "$SOCKDUP_STATE/kmemleak.others" | sed 's/^/# leak: /'
	rm -f "$SOCKDUP_STATE/kmemleak.ours" "$SOCKDUP_STATE/kmemleak.others"
	if [ $((ours + others)) -gt 0 ]; then
		sockdup_point fail "kmemleak $when: $((ours + others)) unreferenced objects ($ours allocated by sockdup)"
		return 1
	fi
	sockdup_point ok "kmemleak $when: no unreferenced object"
	return 0
}

# sockdup_reload: rmmod and insmod again (nothing may hold the module).
sockdup_reload()
{
	if ! rmmod sockdup; then
		sockdup_point fail "rmmod between rounds: refcnt $(cat /sys/module/sockdup/refcnt 2>/dev/null)"
		return 1
	fi
	# shellcheck disable=SC2086 # word splitting of the parameters is wanted
	if ! insmod /sockdup/sockdup.ko ${sockdup_insmod:-} || [ ! -c /dev/sockdup ]; then
		sockdup_point fail "insmod between rounds"
		return 1
	fi
	return 0
}

# sockdup_unload_check: rmmod, kmemleak scan without the module, insmod
# again for /init's own unload checks.
sockdup_unload_check()
{
	local rc=0
	if ! rmmod sockdup; then
		sockdup_point fail "rmmod before the kmemleak scan: refcnt $(cat /sys/module/sockdup/refcnt 2>/dev/null)"
		return 1
	fi
	sockdup_kmemleak_check "after rmmod" || rc=1
	# shellcheck disable=SC2086 # word splitting of the parameters is wanted
	if ! insmod /sockdup/sockdup.ko ${sockdup_insmod:-}; then
		sockdup_point fail "insmod after the kmemleak scan"
		rc=1
	fi
	return "$rc"
}

# sockdup_fuzz_rounds SECONDS ROUNDS: the fuzzer for SECONDS in total,
# split in ROUNDS runs with a module reload between two runs.
sockdup_fuzz_rounds()
{
	local total=$1 rounds=$2 per r=1 seed rc=0 t0
	per=$((total / rounds))
	[ "$per" -ge 5 ] || per=5
	seed=${sockdup_fuzz_seed:-$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')}
	echo "# fuzz: $rounds rounds of $per s, seeds $seed.. (reproduce a round with"
	echo "#   make fuzz FUZZ_SEED=<its seed> FUZZ_SECONDS=$per FUZZ_ROUNDS=1)"
	t0=$(date +%s)
	export SOCKDUP_FUZZ_SECONDS=$per
	export SOCKDUP_FUZZ_THREADS=${sockdup_fuzz_threads:-3}
	export SOCKDUP_FUZZ_PROCS=${sockdup_fuzz_procs:-3}
	export SOCKDUP_FUZZ_PARAMS=1
	while [ "$r" -le "$rounds" ]; do
		export SOCKDUP_FUZZ_SEED=$((seed + r - 1))
		# the fuzzer stops its workers and waits for reaping after its
		# time is up: 180 s more at time factor 1
		sockdup_run_test /sockdup/tests/fuzz_test \
			$((per + 180 * ${SOCKDUP_TIME_FACTOR:-1})) || rc=1
		if [ "$r" -lt "$rounds" ]; then
			sockdup_reload || rc=1
		fi
		r=$((r + 1))
	done
	unset SOCKDUP_FUZZ_SECONDS SOCKDUP_FUZZ_SEED SOCKDUP_FUZZ_THREADS \
		SOCKDUP_FUZZ_PROCS SOCKDUP_FUZZ_PARAMS
	echo "# fuzz: $rounds rounds in $(($(date +%s) - t0)) s"
	return "$rc"
}

sockdup_fuzz_main()
{
	local rc=0
	if [ ! -x /sockdup/tests/fuzz_test ]; then
		sockdup_point fail "no /sockdup/tests/fuzz_test"
		return 1
	fi
	sockdup_kmemleak_start
	sockdup_kmsg_mark tests
	sockdup_fuzz_rounds "${sockdup_fuzz_seconds:-120}" "${sockdup_fuzz_rounds:-4}" || rc=1
	sockdup_kmemleak_check "after fuzzing" || rc=1
	sockdup_unload_check || rc=1
	return "$rc"
}

if [ -z "${SOCKDUP_FUZZ_LIB:-}" ]; then
	sockdup_fuzz_main
	exit $?
fi
