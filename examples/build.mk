# SPDX-License-Identifier: MIT
#
# examples/build.mk: real servers taking a handed-over socket
# (examples/servers/): systemd-socket-proxyd, HAProxy and nginx as Debian
# ships them.  Included by the top-level Makefile; the C examples are built
# by userlib/build.mk.
#
# Target
#   servers-vmroot  the three servers with their libraries, and
#                   examples/servers/, in build/vmroot/ (the VM's root);
#                   build/tests/servers_test, which runs servers_test.py in
#                   the VM lane (it needs python-vmroot's python3 too)
# Hook of the top Makefile: vmroot-y.

SRV_PROGS	:= /usr/sbin/haproxy /usr/sbin/nginx /usr/lib/systemd/systemd-socket-proxyd

.PHONY: servers-vmroot
vmroot-y += servers-vmroot

servers-vmroot:
	$(UL_SAY) VMROOT 'haproxy, nginx, systemd-socket-proxyd and examples/servers in build/vmroot'
	$(UL_Q)for p in $(SRV_PROGS); do \
		[ -x $$p ] || { echo "$$p is missing: run make deps" >&2; exit 1; }; \
	done
	$(UL_Q)selftests/qemu/vmroot-elf.sh $(CURDIR)/build/vmroot $(SRV_PROGS)
	$(UL_Q)rm -rf build/vmroot/sockdup/examples/servers
	$(UL_Q)mkdir -p build/vmroot/sockdup/examples/servers build/tests
	$(UL_Q)cp examples/servers/*.py examples/servers/*.cfg examples/servers/*.conf \
		build/vmroot/sockdup/examples/servers/
	$(UL_Q)install -m 755 examples/servers/servers_test.sh build/tests/servers_test
