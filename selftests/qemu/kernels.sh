#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Print the kernel releases the VM lane tests, one a line: the newest
# installed release of each supported Debian line that has both an image in
# /boot and its headers.  Point releases change every few weeks, so they are
# never written down anywhere: they are read from what is installed.
#
# Usage: selftests/qemu/kernels.sh [series...]   (default: 6.1 6.12)

set -euo pipefail

series=("$@")
[ "${#series[@]}" -gt 0 ] || series=(6.1 6.12)

rc=0
for s in "${series[@]}"; do
	rel=$(find /boot -maxdepth 1 -name "vmlinuz-$s.*" -printf '%f\n' 2>/dev/null |
		sed 's/^vmlinuz-//' | while read -r r; do
			[ -d "/usr/src/linux-headers-$r" ] && echo "$r"
		done | sort -V | tail -n 1)
	if [ -z "$rel" ]; then
		echo "kernels: no installed $s kernel with headers (run make deps)" >&2
		rc=1
		continue
	fi
	echo "$rel"
done
exit "$rc"
