# SPDX-License-Identifier: GPL-2.0-only
#
# sockdup top-level Makefile.  The module itself is described in Kbuild.
#
#   make                   module, library and tests for the installed headers
#   make KDIR=<dir>        the same for another kernel build tree
#   make check             style, builds and VM runs on every tested kernel
#                          (VM_JOBS=1: one VM at a time; TESTS=a_test,b_test:
#                          only those programs; DEBUG_LANE=0: without the
#                          debug kernel, see selftests/qemu/debug/;
#                          PKG_LANE=0: without the packaging lane, see
#                          selftests/packaging/; NEWEST_LANE=0: without the
#                          newest 7.x kernel, see selftests/qemu/newest/;
#                          UPSTREAM_LANE=0: without the upstream lane, see
#                          selftests/upstream/)
#   make vm [KERNEL=<release|series|major|kernel dir>] [MODE=check] [TESTS=a_test,b_test]
#                          one VM run (default: KDIR's kernel, mode check;
#                          KERNEL=7: the newest 7.x image of trixie-backports;
#                          KERNEL=7 MODE=kselftest: the suite through that
#                          kernel's own run_kselftest.sh)
#   make vm-all MODE=<mode>  one VM run per tested kernel (KERNELS)
#   make deps              install missing packages, extract kselftest/checkpatch
#   make upstream          the patch series that adds sockdup to the newest
#                          linux-source-7.x, with a cover letter, in
#                          build/upstream/ (scripts/upstream.py)
#   make deb               Debian packages in build/deb/ (debian/build.mk)
#   make dkms-install      register the module source with DKMS and build and
#                          install it for every kernel with headers (any
#                          distribution with dkms; dkms-uninstall undoes it)
#   make style             checkpatch.pl --strict and kernel-doc
#   make clean | install | help
#   V=1                    show the commands and the VM consoles
#
# Everything generated goes to build/: build/<release>/ per kernel,
# build/tests/ (test programs), build/bin/ (static programs for the VM).
#
# Other parts of the tree plug in with a build.mk fragment (*/build.mk or
# selftests/*/build.mk), which may append targets to these hooks:
#   all-y      built by plain `make` (library, tools, examples)
#   vmbin-y    put static programs in build/bin/ (copied to /sockdup/bin)
#   vmroot-y   put other files for the VM under build/vmroot/ (copied to
#              the VM's root as they are: dynamic programs with their
#              libraries, python3; see selftests/qemu/vmroot-elf.sh)
#   unit-y     host-side unit tests, run by `make check` (exit 0 = pass)
#   install-y  run by `make install`
#   clean-y    run by `make clean`
# A fragment can also add its own targets (demo, bench, fuzz) on top of
# `make vm-all MODE=<mode>` or selftests/qemu/run-vm.sh.  A unit-y target
# that prints TAP ("ok N name") is counted per test case by make check.

ifeq ($(V),1)
Q :=
else
Q := @
MAKEFLAGS += --no-print-directory
endif
export V

BUILD := $(CURDIR)/build

# The version of the module (MODULE_VERSION), the library and the packages:
# VERSION is the one place that sets it.
SOCKDUP_VERSION ?= $(shell cat VERSION)

# The kernel to build for: the running kernel's build tree when it has one,
# otherwise the newest installed Debian headers.
KDIR ?= $(or $(wildcard /lib/modules/$(shell uname -r)/build),$(shell \
	ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1))
krelease = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
	$(1)/include/generated/utsrelease.h 2>/dev/null)
KRELEASE = $(call krelease,$(KDIR))
MODDIR = $(BUILD)/$(KRELEASE)/mod

# The kernels `make check` and the VM modes run on: the newest installed
# release of each supported Debian line (6.1 and 6.12).  make check resolves
# them itself after installing what is missing, unless KERNELS is given.
KERNELS ?= $(shell selftests/qemu/kernels.sh)
MODE ?= check

.DEFAULT_GOAL := all
all:

