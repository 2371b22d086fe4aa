#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The upstream lane of `make check`: the patch series of `make upstream`
# (scripts/upstream.py) checked the way a maintainer would check it, on the
# newest linux-source-7.x:
#   1. the series is generated from this tree into build/upstream-lane/series/
#   2. `git am` of every patch onto the extracted tree, as extracted (the
#      commit newest/kernel.sh --source recorded)
#   3. scripts/checkpatch.pl --strict of that tree on every patch: 0 errors
#      and 0 warnings; the only types ignored are the ones the cover
#      letter lists under "checkpatch exceptions:", with their reason
#   4. scripts/kernel-doc -none -Wall on every file the documentation pulls
#      in with a kernel-doc directive: no output
#   5. with a debug kernel entry (selftests/qemu/debug/build-kernel.sh):
#      CONFIG_SOCKDUP=m set in its configuration and drivers/misc/sockdup/
#      built in the tree with W=1 and sparse (C=2: every file): no warning
#      (when the tree's checker-valid.sh refuses the installed sparse, as
#      7.x refuses Debian 12's, selftests/upstream/sparse.sh builds Debian's
#      newest one from source, once);
#      the uapi headers installed and the tree's own selftests of sockdup
#      built and installed by kselftest (kselftest_install), for mode debug.
# The cached source and the cached debug build are never changed: the lane
# runs in a private mount namespace with an overlay over each (the same
# paths, so the cached objects stay valid and only drivers/misc/sockdup/ is
# compiled); the changes land in build/upstream-lane/overlay/ and vanish
# with the namespace.  This needs root (mount); a few seconds besides the
# build of the driver.
#
# Usage: selftests/upstream/check.sh [DEBUG_KERNEL_ENTRY]
# Prints TAP lines ("ok N what"), leaves build/upstream-lane/result
# ("pass=N fail=N skip=N"), and for step 5 build/upstream-lane/sockdup.ko
# and build/upstream-lane/kselftest_install/.  Exit status 1 if anything
# failed.

set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/upstream-lane

