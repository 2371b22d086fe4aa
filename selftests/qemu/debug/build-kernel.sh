#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build (once) and cache the sockdup debug kernel: the newest linux-source-7.x
# of trixie-backports (the pristine source newest/kernel.sh --source
# extracts) configured as `tinyconfig` + sockdup-debug.config (KASAN,
# lockdep, kmemleak, DEBUG_OBJECTS, UBSAN, fault injection).  sockdup itself
# is not part of this build: the upstream lane (selftests/upstream/) applies
# the patch series to this tree in a private overlay, sets CONFIG_SOCKDUP=m
# and builds drivers/misc/sockdup/ in-tree against this O= tree, each run,
# without touching the cache.
#
# The kernel lives outside the clone, keyed by the source package version and
# the fragment's sha256, so that a warm run (and CI on the same machine) reuses
# it.  Layout of the cache:
#
#   $CACHE/<pkgver>-<sha12>/build/          O= tree of the pristine source
#   $CACHE/<pkgver>-<sha12>/bzImage         the kernel to boot
#   $CACHE/<pkgver>-<sha12>/release         `make kernelrelease`
#   $CACHE/<pkgver>-<sha12>/source          path of the source tree it was built from
#   $CACHE/<pkgver>-<sha12>/build.log       log of the last build
#   $CACHE/<pkgver>-<sha12>/.done           written last: the entry is complete
#   $CACHE/<pkgver>-<sha12>/.last-used      touched on every use
#
# After a build, only the DEBUG_KERNEL_KEEP (default 2) most recently used
# entries are kept.
#
# Usage: build-kernel.sh [--dir | --check]
#   (no option)  build if needed; print the entry directory on the last line
#   --dir        print the entry directory that this source + fragment map to
#   --check      exit 0 if that entry is complete, 1 otherwise (never builds)
#
# Environment: SOCKDUP_DEBUG_CACHE (default /var/cache/sockdup/debug-kernel,
# or ~/.cache/sockdup/debug-kernel when that is not writable),
# DEBUG_KERNEL_JOBS (default 2), DEBUG_KERNEL_NICE (default 10),
# DEBUG_KERNEL_KEEP (default 2); newest/kernel.sh's variables choose the
# source.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment=$here/sockdup-debug.config
# /var/cache for root (CI), the user's cache directory otherwise.
if [ -n "${SOCKDUP_DEBUG_CACHE:-}" ]; then
	cache=$SOCKDUP_DEBUG_CACHE
elif mkdir -p /var/cache/sockdup/debug-kernel 2>/dev/null &&
     [ -w /var/cache/sockdup/debug-kernel ]; then
	cache=/var/cache/sockdup/debug-kernel
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/sockdup/debug-kernel
fi
jobs=${DEBUG_KERNEL_JOBS:-2}
niceness=${DEBUG_KERNEL_NICE:-10}
keep=${DEBUG_KERNEL_KEEP:-2}

die() { echo "debug-kernel: error: $*" >&2; exit 1; }
log() { echo "debug-kernel: $*" >&2; }

[ -r "$fragment" ] || die "$fragment missing"
# The pristine source of the newest 7.x (downloaded and extracted once).
src=$("$here/../newest/kernel.sh" --source | tail -n 1) ||
	die "no linux-source-7.x (selftests/qemu/newest/kernel.sh --source failed)"
src=${src%/}
[ -f "$src/Makefile" ] || die "$src is not a kernel source tree"
# src-<pkgver>/linux-source-N.M: the directory names the package version.
safever=$(basename "$(dirname "$src")")
safever=${safever#src-}
pkgver="$(basename "$src") $safever"
fraghash=$(sha256sum "$fragment" | cut -c1-12)
entry=$cache/$safever-$fraghash
obj=$entry/build

case "${1:-}" in
--dir)	echo "$entry"; exit 0 ;;
--check) [ -f "$entry/.done" ] && [ -f "$entry/bzImage" ]; exit ;;
"")	;;
*)	die "usage: $0 [--dir | --check]" ;;
esac

