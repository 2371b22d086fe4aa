#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Boot one kernel in QEMU with sockdup.ko and run one mode script in it
# (WireGuard's tests/qemu in spirit): build the module against that kernel,
# pack an initramfs (static busybox, the module, build/tests/*, build/bin/*,
# the mode scripts, /init), boot under TCG with panic_on_warn, read the
# verdict from the second serial port and judge it (verdict.awk).
#
# Usage: selftests/qemu/run-vm.sh KERNEL MODE [name=value...]
#   KERNEL  a Debian release as in /boot/vmlinuz-<release> (headers in
#           /usr/src/linux-headers-<release>); or a series (6.1, 6.12: its
#           newest installed release); or a major version (7: the newest
#           image of that line in trixie-backports, prepared by
#           newest/kernel.sh without installing it); or a custom kernel: a
#           directory that holds bzImage and build/ (the build tree, used
#           as KDIR; a file "release" in it names the release the guest
#           must boot), or a kernel build tree itself (arch/x86/boot/bzImage
#           inside).
#   MODE    runs selftests/qemu/modes/MODE.sh inside the VM (check, ...).
#           A line "# vm-timeout: SECONDS" in the mode script sets the boot
#           timeout for it; a line "# vm-root: yes" puts build/vmroot/ (the
#           Makefile's vmroot-y hook) into its initramfs.
#   name=value  words added to the kernel command line, which the kernel
#           hands to /init as environment variables (sockdup_tests=a,b
#           limits the check mode to those programs).
#
# Environment:
#   SOCKDUP_KVM=1         boot with KVM instead of TCG (hangs on some hosts)
#   SOCKDUP_VM_TIMEOUT=S  kill the VM after S seconds (default: per mode)
#   SOCKDUP_VM_MEM=MB     guest memory (1024)
#   SOCKDUP_VM_CPUS=N     guest CPUs (2)
#   SOCKDUP_NO_BUILD=1    use the module and programs already built
#   SOCKDUP_KO=FILE       boot with this sockdup.ko instead of the one built
#                         out of tree (the upstream lane's in-tree build)
#   SOCKDUP_KSFT_INSTALL=DIR  put this kselftest_install in the initramfs
#                         (mode debug then runs the suite through its
#                         run_kselftest.sh; selftests/upstream/check.sh)
#   SOCKDUP_RESULT=FILE   also write the counts line to FILE
#   SOCKDUP_VM_ROOT=DIR   copy the tree DIR over the initramfs root (installed
#                         files: /usr/bin, /usr/lib, ...; programs there may be
#                         dynamic if DIR holds their libraries).  When DIR has
#                         lib/modules/<release>/, the guest loads sockdup from
#                         there with modprobe (modules.dep) and the build
#                         tree's sockdup.ko is not packed
#   V=1                   show the console while the VM runs
#
# Output in build/<release>/: console-MODE.log (full console),
# verdict-MODE.log (raw verdict channel), tap-MODE.txt (the judged TAP),
# result-MODE (counts), initramfs-MODE.cpio, mod/ (the module build).
# Exit status: 0 when the run passed, 1 when it failed, 2 on usage errors.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$top/build

die() { echo "run-vm: $*" >&2; exit 2; }
say() { [ "${V:-0}" = 1 ] || printf '  %-7s %s\n' "$1" "$2" >&2; }

