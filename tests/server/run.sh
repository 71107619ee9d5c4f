#!/usr/bin/env bash
# tests/server/run.sh - adversarial black-box tests of `cairn server`'s HTTP layer:
# keep-alive soak, slow clients, huge heads, framing, UTF-8, Host/Origin policy.
#
#   bash tests/server/run.sh [pytest args...]
#
# Binary: $CAIRN_BIN (default build/asan/cairn). Each test starts its own server on a
# free loopback port; load is bounded in count and time. Prints "N passed, N failed"
# last and exits non-zero when a test failed.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
export CAIRN_BIN="${CAIRN_BIN:-$REPO/build/asan/cairn}"
export PYTHONDONTWRITEBYTECODE=1
PY=/usr/bin/python3
LOG=$(mktemp /tmp/cairn-server-tests.XXXXXX)
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
