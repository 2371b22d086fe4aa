#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make check`: the whole test lane, in order.
#   1. dependencies (selftests/qemu/deps.sh; stops here if it fails)
#   2. style: checkpatch.pl --strict and kernel-doc over module/ and uapi/
#   3. builds: test and VM programs; sockdup.ko for every kernel with W=1
#      (any compiler or modpost warning fails)
#   4. the VM run (mode check) on every kernel: selftests/qemu/run-vm.sh
#      (6.1 and 6.12 installed from bookworm; the newest 7.x image of
#      trixie-backports, downloaded and prepared by
#      selftests/qemu/newest/kernel.sh before step 3, never installed, about
#      2 min on a first run, NEWEST_LANE=0 skips it; there in mode
#      kselftest: the suite built by kselftest's lib.mk in that kernel's
#      source tree and run by its run_kselftest.sh, program by program,
#      with the same checks in between);
#      and on the debug kernel (the newest linux-source-7.x with KASAN,
#      lockdep and friends, built and cached before step 3 by
#      selftests/qemu/debug/build-kernel.sh) in mode debug: the suite
#      through the kernel's run_kselftest.sh, the fuzzer and kmemleak, with
#      the sockdup.ko and kselftest_install that the upstream lane built in
#      the patched tree.  The first run on a machine builds that kernel
#      (about 25 min on 2 busy cores), later runs find it in the cache.
#      DEBUG_LANE=0 skips it.
#   3b. the upstream lane (selftests/upstream/check.sh, before step 3):
#      `make upstream`'s series applied with git am to the pristine
#      linux-source-7.x, checkpatch.pl --strict per patch, kernel-doc on
#      what the documentation pulls in, and drivers/misc/sockdup/ built
#      in-tree with CONFIG_SOCKDUP=m, W=1 and sparse against the debug
#      kernel's tree (about 3 min).  UPSTREAM_LANE=0 skips it.
#   5. the packaging lane (selftests/packaging/run.sh), beside the last VM
#      runs: make deb and lintian, apt-get install of the packages, DKMS
#      builds for every kernel, a VM per kernel that modprobes the DKMS
#      module and runs the installed tool and a pkg-config-built program,
#      an upgrade, a purge that leaves nothing behind (about 5 min; needs
#      root; one at a time per machine).  PKG_LANE=0 skips it.
#   6. host-side unit tests: every target of the Makefile's unit-y hook
# Every step is a test result; the last line is "N passed, N failed" (plus
# ", N skipped"), counted over all steps and all kernels.  Exit status 1 if
# anything failed.
#
# Environment (set by the Makefile): KERNELS (releases, series or kernel
# directories), UNIT (unit-y targets), TESTS (only these test programs,
# comma-separated), DEBUG_LANE, PKG_LANE, NEWEST_LANE, UPSTREAM_LANE, VM_JOBS (VM runs at a
# time, default 2; 1 with V=1), V.

set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 2
build=$top/build
mkdir -p "$build"

export W=1
V=${V:-0}
mflags=()
[ "$V" = 1 ] || mflags=(--no-print-directory)

pass=0
fail=0
skip=0
n=0
start=$SECONDS

result() {	# result 0|1 description
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		pass=$((pass + 1))
		echo "ok $n $2"
	else
		fail=$((fail + 1))
		echo "not ok $n $2"
	fi
}

indent() { sed 's/^/#   /'; }

# add_counts FILE: add a lane's "pass=N fail=N skip=N" line to the totals;
# 1 when the lane left no such file.
add_counts() {
	local p f s
	[ -f "$1" ] || return 1
	read -r p f s < <(sed -n 's/.* pass=\([0-9]*\) fail=\([0-9]*\) skip=\([0-9]*\).*/\1 \2 \3/p' "$1")
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0}))
	skip=$((skip + ${s:-0}))
}

