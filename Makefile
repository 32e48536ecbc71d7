# consolidate - build, test, install, demo, bench.
#
#   make                 build ./consolidate (warnings are errors)
#   make test            unit tests, the same under ASan+UBSan, integration
#                        tests against throwaway servers
#   make unit            unit tests only
#   make integration     integration tests only
#   make integration-tsan  the threaded integration tests under
#                        ThreadSanitizer (BUILD=build/tsan TSAN=1)
#   make demo            run the example job on the bundled data
#   make bench           scripts/bench (see README, Performance)
#   make install         PREFIX=/usr/local DESTDIR=
#
# Several builds can live side by side: BUILD=dir chooses the object folder,
# SAN=1 adds AddressSanitizer and UndefinedBehaviorSanitizer.

SHELL   := /bin/bash
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
BUILD   ?= build
SAN     ?=

CC      ?= cc
PKGS    := libpq odbc zlib libcrypto libcurl jansson
INSTALL_DEPS ?= scripts/install-deps

# The compiler and linker flags come from pkg-config, which knows the
# packages only after scripts/install-deps has installed them.  Computed
# when this file is read, they would be empty on a fresh machine's first
# build.  So a rule writes them to an included makefile: GNU make first
# remakes that file (installing what is missing), then reads itself again
# with the flags in place.  `make clean` needs no flags and installs
# nothing.
.DEFAULT_GOAL := all
DEPS_MK := $(BUILD)/deps.mk
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),all)),)
include $(DEPS_MK)
endif
$(DEPS_MK): scripts/install-deps
	@mkdir -p $(dir $@)
	@$(INSTALL_DEPS)
	@pkg-config --exists $(PKGS) cmocka || { \
	  echo "make: pkg-config does not know $(PKGS) cmocka," \
	       "even after $(INSTALL_DEPS)" >&2; exit 1; }
	@{ printf 'PKG_CFLAGS := %s\n' "$$(pkg-config --cflags $(PKGS))" && \
	   printf 'PKG_LIBS := %s\n' "$$(pkg-config --libs $(PKGS))" && \
	   printf 'CMOCKA_CFLAGS := %s\n' "$$(pkg-config --cflags cmocka)" && \
	   printf 'CMOCKA_LIBS := %s\n' "$$(pkg-config --libs cmocka)" && \
	   printf "PKG_VERSIONS := -DCNS_UNIXODBC_VERSION='\"%s\"'\n" \
	     "$$(pkg-config --modversion odbc)"; \
	 } > $@.tmp && mv $@.tmp $@

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Iinclude \
              -DCNS_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(PKG_VERSIONS)
LIBS    := $(PKG_LIBS) -lcsv -lpthread -lm

ifeq ($(SAN),1)
ALL_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all -DCNS_TEST_HOOKS
# unixODBC loads libodbcinst to read odbc.ini for a DSN and unloads it
# again; its leaks would then come from an unnamed module that
# tests/lsan.supp cannot name.  Linking it keeps it mapped until exit.
LDSAN := -fsanitize=address,undefined \
         -Wl,--no-as-needed $(shell pkg-config --libs odbcinst) -Wl,--as-needed
endif
ifeq ($(TEST_HOOKS),1)
ALL_CFLAGS += -DCNS_TEST_HOOKS
endif
# ThreadSanitizer (make BUILD=build/tsan TSAN=1): the pipeline's threads,
# queues and flags checked for data races in real runs.
ifeq ($(TSAN),1)
ALL_CFLAGS += -O1 -fsanitize=thread -fno-omit-frame-pointer -DCNS_TEST_HOOKS
LDSAN := -fsanitize=thread
endif

