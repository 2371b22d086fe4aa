# SPDX-License-Identifier: GPL-2.0-only
#
# Shell helpers for the guest side of the VM lane (busybox ash), sourced by
# /init and by the mode scripts in /sockdup/modes/.
#
# Everything a mode writes to stdout/stderr reaches the verdict channel
# (second serial port) and the console.  The host reads TAP from it plus a
# few framing lines that start with "@@sockdup " (see verdict.awk):
#
#   @@sockdup plan N                 N test programs follow
#   @@sockdup begin NAME             raw output (TAP) of program NAME follows
#   @@sockdup end NAME rc=R kernel=K ms=T
#                                    R: exit status, K: ok or dirty,
#                                    T: run time in milliseconds
#   @@sockdup timeout NAME SECS      NAME was killed after SECS seconds
#   @@sockdup kmsg LINE              a kernel log line that fails the run
#   @@sockdup taint VALUE            new taint bits beyond O and E
#   @@sockdup point ok|fail NAME[: why]  one check of the run itself
#
# A mode may also print plain TAP result lines ("ok 1 name") outside
# begin/end; they count as results of the mode itself.

SOCKDUP_STATE=/tmp/sockdup
# Taint bits that an out-of-tree, unsigned module sets on load: O and E.
SOCKDUP_TAINT_OK=12288
# Kernel log lines that fail a run.
SOCKDUP_BAD_KMSG='WARNING:|BUG:|kernel BUG|Oops|general protection|Kernel panic|possible .*locking|circular locking|recursive locking|inconsistent lock|lock held when returning|non-static key|lockdep|KASAN|UBSAN|[Rr][Cc][Uu].*detected stall|refcount_t|kmemleak|soft lockup|hard LOCKUP|blocked for more than|list_(add|del) corruption|Call Trace'

mkdir -p "$SOCKDUP_STATE"

# Per-program timeout in seconds: selftests/settings (kselftest style),
# times the run's time factor (run-vm.sh measures it per boot).
SOCKDUP_TIMEOUT=$(sed -n 's/^timeout=\([0-9][0-9]*\)$/\1/p' /sockdup/settings 2>/dev/null)
SOCKDUP_TIMEOUT=$((${SOCKDUP_TIMEOUT:-180} * ${SOCKDUP_TIME_FACTOR:-1}))

