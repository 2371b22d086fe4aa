#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Run sockdup-bench in the VM on each kernel and save its results:
#   build/<release>/bench.json   the program's JSON, plus a "host" record
#   build/<release>/bench.txt    the table (also printed here)
# and ends with the targets of every kernel it ran side by side, each met or
# MISSED (bench/summary.sh; also in build/bench-summary.txt).
#
# Usage: bench/run.sh [KERNEL...]   (a series such as 6.12, a release, or a
#                                   major version such as 7 for the newest
#                                   prepared 7.x image; default:
#                                   selftests/qemu/kernels.sh)
# Environment: BENCH_QUICK=1, BENCH_ROUNDS=N, BENCH_BATCH=N (passed to the
# guest on the kernel command line), and run-vm.sh's SOCKDUP_VM_* knobs.
# Exit status: 0 when the program ran every case on every kernel, whatever
# the figures; 1 otherwise.
#
# The VM runs at the caller's priority: on a shared machine, `nice make
# bench` is polite but lets other load preempt the guest more often; the
# bench's medians of short interleaved batches are built to cope with it.

set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

kernels=("$@")
if [ "${#kernels[@]}" -eq 0 ]; then
	mapfile -t kernels < <(selftests/qemu/kernels.sh)
fi

# The host's TSC is constant, but a loaded host can make the guest's
# clocksource watchdog declare it unstable and fall back to HPET, whose
# emulated reads make every ktime_get_ns() in the module (and clock_gettime
# in the bench) several times dearer: one boot would not be comparable with
# the next.  tsc=reliable keeps the TSC.
args=(tsc=reliable)
[ "${BENCH_QUICK:-0}" = 1 ] && args+=(sockdup_bench_quick=1)
[ -n "${BENCH_ROUNDS:-}" ] && args+=("sockdup_bench_rounds=$BENCH_ROUNDS")
[ -n "${BENCH_BATCH:-}" ] && args+=("sockdup_bench_batch=$BENCH_BATCH")

host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
host_cpus=$(nproc)
qemu=$(qemu-system-x86_64 --version | head -n 1)
accel=tcg
[ "${SOCKDUP_KVM:-0}" = 1 ] && accel=kvm
vm_cpus=${SOCKDUP_VM_CPUS:-2}
vm_mem=${SOCKDUP_VM_MEM:-1024}

rc=0
ran=()
for k in "${kernels[@]}"; do
	rel=$k
	if [[ $k =~ ^[0-9]+\.[0-9]+$ ]]; then
		rel=$(selftests/qemu/kernels.sh "$k") || { rc=1; continue; }
	fi
	echo "bench: $rel (QEMU $accel, $vm_cpus vCPUs, $vm_mem MB)" >&2
	log=$(mktemp)
	vrc=0
	selftests/qemu/run-vm.sh "$rel" bench "${args[@]}" >"$log" 2>&1 || vrc=$?
	# A major version (KERNEL=7) boots the newest prepared image of that
	# line: its release, and so the output directory, is what the run says.
	if [[ $k =~ ^[0-9]+$ ]]; then
		rel=$(sed -n 's/^# kernel \([^ ]*\) .*/\1/p' "$log" | tail -n 1)
		[ -n "$rel" ] || rel=$k
	fi
	out=build/$rel
	mkdir -p "$out"
	mv "$log" "$out/bench-run.txt"
	verdict=$out/verdict-bench.log
	if ! grep -q '^@@sockdup json ' "$verdict" 2>/dev/null; then
		echo "bench: $rel: no results; see $out/bench-run.txt and $out/console-bench.log" >&2
		tail -n 30 "$out/bench-run.txt" >&2
		rc=1
		continue
	fi
	# The guest's JSON, closed by a "host" record.
	tr -d '\r' <"$verdict" | sed -n 's/^@@sockdup json //p' |
		sed '$d' >"$out/bench.json"
	{
		printf '  ,"host": {"cpu": "%s", "cpus": %s, "qemu": "%s", "accel": "%s", "vm_cpus": %s, "vm_mem_mb": %s, "command": "make bench KERNEL=%s"}\n' \
			"$host_cpu" "$host_cpus" "$qemu" "$accel" "$vm_cpus" "$vm_mem" "$rel"
		echo "}"
	} >>"$out/bench.json"
	{
		echo "host: $host_cpu, $host_cpus cores; $qemu, -accel $accel, $vm_cpus vCPUs, $vm_mem MB"
		tr -d '\r' <"$verdict" |
			sed -n '/^@@sockdup begin sockdup-bench/,/^@@sockdup end sockdup-bench/p' |
			sed -n 's/^# \{0,1\}//p' | grep -v '^sockdup-bench: memory rep\|^sockdup-bench .* --json'
	} >"$out/bench.txt"
	cat "$out/bench.txt"
	ran+=("$out/bench.json")
	echo "bench: $rel: saved $out/bench.json and $out/bench.txt" >&2
	if [ "$vrc" -ne 0 ]; then
		echo "bench: $rel: the VM run failed (see $out/bench-run.txt)" >&2
		grep '^not ok' "$out/bench-run.txt" >&2 || true
		rc=1
	fi
done
if [ "${#ran[@]}" -gt 0 ]; then
	bench/summary.sh "${ran[@]}" | tee build/bench-summary.txt
fi
exit "$rc"