all-y :=
vmbin-y :=
vmroot-y :=
unit-y :=
install-y :=
clean-y :=
-include $(filter-out build/%,$(wildcard */build.mk selftests/*/build.mk))

.PHONY: all deps upstream module tests vmbins vmroot vm-inputs vm vm-all check style \
	install dkms-install dkms-uninstall clean help

all: deps module tests $(all-y)

deps:
	$(Q)selftests/qemu/deps.sh

upstream: deps
	$(Q)python3 scripts/upstream.py

# The module is built out of tree in build/<release>/mod/, a copy of Kbuild,
# module/ and uapi/: one copy per kernel so that builds for several kernels
# do not clobber each other.  cp -p keeps mtimes, so rebuilds stay minimal.
module:
	$(Q)test -n "$(KDIR)" -a -d "$(KDIR)" || \
		{ echo "no kernel build tree (KDIR=$(KDIR)): run make deps" >&2; exit 1; }
	$(Q)test -n "$(KRELEASE)" || \
		{ echo "cannot read the release of $(KDIR)" >&2; exit 1; }
	$(Q)mkdir -p $(MODDIR)/module $(MODDIR)/uapi/linux
	$(Q)for f in $(MODDIR)/module/*.[ch] $(MODDIR)/uapi/linux/*.h; do \
		[ -e "$$f" ] || continue; \
		[ -e "$${f#$(MODDIR)/}" ] || rm -f "$$f" "$${f%.c}.o"; \
	done
	$(Q)cp -p Kbuild VERSION $(MODDIR)/
	$(Q)cp -p $(wildcard module/*.[ch]) $(MODDIR)/module/
	$(Q)cp -p $(wildcard uapi/linux/*.h) $(MODDIR)/uapi/linux/
	$(Q)$(MAKE) -C $(KDIR) M=$(MODDIR) modules

tests: deps
	$(Q)$(MAKE) -C selftests

vmbins: $(vmbin-y)

vmroot: $(vmroot-y)

# What selftests/qemu/run-vm.sh needs before it packs an initramfs.
vm-inputs: module tests vmbins vmroot

vm:
	$(Q)selftests/qemu/run-vm.sh $(or $(KERNEL),$(KRELEASE)) $(MODE) \
		$(if $(TESTS),sockdup_tests=$(TESTS))

vm-all:
	$(Q)rc=0; for k in $(KERNELS); do \
		selftests/qemu/run-vm.sh $$k $(MODE) \
			$(if $(TESTS),sockdup_tests=$(TESTS)) || rc=1; \
	done; exit $$rc

check:
	$(Q)KERNELS="$(if $(filter command line environment,$(origin KERNELS)),$(KERNELS))" \
		UNIT="$(unit-y)" DEBUG_LANE="$(DEBUG_LANE)" PKG_LANE="$(PKG_LANE)" \
		NEWEST_LANE="$(NEWEST_LANE)" UPSTREAM_LANE="$(UPSTREAM_LANE)" \
		VM_JOBS="$(VM_JOBS)" TESTS="$(TESTS)" scripts/check.sh

style: deps
	$(Q)scripts/style.sh

# The module goes in unsigned (distribution kernels sign with a key only
# they hold); depmod, which Kbuild skips without a System.map in KDIR, runs
# for a real install (no INSTALL_MOD_PATH).
install: module $(install-y)
	$(Q)$(MAKE) -C $(KDIR) M=$(MODDIR) CONFIG_MODULE_SIG_ALL= modules_install
	$(Q)$(if $(INSTALL_MOD_PATH),:,depmod -a $(KRELEASE))

# DKMS from the source tree, for distributions without the Debian packages:
# the module source (Kbuild, VERSION, module/, uapi/ and dkms.conf, never
# this Makefile) goes to /usr/src/sockdup-<version>/, then dkms builds and
# installs it for every kernel that has headers, and again for each new
# kernel (AUTOINSTALL).  Nothing here calls apt-get.
DKMS_SRC = /usr/src/sockdup-$(SOCKDUP_VERSION)
dkms-install:
	$(Q)command -v dkms >/dev/null || \
		{ echo "dkms is not installed: install your distribution's dkms package" >&2; exit 1; }
	$(Q)if dkms status -m sockdup | grep -q .; then \
		echo "DKMS already has sockdup ($$(dkms status -m sockdup | head -n 1)): make dkms-uninstall first" >&2; \
		exit 1; fi
	$(Q)rm -rf $(DKMS_SRC)
	$(Q)install -d $(DKMS_SRC)/module $(DKMS_SRC)/uapi/linux
	$(Q)install -m 644 Kbuild VERSION $(DKMS_SRC)/
	$(Q)install -m 644 $(wildcard module/*.[ch]) $(DKMS_SRC)/module/
	$(Q)install -m 644 $(wildcard uapi/linux/*.h) $(DKMS_SRC)/uapi/linux/
	$(Q)sed 's/#MODULE_VERSION#/$(SOCKDUP_VERSION)/' dkms.conf >$(DKMS_SRC)/dkms.conf
	$(Q)dkms add -m sockdup -v $(SOCKDUP_VERSION)
	$(Q)rc=0; for k in $$(ls /lib/modules); do \
		[ -e /lib/modules/$$k/build/include ] || \
			{ echo "sockdup: no headers for $$k, skipped"; continue; }; \
		dkms install -m sockdup -v $(SOCKDUP_VERSION) -k $$k; \
		case $$? in 0) ;; 77) echo "sockdup: $$k is not supported, skipped" ;; *) rc=1 ;; esac; \
	done; dkms status -m sockdup; exit $$rc

dkms-uninstall:
	$(Q)for v in $$(dkms status -m sockdup | sed -n 's|^sockdup/\([^,:]*\).*|\1|p' | sort -u); do \
		dkms remove -m sockdup -v $$v --all || exit 1; \
		rm -rf /usr/src/sockdup-$$v; \
	done

clean: $(clean-y)
	$(Q)rm -rf build
	$(Q)rm -f *.o *.ko *.mod *.mod.c .*.cmd Module.symvers modules.order \
		module/*.o module/.*.cmd

help:
	@sed -n '3,/^$$/s/^# \{0,1\}//p' Makefile
