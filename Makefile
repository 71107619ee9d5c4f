# cairn - one Makefile for the whole tree.
#   make            build build/cairn (optimised) and the web UI into build/ui (when npm is there)
#   make ui         the web UI alone (ui/, TypeScript + Vite, from the lockfile)
#   make demo       install what is missing, build, run the demo
#   make check      install what is missing, build under ASan+UBSan, run every test
#   make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS
#   make bench      benchmarks against ../shared/anchors (see bench/README.md);
#                   BENCH="data" picks some of tracking, registry, data, http, pipeline, serving, monitor
CC      ?= cc
PKGS    := libmicrohttpd jansson yaml-0.1 sqlite3 libcrypto uuid libcurl libzstd gsl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wvla
BASE_CFLAGS := -std=c17 -D_GNU_SOURCE -Isrc $(WARN) $(PKG_CFLAGS) -pthread
# libcsv and libxgboost (Debian libcsv-dev, libxgboost-dev) have no pkg-config file
LIBS    := $(PKG_LIBS) -lcsv -lxgboost -pthread -lm

SRC     := $(sort $(wildcard src/*/*.c))
LIBSRC  := $(filter-out src/cli/main.c,$(SRC))
TESTSRC := $(sort $(wildcard tests/*/*.c))
HDRS    := $(wildcard src/*/*.h)

# release build
R       := build
R_CFLAGS := $(BASE_CFLAGS) -O2 -g
R_OBJ   := $(LIBSRC:%.c=$(R)/obj/%.o)
# sanitizer build (tests)
A       := build/asan
A_CFLAGS := $(BASE_CFLAGS) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
A_OBJ   := $(LIBSRC:%.c=$(A)/obj/%.o)

.PHONY: all demo check deps deps-test test unit fuzz bench bench-decode clean asan ui

all: $(R)/cairn ui

ui:
	@scripts/ui.sh

deps:
	@scripts/deps.sh build

$(R)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(R_CFLAGS) -c $< -o $@

$(R)/libcairn.a: $(R_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(R)/cairn: $(R)/obj/src/cli/main.o $(R)/libcairn.a
	$(CC) $(R_CFLAGS) -o $@ $^ $(LIBS)

$(A)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(A_CFLAGS) -c $< -o $@

$(A)/libcairn.a: $(A_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(A)/cairn: $(A)/obj/src/cli/main.o $(A)/libcairn.a
	$(CC) $(A_CFLAGS) -o $@ $^ $(LIBS)

$(A)/unit-tests: $(TESTSRC) $(A)/libcairn.a $(HDRS)
	$(CC) $(A_CFLAGS) -Itests -o $@ $(TESTSRC) $(A)/libcairn.a $(LIBS) -lcriterion

asan: $(A)/cairn $(A)/unit-tests

demo:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

check:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory -s asan all
	@tests/run_all.sh

unit: $(A)/unit-tests
	$(A)/unit-tests

fuzz:
	@scripts/deps.sh test
	@fuzz/run.sh

# decoding microbenchmark: the fast path against the jansson tree (bench/serve_decode_bench.c)
$(R)/serve_decode_bench: bench/serve_decode_bench.c $(R)/libcairn.a $(HDRS)
	$(CC) $(R_CFLAGS) -o $@ $< $(R)/libcairn.a $(LIBS)

bench-decode: $(R)/serve_decode_bench
	$(R)/serve_decode_bench

bench: all
	@for b in $${BENCH:-tracking registry data http}; do bench/$$b.sh || exit 1; done

clean:
	rm -rf build
