#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The newest Debian kernel line (7.x from trixie-backports), prepared for the
# VM lane without installing anything of it: the newest linux-image-7.*-amd64
# the registry offers, the linux-headers package of the same version (for
# its .config and Module.symvers) and linux-source-7.N of the same version.
# The packages are fetched with `apt-get download` through a private apt
# configuration (its own sources list and state directory, next to the
# cache; the machine's /etc/apt is never touched) and unpacked with
# dpkg-deb.  The source tree is prepared with the image's .config,
# Module.symvers and release string (KERNELRELEASE) by this machine's gcc,
# so that sockdup.ko built against it loads into Debian's own image:
# Debian's 7.x config has MODVERSIONS unset and no struct randomization.
#
# Nothing about the version is written down: each run asks the registry.  A
# prepared tree is cached by release and package version, like the debug
# kernel.  Layout of the cache:
#
#   $CACHE/apt/                    private apt: sources.list, lists/, cache/
#   $CACHE/<release>_<pkgver>/bzImage    the image's vmlinuz
#   $CACHE/<release>_<pkgver>/build/     prepared linux-source tree (KDIR),
#                                        with usr/include (make headers)
#   $CACHE/<release>_<pkgver>/release    uname -r of the image
#   $CACHE/<release>_<pkgver>/describe   packages and suite, for the logs
#   $CACHE/<release>_<pkgver>/info       versions, sizes, seconds per step
#   $CACHE/<release>_<pkgver>/.done      written last: the entry is complete
#   $CACHE/<release>_<pkgver>/.last-used touched on every use
#
# The entry is a "custom kernel directory" for run-vm.sh (bzImage + build/)
# whose `release` file makes run-vm.sh check that the guest booted exactly
# that release.  After a preparation only the NEWEST_KERNEL_KEEP (default 2)
# most recently used entries are kept.
#
# Usage: kernel.sh [SERIES]     (SERIES: the major version, default 7)
#   Prints progress on stderr and the entry directory on the last line of
#   stdout.  When the registry cannot be reached, the most recently used
#   complete entry of SERIES is used, with a warning.
# Usage: kernel.sh --resolve [SERIES]
#   Prints "<release> <version> <source-package>": what would be prepared.
# Usage: kernel.sh --source [SERIES]
#   Prints the directory of a pristine (never built in, never patched)
#   extraction of the linux-source package of that version, cached as
#   $CACHE/src-<pkgver>/linux-source-N.M/: the source the debug kernel and
#   the upstream lane (selftests/upstream/) start from.  Beside it,
#   src-<pkgver>/git is a git repository of the tree as extracted (one
#   commit, kept outside the tree so that the kernel's setlocalversion does
#   not see it), onto which the upstream lane applies the series with
#   `git am`; src-<pkgver>/version holds the package version.  Only the
#   newest version's source is kept.
#
# Environment: SOCKDUP_NEWEST_CACHE (default /var/cache/sockdup/newest-kernel,
# or ~/.cache/sockdup/newest-kernel when that is not writable),
# SOCKDUP_NEWEST_SUITE (default trixie-backports), SOCKDUP_NEWEST_MIRROR
# (default: the machine's Debian mirror), NEWEST_KERNEL_NICE (default 10),
# NEWEST_KERNEL_KEEP (default 2).

set -euo pipefail

die() { echo "newest-kernel: error: $*" >&2; exit 1; }
log() { echo "newest-kernel: $*" >&2; }

resolve_only=0
source_only=0
case "${1:-}" in
--resolve) resolve_only=1; shift ;;
--source) source_only=1; shift ;;
esac
series=${1:-7}
[[ $series =~ ^[0-9]+$ ]] || die "usage: $0 [--resolve | --source] [SERIES]  (SERIES: a major version such as 7)"

suite=${SOCKDUP_NEWEST_SUITE:-trixie-backports}
niceness=${NEWEST_KERNEL_NICE:-10}
keep=${NEWEST_KERNEL_KEEP:-2}
if [ -n "${SOCKDUP_NEWEST_CACHE:-}" ]; then
	cache=$SOCKDUP_NEWEST_CACHE
elif mkdir -p /var/cache/sockdup/newest-kernel 2>/dev/null &&
     [ -w /var/cache/sockdup/newest-kernel ]; then
	cache=/var/cache/sockdup/newest-kernel
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/sockdup/newest-kernel
fi
aptdir=$cache/apt
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" \
	"$aptdir/sources.list.d" "$aptdir/preferences.d"

