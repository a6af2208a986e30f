# eccd - controller for a reverse-treadmill eccentric training rig.
#
#   make            build everything (build/)
#   make demo       one full session on the simulated rig, closed loop vs fixed speed
#   make demo-hil   eccd driving eccsim over Modbus TCP: one short set in real time
#   make check      build with warnings as errors, run every test (ASan/UBSan build)
#   make check-gpio only the GPIO tests on the kernel's gpio-sim (qemu), verbose
#   make bench      controller tick cost, simulated day, peak RSS, history latency
#   make fuzz       libFuzzer on the request parser and the config loader (FUZZ_SECONDS each)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean
#
# Missing Debian -dev packages are installed first by .ci/ensure-deps (as root),
# or it prints the exact apt-get command and stops.

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR   = $(PREFIX)/bin
ETCDIR  ?= /etc/eccd
DOCDIR   = $(PREFIX)/share/doc/eccd
SHAREDIR = $(PREFIX)/share/eccd

CC      ?= cc
BUILD   ?= build
# pkg-config name : Debian package, for every library we link.
DEPS     = inih:libinih-dev jansson:libjansson-dev libmodbus:libmodbus-dev libgpiod:libgpiod-dev \
           sqlite3:libsqlite3-dev
# Tools the tests drive (an independent Modbus master for eccsim).
TEST_DEPS = bin/mbpoll:mbpoll bin/sqlite3:sqlite3
PKGS     = inih jansson libmodbus libgpiod sqlite3

WARN     = -std=c11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2
# The installed scenarios' directory is compiled in: build and install with the same PREFIX.
CPPFLAGS_ECC = -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. \
               -DECC_SCENARIO_DIR='"$(SHAREDIR)/scenarios"' 
OPT     ?= -O2 -g
SAN      = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# Recursive (=) so pkg-config runs after the deps step has installed what it needs.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
# libgpiod's API changed at 2.0: hal/gpio_v1.c or hal/gpio_v2.c is compiled in (the other
# is empty), from the version pkg-config finds (PKG_CONFIG_PATH can point at another one).
GPIOD_MAJOR = $(or $(firstword $(subst ., ,$(shell pkg-config --modversion libgpiod 2>/dev/null))),1)
ECC_CFLAGS = $(WARN) $(CPPFLAGS_ECC) $(PKG_CFLAGS) -DECC_GPIOD_MAJOR=$(GPIOD_MAJOR) -pthread $(CFLAGS)
ECC_LIBS   = $(PKG_LIBS) -lm -pthread $(LDLIBS)