# ---- inside the private mount namespace ------------------------------------
inner() {
	local srcroot=$1 src=$2 dbg=$3 n=0 pass=0 fail=0 skip=0
	result() {	# result 0|1|skip description
		n=$((n + 1))
		case $1 in
		0) pass=$((pass + 1)); echo "ok $n $2" ;;
		skip) skip=$((skip + 1)); echo "ok $n $2 # SKIP ${3:-}" ;;
		*) fail=$((fail + 1)); echo "not ok $n $2" ;;
		esac
	}
	indent() { sed 's/^/#   /'; }
	finish() {
		echo "pass=$pass fail=$fail skip=$skip" >"$out/result.inner"
		exit 0
	}
	overlay() {	# overlay DIR NAME: DIR is writable here, unchanged outside
		mkdir -p "$out/overlay/$2/upper" "$out/overlay/$2/work"
		mount -t overlay "upstream-$2" \
			-o "lowerdir=$1,upperdir=$out/overlay/$2/upper,workdir=$out/overlay/$2/work" "$1"
	}
	if ! mount --make-rprivate / || ! overlay "$srcroot" source; then
		result 1 "overlay over $srcroot: mount failed (the upstream lane needs root and overlayfs; UPSTREAM_LANE=0 skips it)"
		finish
	fi

	local git=(git --git-dir="$srcroot/git" --work-tree="$src"
		-c user.name="sockdup upstream lane" -c user.email="upstream-lane@sockdup.invalid"
		-c advice.detachedHead=false)
	local patches=("$out"/series/[0-9][0-9][0-9][0-9]-*.patch) p
	patches=("${patches[@]/*0000-cover-letter.patch/}")
	local -a list=()
	for p in "${patches[@]}"; do [ -n "$p" ] && list+=("$p"); done
	# 2. git am onto the tree as extracted
	(cd "$src" && "${git[@]}" am -q "${list[@]}") >"$out/git-am.log" 2>&1
	if [ $? != 0 ]; then
		indent <"$out/git-am.log"
		result 1 "git am of ${#list[@]} patches onto $(basename "$src") $(cat "$srcroot/version"): failed (the series no longer applies: see above)"
		finish
	fi
	result 0 "git am of ${#list[@]} patches onto $(basename "$src") $(cat "$srcroot/version")"

	# 3. checkpatch.pl --strict, per patch
	# The exceptions the cover letter lists: "- TYPE (every patch): why"
	# or "- TYPE (patch N[, N...]): why".
	local line exc
	exc=$(sed -n '/^checkpatch exceptions/,/^$/s/^- \([A-Z_]*\) (\([^)]*\)).*/\1 \2/p' \
		"$out/series/0000-cover-letter.patch")
	for p in "${list[@]}"; do
		local cp_out ignore num
		num=$((10#$(basename "$p" | cut -c1-4)))
		ignore=$(awk -v n="$num" '{
			t = $1; $1 = ""
			if ($0 ~ /every patch/) { print t; next }
			gsub(/[^0-9]+/, " ")
			for (i = 1; i <= NF; i++) if ($i == n) print t
		}' <<<"$exc" | paste -sd, -)
		cp_out=$(cd "$src" && perl scripts/checkpatch.pl --strict --show-types \
			${ignore:+--ignore "$ignore"} "$p" 2>&1)
		line=$(grep -m 1 '^total: ' <<<"$cp_out")
		echo "$cp_out" >"$out/checkpatch-$(basename "$p" .patch).log"
		if [[ $line =~ ^total:\ 0\ errors,\ 0\ warnings, ]]; then
			result 0 "checkpatch.pl --strict $(basename "$p"): $line${ignore:+ (exceptions in the cover letter: $ignore)}"
		else
			grep -E '^(ERROR|WARNING):' -A 3 <<<"$cp_out" | indent
			result 1 "checkpatch.pl --strict $(basename "$p"): ${line:-no summary}: fix the sources the patch comes from (log: ${out#"$top"/}/checkpatch-$(basename "$p" .patch).log)"
		fi
	done

	# 4. kernel-doc on what the documentation pulls in
	local rst=$src/Documentation/userspace-api/sockdup.rst kd_files kd_out
	kd_files=$(sed -n 's/^\.\. kernel-doc:: *\([^ ]*\).*/\1/p' "$rst" | sort -u)
	if [ -z "$kd_files" ]; then
		result 1 "kernel-doc: Documentation/userspace-api/sockdup.rst pulls nothing in (no kernel-doc directive)"
	else
		kd_out=$(cd "$src" && perl scripts/kernel-doc -none -Wall $kd_files 2>&1)
		if [ -z "$kd_out" ]; then
			result 0 "kernel-doc -none -Wall: $(echo $kd_files)"
		else
			echo "$kd_out" | indent
			result 1 "kernel-doc -none -Wall: $(echo $kd_files): warnings (see above)"
		fi
	fi

	# 5. in-tree build against the debug kernel's O= tree
	if [ -z "$dbg" ]; then
		result skip "in-tree build of drivers/misc/sockdup/ with W=1 and sparse" \
			"no debug kernel tree (DEBUG_LANE=0); make check builds one"
		finish
	fi
	local obj=$dbg/build rel
	rel=$(cat "$dbg/release")
	if ! overlay "$obj" build; then
		result 1 "overlay over $obj: mount failed"
		finish
	fi
	local kmake=(make -C "$src" O="$obj" ARCH=x86_64 KERNELRELEASE="$rel")
	local blog=$out/build.log
	"$src/scripts/config" --file "$obj/.config" --module SOCKDUP
	if ! "${kmake[@]}" olddefconfig >"$blog" 2>&1 || ! grep -qx 'CONFIG_SOCKDUP=m' "$obj/.config"; then
		tail -n 20 "$blog" | indent
		result 1 "CONFIG_SOCKDUP=m in the debug kernel's configuration: olddefconfig dropped it (a dependency in drivers/misc/sockdup/Kconfig the debug config lacks?)"
		finish
	fi
	result 0 "CONFIG_SOCKDUP=m survives olddefconfig in the debug kernel's configuration"
	# A sparse this tree accepts (selftests/upstream/sparse.sh builds one
	# from Debian's newest source when the installed one is too old).
	local checker
	if ! checker=$("$here/sparse.sh" "$src" 2>"$out/sparse.log" | tail -n 1) || [ -z "$checker" ]; then
		indent <"$out/sparse.log"
		result 1 "sparse: none that this tree's scripts/checker-valid.sh accepts (see above)"
		finish
	fi
	local t0=$SECONDS
	"${kmake[@]}" W=1 C=2 CHECK="$checker" drivers/misc/sockdup/ drivers/misc/sockdup/sockdup.ko >>"$blog" 2>&1
	local rc=$?
	# Compiler and sparse both report "file:line:col: warning|error: ..."
	if [ "$rc" != 0 ]; then
		tail -n 30 "$blog" | indent
		result 1 "in-tree build of drivers/misc/sockdup/ with W=1 and sparse: failed (log: ${out#"$top"/}/build.log)"
		finish
	elif grep -E '(warning|error):' "$blog" | grep -q .; then
		grep -E '(warning|error):' "$blog" | indent
		result 1 "in-tree build of drivers/misc/sockdup/ with W=1 and sparse: warnings (fix them in module/; log: ${out#"$top"/}/build.log)"
	elif ! grep -q 'CHECK .*drivers/misc/sockdup/' "$blog"; then
		result 1 "in-tree build of drivers/misc/sockdup/: Kbuild ran no sparse CHECK step with $checker (log: ${out#"$top"/}/build.log)"
	else
		result 0 "in-tree build of drivers/misc/sockdup/ against $rel with W=1 and sparse ($checker): no warnings ($((SECONDS - t0)) s)"
	fi
	cp "$obj/drivers/misc/sockdup/sockdup.ko" "$out/sockdup.ko" || {
		result 1 "the in-tree build left no drivers/misc/sockdup/sockdup.ko"
		finish
	}

	# The tree's uapi headers (with sockdup.h) and its selftests, as
	# kselftest builds and installs them; mode debug runs them.
	local klog=$out/kselftest.log
	if "${kmake[@]}" headers >"$klog" 2>&1 && [ -f "$obj/usr/include/linux/sockdup.h" ] &&
	   make -C "$src/tools/testing/selftests" TARGETS=sockdup O="$out/kselftest-obj" \
		KSFT_INSTALL_PATH="$out/kselftest_install" \
		KHDR_INCLUDES="-isystem $obj/usr/include" USERLDFLAGS=-static install >>"$klog" 2>&1 &&
	   [ -s "$out/kselftest_install/kselftest-list.txt" ]; then
		result 0 "kselftest_install of tools/testing/selftests/sockdup: $(grep -c . "$out/kselftest_install/kselftest-list.txt") programs"
	else
		tail -n 30 "$klog" | indent
		result 1 "kselftest_install of tools/testing/selftests/sockdup in the patched tree failed (log: ${out#"$top"/}/kselftest.log)"
	fi
	finish
}

if [ "${1:-}" = --inner ]; then
	shift
	inner "$@"
fi

# ---- outside: generate, then run the checks in a private namespace ----------
dbg=${1:-}
rm -rf "$out"
mkdir -p "$out"
t0=$SECONDS
if ! python3 "$top/scripts/upstream.py" --out "$out/series" >"$out/generate.log" 2>&1; then
	sed 's/^/#   /' "$out/generate.log"
	echo "not ok 1 make upstream: the series could not be generated (see above)"
	echo "pass=0 fail=1 skip=0" >"$out/result"
	exit 1
fi
echo "ok 1 make upstream: $(grep -m 1 '^upstream: [0-9]* patches' "$out/generate.log" | sed 's/^upstream: //')"
src=$(grep -m 1 -o '/[^ ]*linux-source-[0-9.]*)' "$out/generate.log" | tr -d ')')
srcroot=$(dirname "$src")
if [ ! -d "$srcroot/git" ]; then
	echo "not ok 2 $srcroot/git is missing: remove $srcroot and run selftests/qemu/newest/kernel.sh --source again"
	echo "pass=1 fail=1 skip=0" >"$out/result"
	exit 1
fi
# TAP numbering continues after the generation step.
unshare --mount "$here/check.sh" --inner "$srcroot" "$src" "$dbg" >"$out/inner.tap"
# Renumber: the inner lines start at 1; the generation step was 1.
awk '
	match($0, /^(not )?ok [0-9]+/) {
		pre = ($0 ~ /^not /) ? "not ok " : "ok "
		sub(/^(not )?ok [0-9]+/, "")
		print pre (++n + 1) $0
		next
	}
	{ print }' "$out/inner.tap"
if [ ! -f "$out/result.inner" ]; then
	echo "not ok 2 the upstream lane's checks ended early (unshare failed?)"
	echo "pass=1 fail=1 skip=0" >"$out/result"
	exit 1
fi
read -r p f s < <(sed -n 's/^pass=\([0-9]*\) fail=\([0-9]*\) skip=\([0-9]*\)$/\1 \2 \3/p' "$out/result.inner")
echo "pass=$((p + 1)) fail=$f skip=$s" >"$out/result"
echo "# upstream lane took $((SECONDS - t0)) s"
[ "$f" = 0 ]
