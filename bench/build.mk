# SPDX-License-Identifier: GPL-2.0-only
#
# Build fragment of the benchmark, -include'd by the top Makefile.
#
#   make bench-bin                 build/bin/sockdup-bench (static; also
#                                  built for every VM run: vmbin-y)
#   make bench                     run it in the VM on every tested kernel
#                                  (KERNELS, then the newest 7.x image, as
#                                  make check; NEWEST_LANE=0 without it),
#                                  save build/<release>/bench.{json,txt}
#   make bench KERNEL=6.12         one kernel (a series, a release, or 7)
#   make bench BENCH_QUICK=1       a few small rounds, to prove it works
#   make bench BENCH_ROUNDS=31 BENCH_BATCH=2000
#
# It uses BUILD from the top Makefile (default build/ when used alone:
# make -f bench/build.mk bench-bin).

BUILD ?= $(CURDIR)/build
BENCH_CC ?= $(CC)
BENCH_CFLAGS ?= -static -O2 -Wall -Wextra -pthread
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BUILD)/bin/sockdup-bench

vmbin-y += $(BENCH_BIN)

$(BENCH_BIN): $(BENCH_SRCS) bench/bench.h uapi/linux/sockdup.h bench/build.mk
	@mkdir -p $(dir $@)
	$(if $(filter 1,$(V)),,@printf '  %-7s %s\n' CC bin/sockdup-bench)
	$(if $(filter 1,$(V)),,@)$(BENCH_CC) $(BENCH_CFLAGS) -Iuapi -o $@ $(BENCH_SRCS) -lm

.PHONY: bench-bin bench
bench-bin: $(BENCH_BIN)

# run-vm.sh builds the module, the tests and vmbin-y itself for each kernel.
bench:
	@BENCH_QUICK="$(BENCH_QUICK)" BENCH_ROUNDS="$(BENCH_ROUNDS)" \
		BENCH_BATCH="$(BENCH_BATCH)" bench/run.sh \
		$(or $(KERNEL),$(KERNELS) $(if $(filter 0,$(NEWEST_LANE)),,7))
