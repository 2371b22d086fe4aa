#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make deb`: the Debian packages of this tree, built as a Debian developer
# would (dpkg-buildpackage -b -us -uc), then checked with lintian.
#   1. stages the tree's files (git's view: tracked and new, not ignored;
#      without git, everything but build/) in OUT/sockdup-VERSION/;
#   2. writes debian/changelog there from VERSION (the one place that sets
#      the version of the module, the library and the packages);
#   3. dpkg-buildpackage -b -us -uc: the .deb, .buildinfo and .changes files
#      land in OUT/ (default build/deb/);
#   4. lintian over the .changes: any error or warning fails (overrides in
#      debian/*.lintian-overrides say why they are there).
# Prints the packages with their sizes.  Installs what it needs when it is
# missing (selftests/qemu/deps.sh --only: the compiler, debhelper, dh-dkms,
# dpkg-dev, lintian; no kernels, no QEMU).
#
# Usage: scripts/deb.sh [--no-lintian] [OUT [VERSION]]
#   VERSION defaults to the contents of VERSION; another one (make deb
#   SOCKDUP_VERSION=0.1.0+test1) builds the same tree as that version.

set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

lint=1
if [ "${1:-}" = --no-lintian ]; then
	lint=0
	shift
fi
out=${1:-build/deb}
version=${2:-$(cat VERSION)}

say() { printf '  %-7s %s\n' "$1" "$2" >&2; }

# A Debian native version: digits first, then letters, digits, . + ~ only.
if ! [[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; then
	echo "deb: '$version' is not a version dpkg accepts for this native package (digits, letters, . + ~; no -)" >&2
	exit 2
fi

selftests/qemu/deps.sh --only gcc make libc6-dev debhelper dh-dkms dh-python python3 dpkg-dev lintian

case $out in
/*) ;;
*) out=$top/$out ;;
esac
src=$out/sockdup-$version
rm -rf "$out"
mkdir -p "$src"

say STAGE "${src#"$top"/}"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$top" ls-files -z --cached --others --exclude-standard |
		(cd "$top" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
		tar -C "$top" --null -T - -cf - | tar -C "$src" -xf -
else
	tar -C "$top" --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf -
fi
echo "$version" >"$src/VERSION"

# The changelog dates from the last commit, so that two builds of one commit
# give the same packages (dpkg takes SOURCE_DATE_EPOCH from it).
when=$(git -C "$top" log -1 --format=%cD 2>/dev/null || date -R)
maintainer=$(sed -n 's/^Maintainer: //p' debian/control)
cat >"$src/debian/changelog" <<CHANGELOG
sockdup ($version) unstable; urgency=medium

  * sockdup $version, packaged from the source tree by "make deb".
    The changes are in the project's git history.

 -- $maintainer  $when
CHANGELOG

say DPKG "dpkg-buildpackage -b -us -uc (log: ${out#"$top"/}/build.log)"
if ! (cd "$src" && nice dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	echo "deb: dpkg-buildpackage failed; the whole log is ${out#"$top"/}/build.log" >&2
	exit 1
fi

changes=$out/sockdup_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).changes
for deb in "$out"/*.deb; do
	printf '  %-7s %s (%s bytes; installed %s KiB)\n' DEB "${deb#"$top"/}" \
		"$(stat -c %s "$deb")" "$(dpkg-deb -f "$deb" Installed-Size)" >&2
done

if [ "$lint" = 1 ]; then
	say LINTIAN "${changes#"$top"/}"
	if ! nice lintian --fail-on error,warning --display-level '>=warning' \
		"$changes" >"$out/lintian.log" 2>&1; then
		cat "$out/lintian.log" >&2
		echo "deb: lintian reported errors or warnings (${out#"$top"/}/lintian.log)" >&2
		exit 1
	fi
	say LINTIAN "no errors, no warnings"
fi
