#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The packaging lane of `make check`: the Debian packages installed on this
# machine the way a user installs them, used, upgraded and purged.
#   1. make deb: dpkg-buildpackage, then lintian (no error, no warning);
#   2. apt-get install ./build/deb/*.deb (apt must want nothing else);
#   3. dkms status: sockdup installed for every kernel that has headers, the
#      module in /lib/modules/<release>/updates/dkms/ at the packages' version;
#   4. cc installed_client.c $(pkg-config --cflags --libs libsockdup), against
#      what libsockdup-dev and libsockdup0 installed;
#   5. one VM per kernel (mode pkg): `modprobe sockdup` loads the DKMS build
#      through modules.dep; smoke_test, installed_client and the installed
#      /usr/bin/sockdup run there (with their shared libraries, from ldd),
#      and installed_python.py with Debian's python3 and python3-sockdup as
#      installed in /usr/lib/python3/dist-packages;
#   6. a newer version installed over it (the same tree packaged as
#      VERSION+lane1): DKMS rebuilds it for every kernel, the old one is gone;
#   7. apt-get purge: no package, DKMS entry, source or module file is left.
#
# The lane changes the machine and leaves it as it found it: it refuses to
# start when sockdup packages or a DKMS sockdup are already there, purges
# what it installed even when a step fails or it is interrupted, and removes
# DKMS's signing key (/var/lib/dkms/mok.*) when it was the one to create it.
# One lane at a time per machine (flock /run/lock/sockdup-packaging.lock):
# two worktrees' `make check` take turns.
#
# Usage: selftests/packaging/run.sh [RELEASE...]
#   RELEASE  kernels to boot (default: selftests/qemu/kernels.sh)
# Environment: SOCKDUP_RESULT=FILE (the counts line), V=1.
# Prints TAP; exit status 1 when anything failed.

set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top" || exit 2
build=$top/build
work=$build/packaging
# Every binary package debian/control describes.
read -r -a pkgs <<<"$(sed -n 's/^Package: //p' debian/control | tr '\n' ' ')"
lock=/run/lock/sockdup-packaging.lock

n=0 pass=0 fail=0 skip=0 start=$SECONDS
result() {	# result 0|1 description
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		pass=$((pass + 1))
		echo "ok $n packaging: $2"
	else
		fail=$((fail + 1))
		echo "not ok $n packaging: $2"
	fi
}
skipped() {
	n=$((n + 1)) skip=$((skip + 1))
	echo "ok $n packaging: $1 # SKIP $2"
}
indent() { sed 's/^/#   /'; }
# logged LOG command...: output to LOG, shown when the command fails.
logged() {
	local log=$1 rc
	shift
	"$@" >"$log" 2>&1
	rc=$?
	if [ "$rc" != 0 ] || [ "${V:-0}" = 1 ]; then
		tail -n 60 "$log" | indent
	fi
	return "$rc"
}
finish() {
	echo "# packaging lane took $((SECONDS - start)) s"
	local summary="$pass passed, $fail failed"
	[ "$skip" = 0 ] || summary+=", $skip skipped"
	echo "# packaging: $summary"
	[ -z "${SOCKDUP_RESULT:-}" ] ||
		printf 'release=packaging mode=packaging pass=%d fail=%d skip=%d seconds=%d\n' \
			"$pass" "$fail" "$skip" $((SECONDS - start)) >"$SOCKDUP_RESULT"
	[ "$fail" = 0 ]
	exit
}

apt_get() {
	DEBIAN_FRONTEND=noninteractive nice apt-get -o DPkg::Lock::Timeout=900 "$@"
}

# Packages of ours that dpkg knows, in any state (also "config-files").
known_pkgs() {
	dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null |
		awk '$2 != "un" { print $1 }'
}

# Every file or directory named after sockdup where packages, DKMS and
# modules live.
sockdup_files() {
	find /usr/src /var/lib/dkms /usr/lib /usr/include /usr/bin /usr/share/man \
		/usr/share/doc /etc -name '*sockdup*' 2>/dev/null | sort -u
}

