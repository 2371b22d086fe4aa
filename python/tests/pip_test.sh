#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#
# `pip install ./python` for real, as a user does it: Debian's python3, a
# fresh virtual environment, then the host tests (host_test.py) against the
# package pip installed there rather than against python/.  TAP on standard
# output (make python-pip, a unit test of make check).
#
# This machine reaches no package index, so pip builds with what Debian
# ships (python3-setuptools, python3-wheel, seen through
# --system-site-packages) and looks nowhere else: --no-index
# --no-build-isolation, and no pip configuration file of the machine's.  With
# an index, a plain `pip install ./python` does the same with setuptools
# from it.  pip writes build/ and *.egg-info next to the sources, so it
# installs from a copy of python/ in build/python/pip/.
#
# Usage: python/tests/pip_test.sh (from anywhere; SOCKDUP_TOKEN_TOOL as for
# host_test.py)

set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$top/build/python/pip
py=/usr/bin/python3
n=0 failed=0

result() {	# result 0|1 description
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n pip: $2"
	else
		failed=1
		echo "not ok $n pip: $2"
	fi
}
indent() { sed 's/^/#   /'; }

"$top/selftests/qemu/deps.sh" --only python3 python3-venv python3-setuptools \
	python3-wheel || { echo "not ok 1 pip: the packages pip needs could not be installed"; exit 1; }

rm -rf "$work"
mkdir -p "$work"
tar -C "$top/python" --exclude=__pycache__ --exclude=build \
	--exclude='*.egg-info' -cf - . | tar -C "$work" --one-top-level=src -xf -

t=$SECONDS
"$py" -m venv --system-site-packages "$work/venv" >"$work/venv.log" 2>&1
rc=$?
[ "$rc" = 0 ] || indent <"$work/venv.log"
result "$rc" "$py -m venv --system-site-packages ($((SECONDS - t)) s)"
[ "$rc" = 0 ] || exit 1

t=$SECONDS
PIP_CONFIG_FILE=/dev/null "$work/venv/bin/pip" install --no-index \
	--no-build-isolation --no-cache-dir "$work/src" >"$work/pip.log" 2>&1
rc=$?
[ "$rc" = 0 ] || tail -n 40 "$work/pip.log" | indent
result "$rc" "pip install ./python into the venv ($((SECONDS - t)) s): $(tail -n 1 "$work/pip.log")"
[ "$rc" = 0 ] || exit 1

# What got installed, and from where the venv's python3 imports it.
site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
want=$(sed -n 's/^version = "\(.*\)"/\1/p' "$top/python/pyproject.toml")
got=$(cd / && "$work/venv/bin/python" -c 'import sockdup; print(sockdup.__file__, sockdup.__version__)')
rc=0
[[ $got == "$site/sockdup/__init__.py $want" ]] || rc=1
[ "$rc" = 0 ] || echo "# want $site/sockdup/__init__.py $want"
result "$rc" "the venv imports the installed package, version $want (${got:-nothing})"
[ -f "$site/sockdup/py.typed" ] && [ -f "$site/sockdup-$want.dist-info/METADATA" ]
result $? "py.typed and sockdup-$want.dist-info installed"
missing=$(cd "$top/python" && for f in sockdup/*.py; do [ -f "$site/$f" ] || echo "$f"; done)
[ -z "$missing" ]
result $? "every module of python/sockdup installed${missing:+ (missing: $(echo $missing))}"

# The host tests, against the installed package (their TAP goes on after
# ours: make check counts "ok N" lines).
echo "# host_test.py with the venv's python3 and the installed package"
SOCKDUP_TOP=$top SOCKDUP_PY_INSTALLED=1 PYTHONDONTWRITEBYTECODE=1 \
	"$work/venv/bin/python" "$top/python/tests/host_test.py" || failed=1

PIP_CONFIG_FILE=/dev/null "$work/venv/bin/pip" uninstall -y sockdup >"$work/uninstall.log" 2>&1 &&
	[ ! -e "$site/sockdup" ]
result $? "pip uninstall sockdup leaves nothing in the venv"
exit "$failed"
