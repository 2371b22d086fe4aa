#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Copy dynamically linked programs into a VM root tree with the shared
# libraries they need (as ldd resolves them on this machine, dynamic loader
# included), each at the same path as here.  The tree (build/vmroot/) goes
# into the VM's initramfs as it is (run-vm.sh).
#
# Usage: selftests/qemu/vmroot-elf.sh DEST FILE...
#   A FILE that is not a dynamic ELF program or library is copied alone.

set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 DEST FILE..." >&2; exit 2; }
dest=$1
shift

copy() {	# copy PATH: the file (symlinks followed) at the same path
	local src=$1
	[ -e "$dest$src" ] && [ ! "$src" -nt "$dest$src" ] && return 0
	mkdir -p "$dest$(dirname "$src")"
	cp -L --preserve=mode,timestamps "$src" "$dest$src"
}

declare -A seen=()
for f in "$@"; do
	[ -e "$f" ] || { echo "vmroot-elf: $f does not exist" >&2; exit 1; }
	copy "$f"
	# ldd prints "name => /path (addr)" or "/path (addr)" per library
	while read -r lib; do
		[ -n "$lib" ] && [ -z "${seen[$lib]:-}" ] || continue
		seen[$lib]=1
		copy "$lib"
	done < <(ldd "$f" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
done
