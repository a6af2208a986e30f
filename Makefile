# eccd - controller for a reverse-treadmill eccentric training rig.
#
#   make            build everything (build/)
#   make demo       one full session on the simulated rig, closed loop vs fixed speed
#   make demo-hil   eccd driving eccsim over Modbus TCP: one short set in real time
#   make demo-web   the patient's page (eccweb) on the simulated rig: open it in a browser
#   make check      build with warnings as errors, run every test (ASan/UBSan build)
#   make check-gpio only the GPIO tests on the kernel's gpio-sim (qemu), verbose
#   make bench      controller tick cost, simulated day, peak RSS, history latency, export
#   make bench-control  the control law against the best fixed speed and an oracle, on a
#                   matrix of simulated plants (docs/control.md; its verdicts are in check)
#   make fuzz       libFuzzer on the request parser and the config loader (FUZZ_SECONDS each)
#   make install    PREFIX=/usr/local DESTDIR= (binaries, unit, configs, man pages, udev rule)
#   make CROSS=aarch64-linux-gnu   cross-build for 64-bit Raspberry Pi OS (docs/arm64.md)
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
BUILD   ?= $(if $(CROSS),build-$(CROSS),build)
# pkg-config name : Debian package, for every library we link.
DEPS     = inih:libinih-dev jansson:libjansson-dev libmodbus:libmodbus-dev libgpiod:libgpiod-dev \
           sqlite3:libsqlite3-dev libsystemd:libsystemd-dev libmicrohttpd:libmicrohttpd-dev
# Tools the tests drive (an independent Modbus master for eccsim, the history's shell,
# valgrind for t_valgrind, systemd's unit checker and sysusers and man (the unit checker
# reads the Documentation= pages) for t_install, Debian's chromium and its chromedriver for
# the page's browser test (test_web_browser), curl for t_web, openssl for t_web_tls's
# certificate and tests/pgtmp.sh's CA), PostgreSQL 15 for the throwaway server of the sync/
# tests (tests/pgtmp.sh: initdb, postgres, pg_isready, psql): installed
# so that no test is skipped for want of a package.
TEST_DEPS = bin/mbpoll:mbpoll bin/sqlite3:sqlite3 bin/valgrind:valgrind \
            bin/systemd-analyze:systemd bin/systemd-sysusers:systemd bin/man:man-db \
            /usr/bin/chromium:chromium /usr/bin/chromedriver:chromium-driver bin/curl:curl \
            bin/openssl:openssl bin/ip:iproute2 \
            /usr/lib/postgresql/15/bin/initdb:postgresql-15
PKGS     = inih jansson libmodbus libgpiod sqlite3 libsystemd

WARN     = -std=c11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2
# The installed scenarios' directory is compiled in: build and install with the same PREFIX.
CPPFLAGS_ECC = -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. \
               -DECC_SCENARIO_DIR='"$(SHAREDIR)/scenarios"' 
OPT     ?= -O2 -g
SAN      = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# Cross build for 64-bit Raspberry Pi OS / Debian arm64 (docs/arm64.md):
#   make CROSS=aarch64-linux-gnu    builds into build-aarch64-linux-gnu/
# Debian's cross gcc and binutils, that architecture's multiarch -dev packages (DEPS, each
# with :arm64, installed by the deps step) and pkg-config on its .pc files only, so the
# flags and GPIOD_MAJOR are the arm64 libraries'. The $(CROSS)-pkg-config wrapper is used
# where it is installed.
CROSS   ?=
ifneq ($(CROSS),)
CROSS_ARCH ?= $(patsubst $(CROSS):%,%,$(filter $(CROSS):%,aarch64-linux-gnu:arm64 arm-linux-gnueabihf:armhf))
ifeq ($(CROSS_ARCH),)
$(error CROSS=$(CROSS): unknown here; give its Debian architecture too, e.g. CROSS_ARCH=arm64)
endif
CC         = $(CROSS)-gcc
AR         = $(CROSS)-ar
CROSS_PKG_CONFIG := $(shell command -v $(CROSS)-pkg-config 2>/dev/null)
PKG_CONFIG = $(or $(CROSS_PKG_CONFIG),PKG_CONFIG_LIBDIR=/usr/lib/$(CROSS)/pkgconfig:/usr/share/pkgconfig \
             PKG_CONFIG_PATH= PKG_CONFIG_SYSROOT_DIR= pkg-config)
