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
# shellcheck source=../pylib/run_pytest.sh
. "$REPO/tests/pylib/run_pytest.sh"
run_pytest "$HERE" "$@"
