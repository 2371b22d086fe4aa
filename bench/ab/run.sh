#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A/B test of module variants in one VM boot: where does the time go, and
# what would a change buy?  Builds sockdup.ko as it is ("base") and once per
# variant with patches from bench/ab/patches/ applied to a copy of module/,
# boots one kernel, loads the variants in turn (round-robin, REPS times),
# runs sockdup-bench on each, and prints medians per variant side by side.
# Nothing in the repository is modified: the work happens in build/ab/.
#
# Usage: bench/ab/run.sh KERNEL NAME=PATCH[+PATCH...] ...   (KERNEL: a
#        series such as 6.12, a release, or 7 for the newest prepared 7.x)
#   e.g. bench/ab/run.sh 6.12 prof=prof ts=typesafe all=typesafe+maxsize17+onecopy
# Environment:
#   AB_ONLY=ids     sockdup-bench --only list (default: floor, sd_same, the
#                   SHARE/REDEEM/REVOKE breakdown)
#   AB_REPS=3       rounds over the variants
#   AB_ROUNDS=21    sockdup-bench --rounds
#   AB_ARGS=...     more sockdup-bench options, ';'-separated
#   AB_MEM=N[,N]    also measure memory per share with N pending, per variant
#
# The patches are experiments against the module as it was when they were
# made; one that no longer applies is reported and skipped.  The prof patch
# times each step of SHARE and REDEEM with the TSC (debugfs sockdup_prof).

set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ $# -ge 1 ] || { sed -n '3,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2; }
kernel=$1
shift
rel=$kernel
[[ $kernel =~ ^[0-9]+\.[0-9]+$ ]] && rel=$("$top/selftests/qemu/kernels.sh" "$kernel")
kdir=/usr/src/linux-headers-$rel
vmk=$rel
# A major version (7): the newest prepared image of that line, which has
# its build tree beside it rather than installed headers.
if [[ $kernel =~ ^[0-9]+$ ]]; then
	vmk=$("$top/selftests/qemu/newest/kernel.sh" "$kernel" | tail -n 1)
	kdir=$vmk/build
	rel=$(cat "$vmk/release")
fi
[ -d "$kdir" ] || { echo "ab: no headers $kdir" >&2; exit 2; }

work=$top/build/ab
tree=$work/tree
rm -rf "$tree"
mkdir -p "$tree"
(cd "$top" && tar --exclude=./build --exclude=./.git -cf - .) | tar -xf - -C "$tree"
install -m 0755 "$top/bench/ab/mode.sh" "$tree/selftests/qemu/modes/ab.sh"
# reuse what the tree already built (same sources, same mtimes)
mkdir -p "$tree/build"
for d in ksft tools tests lib userlib; do
	[ -e "$top/build/$d" ] && cp -a "$top/build/$d" "$tree/build/"
done
mkdir -p "$tree/build/bin"

build_variant()
{
	local name=$1 patches=$2 d=$work/mod-$1 p
	rm -rf "$d"
	mkdir -p "$d/uapi/linux"
	cp "$top/Kbuild" "$top/VERSION" "$d/"
	cp -r "$top/module" "$d/"
	cp "$top"/uapi/linux/*.h "$d/uapi/linux/"
	for p in ${patches//+/ }; do
		if ! patch -d "$d" -p1 -s <"$top/bench/ab/patches/$p.patch"; then
			echo "ab: $name: patch $p does not apply; skipped" >&2
			return 1
		fi
	done
	nice make -s -C "$kdir" M="$d" modules >"$d/build.log" 2>&1 ||
		{ echo "ab: $name: build failed (see $d/build.log)" >&2; return 1; }
	install -m 0755 "$d/sockdup.ko" "$tree/build/bin/v-$name.ko"
	echo "ab: built $name${patches:+ ($patches)}" >&2
}

build_variant base ""
for spec in "$@"; do
	build_variant "${spec%%=*}" "${spec#*=}" || true
done

args=(tsc=reliable)	# see bench/run.sh
[ -n "${AB_ONLY:-}" ] && args+=("sockdup_ab_only=$AB_ONLY")
[ -n "${AB_REPS:-}" ] && args+=("sockdup_ab_reps=$AB_REPS")
[ -n "${AB_ROUNDS:-}" ] && args+=("sockdup_ab_rounds=$AB_ROUNDS")
[ -n "${AB_ARGS:-}" ] && args+=("sockdup_ab_args=$AB_ARGS")
[ -n "${AB_MEM:-}" ] && args+=("sockdup_ab_mem=$AB_MEM")

rc=0
(cd "$tree" && selftests/qemu/run-vm.sh "$vmk" ab "${args[@]}") >"$work/run.txt" 2>&1 || rc=$?
out=$work/ab-$rel.txt
tr -d '\r' <"$tree/build/$rel/verdict-ab.log" | grep '^# AB ' >"$out" || true
python3 "$top/bench/ab/summarize.py" "$out"
echo "ab: raw lines in ${out#"$top"/}, VM run in ${work#"$top"/}/run.txt" >&2
[ "$rc" -eq 0 ] || echo "ab: the VM run failed (see ${work#"$top"/}/run.txt)" >&2
exit "$rc"
