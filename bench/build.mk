# SPDX-License-Identifier: GPL-2.0-only
#
# Build fragment for the benchmark, -include'd by the top Makefile.
#
#   make bench-bin            build/bin/sockdup-bench (static)
#   make bench                run it in the VM on every supported kernel,
#                             save build/<release>/bench.{json,txt}
#   make bench KERNEL=6.12    one kernel line only
#   make bench BENCH_ARGS="--rounds 31"   extra options for sockdup-bench
#
# Variables it relies on from the top Makefile, with defaults for running
# alone (make -f bench/build.mk bench-bin): BUILD, CC.

BUILD ?= build
BENCH_CC ?= $(CC)
BENCH_CFLAGS ?= -static -O2 -Wall -Wextra -pthread -Iuapi
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BUILD)/bin/sockdup-bench

$(BENCH_BIN): $(BENCH_SRCS) bench/bench.h uapi/linux/sockdup.h bench/build.mk
	@mkdir -p $(dir $@)
	$(BENCH_CC) $(BENCH_CFLAGS) -o $@ $(BENCH_SRCS) -lm

.PHONY: bench-bin bench
bench-bin: $(BENCH_BIN)

# The VM runner builds the module for each release and packs build/bin/*;
# bench/run.sh drives it and extracts the JSON.
bench: bench-bin
	bench/run.sh $(KERNEL)