# The engine is a library; the command-line program (src/cli) is an
# archive of its own on top of it, so the library never depends on it.
LIB_SRC  := $(sort $(wildcard src/*.c src/*/*.c src/*/*/*.c))
LIB_SRC  := $(filter-out src/cli/%,$(LIB_SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(filter-out src/cli/main.c,$(sort $(wildcard src/cli/*.c)))
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/src/cli/main.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
DEPS     := $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) \
            $(UNIT_BIN:=.d) $(BUILD)/tests/integration/test_odbc.d

BIN := $(BUILD)/consolidate

.PHONY: all clean test unit unit-asan integration demo bench install \
        deps deps-check lint-man fuzz fuzz-corpus format format-check hooks \
        integration-asan integration-tsan

all: deps-check $(BIN)
	@if [ "$(BUILD)" = build ]; then ln -sf $(BIN) consolidate; fi

# Install the Debian packages that are missing, so that `make demo` and
# `make test` work on a fresh machine: the libraries, and also the servers
# and tools the demo and the tests start, which pkg-config does not see.
# install-deps asks dpkg only and returns at once when nothing is missing.
deps-check:
	@$(INSTALL_DEPS)

deps:
	scripts/install-deps

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libconsolidate.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libconsolidate-cli.a: $(CLI_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(BUILD)/libconsolidate-cli.a $(BUILD)/libconsolidate.a
	$(CC) $(LDSAN) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libconsolidate-cli.a \
                  $(BUILD)/libconsolidate.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Isrc/cli -MMD -MP -o $@ $< \
	  $(BUILD)/libconsolidate-cli.a $(BUILD)/libconsolidate.a $(LDSAN) \
	  $(CMOCKA_LIBS) $(LIBS)

unit: deps-check $(UNIT_BIN)
	@scripts/run-unit $(UNIT_BIN)

unit-asan:
	$(MAKE) BUILD=build/asan SAN=1 unit

# The fault-injection tests need a build with the named kill points; a
# release build has none.
hooks:
	$(MAKE) BUILD=build/hooks TEST_HOOKS=1 build/hooks/consolidate

# The odbc driver against real drivers and servers: a cmocka program that
# starts its own servers, run by tests/integration/t_odbc_driver.sh.
ODBC_TEST = $(BUILD)/tests/integration/test_odbc
$(ODBC_TEST): tests/integration/test_odbc.c $(BUILD)/libconsolidate.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -MMD -MP -o $@ $< \
	  $(BUILD)/libconsolidate.a $(LDSAN) $(CMOCKA_LIBS) $(LIBS)

integration: all hooks $(ODBC_TEST)
	@CNS_HOOKS=$(CURDIR)/build/hooks/consolidate \
	  CNS_ODBC_TEST=$(CURDIR)/$(ODBC_TEST) tests/integration/run

test: all
	$(MAKE) format-check
	tests/build/t_first_build.sh
	tests/build/t_layers.sh
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) fuzz FUZZ_TIME=20
	$(MAKE) integration
	$(MAKE) integration-asan
	$(MAKE) integration-tsan

# The data-moving integration tests again, with consolidate itself built
# with ASan and UBSan: a leak or an invalid access in a real run fails the
# run.  Leaks inside third-party ODBC drivers are suppressed by name
# (tests/lsan.supp).  Peak-memory and timing tests are left out: the
# sanitizers change both.
ASAN_TESTS := t_pg_modes.sh t_csv_modes.sh t_incremental.sh t_runlog.sh \
              t_odbc_driver.sh t_notify.sh t_values.sh t_secrets.sh \
              t_deletes.sh t_redrive.sh t_backfill.sh
integration-asan:
	$(MAKE) BUILD=build/asan SAN=1 build/asan/consolidate \
	  build/asan/tests/integration/test_odbc
	@CNS=$(CURDIR)/build/asan/consolidate \
	  CNS_HOOKS=$(CURDIR)/build/asan/consolidate \
	  CNS_ODBC_TEST=$(CURDIR)/build/asan/tests/integration/test_odbc \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  tests/integration/run $(ASAN_TESTS)

# The threaded integration tests once more with consolidate built with
# ThreadSanitizer: a data race in a real run prints a report and, with
# halt_on_error, fails the run and so the test.  The scripts are chosen to
# stay within about 90 seconds.
TSAN_TESTS := t_pg_modes.sh t_csv_modes.sh
# Reports also go to files, so that one in a run whose exit status a test
# does not look at still fails the target.
integration-tsan:
	$(MAKE) BUILD=build/tsan TSAN=1 build/tsan/consolidate
	@rm -rf build/tsan/reports && mkdir -p build/tsan/reports
	@CNS=$(CURDIR)/build/tsan/consolidate \
	  CNS_HOOKS=$(CURDIR)/build/tsan/consolidate \
	  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:exitcode=66:log_path=$(CURDIR)/build/tsan/reports/tsan \
	  tests/integration/run $(TSAN_TESTS)
	@if ls build/tsan/reports/tsan.* >/dev/null 2>&1; then \
	  cat build/tsan/reports/tsan.*; \
	  echo "integration-tsan: ThreadSanitizer reported the above"; exit 1; fi

# libFuzzer targets, with ASan and UBSan: the transform language, its
# regex matcher (against glibc), cron expressions, job files, the csv
# reader and the JSON reader of runs.jsonl (tests/fuzz/fuzz_*.c).  `make fuzz` runs each for its share
# of FUZZ_TIME seconds (make test: 20 in all) and fails on the first
# crash; longer on demand (make fuzz FUZZ_TIME=600).  Each corpus starts
# from the repository's own files of its kind and tests/fuzz/seeds/.
FUZZ_TIME ?= 60
FUZZ_TARGETS := transform regex cron config csv json
FUZZ_BIN := $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude $(PKG_CFLAGS) \
               -DCNS_VERSION='"$(VERSION)"' \
               -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

build/fuzz/libconsolidate.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h \
                   build/fuzz/libconsolidate.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $< build/fuzz/libconsolidate.a \
	  $(LIBS) -o $@

# Seeds: each target's folder of tests/fuzz/seeds, and the repository's
# transform files, job files and (uncompressed, after an option byte)
# csv data.
fuzz-corpus:
	@for t in $(FUZZ_TARGETS); do mkdir -p build/fuzz/corpus/$$t; \
	  cp -n tests/fuzz/seeds/$$t/* build/fuzz/corpus/$$t/ 2>/dev/null; \
	done; \
	cp -n transforms/*.xf build/fuzz/corpus/transform/ 2>/dev/null; \
	cp -n jobs/*.conf build/fuzz/corpus/config/ 2>/dev/null; \
	for f in data/*.csv.gz; do \
	  { printf '\000'; zcat "$$f" | head -n 40; } \
	    > build/fuzz/corpus/csv/$$(basename "$$f" .gz); done; true

fuzz: $(FUZZ_BIN) fuzz-corpus
	@each=$$(( $(FUZZ_TIME) / $(words $(FUZZ_TARGETS)) )); \
	[ $$each -ge 1 ] || each=1; \
	for t in $(FUZZ_TARGETS); do \
	  echo "fuzz_$$t: $$each s"; \
	  tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/cns-fuzz-run.XXXXXX") || exit 1; \
	  TMPDIR=$$tmp build/fuzz/fuzz_$$t -max_total_time=$$each \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/crash-$$t- \
	    build/fuzz/corpus/$$t 2>&1 | \
	    grep -E '^(stat::number_of_executed_units|Done|==[0-9]+==ERROR|SUMMARY|.*runtime error)'; \
	  rc=$${PIPESTATUS[0]}; rm -rf "$$tmp"; \
	  test $$rc -eq 0 || exit 1; \
	done

-include $(FUZZ_OBJ:.o=.d)

demo: all
	scripts/demo

bench: all
	scripts/bench

lint-man:
	mandoc -T lint -W warning man/*.[0-9]

# .clang-format is the one formatter configuration: `make format` applies
# it to every C file of the repository, `make format-check` (the first
# step of `make test`) fails on a file that it would change.
FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@command -v clang-format >/dev/null || scripts/install-deps
	@echo "clang-format --dry-run -Werror ($(words $(FORMAT_FILES)) files)"
	@clang-format --dry-run -Werror $(FORMAT_FILES)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/consolidate
	install -m 644 man/consolidate.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/consolidate.conf.5 $(DESTDIR)$(MANDIR)/man5/
	if [ -f man/consolidate-transforms.7 ]; then \
	  install -m 644 man/consolidate-transforms.7 $(DESTDIR)$(MANDIR)/man7/; fi

clean:
	rm -rf build consolidate

-include $(DEPS)
