#!/usr/bin/env bash
# demo.sh - the main job of `make demo`: start `cairn server`, train a small real
# model with the unmodified MLflow Python client against it, show the result
# with the cairn CLI, and print where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
CAIRN="$PWD/build/cairn"
ROOT="${CAIRN_DEMO_ROOT:-$PWD/cairn-data}"
PORT="${CAIRN_DEMO_PORT:-5000}"

# shellcheck source=../tests/integration/mlflow_env.sh
. tests/integration/mlflow_env.sh

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if port_busy "$PORT"; then
	PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
URI="http://127.0.0.1:$PORT"

echo "== starting cairn server on $URI (data in $ROOT)"
"$CAIRN" server --port "$PORT" --root "$ROOT" >/tmp/cairn-demo-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	curl -sf "$URI/health" >/dev/null && break
	sleep 0.1
done
curl -sf "$URI/health" >/dev/null || { cat /tmp/cairn-demo-server.log; exit 1; }

echo "== training with the unmodified MLflow client (MLFLOW_TRACKING_URI=$URI)"
MLFLOW_TRACKING_URI="$URI" $PY examples/demo/train.py

echo
echo "== cairn runs list -e demo --order 'metrics.auc DESC'"
"$CAIRN" runs list --tracking-uri "$URI" -e demo --order "metrics.auc DESC"
echo
echo "== the same through the REST API"
echo "curl -s $URI/api/2.0/mlflow/experiments/search -d '{\"max_results\":5}'"
curl -s "$URI/api/2.0/mlflow/experiments/search" -H 'Content-Type: application/json' -d '{"max_results":5}'
echo
echo
echo "Done. The data is in $ROOT. Serve it again with:"
echo "  build/cairn server --root $ROOT        # then MLFLOW_TRACKING_URI=http://127.0.0.1:5000"
