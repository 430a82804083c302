# SPDX-License-Identifier: LGPL-2.1-or-later
#
# libpss and the pss tool.  One GNU Makefile:
#   make                 build/libpss.so.1, build/libpss.a, build/pss, build/libpss.pc
#   make check           dependencies, -Werror build, all tests, then all tests
#                        again under ASan+UBSan; ends with "N passed, N failed"
#   make demo            dependencies, build, capture the bundled demo target
#   make fuzz            every libFuzzer target for FUZZ_TIME seconds (default 60)
#   make install PREFIX=/usr/local DESTDIR=
#   V=1                  show commands
#   BUILD=dir SANITIZE=1 an ASan+UBSan build in another directory

VERSION_MAJOR := 1
VERSION_MINOR := 0
VERSION_PATCH := 0
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

BUILD ?= build
CC ?= cc
CXX ?= c++

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2
OPT ?= -O2 -g
CFLAGS ?=
BASE_CFLAGS := -std=gnu11 $(OPT) $(WARN) -D_GNU_SOURCE -Iinclude
LIB_CFLAGS := $(BASE_CFLAGS) -fvisibility=hidden -Isrc
ifeq ($(SANITIZE),1)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
SAN :=
endif
ifneq ($(RELEASE),1)
# Test-only fault points (PSS_FAULT=step:action) are compiled in except in
# release builds (make RELEASE=1).
LIB_CFLAGS += -DPSS_FAULT_INJECTION
endif