# time_factor: how much slower than an idle TCG guest this boot may run,
# exported to the tests as SOCKDUP_TIME_FACTOR (selftests/sd_time.h): the
# lane's own factor (a kernel with KASAN or lockdep is about 3 times slower)
# times the host's load now (runnable tasks, the guest's vCPUs included,
# per host CPU), 1 to 100.  SOCKDUP_TIME_FACTOR in the environment overrides
# both.  Sets factor, and scales vm_timeout by it (at most to an hour, or
# to what it was when that is more).
time_factor()
{
	local lane=1 load ncpu vcpus loadf base=$vm_timeout
	if [ -n "${SOCKDUP_TIME_FACTOR:-}" ]; then
		[[ $SOCKDUP_TIME_FACTOR =~ ^[0-9]+$ ]] && [ "$SOCKDUP_TIME_FACTOR" -ge 1 ] ||
			die "SOCKDUP_TIME_FACTOR=$SOCKDUP_TIME_FACTOR: want a whole number from 1 to 100"
		factor=$SOCKDUP_TIME_FACTOR
		factor_why="SOCKDUP_TIME_FACTOR"
	else
		if grep -qE '^CONFIG_(KASAN|PROVE_LOCKING)=y' "$kdir/.config" 2>/dev/null; then
			lane=3
		fi
		read -r load _ </proc/loadavg
		ncpu=$(nproc)
		vcpus=${SOCKDUP_VM_CPUS:-2}
		loadf=$(awk -v l="$load" -v v="$vcpus" -v n="$ncpu" \
			'BEGIN { f = (l + v) / n; i = int(f); if (i < f) i++; print i < 1 ? 1 : i }')
		factor=$((lane * loadf))
		factor_why="lane $lane x load $loadf: loadavg $load + $vcpus vCPUs on $ncpu CPUs"
	fi
	[ "$factor" -le 100 ] || factor=100
	vm_timeout=$((base * factor))
	[ "$vm_timeout" -le 3600 ] || vm_timeout=3600
	[ "$vm_timeout" -ge "$base" ] || vm_timeout=$base
}

# boot: one QEMU run; sets qrc and why (empty when QEMU ended normally).
# timeout runs in the foreground mode: QEMU stays in the caller's process
# group, so a Ctrl-C on make (or a kill of the group) stops the guest
# too, instead of leaving it to run until its timeout.
boot()
{
	: >"$verdict"
	set +e
	if [ "${V:-0}" = 1 ]; then
		timeout --foreground -k 10 "$vm_timeout" qemu-system-x86_64 "${accel[@]}" \
			-m "${SOCKDUP_VM_MEM:-1024}" -smp "${SOCKDUP_VM_CPUS:-2}" \
			-nographic -no-reboot -monitor none -nic none \
			-serial stdio -serial "file:$verdict" \
			-kernel "$image" -initrd "$out/initramfs-$mode.cpio" \
			-append "$cmdline" </dev/null 2>&1 | tee "$console"
		qrc=${PIPESTATUS[0]}
	else
		timeout --foreground -k 10 "$vm_timeout" qemu-system-x86_64 "${accel[@]}" \
			-m "${SOCKDUP_VM_MEM:-1024}" -smp "${SOCKDUP_VM_CPUS:-2}" \
			-nographic -no-reboot -monitor none -nic none \
			-serial stdio -serial "file:$verdict" \
			-kernel "$image" -initrd "$out/initramfs-$mode.cpio" \
			-append "$cmdline" </dev/null >"$console" 2>&1
		qrc=$?
	fi
	set -e
	why=""
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		why="timed out after $vm_timeout s"
	elif [ "$qrc" != 0 ]; then
		why="QEMU exit status $qrc"
	elif grep -q 'Kernel panic' "$console"; then
		why="kernel panic"
	fi
}

# died_before_module: true when the guest panicked before /init began to
# load sockdup.ko (it writes "@@sockdup loading" just before insmod): the
# module cannot have caused it.  Only a panic counts (QEMU exits 0 after
# one, -no-reboot); a timeout or a QEMU that failed to start is no
# emulation flake worth a second boot.
died_before_module()
{
	[ "$qrc" = 0 ] && grep -q 'Kernel panic' "$console" &&
		! grep -q '^@@sockdup loading' "$verdict"
}

# first_report: the first line of a kernel report on the console, if any.
first_report()
{
	tr -d '\r' <"$console" | grep -vi 'command line' | grep -m 1 -E \
		'WARNING:|BUG:|kernel BUG|Oops|general protection|KASAN|UBSAN|blocked for more than|soft lockup|hard LOCKUP|[Rr][Cc][Uu].*detected stall|Kernel panic' |
		sed 's/^\[ *[0-9.]*\] //' || true
}

