#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# /init of the sockdup test VM (busybox ash).  Mounts the usual filesystems,
# loads sockdup.ko, runs /sockdup/modes/$sockdup_mode.sh, unloads the module,
# checks taint and the kernel log, writes the verdict on the second serial
# port (/dev/ttyS1) and powers off.  The host passes, on the kernel command
# line (the kernel puts unknown name=value words in init's environment):
#   sockdup_mode=NAME    the mode script to run (default: check)
#   sockdup_nonce=X      printed in the final success marker
#   sockdup_insmod=...   module parameters for insmod (quoted if several)
#   sockdup_time_factor=N  how much slower than an idle TCG guest this run
#                        may be (run-vm.sh); the tests read it as
#                        SOCKDUP_TIME_FACTOR (selftests/sd_time.h)
#   sockdup_load=modprobe  load the installed module with modprobe (through
#                        /lib/modules/<release>/modules.dep) instead of
#                        insmod /sockdup/sockdup.ko (run-vm.sh SOCKDUP_VM_ROOT)
#   anything else the mode reads (e.g. sockdup_tests=a_test,b_test)
# The final line "@@sockdup PASS <nonce>" is printed only if every check
# passed; a panic, a hang or a failed check never produces it.

export PATH=/sockdup/bin:/bin:/usr/bin:/usr/sbin HOME=/root TMPDIR=/tmp SOCKDUP_VM=1
export SOCKDUP_TIME_FACTOR="${sockdup_time_factor:-1}"
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ip link set lo up
hostname sockdup-vm

# Turn a task stuck in the kernel into a panic (hung_task_panic=1 is on the
# command line) well before the host's boot timeout; a minute at time factor 1.
echo $((60 * SOCKDUP_TIME_FACTOR)) >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
echo 1 >/proc/sys/kernel/panic_on_rcu_stall 2>/dev/null

. /sockdup/lib.sh

mode=${sockdup_mode:-check}

# sockdup_load: load the module the way this run asks for.
sockdup_load()
{
	# shellcheck disable=SC2086 # word splitting of the parameters is wanted
	if [ "${sockdup_load:-}" = modprobe ]; then
		modprobe sockdup ${sockdup_insmod:-}
	else
		insmod /sockdup/sockdup.ko ${sockdup_insmod:-}
	fi
}
how="insmod sockdup.ko"
[ "${sockdup_load:-}" != modprobe ] || how="modprobe sockdup"

run()
{
	local script=/sockdup/modes/$mode.sh rc loaded=

	echo "@@sockdup uname $(uname -r)"
	echo "@@sockdup version $(cat /proc/version)"
	echo "@@sockdup mode $mode"
	echo "# time factor $SOCKDUP_TIME_FACTOR: waits and per-program timeouts ($SOCKDUP_TIMEOUT s) scaled by it"

	sockdup_kmsg_mark insmod
	# From here on a crash may be the module's (run-vm.sh retries a boot
	# that died before this line, never one that died after it).
	echo "@@sockdup loading sockdup.ko"
	if sockdup_load && [ -c /dev/sockdup ]; then
		sockdup_point ok "$how"
		loaded=1
	else
		sockdup_point fail "$how"
	fi

	if [ -z "$loaded" ]; then
		:
	elif [ ! -f "$script" ]; then
		sockdup_point fail "mode $mode: no $script"
	else
		(cd /tmp && sh "$script")
		rc=$?
		if [ "$rc" -eq 0 ]; then
			sockdup_point ok "mode $mode finished"
		else
			sockdup_point fail "mode $mode finished: exit status $rc"
		fi
	fi

	if [ -n "$loaded" ]; then
		# busybox rmmod does not wait: a module still in use fails here.
		if ! rmmod sockdup; then
			sockdup_point fail "rmmod sockdup: refcnt $(cat /sys/module/sockdup/refcnt 2>/dev/null)"
		elif [ -e /dev/sockdup ] || [ -e /sys/module/sockdup ]; then
			sockdup_point fail "rmmod sockdup: /dev/sockdup or /sys/module/sockdup left"
		else
			sockdup_point ok "rmmod sockdup"
			# A second load proves the first unload released every name.
			if sockdup_load && [ -c /dev/sockdup ] && rmmod sockdup; then
				sockdup_point ok "${how%% *} and rmmod again"
			else
				sockdup_point fail "${how%% *} and rmmod again"
			fi
		fi
	fi

	if sockdup_kcheck_since insmod; then
		sockdup_point ok "kernel log clean since insmod"
	else
		sockdup_point fail "kernel log clean since insmod"
	fi
	taint=$(cat /proc/sys/kernel/tainted)
	if [ $((taint & ~SOCKDUP_TAINT_OK)) -eq 0 ]; then
		sockdup_point ok "kernel taint $taint (only O and E allowed)"
	else
		sockdup_point fail "kernel taint $taint (only O and E allowed)"
	fi

	if [ -s "$SOCKDUP_STATE/failed" ]; then
		sed 's/^/@@sockdup failed /' "$SOCKDUP_STATE/failed"
		echo "@@sockdup verdict FAIL"
	else
		echo "@@sockdup PASS ${sockdup_nonce:-}"
	fi
}

if exec 3>/dev/ttyS1; then
	stty -F /dev/ttyS1 raw -echo 2>/dev/null
	run 2>&1 | tee /dev/console >&3
	# The last close of the tty waits until the UART has sent everything.
	exec 3>&-
else
	echo "sockdup: no /dev/ttyS1 for the verdict" >/dev/console
fi
sync
poweroff -f
# poweroff -f does not return; if it did, panic=-1 turns init's exit into
# an immediate reboot, which -no-reboot turns into QEMU's exit.
exit 1
