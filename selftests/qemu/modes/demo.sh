#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# demo mode: both examples with real TCP clients, as a short transcript and
# a one-line result.
#   1. examples/broker.c: one process accepts TCP connections and hands each
#      to one of three worker processes through sockdup (token over a pipe).
#   2. examples/restart.c: clients connect in a loop while the server hands
#      its listening socket to its replacement, twice; none may fail.
#
# In the VM (/init has loaded the module) transcript lines go out as
# "@@sockdup demo LINE" and each result as a "@@sockdup point"; userlib/demo.sh
# prints them on the host.  On a host with /dev/sockdup it runs directly:
#   SOCKDUP_BIN=build/bin sh selftests/qemu/modes/demo.sh
# SOCKDUP_DEMO_PORT (default 8081) and the next port are used.
#
# vm-timeout: 300

bin=${SOCKDUP_BIN:-/sockdup/bin}
port=${SOCKDUP_DEMO_PORT:-8081}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockdup-demo.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failed=0

if [ -n "${SOCKDUP_VM:-}" ]; then
	. /sockdup/lib.sh
	say() { printf '@@sockdup demo %s\n' "$*"; }
	result() { sockdup_point "$1" "$2"; }
else
	say() { printf '%s\n' "$*"; }
	result() { :; }
fi

# show FILE: the file's lines, indented
show() {
	while IFS= read -r line; do
		say "  $line"
	done <"$1"
}

# How many 0.1 s polls to give up after: 10 s times the time factor.
polls=$((100 * ${SOCKDUP_TIME_FACTOR:-1}))

# wait_for PATTERN FILE: until FILE has a line matching PATTERN
wait_for() {
	i=0
	while ! grep -q "$1" "$2" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -ge "$polls" ]; then
			say "demo: gave up waiting for '$1' in $2 after $((polls / 10)) s"
			return 1
		fi
		sleep 0.1
	done
}

# pidfile_change FILE OLD: print the pid in FILE once it is not OLD
pidfile_change() {
	i=0
	while :; do
		p=$(cat "$1" 2>/dev/null)
		if [ -n "$p" ] && [ "$p" != "$2" ]; then
			echo "$p"
			return 0
		fi
		i=$((i + 1))
		if [ $i -ge "$polls" ]; then
			say "demo: gave up waiting for a new pid in $1 after $((polls / 10)) s"
			return 1
		fi
		sleep 0.1
	done
}

for p in broker restart tcpclient; do
	if [ ! -x "$bin/$p" ]; then
		say "demo: $bin/$p is missing (make userlib)"
		result fail "demo: $bin/$p missing"
		exit 1
	fi
done

# ---- 1. broker ---------------------------------------------------------------

say "== 1. Connection broker =="
say "broker accepts TCP connections on 127.0.0.1:$port and hands each one to one of"
say "3 worker processes with sockdup; the token travels over a plain pipe."
say "A client makes 6 connections; each is greeted by the worker that serves it."
say ""
# one open file for all of them: lines stay in the order they were written
exec 3>"$tmp/broker.log"
"$bin/broker" -p "$port" -w 3 -n 6 >&3 2>&1 &
bpid=$!
if wait_for "listening on" "$tmp/broker.log"; then
	"$bin/tcpclient" -n 6 -v 127.0.0.1 "$port" >&3 2>&1
	crc=$?
else
	crc=1
	kill "$bpid" 2>/dev/null
fi
wait "$bpid"
brc=$?
exec 3>&-
show "$tmp/broker.log"
b_sum=$(sed -n 's/^client: \([0-9]*\) attempted, \([0-9]*\) served, \([0-9]*\) failed.*/\2 of \1 connections served, \3 failed/p' "$tmp/broker.log")
workers=$(grep -c '^client:   worker-' "$tmp/broker.log")
if [ "$crc" = 0 ] && [ "$brc" = 0 ] && [ "$workers" = 3 ]; then
	b_res="broker: ${b_sum:-?}, 3 workers"
	result ok "$b_res"
else
	b_res="broker FAILED (client exit $crc, broker exit $brc, $workers workers served): ${b_sum:-no client summary}"
	result fail "$b_res"
	failed=1
fi
say ""

# ---- 2. graceful restart ------------------------------------------------------

rport=$((port + 1))
say "== 2. Graceful restart =="
say "restart serves 127.0.0.1:$rport. 4 clients connect in a loop for 6 s. At 2 s and"
say "at 4 s the server gets SIGHUP: it starts a new copy of itself, shares the"
say "listening socket with it, stops accepting once the kernel reports it redeemed and"
say "drains. The listening socket never closes, so no connection is refused."
say ""
exec 4>"$tmp/restart.log"
"$bin/restart" -p "$rport" -H 50 -f "$tmp/restart.pid" >&4 2>&1 &
rpid=$!
gens=""
r_ok=1
if gen=$(pidfile_change "$tmp/restart.pid" ""); then
	gens=$gen
	"$bin/tcpclient" -t 6 -c 4 127.0.0.1 "$rport" >&4 2>&1 &
	cpid=$!
	for t in 1 2; do
		sleep 2
		kill -HUP "$gen"
		if next=$(pidfile_change "$tmp/restart.pid" "$gen"); then
			gen=$next
			gens="$gens $gen"
		else
			r_ok=0
		fi
	done
	wait "$cpid"
	crc=$?
	kill -TERM "$gen"
else
	crc=1
	r_ok=0
	kill -TERM "$rpid" 2>/dev/null
fi
wait "$rpid"
# the later generations are not our children: wait for them to go
for p in $gens; do
	i=0
	while kill -0 "$p" 2>/dev/null && [ $i -lt "$polls" ]; do
		i=$((i + 1))
		sleep 0.1
	done
done
exec 4>&-
show "$tmp/restart.log"
r_sum=$(sed -n 's/^client: \([0-9]*\) attempted, \([0-9]*\) served, \([0-9]*\) failed.*/\2 of \1 connections served, \3 failed/p' "$tmp/restart.log")
handoffs=$(grep -c 'redeemed the listening socket' "$tmp/restart.log")
if [ "$crc" = 0 ] && [ "$r_ok" = 1 ] && [ "$handoffs" = 2 ]; then
	r_res="restart: ${r_sum:-?}, 2 handoffs"
	result ok "$r_res"
else
	r_res="restart FAILED (client exit $crc, $handoffs of 2 handoffs): ${r_sum:-no client summary}"
	result fail "$r_res"
	failed=1
fi
say ""

if [ "$failed" = 0 ]; then
	say "demo: PASS: $b_res; $r_res"
else
	say "demo: FAIL: $b_res; $r_res"
fi
exit "$failed"
