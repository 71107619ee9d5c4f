#!/usr/bin/env bash
# demo.sh - the main job of `make demo`: start `cairn server`, train a small real
# model with the unmodified MLflow Python client against it, show the result
# with the cairn CLI, and print where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
CAIRN="$PWD/build/cairn"
ROOT="${CAIRN_DEMO_ROOT:-$PWD/cairn-data}"
PORT="${CAIRN_DEMO_PORT:-5000}"
# the demo registers versions and monitors by name: it starts from an empty root. One an
# earlier demo made (it holds .cairn-demo) is emptied; one with other data is left alone and
# the demo uses ROOT-demo beside it
foreign() { [ -e "$1" ] && [ ! -f "$1/.cairn-demo" ] && [ -n "$(ls -A "$1" 2>/dev/null)" ]; }
if foreign "$ROOT"; then
	echo "demo: $ROOT holds data the demo did not make: using ${ROOT%/}-demo instead"
	ROOT="${ROOT%/}-demo"
	if foreign "$ROOT"; then
		echo "demo: $ROOT holds other data too: set CAIRN_DEMO_ROOT to an empty folder" >&2
		exit 1
	fi
fi
rm -rf "$ROOT"
mkdir -p "$ROOT"
touch "$ROOT/.cairn-demo"

# shellcheck source=../tests/integration/mlflow_env.sh
. tests/integration/mlflow_env.sh

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# wait (up to 10 s) for URL to answer 2xx
wait_up() {
	for _ in $(seq 100); do
		curl -sf "$1" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}
if port_busy "$PORT"; then
	PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
URI="http://127.0.0.1:$PORT"

# the continuous-training workspace (examples/ct), whose pipeline the server runs when a monitor fires
CTW=$(mktemp -d /tmp/cairn-demo-ct.XXXXXX)
cp -r examples/ct/. "$CTW/"
git init -q "$CTW"
$PY "$CTW/src/simulate.py" data -o "$CTW/data/train.csv" --rows 3000 --seed 1

echo "== starting cairn server on $URI (data in $ROOT, running the pipeline of $CTW)"
"$CAIRN" server --port "$PORT" --root "$ROOT" --pipeline "$CTW" --monitor-poll 1 --webhook-allow 127.0.0.1 \
	>/tmp/cairn-demo-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
wait_up "$URI/health" || { cat /tmp/cairn-demo-server.log; exit 1; }

echo "== cairn data: version the training data (pointer file for git, cache, remote)"
WS=$(mktemp -d /tmp/cairn-demo-ws.XXXXXX)
git init -q "$WS"
mkdir -p "$WS/data"
$PY -c 'from sklearn.datasets import load_breast_cancer; load_breast_cancer(as_frame=True).frame.to_csv("'"$WS"'/data/breast_cancer.csv", index=False)'
(cd "$WS" && "$CAIRN" data add data/breast_cancer.csv --log --tracking-uri "$URI" -e demo-data &&
	cat data/breast_cancer.csv.cairn &&
	"$CAIRN" data remote add storage "$WS/../$(basename "$WS")-remote" --default &&
	"$CAIRN" data push && "$CAIRN" data status)
echo

echo "== cairn repro: the pipeline of examples/pipeline (prepare -> train -> evaluate -> register)"
PW=$(mktemp -d /tmp/cairn-demo-pipeline.XXXXXX)
cp -r examples/pipeline/. "$PW/"
git init -q "$PW"
(
	set -e
	cd "$PW"
	"$CAIRN" dag
	"$CAIRN" repro -j 2 --tracking-uri "$URI" -e demo-pipeline
	sed -i 's/^  C: .*/  C: 0.1/' params.yaml
	echo "-- after setting train.C to 0.1:"
	"$CAIRN" status
	"$CAIRN" repro -j 2 --tracking-uri "$URI" -e demo-pipeline
	sed -i 's/^  C: .*/  C: 1.0/' params.yaml
	echo "-- back to train.C 1.0: train comes back from the run cache instead of retraining:"
	"$CAIRN" repro -j 2 --tracking-uri "$URI" -e demo-pipeline
	cat metrics.json
)
"$CAIRN" runs list --tracking-uri "$URI" -e demo-pipeline --max 8
echo

echo "== training with the unmodified MLflow client (MLFLOW_TRACKING_URI=$URI)"
MLFLOW_TRACKING_URI="$URI" $PY examples/demo/train.py

echo
echo "== cairn runs list -e demo --order 'metrics.auc DESC'"
"$CAIRN" runs list --tracking-uri "$URI" -e demo --order "metrics.auc DESC"
echo
echo "== the model registry: every run registered a version of breast-cancer"
"$CAIRN" models show breast-cancer --tracking-uri "$URI"
V1=$("$CAIRN" models show breast-cancer --tracking-uri "$URI" --json | $PY -c 'import json,sys; print(min(int(v["version"]) for v in json.load(sys.stdin)["model_versions"]))')
VN=$("$CAIRN" models show breast-cancer --tracking-uri "$URI" --json | $PY -c 'import json,sys; print(max(int(v["version"]) for v in json.load(sys.stdin)["model_versions"]))')
echo
echo "== cairn models alias set breast-cancer champion $V1; ... challenger $VN"
"$CAIRN" models alias set breast-cancer champion "$V1" --tracking-uri "$URI"
"$CAIRN" models alias set breast-cancer challenger "$VN" --tracking-uri "$URI"
echo
echo "== cairn models promote breast-cancer --from challenger --to champion --require 'metrics.auc >= champion.metrics.auc'"
set +e
"$CAIRN" models promote breast-cancer --from challenger --to champion --tracking-uri "$URI" \
	--require "metrics.auc >= champion.metrics.auc" --require "metrics.val_loss <= champion.metrics.val_loss * 1.5"
echo "(exit status $?: 0 promoted, 3 a requirement failed)"
set -e
echo
echo "== cairn models lineage breast-cancer@champion"
"$CAIRN" models lineage breast-cancer@champion --tracking-uri "$URI"
echo
echo "== load models:/breast-cancer@champion with the unmodified MLflow client and predict"
MLFLOW_TRACKING_URI="$URI" $PY - <<'PYEOF'
import warnings; warnings.filterwarnings("ignore")
import mlflow.pyfunc
from sklearn.datasets import load_breast_cancer
X = load_breast_cancer(as_frame=True).data.iloc[:5]
print("predictions:", list(mlflow.pyfunc.load_model("models:/breast-cancer@champion").predict(X)))
PYEOF
echo
echo "== cairn serve: serve the XGBoost champion natively, follow the alias"
MLFLOW_TRACKING_URI="$URI" $PY examples/demo/train_xgb.py
"$CAIRN" models alias set breast-cancer-xgb champion 1 --tracking-uri "$URI"
SPORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -rf "$ROOT/ilog"
"$CAIRN" serve models:/breast-cancer-xgb@champion --tracking-uri "$URI" --port "$SPORT" --poll 1 \
	--cache "$ROOT/serve-cache" --log-dir "$ROOT/ilog" >/tmp/cairn-demo-serve.log 2>&1 &
