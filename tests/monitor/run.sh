#!/usr/bin/env bash
# tests/monitor/run.sh - black-box tests of cairn's monitoring commands (profile, drift, validate, monitor) with pytest.
#
#   bash tests/monitor/run.sh [pytest args...]
#
# Binary: $CAIRN_BIN (default build/asan/cairn). Data: the anchor fixtures in
# ../shared/anchors/monitoring/fixtures (beside the repository). Prints "N passed, N failed"
# last and exits non-zero when a test failed.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
export CAIRN_BIN="${CAIRN_BIN:-$REPO/build/asan/cairn}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$REPO/tests/lsan.supp:print_suppressions=0}"
export PY="${PY:-/usr/bin/python3}"
export PYTHONDONTWRITEBYTECODE=1
LOG=$(mktemp /tmp/cairn-monitor-tests.XXXXXX)
"$PY" -m pytest -p no:cacheprovider -c "$HERE/pytest.ini" "$HERE" "$@" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
last=$(grep -E '[0-9]+ (passed|failed|error)' "$LOG" | tail -1)
passed=$(grep -oE '[0-9]+ passed' <<<"$last" | grep -oE '[0-9]+' || true)
failed=$(grep -oE '[0-9]+ failed' <<<"$last" | grep -oE '[0-9]+' || true)
errors=$(grep -oE '[0-9]+ errors?' <<<"$last" | grep -oE '[0-9]+' || true)
failed=$(( ${failed:-0} + ${errors:-0} ))
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
rm -f "$LOG"
echo "${passed:-0} passed, $failed failed"
exit "$rc"
