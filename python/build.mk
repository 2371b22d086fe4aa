# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#
# python/build.mk: the pure-Python package (python/sockdup/) and its tests.
# Included by the top-level Makefile (paths relative to the top directory).
#
# Targets
#   python-unit    host tests (TAP): struct layouts and ioctl numbers against
#                  uapi/linux/sockdup.h, tokens against libsockdup both ways,
#                  argument checks, the error when /dev/sockdup is missing
#   python-pip     pip install ./python into a fresh venv (Debian's python3,
#                  no index: python/tests/pip_test.sh), then the host tests
#                  against the installed package
#   python-vmroot  Debian's python3 with its standard library, the package
#                  and its tests in build/vmroot/ (the VM's root), and
#                  build/tests/python_test, which runs python/tests/vm_test.py
#                  in the VM lane
# Hooks of the top Makefile: unit-y (python-unit, python-pip), vmroot-y
# (python-vmroot).

PY_B		:= build/python
PYTHON		?= /usr/bin/python3

.PHONY: python-unit python-pip python-vmroot
unit-y += python-unit python-pip
vmroot-y += python-vmroot

$(PY_B)/token_tool: python/tests/token_tool.c build/lib/libsockdup.a userlib/include/sockdup.h
	@mkdir -p $(@D)
	$(UL_SAY) CC $@
	$(UL_Q)$(UL_CC) $(UL_CFLAGS) -o $@ $< build/lib/libsockdup.a -pthread

python-unit: $(PY_B)/token_tool
	@SOCKDUP_TOP=$(CURDIR) SOCKDUP_TOKEN_TOOL=$(CURDIR)/$(PY_B)/token_tool \
		PYTHONDONTWRITEBYTECODE=1 $(PYTHON) python/tests/host_test.py

python-pip: $(PY_B)/token_tool
	@SOCKDUP_TOKEN_TOOL=$(CURDIR)/$(PY_B)/token_tool python/tests/pip_test.sh

python-vmroot:
	$(UL_SAY) VMROOT 'python3 and python/ in build/vmroot'
	$(UL_Q)python/vmroot.sh $(CURDIR)/build/vmroot
	$(UL_Q)mkdir -p build/tests
	$(UL_Q)install -m 755 python/tests/python_test.sh build/tests/python_test