for tool in apt-get apt-cache dpkg-deb gcc make flex bison bc xz git; do
	command -v $tool >/dev/null ||
		die "$tool missing (selftests/qemu/deps.sh installs what this needs)"
done

# The machine's Debian mirror (deb822 or one-line format), so that the
# private configuration reaches the registry the machine already uses.
mirror() {
	local m
	[ -z "${SOCKDUP_NEWEST_MIRROR:-}" ] || { echo "$SOCKDUP_NEWEST_MIRROR"; return; }
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ { print u; exit }')
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }')
	echo "${m:-http://deb.debian.org/debian}"
}

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"
printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$(mirror)" "$suite" \
	>"$aptdir/sources.list"

# Every apt call goes through this configuration only.  Dir::State::status
# stays the machine's (read only: nothing is installed).
apt_opts=(
	-o "Dir::Etc::SourceList=$aptdir/sources.list"
	-o "Dir::Etc::SourceParts=$aptdir/sources.list.d"
	-o "Dir::Etc::Preferences=$aptdir/preferences"
	-o "Dir::Etc::PreferencesParts=$aptdir/preferences.d"
	-o "Dir::State::Lists=$aptdir/lists"
	-o "Dir::Cache=$aptdir/cache"
	-o "APT::Get::List-Cleanup=1"
	-o "Debug::NoLocking=1"
)
# apt drops privileges to _apt for downloads; the private directories are
# root's, so download as root (the files are verified against the signed
# lists either way).
[ "$(id -u)" != 0 ] || apt_opts+=(-o "APT::Sandbox::User=root")
papt() { apt-get "${apt_opts[@]}" "$@"; }
pcache() { apt-cache "${apt_opts[@]}" "$@"; }

# The most recently used complete entry of the series, for offline runs.
last_entry() {
	local e
	for e in $(ls -1dt "$cache/$series".*/.last-used 2>/dev/null); do
		e=${e%/.last-used}
		[ -f "$e/.done" ] && { echo "$e"; return 0; }
	done
	return 1
}

# A version of PACKAGE exactly VERSION in the private lists?
has_version() {	# has_version PACKAGE VERSION
	pcache madison "$1" 2>/dev/null | awk -F'|' -v v="$2" '
		{ gsub(/ /, "", $2) } $2 == v { found = 1 } END { exit !found }'
}

# resolve: the newest release of the series whose image, headers and source
# all exist in the same version.  Sets release, version, srcpkg, binpkg.
resolve() {
	local rel v src bin info
	for rel in $(pcache pkgnames "linux-image-$series." 2>/dev/null |
		sed -n "s/^linux-image-\($series\.[0-9][0-9]*\.[0-9][0-9]*+[a-z0-9.~]*-amd64\)$/\1/p" |
		sort -rV); do
		info=$(pcache show --no-all-versions "linux-image-$rel" 2>/dev/null) || continue
		v=$(sed -n '1,/^$/s/^Version: //p' <<<"$info")
		[ -n "$v" ] || continue
		src=linux-source-$(echo "$rel" | cut -d. -f1,2)
		has_version "linux-headers-$rel" "$v" || continue
		has_version "$src" "$v" || continue
		# Debian's 7.x images are meta-packages: the kernel itself is
		# in linux-binary-<release>.
		bin=linux-image-$rel
		if grep -q "^Depends:.*linux-binary-$rel " <<<"$info"; then
			bin=linux-binary-$rel
		fi
		release=$rel version=$v srcpkg=$src binpkg=$bin
		return 0
	done
	return 1
}

# One run at a time per cache: the private lists are updated in place and a
# second run wants the entry the first one may be preparing.
exec 9>"$cache/.lock"
if ! flock -n 9; then
	log "another run holds $cache/.lock; waiting"
	flock 9
fi

t0=$(date +%s)
if ! papt -q update >"$aptdir/update.log" 2>&1 ||
   grep -qE '^(E: |W: (Failed to fetch|Some index files failed))' "$aptdir/update.log"; then
	if [ "$source_only" = 1 ] && e=$(ls -1dt "$cache"/src-"$series".*/.extracted 2>/dev/null | head -n 1) &&
	   [ -n "$e" ]; then
		log "warning: cannot reach $suite ($(grep -m 1 '^[WE]: ' "$aptdir/update.log" || echo 'apt-get update failed')); using the cached source in ${e%/.extracted}"
		ls -d "${e%/.extracted}"/linux-source-*/
		exit 0
	fi
	if [ "$resolve_only" = 0 ] && [ "$source_only" = 0 ] && e=$(last_entry); then
		log "warning: cannot reach $suite ($(grep -m 1 '^[WE]: ' "$aptdir/update.log" || echo 'apt-get update failed')); using the cached $(cat "$e/release")"
		touch "$e/.last-used"
		echo "$e"
		exit 0
	fi
	cat "$aptdir/update.log" >&2
	die "apt-get update of $suite (private configuration in $aptdir) failed"
