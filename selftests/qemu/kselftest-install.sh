#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build the suite the way a kernel tree builds it: selftests/ copied,
# unchanged, to tools/testing/selftests/sockdup/ of a kernel source tree,
# built and installed by kselftest's own Makefiles (lib.mk), the result a
# kselftest_install directory with run_kselftest.sh, kselftest/runner.sh,
# kselftest-list.txt and sockdup/ (the programs, config, settings).
#
# The source tree (a prepared linux-source, see newest/kernel.sh) is shared
# and stays untouched: the tree used here is a copy made of symbolic links
# to it, with a real tools/testing/selftests/ that holds the sockdup copy.
# <linux/sockdup.h> is installed by the tree's own scripts/headers_install.sh
# next to the tree's usr/include (what `make headers` would give a tree
# with the sockdup patches applied).  The programs are linked statically
# (USERLDFLAGS=-static, lib.mk's own knob) because the VM has no libc.
#
# Usage: kselftest-install.sh KERNEL_SOURCE_TREE OUTDIR
#   Leaves OUTDIR/kselftest_install/ (and OUTDIR/linux/, OUTDIR/obj/, the
#   linked tree and kselftest's build directory).  Exit status 0 on success.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

die() { echo "kselftest-install: $*" >&2; exit 1; }

[ $# = 2 ] || die "usage: $0 KERNEL_SOURCE_TREE OUTDIR"
src=$(cd "$1" && pwd)
out=$2
sel=$src/tools/testing/selftests
[ -f "$sel/lib.mk" ] && [ -f "$sel/run_kselftest.sh" ] ||
	die "$src has no tools/testing/selftests with lib.mk and run_kselftest.sh"
[ -f "$src/scripts/headers_install.sh" ] || die "$src has no scripts/headers_install.sh"
[ -d "$src/usr/include/linux" ] ||
	die "$src/usr/include is missing: run 'make headers' in $src"

mkdir -p "$out"
out=$(cd "$out" && pwd)
tree=$out/linux
rm -rf "$tree" "$out/obj" "$out/uapi" "$out/kselftest_install"

# link DIR SKIP...: link every entry of $src/DIR into $tree/DIR, except SKIP
link() {
	local dir=$1 e name
	shift
	mkdir -p "$tree/$dir"
	for e in "$src/$dir"/* "$src/$dir"/.[!.]*; do
		[ -e "$e" ] || continue
		name=${e##*/}
		case " $* " in *" $name "*) continue ;; esac
		ln -s "$e" "$tree/$dir/$name"
	done
}
link . tools
link tools testing
link tools/testing selftests
link tools/testing/selftests sockdup
cp -a "$top/selftests" "$tree/tools/testing/selftests/sockdup"

mkdir -p "$out/uapi/linux"
(cd "$src" && sh scripts/headers_install.sh "$top/uapi/linux/sockdup.h" "$out/uapi/linux/sockdup.h")

make -C "$tree/tools/testing/selftests" TARGETS=sockdup O="$out/obj" \
	KSFT_INSTALL_PATH="$out/kselftest_install" \
	KHDR_INCLUDES="-isystem $out/uapi -isystem $src/usr/include" \
	USERLDFLAGS=-static install
[ -x "$out/kselftest_install/run_kselftest.sh" ] &&
	[ -s "$out/kselftest_install/kselftest-list.txt" ] ||
	die "make install left no run_kselftest.sh or kselftest-list.txt in $out/kselftest_install"