# sockdup_uptime_ms: milliseconds since boot.
sockdup_uptime_ms()
{
	local up
	read -r up _ </proc/uptime
	echo $((${up%.*} * 1000 + 10#${up#*.} * 10))
}

# sockdup_kmsg_since TS: print the kernel log lines stamped after TS seconds
# and record the last stamp seen in $SOCKDUP_STATE/kmsg.last.
sockdup_kmsg_since()
{
	dmesg | awk -v t="$1" -v last="$SOCKDUP_STATE/kmsg.last" '
		match($0, /^\[ *[0-9]+\.[0-9]+\]/) {
			ts = substr($0, 2, RLENGTH - 2) + 0
		}
		ts > t { print }
		END { print ts + 0 > last }'
}

# sockdup_kmsg_mark NAME: remember "now" in the kernel log as mark NAME.
sockdup_kmsg_mark()
{
	sockdup_kmsg_since 999999999 >/dev/null
	cp "$SOCKDUP_STATE/kmsg.last" "$SOCKDUP_STATE/mark.$1"
}

# sockdup_kcheck_since MARK: check the kernel log written since MARK (and
# advance the mark); print offending lines.  Returns 1 when dirty.
sockdup_kcheck_since()
{
	local mark="$SOCKDUP_STATE/mark.$1" bad
	[ -f "$mark" ] || echo 0 >"$mark"
	bad=$(sockdup_kmsg_since "$(cat "$mark")" | grep -E "$SOCKDUP_BAD_KMSG")
	cp "$SOCKDUP_STATE/kmsg.last" "$mark"
	[ -z "$bad" ] && return 0
	echo "$bad" | sed 's/^/@@sockdup kmsg /'
	return 1
}

# sockdup_taint_check: 0 when the kernel carries no taint bit beyond O and
# E; otherwise print the value (once per new value) and return 1.
sockdup_taint_check()
{
	local taint seen
	taint=$(cat /proc/sys/kernel/tainted)
	[ $((taint & ~SOCKDUP_TAINT_OK)) -eq 0 ] && return 0
	seen=$(cat "$SOCKDUP_STATE/taint.seen" 2>/dev/null)
	if [ "$seen" != "$taint" ]; then
		echo "@@sockdup taint $taint"
		echo "$taint" >"$SOCKDUP_STATE/taint.seen"
		return 1
	fi
	# Already reported after an earlier program: not this one's fault.
	return 0
}

# sockdup_timeout SECS CMD...: run CMD in its own session, kill its whole
# process group after SECS seconds.  Returns CMD's status, 124 on timeout.
sockdup_timeout()
{
	local secs=$1 pid wd rc flag
	shift
	flag="$SOCKDUP_STATE/timeout.$$.$secs"
	rm -f "$flag"
	setsid "$@" </dev/null &
	pid=$!
	# The watchdog runs in its own session so that killing its group also
	# kills its sleep, and it must not hold the output pipe open: the
	# verdict channel would wait for it.
	setsid sh -c 'sleep "$1"; : >"$2"; kill -KILL -"$3" || kill -KILL "$3"' \
		watchdog "$secs" "$flag" "$pid" >/dev/null 2>&1 &
	wd=$!
	wait "$pid"
	rc=$?
	kill -KILL -"$wd" 2>/dev/null || kill -KILL "$wd" 2>/dev/null
	wait "$wd" 2>/dev/null
	if [ -f "$flag" ]; then
		rm -f "$flag"
		return 124
	fi
	return "$rc"
}

# sockdup_fail WHAT: remember that the run failed (the final marker is then
# withheld).
sockdup_fail()
{
	echo "$*" >>"$SOCKDUP_STATE/failed"
}

# sockdup_point ok|fail NAME[: why]: report one check of the run.
sockdup_point()
{
	local res=$1
	shift
	echo "@@sockdup point $res $*"
	[ "$res" = ok ] || sockdup_fail "$*"
}

# sockdup_run_test PATH [SECS]: run one test program with a timeout, frame
# its TAP output, then check the kernel log and taint.
sockdup_run_test()
{
	local path=$1 name=${1##*/} secs=${2:-$SOCKDUP_TIMEOUT} rc kern=ok t0 t1
	echo "@@sockdup begin $name"
	t0=$(sockdup_uptime_ms)
	(cd /tmp && sockdup_timeout "$secs" "$path") 2>&1
	rc=$?
	t1=$(sockdup_uptime_ms)
	[ "$rc" -eq 124 ] && echo "@@sockdup timeout $name $secs"
	sockdup_kcheck_since tests || kern=dirty
	sockdup_taint_check || kern=dirty
	echo "@@sockdup end $name rc=$rc kernel=$kern ms=$((t1 - t0))"
	if [ "$rc" -ne 0 ] || [ "$kern" != ok ]; then
		sockdup_fail "$name rc=$rc kernel=$kern"
		return 1
	fi
	return 0
}

# sockdup_run_tests [DIR]: run every executable in DIR (default
# /sockdup/tests), or only those named in $sockdup_tests (comma-separated,
# from the kernel command line: make vm TESTS=a_test,b_test-m32).  An i386
# build (NAME-m32) the kernel cannot run is a skipped result of the mode.
sockdup_run_tests()
{
	local dir=${1:-/sockdup/tests} t list="" n=0 rc=0
	for t in "$dir"/*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		if [ -n "${sockdup_tests:-}" ]; then
			case ",$sockdup_tests," in
			*",${t##*/},"*) ;;
			*) continue ;;
			esac
		fi
		# i386 builds need a kernel with IA32_EMULATION (the debug
		# kernel has none), which registers abi.vsyscall32
		case $t in
		*-m32)
			if [ ! -e /proc/sys/abi/vsyscall32 ]; then
				echo "ok 1 ${t##*/} # SKIP this kernel runs no 32-bit programs (no IA32_EMULATION)"
				continue
			fi
			;;
		esac
		list="$list $t"
		n=$((n + 1))
	done
	echo "@@sockdup plan $n"
	sockdup_kmsg_mark tests
	for t in $list; do
		sockdup_run_test "$t" || rc=1
	done
	return "$rc"
}
