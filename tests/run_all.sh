#!/usr/bin/env bash
# run_all.sh - run every test suite against the ASan+UBSan build and print one
# summary line "N passed, N failed" (the last line of `make check`).
#
# Suites: Criterion unit tests, the MLflow Python client compatibility suite,
# the npm mlflow client suite, the CLI black-box tests, the adversarial server
# tests, the durability test.
# Each suite's own output is shown; a suite that cannot run counts as failed.
set -u
cd "$(dirname "$0")/.."
export CAIRN_BIN="${CAIRN_BIN:-$PWD/build/asan/cairn}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
PASSED=0
FAILED=0
LOG_DIR=$(mktemp -d /tmp/cairn-check.XXXXXX)

# add counts parsed from a suite's log; a suite that exits non-zero with no
# failure counted still counts one failure
record() { # name rc passed failed
	local name=$1 rc=$2 p=$3 f=$4
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	printf '== %-14s %s passed, %s failed (exit %s)\n' "$name" "$p" "$f" "$rc"
}

num() { # first integer in $1 matching regex $2, else 0
	local v
	v=$(grep -oE "$2" <<<"$1" | tail -1 | grep -oE '[0-9]+' | head -1)
	echo "${v:-0}"
}

run_unit() {
	local log=$LOG_DIR/unit.log rc
	build/asan/unit-tests --jobs 2 >"$log" 2>&1; rc=$?
	tail -5 "$log"
	local syn; syn=$(grep 'Synthesis' "$log" | tail -1)
	record unit "$rc" "$(num "$syn" 'Passing: [0-9]+')" "$(( $(num "$syn" 'Failing: [0-9]+') + $(num "$syn" 'Crashing: [0-9]+') ))"
}

run_pytest_suite() { # name script
	local name=$1 script=$2 log=$LOG_DIR/$1.log rc
	"$script" >"$log" 2>&1; rc=$?
	tail -25 "$log"
	local last; last=$(grep -E '[0-9]+ (passed|failed)' "$log" | tail -1)
	record "$name" "$rc" "$(num "$last" '[0-9]+ passed')" "$(( $(num "$last" '[0-9]+ failed') + $(num "$last" '[0-9]+ error') ))"
}

run_node() {
	local log=$LOG_DIR/node.log rc
	tests/integration/node/run.sh >"$log" 2>&1; rc=$?
	tail -12 "$log"
	record node "$rc" "$(num "$(grep -E '^(# |ℹ )pass' "$log" | tail -1)" '[0-9]+')" \
		"$(num "$(grep -E '^(# |ℹ )fail' "$log" | tail -1)" '[0-9]+')"
}

run_summary_suite() { # name script  (script prints "N passed, N failed")
	local name=$1 script=$2 log=$LOG_DIR/$1.log rc
	"$script" >"$log" 2>&1; rc=$?
	tail -15 "$log"
	local last; last=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	record "$name" "$rc" "$(num "$last" '[0-9]+ passed')" "$(num "$last" '[0-9]+ failed')"
}

echo "== unit tests (Criterion, ASan+UBSan)"
run_unit
echo "== MLflow Python client compatibility suite"
run_pytest_suite mlflow-python tests/integration/run.sh
if [ -x tests/integration/node/run.sh ]; then
	echo "== npm mlflow client suite"
	run_node
fi
for t in tests/hygiene/run.sh tests/dvc_corpus/check.sh tests/cli/run.sh tests/server/run.sh tests/serve/run.sh tests/monitor/run.sh tests/ui/run.sh tests/durability/run.sh; do
	[ -x "$t" ] || continue
	name=$(basename "$(dirname "$t")"); name=${name//_/-}
	echo "== $name"
	if grep -q pytest "$t"; then run_pytest_suite "$name" "$t"; else run_summary_suite "$name" "$t"; fi
done
echo "logs: $LOG_DIR"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
