# consolidate - build, test, install, demo, bench.
#
#   make                 build ./consolidate (warnings are errors)
#   make test            unit tests, the same under ASan+UBSan, integration
#                        tests against throwaway servers
#   make unit            unit tests only
#   make integration     integration tests only
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
PKGS    := libpq odbc zlib inih
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Iinclude \
              -DCNS_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
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

LIB_SRC  := $(sort $(wildcard src/*.c src/*/*.c))
LIB_SRC  := $(filter-out src/cli/main.c,$(LIB_SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/src/cli/main.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
DEPS     := $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_BIN:=.d)

BIN := $(BUILD)/consolidate

.PHONY: all clean test unit unit-asan integration demo bench install \
        deps deps-check lint-man fuzz format-check hooks integration-asan

all: deps-check $(BIN)
	@if [ "$(BUILD)" = build ]; then ln -sf $(BIN) consolidate; fi

# Install the Debian packages when a build dependency is missing, so that
# `make demo` and `make test` work on a fresh machine.
deps-check:
	@pkg-config --exists $(PKGS) cmocka && [ -e /usr/include/csv.h ] || \
	  scripts/install-deps

deps:
	scripts/install-deps

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libconsolidate.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(BUILD)/libconsolidate.a
	$(CC) $(LDSAN) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libconsolidate.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -MMD -MP -o $@ $< \
	  $(BUILD)/libconsolidate.a $(LDSAN) $(CMOCKA_LIBS) $(LIBS)

unit: deps-check $(UNIT_BIN)
	@scripts/run-unit $(UNIT_BIN)

unit-asan:
	$(MAKE) BUILD=build/asan SAN=1 unit

# The fault-injection tests need a build with the named kill points; a
# release build has none.
hooks:
	$(MAKE) BUILD=build/hooks TEST_HOOKS=1 build/hooks/consolidate

integration: all hooks
	@CNS_HOOKS=$(CURDIR)/build/hooks/consolidate tests/integration/run

test: all
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) fuzz FUZZ_TIME=20
	$(MAKE) integration
	$(MAKE) integration-asan

# The data-moving integration tests again, with consolidate itself built
# with ASan and UBSan: a leak or an invalid access in a real run fails the
# run.  Leaks inside third-party ODBC drivers are suppressed by name
# (tests/lsan.supp).  Peak-memory and timing tests are left out: the
# sanitizers change both.
ASAN_TESTS := t_pg_modes.sh t_csv_modes.sh t_incremental.sh t_runlog.sh \
              t_odbc.sh t_three_systems.sh
integration-asan:
	$(MAKE) BUILD=build/asan SAN=1 build/asan/consolidate
	@CNS=$(CURDIR)/build/asan/consolidate \
	  CNS_HOOKS=$(CURDIR)/build/asan/consolidate \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  tests/integration/run $(ASAN_TESTS)

# libFuzzer on the transform language's parser and evaluator, with ASan and
# UBSan: a short bounded run in `make test`, longer on demand
# (make fuzz FUZZ_TIME=600).  Seeds are the bundled transform files.
FUZZ_TIME ?= 60
FUZZ_SRC := $(sort $(wildcard src/transform/*.c)) src/schedule/tz.c src/util.c src/error.c \
            src/chunk.c tests/fuzz/fuzz_transform.c
build/fuzz/fuzz_transform: $(FUZZ_SRC) $(wildcard src/transform/*.h) \
                           $(wildcard include/consolidate/*.h)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -Iinclude $(FUZZ_SRC) -lcsv -lm -o $@

fuzz: build/fuzz/fuzz_transform
	@mkdir -p build/fuzz/corpus
	@cp -n transforms/*.xf tests/fuzz/seeds/transform/* build/fuzz/corpus/ 2>/dev/null || true
	build/fuzz/fuzz_transform -max_total_time=$(FUZZ_TIME) \
	  -print_final_stats=1 build/fuzz/corpus 2>&1 | \
	  grep -E '^(stat::number_of_executed_units|Done|==[0-9]+==ERROR)' ; \
	  test $${PIPESTATUS[0]} -eq 0

demo: all
	scripts/demo

bench: all
	scripts/bench

lint-man:
	mandoc -T lint -W warning man/*.[0-9]

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
