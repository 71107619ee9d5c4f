#!/usr/bin/env bash
# run.sh - build every libFuzzer target with clang (ASan+UBSan) and run each for
# FUZZ_SECONDS (default 30) on a scratch copy of its seed corpus. Crashes are kept in
# build/fuzz/<target>.crashes/ and make the script fail. FUZZ_TARGETS (names
# without the fuzz_ prefix, e.g. "manifest pointer") runs only those; default all:
# filter gate json mlmodel path yaml manifest pointer http route csv serve_decode serve_fast xgb ilog profile suite monitor pyramid.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${FUZZ_SECONDS:-30}"
OUT=build/fuzz
mkdir -p "$OUT"
CFLAGS="-std=c17 -D_GNU_SOURCE -Isrc -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(pkg-config --cflags libmicrohttpd jansson yaml-0.1 sqlite3 libcrypto uuid libcurl libzstd gsl)"
LIBS="$(pkg-config --libs libmicrohttpd jansson yaml-0.1 sqlite3 libcrypto uuid libcurl libzstd gsl) -lcsv -lxgboost -pthread -lm"
SRC=$(ls src/*/*.c | grep -v src/cli/)
mkdir -p "$OUT/obj"
OBJS=()
for f in $SRC; do
	o="$OUT/obj/$(echo "$f" | tr / _).o"
	if [ ! -f "$o" ] || [ "$f" -nt "$o" ]; then clang $CFLAGS -c "$f" -o "$o"; fi
	OBJS+=("$o")
done
status=0
for t in fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	corpus_name=${name#fuzz_}
	if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $corpus_name "* ]]; then continue; fi
	bin="$OUT/$name"
	clang $CFLAGS -fsanitize=fuzzer "$t" "${OBJS[@]}" $LIBS -o "$bin"
	work="$OUT/$name.corpus"
	rm -rf "$work"; mkdir -p "$work" "$OUT/$name.crashes"
	[ -d "fuzz/corpus/$corpus_name" ] && cp -r "fuzz/corpus/$corpus_name/." "$work/"
	echo "== $name for ${SECS}s"
	if ! "$bin" -max_total_time="$SECS" -max_len=8192 -artifact_prefix="$OUT/$name.crashes/" -print_final_stats=1 \
		"$work" >"$OUT/$name.log" 2>&1; then
		echo "$name FAILED: see $OUT/$name.log and $OUT/$name.crashes/"
		tail -30 "$OUT/$name.log"
		status=1
	else
		grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$OUT/$name.log" | tr '\n' ' '; echo
	fi
done
exit $status