LIB_SRCS := $(wildcard src/*.c src/proc/*.c src/arch/x86_64/*.c src/elfcore/*.c)
LIB_HDRS := $(wildcard src/*.h src/proc/*.h src/elfcore/*.h src/*.def include/pss/*.h)
SHARED_OBJS := $(patsubst %.c,$(BUILD)/shared/%.o,$(LIB_SRCS))
STATIC_OBJS := $(patsubst %.c,$(BUILD)/static/%.o,$(LIB_SRCS))
SONAME := libpss.so.$(VERSION_MAJOR)
SHLIB := $(BUILD)/libpss.so.$(VERSION)
MAP := src/libpss.map

CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRCS))
CLI_LIBS := $(shell pkg-config --libs libdw libelf libzstd 2>/dev/null || echo -ldw -lelf -lzstd)

all: $(BUILD)/libpss.a $(BUILD)/libpss.so $(BUILD)/pss $(BUILD)/libpss.pc

$(BUILD)/shared/%.o: %.c $(LIB_HDRS)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LIB_CFLAGS) $(SAN) -fPIC $(CFLAGS) -c $< -o $@

$(BUILD)/static/%.o: %.c $(LIB_HDRS)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LIB_CFLAGS) $(SAN) $(CFLAGS) -c $< -o $@

$(SHLIB): $(SHARED_OBJS) $(MAP) | check-map-version
	$(call msg,LINK,$@)
	$(Q)$(CC) -shared $(SAN) -Wl,-soname,$(SONAME) -Wl,--version-script=$(MAP) \
		-Wl,-z,defs -Wl,-z,now $(SHARED_OBJS) -o $@ -lpthread
	$(Q)ln -sf libpss.so.$(VERSION) $(BUILD)/$(SONAME)

$(BUILD)/libpss.so: $(SHLIB)
	$(Q)ln -sf $(SONAME) $@

$(BUILD)/libpss.a: $(STATIC_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# The version script and the release must agree: PSS_1.0 for 1.0.x.
check-map-version:
	@grep -q "^PSS_$(VERSION_MAJOR).$(VERSION_MINOR) *{" $(MAP) || \
		{ echo "$(MAP) has no PSS_$(VERSION_MAJOR).$(VERSION_MINOR) node" >&2; exit 1; }

$(BUILD)/cli/%.o: cli/%.c $(wildcard cli/*.h) $(wildcard include/pss/*.h)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) $(SAN) -DPSS_VERSION='"$(VERSION)"' $(CFLAGS) -c $< -o $@

# The CLI sees only the public headers; it links the static library.
$(BUILD)/pss: $(CLI_OBJS) $(BUILD)/libpss.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN) $(CLI_OBJS) $(BUILD)/libpss.a $(CLI_LIBS) -lpthread -o $@

$(BUILD)/libpss.pc: libpss.pc.in Makefile
	$(Q)sed -e 's|@PREFIX@|$(abspath $(BUILD))|' -e 's|@LIBDIR@|$(abspath $(BUILD))|' \
		-e 's|@INCLUDEDIR@|$(abspath include)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# ---- tests ----
TEST_CFLAGS := $(BASE_CFLAGS) -Isrc -Itests/lib $(SAN)
TARGET_SRCS := $(wildcard tests/targets/*.c)
TARGETS := $(patsubst tests/targets/%.c,$(BUILD)/tests/targets/%,$(TARGET_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNITS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
LIVE_SRCS := $(wildcard tests/live/test-*.c)
LIVES := $(patsubst tests/live/%.c,$(BUILD)/tests/live/%,$(LIVE_SRCS))
TESTLIB_SRCS := $(wildcard tests/lib/*.c)
TESTLIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TESTLIB_SRCS))
LAYOUT := $(BUILD)/tests/layout/test-layout $(BUILD)/tests/layout/test-layout-cxx
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))

$(BUILD)/tests/lib/%.o: tests/lib/%.c $(wildcard tests/lib/*.h)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -c $< -o $@

# Targets are victims: no sanitizer (they must behave like ordinary programs).
$(BUILD)/tests/targets/%: tests/targets/%.c $(wildcard tests/targets/*.h)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter -mavx2 $< -o $@ -lpthread

# Unit tests see the library's internals (-Isrc, the static library).
$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libpss.a
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $< $(BUILD)/libpss.a -lcmocka -lpthread -o $@

# Live tests are clients of the shared library and its version script.
$(BUILD)/tests/live/%: tests/live/%.c $(BUILD)/libpss.so $(TESTLIB_OBJS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $< $(TESTLIB_OBJS) -L$(BUILD) -Wl,-rpath,$(abspath $(BUILD)) -lpss -lpthread -o $@

$(BUILD)/tests/layout/test-layout: tests/layout/test-layout.c $(wildcard include/pss/*.h)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) -std=c11 -Wall -Wextra -Werror -Iinclude $(SAN) $< -o $@

$(BUILD)/tests/layout/test-layout-cxx: tests/layout/test-layout-cxx.cpp $(wildcard include/pss/*.h) $(BUILD)/libpss.so
	@mkdir -p $(@D)
	$(call msg,CXX,$@)
	$(Q)$(CXX) -std=c++17 -Wall -Wextra -Werror -Iinclude $(SAN) $< -L$(BUILD) -Wl,-rpath,$(abspath $(BUILD)) -lpss -o $@

$(BUILD)/examples/%: examples/%.c $(BUILD)/libpss.so
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) -std=c11 -Wall -Wextra -Werror -Iinclude $(SAN) $< -L$(BUILD) -Wl,-rpath,$(abspath $(BUILD)) -lpss -o $@

tests: all $(TARGETS) $(UNITS) $(LIVES) $(LAYOUT) $(EXAMPLES)

# Run every test of this build once.  TESTS=pattern filters test programs.
check-run: tests
	$(Q)BUILD=$(abspath $(BUILD)) SANITIZE=$(SANITIZE) tests/run-tests.sh $(BUILD)

deps:
	$(Q)scripts/deps.sh build test

check: deps
	$(Q)rm -f build/.results
	$(Q)$(MAKE) --no-print-directory all check-run BUILD=build RESULTS=$(abspath build/.results)
	$(Q)$(MAKE) --no-print-directory check-run BUILD=build/asan SANITIZE=1 RESULTS=$(abspath build/.results)
	$(Q)TESTS="$(VALGRIND_CHECK)" RESULTS=$(abspath build/.results) tests/valgrind.sh build || true
	$(Q)tests/summary.sh build/.results

# valgrind memcheck (tests/valgrind.sh): make check runs the unit tests and
# the live tests of each facet, of the clone and of the deferred stops under
# it (about a minute); make valgrind runs every test program (about 10
# minutes).
VALGRIND_CHECK := tests/unit/ tests/layout/ examples/ live/test-threads$$ live/test-context$$ \
	live/test-handles$$ live/test-vaspace$$ live/test-procinfo$$ live/test-clone$$ live/test-defer$$
valgrind: tests
	$(Q)tests/valgrind.sh $(BUILD)

# What does not fit make check's budget: every N of the syscall failure
# injection with both errno sets (both builds), STRESS_TORTURE_ROUNDS
# (3,000) random kills of the capturing process, the thread-growth and fault-matrix tests ten times
# each, every fuzz target for STRESS_FUZZ_TIME seconds, and all of the
# suite under valgrind.
STRESS_FUZZ_TIME ?= 300
STRESS_TORTURE_ROUNDS ?= 3000
stress: deps
	$(Q)rm -f build/.stress
	$(Q)$(MAKE) --no-print-directory tests BUILD=build
	$(Q)$(MAKE) --no-print-directory tests BUILD=build/asan SANITIZE=1
	$(Q)PSS_FAILSYS_ALL=1 TEST_TIMEOUT=3600 TESTS=test-failsys RESULTS=$(abspath build/.stress) tests/run-tests.sh build
	$(Q)PSS_FAILSYS_ALL=1 TEST_TIMEOUT=3600 TESTS=test-failsys SANITIZE=1 RESULTS=$(abspath build/.stress) \
		tests/run-tests.sh build/asan
	$(Q)PSS_TORTURE_ROUNDS=$(STRESS_TORTURE_ROUNDS) TEST_TIMEOUT=3600 TESTS=test-clone-torture \
		RESULTS=$(abspath build/.stress) tests/run-tests.sh build
	$(Q)for i in 1 2 3 4 5 6 7 8 9 10; do \
		TESTS=test-growth RESULTS=$(abspath build/.stress) tests/run-tests.sh build; \
		TESTS=test-matrix RESULTS=$(abspath build/.stress) tests/run-tests.sh build; \
	done
	$(Q)tests/fuzz/run.sh --long $(STRESS_FUZZ_TIME) build
	$(Q)RESULTS=$(abspath build/.stress) tests/valgrind.sh build || true
	$(Q)tests/summary.sh build/.stress

demo: deps all $(BUILD)/tests/targets/demo-target
	$(Q)scripts/demo.sh $(BUILD)

-include bench/bench.mk

# ---- fuzzing ----
# libFuzzer targets (tests/fuzz/fuzz-*.c) over the /proc parsers and the
# handle and VA mapping rules, linked with the library rebuilt by clang
# with ASan+UBSan in $(BUILD)/fuzz (the gcc build is untouched).  The plain
# check builds them; tests/fuzz/run.sh replays the corpus and regress
# inputs and fuzzes each target for a few seconds.  make fuzz FUZZ_TIME=60
# fuzzes each target that long, keeping what it learns in $(BUILD)/fuzz/corpus.
FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) -D_GNU_SOURCE -Iinclude -Isrc -DPSS_FAULT_INJECTION $(FUZZ_SAN)
FUZZ_LIB_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRCS))
FUZZ_LIB := $(BUILD)/fuzz/libpss-fuzz.a
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz-*.c))

$(BUILD)/fuzz/obj/%.o: %.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(call msg,CLANG,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fvisibility=hidden -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz.h $(FUZZ_LIB)
	$(call msg,CLANG,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB) -lpthread -o $@

# fuzz-elf includes vaspace.c to reach its static ELF probe.
$(BUILD)/fuzz/fuzz-elf: src/vaspace.c $(LIB_HDRS)

fuzzers: $(FUZZERS)

# Built by the plain check only (tests/run-tests.sh runs them there), and
# only where clang is installed (scripts/deps.sh build installs it).
ifneq ($(SANITIZE),1)
ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
tests: fuzzers
endif
endif

fuzz: deps fuzzers
	$(Q)tests/fuzz/run.sh --long $(FUZZ_TIME) $(BUILD)

# ---- install ----
MAN1 := $(wildcard docs/man/*.1)
MAN3 := $(wildcard docs/man/*.3)

# Install only copies what `make` built: it never compiles or links (so that
# `sudo make install` after `make` writes no root-owned objects into the
# build), and stops if something is missing.
install: install_headers install_lib install_pkgconfig install_bin install_man

install_built:
	@for f in $(SHLIB) $(BUILD)/libpss.a $(BUILD)/pss; do \
		test -f "$$f" || { echo "$$f is missing: run make first" >&2; exit 1; }; \
	done

install_headers:
	install -d $(DESTDIR)$(INCLUDEDIR)/pss
	install -m 644 include/pss/*.h $(DESTDIR)$(INCLUDEDIR)/pss/

install_lib: install_built
	install -d $(DESTDIR)$(LIBDIR)
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libpss.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libpss.so
	install -m 644 $(BUILD)/libpss.a $(DESTDIR)$(LIBDIR)/

install_pkgconfig: libpss.pc.in
	install -d $(DESTDIR)$(PKGCONFIGDIR)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< \
		> $(DESTDIR)$(PKGCONFIGDIR)/libpss.pc

install_bin: install_built
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(BUILD)/pss $(DESTDIR)$(BINDIR)/

install_man:
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	$(if $(MAN3),install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/)

clean:
	rm -rf build

.PHONY: all tests check check-run check-map-version deps demo valgrind stress fuzz fuzzers install install_headers \
	install_lib install_pkgconfig install_bin install_man install_built clean
.DELETE_ON_ERROR:
