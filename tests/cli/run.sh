#!/usr/bin/env bash
# tests/cli/run.sh - black-box tests of the cairn CLI (experiments, runs, run) with pytest.
#
#   bash tests/cli/run.sh [pytest args...]
#
# Binary: $CAIRN_BIN (default build/asan/cairn). Each test runs in local mode (--root)
# and against a `cairn server` started on a free port (--tracking-uri). The MLflow
# client (for the `cairn run` + mlflow.start_run() test) comes from mlflow_env.sh; when
# it cannot be prepared that test is skipped. Prints "N passed, N failed" last and
# exits non-zero when a test failed.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
export CAIRN_BIN="${CAIRN_BIN:-$REPO/build/asan/cairn}"
# shellcheck source=../integration/mlflow_env.sh
. "$REPO/tests/integration/mlflow_env.sh" 2>/dev/null || echo "cli/run.sh: MLflow client unavailable" >&2
export PY="${PY:-/usr/bin/python3}"
export PYTHONDONTWRITEBYTECODE=1
# shellcheck source=../pylib/run_pytest.sh
. "$REPO/tests/pylib/run_pytest.sh"
run_pytest "$HERE" "$@"
