#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Style checks of the kernel-side sources: module/*.[ch] and uapi/linux/*.h.
#   checkpatch   scripts/checkpatch.pl --strict --no-tree on every file
#   kernel-doc   scripts/kernel-doc -none -Wall on every file (no output
#                allowed)
# Both tools come from Debian's linux-source-6.12 (build/tools/, extracted
# by selftests/qemu/deps.sh).  Prints the problems; exit status 1 if any.
#
# Usage: scripts/style.sh [checkpatch|kernel-doc]...   (default: both)

set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=$top/build/tools
cd "$top" || exit 2

for t in checkpatch.pl kernel-doc; do
	[ -f "$tools/$t" ] || { echo "style: $tools/$t missing: run make deps" >&2; exit 2; }
done

shopt -s nullglob
kfiles=(module/*.c module/*.h)
ufiles=(uapi/linux/*.h)
compat=module/compat.h

checkpatch() {
	local rc=0
	local -a opts=(--strict --no-tree --quiet --show-types --no-summary -f)
	local -a files=()
	local f
	for f in "${kfiles[@]}"; do
		[ "$f" = "$compat" ] || files+=("$f")
	done
	[ "${#files[@]}" -eq 0 ] ||
		perl "$tools/checkpatch.pl" "${opts[@]}" "${files[@]}" || rc=1
	# The compat header is the one place for kernel version tests
	# (LINUX_VERSION_CODE): an out-of-tree module builds for several.
	[ ! -f "$compat" ] ||
		perl "$tools/checkpatch.pl" "${opts[@]}" --ignore LINUX_VERSION_CODE \
			"$compat" || rc=1
	[ "${#ufiles[@]}" -eq 0 ] ||
		perl "$tools/checkpatch.pl" "${opts[@]}" "${ufiles[@]}" || rc=1
	return "$rc"
}

kerneldoc() {
	local files=("${kfiles[@]}" "${ufiles[@]}") out
	[ "${#files[@]}" -gt 0 ] || return 0
	out=$(perl "$tools/kernel-doc" -none -Wall "${files[@]}" 2>&1)
	[ -z "$out" ] && return 0
	printf '%s\n' "$out"
	return 1
}

checks=("$@")
[ "${#checks[@]}" -gt 0 ] || checks=(checkpatch kernel-doc)
rc=0
for c in "${checks[@]}"; do
	case $c in
	checkpatch) checkpatch || rc=1 ;;
	kernel-doc) kerneldoc || rc=1 ;;
	*) echo "style: unknown check $c" >&2; exit 2 ;;
	esac
done
exit "$rc"
