# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#
# userlib/build.mk: libsockdup, the sockdup tool, the examples and their
# host unit tests.  Included by the top-level Makefile (paths are relative
# to the top directory); userlib/Makefile includes it for "make -C userlib".
#
# Targets
#   userlib            build/lib/libsockdup.{so.0.1.0,so.0,so,a},
#                      build/bin/{sockdup,broker,restart,tcpclient,listenfds-echo}
#                      (static: they run in the VM's initramfs as they are)
#   userlib-unit       host unit tests (TAP); no module needed
#   userlib-install    library, headers, pkg-config file, man pages, tool
#                      (PREFIX=/usr/local, DESTDIR, BINDIR, LIBDIR, INCLUDEDIR,
#                      MANDIR, PKGCONFIGDIR)
#   userlib-uninstall  the reverse
#   demo               the examples with real TCP clients, in the VM (KERNEL=6.1
#                      or 7 for another kernel) or here when /dev/sockdup exists
#   demo-host          run the demo directly (a host with /dev/sockdup)
# Hooks of the top Makefile: all-y (userlib), vmbin-y (the static programs),
# unit-y (userlib-unit), install-y (userlib-install).

UL_GOAL := $(.DEFAULT_GOAL)

# VERSION (top directory) sets the version of the module, the library and
# the packages; SOCKDUP_VERSION=... on the command line overrides it.
SOCKDUP_VERSION	?= $(shell cat VERSION)
UL_VERSION	:= $(SOCKDUP_VERSION)
UL_SONAME	:= libsockdup.so.0
UL_B		:= build/userlib
UL_LIB		:= build/lib
UL_BIN		:= build/bin
UL_CC		?= $(CC)
UL_CFLAGS	:= -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wformat=2 \
		   -Wstrict-prototypes -Wmissing-prototypes \
		   -DSOCKDUP_VERSION='"$(UL_VERSION)"' \
		   -I uapi -I userlib/include $(USERLIB_CFLAGS)
# USERLIB_CFLAGS and USERLIB_LDFLAGS add to the compile and link commands
# (debian/rules passes dpkg-buildflags' hardening flags through them).
UL_LDFLAGS	:= $(USERLIB_LDFLAGS)
UL_Q		= $(if $(filter 1,$(V)),,@)
UL_SAY		= $(if $(filter 1,$(V)),@true,@printf '  %-7s %s\n')