BUILD_DEPS = $(addsuffix :$(CROSS_ARCH),$(DEPS)) /usr/lib/$(CROSS)/libc.so:libc6-dev:$(CROSS_ARCH) \
             bin/$(CROSS)-gcc:gcc-$(CROSS)
else
PKG_CONFIG = pkg-config
BUILD_DEPS = $(DEPS)
endif
# Recursive (=) so pkg-config runs after the deps step has installed what it needs.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS))
# eccweb (web/) alone links libmicrohttpd: eccd, eccctl and eccsim do not carry it.
WEB_CFLAGS = $(shell $(PKG_CONFIG) --cflags libmicrohttpd)
WEB_LIBS   = $(shell $(PKG_CONFIG) --libs libmicrohttpd)
# eccsync's parts (sync/) alone link libpq: eccd, eccctl, eccsim and eccweb do not carry
# it. Its -dev package is checked by sync-deps, which only what builds sync/ asks for (so a
# cross build of the programs needs no arm64 libpq).
SYNC_DEPS   = libpq:libpq-dev
SYNC_CFLAGS = $(shell $(PKG_CONFIG) --cflags libpq)
SYNC_LIBS   = $(shell $(PKG_CONFIG) --libs libpq)
# A cross build for arm64 cannot have libpq-dev:arm64 (it is not multi-arch: it would
# replace the native one): it takes libpq's headers from the native libpq-dev (the same
# on every 64-bit Linux: pg_config_ext.h's int64 is "long int" on each) and links the
# arm64 library itself, libpq5:arm64 (multi-arch). Other cross targets build no eccsync.
ifneq ($(CROSS),)
SYNC_CROSS  = $(filter arm64,$(CROSS_ARCH))
SYNC_DEPS   = /usr/include/postgresql/libpq-fe.h:libpq-dev \
              /usr/lib/$(CROSS)/libpq.so.5:libpq5:$(CROSS_ARCH)
SYNC_CFLAGS = -I/usr/include/postgresql
SYNC_LIBS   = /usr/lib/$(CROSS)/libpq.so.5
endif
# libgpiod's API changed at 2.0: hal/gpio_v1.c or hal/gpio_v2.c is compiled in (the other
# is empty), from the version pkg-config finds (PKG_CONFIG_PATH can point at another one).
GPIOD_MAJOR = $(or $(firstword $(subst ., ,$(shell $(PKG_CONFIG) --modversion libgpiod 2>/dev/null))),1)
ECC_CFLAGS = $(WARN) $(CPPFLAGS_ECC) $(PKG_CFLAGS) -DECC_GPIOD_MAJOR=$(GPIOD_MAJOR) -pthread $(CFLAGS)
ECC_LIBS   = $(PKG_LIBS) -lm -pthread $(LDLIBS)

