#!/usr/bin/env bash
# tests/ui/run.sh - the web UI's tests: its own logic under vitest (ui/test),
# then the browser suite (e2e.test.mjs: Debian's Chromium driven by
# playwright-core against a real cairn server, $CAIRN_BIN). Prints
# "N passed, N failed" over both. Screenshots land in build/ui-screenshots.
set -uo pipefail
cd "$(dirname "$0")/../.."
passed=0
failed=0
if ! command -v npm >/dev/null; then
	echo "ui/run.sh: npm is not installed (scripts/deps.sh test installs it)"
	echo "0 passed, 1 failed"
	exit 1
fi
scripts/ui.sh || { echo "0 passed, 1 failed"; exit 1; }
# the real MLflow client, for the test of the links it prints ($PY, $PYTHONPATH)
. tests/integration/mlflow_env.sh || echo "ui/run.sh: the MLflow client could not be prepared"
log=$(mktemp)
scripts/ui.sh test 2>&1 | sed 's/\x1b\[[0-9;]*m//g' | tee "$log"
p=$(grep -E '^ +Tests ' "$log" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
f=$(grep -E '^ +Tests ' "$log" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0)
[ "${p:-0}" -eq 0 ] && [ "${f:-0}" -eq 0 ] && f=1   # vitest did not run at all
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
	echo "ui/run.sh: no Chromium at ${CHROMIUM:-/usr/bin/chromium} (apt-get install chromium)"
	failed=$((failed + 1))
else
	node --test --test-reporter=spec tests/ui/e2e.test.mjs 2>&1 | tee "$log"
	p=$(grep -E '^ℹ pass ' "$log" | grep -oE '[0-9]+' || echo 0)
	f=$(grep -E '^ℹ fail ' "$log" | grep -oE '[0-9]+' || echo 0)
	[ "${p:-0}" -eq 0 ] && [ "${f:-0}" -eq 0 ] && f=1
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
fi
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
