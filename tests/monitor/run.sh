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
# shellcheck source=../pylib/run_pytest.sh
. "$REPO/tests/pylib/run_pytest.sh"
run_pytest "$HERE" "$@"