# Program mains; everything else in these folders goes into one library.
MAINS    = daemon/eccd.c client/eccctl.c sim/eccreport.c sim/eccsim.c web/eccweb.c
LIB_SRCS = $(filter-out $(MAINS), $(wildcard config/*.c controller/*.c proto/*.c util/*.c hal/*.c \
                                             sim/*.c daemon/*.c client/*.c))
# eccweb's parts, and the page (web/page/) compiled in as a table (web/embed.sh).
WEB_SRCS = $(filter-out $(MAINS), $(wildcard web/*.c))
WEB_PAGE = $(sort $(wildcard web/page/*))
# eccsync's parts (its main, sync/eccsync.c, is a program's); their tests are
# tests/test_pg*.c and tests/test_sync*.c, which also get tests/pgtmp.c (docs/fleet.md).
SYNC_MAINS = sync/eccsync.c
SYNC_SRCS = $(filter-out $(SYNC_MAINS), $(wildcard sync/*.c))
TEST_SRCS = $(wildcard tests/test_*.c)
BENCH_SRCS = $(wildcard tests/bench_*.c)
# eccsync links libpq: a cross build has it for arm64 only (docs/arm64.md).
PROGS    = eccd eccctl eccreport eccsim eccweb $(if $(CROSS),$(if $(SYNC_CROSS),eccsync),eccsync)

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

$(BUILD)/$(1)/eccd: $(BUILD)/$(1)/daemon/eccd.o $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(ECC_LIBS) -o $$@

$(BUILD)/$(1)/eccctl: $(BUILD)/$(1)/client/eccctl.o $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(ECC_LIBS) -o $$@

$(BUILD)/$(1)/eccreport: $(BUILD)/$(1)/sim/eccreport.o $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(ECC_LIBS) -o $$@

$(BUILD)/$(1)/eccsim: $(BUILD)/$(1)/sim/eccsim.o $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(ECC_LIBS) -o $$@

$(1)_WEB_OBJ = $$(patsubst %.c,$(BUILD)/$(1)/%.o,$$(WEB_SRCS)) $(BUILD)/$(1)/gen/web_assets.o

$(BUILD)/$(1)/web/%.o: web/%.c | deps
	@mkdir -p $$(@D)
	$$(CC) $(2) $$(ECC_CFLAGS) $$(WEB_CFLAGS) -MMD -MP -c $$< -o $$@

$(BUILD)/$(1)/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	@mkdir -p $$(@D)
	$$(CC) $(2) $$(ECC_CFLAGS) -c $$< -o $$@

$(BUILD)/$(1)/libeccweb.a: $$($(1)_WEB_OBJ)
	@rm -f $$@
	$$(AR) rcs $$@ $$^

$(BUILD)/$(1)/eccweb: $(BUILD)/$(1)/web/eccweb.o $(BUILD)/$(1)/libeccweb.a $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(WEB_LIBS) $$(ECC_LIBS) -o $$@

$(BUILD)/$(1)/tests/test_web_%: $(BUILD)/$(1)/tests/test_web_%.o $(BUILD)/$(1)/tests/test.o \
                      $(BUILD)/$(1)/tests/webdriver.o $(BUILD)/$(1)/libeccweb.a $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(WEB_LIBS) $$(ECC_LIBS) -o $$@

$(1)_SYNC_OBJ = $$(patsubst %.c,$(BUILD)/$(1)/%.o,$$(SYNC_SRCS))

$(BUILD)/$(1)/sync/%.o: sync/%.c | deps sync-deps
	@mkdir -p $$(@D)
	$$(CC) $(2) $$(ECC_CFLAGS) $$(SYNC_CFLAGS) -MMD -MP -c $$< -o $$@

$(BUILD)/$(1)/libeccsync.a: $$($(1)_SYNC_OBJ)
	@rm -f $$@
	$$(AR) rcs $$@ $$^

$(BUILD)/$(1)/tests/test_pg%.o: tests/test_pg%.c | deps sync-deps
	@mkdir -p $$(@D)
	$$(CC) $(2) $$(ECC_CFLAGS) $$(SYNC_CFLAGS) -MMD -MP -c $$< -o $$@

$(BUILD)/$(1)/tests/test_sync%.o: tests/test_sync%.c | deps sync-deps
	@mkdir -p $$(@D)
	$$(CC) $(2) $$(ECC_CFLAGS) $$(SYNC_CFLAGS) -MMD -MP -c $$< -o $$@

$(BUILD)/$(1)/tests/pgtmp.o: tests/pgtmp.c | deps sync-deps
	@mkdir -p $$(@D)
	$$(CC) $(2) $$(ECC_CFLAGS) $$(SYNC_CFLAGS) -MMD -MP -c $$< -o $$@

$(BUILD)/$(1)/tests/test_pg%: $(BUILD)/$(1)/tests/test_pg%.o $(BUILD)/$(1)/tests/test.o \
                      $(BUILD)/$(1)/tests/pgtmp.o $(BUILD)/$(1)/libeccsync.a $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(SYNC_LIBS) $$(ECC_LIBS) -o $$@

$(BUILD)/$(1)/eccsync: $(BUILD)/$(1)/sync/eccsync.o $(BUILD)/$(1)/libeccsync.a $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(SYNC_LIBS) $$(ECC_LIBS) -o $$@

# sync_check: the central database against the rigs' files, row for row (t_sync.sh).
$(BUILD)/$(1)/tests/sync_check.o: tests/sync_check.c | deps sync-deps
	@mkdir -p $$(@D)
	$$(CC) $(2) $$(ECC_CFLAGS) $$(SYNC_CFLAGS) -MMD -MP -c $$< -o $$@

$(BUILD)/$(1)/tests/sync_check: $(BUILD)/$(1)/tests/sync_check.o $(BUILD)/$(1)/libeccsync.a \
                      $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(SYNC_LIBS) $$(ECC_LIBS) -o $$@

# report_same: two clinician's report documents compared field by field (t_sync_report.sh).
$(BUILD)/$(1)/tests/report_same: $(BUILD)/$(1)/tests/report_same.o
	$$(CC) $(2) $$^ $$(ECC_LIBS) -o $$@

# tcpcut: a loopback relay that cuts connections mid-traffic (t_sync_cut.sh); no libpq.
$(BUILD)/$(1)/tests/tcpcut: $(BUILD)/$(1)/tests/tcpcut.o
	$$(CC) $(2) $$^ -o $$@

$(BUILD)/$(1)/tests/test_sync%: $(BUILD)/$(1)/tests/test_sync%.o $(BUILD)/$(1)/tests/test.o \
                      $(BUILD)/$(1)/tests/pgtmp.o $(BUILD)/$(1)/libeccsync.a $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(SYNC_LIBS) $$(ECC_LIBS) -o $$@

$(BUILD)/$(1)/tests/%: $(BUILD)/$(1)/tests/%.o $(BUILD)/$(1)/tests/test.o \
                      $(BUILD)/$(1)/tests/scenario.o $(BUILD)/$(1)/tests/gpio_fake.o \
                      $(BUILD)/$(1)/libecc.a
	$$(CC) $(2) $$^ $$(ECC_LIBS) -o $$@

-include $$(shell find $(BUILD)/$(1) -name '*.d' 2>/dev/null)
endef

$(BUILD)/gen/web_assets.c: web/embed.sh $(WEB_PAGE)
	@mkdir -p $(@D)
	sh web/embed.sh $@ $(WEB_PAGE)

$(eval $(call flavour,rel,$(OPT)))
$(eval $(call flavour,san,$(SAN)))

.PHONY: all deps sync-deps test-deps demo demo-hil demo-web web-screenshots programme-report check check-gpio test bench bench-control fuzz install \
        uninstall clean
.DEFAULT_GOAL := all

all: $(addprefix $(BUILD)/rel/,$(PROGS))
	@mkdir -p $(BUILD)
	@for p in $(PROGS); do ln -sf rel/$$p $(BUILD)/$$p; done

deps:
	@.ci/ensure-deps $(BUILD_DEPS)

test-deps:
	@.ci/ensure-deps $(TEST_DEPS)

sync-deps:
	@.ci/ensure-deps $(SYNC_DEPS)

demo: all
	@sim/demo.sh $(BUILD)

# demo-web: the patient's page (eccweb) on the simulated rig, live in a browser.
demo-web: all
	@sim/demo-web.sh $(BUILD)

# web-screenshots: the browser test's pictures of the page (phone 412x915, tablet 1024x768,
# the fault banner) copied into docs/ for docs/web.md and the README.
web-screenshots: all $(BUILD)/san/tests/test_web_browser $(BUILD)/san/eccd $(BUILD)/san/eccweb
	@ECC_BUILD=$(BUILD) $(BUILD)/san/tests/test_web_browser
	cp $(BUILD)/screenshots/web-phone.png $(BUILD)/screenshots/web-tablet.png \
	   $(BUILD)/screenshots/web-phone-fault.png docs/

# programme-report: the clinician's report of the tolerant simulated patient's twelve weeks
# (tests/t_programme.sh renders it) copied into docs/ for docs/report.md and the README.
programme-report: all
	@sh tests/t_programme.sh $(BUILD)
	cp $(BUILD)/programme/tolerant12.html docs/report-tolerant12.html
	cp $(BUILD)/programme/tolerant12.png docs/report-tolerant12.png

# demo-hil: eccd against eccsim over Modbus TCP, one short set in real time.
demo-hil: all
	@sim/demo-hil.sh $(BUILD)

# check: the optimised build (warnings as errors) and the sanitizer build of every
# test, then all tests (unit, config corpus, closed-loop scenarios, the real binary, and
# bench-control's verdicts through tests/t_control.sh).
check: all test-deps $(san_TESTS) $(rel_TESTS) $(addprefix $(BUILD)/san/,$(PROGS)) \
       $(BUILD)/rel/tests/bench_control $(BUILD)/rel/tests/sync_check \
       $(BUILD)/rel/tests/report_same $(BUILD)/rel/tests/tcpcut
	@tests/run.sh $(BUILD)

test: check

# check-gpio: only the GPIO tests on the kernel's gpio-sim under qemu, verbose.
check-gpio: all
	@tests/check-gpio.sh $(BUILD)

bench: all test-deps $(BUILD)/rel/tests/sync_check $(BUILD)/rel/tests/bench_eccd $(BUILD)/rel/tests/bench_modbus $(BUILD)/rel/tests/bench_hx711 \
       $(BUILD)/rel/tests/bench_faults $(BUILD)/rel/tests/bench_store $(BUILD)/rel/tests/bench_tick_store \
       $(BUILD)/rel/tests/bench_web
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
	@sh tests/bench_export.sh $(BUILD)
	@echo
	@sh tests/t_gpiosim.sh --bench $(BUILD)
	@echo
	@ECC_BUILD=$(BUILD) $(BUILD)/rel/tests/bench_web
	@echo
	@sh tests/bench_programme.sh $(BUILD)
	@echo
	@sh tests/bench_sync.sh $(BUILD)

$(BUILD)/rel/tests/bench_web: $(BUILD)/rel/tests/bench_web.o $(BUILD)/rel/tests/test.o \
                          $(BUILD)/rel/tests/webdriver.o $(BUILD)/rel/libeccweb.a $(rel_LIB)
	$(CC) $(OPT) $^ $(WEB_LIBS) $(ECC_LIBS) -o $@

$(BUILD)/rel/tests/bench_%: $(BUILD)/rel/tests/bench_%.o $(BUILD)/rel/tests/scenario.o \
                           $(BUILD)/rel/tests/gpio_fake.o $(rel_LIB)
	$(CC) $(OPT) $^ $(ECC_LIBS) -o $@

# bench-control (issue 11): eccd, every fixed speed and an oracle on 17 simulated plants x 5
# seeds, judged on the athlete's ground truth; a markdown table and PASS/FAIL lines (exit 0:
# a benchmark; make check runs its verdicts as tests/t_control.sh). Under a minute.
# BENCH_CONTROL_FLAGS=--write-docs also rewrites docs/control-table.md and
# docs/control-hard-set.svg; --curves, --cell TEXT, --seeds N, --check.
BENCH_CONTROL_FLAGS ?=
bench-control: $(BUILD)/rel/tests/bench_control
	@$(BUILD)/rel/tests/bench_control $(BENCH_CONTROL_FLAGS)

# Coverage-guided fuzzing (libFuzzer) of the socket request parser and the config loader,
# FUZZ_SECONDS each, on scratch copies of tests/fuzz/corpus/; fails on any crash.
FUZZ_SECONDS ?= 60
FUZZ_DEPS = bin/clang-14:clang-14 /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a:libclang-rt-14-dev
fuzz: deps
	@.ci/ensure-deps $(FUZZ_DEPS)
	@sh tests/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS)

# The installed tree (docs/install.md). systemd and udev look in these places whatever
# PREFIX is (/usr/local/lib/systemd/system and /usr/local/lib/sysusers.d included); the
# udev rule goes to /etc, where local rules belong. ECCD_INI is the example a new
# $(ETCDIR)/eccd.ini (the service's config) is copied from; an existing one is never touched.
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
UDEVDIR     ?= /etc/udev/rules.d
MANDIR      ?= $(PREFIX)/share/man
ECCD_INI    ?= config/home-pi.ini
UDEV_RULE    = 99-eccd-ftdi-latency.rules

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(ETCDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SHAREDIR)/scenarios \
	           $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(UDEVDIR) \
	           $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(addprefix $(BUILD)/rel/,$(PROGS)) $(DESTDIR)$(BINDIR)/
	install -m 0644 config/*.ini $(DESTDIR)$(ETCDIR)/
	@if [ -e $(DESTDIR)$(ETCDIR)/eccd.ini ]; then \
	    echo "kept $(DESTDIR)$(ETCDIR)/eccd.ini (never overwritten)"; \
	else \
	    { echo "; $(ETCDIR)/eccd.ini - the config eccd.service runs with, first copied from"; \
	      echo "; $(notdir $(ECCD_INI)) by make install (which never overwrites it): edit it for this rig."; \
	      echo ";"; cat $(ECCD_INI); } >$(DESTDIR)$(ETCDIR)/eccd.ini.tmp && \
	    chmod 0644 $(DESTDIR)$(ETCDIR)/eccd.ini.tmp && \
	    mv $(DESTDIR)$(ETCDIR)/eccd.ini.tmp $(DESTDIR)$(ETCDIR)/eccd.ini && \
	    echo "installed $(DESTDIR)$(ETCDIR)/eccd.ini from $(ECCD_INI)"; \
	fi
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@ETCDIR@|$(ETCDIR)|g' config/eccd.service \
	    >$(DESTDIR)$(UNITDIR)/eccd.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/eccd.service.tmp
	mv $(DESTDIR)$(UNITDIR)/eccd.service.tmp $(DESTDIR)$(UNITDIR)/eccd.service
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@ETCDIR@|$(ETCDIR)|g' config/eccweb.service \
	    >$(DESTDIR)$(UNITDIR)/eccweb.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/eccweb.service.tmp
	mv $(DESTDIR)$(UNITDIR)/eccweb.service.tmp $(DESTDIR)$(UNITDIR)/eccweb.service
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@ETCDIR@|$(ETCDIR)|g' config/eccsync.service \
	    >$(DESTDIR)$(UNITDIR)/eccsync.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/eccsync.service.tmp
	mv $(DESTDIR)$(UNITDIR)/eccsync.service.tmp $(DESTDIR)$(UNITDIR)/eccsync.service
	install -m 0644 config/eccd-sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/eccd.conf
	install -m 0644 config/$(UDEV_RULE) $(DESTDIR)$(UDEVDIR)/$(UDEV_RULE)
	install -m 0644 docs/eccd.8 $(DESTDIR)$(MANDIR)/man8/eccd.8
	install -m 0644 docs/eccweb.8 $(DESTDIR)$(MANDIR)/man8/eccweb.8
	install -m 0644 docs/eccctl.1 $(DESTDIR)$(MANDIR)/man1/eccctl.1
	install -m 0644 sim/scenarios/*.ini $(DESTDIR)$(SHAREDIR)/scenarios/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	@if [ -z "$(DESTDIR)" ]; then \
	    echo; \
	    echo "Next steps, as root (docs/install.md):"; \
	    echo "  systemd-sysusers $(SYSUSERSDIR)/eccd.conf   # the user eccd (and group gpio if missing)"; \
	    echo "  udevadm control --reload && udevadm trigger --action=add --subsystem-match=usb-serial"; \
	    echo "  systemctl daemon-reload"; \
	    echo "  \$$EDITOR $(ETCDIR)/eccd.ini"; \
	    echo "  sudo -u eccd $(BINDIR)/eccd -c $(ETCDIR)/eccd.ini --check-config >/dev/null  # each problem, its fix"; \
	    echo "  systemctl enable --now eccd"; \
	    echo "  usermod -aG eccd USER                  # whoever may use eccctl"; \
	    echo "  systemctl enable --now eccweb          # the patient's page (docs/web.md)"; \
	    echo "  systemctl enable --now eccsync         # with [sync] set: the clinic's database (docs/fleet.md)"; \
	fi

# Everything install put there, except $(ETCDIR): it may hold edited configs.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGS))
	rm -f $(DESTDIR)$(UNITDIR)/eccd.service $(DESTDIR)$(UNITDIR)/eccweb.service \
	      $(DESTDIR)$(UNITDIR)/eccsync.service \
	      $(DESTDIR)$(MANDIR)/man8/eccweb.8 $(DESTDIR)$(SYSUSERSDIR)/eccd.conf \
	      $(DESTDIR)$(UDEVDIR)/$(UDEV_RULE) $(DESTDIR)$(MANDIR)/man8/eccd.8 \
	      $(DESTDIR)$(MANDIR)/man1/eccctl.1
	rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SHAREDIR)
	@echo "left $(DESTDIR)$(ETCDIR) in place (it may hold your edited configs)"
	@if [ -z "$(DESTDIR)" ]; then \
	    echo "if eccd ran as a service: systemctl disable --now eccd; systemctl daemon-reload;"; \
	    echo "udevadm control --reload. Kept: the user eccd and /var/lib/eccd (the history)."; \
	fi

clean:
	rm -rf $(BUILD)
.SECONDARY:
