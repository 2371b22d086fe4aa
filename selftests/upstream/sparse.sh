#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A sparse that a kernel tree accepts, for the upstream lane's C=2 build.
# The tree's scripts/checker-valid.sh decides: 7.x's headers use
# __typeof_unqual__, which Debian 12's sparse 0.6.4 does not know, so Kbuild
# would silently skip the check.  When the installed sparse is refused, the
# newest sparse source package of Debian unstable is fetched through a
# private apt configuration (its own sources list and state directory; the
# machine's /etc/apt is never touched), built with this machine's gcc (only
# the sparse program: no LLVM, sqlite, libxml or GTK), and cached by
# version.  Nothing is installed.
#
# Usage: selftests/upstream/sparse.sh KERNEL_SOURCE_TREE
#   Prints the path of the sparse to pass as CHECK= on the last line of
#   stdout, progress on stderr.  Exit status 1 when no sparse can be had.
#
# Environment: SOCKDUP_SPARSE_CACHE (default /var/cache/sockdup/sparse, or
# ~/.cache/sockdup/sparse when that is not writable), SOCKDUP_SPARSE_SUITE
# (default unstable).

set -euo pipefail

die() { echo "sparse: error: $*" >&2; exit 1; }
log() { echo "sparse: $*" >&2; }

[ $# = 1 ] && [ -x "$1/scripts/checker-valid.sh" ] ||
	die "usage: $0 KERNEL_SOURCE_TREE (a tree with scripts/checker-valid.sh)"
src=$1
# What Kbuild passes to the checker on x86_64 (CHECKFLAGS, in short).
valid() { [ "$(sh "$src/scripts/checker-valid.sh" "$1" -D__x86_64__ -m64 2>/dev/null)" = 1 ]; }

if command -v sparse >/dev/null && valid sparse; then
	command -v sparse
	exit 0
fi

suite=${SOCKDUP_SPARSE_SUITE:-unstable}
if [ -n "${SOCKDUP_SPARSE_CACHE:-}" ]; then
	cache=$SOCKDUP_SPARSE_CACHE
elif mkdir -p /var/cache/sockdup/sparse 2>/dev/null && [ -w /var/cache/sockdup/sparse ]; then
	cache=/var/cache/sockdup/sparse
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/sockdup/sparse
fi
aptdir=$cache/apt
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"
mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ { print u; exit }')
[ -n "$mirror" ] || mirror=$(cat /etc/apt/sources.list 2>/dev/null |
	awk '$1 == "deb" && / bookworm / { print $2; exit }')
printf 'deb-src [signed-by=%s] %s %s main\n' "$keyring" "${mirror:-http://deb.debian.org/debian}" "$suite" \
	>"$aptdir/sources.list"
apt_opts=(
	-o "Dir::Etc::SourceList=$aptdir/sources.list"
	-o "Dir::Etc::SourceParts=$aptdir/sources.list.d"
	-o "Dir::State::Lists=$aptdir/lists"
	-o "Dir::Cache=$aptdir/cache"
	-o "Debug::NoLocking=1"
)
[ "$(id -u)" != 0 ] || apt_opts+=(-o "APT::Sandbox::User=root")

exec 9>"$cache/.lock"
flock 9

have=$(command -v sparse >/dev/null && sparse --version 2>/dev/null || echo none)
if ! apt-get "${apt_opts[@]}" -q update >"$aptdir/update.log" 2>&1; then
	# Offline: the newest cached build, if any.
	for e in $(ls -1dt "$cache"/*/sparse 2>/dev/null); do
		if valid "$e"; then
			log "warning: cannot reach $suite; using the cached $e"
			echo "$e"
			exit 0
		fi
	done
	cat "$aptdir/update.log" >&2
	die "the tree refuses sparse $have and $suite cannot be reached to build a newer one"
fi
version=$(apt-cache "${apt_opts[@]}" showsrc sparse 2>/dev/null |
	sed -n 's/^Version: //p' | sort -V | tail -n 1)
[ -n "$version" ] || die "$suite has no sparse source package"
entry=$cache/$(printf '%s' "$version" | tr -c 'A-Za-z0-9.+-' '_')
if [ -x "$entry/sparse" ] && valid "$entry/sparse"; then
	echo "$entry/sparse"
	exit 0
fi

log "the tree refuses sparse $have: building sparse $version from $suite's source in $entry"
t0=$(date +%s)
rm -rf "$entry" "$entry.tmp"
mkdir -p "$entry.tmp"
(cd "$entry.tmp" && apt-get "${apt_opts[@]}" -q source --download-only "sparse=$version" &&
	dpkg-source -x sparse_*.dsc src) >"$entry.tmp/fetch.log" 2>&1 ||
	{ cat "$entry.tmp/fetch.log" >&2; die "cannot fetch the source of sparse $version"; }
# Debian's packaging names its own compiler (CC = gcc-NN): use this
# machine's gcc, and build the checker alone.
nice make -C "$entry.tmp/src" -j"$(nproc)" CC=gcc HAVE_LLVM=no HAVE_SQLITE=no \
	HAVE_LIBXML=no HAVE_GTK=no sparse >"$entry.tmp/build.log" 2>&1 ||
	{ tail -n 20 "$entry.tmp/build.log" >&2; die "building sparse $version failed (log: $entry.tmp/build.log)"; }
install -m 0755 "$entry.tmp/src/sparse" "$entry.tmp/sparse"
rm -rf "$entry.tmp/src" "$entry.tmp"/sparse_*
mv "$entry.tmp" "$entry"
valid "$entry/sparse" ||
	die "sparse $version, built in $entry, is refused by $src/scripts/checker-valid.sh too"
log "built sparse $version in $(($(date +%s) - t0)) s"
echo "$entry/sparse"