UL_SRCS		:= $(wildcard userlib/*.c)
UL_OBJS		:= $(UL_SRCS:userlib/%.c=$(UL_B)/%.o)
UL_HDRS		:= userlib/include/sockdup.h uapi/linux/sockdup.h userlib/internal.h
UL_SO		:= $(UL_LIB)/libsockdup.so.$(UL_VERSION)
UL_A		:= $(UL_LIB)/libsockdup.a
UL_PROGS	:= $(UL_BIN)/sockdup $(UL_BIN)/broker $(UL_BIN)/restart \
		   $(UL_BIN)/tcpclient $(UL_BIN)/listenfds-echo
UL_MAN3		:= $(wildcard userlib/man/*.3)
UL_MAN1		:= $(wildcard userlib/man/*.1)

PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
LIBDIR		?= $(PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
MANDIR		?= $(PREFIX)/share/man
PKGCONFIGDIR	?= $(LIBDIR)/pkgconfig

.PHONY: userlib userlib-unit userlib-install userlib-uninstall demo demo-host
all-y += userlib
vmbin-y += $(UL_PROGS)
unit-y += userlib-unit
install-y += userlib-install

userlib: $(UL_SO) $(UL_LIB)/$(UL_SONAME) $(UL_LIB)/libsockdup.so $(UL_A) \
	 $(UL_PROGS)

$(UL_B)/%.o: userlib/%.c $(UL_HDRS)
	@mkdir -p $(@D)
	$(UL_SAY) CC $@
	$(UL_Q)$(UL_CC) $(UL_CFLAGS) -fPIC -c $< -o $@

$(UL_SO): $(UL_OBJS) userlib/libsockdup.map
	@mkdir -p $(@D)
	$(UL_SAY) LD $@
	$(UL_Q)$(UL_CC) $(UL_LDFLAGS) -shared -Wl,-soname,$(UL_SONAME) \
		-Wl,--version-script=userlib/libsockdup.map -Wl,-z,defs \
		-o $@ $(UL_OBJS) -pthread

$(UL_LIB)/$(UL_SONAME) $(UL_LIB)/libsockdup.so: | $(UL_SO)
	$(UL_Q)ln -sf $(notdir $(UL_SO)) $@

$(UL_A): $(UL_OBJS)
	@mkdir -p $(@D)
	$(UL_SAY) AR $@
	$(UL_Q)rm -f $@ && $(AR) rcs $@ $(UL_OBJS)

# Programs are static so that the VM's initramfs needs no shared libraries.
$(UL_BIN)/sockdup: userlib/tools/sockdup.c
$(UL_BIN)/broker: examples/broker.c
$(UL_BIN)/restart: examples/restart.c
$(UL_BIN)/tcpclient: examples/tcpclient.c
$(UL_BIN)/listenfds-echo: userlib/tests/listenfds_echo.c
$(UL_PROGS): $(UL_A) $(UL_HDRS) VERSION
	@mkdir -p $(@D)
	$(UL_SAY) CC $@
	$(UL_Q)$(UL_CC) $(UL_CFLAGS) $(UL_LDFLAGS) -static -o $@ $(filter %.c,$^) $(UL_A) -pthread

# The tool linked against the shared library, as distributions ship it
# (debian/rules installs this one with UL_INSTALL_TOOL).
UL_TOOL_SHARED	:= $(UL_B)/shared/sockdup
$(UL_TOOL_SHARED): userlib/tools/sockdup.c $(UL_LIB)/libsockdup.so $(UL_HDRS) VERSION
	@mkdir -p $(@D)
	$(UL_SAY) CC $@
	$(UL_Q)$(UL_CC) $(UL_CFLAGS) $(UL_LDFLAGS) -o $@ $< -L$(UL_LIB) -lsockdup
UL_INSTALL_TOOL	?= $(UL_BIN)/sockdup

# ---- host unit tests ----

$(UL_B)/token_unit: userlib/tests/token_unit.c $(UL_A) $(UL_HDRS)
	$(UL_SAY) CC $@
	$(UL_Q)$(UL_CC) $(UL_CFLAGS) -o $@ $< $(UL_A) -pthread

# the same tests against the shared library, through its version script
$(UL_B)/token_unit_shared: userlib/tests/token_unit.c $(UL_LIB)/libsockdup.so $(UL_HDRS)
	$(UL_SAY) CC $@
	$(UL_Q)$(UL_CC) $(UL_CFLAGS) -o $@ $< -L$(UL_LIB) -lsockdup \
		-Wl,-rpath,'$$ORIGIN/../lib'

userlib-unit: userlib $(UL_B)/token_unit $(UL_B)/token_unit_shared
	@$(UL_B)/token_unit
	@$(UL_B)/token_unit_shared | sed 's/^# token_unit:/# token_unit (shared):/'
	@sh userlib/tests/tool_unit.sh $(UL_BIN)/sockdup
	@sh userlib/tests/install_unit.sh

# ---- install ----

$(UL_B)/libsockdup.pc: userlib/libsockdup.pc.in
	@mkdir -p $(@D)
	$(UL_Q)sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(UL_VERSION)|' $< > $@

.PHONY: $(UL_B)/libsockdup.pc
# Man pages get the version in their .TH line on the way.
UL_MAN_SED	:= sed '/^\.TH /s/"\(lib\)\{0,1\}sockdup [^"]*"/"\1sockdup $(UL_VERSION)"/'
userlib-install: $(UL_SO) $(UL_LIB)/$(UL_SONAME) $(UL_LIB)/libsockdup.so $(UL_A) \
		 $(UL_INSTALL_TOOL) $(UL_B)/libsockdup.pc
	$(UL_SAY) INSTALL '$(DESTDIR)$(PREFIX)'
	$(UL_Q)install -d '$(DESTDIR)$(LIBDIR)' '$(DESTDIR)$(INCLUDEDIR)/linux' \
		'$(DESTDIR)$(PKGCONFIGDIR)' '$(DESTDIR)$(BINDIR)' \
		'$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(MANDIR)/man3'
	$(UL_Q)install -m 644 $(UL_A) '$(DESTDIR)$(LIBDIR)/'
	$(UL_Q)install -m 755 $(UL_SO) '$(DESTDIR)$(LIBDIR)/'
	$(UL_Q)ln -sf $(notdir $(UL_SO)) '$(DESTDIR)$(LIBDIR)/$(UL_SONAME)'
	$(UL_Q)ln -sf $(UL_SONAME) '$(DESTDIR)$(LIBDIR)/libsockdup.so'
	$(UL_Q)install -m 644 userlib/include/sockdup.h '$(DESTDIR)$(INCLUDEDIR)/'
	$(UL_Q)install -m 644 uapi/linux/sockdup.h '$(DESTDIR)$(INCLUDEDIR)/linux/'
	$(UL_Q)install -m 644 $(UL_B)/libsockdup.pc '$(DESTDIR)$(PKGCONFIGDIR)/'
	$(UL_Q)install -m 755 $(UL_INSTALL_TOOL) '$(DESTDIR)$(BINDIR)/sockdup'
	$(UL_Q)for m in $(UL_MAN1) $(UL_MAN3); do \
		s=$${m##*.}; \
		$(UL_MAN_SED) $$m >'$(DESTDIR)$(MANDIR)'/man$$s/$${m##*/} && \
		chmod 644 '$(DESTDIR)$(MANDIR)'/man$$s/$${m##*/} || exit 1; \
	done

userlib-uninstall:
	$(UL_Q)rm -f '$(DESTDIR)$(LIBDIR)/libsockdup.a' \
		'$(DESTDIR)$(LIBDIR)/$(notdir $(UL_SO))' \
		'$(DESTDIR)$(LIBDIR)/$(UL_SONAME)' \
		'$(DESTDIR)$(LIBDIR)/libsockdup.so' \
		'$(DESTDIR)$(INCLUDEDIR)/sockdup.h' \
		'$(DESTDIR)$(INCLUDEDIR)/linux/sockdup.h' \
		'$(DESTDIR)$(PKGCONFIGDIR)/libsockdup.pc' \
		'$(DESTDIR)$(BINDIR)/sockdup' \
		$(UL_MAN1:userlib/man/%='$(DESTDIR)$(MANDIR)/man1/%') \
		$(UL_MAN3:userlib/man/%='$(DESTDIR)$(MANDIR)/man3/%')

# ---- demo ----

demo:
	@KERNEL="$(KERNEL)" userlib/demo.sh

demo-host: userlib
	@SOCKDUP_BIN=$(CURDIR)/$(UL_BIN) sh selftests/qemu/modes/demo.sh

.DEFAULT_GOAL := $(UL_GOAL)
