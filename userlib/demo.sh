#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make demo: the two examples (connection broker, graceful restart) with real
# TCP clients, as a short transcript and a one-line result.
#
# On a host where /dev/sockdup exists (the module is loaded) it runs them
# here.  Otherwise it boots a kernel in QEMU with the module and runs them
# there (selftests/qemu/modes/demo.sh); run-vm.sh installs what it needs.
#
# Usage: userlib/demo.sh            (KERNEL=6.1, 7 or a release picks the VM
#                                   kernel, default 6.12; SOCKDUP_DEMO_VM=1
#                                   uses the VM even where /dev/sockdup exists)
# Exit status: 0 when both examples served every connection.

set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

if [ -c /dev/sockdup ] && [ -z "${KERNEL:-}" ] && [ "${SOCKDUP_DEMO_VM:-0}" != 1 ]; then
	echo "demo: /dev/sockdup exists: running the examples on this host ($(uname -r))"
	nice make --no-print-directory userlib >&2
	exec env SOCKDUP_BIN="$top/build/bin" sh selftests/qemu/modes/demo.sh
fi

kernel=${KERNEL:-6.12}
selftests/qemu/deps.sh
release=$kernel
if [[ $kernel =~ ^[0-9]+\.[0-9]+$ ]]; then
	release=$(selftests/qemu/kernels.sh "$kernel")
	kernel=$release
elif [[ $kernel =~ ^[0-9]+$ ]]; then
	# The newest image of that line (7: trixie-backports), prepared in a
	# cache, never installed: run-vm.sh boots the prepared directory.
	echo "demo: looking up the newest Linux $kernel.x in trixie-backports (the first time downloads and prepares it: a minute or two)"
	kernel=$(selftests/qemu/newest/kernel.sh "$kernel" | tail -n 1)
	release=$(cat "$kernel/release")
fi
out=build/$release
mkdir -p "$out"
echo "demo: booting Linux $release in QEMU with sockdup.ko (takes a minute or two)"
rc=0
rm -f "$out/verdict-demo.log"
nice selftests/qemu/run-vm.sh "$kernel" demo >"$out/demo-run.txt" 2>&1 || rc=$?

echo
tr -d '\r' <"$out/verdict-demo.log" 2>/dev/null | sed -n 's/^@@sockdup demo //p'
echo
if [ "$rc" = 0 ]; then
	echo "demo: kernel $release: passed (console: $out/console-demo.log)"
else
	echo "demo: kernel $release: FAILED; the end of $out/demo-run.txt:"
	tail -n 40 "$out/demo-run.txt"
fi
exit "$rc"
