# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The benchmarks (bench/run pause, bench/run dump).  Included by the top-level Makefile,
# or used alone after `make`: make -f bench/bench.mk bench
#   build/bench/pause-target   the victim: N GiB written, T clock threads
#   build/bench/pause          the driver, a client of build/libpss.so
#   build/bench/dump-target    the victim of the dump benchmark
#   build/bench/dump           pss dump vs gcore vs a plain write, runs build/pss
#   build/bench/scale(-victim) capture time and pause at 1k/10k threads, fds, mappings
# Never built with the sanitizers: it measures timing.

BUILD ?= build
CC ?= cc
BENCH_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -D_GNU_SOURCE -Iinclude
BENCH := $(BUILD)/bench/pause $(BUILD)/bench/pause-target $(BUILD)/bench/dump $(BUILD)/bench/dump-target \
	$(BUILD)/bench/scale $(BUILD)/bench/scale-victim

bench: $(BENCH)

$(BUILD)/bench/pause-target: bench/pause-target.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) $< -o $@ -lpthread

$(BUILD)/bench/pause: bench/pause.c $(BUILD)/libpss.so $(wildcard include/pss/*.h)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) $< -L$(BUILD) -Wl,-rpath,$(abspath $(BUILD)) -lpss -lm -lpthread -o $@

$(BUILD)/bench/dump-target: bench/dump-target.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) $< -o $@ -lpthread

$(BUILD)/bench/dump: bench/dump.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) $< -o $@ -lpthread

$(BUILD)/bench/scale-victim: tests/targets/scale-victim.c tests/targets/victim-common.h tests/targets/victim.h
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) $< -o $@ -lpthread

$(BUILD)/bench/scale: bench/scale.c $(BUILD)/libpss.so $(wildcard include/pss/*.h)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) $< -L$(BUILD) -Wl,-rpath,$(abspath $(BUILD)) -lpss -lpthread -o $@

.PHONY: bench