fi
t_update=$(($(date +%s) - t0))
resolve || die "$suite offers no linux-image-$series.*-amd64 with linux-headers and linux-source of the same version"

if [ "$resolve_only" = 1 ]; then
	echo "$release $version $srcpkg"
	exit 0
fi

# Keep the path free of characters Kbuild dislikes ('~' from backports).
entry=$cache/${release}_$(printf '%s' "$version" | tr -c 'A-Za-z0-9.+-' '_')

# --source: the pristine source of this version, extracted once.  Older
# versions' sources go when a new one is extracted.
if [ "$source_only" = 1 ]; then
	srcroot=$cache/src-$(printf '%s' "$version" | tr -c 'A-Za-z0-9.+-' '-')
	if [ ! -f "$srcroot/.extracted" ]; then
		log "extracting the pristine $srcpkg $version into $srcroot"
		rm -rf "$srcroot" "$srcroot.tmp"
		mkdir -p "$srcroot.tmp/debs"
		t0=$(date +%s)
		(cd "$srcroot.tmp/debs" && papt -q download "$srcpkg=$version") \
			>"$srcroot.tmp/download.log" 2>&1 ||
			{ cat "$srcroot.tmp/download.log" >&2; die "apt-get download $srcpkg=$version failed"; }
		dpkg-deb --fsys-tarfile "$srcroot.tmp/debs/${srcpkg}_"*.deb |
			nice -n "$niceness" tar -xO "./usr/src/$srcpkg.tar.xz" |
			nice -n "$niceness" tar -xJ -C "$srcroot.tmp"
		[ -f "$srcroot.tmp/$srcpkg/Makefile" ] || die "unexpected layout of $srcpkg"
		rm -rf "$srcroot.tmp/debs"
		echo "$version" >"$srcroot.tmp/version"
		log "recording the extracted tree in $srcroot/git (once per version)"
		g=(git --git-dir="$srcroot.tmp/git" --work-tree="$srcroot.tmp/$srcpkg"
			-c user.name="$srcpkg" -c user.email="$srcpkg@packages.debian.org"
			-c core.autocrlf=false -c gc.auto=0)
		"${g[@]}" init -q
		nice -n "$niceness" "${g[@]}" add -A -f .
		nice -n "$niceness" "${g[@]}" commit -q -m "$srcpkg $version" ||
			die "cannot record $srcpkg in git (git commit failed)"
		mv "$srcroot.tmp" "$srcroot"
		touch "$srcroot/.extracted"
		for e in "$cache"/src-*/; do
			e=${e%/}
			[ "$e" = "$srcroot" ] || { log "pruning old source $e"; rm -rf -- "$e"; }
		done
		log "extracted $srcpkg $version in $(($(date +%s) - t0)) s"
	fi
	echo "$srcroot/$srcpkg"
	exit 0
fi
describe="linux-image-$release $version, $srcpkg, linux-headers-$release from $suite"

complete() { [ -f "$entry/.done" ] && [ -f "$entry/bzImage" ]; }
if complete; then
	touch "$entry/.last-used" 2>/dev/null || true
	log "cached $release ($version) in $entry"
	echo "$entry"
	exit 0
fi

# prune: keep the $keep most recently used complete entries (this one
# included, it is about to be used) and drop unfinished ones.
prune() {
	local e n=0
	for e in $(ls -1dt "$cache"/*_*/.last-used 2>/dev/null); do
		e=${e%/.last-used}
		n=$((n + 1))
		[ "$n" -le "$keep" ] || { log "pruning old $e"; rm -rf -- "$e"; }
	done
	for e in "$cache"/*_*/; do
		e=${e%/}
		case ${e##*/} in src-*) continue ;; esac
		[ -f "$e/.last-used" ] || [ "$e" = "$entry" ] ||
			{ log "pruning unfinished $e"; rm -rf -- "$e"; }
	done
}

log "preparing $describe in $entry"
rm -rf "$entry"
mkdir -p "$entry/debs" "$entry/unpack"
buildlog=$entry/prepare.log
: >"$buildlog"

t0=$(date +%s)
(cd "$entry/debs" && papt -q download "$binpkg=$version" \
	"linux-headers-$release=$version" "$srcpkg=$version") >>"$buildlog" 2>&1 ||
	{ tail -n 20 "$buildlog" >&2; die "apt-get download failed (log: $buildlog)"; }
t_download=$(($(date +%s) - t0))
download_bytes=$(du -cb "$entry"/debs/*.deb | tail -n 1 | cut -f1)

t0=$(date +%s)
deb() {	# deb PACKAGE: the downloaded .deb of PACKAGE
	local f
	for f in "$entry"/debs/"$1"_*.deb; do
		[ -f "$f" ] && { echo "$f"; return 0; }
	done
	die "apt-get download left no $1 .deb in $entry/debs"
}
dpkg-deb -x "$(deb "$binpkg")" "$entry/unpack"
dpkg-deb -x "$(deb "linux-headers-$release")" "$entry/unpack"
hdr=$entry/unpack/usr/src/linux-headers-$release
image=""
for f in "$entry/unpack/usr/lib/modules/$release/vmlinuz" "$entry/unpack/boot/vmlinuz-$release"; do
	[ -f "$f" ] && { image=$f; break; }
done
[ -n "$image" ] || die "no vmlinuz for $release in $binpkg"
if [ ! -f "$hdr/.config" ] || [ ! -f "$hdr/Module.symvers" ]; then
	die "no .config or Module.symvers in linux-headers-$release"
fi
grep -q "^#define UTS_RELEASE \"$release\"" "$hdr/include/generated/utsrelease.h" ||
	die "linux-headers-$release is not for release $release"
cp "$image" "$entry/bzImage"
# linux-source-7.N holds the source as a tarball: stream it out of the .deb.
dpkg-deb --fsys-tarfile "$(deb "$srcpkg")" |
	nice -n "$niceness" tar -xO "./usr/src/$srcpkg.tar.xz" |
	nice -n "$niceness" tar -xJ -C "$entry/unpack"
[ -f "$entry/unpack/$srcpkg/Makefile" ] || die "unexpected layout of $srcpkg"
mv "$entry/unpack/$srcpkg" "$entry/build"
cp "$hdr/.config" "$hdr/Module.symvers" "$entry/build/"
t_extract=$(($(date +%s) - t0))

# The image's configuration, re-evaluated for this machine's compiler:
# olddefconfig only drops what gcc-12 cannot do (Rust, a few code-generation
# options); every option that shapes a structure stays as Debian built it.
t0=$(date +%s)
kmake() {
	nice -n "$niceness" make -C "$entry/build" KERNELRELEASE="$release" "$@" \
		>>"$buildlog" 2>&1 ||
		{ tail -n 40 "$buildlog" >&2; die "make $* failed (full log: $buildlog)"; }
}
kmake olddefconfig
for opt in CONFIG_MODVERSIONS CONFIG_RANDSTRUCT_FULL CONFIG_RANDSTRUCT_PERFORMANCE; do
	if grep -q "^$opt=y" "$hdr/.config"; then
		die "$release has $opt=y: a module built here would not load into it"
	fi
done
for opt in CONFIG_MODULES CONFIG_MODULE_UNLOAD CONFIG_SMP CONFIG_PREEMPT_DYNAMIC; do
	a=$(grep -E "^$opt=" "$hdr/.config" || true)
	b=$(grep -E "^$opt=" "$entry/build/.config" || true)
	[ "$a" = "$b" ] || die "olddefconfig changed $opt ('$a' -> '$b')"
done
kmake -j"$(nproc)" modules_prepare
# usr/include: the uapi headers kselftest builds against (KHDR_INCLUDES).
kmake headers
got=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' "$entry/build/include/generated/utsrelease.h")
[ "$got" = "$release" ] || die "prepared tree says release '$got', not '$release'"
t_prepare=$(($(date +%s) - t0))

rm -rf "$entry/debs" "$entry/unpack"
echo "$release" >"$entry/release"
echo "$describe" >"$entry/describe"
{
	echo "release=$release"
	echo "version=$version"
	echo "suite=$suite"
	echo "download_bytes=$download_bytes"
	echo "seconds_update=$t_update"
	echo "seconds_download=$t_download"
	echo "seconds_extract=$t_extract"
	echo "seconds_prepare=$t_prepare"
	echo "tree_bytes=$(du -sb "$entry/build" | cut -f1)"
	echo "prepared=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$entry/info"
touch "$entry/.done" "$entry/.last-used"
prune
log "prepared $release ($version): download $t_download s, extract $t_extract s, prepare $t_prepare s"
echo "$entry"