# Run a command with its output in a log; print the log when it fails (or
# always with V=1).  Returns the command's status.
logged() {	# logged LOG command...
	local log=$1 rc
	shift
	"$@" >"$log" 2>&1
	rc=$?
	if [ "$rc" != 0 ] || [ "$V" = 1 ]; then
		indent <"$log"
	fi
	return "$rc"
}

main() {
	# This run's logs: build/check.PID/ while it runs (several checks may
	# share a tree), then build/check/.
	logs=$build/check.$$
	rm -rf "$logs"
	mkdir -p "$logs"
	trap 'rm -rf "$build/check"; mv "$logs" "$build/check" 2>/dev/null' EXIT

	if ! selftests/qemu/deps.sh; then
		echo "deps failed: cannot test"
		echo "0 passed, 1 failed"
		exit 1
	fi

	# Every supported kernel line must be there: a missing one fails.
	local kernels_ok=0
	if [ -n "${KERNELS:-}" ]; then
		read -r -a kernels <<<"$KERNELS"
	else
		local list
		list=$(selftests/qemu/kernels.sh) || kernels_ok=1
		read -r -a kernels <<<"$(echo $list)"
	fi
	if [ "${#kernels[@]}" -eq 0 ] || [ "$kernels_ok" != 0 ]; then
		echo "not all supported kernels are installed (selftests/qemu/kernels.sh)"
		echo "0 passed, 1 failed"
		exit 1
	fi

	echo "# style"
	logged "$logs/style-checkpatch.log" scripts/style.sh checkpatch
	result $? "checkpatch.pl --strict: module/*.[ch] uapi/linux/*.h"
	logged "$logs/style-kernel-doc.log" scripts/style.sh kernel-doc
	result $? "kernel-doc -none -Wall: module/*.[ch] uapi/linux/*.h"

	# The newest kernel line (7.x from trixie-backports): downloaded and
	# prepared once per version, cached outside the clone
	# (selftests/qemu/newest/); NEWEST_LANE=0 skips it.  Its lane runs the
	# suite through the kernel's own kselftest runner (mode kselftest).
	newest_kernel=""
	if [ "${NEWEST_LANE:-1}" != 0 ]; then
		echo "# newest kernel"
		t=$SECONDS
		logged "$logs/newest-kernel.log" selftests/qemu/newest/kernel.sh
		rc=$?
		entry=$(tail -n 1 "$logs/newest-kernel.log")
		if [ "$rc" = 0 ] && [ -f "$entry/release" ]; then
			result 0 "newest kernel $(cat "$entry/release"): $(cat "$entry/describe") ($((SECONDS - t)) s)"
			kernels+=("$entry")
			newest_kernel=$entry
		else
			result 1 "newest kernel line: no prepared kernel (see the log above)"
		fi
	fi

	# The debug kernel (KASAN, lockdep, kmemleak, fault injection): built once,
	# cached outside the clone (selftests/qemu/debug/); DEBUG_LANE=0 skips it.
	debug_kernel=""
	if [ "${DEBUG_LANE:-1}" != 0 ]; then
		echo "# debug kernel"
		t=$SECONDS
		logged "$logs/debug-kernel.log" selftests/qemu/debug/build-kernel.sh
		rc=$?
		result "$rc" "debug kernel $(selftests/qemu/debug/build-kernel.sh --dir) ($((SECONDS - t)) s)"
		if [ "$rc" = 0 ]; then
			debug_kernel=$(selftests/qemu/debug/build-kernel.sh --dir)
			# First in the queue: the longest lane.
			kernels=("$debug_kernel" "${kernels[@]}")
		fi
	fi

	# The upstream lane: the patch series checked and built in the tree
	# (selftests/upstream/); its sockdup.ko and kselftest_install are the
	# debug lane's.
	upstream_ko="" upstream_ksft=""
	if [ "${UPSTREAM_LANE:-1}" != 0 ]; then
		echo "# upstream"
		selftests/upstream/check.sh $debug_kernel >"$logs/upstream.log" 2>&1
		# The details (indented lines) only when something failed.
		if [ "$V" = 1 ] || grep -q '^not ok' "$logs/upstream.log"; then
			cat "$logs/upstream.log"
		else
			grep -v '^#   ' "$logs/upstream.log"
		fi
		add_counts build/upstream-lane/result ||
			result 1 "upstream lane: no result (see build/check/upstream.log)"
		if [ -n "$debug_kernel" ] && [ -f build/upstream-lane/sockdup.ko ] &&
		   [ -x build/upstream-lane/kselftest_install/run_kselftest.sh ]; then
			upstream_ko=$top/build/upstream-lane/sockdup.ko
			upstream_ksft=$top/build/upstream-lane/kselftest_install
		fi
	fi

	echo "# build"
	# Builds run at normal priority: niced, they would wait behind every
	# other task of a busy machine and the check would take hours.
	exec 9>"$build/.lock"
	flock 9
	logged "$logs/build-programs.log" make "${mflags[@]}" tests vmbins vmroot
	programs=$?
	result "$programs" "test programs (build/tests), VM programs (build/bin) and files (build/vmroot)"

	declare -A built
	local -a releases=()
	for k in "${kernels[@]}"; do
		# The same resolution as run-vm.sh: a series, a release or a directory.
		kdir=""
		rel=$k
		if [[ $k =~ ^[0-9]+\.[0-9]+$ ]]; then
			rel=$(selftests/qemu/kernels.sh "$k" 2>/dev/null)
		fi
		if [ -d "$k/build" ]; then
			kdir=$k/build
		elif [ -d "$k" ]; then
			kdir=$k
		elif [ -n "$rel" ] && [ -d "/usr/src/linux-headers-$rel" ]; then
			kdir=/usr/src/linux-headers-$rel
			releases+=("$rel")
		fi
		if [ -z "$kdir" ]; then
			result 1 "sockdup.ko for $k: no such kernel"
			continue
		fi
		[ ! -f "$k/release" ] || rel=$(cat "$k/release")
		# The debug kernel boots the module the upstream lane built in
		# its tree (CONFIG_SOCKDUP=m); without it, one built out of tree.
		if [ "$k" = "$debug_kernel" ] && [ -n "$upstream_ko" ]; then
			built[$k]=1
			continue
		fi
		log=$logs/build-module-$(basename "$rel").log
		make "${mflags[@]}" module KDIR="$kdir" >"$log" 2>&1
		rc=$?
		[ "$V" = 1 ] && indent <"$log"
		if [ "$rc" != 0 ]; then
			indent <"$log"
			result 1 "sockdup.ko for $rel with W=1: build failed"
		elif grep -qiE 'warning:|error:' "$log"; then
			grep -iE 'warning:|error:' "$log" | indent
			result 1 "sockdup.ko for $rel with W=1: warnings"
		else
			result 0 "sockdup.ko for $rel with W=1: no warnings"
			built[$k]=1
		fi
	done
	flock -u 9

	# The VM lanes run VM_JOBS at a time (default 2): most of a run is
	# spent in the tests' sleeps (TTLs, sweeps), not on the CPU.  Their
	# reports are printed in order once all are done.
	local jobs=${VM_JOBS:-2} running=0 i=0
	[ "$V" != 1 ] || jobs=1
	local -a lane_k=() lane_mode=() lane_out=() lane_res=() lane_t=()
	for k in "${kernels[@]}"; do
		if [ -z "${built[$k]:-}" ] || [ "$programs" != 0 ]; then
			result 1 "VM run on $k: skipped, its build failed"
			continue
		fi
		# The debug kernel runs the suite, the fuzzer and kmemleak (mode debug).
		mode=check
		extra=()
		local -a env=()
		if [ "$k" = "$debug_kernel" ]; then
			mode=debug
			extra=(kasan_multi_shot)
			[ -z "$upstream_ko" ] ||
				env=(SOCKDUP_KO="$upstream_ko" SOCKDUP_KSFT_INSTALL="$upstream_ksft")
		fi
		[ "$k" != "$newest_kernel" ] || mode=kselftest
		[ -z "${TESTS:-}" ] || extra+=("sockdup_tests=$TESTS")
		res=$logs/result-$mode-$(basename "$k")
		out=$logs/report-$mode-$(basename "$k")
		rm -f "$res" "$out"
		if [ "$running" -ge "$jobs" ]; then
			wait -n
			running=$((running - 1))
		fi
		lane_k[i]=$k lane_mode[i]=$mode lane_out[i]=$out lane_res[i]=$res
		lane_t[i]=$SECONDS
		if [ "$jobs" = 1 ]; then
			env "${env[@]}" SOCKDUP_NO_BUILD=1 SOCKDUP_RESULT=$res \
				selftests/qemu/run-vm.sh "$k" "$mode" "${extra[@]}" 2>&1 | tee "$out"
			echo "# lane $(basename "$k") ($mode) took $((SECONDS - lane_t[i])) s" |
				tee -a "$out"
		else
			echo "  VM      $(basename "$k") $mode (report: build/check/${out##*/})"
			(
				env "${env[@]}" SOCKDUP_NO_BUILD=1 SOCKDUP_RESULT=$res \
					selftests/qemu/run-vm.sh "$k" "$mode" "${extra[@]}"
				echo "# lane $(basename "$k") ($mode) took $((SECONDS - lane_t[i])) s"
			) >"$out" 2>&1 &
			running=$((running + 1))
		fi
		i=$((i + 1))
	done
	# The packaging lane (Debian kernels only: DKMS builds against their
	# headers) runs beside the last VM runs.
	local pkg_out=$logs/report-packaging pkg_res=$logs/result-packaging
	if [ "${PKG_LANE:-1}" != 0 ] && [ "$programs" = 0 ]; then
		echo "  PKG     packaging lane (report: build/check/${pkg_out##*/})"
		(
			SOCKDUP_RESULT=$pkg_res selftests/packaging/run.sh "${releases[@]}"
		) >"$pkg_out" 2>&1 &
	fi
	wait
	for ((i = 0; i < ${#lane_k[@]}; i++)); do
		[ "$jobs" = 1 ] || grep -v '^  [A-Z]\+ \+' "${lane_out[i]}"
		add_counts "${lane_res[i]}" ||
			result 1 "VM run on ${lane_k[i]}: no result (see above)"
	done

	if [ -f "$pkg_out" ]; then
		echo "# packaging"
		cat "$pkg_out"
		add_counts "$pkg_res" || result 1 "packaging lane: no result (see above)"
	fi

	read -r -a units <<<"${UNIT:-}"
	if [ "${#units[@]}" -gt 0 ]; then
		echo "# host unit tests"
	fi
	for u in "${units[@]}"; do
		log=$logs/unit-${u//\//_}.log
		logged "$log" make "${mflags[@]}" "$u"
		rc=$?
		# A unit target that prints TAP counts per test case.
		read -r p f s < <(awk '
			/^ok [0-9]+/ && / # SKIP/ { s++; next }
			/^ok [0-9]+/ { p++ }
			/^not ok [0-9]+/ { f++ }
			END { print p + 0, f + 0, s + 0 }' "$log")
		if [ $((p + f + s)) -gt 0 ]; then
			[ "$V" = 1 ] || grep -E '^not ok ' "$log" | indent
			pass=$((pass + p))
			fail=$((fail + f))
			skip=$((skip + s))
			echo "# make $u: $p passed, $f failed, $s skipped"
			if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
				result 1 "make $u: exit status $rc"
			fi
		else
			result "$rc" "make $u"
		fi
	done

	summary="$pass passed, $fail failed"
	[ "$skip" = 0 ] || summary+=", $skip skipped"
	echo "# make check took $((SECONDS - start)) s"
	echo "$summary"
	[ "$fail" = 0 ]
}

# The whole script is parsed before it runs: editing it during a run is safe.
main "$@"
