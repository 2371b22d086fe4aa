#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#
# Put Debian's python3 (interpreter, shared libraries, standard library)
# and this package with its tests into the VM root tree, for the VM lane's
# python_test (python/build.mk).  The standard library goes in without what
# a test never imports: its own test suite, IDLE, Tk, lib2to3, ensurepip,
# pydoc topics, distutils and the static library for embedding (the
# compiled .pyc files stay: compiling under TCG would be slow).
#
# Usage: python/vmroot.sh DEST [--interpreter-only]
#   --interpreter-only  python3 and its standard library, not the package
#                       (the packaging lane adds python3-sockdup as installed)

set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${1:?usage: python/vmroot.sh DEST [--interpreter-only]}
only_py=0
[ "${2:-}" = --interpreter-only ] && only_py=1
py=/usr/bin/python3
[ -x "$py" ] || { echo "python/vmroot.sh: $py is missing (make deps)" >&2; exit 1; }
ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
exe=$(readlink -f "$py")
stdlib=/usr/lib/python$ver

# rsync is not a dependency: a tar pipe with excludes, redone only when
# the interpreter package changes.
stamp=$dest$stdlib/.sockdup-stamp
key="$(dpkg-query -W -f='${Version}' "libpython$ver-stdlib" 2>/dev/null || true) $(stat -c %Y "$stdlib")"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$key" ]; then
	rm -rf "${dest:?}$stdlib"
	mkdir -p "$dest$stdlib"
	tar -C "$stdlib" -cf - --exclude=./test --exclude=./idlelib \
		--exclude=./tkinter --exclude=./turtledemo --exclude=./lib2to3 \
		--exclude=./ensurepip --exclude=./pydoc_data --exclude=./distutils \
		--exclude='./config-*' --exclude=./site-packages \
		--exclude=./dist-packages --exclude=./lib-dynload . |
		tar -C "$dest$stdlib" -xf -
	echo "$key" >"$stamp"
fi

# extension modules, without those that pull in big libraries no test
# uses (sqlite, Berkeley DB and gdbm, curses, readline)
mods=()
for m in "$stdlib"/lib-dynload/*.so; do
	case ${m##*/} in
	_sqlite3.* | _dbm.* | _gdbm.* | _curses* | readline.*) ;;
	*) mods+=("$m") ;;
	esac
done
# libgcc_s is dlopen()ed by glibc when a thread exits (pthread_exit): it
# sits beside libc
libdir=$(dirname "$(ldd "$exe" | sed -n 's/.*libc\.so\.6 => \([^ ]*\) .*/\1/p')")
"$top/selftests/qemu/vmroot-elf.sh" "$dest" "$exe" "${mods[@]}" "$libdir/libgcc_s.so.1"
ln -sfn "$(basename "$exe")" "$dest/usr/bin/python3"

[ "$only_py" = 0 ] || exit 0

# the package and its tests, fresh every time
rm -rf "$dest/sockdup/python"
mkdir -p "$dest/sockdup/python"
cp -r "$top/python/sockdup" "$top/python/tests" "$dest/sockdup/python/"
find "$dest/sockdup/python" -name __pycache__ -prune -exec rm -rf {} +
