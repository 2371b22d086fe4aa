#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Host unit test of "make userlib-install": the files land under DESTDIR,
# the shared library has its soname and exports exactly the versioned
# public API, pkg-config builds a program against the installed copy (with
# the UAPI header installed alongside, no kernel headers needed), and every
# public function has a man page that groff reads without warnings.
# Run from the top directory.  Prints TAP.
n=0 failed=0 skipped=0
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

t() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
	fi
}

ver=$(cat VERSION)
echo "TAP version 13"
make --no-print-directory -f userlib/build.mk userlib-install \
	DESTDIR="$dest" PREFIX=/usr >"$dest/log" 2>&1
t $? "make userlib-install DESTDIR=... PREFIX=/usr"
lib=$dest/usr/lib
for f in lib/libsockdup.so.$ver lib/libsockdup.so.0 lib/libsockdup.so \
	lib/libsockdup.a include/sockdup.h include/linux/sockdup.h \
	lib/pkgconfig/libsockdup.pc bin/sockdup share/man/man1/sockdup.1 \
	share/man/man3/sockdup_share.3; do
	test -e "$dest/usr/$f"
	t $? "installed $f"
done
test "$(readlink "$lib/libsockdup.so")" = libsockdup.so.0 &&
	test "$(readlink "$lib/libsockdup.so.0")" = "libsockdup.so.$ver"
t $? "libsockdup.so -> libsockdup.so.0 -> libsockdup.so.$ver (VERSION)"
readelf -d "$lib/libsockdup.so.$ver" | grep -q 'SONAME.*\[libsockdup.so.0\]'
t $? "soname is libsockdup.so.0"

api=$(sed -n 's/^[[:space:]]*\(sockdup_[a-z_]*\);$/\1/p' userlib/libsockdup.map | sort)
exported=$(objdump -T "$lib/libsockdup.so.$ver" | awk '$4 != "*UND*" && /LIBSOCKDUP_0.1/ && $NF ~ /^sockdup_/ {print $NF}' | sort)
test -n "$api" && test "$api" = "$exported"
t $? "exports exactly the version script's functions at LIBSOCKDUP_0.1"
others=$(objdump -T "$lib/libsockdup.so.$ver" | awk '$4 != "*UND*" && $NF !~ /^sockdup_/ && $NF != "LIBSOCKDUP_0.1" && $2 == "g"' )
test -z "$others"
t $? "exports nothing else (no internal symbols)"
major=$(sed -n 's/^#define LIBSOCKDUP_VERSION_MAJOR[[:space:]]*//p' userlib/include/sockdup.h)
minor=$(sed -n 's/^#define LIBSOCKDUP_VERSION_MINOR[[:space:]]*//p' userlib/include/sockdup.h)
test "$major.$minor" = "$(echo "$ver" | cut -d. -f1,2)"
t $? "sockdup.h's LIBSOCKDUP_VERSION_MAJOR.MINOR ($major.$minor) is VERSION's ($ver)"
hdr=$(sed -n 's/^int \(sockdup_[a-z_]*\)(.*/\1/p' userlib/include/sockdup.h | sort)
test "$hdr" = "$api"
t $? "every function declared in sockdup.h is in the version script"

missing=
for f in $api; do
	test -f "$dest/usr/share/man/man3/$f.3" || missing="$missing $f"
done
test -z "$missing"
t $? "a man page for every public function${missing:+ (missing:$missing)}"

# (.so pages only point at another page)
stale=$(grep -l '^\.TH ' "$dest"/usr/share/man/man*/* |
	xargs grep -L "^\.TH .*\"\(lib\)\{0,1\}sockdup $ver\"")
test -z "$stale"
t $? "every installed man page carries version $ver${stale:+ (not:$stale)}"

if command -v groff >/dev/null; then
	# from the man root, as man(1) reads them: ".so man3/x.3" links resolve
	warn=$(cd "$dest/usr/share/man" && for p in man*/*; do
		groff -man -ww -z "$p" 2>&1 | sed "s|^|$(basename "$p"): |"
	done)
	test -z "$warn"
	t $? "groff reads every man page without a warning"
	[ -z "$warn" ] || echo "$warn" | sed 's/^/# /'
else
	n=$((n + 1)) skipped=$((skipped + 1))
	echo "ok $n # SKIP groff is not installed"
fi

cat >"$dest/three.c" <<'C'
#include <stdio.h>
#include <sockdup.h>
int main(void)
{
	struct sockdup_cookie c = { { 0 } };
	char tok[SOCKDUP_TOKEN_SIZE];

	if (sockdup_token_encode(&c, tok, sizeof(tok)) != SOCKDUP_TOKEN_LEN)
		return 1;
	puts(tok);
	return sockdup_redeem_token("sd1_nope", 0) == -22 ? 0 : 1;
}
C
pc="env PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest pkg-config"
if command -v pkg-config >/dev/null; then
	${CC:-cc} -Wall -Werror $($pc --cflags libsockdup) -o "$dest/three" "$dest/three.c" \
		$($pc --libs libsockdup) >"$dest/log" 2>&1 &&
		test "$(LD_LIBRARY_PATH=$lib "$dest/three")" = sd1_AAAAAAAAAAAAAAAAAAAAAA
	t $? "pkg-config --cflags --libs libsockdup: build and run against the shared library"
	${CC:-cc} -static $($pc --cflags libsockdup) -o "$dest/three-static" \
		"$dest/three.c" $($pc --static --libs libsockdup) >"$dest/log" 2>&1 &&
		"$dest/three-static" >/dev/null
	t $? "pkg-config --static: build and run against the static library"
else
	n=$((n + 2)) skipped=$((skipped + 2))
	echo "ok $((n - 1)) # SKIP pkg-config is not installed"
	echo "ok $n # SKIP pkg-config is not installed"
fi

make --no-print-directory -f userlib/build.mk userlib-uninstall DESTDIR="$dest" PREFIX=/usr >/dev/null 2>&1
left=$(find "$dest/usr" -type f -o -type l)
test -z "$left"
t $? "make userlib-uninstall removes every installed file"

echo "1..$n"
echo "# install_unit: $((n - failed - skipped)) passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