SERVE=$!
trap 'kill $SERVE $SERVER 2>/dev/null; wait $SERVE $SERVER 2>/dev/null || true' EXIT
wait_up "http://127.0.0.1:$SPORT/ping" || { cat /tmp/cairn-demo-serve.log; exit 1; }
BODY=$($PY -c '
import json
from sklearn.datasets import load_breast_cancer
X = load_breast_cancer(as_frame=True).data.iloc[:3]
X.columns = [c.replace(" ", "_") for c in X.columns]
print(json.dumps({"dataframe_split": {"columns": list(X.columns), "data": X.values.tolist()}}))')
score() {
	curl -s -D /tmp/cairn-demo-headers "http://127.0.0.1:$SPORT/invocations" -H 'Content-Type: application/json' -d "$BODY"
	echo "   (X-Model-Version: $(tr -d '\r' </tmp/cairn-demo-headers | awk -F': ' 'tolower($1)=="x-model-version"{print $2}'))"
}
echo "curl -s http://127.0.0.1:$SPORT/invocations -d '{\"dataframe_split\": ...}'"
score
echo "-- cairn models alias set breast-cancer-xgb champion 2: the server follows"
"$CAIRN" models alias set breast-cancer-xgb champion 2 --tracking-uri "$URI"
for _ in $(seq 100); do
	grep -q "switched from version 1 to 2" /tmp/cairn-demo-serve.log && break
	sleep 0.1
done
grep "switched" /tmp/cairn-demo-serve.log || { cat /tmp/cairn-demo-serve.log; exit 1; }
score
echo "-- the same model over the Open Inference Protocol (KServe v2):"
curl -s "http://127.0.0.1:$SPORT/v2/models/breast-cancer-xgb" | head -c 300; echo " ..."
echo
echo "== monitoring: profile the training data, send traffic that drifts, watch it in windows"
MON="$ROOT/monitor"
mkdir -p "$MON"
SPORT=$SPORT MON=$MON $PY - <<'PYEOF'
import json, os, random, requests
from sklearn.datasets import load_breast_cancer
X = load_breast_cancer(as_frame=True).data
X.columns = [c.replace(" ", "_") for c in X.columns]
X.to_csv(os.environ["MON"] + "/train.csv", index=False)
rnd = random.Random(7)
url = "http://127.0.0.1:%s/invocations" % os.environ["SPORT"]
drifted = X.copy()
drifted["mean_radius"] = drifted["mean_radius"] * 1.4        # a sensor recalibrated upstream
drifted["worst_area"] = drifted["worst_area"] * 1.5
drifted.to_csv(os.environ["MON"] + "/today.csv", index=False)
for frame in (X, drifted):                                    # 600 rows as they are, then 600 drifted
    for _ in range(12):
        batch = frame.sample(50, random_state=rnd.randrange(1 << 30))
        r = requests.post(url, json={"dataframe_split": {"columns": list(batch.columns), "data": batch.values.tolist()}})
        r.raise_for_status()
PYEOF
kill $SERVE; wait $SERVE 2>/dev/null || true   # SIGTERM: the inference log is flushed and closed
echo "cairn profile $MON/train.csv -o $MON/train.profile.json"
"$CAIRN" profile "$MON/train.csv" -o "$MON/train.profile.json"
echo "cairn monitor run --log-dir $ROOT/ilog --reference train.profile.json --window-rows 300 --flush"
set +e
"$CAIRN" monitor run --log-dir "$ROOT/ilog" --reference "$MON/train.profile.json" --model breast-cancer-xgb \
	--window-rows 300 --flush --drift-share 0.05
echo "(exit status $?: 1 a window drifted)"
echo "cairn drift --reference train.csv --current today.csv --report drift.html   (first lines)"
"$CAIRN" drift --reference "$MON/train.csv" --current "$MON/today.csv" --report "$MON/drift.html" --drift-share 0.05 \
	| awk 'NR <= 4 { print } { last = $0 } END { print "  ..."; print last }'
set -e
echo "(the HTML report: $MON/drift.html)"
echo

echo "== the continuous-training loop: drift -> alert -> retrain -> validation and gate -> alias -> hot swap"
echo "cairn repro in $CTW (examples/ct: validate -> train -> promote): version 1 becomes champion"
(cd "$CTW" && "$CAIRN" repro --tracking-uri "$URI" | grep -E "^\[(train|promote)\] (rmse|registered|promoted)")
HPORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CPORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HPORT=$HPORT $PY -c '
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200); self.end_headers()
        print("webhook received:", body.decode()[:160], "...", flush=True)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["HPORT"])), H).serve_forever()' >/tmp/cairn-demo-hooks.log 2>&1 &
HOOKS=$!
rm -rf "$ROOT/ct-ilog"
"$CAIRN" serve models:/ct-regressor@champion --tracking-uri "$URI" --port "$CPORT" --poll 1 \
	--cache "$ROOT/serve-cache" --log-dir "$ROOT/ct-ilog" >/tmp/cairn-demo-ct-serve.log 2>&1 &
