#!/bin/sh
# SPDX-License-Identifier: MIT
# Real servers taking a handed-over listener (examples/servers/servers_test.py)
# as one program of the VM lane: TAP on standard output.
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
exec /usr/bin/python3 /sockdup/examples/servers/servers_test.py "$@"
