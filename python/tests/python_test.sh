#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
# The Python package's VM tests (python/tests/vm_test.py) with Debian's
# python3, as one program of the VM lane: TAP on standard output.
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
exec /usr/bin/python3 /sockdup/python/tests/vm_test.py "$@"
