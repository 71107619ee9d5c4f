#!/usr/bin/env bash
# tests/serve/run.sh - black-box tests of `cairn serve`: MLflow's scoring protocol and the
# Open Inference Protocol against models saved by the unmodified MLflow client, the anchor's
# check_server.py, registry URIs and alias moves under load, Prometheus scraping, SIGTERM;
# and `cairn predict` (batch scoring) against mlflow.pyfunc and `mlflow models predict`.
#
#   bash tests/serve/run.sh [pytest args...]
#
# Binary: $CAIRN_BIN (default build/asan/cairn). Prints "N passed, N failed" last.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
export CAIRN_BIN="${CAIRN_BIN:-$REPO/build/asan/cairn}"
export PYTHONDONTWRITEBYTECODE=1
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$REPO/tests/lsan.supp:print_suppressions=0}"
# shellcheck source=../integration/mlflow_env.sh
. "$REPO/tests/integration/mlflow_env.sh" || { echo "serve/run.sh: cannot prepare the MLflow client"; echo "0 passed, 1 failed"; exit 1; }
# shellcheck source=../pylib/run_pytest.sh
. "$REPO/tests/pylib/run_pytest.sh"
run_pytest "$HERE" "$@"
