# SPDX-License-Identifier: GPL-2.0-only
#
# debian/build.mk: `make deb` builds the Debian packages (sockdup-dkms,
# libsockdup0, libsockdup-dev, sockdup) into build/deb/ with
# dpkg-buildpackage and checks them with lintian (scripts/deb.sh).
#   DEB_DIR=dir            where the packages go (default build/deb)
#   SOCKDUP_VERSION=x.y.z  package this tree as another version
#   DEB_LINTIAN=0          skip lintian
# Included by the top-level Makefile.

DEB_DIR ?= build/deb

.PHONY: deb
deb:
	$(Q)scripts/deb.sh $(if $(filter 0,$(DEB_LINTIAN)),--no-lintian) \
		$(DEB_DIR) $(SOCKDUP_VERSION)