main() {
	[ $# -ge 2 ] || die "usage: $0 KERNEL MODE [name=value...]"
	kernel=$1
	mode=$2
	shift 2
	extra=("$@")

	[ -f "$here/modes/$mode.sh" ] || die "no mode '$mode' (selftests/qemu/modes/$mode.sh)"

	"$here/deps.sh"

	# --- which kernel -----------------------------------------------------------

	if [[ $kernel =~ ^[0-9]+\.[0-9]+$ ]]; then
		kernel=$("$here/kernels.sh" "$kernel") || exit 2
	elif [[ $kernel =~ ^[0-9]+$ ]]; then
		# A major version (7): the newest image of that line in the
		# registry, prepared but not installed (newest/kernel.sh).
		kernel=$("$here/newest/kernel.sh" "$kernel" | tail -n 1) || exit 2
	fi

	custom=0
	if [ -d "$kernel" ]; then
		kernel=$(cd "$kernel" && pwd)
		if [ -f "$kernel/bzImage" ] && [ -d "$kernel/build" ]; then
			image=$kernel/bzImage
			kdir=$kernel/build
		elif [ -f "$kernel/arch/x86/boot/bzImage" ]; then
			image=$kernel/arch/x86/boot/bzImage
			kdir=$kernel
		else
			die "$kernel: neither bzImage + build/ nor arch/x86/boot/bzImage"
		fi
		custom=1
	elif [ -f "/boot/vmlinuz-$kernel" ] && [ -d "/usr/src/linux-headers-$kernel" ]; then
		image=/boot/vmlinuz-$kernel
		kdir=/usr/src/linux-headers-$kernel
	else
		die "unknown kernel '$kernel': no /boot/vmlinuz-$kernel with headers, not a kernel directory"
	fi

	release=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' "$kdir/include/generated/utsrelease.h" 2>/dev/null)
	[ -n "$release" ] || die "cannot read the release of $kdir"
	[ "$custom" = 1 ] || [ "$release" = "$kernel" ] ||
		die "headers $kdir are for $release, not $kernel"
	# A prepared distribution kernel (newest/kernel.sh) names its release:
	# the guest must boot exactly that one.
	distro=""
	if [ "$custom" = 1 ] && [ -f "$kernel/release" ]; then
		distro=$(cat "$kernel/describe" 2>/dev/null || echo "$kernel")
		[ "$(cat "$kernel/release")" = "$release" ] ||
			die "$kdir is prepared for $release, not $(cat "$kernel/release")"
	fi

	out=$build/$release
	mkdir -p "$out"

	if [ -n "$distro" ]; then
		describe="$release ($distro)"
	elif [ "$custom" = 1 ]; then
		describe="$release (custom kernel $image)"
	else
		describe="$release (linux-image $(dpkg-query -W -f='${Version}' "linux-image-$release" 2>/dev/null || echo '?'))"
	fi

	# Two runs of the same kernel and mode would share their files: the second
	# one waits.  Builds and initramfs packing are serialized over the tree.
	exec 8>"$out/.lock-$mode"
	flock 8
	exec 9>"$build/.lock"

	# --- build and pack ---------------------------------------------------------

	flock 9
	if [ "${SOCKDUP_NO_BUILD:-0}" != 1 ]; then
		say MAKE "module for $release, tests, programs"
		make -C "$top" $([ "${V:-0}" = 1 ] || echo --no-print-directory) vm-inputs KDIR="$kdir" >&2
	fi
	ko=${SOCKDUP_KO:-$out/mod/sockdup.ko}
	vmroot=${SOCKDUP_VM_ROOT:-}
	[ -z "$vmroot" ] || [ -d "$vmroot" ] || die "SOCKDUP_VM_ROOT=$vmroot: no such directory"
	modprobe=0
	if [ -n "$vmroot" ] && [ -d "$vmroot/lib/modules/$release" ]; then
		modprobe=1
		extra+=(sockdup_load=modprobe)
	fi
	[ "$modprobe" = 1 ] || [ -f "$ko" ] || die "$ko was not built"

	say CPIO "$out/initramfs-$mode.cpio"
	stage=$out/initramfs-$mode
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,dev,etc,proc,root,run,sys,tmp} \
		"$stage"/sockdup/{bin,modes,tests}
	# A copy, not a link: bin/busybox must never point at itself.
	cp /bin/busybox "$stage/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
	done
	install -m 0755 "$here/init.sh" "$stage/init"
	cp "$here/lib.sh" "$stage/sockdup/"
	cp "$top/selftests/settings" "$stage/sockdup/settings"
	[ "$modprobe" = 1 ] || cp "$ko" "$stage/sockdup/sockdup.ko"
	cp "$here"/modes/*.sh "$stage/sockdup/modes/"
	# build/vmroot/ (the Makefile's vmroot-y hook: python3, real servers
	# and their libraries) only for the modes that say they need it
	if grep -q '^# vm-root: yes' "$here/modes/$mode.sh" && [ -d "$build/vmroot" ]; then
		cp -a "$build/vmroot/." "$stage/"
	fi
	ntests=0
	for dir in tests bin; do
		[ -d "$build/$dir" ] || continue
		for f in "$build/$dir"/*; do
			[ -f "$f" ] && [ -x "$f" ] || continue
			if readelf -l "$f" 2>/dev/null | grep -q 'program interpreter'; then
				echo "run-vm: warning: $f is dynamically linked; it cannot run in the VM" >&2
			fi
			cp "$f" "$stage/sockdup/$dir/"
			[ "$dir" = tests ] && ntests=$((ntests + 1))
		done
	done
	[ -z "$vmroot" ] || cp -a "$vmroot/." "$stage/"
	# Mode kselftest: the suite as kselftest builds it in the kernel's
	# own source tree (KDIR must be one: a prepared linux-source).
	if [ -n "${SOCKDUP_KSFT_INSTALL:-}" ]; then
		[ -x "$SOCKDUP_KSFT_INSTALL/run_kselftest.sh" ] ||
			die "SOCKDUP_KSFT_INSTALL=$SOCKDUP_KSFT_INSTALL holds no run_kselftest.sh"
		say KSFT "$SOCKDUP_KSFT_INSTALL"
		cp -a "$SOCKDUP_KSFT_INSTALL" "$stage/sockdup/kselftest_install"
	elif [ "$mode" = kselftest ]; then
		say KSFT "kselftest_install of selftests/ in $kdir"
		if ! "$here/kselftest-install.sh" "$kdir" "$out/kselftest" \
			>"$out/kselftest-install.log" 2>&1; then
			tail -n 30 "$out/kselftest-install.log" >&2
			die "mode kselftest: building the kselftest_install failed (log: ${out#"$top"/}/kselftest-install.log)"
		fi
		cp -a "$out/kselftest/kselftest_install" "$stage/sockdup/"
	fi
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
		>"$stage/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
	(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) >"$out/initramfs-$mode.cpio"
	rm -rf "$stage"
	flock -u 9

	# --- boot -------------------------------------------------------------------

	per_test=$(sed -n 's/^timeout=\([0-9][0-9]*\)$/\1/p' "$top/selftests/settings")
	per_test=${per_test:-180}
	mode_timeout=$(sed -n 's/^# vm-timeout: *\([0-9][0-9]*\).*/\1/p' "$here/modes/$mode.sh" | head -n 1)
	if [ -n "${SOCKDUP_VM_TIMEOUT:-}" ]; then
		vm_timeout=$SOCKDUP_VM_TIMEOUT
	elif [ -n "$mode_timeout" ]; then
		vm_timeout=$mode_timeout
	else
		# Boot, insmod/rmmod and every program's own timeout.  The guest
		# enforces the per-program timeout itself and hung_task_panic turns a
		# stuck kernel into a panic: this is only the last resort.
		vm_timeout=$((120 + ntests * per_test))
	fi

	time_factor

	nonce=$(od -An -tx8 -N8 /dev/urandom | tr -d ' \n')
	cmdline="console=ttyS0 panic=-1 panic_on_warn=1 oops=panic softlockup_panic=1"
	cmdline+=" hung_task_panic=1 log_buf_len=4M sockdup_mode=$mode sockdup_nonce=$nonce"
	cmdline+=" sockdup_time_factor=$factor"
	# The kernel's own watchdogs panic the run (softlockup_panic, the RCU
	# stall panic set by /init): a starved guest must not trip them.
	cmdline+=" watchdog_thresh=$((10 * factor > 60 ? 60 : 10 * factor))"
	cmdline+=" rcupdate.rcu_cpu_stall_timeout=$((21 * factor > 300 ? 300 : 21 * factor))"
	# A starved TCG guest can miss the timer interrupt the kernel checks
	# for while it sets up the IO-APIC, and panics "IO-APIC + timer doesn't
	# work!" (seen on 7.3 under load): the check proves nothing about a
	# virtual machine, so it is skipped.
	cmdline+=" no_timer_check"
	[ "${#extra[@]}" -eq 0 ] || cmdline+=" ${extra[*]}"

	if [ "${SOCKDUP_KVM:-0}" = 1 ]; then
		accel=(-accel kvm -cpu host)
	else
		accel=(-accel tcg -cpu max)
	fi

	console=$out/console-$mode.log
	verdict=$out/verdict-$mode.log
	rm -f "$out/console-$mode.boot1.log"
	say VM "$release $mode (console: ${console#"$top"/})"
	start=$SECONDS
	boot
	if died_before_module; then
		# An emulation flake (an early Oops under TCG with no module
		# loaded was seen once): the module and the tests never ran.
		# Boot once more; a test that ran and failed is never retried.
		early=$(first_report)
		mv "$console" "$out/console-$mode.boot1.log"
		echo "# boot 1 died before sockdup.ko was loaded (${early:-$why}): retrying once (first console: ${out#"$top"/}/console-$mode.boot1.log)"
		boot
		if died_before_module; then
			why="the guest died before sockdup.ko was loaded, twice (${why:-no verdict}): not a sockdup failure, but nothing was tested"
		fi
	fi
	elapsed=$((SECONDS - start))

	# --- verdict ----------------------------------------------------------------

	tap=$out/tap-$mode.txt
	expect=$release
	[ "$custom" = 0 ] || [ -n "$distro" ] || expect=""
	tr -d '\r' <"$verdict" | awk -f "$here/verdict.awk" -v release="$expect" \
		-v mode="$mode" -v nonce="$nonce" -v why_no_marker="$why" >"$tap"

	read -r pass fail skip < <(sed -n 's/^# counts pass=\([0-9]*\) fail=\([0-9]*\) skip=\([0-9]*\)$/\1 \2 \3/p' "$tap")
	printf 'release=%s mode=%s pass=%d fail=%d skip=%d seconds=%d\n' \
		"$release" "$mode" "$pass" "$fail" "$skip" "$elapsed" >"$out/result-$mode"
	[ -z "${SOCKDUP_RESULT:-}" ] || cp "$out/result-$mode" "$SOCKDUP_RESULT"

	echo "# kernel $describe, mode $mode, ${elapsed} s"
	echo "# time factor $factor ($factor_why); per-program timeout $((per_test * factor)) s"
	echo "TAP version 13"
	grep -v '^# counts ' "$tap"
	summary="$pass passed, $fail failed"
	[ "$skip" = 0 ] || summary+=", $skip skipped"
	echo "# $release: $summary"

	if [ "$fail" != 0 ]; then
		if ! grep -q "^@@sockdup \(PASS $nonce\|verdict FAIL\)" "$verdict"; then
			# No verdict from the guest: a panic, a hang or a boot
			# failure.  Show the first report of the kernel, or the
			# last lines of the console.
			# grep -m 1 and head close their pipes early: no
			# pipefail here, or SIGPIPE would end the script.
			set +o pipefail
			first=$(tr -d '\r' <"$console" | grep -n -m 1 -E \
				'cut here|WARNING:|BUG:|kernel BUG|Oops|general protection|KASAN|UBSAN|blocked for more than|soft lockup|hard LOCKUP|[Rr][Cc][Uu].*detected stall|Kernel panic' |
				cut -d: -f1)
			if [ -n "$first" ]; then
				echo "# ${console#"$top"/} from line $first:"
				tr -d '\r' <"$console" | tail -n "+$first" | head -n 50 | sed 's/^/#   /'
			else
				echo "# last lines of ${console#"$top"/}:"
				tr -d '\r' <"$console" | tail -n 40 | sed 's/^/#   /'
			fi
		fi
		echo "# full console: ${console#"$top"/}"
		exit 1
	fi
	exit 0
}

# Parsed whole before it runs: editing this file during a run is safe.
main "$@"