# Program mains; everything else in these folders goes into one library.
MAINS    = controller/eccd.c controller/eccctl.c sim/eccreport.c sim/eccsim.c
LIB_SRCS = $(filter-out $(MAINS), $(wildcard config/*.c controller/*.c hal/*.c sim/*.c))
TEST_SRCS = $(wildcard tests/test_*.c)
BENCH_SRCS = $(wildcard tests/bench_*.c)
PROGS    = eccd eccctl eccreport eccsim

# One object tree per flavour: $(BUILD)/rel (optimised) and $(BUILD)/san (sanitizers).
define flavour
$(1)_OBJ  = $$(patsubst %.c,$(BUILD)/$(1)/%.o,$$(LIB_SRCS))
$(1)_LIB  = $(BUILD)/$(1)/libecc.a
$(1)_TESTS = $$(patsubst tests/%.c,$(BUILD)/$(1)/tests/%,$$(TEST_SRCS))

$(BUILD)/$(1)/%.o: %.c | deps
	@mkdir -p $$(@D)
	$$(CC) $(2) $$(ECC_CFLAGS) -MMD -MP -c $$< -o $$@

$(BUILD)/$(1)/libecc.a: $$($(1)_OBJ)
	@rm -f $$@
	$$(AR) rcs $$@ $$^

$(BUILD)/$(1)/eccd: $(BUILD)/$(1)/controller/eccd.o $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(ECC_LIBS) -o $$@

$(BUILD)/$(1)/eccctl: $(BUILD)/$(1)/controller/eccctl.o $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(ECC_LIBS) -o $$@

$(BUILD)/$(1)/eccreport: $(BUILD)/$(1)/sim/eccreport.o $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(ECC_LIBS) -o $$@

$(BUILD)/$(1)/eccsim: $(BUILD)/$(1)/sim/eccsim.o $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(ECC_LIBS) -o $$@

$(BUILD)/$(1)/tests/%: $(BUILD)/$(1)/tests/%.o $(BUILD)/$(1)/tests/test.o \
                      $(BUILD)/$(1)/tests/scenario.o $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(ECC_LIBS) -o $$@

-include $$(shell find $(BUILD)/$(1) -name '*.d' 2>/dev/null)
endef

$(eval $(call flavour,rel,$(OPT)))
$(eval $(call flavour,san,$(SAN)))

.PHONY: all deps test-deps demo demo-hil check check-gpio test bench fuzz install uninstall clean
.DEFAULT_GOAL := all

all: $(addprefix $(BUILD)/rel/,$(PROGS))
	@mkdir -p $(BUILD)
	@for p in $(PROGS); do ln -sf rel/$$p $(BUILD)/$$p; done

deps:
	@.ci/ensure-deps $(DEPS)

test-deps:
	@.ci/ensure-deps $(TEST_DEPS)

demo: all
	@sim/demo.sh $(BUILD)

# demo-hil: eccd against eccsim over Modbus TCP, one short set in real time.
demo-hil: all
	@sim/demo-hil.sh $(BUILD)

# check: the optimised build (warnings as errors) and the sanitizer build of every
# test, then all tests (unit, config corpus, closed-loop scenarios, the real binary).
check: all test-deps $(san_TESTS) $(rel_TESTS) $(addprefix $(BUILD)/san/,$(PROGS))
	@tests/run.sh $(BUILD)

test: check

# check-gpio: only the GPIO tests on the kernel's gpio-sim under qemu, verbose.
check-gpio: all
	@tests/check-gpio.sh $(BUILD)

bench: all $(BUILD)/rel/tests/bench_eccd $(BUILD)/rel/tests/bench_modbus $(BUILD)/rel/tests/bench_hx711 \
       $(BUILD)/rel/tests/bench_faults $(BUILD)/rel/tests/bench_store $(BUILD)/rel/tests/bench_tick_store
	@$(BUILD)/rel/tests/bench_eccd $(BUILD)
	@echo
	@$(BUILD)/rel/tests/bench_faults
	@echo
	@$(BUILD)/rel/tests/bench_modbus $(BUILD)
	@echo
	@$(BUILD)/rel/tests/bench_hx711
	@echo
	@$(BUILD)/rel/tests/bench_store $(BUILD)
	@echo
	@$(BUILD)/rel/tests/bench_tick_store $(BUILD)
	@echo
	@sh tests/t_gpiosim.sh --bench $(BUILD)

$(BUILD)/rel/tests/bench_%: $(BUILD)/rel/tests/bench_%.o $(BUILD)/rel/tests/scenario.o $(rel_LIB)
	$(CC) $(OPT) $^ $(ECC_LIBS) -o $@

# Coverage-guided fuzzing (libFuzzer) of the socket request parser and the config loader,
# FUZZ_SECONDS each, on scratch copies of tests/fuzz/corpus/; fails on any crash.
FUZZ_SECONDS ?= 60
FUZZ_DEPS = bin/clang-14:clang-14 /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a:libclang-rt-14-dev
fuzz: deps
	@.ci/ensure-deps $(FUZZ_DEPS)
	@sh tests/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(ETCDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SHAREDIR)/scenarios
	install -m 0755 $(addprefix $(BUILD)/rel/,$(PROGS)) $(DESTDIR)$(BINDIR)/
	install -m 0644 config/*.ini $(DESTDIR)$(ETCDIR)/
	install -m 0644 sim/scenarios/*.ini $(DESTDIR)$(SHAREDIR)/scenarios/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGS))
	rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SHAREDIR)
	@echo "left $(DESTDIR)$(ETCDIR) in place (it may hold your edited configs)"

clean:
	rm -rf $(BUILD)
.SECONDARY:
