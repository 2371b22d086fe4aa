#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Install what the build and the VM lane need, and extract the few kernel
# source files we use (kselftest harness, checkpatch, kernel-doc) from
# Debian's linux-source-6.12 tarball into build/.  Quick when everything is
# already there: one dpkg-query and one stamp comparison.
#
# Usage: selftests/qemu/deps.sh [--no-install | --only PACKAGE...]
#   --no-install  only report what is missing (exit 1 if anything is)
#   --only        install just these packages when missing, nothing else

set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${SOCKDUP_BUILD:-$top/build}

# Debian 12 package names.  linux-image-amd64/linux-headers-amd64 follow the
# 6.1 line, the -6.12- meta-packages the 6.12 line (bookworm-security): they
# pull in the current point release, whatever its number is.
packages=(
	gcc make libc6-dev perl xz-utils cpio kmod
	# every test program also runs as a 32-bit (i386) build
	gcc-multilib
	busybox-static qemu-system-x86
	linux-image-amd64 linux-headers-amd64
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	linux-source-6.12
	# the debug kernel (selftests/qemu/debug/build-kernel.sh)
	flex bison bc libelf-dev
	# the Debian packages and their lane (make deb, selftests/packaging/)
	debhelper dh-dkms dh-python dkms dpkg-dev lintian openssl pkgconf
	# the Python package's tests and the real servers in the VM (python/,
	# examples/servers/): copied into the initramfs with their libraries
	python3 haproxy nginx systemd
	# the newest kernel line (selftests/qemu/newest/kernel.sh): the private
	# apt configuration checks trixie-backports with the archive keyring;
	# its config signs modules, so modules_prepare builds sign-file
	debian-archive-keyring libssl-dev
	# kselftest's lib.mk installs with rsync
	rsync
	# the upstream lane (selftests/upstream/): git am of the series, the
	# in-tree build checked by sparse (C=2; selftests/upstream/sparse.sh
	# builds a newer one when the tree refuses this one)
	git sparse
	# checkpatch.pl checks SPDX lines with scripts/spdxcheck.py
	python3-ply python3-git
	# pip install ./python into a venv (python/tests/pip_test.sh)
	python3-venv python3-setuptools python3-wheel
)

tarball=/usr/src/linux-source-6.12.tar.xz
tardir=linux-source-6.12

say() { printf '  %-7s %s\n' DEPS "$*" >&2; }

missing_packages() {
	# dpkg-query prints nothing for unknown packages on stdout: compare by
	# name so that both "unknown" and "not installed" count as missing.
	local installed
	# (dpkg-query exits 1 when one of them is unknown: not an error here.)
	installed=$( (dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' \
		"${packages[@]}" 2>/dev/null || true) | awk '$2 ~ /^ii/ { print $1 }')
	local p
	for p in "${packages[@]}"; do
		grep -qxF "$p" <<<"$installed" || echo "$p"
	done
}

install_packages() {
	local -a sudo=()
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || {
			echo "deps: need root (or sudo) to install: $*" >&2
			return 1
		}
		sudo=(sudo)
	fi
	say "installing $* (dpkg runs update-initramfs: slow, harmless)"
	export DEBIAN_FRONTEND=noninteractive
	# Another apt-get (a second check, unattended-upgrades) may hold the
	# dpkg lock: wait for it instead of failing the run.
	local -a apt=(apt-get -o DPkg::Lock::Timeout=900)
	# A fresh machine may have empty package lists: update once, then
	# install; retry after an update if the first attempt fails.
	if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
		"${sudo[@]}" "${apt[@]}" update -q >&2
	fi
	if ! "${sudo[@]}" "${apt[@]}" install -y -q --no-install-recommends "$@" >&2; then
		"${sudo[@]}" "${apt[@]}" update -q >&2
		"${sudo[@]}" "${apt[@]}" install -y -q --no-install-recommends "$@" >&2
	fi
}

# Files we take from the kernel source tarball: destination dir, then paths.
ksft_files=(
	tools/testing/selftests/kselftest_harness.h
	tools/testing/selftests/kselftest.h
)
tool_files=(
	scripts/checkpatch.pl
	scripts/spelling.txt
	scripts/const_structs.checkpatch
	scripts/kernel-doc
)

extract_sources() {
	local stamp=$build/ksft/.stamp key
	# Key the cache by the package version and the tarball's mtime: a new
	# linux-source-6.12 upload re-extracts, anything else is a no-op.
	key="$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true) $(stat -c %Y "$tarball")"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] &&
	   [ -f "$build/tools/checkpatch.pl" ] && [ -f "$build/ksft/kselftest_harness.h" ]; then
		return 0
	fi
	say "extracting kselftest harness, checkpatch and kernel-doc from $tarball"
	local tmp
	tmp=$(mktemp -d "$build/.extract.XXXXXX")
	local -a want=()
	local f
	for f in "${ksft_files[@]}" "${tool_files[@]}"; do
		want+=("$tardir/$f")
	done
	nice tar -xJf "$tarball" -C "$tmp" "${want[@]}"
	mkdir -p "$build/ksft" "$build/tools"
	for f in "${ksft_files[@]}"; do
		cp "$tmp/$tardir/$f" "$build/ksft/"
	done
	for f in "${tool_files[@]}"; do
		cp "$tmp/$tardir/$f" "$build/tools/"
	done
	chmod +x "$build/tools/checkpatch.pl" "$build/tools/kernel-doc"
	rm -rf "$tmp"
	echo "$key" >"$stamp"
}

main() {
	local install=1 only=0
	[ "${1:-}" = --no-install ] && install=0
	# --only PKG...: just these packages (make deb needs no kernels or QEMU)
	if [ "${1:-}" = --only ]; then
		shift
		packages=("$@")
		only=1
	fi

	local -a missing
	mapfile -t missing < <(missing_packages)
	if [ "${#missing[@]}" -gt 0 ]; then
		if [ "$install" = 0 ]; then
			echo "deps: missing packages: ${missing[*]}" >&2
			return 1
		fi
		install_packages "${missing[@]}"
		mapfile -t missing < <(missing_packages)
		if [ "${#missing[@]}" -gt 0 ]; then
			echo "deps: still missing after apt-get: ${missing[*]}" >&2
			return 1
		fi
	fi

	[ "$only" = 0 ] || return 0
	mkdir -p "$build"
	extract_sources
}

main "$@"