# Warm path: a complete entry is reused as it is.
if [ -f "$entry/.done" ] && [ -f "$entry/bzImage" ]; then
	touch "$entry/.last-used" 2>/dev/null || true
	log "cached kernel $(cat "$entry/release" 2>/dev/null) in $entry"
	echo "$entry"
	exit 0
fi

for tool in gcc make flex bison bc xz; do
	command -v $tool >/dev/null || die "$tool missing (apt-get install build-essential flex bison bc libelf-dev xz-utils)"
done
[ -f /usr/include/libelf.h ] || [ -f /usr/include/gelf.h ] ||
	die "libelf headers missing (apt-get install libelf-dev)"

mkdir -p "$cache"
# One builder at a time; a second make check waits and then takes the cache.
exec 9>"$cache/.lock"
if ! flock -n 9; then
	log "another build holds $cache/.lock; waiting"
	flock 9
fi
if [ -f "$entry/.done" ] && [ -f "$entry/bzImage" ]; then
	touch "$entry/.last-used"
	log "cached kernel $(cat "$entry/release") in $entry (built meanwhile)"
	echo "$entry"
	exit 0
fi

# prune: keep the $keep most recently used complete entries (this one
# included, it is about to be used), drop unfinished ones and the source
# trees that no kept entry was built from.  Runs under the lock.
prune() {
	local e n=0 v
	for e in $(ls -1dt "$cache"/*/.last-used 2>/dev/null); do
		e=${e%/.last-used}
		n=$((n + 1))
		[ "$n" -le "$keep" ] || { log "pruning old $e"; rm -rf -- "$e"; }
	done
	for e in "$cache"/*-*/; do
		e=${e%/}
		case ${e##*/} in src-*) continue ;; esac
		[ -f "$e/.last-used" ] || [ "$e" = "$entry" ] ||
			{ log "pruning unfinished $e"; rm -rf -- "$e"; }
	done
}

start=$(date +%s)

mkdir -p "$obj"
buildlog=$entry/build.log
: >"$buildlog"
log "configuring in $obj (log: $buildlog)"

kmake() {
	nice -n "$niceness" make -C "$src" O="$obj" ARCH=x86_64 "$@" >>"$buildlog" 2>&1 ||
		{ tail -n 40 "$buildlog" >&2; die "make $* failed (full log: $buildlog)"; }
}

kmake tinyconfig
(cd "$obj" && "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$fragment") \
	>>"$buildlog" 2>&1 || die "merge_config.sh failed (log: $buildlog)"
kmake olddefconfig

# Every line of the fragment must have survived olddefconfig.
dropped=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		if ! grep -qxF -- "$line" "$obj/.config"; then
			got=$(grep -E "^(# )?${line%%=*}[= ]" "$obj/.config" || echo "(absent)")
			log "DROPPED: wanted '$line', got '$got'"
			dropped=1
		fi ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		if grep -q "^$sym=" "$obj/.config"; then
			log "DROPPED: wanted '$line', got '$(grep "^$sym=" "$obj/.config")'"
			dropped=1
		fi ;;
	esac
done <"$fragment"
[ "$dropped" = 0 ] || die "olddefconfig dropped options of $fragment (dependencies missing?)"
log "all options of $(basename "$fragment") survived olddefconfig"

log "building bzImage + modules with -j$jobs (nice $niceness); takes 10-20 minutes"
kmake -j"$jobs" all
# 'all' leaves Module.symvers and the scripts that M= builds need.
[ -f "$obj/Module.symvers" ] || die "no Module.symvers in $obj"
make -s -C "$src" O="$obj" ARCH=x86_64 kernelrelease >"$entry/release" 2>>"$buildlog"
cp "$obj/arch/x86/boot/bzImage" "$entry/bzImage"
echo "$src" >"$entry/source"
end=$(date +%s)
{
	echo "package=$pkgver"
	echo "fragment_sha256=$(sha256sum "$fragment" | cut -d' ' -f1)"
	echo "release=$(cat "$entry/release")"
	echo "build_seconds=$((end - start))"
	echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$entry/build-info"
touch "$entry/.done" "$entry/.last-used"
prune
log "built $(cat "$entry/release") in $((end - start)) s: $entry"
echo "$entry"