# Kernels DKMS builds for: those with headers (/lib/modules/R/build).
header_kernels() {
	local d
	for d in /lib/modules/*; do
		[ -e "$d/build/include" ] && echo "${d##*/}"
	done
}

installed=0 mok_made=0
cleanup() {
	if [ "$installed" = 1 ] && [ -n "$(known_pkgs)" ]; then
		echo "# packaging: purging what the lane installed"
		apt_get purge -y -q $(known_pkgs) >"$work/cleanup.log" 2>&1 ||
			indent <"$work/cleanup.log"
	fi
	if [ "$mok_made" = 1 ]; then
		rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub
	fi
}

main() {
	if [ "$(id -u)" != 0 ]; then
		skipped "install, upgrade and purge the packages" "needs root (apt-get, dkms)"
		finish
	fi
	local -a kernels
	if [ $# -gt 0 ]; then
		kernels=("$@")
	else
		read -r -a kernels <<<"$(selftests/qemu/kernels.sh | tr '\n' ' ')"
	fi
	rm -rf "$work"
	mkdir -p "$work"

	exec 7>"$lock"
	if ! flock -n 7; then
		echo "# packaging: another packaging lane runs on this machine; waiting for it"
		flock 7
	fi

	local left
	left=$(known_pkgs)
	if [ -n "$left" ] || [ -n "$(dkms status -m sockdup 2>/dev/null)" ] ||
	   compgen -G '/usr/src/sockdup-*' >/dev/null; then
		result 1 "this machine already has sockdup (packages: ${left:-none}; $(dkms status -m sockdup 2>/dev/null | head -n 1)): the lane would replace it; purge it first"
		finish
	fi
	local before
	before=$(sockdup_files)
	[ -e /var/lib/dkms/mok.key ] || [ -e /var/lib/dkms/mok.pub ] || mok_made=1
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	# 1. build and lint
	local t=$SECONDS
	logged "$work/deb.log" make --no-print-directory deb
	local rc=$?
	result "$rc" "make deb: dpkg-buildpackage and lintian, no error or warning ($((SECONDS - t)) s)"
	grep '^  DEB ' "$work/deb.log" | sed 's/^  DEB  */# /'
	[ "$rc" = 0 ] || finish
	local version
	version=$(cat VERSION)

	# 2. install, as a user would
	local want got
	want=$(printf '%s\n' "${pkgs[@]}" | sort | tr '\n' ' ')
	got=$(apt_get install -s -y ./build/deb/*.deb 2>&1 | awk '/^Inst / { print $2 }' | sort | tr '\n' ' ')
	[ "$got" = "$want" ]
	result $? "apt-get would install exactly the ${#pkgs[@]} packages, nothing else (${got:-nothing})"
	t=$SECONDS
	installed=1
	logged "$work/install.log" apt_get install -y -q ./build/deb/*.deb
	rc=$?
	result "$rc" "apt-get install ./build/deb/*.deb ($((SECONDS - t)) s, DKMS builds included)"
	[ "$rc" = 0 ] || finish

	# What DKMS got: Kbuild, no Makefile; a MAKE line that goes straight to
	# the kernel's build system.
	local conf=/usr/src/sockdup-$version/dkms.conf
	[ -f "/usr/src/sockdup-$version/Kbuild" ] && [ ! -e "/usr/src/sockdup-$version/Makefile" ] &&
		grep -q '^MAKE\[0\]="make -C ${kernel_source_dir} M=${dkms_tree}/' "$conf" &&
		grep -q '^AUTOINSTALL="yes"' "$conf" && grep -q '^BUILD_EXCLUSIVE_KERNEL=' "$conf" &&
		grep -q "^PACKAGE_VERSION=\"$version\"" "$conf"
	result $? "/usr/src/sockdup-$version: Kbuild and no Makefile; dkms.conf: MAKE through the kernel's Kbuild, AUTOINSTALL, BUILD_EXCLUSIVE, version $version"

	# 3. DKMS built and installed it for every kernel with headers
	check_dkms "$version" || finish

	# 4. a user's program, through pkg-config
	local client=$work/installed_client flags
	flags=$(pkg-config --cflags --libs libsockdup 2>&1)
	logged "$work/client.log" cc -Wall -Wextra -Werror -o "$client" \
		selftests/packaging/installed_client.c $flags
	rc=$?
	[ "$(pkg-config --modversion libsockdup 2>&1)" = "$version" ] || rc=1
	local lib
	lib=$(ldd "$client" 2>/dev/null | awk '$1 == "libsockdup.so.0" { print $3 }')
	[ "$(readlink -f "$lib")" = "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libsockdup.so.$version" ] || rc=1
	result "$rc" "cc installed_client.c \$(pkg-config --cflags --libs libsockdup): '$flags', version $(pkg-config --modversion libsockdup 2>&1), runs with ${lib:-no libsockdup.so.0}"

	# 5. the VM: modprobe the DKMS build, smoke_test, the installed tool
	if [ "$rc" = 0 ]; then
		vm_runs "$version" "$client" "${kernels[@]}"
	else
		result 1 "VM runs: skipped, installed_client did not build"
	fi

	# 6. a newer version over it
	local newer=$version+lane1
	t=$SECONDS
	logged "$work/deb-newer.log" make --no-print-directory deb \
		SOCKDUP_VERSION="$newer" DEB_DIR=build/packaging/newer DEB_LINTIAN=0
	rc=$?
	result "$rc" "make deb SOCKDUP_VERSION=$newer ($((SECONDS - t)) s)"
	if [ "$rc" = 0 ]; then
		t=$SECONDS
		logged "$work/upgrade.log" apt_get install -y -q ./build/packaging/newer/*.deb
		rc=$?
		result "$rc" "apt-get install of $newer over $version ($((SECONDS - t)) s)"
		if [ "$rc" = 0 ]; then
			check_dkms "$newer"
			[ ! -e "/usr/src/sockdup-$version" ] && [ -z "$(dkms status -m sockdup -v "$version")" ]
			result $? "upgrade: no trace of $version in DKMS or /usr/src"
			[ "$(sockdup --version 2>&1)" = "sockdup $newer" ] &&
				[ "$(pkg-config --modversion libsockdup)" = "$newer" ]
			result $? "upgrade: sockdup --version and pkg-config say $newer"
		fi
	fi

	# 7. purge
	t=$SECONDS
	logged "$work/purge.log" apt_get purge -y -q "${pkgs[@]}"
	rc=$?
	result "$rc" "apt-get purge ${pkgs[*]} ($((SECONDS - t)) s)"
	left=$(known_pkgs)
	[ -z "$left" ]
	result $? "purge: dpkg knows none of the packages any more${left:+ (still: $left)}"
	left=$(dkms status -m sockdup 2>&1)
	[ -z "$left" ]
	result $? "purge: dkms status has no sockdup${left:+ ($left)}"
	left=$(compgen -G '/usr/src/sockdup-*'; compgen -G '/var/lib/dkms/sockdup')
	[ -z "$left" ]
	result $? "purge: nothing under /usr/src/sockdup-* or /var/lib/dkms/sockdup${left:+ ($left)}"
	left=$(find /lib/modules/ -name 'sockdup.ko*' 2>/dev/null; grep -l sockdup /lib/modules/*/modules.dep 2>/dev/null)
	[ -z "$left" ]
	result $? "purge: no sockdup.ko under /lib/modules, no modules.dep names it${left:+ ($(echo $left))}"
	left=$(comm -13 <(echo "$before") <(sockdup_files))
	[ -z "$left" ]
	result $? "purge: no file named after sockdup that was not there before${left:+ ($(echo $left))}"
	finish
}

# check_dkms VERSION: sockdup VERSION installed for every kernel that has
# headers, its module file in updates/dkms/ at that version, in modules.dep.
check_dkms() {
	local version=$1 k status mod rc signer all=0
	for k in $(header_kernels); do
		status=$(dkms status -m sockdup -v "$version" -k "$k" 2>&1)
		mod=$(compgen -G "/lib/modules/$k/updates/dkms/sockdup.ko*" | head -n 1)
		rc=0
		[[ $status == *": installed"* ]] || rc=1
		[ -n "$mod" ] && [ "$(modinfo -F version "$mod" 2>&1)" = "$version" ] || rc=1
		grep -q '^updates/dkms/sockdup\.ko[.a-z]*:' "/lib/modules/$k/modules.dep" || rc=1
		result "$rc" "dkms: sockdup $version installed for $k (${mod:-no module file}, modinfo version $( [ -n "$mod" ] && modinfo -F version "$mod"))"
		# With openssl (Recommends), DKMS signs with its MOK key.
		if command -v openssl >/dev/null; then
			signer=$( [ -n "$mod" ] && modinfo -F signer "$mod")
			[ -n "$signer" ]
			result $? "dkms: the module for $k is signed (signer: ${signer:-none}) for Secure Boot"
		fi
		[ "$rc" = 0 ] || { echo "$status" | indent; all=1; }
	done
	[ -n "$(header_kernels)" ] || { result 1 "dkms: no kernel with headers"; all=1; }
	return "$all"
}

# vm_runs VERSION CLIENT RELEASE...: boot each kernel with the installed
# files (module tree, /usr/bin/sockdup, the client, their libraries).
vm_runs() {
	local version=$1 client=$2 k root f lib res out rc
	shift 2
	exec 9>"$build/.lock"
	flock 9
	logged "$work/tests.log" nice make --no-print-directory tests
	rc=$?
	flock -u 9
	if [ "$rc" != 0 ]; then
		result 1 "VM runs: the test programs did not build"
		return
	fi
	local -a pids=() outs=() ress=()
	for k in "$@"; do
		if [ ! -d "/lib/modules/$k/updates/dkms" ]; then
			result 1 "VM run on $k: DKMS installed no module for it"
			continue
		fi
		root=$work/root-$k
		rm -rf "$root"
		mkdir -p "$root/lib/modules/$k" "$root/usr/bin" "$root/usr/local/bin"
		cp -a "/lib/modules/$k"/modules.* "/lib/modules/$k/updates" "$root/lib/modules/$k/"
		cp -a /usr/bin/sockdup "$root/usr/bin/"
		cp -a "$client" "$root/usr/local/bin/"
		# python3-sockdup as installed (with the bytecode its postinst
		# compiled), Debian's python3 to run it
		if ! python/vmroot.sh "$root" --interpreter-only >"$work/vmroot-$k.log" 2>&1; then
			indent <"$work/vmroot-$k.log"
			result 1 "VM run on $k: python3 for the VM root"
			continue
		fi
		mkdir -p "$root/usr/lib/python3/dist-packages"
		cp -a /usr/lib/python3/dist-packages/sockdup "$root/usr/lib/python3/dist-packages/"
		install -m 755 selftests/packaging/installed_python.py "$root/usr/local/bin/installed_python"
		# The programs are dynamic, as users run them: their libraries
		# (libsockdup.so.0 from libsockdup0, libc, the loader) go along.
		for lib in $(for f in /usr/bin/sockdup "$client"; do ldd "$f"; done |
			awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(/ { print $1 }' | sort -u); do
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
		res=$work/result-$k out=$work/report-$k
		rm -f "$res"
		SOCKDUP_VM_ROOT=$root SOCKDUP_NO_BUILD=1 SOCKDUP_RESULT=$res \
			selftests/qemu/run-vm.sh "$k" pkg "sockdup_version=$version" >"$out" 2>&1 &
		pids+=($!) outs+=("$out") ress+=("$res")
	done
	local i p f2 s2
	for ((i = 0; i < ${#pids[@]}; i++)); do
		wait "${pids[i]}"
		grep -v '^  [A-Z]\+ \+' "${outs[i]}"
		if [ -f "${ress[i]}" ]; then
			read -r p f2 s2 < <(sed -n 's/.* pass=\([0-9]*\) fail=\([0-9]*\) skip=\([0-9]*\).*/\1 \2 \3/p' "${ress[i]}")
			pass=$((pass + ${p:-0})) fail=$((fail + ${f2:-0})) skip=$((skip + ${s2:-0}))
		else
			result 1 "VM run ${outs[i]##*/report-}: no result"
		fi
	done
}

main "$@"
