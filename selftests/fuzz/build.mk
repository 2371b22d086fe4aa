# SPDX-License-Identifier: GPL-2.0-only
#
# The debug-kernel lane and the fuzzer (included by the top Makefile).
#
#   make debug-kernel      build (once) and cache the debug kernel
#                          (selftests/qemu/debug/: KASAN, lockdep, kmemleak,
#                          DEBUG_OBJECTS, UBSAN, fault injection)
#   make check-debug       the debug lane of make check: the whole suite,
#                          fuzzer rounds with module reloads, kmemleak scans
#   make fuzz [FUZZ_SECONDS=600] [FUZZ_ROUNDS=n] [FUZZ_SEED=n]
#             [FUZZ_THREADS=3] [FUZZ_PROCS=3] [FUZZ_KERNEL=debug|<kernel>]
#                          a longer fuzzer run in the debug kernel (or any
#                          kernel run-vm.sh accepts), module reloaded
#                          between rounds, kmemleak scans at the end

DEBUG_KERNEL_SH := selftests/qemu/debug/build-kernel.sh
FUZZ_SECONDS ?= 600
FUZZ_ROUNDS ?= $(shell echo $$(( ($(FUZZ_SECONDS) + 119) / 120 )))
FUZZ_THREADS ?= 3
FUZZ_PROCS ?= 3
FUZZ_KERNEL ?= debug
FUZZ_SEED ?=

.PHONY: debug-kernel check-debug fuzz

debug-kernel:
	$(Q)$(DEBUG_KERNEL_SH) >/dev/null

# kasan_multi_shot: report every KASAN finding, not only the first one.
check-debug:
	$(Q)k=$$($(DEBUG_KERNEL_SH)) && \
		selftests/qemu/run-vm.sh "$$k" debug kasan_multi_shot

fuzz:
	$(Q)k=$(FUZZ_KERNEL); \
	if [ "$$k" = debug ]; then k=$$($(DEBUG_KERNEL_SH)) || exit 1; fi; \
	SOCKDUP_VM_TIMEOUT=$$(( $(FUZZ_SECONDS) + $(FUZZ_ROUNDS) * 60 + 600 )) \
		selftests/qemu/run-vm.sh "$$k" fuzz kasan_multi_shot \
		sockdup_fuzz_seconds=$(FUZZ_SECONDS) sockdup_fuzz_rounds=$(FUZZ_ROUNDS) \
		sockdup_fuzz_threads=$(FUZZ_THREADS) sockdup_fuzz_procs=$(FUZZ_PROCS) \
		$(if $(FUZZ_SEED),sockdup_fuzz_seed=$(FUZZ_SEED))
