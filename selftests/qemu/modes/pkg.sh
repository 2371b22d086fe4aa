#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# pkg mode: the Debian packages as installed on the host, booted by the
# packaging lane (selftests/packaging/run.sh) through run-vm.sh with
# SOCKDUP_VM_ROOT: /init has loaded sockdup with modprobe from
# /lib/modules/<release>/updates/dkms/ (DKMS's build, found through the
# host's modules.dep).  This mode checks that it is that module, at the
# packages' version (sockdup_version= on the command line), then runs
# smoke_test and installed_client: a program built against libsockdup-dev
# with pkg-config, using libsockdup.so.0 and /usr/bin/sockdup as installed;
# and installed_python: python3-sockdup as installed, with Debian's python3,
# handing sockets to and from /usr/bin/sockdup.
#
# vm-timeout: 240

. /sockdup/lib.sh

rel=$(uname -r)
dep=$(grep '^[^:]*/sockdup\.ko[.a-z]*:' "/lib/modules/$rel/modules.dep")
case $dep in
updates/dkms/sockdup.ko*) sockdup_point ok "modules.dep: $dep" ;;
*) sockdup_point fail "modules.dep has no updates/dkms/sockdup.ko entry: '$dep'" ;;
esac
if [ ! -e /sockdup/sockdup.ko ] && [ "${sockdup_load:-}" = modprobe ]; then
	sockdup_point ok "no build-tree sockdup.ko in this VM: modprobe loaded the installed one"
else
	sockdup_point fail "this VM was meant to load the installed module only"
fi
loaded=$(cat /sys/module/sockdup/version 2>/dev/null)
if [ -n "${sockdup_version:-}" ] && [ "$loaded" = "$sockdup_version" ]; then
	sockdup_point ok "loaded module version $loaded (MODULE_VERSION)"
else
	sockdup_point fail "loaded module version '$loaded', the packages are '${sockdup_version:-?}'"
fi

rc=0
sockdup_kmsg_mark tests
echo "@@sockdup plan 3"
sockdup_run_test /sockdup/tests/smoke_test || rc=1
# sockdup_run_test passes no arguments: a wrapper gives the version.
printf '#!/bin/sh\nexec /usr/local/bin/installed_client "%s" /usr/bin/sockdup\n' \
	"${sockdup_version:-}" >/tmp/installed_client
chmod +x /tmp/installed_client
sockdup_run_test /tmp/installed_client 60 || rc=1
printf '#!/bin/sh\nexec /usr/local/bin/installed_python "%s" /usr/bin/sockdup\n' \
	"${sockdup_version:-}" >/tmp/installed_python
chmod +x /tmp/installed_python
sockdup_run_test /tmp/installed_python 60 || rc=1
exit "$rc"