CSERVE=$!
trap 'kill $CSERVE $HOOKS $SERVER 2>/dev/null; wait $CSERVE $HOOKS $SERVER 2>/dev/null || true' EXIT
wait_up "http://127.0.0.1:$CPORT/ping" || { cat /tmp/cairn-demo-ct-serve.log; exit 1; }
echo "cairn monitor add ct --model models:/ct-regressor@champion --window-rows 500 --retrain $CTW --webhook ..."
"$CAIRN" monitor add ct --model models:/ct-regressor@champion --window-rows 500 --log-dir "$ROOT/ct-ilog" \
	--drift-share 0.2 --retrain "$CTW" --webhook "http://127.0.0.1:$HPORT/hook" --tracking-uri "$URI"
last() { awk '{ n++; v[$3]++; last = $0 } END { printf "  %d batches of 50 rows; answered by version(s):", n; for (k in v) printf " %s", k; print "" }'; }
echo "-- 1000 rows like the training data, with their labels"
$PY "$CTW/src/simulate.py" traffic "http://127.0.0.1:$CPORT" --rows 1000 --seed 5 --labels | last
echo "-- new data lands upstream (f0 shifted by 2) and the live traffic shifts with it"
$PY "$CTW/src/simulate.py" data -o "$CTW/data/train.csv" --rows 3000 --seed 2 --shift 2
$PY "$CTW/src/simulate.py" traffic "http://127.0.0.1:$CPORT" --rows 1100 --seed 6 --shift 2 --labels | last
for _ in $(seq 600); do
	grep -q "switched from version 1 to 2" /tmp/cairn-demo-ct-serve.log && break
	sleep 0.2
done
grep "switched" /tmp/cairn-demo-ct-serve.log || { tail -20 /tmp/cairn-demo-server.log; exit 1; }
echo "-- the same shifted traffic, now answered by the retrained champion"
$PY "$CTW/src/simulate.py" traffic "http://127.0.0.1:$CPORT" --rows 1100 --seed 7 --shift 2 --labels | last
for _ in $(seq 300); do
	"$CAIRN" monitor history ct --tracking-uri "$URI" | grep -q resolved && break
	sleep 0.2
done
echo "cairn monitor history ct"
"$CAIRN" monitor history ct --tracking-uri "$URI"
cat /tmp/cairn-demo-hooks.log
echo "cairn models audit ct-regressor"
"$CAIRN" models audit ct-regressor --tracking-uri "$URI" --max 6
echo "the pipeline run the monitor started (tag cairn.trigger):"
curl -s "$URI/api/2.0/mlflow/runs/search" -H 'Content-Type: application/json' \
	-d '{"experiment_ids": ["0"], "filter": "tags.cairn.trigger LIKE '"'monitor ct:%'"'"}' |
	$PY -c 'import json, sys
for r in json.load(sys.stdin).get("runs", []):
    t = {x["key"]: x["value"] for x in r["data"]["tags"]}
    print("  run", r["info"]["run_id"], r["info"]["status"], "-", t["cairn.trigger"])'
echo

echo "== cairn models audit breast-cancer"
"$CAIRN" models audit breast-cancer --tracking-uri "$URI" --max 6
echo
echo "== the same through the REST API"
echo "curl -s $URI/api/2.0/mlflow/experiments/search -d '{\"max_results\":5}'"
curl -s "$URI/api/2.0/mlflow/experiments/search" -H 'Content-Type: application/json' -d '{"max_results":5}'
echo
echo
DEMO_EXP=$(curl -s "$URI/api/2.0/mlflow/experiments/get-by-name?experiment_name=demo" |
	$PY -c 'import json, sys; print(json.load(sys.stdin)["experiment"]["experiment_id"])' 2>/dev/null || true)
if curl -s "$URI/" | grep -q 'type="module"'; then
	echo "== the web UI (docs/ui.md): after build/cairn server --root $ROOT, open"
	echo "  the demo experiment's runs: http://127.0.0.1:5000/#/experiments/${DEMO_EXP:-0}/runs"
	echo "  the registry:               http://127.0.0.1:5000/#/models/breast-cancer"
	echo "  the monitors:               http://127.0.0.1:5000/#/monitors"
	echo "  the model servers:          http://127.0.0.1:5000/#/deployments"
else
	echo "== the web UI is not built (no npm): $URI/ says how to build it"
fi
echo
echo "Done. The data is in $ROOT. Serve it again with:"
echo "  build/cairn server --root $ROOT        # then MLFLOW_TRACKING_URI=http://127.0.0.1:5000"
